"""Values as people read them: dates, times, money and countdowns in the reader's language,
no business rules. The pages (``dashboards.filters``) and the alert e-mails use them.

They speak the user's language (``tracker.i18n``): dates ``dd.mm.åååå``, times in
Europe/Oslo with ``kl. 12.00`` in Norwegian, amounts ``23 000 000 kr`` / ``23 mill. kr``
with Norwegian grouping (a no-break space) and a decimal comma. The JSON API and the
machine exports keep ISO dates and plain numbers: they do not use these filters.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from tracker.i18n import current_language, gettext
from tracker.messages import Message, Text
from tracker.messages import render as render_message

OSLO = ZoneInfo("Europe/Oslo")
NBSP = "\u00a0"


def to_oslo(value: dt.datetime) -> dt.datetime:
    """``value`` in Oslo time; a naive datetime is UTC (as the database stores them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(OSLO)


def _parse(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, dt.datetime | dt.date):
        return value
    text = str(value).strip()
    if len(text) >= 16 and text[10] in "T ":
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if len(text) == 10:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    return None


def _day(d: dt.date) -> str:
    return f"{d.day:02d}.{d.month:02d}.{d.year:04d}"


def _clock(t: dt.datetime) -> str:
    if current_language() == "nb":
        return f"kl. {t.hour:02d}.{t.minute:02d}"
    return f"{t.hour:02d}:{t.minute:02d}"


def date(value: Any) -> str:
    """A date as ``dd.mm.åååå``; a datetime (or ISO datetime text) in Oslo time with the
    time of day (``25.11.2022 kl. 00.00``)."""
    if value is None or value == "":
        return "–"
    parsed = _parse(value)
    if parsed is None:
        return str(value)
    if isinstance(parsed, dt.datetime):
        local = to_oslo(parsed)
        return f"{_day(local)} {_clock(local)}"
    return _day(parsed)


def day(value: Any) -> str:
    """Only the date (``dd.mm.åååå``); a datetime is taken in Oslo time first."""
    if value is None or value == "":
        return "–"
    parsed = _parse(value)
    if parsed is None:
        return str(value)
    if isinstance(parsed, dt.datetime):
        return _day(to_oslo(parsed))
    return _day(parsed)


def clock(value: Any) -> str:
    """Only the Oslo time of day of a datetime (``kl. 13.00``); empty for a plain date."""
    parsed = _parse(value) if value not in (None, "") else None
    if not isinstance(parsed, dt.datetime):
        return ""
    return _clock(to_oslo(parsed))


def _group(number: Decimal, decimals: int = 0) -> str:
    text = f"{number:,.{decimals}f}"
    if current_language() == "nb":
        return text.replace(",", NBSP).replace(".", ",")
    return text


def _unit(currency: str | None) -> str:
    if not currency:
        return ""
    if currency == "NOK" and current_language() == "nb":
        return "kr"
    return currency


def money(value: Any, currency: str | None = None) -> str:
    """``23 000 000 kr`` (nb) / ``23,000,000 NOK`` (en); other currencies by their code."""
    if value is None or value == "":
        return "–"
    try:
        number = Decimal(str(value))
    except (ArithmeticError, InvalidOperation):
        return str(value)
    text = _group(number)
    unit = _unit(currency)
    return f"{text}{NBSP}{unit}" if unit else text


def mnok(value: Any, currency: str | None = "NOK") -> str:
    """Millions: ``23 mill. kr`` / ``23,4 mill. kr`` (nb), ``NOK 23.4 million`` (en)."""
    if value is None:
        return "–"
    try:
        millions = Decimal(str(value)) / Decimal(1_000_000)
    except (ArithmeticError, InvalidOperation):
        return str(value)
    text = _group(millions, 0 if abs(millions) >= 100 or millions == int(millions) else 1)
    if current_language() == "nb":
        unit = _unit(currency)
        return f"{text}{NBSP}mill.{NBSP}{unit}" if unit else f"{text}{NBSP}mill."
    return f"{currency}{NBSP}{text}{NBSP}million" if currency else f"{text}{NBSP}million"


def days(value: Any) -> str:
    if value is None:
        return "–"
    n = int(value)
    nb = current_language() == "nb"
    if n == 0:
        return "i dag" if nb else "today"
    if n < 0:
        if nb:
            return f"for {-n} dag{'er' if -n != 1 else ''} siden"
        return f"{-n} d ago"
    if nb:
        return f"{n} dag{'er' if n != 1 else ''} igjen"
    return f"{n} d left"


def pct(value: Any) -> str:
    if value is None:
        return "–"
    text = f"{float(value):g}"
    return text.replace(".", ",") if current_language() == "nb" else text


def number(value: Any) -> str:
    """A whole number with the language's grouping (``12 345``)."""
    if value is None or value == "":
        return "–"
    try:
        return _group(Decimal(str(value)))
    except (ArithmeticError, InvalidOperation):
        return str(value)


def plain(value: Any) -> str:
    """A value read from a notice, for reading: yes/no, a date as dd.mm.åååå, a number
    with grouping; text as it is."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        if current_language() == "nb":
            return "ja" if value else "nei"
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else None
        if text is None or "." not in text:
            return number(value)
        return text.replace(",", NBSP).replace(".", ",") if current_language() == "nb" else text
    if _parse(value) is not None:
        return date(value)
    return str(value)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _localised(value: Any) -> Any:
    """A message whose values that are ISO days read as the page's dates (dd.mm.åååå)."""
    if isinstance(value, Text):
        value = value.message
    if not isinstance(value, Message):
        return date(value) if isinstance(value, str) and _ISO_DAY.fullmatch(value) else value
    return Message(value.msgid, {k: _localised(v) for k, v in value.values.items()}, value.literal)


def msg(value: Any) -> str:
    """A domain message (``tracker.messages.Message``) in the reader's language, its days
    as dd.mm.åååå; plain text as it is. Messages are extracted from ``tracker/`` with
    the ``N_`` keyword."""
    if isinstance(value, Message | Text):
        value = _localised(value)
    return render_message(value, gettext)
