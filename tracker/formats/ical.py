"""iCalendar (RFC 5545) export of windows, deadlines and expiries, via the ``icalendar`` package.

``calendar_events(item)`` gives the :class:`CalendarEvent` records of one plain row of
``tracker.pages.opportunities`` or of the bid list (dates as ``datetime.date`` or ISO
strings), ``unique_events`` those of many rows, one per UID, and ``calendar_bytes`` the
calendar (``build_calendar(items)`` both); the calendar question itself is
``tracker.pages.calendar``. Events are all-day events, except tender deadlines with a time: those
are timed events in Europe/Oslo (with its VTIMEZONE). Every event has a stable UID derived
from the opportunity (its key without the account: an agreement at three accounts is one
opportunity and one event per date, naming the accounts), the notice id or the budget
scope, so that a calendar that re-imports the file or polls a subscription updates events
instead of duplicating them. Each event links back to its page in the tracker (URL) when a
``base_url`` is given. Texts are in Norwegian bokmål (``language="en"`` for English).

Events: influence window opens, specification drafting starts, expected publication
(influence window closes), tender deadline, budget window opens and closes (and the
milestones of the buyer type's budget calendar), expiry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from tracker.formats import labels
from tracker.formats.human import msg
from tracker.i18n import speaking

PRODID = "-//tender-tracker//windows and deadlines//EN"
UID_DOMAIN = "tender-tracker"
OSLO = ZoneInfo("Europe/Oslo")
DEADLINE_MINUTES = 30  # a timed deadline is an event of this length ending at the deadline

# The event texts: (bokmål, English).
TEXTS: dict[str, tuple[str, str]] = {
    "untitled": ("(uten tittel)", "(untitled)"),
    "deadline": ("Tilbudsfrist", "Tender deadline"),
    "deadline_at": ("Tilbudsfrist kl. {time}", "Tender deadline {time}"),
    "influence": ("Påvirkningsvindu åpner", "Influence window opens"),
    "drafting": ("Spesifikasjonen skrives fra", "Specification drafting starts"),
    "publication": (
        "Påvirkningsvindu lukkes, forventet kunngjøring",
        "Influence window closes, expected publication",
    ),
    "expiry": ("Avtalen utløper", "Agreement ends"),
    "budget_opens": ("Budsjettvindu åpner", "Budget window opens"),
    "budget_until": ("til", "until"),
    "budget_closes": ("Budsjettvindu lukkes", "Budget window closes"),
    "budget_milestone": ("Budsjettmilepæl", "Budget milestone"),
    "budget_opens_text": (
        "Budsjettinnspill til neste år formes nå.",
        "Budget inputs for the next cycle are shaped now.",
    ),
    "budget_closes_text": (
        "Budsjettene vedtas, kuttes eller avvises rundt nå.",
        "Budgets are adopted, cut or rejected around now.",
    ),
    "budget_calendar": ("budsjettkalender", "budget calendar"),
    "accounts": ("Kunder", "Accounts"),
    "page": ("Side i trackeren", "Page in the tracker"),
}


def _milestone(name: Any, lang: str) -> str:
    with speaking(lang):
        return labels.milestone(name)


def _t(key: str, language: str) -> str:
    nb, en = TEXTS[key]
    return en if language == "en" else nb


def _oslo_date(d: dt.date, language: str) -> str:
    return d.isoformat() if language == "en" else d.strftime("%d.%m.%Y")


def _datetime(value: Any) -> dt.datetime | None:
    """An aware date-time (ISO string or datetime; naive ones are UTC), else None."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and "T" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _account_name(value: Any) -> str:
    """An account's name from a name or an ``(id, name)`` pair (opportunity rows)."""
    if isinstance(value, list | tuple):
        return next((str(x) for x in reversed(value) if isinstance(x, str)), str(value[-1]))
    return str(value)


def opportunity_id(key: str) -> str:
    """The opportunity behind a stored key ``kind:ident:account_id``: the key without
    its account (the same agreement at several accounts is one opportunity)."""
    head, _, tail = key.rpartition(":")
    return head if head and tail.isdigit() else key


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _uid(*parts: str) -> str:
    raw = "/".join(parts)
    return re.sub(r"[^A-Za-z0-9._:/\-]+", "_", raw) + f"@{UID_DOMAIN}"


