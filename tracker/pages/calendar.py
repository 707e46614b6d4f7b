"""What a user's calendar feed shows (``tracker.formats.ical.build_calendar`` writes it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from tracker.db.models import (
    User,
)
from tracker.formats.ical import build_calendar
from tracker.pages.base import PageEnv, account_scope, plain
from tracker.pages.bids import bids_page
from tracker.pages.opportunities import opportunity_rows


def calendar_items(
    session: Session, user: User, today: dt.date, env: PageEnv
) -> list[dict[str, Any]]:
    """What the user's calendar shows: opportunities of their accounts whose dates are not
    all past (at most 500) and the tender deadlines of open competitions (at most 200;
    a KAM's: those linked to their accounts)."""
    ids = account_scope(session, user)
    rows = opportunity_rows(session, today, account_ids=ids, limit=2000, rules=env.rules)
    keep = []
    for row in rows:
        dates = [row.get(k) for k in ("influence_opens", "expected_publication", "expiry")]
        if any(d and d >= today for d in dates):
            keep.append(row)
    show = "accounts" if ids is not None else "relevant"
    bids = plain(
        bids_page(
            session, today, show=show, account_ids=ids, per_page=200, rules=env.rules,
            ours=env.ours,
        ).items
    )  # fmt: skip
    return keep[:500] + bids


def calendar_feed(
    session: Session, user: User, today: dt.date, env: PageEnv, base_url: str | None = None
) -> bytes:
    """The user's iCalendar feed, built by ``tracker.formats.ical.build_calendar`` (in the user's
    language, events linking to their pages under ``base_url``)."""
    items = calendar_items(session, user, today, env)
    return build_calendar(
        items,
        name=f"Tender tracker ({user.email})",
        language=getattr(user, "language", None) or "nb",
        base_url=base_url,
    )
