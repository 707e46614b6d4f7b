"""Jinja filters: formatting only (dates, times, money, countdowns), no business rules.

The formatting is ``tracker.formats.human`` (the alert e-mails read the same); a link
target from a notice is checked here (``link_url``). The JSON API and the machine exports
keep ISO dates and plain numbers: they do not use these filters.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from tracker.formats.human import (
    NBSP,
    OSLO,
    clock,
    date,
    day,
    days,
    mnok,
    money,
    msg,
    number,
    pct,
    plain,
    to_oslo,
)
from tracker.formats.labels import buyer_type, end_source, milestone, status
from tracker.i18n import gettext as _

__all__ = ["NBSP", "OSLO", "FILTERS", "GLOBALS", "dated", "link_url", "to_oslo"]


def link_url(value: Any) -> str | None:
    """``value`` if it is safe as a link target (an http or https URL), else None: a
    ``javascript:`` or ``data:`` URL from a notice is shown as text, never as a link."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if any(ord(c) < 33 for c in text) or not text:
        return None
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("http", "https") or not rest.startswith("//"):
        return None
    return text


def _get(o: Any, name: str) -> Any:
    """``o.name`` as Jinja reads it: a key of a dict, else an attribute."""
    if isinstance(o, dict):
        return o.get(name)
    return getattr(o, name, None)


def dated(o: Any, field: str, value: Any = None) -> Markup:
    """A computed date (``o[field]``, or ``value``) with where it comes from: the source
    (kind and basis, and the rule of rules.toml when one decided it) in a title tooltip
    and as small text; just the date when ``o.sources`` has no source for ``field``
    (``sources`` of tracker.opportunities.build). A function rather than a template macro:
    pages with hundreds of dates spent a sixth of their time calling the macro."""
    v = value if value is not None else _get(o, field)
    src = (_get(o, "sources") or {}).get(field)
    if not src:
        return escape(date(v))
    title = f"{_('source')}: {_get(src, 'kind')} – {msg(_get(src, 'basis'))}"
    rule = _get(src, "rule")
    if rule:
        title += f" ({_('rule %(rule)s in rules.toml') % {'rule': rule}})"
    return _html(
        f'<span class="dated" title="{escape(title)}">{escape(date(v))}</span> '
        f'<small class="muted source">{escape(end_source(_get(src, "kind")))}</small>'
    )


def _html(text: str) -> Markup:
    """``text`` built here from escaped values and fixed tags, as markup. (f-strings and
    ``escape``: markupsafe's ``Markup.format`` is a pure-Python formatter, several times
    slower on rows shown hundreds of times.)"""
    return Markup(text)  # noqa: S704 - every value in it went through escape()


def reason_row(o: Any, cols: int) -> Markup:
    """The row under an opportunity: its reason and note, the buyer's funding windows
    (before the decision to procure, before the contract start: dates, status, the
    primary one, milestones) and the capability profile's verdict; nothing without a
    reason or note. A function rather than a template macro (one call per row of a long
    timeline)."""
    reason, note = _get(o, "reason"), _get(o, "note")
    if not (reason or note):
        return Markup("")
    out = [
        f'<tr class="reason"><td colspan="{escape(cols)}"><small class="muted">',
        escape(msg(reason or "")),
    ]
    if note:
        out.append(f"{' · ' if reason else ''}<strong>{escape(msg(note))}</strong>")
    out.append("</small>")
    windows = _get(o, "budget_windows") or {}
    first = _get(windows, "contract_start") or _get(windows, "publication")
    if first:
        # the catalog's text is markup as Jinja's gettext gives it; the value is escaped
        kind = escape(buyer_type(_get(first, "buyer_type")))
        out += ['<br><small class="muted funding">', _("Funding windows (%(kind)s calendar):")
                % {"kind": kind}]  # fmt: skip
        primary = _get(_get(o, "budget_window") or {}, "anchor")
        anchors = (
            ("publication", _("before the decision to procure")),
            ("contract_start", _("before the contract start")),
        )
        for i, (anchor, label) in enumerate(anchors):
            w = _get(windows, anchor)
            if not w:
                continue
            out.append(
                f" {label} {escape(date(_get(w, 'start')))} – {escape(date(_get(w, 'end')))}"
                f" ({escape(status(_get(w, 'status')))}"
            )
            if primary == anchor:
                out.append(f", {_('primary')}")
            milestones = _get(w, "milestones")
            if milestones:
                out.append(": ")
                out.append(
                    ", ".join(
                        f"{escape(milestone(_get(m, 'name')))} {escape(date(_get(m, 'date')))}"
                        for m in milestones
                    )
                )
            out.append(")" + (";" if i < len(anchors) - 1 else ""))
        out.append("</small>")
    fit = _get(o, "fit")
    if fit:
        out.append(f'<br><small class="muted">{escape(msg(_get(fit, "reason")))}</small>')
    out.append("</td></tr>")
    return _html("".join(out))


# Functions the templates call (escaped HTML out).
GLOBALS = {"dated": dated, "reason_row": reason_row}

FILTERS = {
    "msg": msg,
    "date": date,
    "day": day,
    "clock": clock,
    "money": money,
    "mnok": mnok,
    "days": days,
    "pct": pct,
    "number": number,
    "plain": plain,
    "link_url": link_url,
}
