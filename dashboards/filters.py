"""Jinja filters: formatting only (dates, money, countdowns), no business rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def date(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if len(text) >= 16 and text[10] == "T":  # an ISO datetime string from a JSON-ish dict
        return f"{text[:10]} {text[11:16]}"
    return text


def money(value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{number:,.0f}".replace(",", "\u202f")
    return f"{text} {currency}" if currency else text


def mnok(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value) / 1_000_000:,.1f} M"


def days(value: Any) -> str:
    if value is None:
        return "–"
    n = int(value)
    if n == 0:
        return "today"
    if n < 0:
        return f"{-n} d ago"
    return f"{n} d"


def pct(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value):g}"


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


def dato(value: Any) -> str:
    """A date as Norwegian users write it: dd.mm.åååå (ISO strings too)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d.%m.%Y")
    return str(value)


FILTERS = {
    "date": date,
    "dato": dato,
    "money": money,
    "mnok": mnok,
    "days": days,
    "pct": pct,
    "link_url": link_url,
}
