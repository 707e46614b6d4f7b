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
from tracker.formats.labels import end_source
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
    return Markup(
        '<span class="dated" title="{}">{}</span> <small class="muted source">{}</small>'
    ).format(title, date(v), end_source(_get(src, "kind")))


# Functions the templates call (escaped HTML out).
GLOBALS = {"dated": dated}

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
