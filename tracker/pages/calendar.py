"""What a calendar shows: the calendar question.

The windows, drafting, publication and expiry of the opportunities at the accounts whose
dates are not all past (``tracker.pages.opportunities.opportunity_rows``) and the tender
deadlines of open competitions (``tracker.pages.bids.bids_page``), as
``tracker.formats.ical.CalendarEvent`` records, one per UID. A user's feed
(``calendar_feed``: their accounts, a KAM's own) and ``tracker calendar`` (every account,
or one: ``account_calendar``) show the same events for the same accounts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session

from tracker.db.models import Opportunity, User
from tracker.formats.ical import CalendarEvent, calendar_bytes, unique_events
from tracker.pages.base import PageEnv, account_scope, plain
from tracker.pages.bids import bids_page
from tracker.pages.opportunities import opportunity_rows
from tracker.rules import Rules

MAX_OPPORTUNITIES = 500
MAX_BIDS = 200


def calendar_rows(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None,
    rules: Rules,
    ours: frozenset[str],
) -> list[dict[str, Any]]:
    """The plain rows a calendar shows: opportunities of ``account_ids`` (None: all) whose
    dates are not all past (at most ``MAX_OPPORTUNITIES``) and the tender deadlines of
    open competitions (at most ``MAX_BIDS``: those linked to the accounts, or the relevant
    ones when every account is asked for)."""
    # Only the rows with a date still to come are read: a cut over every stored row,
    # soonest publication first, was mostly past ones at a large team's accounts.
    upcoming = or_(
        Opportunity.influence_opens >= today,
        Opportunity.expected_publication >= today,
        Opportunity.expiry >= today,
    )
    rows = opportunity_rows(
        session, today, account_ids=account_ids, limit=2 * MAX_OPPORTUNITIES, rules=rules,
        where=upcoming,
    )  # fmt: skip
    keep = []
    for row in rows:
        dates = (row.influence_opens, row.expected_publication, row.expiry)
        if any(d and d >= today for d in dates):
            keep.append(plain(row))
    show = "accounts" if account_ids is not None else "relevant"
    bids = plain(
        bids_page(
            session, today, show=show, account_ids=account_ids, per_page=MAX_BIDS, rules=rules,
            ours=ours,
        ).items
    )  # fmt: skip
    return keep[:MAX_OPPORTUNITIES] + bids


def calendar_items(
    session: Session, user: User, today: dt.date, env: PageEnv
) -> list[dict[str, Any]]:
    """What the user's calendar shows (:func:`calendar_rows` of their accounts)."""
    ids = account_scope(session, user)
    return calendar_rows(session, today, account_ids=ids, rules=env.rules, ours=env.ours)


def calendar_events(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None,
    rules: Rules,
    ours: frozenset[str],
    language: str = "nb",
    base_url: str | None = None,
) -> list[CalendarEvent]:
    """The events of :func:`calendar_rows`, one per UID (in ``language``, linking to their
    pages under ``base_url``)."""
    rows = calendar_rows(session, today, account_ids=account_ids, rules=rules, ours=ours)
    return unique_events(rows, language=language, base_url=base_url)


def calendar_feed(
    session: Session, user: User, today: dt.date, env: PageEnv, base_url: str | None = None
) -> bytes:
    """The user's iCalendar feed (their accounts, in their language, events linking to
    their pages under ``base_url``)."""
    language = getattr(user, "language", None) or "nb"
    events = calendar_events(
        session, today, account_ids=account_scope(session, user), rules=env.rules,
        ours=env.ours, language=language, base_url=base_url,
    )  # fmt: skip
    return calendar_bytes(events, name=f"Tender tracker ({user.email})", language=language)


def account_calendar(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None,
    rules: Rules,
    ours: frozenset[str],
    name: str = "Tender tracker",
    language: str = "nb",
    base_url: str | None = None,
) -> tuple[bytes, int]:
    """The calendar of ``account_ids`` (None: every account) and its number of events
    (``tracker calendar``)."""
    events = calendar_events(
        session, today, account_ids=account_ids, rules=rules, ours=ours, language=language,
        base_url=base_url,
    )  # fmt: skip
    return calendar_bytes(events, name=name, language=language), len(events)
