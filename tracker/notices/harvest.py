"""Harvest state for the spiders: crawl runs, harvested days and fetch failures.

A source is harvested one issue day at a time. A day row in ``harvest_days`` is
planned (``hits`` NULL) when a crawl takes it on, gets ``hits``/``stored`` once its
listing and downloads are done, and is ``complete`` only when every listed notice is
stored and the day is over. Notices that could not be fetched or stored are kept in
``fetch_failures`` (id, reason, attempts) and retried by the next run; resolving the
last one of a day completes that day.

Where the next incremental crawl starts (``resume_day``): the earliest planned day
never finished (a crawl stopped half-way), else the last complete day minus a two-day
overlap (late publications). The runs of kind ``crawl`` keep spider, arguments,
start, end, counts and outcome. Called from the Scrapy pipeline (``spiders/``) and
the CLI; this module never imports ``spiders``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db import runs
from tracker.db.bulk import chunked, select_in
from tracker.db.models import FetchFailure, HarvestDay, Notice, utcnow

OVERLAP_DAYS = 2


# --------------------------------------------------------------------------- runs


def start_run(session: Session, name: str, args: dict[str, Any]) -> int:
    """Record a crawl run as running; returns its id (``tracker.db.runs.start_run``).

    Earlier runs still marked running whose process (same host) is gone are closed as
    failed ("interrupted"), so a killed crawl does not stay "running" forever.
    """
    return runs.start_run(session, "crawl", name, args)


def finish_run(
    session: Session, run_id: int, counts: dict[str, Any], outcome: str, error: str | None = None
) -> None:
    """Close a crawl run with its counts and outcome (ok|partial|failed)."""
    runs.finish_run(session, run_id, counts, outcome, error)


def crawl_outcome(
    finish_reason: str | None,
    failures: int,
    *,
    days_incomplete: int = 0,
    requests: int = 0,
    ok_responses: int | None = None,
) -> str:
    """``failed`` when the crawl did not finish or none of its requests got a usable
    answer (``ok_responses`` 0 of ``requests``); ``partial`` with failed notices or days
    left incomplete; else ``ok``."""
    if finish_reason != "finished":
        return "failed"
    if ok_responses is not None and requests and not ok_responses:
        return "failed"
    return "partial" if failures or days_incomplete else "ok"


# --------------------------------------------------------------------------- days


def day_range(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=i) for i in range((until - since).days + 1)]


def resume_day(session: Session, source: str) -> dt.date | None:
    """First day the next incremental crawl of ``source`` should list (None: no state)."""
    unfinished = session.scalar(
        select(func.min(HarvestDay.day)).where(
            HarvestDay.source == source,
            HarvestDay.complete.is_(False),
            HarvestDay.hits.is_(None),
        )
    )
    last_complete = last_complete_day(session, source)
    candidates = [d for d in (unfinished,) if d is not None]
    if last_complete is not None:
        candidates.append(last_complete - dt.timedelta(days=OVERLAP_DAYS))
    return min(candidates) if candidates else None


def last_complete_day(session: Session, source: str) -> dt.date | None:
    """The last fully harvested day of ``source``."""
    return session.scalar(
        select(func.max(HarvestDay.day)).where(
            HarvestDay.source == source, HarvestDay.complete.is_(True)
        )
    )


def plan_days(session: Session, source: str, days: Iterable[dt.date]) -> None:
    """Make sure every day has a row (new rows: not listed, not complete)."""
    days = list(days)
    if not days:
        return
    existing = set(
        session.scalars(
            select(HarvestDay.day).where(
                HarvestDay.source == source, HarvestDay.day.between(min(days), max(days))
            )
        )
    )
    for day in days:
        if day not in existing:
            session.add(HarvestDay(source=source, day=day, complete=False))
    session.flush()


def record_day(
    session: Session,
    source: str,
    day: dt.date,
    hits: int,
    stored: int,
    today: dt.date,
) -> bool:
    """Record a listed day; complete when all hits are stored and the day is over.

    A day already complete stays complete (a re-listing in the overlap only adds).
    Returns whether the day is complete.
    """
    row = session.scalar(
        select(HarvestDay).where(HarvestDay.source == source, HarvestDay.day == day)
    )
    if row is None:
        row = HarvestDay(source=source, day=day, complete=False)
        session.add(row)
    complete = stored >= hits and day < today
    row.hits = hits
    row.stored = stored
    row.complete = bool(row.complete) or complete
    row.updated_at = utcnow()
    session.flush()
    return row.complete


def stored_source_ids(session: Session, source: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` (Doffin ids, TED publication numbers) are stored as notices."""
    rows = select_in(session, [Notice.source_id], Notice.source_id, ids, Notice.source == source)
    return {source_id for (source_id,) in rows}


# --------------------------------------------------------------------------- failures


def record_failure(
    session: Session, source: str, source_id: str, reason: str, meta: dict[str, Any] | None = None
) -> None:
    """Record (or count again) a notice or lookup that could not be fetched or stored."""
    row = session.scalar(
        select(FetchFailure).where(
            FetchFailure.source == source, FetchFailure.source_id == source_id
        )
    )
    if row is None:
        session.add(
            FetchFailure(
                source=source, source_id=source_id, reason=reason, meta=dict(meta or {}), attempts=1
            )
        )
    else:
        row.reason = reason
        row.attempts = (row.attempts or 0) + 1
        row.meta = {**(row.meta or {}), **(meta or {})}
        row.last_tried = utcnow()
        row.resolved = False
    session.flush()


def open_failures(session: Session, source: str) -> list[FetchFailure]:
    """Unresolved failures of ``source``, oldest first (what the next run retries)."""
    return list(
        session.scalars(
            select(FetchFailure)
            .where(FetchFailure.source == source, FetchFailure.resolved.is_(False))
            .order_by(FetchFailure.id)
        )
    )


def resolve_failures(session: Session, source: str, ids: Iterable[str], today: dt.date) -> int:
    """Mark failures of ``ids`` resolved; completes days left with no open failure.

    Returns how many failures were resolved.
    """
    ids = set(ids)
    if not ids:
        return 0
    rows = [
        row
        for chunk in chunked(ids)
        for row in session.scalars(
            select(FetchFailure).where(
                FetchFailure.source == source,
                FetchFailure.source_id.in_(chunk),
                FetchFailure.resolved.is_(False),
            )
        )
    ]
    days: set[dt.date] = set()
    for row in rows:
        row.resolved = True
        row.last_tried = utcnow()
        if (row.meta or {}).get("day"):
            days.add(dt.date.fromisoformat(row.meta["day"]))
    session.flush()
    still_open = {
        (f.meta or {}).get("day")
        for f in open_failures(session, source)
        if (f.meta or {}).get("day")
    }
    for day in days:
        if day.isoformat() in still_open:
            continue
        row = session.scalar(
            select(HarvestDay).where(HarvestDay.source == source, HarvestDay.day == day)
        )
        if row is not None and row.hits is not None:
            row.stored = row.hits
            row.complete = day < today
    session.flush()
    return len(rows)


def failure_list(session: Session, source: str | None = None) -> list[dict[str, Any]]:
    """Open failures as plain dicts (for the CLI and the operations page)."""
    stmt = select(FetchFailure).where(FetchFailure.resolved.is_(False)).order_by(FetchFailure.id)
    if source:
        stmt = stmt.where(FetchFailure.source == source)
    return [
        {
            "source": f.source,
            "source_id": f.source_id,
            "reason": f.reason,
            "attempts": f.attempts,
            "day": (f.meta or {}).get("day"),
        }
        for f in session.scalars(stmt)
    ]
