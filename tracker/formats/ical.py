"""iCalendar (RFC 5545) export of windows, deadlines and expiries, via the ``icalendar`` package.

``build_calendar(items)`` takes the plain dicts of
``tracker.opportunities.build.list_opportunities``
and ``tracker.bids.selection.list_bids`` (dates as ``datetime.date`` or ISO strings) and returns the
calendar as bytes. Events are all-day events, except tender deadlines with a time: those
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
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from tracker.rules import Rules

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


def calendar_events(
    item: Mapping[str, Any], *, language: str = "nb", base_url: str | None = None
) -> list[dict[str, Any]]:
    """The events of one opportunity or bid dict: ``uid``, ``date`` (a date, or an aware
    date-time for a timed deadline), ``summary``, ``description``, ``url``, ``accounts``.

    An opportunity (it has ``influence_opens``) gives its window events while it is not
    published, its tender deadline once published, its budget window and the expiry; a
    bid gives its tender deadline (timed when ``deadline_at`` has the time).
    """
    title = item.get("title") or _t("untitled", language)
    buyer = item.get("buyer") or ""
    at = f" ({buyer})" if buyer else ""
    reason = item.get("reason") or ""
    source_url = item.get("url") or item.get("doffin_url")
    pk = item.get("notice_pk")
    page = f"{base_url.rstrip('/')}/notices/{pk}" if base_url and isinstance(pk, int) else None
    if page is None and base_url and isinstance(item.get("account_id"), int):
        page = f"{base_url.rstrip('/')}/accounts/{item['account_id']}"
    accounts = [_account_name(a) for a in item.get("accounts") or [item.get("account")] if a]
    events: list[dict[str, Any]] = []

    def add(uid: str, when: Any, summary: str, description: str = "") -> None:
        d = when if isinstance(when, dt.datetime) else _date(when)
        if d is not None:
            events.append(
                {
                    "uid": uid,
                    "date": d,
                    "summary": summary,
                    "description": description,
                    "url": page or source_url,
                    "source_url": source_url,
                    "accounts": list(accounts),
                }
            )

    def deadline(uid: str, date_value: Any, at_value: Any) -> None:
        moment = _datetime(at_value)
        if moment is not None:
            local = moment.astimezone(OSLO)
            label = _t("deadline_at", language).format(time=local.strftime("%H.%M"))
            add(uid, local, f"{label}: {title}{at}")
        else:
            add(uid, date_value, f"{_t('deadline', language)}: {title}{at}")

    if "influence_opens" not in item:  # a bid (published competition)
        nid = str(item.get("notice_id") or item.get("notice_pk") or title)
        deadline(_uid("deadline", nid), item.get("deadline"), item.get("deadline_at"))
        return events

    key = opportunity_id(str(item.get("key") or title))
    published = item.get("published")
    if published is None:  # rows without the flag: infer it from the phase
        published = item.get("phase") in ("published", "evaluation", "awarded", "running")
    if not published:
        add(
            _uid(key, "influence-opens"),
            item.get("influence_opens"),
            f"{_t('influence', language)}: {title}{at}",
            reason,
        )
        add(
            _uid(key, "drafting"),
            item.get("drafting_starts"),
            f"{_t('drafting', language)}: {title}{at}",
            reason,
        )
        add(
            _uid(key, "publication"),
            item.get("expected_publication"),
            f"{_t('publication', language)}: {title}{at}",
            reason,
        )
    else:
        nid = str(item.get("competition_notice_id") or key)
        deadline(_uid("deadline", nid), item.get("expected_deadline"), item.get("deadline_at"))
    if item.get("expiry"):
        add(
            _uid(key, "expiry"),
            item.get("expiry"),
            f"{_t('expiry', language)}: {title}{at}",
            reason,
        )
    bw = item.get("budget_window") or {}
    if bw.get("start") and bw.get("end"):
        scope = str(item.get("account") or bw.get("buyer_type") or "default")
        start, end = _date(bw["start"]), _date(bw["end"])
        if start is not None and end is not None:
            add(
                _uid("budget", scope, str(start), "start"),
                start,
                f"{_t('budget_opens', language)}: {scope} "
                f"({_t('budget_until', language)} {_oslo_date(end, language)})",
                _t("budget_opens_text", language),
            )
            add(
                _uid("budget", scope, str(start), "end"),
                end,
                f"{_t('budget_closes', language)}: {scope}",
                _t("budget_closes_text", language),
            )
        for m in bw.get("milestones") or []:
            add(
                _uid("budget", scope, str(m.get("date")), str(m.get("name"))),
                m.get("date"),
                f"{_t('budget_milestone', language)} ({scope}): {m.get('name')}",
                f"{bw.get('buyer_type') or ''} {_t('budget_calendar', language)}".strip(),
            )
    return events


def unique_events(
    items: Iterable[Mapping[str, Any]], *, language: str = "nb", base_url: str | None = None
) -> list[dict[str, Any]]:
    """The events of all ``items``, one per UID: the accounts of the same opportunity are
    merged into one event, and a deadline with its time wins over the same deadline as a
    date only (an opportunity knows the day, the competition notice the time)."""
    by_uid: dict[str, dict[str, Any]] = {}
    for item in items:
        for ev in calendar_events(item, language=language, base_url=base_url):
            seen = by_uid.get(ev["uid"])
            if seen is None:
                by_uid[ev["uid"]] = ev
                continue
            if isinstance(ev["date"], dt.datetime) and not isinstance(seen["date"], dt.datetime):
                ev["accounts"] = [*seen["accounts"], *ev["accounts"]]
                by_uid[ev["uid"]] = seen = ev
            else:
                seen["accounts"].extend(ev["accounts"])
            seen["accounts"] = list(dict.fromkeys(seen["accounts"]))
    return list(by_uid.values())


def _description(ev: Mapping[str, Any], language: str) -> str:
    lines = [ev["description"]] if ev["description"] else []
    if ev["accounts"]:
        lines.append(f"{_t('accounts', language)}: {', '.join(ev['accounts'])}")
    if ev["url"]:
        lines.append(f"{_t('page', language)}: {ev['url']}")
    if ev.get("source_url") and ev["source_url"] != ev["url"]:
        lines.append(ev["source_url"])
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
    stamp = now or dt.datetime.now(dt.UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Oslo")
    timed = False
    for ev in unique_events(items, language=language, base_url=base_url):
        e = Event()
        e.add("uid", ev["uid"])
        e.add("dtstamp", stamp)
        if isinstance(ev["date"], dt.datetime):
            timed = True
            e.add("dtstart", ev["date"] - dt.timedelta(minutes=DEADLINE_MINUTES))
            e.add("dtend", ev["date"])
        else:
            e.add("dtstart", ev["date"])
            e.add("dtend", ev["date"] + dt.timedelta(days=1))
        e.add("summary", ev["summary"])
        description = _description(ev, language)
        if description:
            e.add("description", description)
        if ev["url"]:
            e.add("url", ev["url"])
        e.add("transp", "TRANSPARENT")
        cal.add_component(e)
    if timed:
        cal.add_missing_timezones()
    return cal.to_ical()


def calendar_for(
    session: Session,
    today: dt.date,
    *,
    account: str | None = None,
    language: str = "nb",
    base_url: str | None = None,
    rules: Rules,
) -> tuple[bytes, int]:
    """The calendar of the opportunities (not yet running) and open bids, optionally of one
    account, and its number of events."""
    from tracker.bids.selection import list_bids
    from tracker.opportunities.build import list_opportunities

    opps = [
        o
        for o in list_opportunities(session, today=today, account=account)
        if o["phase"] != "running"
    ]
    bids = [asdict(b) for b in list_bids(session, today, account=account, rules=rules)]
    items = [*opps, *bids]
    name = f"Tender tracker: {account}" if account else "Tender tracker"
    events = len(unique_events(items, language=language, base_url=base_url))
    return build_calendar(items, name=name, language=language, base_url=base_url), events