@dataclass(frozen=True)
class CalendarEvent:
    """One event of a calendar: ``date`` is a date (an all-day event) or an aware
    date-time (a timed tender deadline); ``url`` the page in the tracker (else the
    notice's own page, ``source_url``); ``accounts`` the accounts it concerns."""

    uid: str
    date: dt.date
    summary: str
    description: str = ""
    url: str | None = None
    source_url: str | None = None
    accounts: tuple[str, ...] = ()


def calendar_events(
    item: Mapping[str, Any], *, language: str = "nb", base_url: str | None = None
) -> list[CalendarEvent]:
    """The events of one opportunity or bid (a plain row, dates as dates or ISO strings).

    An opportunity (it has ``influence_opens``) gives its window events while it is not
    published, its tender deadline once published, its budget window and the expiry; a
    bid gives its tender deadline (timed when ``deadline_at`` has the time).
    """
    title = item.get("title") or _t("untitled", language)
    buyer = item.get("buyer") or ""
    ctx = _Context(
        title=title,
        at=f" ({buyer})" if buyer else "",
        reason=_reason(item.get("reason"), language),
        page=_page(item, base_url),
        source_url=item.get("url") or item.get("doffin_url"),
        accounts=tuple(
            _account_name(a) for a in item.get("accounts") or [item.get("account")] if a
        ),
        language=language,
    )
    if "influence_opens" not in item:  # a bid (published competition)
        nid = str(item.get("notice_id") or item.get("notice_pk") or title)
        return _deadline(ctx, _uid("deadline", nid), item.get("deadline"), item.get("deadline_at"))
    return _opportunity_events(item, ctx) + _budget_events(item, ctx)


def _reason(reason: Any, language: str) -> str:
    """The opportunity's reason in the feed's language (a domain message is translated;
    plain text stays as it is)."""
    with speaking(language):
        return msg(reason) if reason else ""


@dataclass(frozen=True)
class _Context:
    """What every event of one item shares."""

    title: str
    at: str
    reason: str
    page: str | None
    source_url: str | None
    accounts: tuple[str, ...]
    language: str

    def event(
        self, uid: str, when: Any, summary: str, description: str = ""
    ) -> list[CalendarEvent]:
        d = when if isinstance(when, dt.datetime) else _date(when)
        if d is None:
            return []
        url = self.page or self.source_url
        return [CalendarEvent(uid, d, summary, description, url, self.source_url, self.accounts)]


def _page(item: Mapping[str, Any], base_url: str | None) -> str | None:
    """The item's page in the tracker: its notice, else its account."""
    pk = item.get("notice_pk")
    if base_url and isinstance(pk, int):
        return f"{base_url.rstrip('/')}/notices/{pk}"
    if base_url and isinstance(item.get("account_id"), int):
        return f"{base_url.rstrip('/')}/accounts/{item['account_id']}"
    return None


def _deadline(ctx: _Context, uid: str, date_value: Any, at_value: Any) -> list[CalendarEvent]:
    moment = _datetime(at_value)
    if moment is not None:
        local = moment.astimezone(OSLO)
        label = _t("deadline_at", ctx.language).format(time=local.strftime("%H.%M"))
        return ctx.event(uid, local, f"{label}: {ctx.title}{ctx.at}")
    return ctx.event(uid, date_value, f"{_t('deadline', ctx.language)}: {ctx.title}{ctx.at}")


def _opportunity_events(item: Mapping[str, Any], ctx: _Context) -> list[CalendarEvent]:
    """The window events while not published, else the tender deadline; the expiry."""
    lang, what = ctx.language, f"{ctx.title}{ctx.at}"
    key = opportunity_id(str(item.get("key") or ctx.title))
    published = item.get("published")
    if published is None:  # rows without the flag: infer it from the phase
        published = item.get("phase") in ("published", "evaluation", "awarded", "running")
    events: list[CalendarEvent] = []
    if not published:
        for name, field, label in (
            ("influence-opens", "influence_opens", "influence"),
            ("drafting", "drafting_starts", "drafting"),
            ("publication", "expected_publication", "publication"),
        ):
            uid = _uid(key, name)
            events += ctx.event(uid, item.get(field), f"{_t(label, lang)}: {what}", ctx.reason)
    else:
        nid = str(item.get("competition_notice_id") or key)
        uid = _uid("deadline", nid)
        events += _deadline(ctx, uid, item.get("expected_deadline"), item.get("deadline_at"))
    if item.get("expiry"):
        summary = f"{_t('expiry', lang)}: {what}"
        events += ctx.event(_uid(key, "expiry"), item.get("expiry"), summary, ctx.reason)
    return events


