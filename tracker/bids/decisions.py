"""Bid/no-bid decisions, our bid status and the bid team's assessment: the writes of the
bid pages and the command line, each with its permission check (the ``*_as`` functions
take the user and refuse what the role may not do).

``record_decision(session, notice, decision, who, why, rules=...)`` keeps every decision
with the score it was taken on; the latest decision is the one in force, and a later
decision changes it without erasing the earlier ones (``decision_history``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.bids.context import competition_notice, decision_dicts, resolve_notice
from tracker.bids.scoring import score_text
from tracker.bids.selection import bid_rows
from tracker.db.models import BidAssessment, BidDecision, BidStatus, Notice, User, utcnow
from tracker.enums import BidState, Capacity, Decision, DeliveryRisk
from tracker.errors import NotFoundError, PermissionDeniedError, UserError
from tracker.opportunities.relevance import train_model
from tracker.rules import Rules
from tracker.users import can_decide_bids, can_set_bid_status

DECISIONS: tuple[Decision, ...] = tuple(Decision)
BID_STATUSES: tuple[BidState, ...] = tuple(BidState)
CAPACITIES: tuple[Capacity, ...] = tuple(Capacity)  # tracker.bids.scoring.CAPACITY_FACTOR
RISKS: tuple[DeliveryRisk, ...] = tuple(DeliveryRisk)  # tracker.bids.scoring.RISK_FACTOR
MAX_WHY = 2000  # characters of a decision's reason (a paragraph, not a document)


def normalise_decision(decision: str) -> str:
    """``bid`` or ``no-bid`` (``no_bid``, ``nobid``, ``no bid`` accepted); else UserError."""
    d = (decision or "").strip().lower().replace("_", "-").replace(" ", "-")
    if d == "nobid":
        d = Decision.NO_BID
    if d not in DECISIONS:
        raise UserError(f"decision: {decision!r} is not one of {', '.join(DECISIONS)}")
    return d


def record_decision(
    session: Session,
    notice: Notice | int | str,
    decision: str,
    who: str,
    why: str,
    *,
    rules: Rules,
    today: dt.date | None = None,
) -> BidDecision:
    """Record a bid/no-bid decision with the score it was taken on; every decision is kept.

    ``notice`` is a Notice, its primary key, Doffin id or eForms notice id. ``today`` is the
    day the score is computed for (default: the UTC date of the decision). Flushes.
    """
    d = normalise_decision(decision)
    who = (who or "").strip()
    why = (why or "").strip()
    if not who:
        raise UserError("who: say who decided")
    if not why:
        raise UserError("why: say why (it is kept with the decision)")
    if len(why) > MAX_WHY:
        raise UserError(f"why: at most {MAX_WHY} characters ({len(why)} given)")
    n = competition_notice(session, notice, "bid/no-bid is decided on competitions only")
    now = utcnow()
    [row] = bid_rows(session, today or now.date(), [n.id], rules=rules)
    rec = BidDecision(
        notice_pk=n.id,
        decision=d,
        decided_by=who[:320],
        decided_at=now,
        why=why,
        score=row.total,
        score_detail=score_text(row.score),
    )
    session.add(rec)
    session.flush()
    train_model(session)  # every decision teaches the installation's relevance model
    return rec


def set_bid_status(
    session: Session, notice: Notice | int | str, status: str, who: str
) -> BidStatus:
    """Set our bid status on a competition (qualifying, bidding, submitted, won, lost);
    UserError for a notice that is not a competition (subtypes 10–24, N16, E3, CEI)."""
    if status not in BID_STATUSES:
        raise UserError(f"status: {status!r} is not one of {', '.join(BID_STATUSES)}")
    n = competition_notice(session, notice, "a bid status is kept for competitions only")
    row = session.scalars(select(BidStatus).where(BidStatus.notice_pk == n.id)).first()
    if row is None:
        row = BidStatus(notice_pk=n.id, status=status)
        session.add(row)
    row.status = status
    row.updated_by = who
    row.updated_at = utcnow()
    session.flush()
    return row


def decision_history(session: Session, notice: Notice | int | str) -> list[dict[str, Any]]:
    """Every decision on a notice (all its versions), oldest first."""
    n = resolve_notice(session, notice)
    rows = session.scalars(
        select(BidDecision)
        .join(Notice, Notice.id == BidDecision.notice_pk)
        .where(Notice.notice_id == n.notice_id)
        .order_by(BidDecision.decided_at, BidDecision.id)
    )
    return decision_dicts(list(rows))


def set_assessment(
    session: Session,
    notice: Notice | int | str,
    who: str,
    *,
    capacity: str | None,
    delivery_risk: str | None,
    reason: str,
) -> BidAssessment:
    """Record the bid team's qualification of a competition: our capacity (available,
    stretched, none), the delivery risk (low, medium, high) and why. Both count in the bid
    score with the reason (``tracker.bids.scoring``). UserError for an unknown value, a missing
    reason or a notice that is not a competition. Flushes."""
    capacity = (capacity or "").strip().lower() or None
    delivery_risk = (delivery_risk or "").strip().lower() or None
    if capacity is not None and capacity not in CAPACITIES:
        raise UserError(f"capacity: {capacity!r} is not one of {', '.join(CAPACITIES)}")
    if delivery_risk is not None and delivery_risk not in RISKS:
        raise UserError(f"delivery_risk: {delivery_risk!r} is not one of {', '.join(RISKS)}")
    reason = (reason or "").strip()
    if not reason:
        raise UserError("reason: say why (it is shown with the score)")
    if len(reason) > 2000:
        raise UserError("reason: at most 2000 characters")
    n = competition_notice(session, notice, "capacity and risk are assessed for competitions only")
    row = session.scalars(select(BidAssessment).where(BidAssessment.notice_pk == n.id)).first()
    if row is None:
        row = BidAssessment(notice_pk=n.id)
        session.add(row)
    row.capacity, row.delivery_risk, row.reason = capacity, delivery_risk, reason
    row.updated_by, row.updated_at = who, utcnow()
    session.flush()
    return row


# --------------------------------------------------------------------------- writes by a user
# The permission check lives with the write (dashboards and CLI call these).


def set_bid_status_as(session: Session, user: User, notice_pk: int, status: str) -> BidStatus:
    """Record our bid status on a competition (bid team, director or admin only)."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not change bid statuses")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return set_bid_status(session, notice_pk, status, user.email)


def assess_bid_as(
    session: Session,
    user: User,
    notice_pk: int,
    capacity: str | None,
    delivery_risk: str | None,
    reason: str,
) -> BidAssessment:
    """Record the bid team's capacity and delivery-risk assessment of a competition (bid
    team, director or admin); it counts in the score with its reason."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not assess bids")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return set_assessment(
        session, notice_pk, user.email, capacity=capacity, delivery_risk=delivery_risk,
        reason=reason,
    )  # fmt: skip


def decide_bid_as(
    session: Session,
    user: User,
    notice_pk: int,
    decision: str,
    why: str,
    today: dt.date,
    *,
    rules: Rules,
) -> BidDecision:
    """Record a bid/no-bid decision (director or admin only) with the score of ``today``."""
    if not can_decide_bids(user):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not record bid decisions: director or admin only"
        )
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return record_decision(session, notice_pk, decision, user.email, why, today=today, rules=rules)
