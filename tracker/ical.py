"""iCalendar (RFC 5545) export of windows, deadlines and expiries, via the ``icalendar`` package.

``build_calendar(items)`` takes the plain dicts of ``tracker.opportunities.list_opportunities``
and ``tracker.bids.list_bids`` (dates as ``datetime.date`` or ISO strings) and returns the
calendar as bytes. Every event is an all-day event with a stable UID derived from the
opportunity key (or notice id, or budget scope), so that a calendar that re-imports the
file or polls a subscription updates events instead of duplicating them.

Events: influence window opens, specification drafting starts, expected publication
(influence window closes), tender deadline, budget window opens and closes (and the
milestones of the buyer type's budget calendar), expiry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from icalendar import Calendar, Event
from sqlalchemy.orm import Session

PRODID = "-//tender-tracker//windows and deadlines//EN"
UID_DOMAIN = "tender-tracker"


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


def calendar_events(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of one opportunity or bid dict: ``uid``, ``date``, ``summary``, ``description``.

    An opportunity (it has ``influence_opens``) gives its window events while it is not
    published, its tender deadline once published, its budget window and the expiry; a
    bid gives its tender deadline.
    """
    title = item.get("title") or "(untitled)"
    buyer = item.get("buyer") or ""
    at = f" ({buyer})" if buyer else ""
    reason = item.get("reason") or ""
    url = item.get("url") or item.get("doffin_url")
    events: list[dict[str, Any]] = []

    def add(uid: str, date: Any, summary: str, description: str = "") -> None:
        d = _date(date)
        if d is not None:
            desc = "\n".join(x for x in (description, url or "") if x)
            events.append({"uid": uid, "date": d, "summary": summary, "description": desc})

    if "influence_opens" not in item:  # a bid (published competition)
        nid = str(item.get("notice_id") or item.get("notice_pk") or title)
        add(_uid("deadline", nid), item.get("deadline"), f"Tender deadline: {title}{at}")
        return events

    key = str(item.get("key") or title)
    published = item.get("published")
    if published is None:  # rows without the flag: infer it from the phase
        published = item.get("phase") in ("published", "evaluation", "awarded", "running")
    if not published:
        add(
            _uid(key, "influence-opens"),
            item.get("influence_opens"),
            f"Influence window opens: {title}{at}",
            reason,
        )
        add(
            _uid(key, "drafting"),
            item.get("drafting_starts"),
            f"Specification drafting starts: {title}{at}",
            reason,
        )
        add(
            _uid(key, "publication"),
            item.get("expected_publication"),
            f"Influence window closes, expected publication: {title}{at}",
            reason,
        )
    else:
        nid = str(item.get("competition_notice_id") or key)
        add(_uid("deadline", nid), item.get("expected_deadline"), f"Tender deadline: {title}{at}")
    if item.get("expiry"):
        add(_uid(key, "expiry"), item.get("expiry"), f"Agreement ends: {title}{at}", reason)
    bw = item.get("budget_window") or {}
    if bw.get("start") and bw.get("end"):
        scope = str(item.get("account") or bw.get("buyer_type") or "default")
        start, end = _date(bw["start"]), _date(bw["end"])
        add(
            _uid("budget", scope, str(start), "start"),
            start,
            f"Budget window opens: {scope} (until {end})",
            "Budget inputs for the next cycle are shaped now.",
        )
        add(
            _uid("budget", scope, str(start), "end"),
            end,
            f"Budget window closes: {scope}",
            "Budgets are adopted, cut or rejected around now.",
        )
        for m in bw.get("milestones") or []:
            add(
                _uid("budget", scope, str(m.get("date")), str(m.get("name"))),
                m.get("date"),
                f"Budget milestone ({scope}): {m.get('name')}",
                f"{bw.get('buyer_type') or ''} budget calendar".strip(),
            )
    return events


def unique_events(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events of all ``items``, first occurrence of each UID kept."""
    seen: set[str] = set()
    out = []
    for item in items:
        for ev in calendar_events(item):
            if ev["uid"] not in seen:
                seen.add(ev["uid"])
                out.append(ev)
    return out


def build_calendar(
    items: Iterable[Mapping[str, Any]],
    *,
    name: str = "Tender tracker",
    now: dt.datetime | None = None,
) -> bytes:
    """An RFC 5545 calendar of all events of ``items`` (deduplicated by UID), as bytes.

    ``now`` is the DTSTAMP (default: the current UTC time).
    """
    stamp = now or dt.datetime.now(dt.UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for ev in unique_events(items):
        e = Event()
        e.add("uid", ev["uid"])
        e.add("dtstamp", stamp)
        e.add("dtstart", ev["date"])
        e.add("dtend", ev["date"] + dt.timedelta(days=1))
        e.add("summary", ev["summary"])
        if ev["description"]:
            e.add("description", ev["description"])
        e.add("transp", "TRANSPARENT")
        cal.add_component(e)
    return cal.to_ical()


def calendar_for(
    session: Session, today: dt.date, *, account: str | None = None
) -> tuple[bytes, int]:
    """The calendar of the opportunities (not yet running) and open bids, optionally of one
    account, and its number of events."""
    from tracker.bids import list_bids
    from tracker.opportunities import list_opportunities

    opps = [
        o
        for o in list_opportunities(session, today=today, account=account)
        if o["phase"] != "running"
    ]
    items = [*opps, *list_bids(session, today, account=account)]
    name = f"Tender tracker: {account}" if account else "Tender tracker"
    return build_calendar(items, name=name), len(unique_events(items))
