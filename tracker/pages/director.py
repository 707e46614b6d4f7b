"""The sales director's page: pipeline, bid/no-bid queue, decisions, incumbency and
accounts with open windows and no activity (``DirectorPage``: the page and
``/api/director`` show the same records).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select, true
from sqlalchemy.orm import Session

from tracker.bids.decisions import DECISIONS
from tracker.db.models import (
    Account,
    Activity,
    BidDecision,
    Notice,
    Opportunity,
)
from tracker.enums import LinkStatus
from tracker.pages.base import PageEnv
from tracker.pages.bids import OPEN_LIST_TTL_SECONDS, BidItem, bids_page, scored_bids
from tracker.pages.incumbency import IncumbencyRow, incumbency
from tracker.pages.opportunities import OPEN_PHASES, PHASE_ORDER

NO_ACTIVITY_DAYS = 90
# Whole-database aggregates (pipeline, incumbency, uncovered accounts) change only when
# data is ingested or recomputed; the director page reuses them (app cache) this long.
AGGREGATE_TTL_SECONDS = 60.0


@dataclass(frozen=True)
class PipelineRow:
    """Opportunities of one phase in one currency (None: unknown): how many, their value."""

    phase: str
    currency: str | None
    count: int
    value: float


@dataclass(frozen=True)
class UncoveredAccount:
    """An account with open influence windows in our profile and no recent activity."""

    account_id: int
    account: str
    kam: str | None
    open_windows: int
    since: dt.date  # no activity recorded since this day


def pipeline(session: Session, in_profile_only: bool = True) -> list[PipelineRow]:
    """Opportunities by phase and currency (``PipelineRow``), phases in
    the tracker's order (``PHASE_ORDER``). Only opportunities in our capability profile
    (``Opportunity.in_profile``, as of the last recompute; every one with
    ``in_profile_only`` False) at an account by a confirmed link count, and each tender
    once (identified by its procedure id, else its competition notice, notice or
    contract), whatever the number of accounts it is at;
    values are summed per currency (never EUR added to NOK; the opportunity's currency,
    else its notice's); ``currency`` None when neither is known."""
    extra = Opportunity.timeline["extra"]  # three strings of it, not every row's timeline
    rows = session.execute(
        select(
            Opportunity.key,
            Opportunity.phase,
            Opportunity.value,
            extra["link_status"].as_string(),
            extra["procedure_id"].as_string(),
            extra["currency"].as_string(),
            Opportunity.competition_notice_pk,
            Opportunity.notice_pk,
            Opportunity.contract_id,
            Notice.currency,
        )
        .outerjoin(
            Notice,
            Notice.id == func.coalesce(Opportunity.competition_notice_pk, Opportunity.notice_pk),
        )
        .where(Opportunity.in_profile.is_not(False) if in_profile_only else true())
        .order_by(Opportunity.id)
    )
    seen: set[tuple[str, Any]] = set()
    by: dict[tuple[str | None, str | None], list[float]] = {}
    for key, phase, value, link, procedure, cur, comp_pk, notice_pk, contract_id, n_cur in rows:
        if (link or LinkStatus.CONFIRMED) != LinkStatus.CONFIRMED:  # none stored: confirmed
            continue
        ident: tuple[str, Any]
        if procedure:
            ident = ("procedure", procedure)
        elif comp_pk or notice_pk:
            ident = ("notice", comp_pk or notice_pk)
        elif contract_id:
            ident = ("contract", contract_id)
        else:
            ident = ("key", key)
        if ident in seen:
            continue
        seen.add(ident)
        currency = cur or n_cur or None
        acc = by.setdefault((phase, currency), [0, 0.0])
        acc[0] += 1
        acc[1] += float(value or 0)
    rank = {p: i for i, p in enumerate(PHASE_ORDER)}
    order = sorted(
        by,
        key=lambda pc: (
            rank.get(pc[0], len(rank)) if pc[0] is not None else len(rank) + 1,
            pc[0] or "",
            pc[1] is None,
            pc[1] or "",
        ),
    )
    return [
        PipelineRow(
            phase=phase or "unknown",
            currency=currency,
            count=int(by[(phase, currency)][0]),
            value=by[(phase, currency)][1],
        )
        for phase, currency in order
    ]


def uncovered_accounts(
    session: Session, today: dt.date, limit: int = 100, in_profile_only: bool = True
) -> list[UncoveredAccount]:
    """Accounts with an open influence window in our capability profile and no activity in
    the last 90 days."""
    since = today - dt.timedelta(days=NO_ACTIVITY_DAYS)
    rows = session.execute(
        select(Account.id, Account.name, Account.kam_email, func.count(Opportunity.id))
        .join(Opportunity, Opportunity.account_id == Account.id)
        .where(
            Opportunity.phase.in_(OPEN_PHASES),
            Opportunity.in_profile.is_not(False) if in_profile_only else true(),
            ~exists().where(and_(Activity.account_id == Account.id, Activity.happened_on >= since)),
        )
        .group_by(Account.id, Account.name, Account.kam_email)
        .order_by(func.count(Opportunity.id).desc(), Account.name)
        .limit(limit)
    ).all()
    return [UncoveredAccount(i, n, k, c, since) for i, n, k, c in rows]


@dataclass(frozen=True)
class DirectorPage:
    """The director's page: the pipeline, the bid/no-bid queue (undecided open
    competitions, ``queue_total`` in all), the latest decisions, incumbency and uncovered
    accounts; ``fresh_within_s``: how old the aggregates may be."""

    pipeline: list[PipelineRow]
    queue: list[BidItem]
    queue_total: int
    decided: list[BidItem]
    incumbency: list[IncumbencyRow]
    uncovered: list[UncoveredAccount]
    decisions: tuple[str, ...]
    show: str
    fresh_within_s: int


def director_page(
    session: Session,
    today: dt.date,
    queue_size: int = 20,
    show: str = "relevant",
    *,
    env: PageEnv,
) -> DirectorPage:
    """The director's page: pipeline, the bid/no-bid queue (``show``: ``relevant``, the
    competitions in our capability profile, by default; ``accounts`` or ``all``),
    decisions, incumbency and uncovered accounts (in our profile only with ``relevant``).
    The whole-database aggregates are reused from ``env.cache`` for
    ``AGGREGATE_TTL_SECONDS`` (then rebuilt in the background while still shown)."""
    rules = env.rules
    mine = show == "relevant"
    queue = bids_page(
        session,
        today,
        show=show,
        undecided_only=True,
        per_page=queue_size,
        cache=env.cache,
        rules=rules,
        ours=env.ours,
    )
    decided = session.execute(
        select(BidDecision.notice_pk)
        .order_by(BidDecision.decided_at.desc(), BidDecision.id.desc())
        .limit(queue_size)
    ).scalars()
    decided_pks = list(dict.fromkeys(decided))
    return DirectorPage(
        pipeline=env.cache.get(
            session,
            ("pipeline", mine),
            today,
            lambda s: pipeline(s, mine),
            AGGREGATE_TTL_SECONDS,
        ),
        queue=queue.items,
        queue_total=queue.total,
        decided=scored_bids(session, today, decided_pks, rules),
        incumbency=env.cache.get(
            session,
            ("incumbency", mine),
            today,
            lambda s: incumbency(s, today, ours=env.ours, in_profile_only=mine),
            AGGREGATE_TTL_SECONDS,
        ),
        uncovered=env.cache.get(
            session,
            ("uncovered", mine),
            today,
            lambda s: uncovered_accounts(s, today, in_profile_only=mine),
            AGGREGATE_TTL_SECONDS,
        ),
        decisions=DECISIONS,
        show=show,
        fresh_within_s=env.cache.max_age(max(AGGREGATE_TTL_SECONDS, OPEN_LIST_TTL_SECONDS)),
    )