def _budget_events(item: Mapping[str, Any], ctx: _Context) -> list[CalendarEvent]:
    """The primary budget window's opening, closing and milestones."""
    lang = ctx.language
    bw = item.get("budget_window") or {}
    if not (bw.get("start") and bw.get("end")):
        return []
    scope = str(item.get("account") or bw.get("buyer_type") or "default")
    events: list[CalendarEvent] = []
    start, end = _date(bw["start"]), _date(bw["end"])
    if start is not None and end is not None:
        events += ctx.event(
            _uid("budget", scope, str(start), "start"),
            start,
            f"{_t('budget_opens', lang)}: {scope} "
            f"({_t('budget_until', lang)} {_oslo_date(end, lang)})",
            _t("budget_opens_text", lang),
        )
        events += ctx.event(
            _uid("budget", scope, str(start), "end"),
            end,
            f"{_t('budget_closes', lang)}: {scope}",
            _t("budget_closes_text", lang),
        )
    for m in bw.get("milestones") or []:
        events += ctx.event(
            _uid("budget", scope, str(m.get("date")), str(m.get("name"))),
            m.get("date"),
            f"{_t('budget_milestone', lang)} ({scope}): {_milestone(m.get('name'), lang)}",
            f"{bw.get('buyer_type') or ''} {_t('budget_calendar', lang)}".strip(),
        )
    return events


def unique_events(
    items: Iterable[Mapping[str, Any]], *, language: str = "nb", base_url: str | None = None
) -> list[CalendarEvent]:
    """The events of all ``items``, one per UID: the accounts of the same opportunity are
    merged into one event, and a deadline with its time wins over the same deadline as a
    date only (an opportunity knows the day, the competition notice the time)."""
    by_uid: dict[str, CalendarEvent] = {}
    for item in items:
        for ev in calendar_events(item, language=language, base_url=base_url):
            seen = by_uid.get(ev.uid)
            if seen is None:
                by_uid[ev.uid] = ev
                continue
            timed = isinstance(ev.date, dt.datetime) and not isinstance(seen.date, dt.datetime)
            keep = ev if timed else seen
            accounts = tuple(dict.fromkeys((*seen.accounts, *ev.accounts)))
            by_uid[ev.uid] = replace(keep, accounts=accounts)
    return list(by_uid.values())


def _description(ev: CalendarEvent, language: str) -> str:
    lines = [ev.description] if ev.description else []
    if ev.accounts:
        lines.append(f"{_t('accounts', language)}: {', '.join(ev.accounts)}")
    if ev.url:
        lines.append(f"{_t('page', language)}: {ev.url}")
    if ev.source_url and ev.source_url != ev.url:
        lines.append(ev.source_url)
    return "\n".join(lines)


def build_calendar(
    items: Iterable[Mapping[str, Any]],
    *,
    name: str = "Tender tracker",
    now: dt.datetime | None = None,
    language: str = "nb",
    base_url: str | None = None,
) -> bytes:
    """An RFC 5545 calendar of all events of ``items`` (one per UID), as bytes.

    ``now`` is the DTSTAMP (default: the current UTC time); ``base_url`` the tracker's
    address, for each event's link back (URL) to its page.
    """
    events = unique_events(items, language=language, base_url=base_url)
    return calendar_bytes(events, name=name, now=now, language=language)


def calendar_bytes(
    events: Iterable[CalendarEvent],
    *,
    name: str = "Tender tracker",
    now: dt.datetime | None = None,
    language: str = "nb",
) -> bytes:
    """The events as an RFC 5545 calendar (``now``: the DTSTAMP, default the current time)."""
    stamp = now or dt.datetime.now(dt.UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Oslo")
    timed = False
    for ev in events:
        e = Event()
        e.add("uid", ev.uid)
        e.add("dtstamp", stamp)
        if isinstance(ev.date, dt.datetime):
            timed = True
            e.add("dtstart", ev.date - dt.timedelta(minutes=DEADLINE_MINUTES))
            e.add("dtend", ev.date)
        else:
            e.add("dtstart", ev.date)
            e.add("dtend", ev.date + dt.timedelta(days=1))
        e.add("summary", ev.summary)
        description = _description(ev, language)
        if description:
            e.add("description", description)
        if ev.url:
            e.add("url", ev.url)
        e.add("transp", "TRANSPARENT")
        cal.add_component(e)
    if timed:
        cal.add_missing_timezones()
    return cal.to_ical()
