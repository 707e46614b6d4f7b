"""Jinja filters: formatting only (dates, times, money, countdowns), no business rules.

The formatting is ``tracker.formats.human`` (the alert e-mails read the same); a link
target from a notice is checked here (``link_url``). The JSON API and the machine exports
keep ISO dates and plain numbers: they do not use these filters.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["NBSP", "OSLO", "FILTERS", "link_url", "to_oslo"]


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
