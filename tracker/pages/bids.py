"""Open competitions for the bid team, scored by ``tracker.bids.selection``, one page at a time;
and intention notices still in their challenge period: the bid list question.

The bid page, ``/api/bids``, the bids export, the director's queue and the calendar show
:func:`bids_page` (``BidsPage`` of ``BidItem`` records); ``tracker bids`` shows the same
``BidRow`` records (``tracker.bids.selection.list_bids``). Records become plain values only
at the edge (``tracker.pages.base.plain``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.bids import selection as bids_module
from tracker.bids.decisions import BID_STATUSES, CAPACITIES, RISKS
from tracker.bids.selection import BidRow, record_fields
from tracker.db.models import (
    BidDecision,
    Contract,
    Notice,
)
from tracker.errors import UserError
from tracker.pages.base import PageCache
from tracker.pages.expiries import CONTRACT_COLUMNS, ContractRow, contract_rows
from tracker.rules import Rules

URGENT_DEADLINE_DAYS = 10  # a competition deadline sooner than this is flagged urgent
# The list of open competitions (not their scores, statuses or decisions) is reused by the
# bid list and the director's queue for this many seconds (with the app's cache).
OPEN_LIST_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class BidItem(BidRow):
    """A ``BidRow`` as the bid pages and exports show it: with the award criteria of its
    first lot that has some, whether the deadline is near (``URGENT_DEADLINE_DAYS``) and
    the names the pages use for the notice's id, Doffin page, value and bid status."""

    id: int  # notice_pk
    doffin_url: str | None  # url
    estimated_value: float | None  # value (of any kind: see value_kind)
    bid_status: str | None  # status
    criteria: list[dict[str, Any]]
    urgent: bool


def bid_item(row: BidRow) -> BidItem:
    """``row`` with the names the templates and exports use."""
    criteria: list[dict[str, Any]] = next(
        (lot["criteria"] for lot in row.lots if lot["criteria"]), []
    )
    return BidItem(
        **record_fields(row),
        id=row.notice_pk,
        doffin_url=row.url,
        estimated_value=row.value,
        bid_status=row.status,
        criteria=criteria,
        urgent=row.days_left is not None and row.days_left < URGENT_DEADLINE_DAYS,
    )


def scored_bids(
    session: Session, today: dt.date, notice_pks: list[int], rules: Rules
) -> list[BidItem]:
    """Rows with explainable scores (``tracker.bids.selection.bid_rows``), in the given order."""
    if not notice_pks:
        return []
    rows = bids_module.bid_rows(session, today, notice_pks, rules=rules)
    return [bid_item(row) for row in rows]


BID_SHOWS = bids_module.SHOWS


def _open_competitions(
    session: Session,
    today: dt.date,
    show: str,
    account_ids: list[int] | None,
    rules: Rules,
    cache: PageCache | None,
) -> tuple[int, ...]:
    def build(s: Session) -> tuple[int, ...]:
        return tuple(
            bids_module.open_competition_ids(
                s, today, show=show, account_ids=account_ids, rules=rules
            )
        )

    if cache is None:
        return build(session)
    if show not in BID_SHOWS:
        raise UserError(f"show: {show!r} is not one of {', '.join(BID_SHOWS)}")
    ids = tuple(account_ids) if account_ids is not None else None
    scoring = rules.scoring_rules()
    key = ("open-competitions", show, ids, scoring.cpv_prefixes, scoring.keywords)
    return cache.get(session, key, today, build, ttl=OPEN_LIST_TTL_SECONDS)


@dataclass(frozen=True)
class BidsPage:
    """One page of open competitions (``items``, scored), with the choices of the forms and
    the intention notices still in their challenge period."""

    items: list[BidItem]
    total: int
    page: int
    pages: int
    show: str
    statuses: tuple[str, ...]
    capacities: tuple[str, ...]
    risks: tuple[str, ...]
    fresh_within_s: int  # how old the list of open competitions may be (0: built now)
    intentions: list[ContractRow]


def bids_page(
    session: Session,
    today: dt.date,
    *,
    show: str = "relevant",
    account_ids: list[int] | None = None,
    undecided_only: bool = False,
    page: int = 1,
    per_page: int = 50,
    cache: PageCache | None = None,
    rules: Rules,
    ours: frozenset[str],
) -> BidsPage:
    """Open competitions, soonest deadline first, one page, scored by ``tracker.bids.selection``.

    Only the page's rows are scored. ``cache`` (the app's): the list of open competitions
    (``tracker.bids.selection.open_competition_ids``) may be up to ``cache.max_age`` old
    (``OPEN_LIST_TTL_SECONDS``, then rebuilt in the background while still shown; a
    competition stored meanwhile shows up that much later; decisions, bid statuses and
    scores are never cached); ``fresh_within_s`` says how old it may be (0: built for
    this call).
    """
    # Open competitions are a few thousand at most: one query for the ids of all, then
    # a page of them scored (cheaper than a COUNT plus a LIMIT query over the same join).
    ordered: tuple[int, ...] | list[int] = _open_competitions(
        session, today, show, account_ids, rules, cache
    )
    if undecided_only:  # decisions are read on every call: a decision leaves the queue at once
        decided = set(session.scalars(select(BidDecision.notice_pk).distinct()))
        ordered = [pk for pk in ordered if pk not in decided]
    total = len(ordered)
    per_page = max(1, min(per_page, 200))
    page = max(1, page)
    rows = list(ordered[(page - 1) * per_page : page * per_page])
    return BidsPage(
        items=scored_bids(session, today, rows, rules),
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
        show=show,
        statuses=BID_STATUSES,
        capacities=CAPACITIES,
        risks=RISKS,
        fresh_within_s=cache.max_age(OPEN_LIST_TTL_SECONDS) if cache is not None else 0,
        intentions=intention_rows(session, today, ours=ours),
    )


def intention_rows(
    session: Session, today: dt.date, limit: int = 50, *, ours: frozenset[str]
) -> list[ContractRow]:
    """Intention notices (direct awards announced before the contract is concluded) whose
    challenge period has not run out on ``today``: the bid team may still ask the buyer
    or challenge the award. One row per contract, soonest end of the period first."""
    found = session.execute(
        select(CONTRACT_COLUMNS, Notice.source_id, Notice.notice_id)
        .join(Notice, Notice.id == Contract.notice_pk)
        .where(
            Contract.challenge_until >= today,
            func.coalesce(Notice.issue_date, Notice.publication_date) <= today,
        )
        .order_by(Contract.challenge_until, Contract.id)
        .limit(limit)
    ).all()
    return contract_rows(session, found, today, ours=ours)
