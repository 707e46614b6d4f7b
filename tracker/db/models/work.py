"""Opportunities and bids, users and the work a KAM records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db.types import (
    Base,
    UTCDateTime,
    created_ts,
    intpk,
    utcnow,
)

# --------------------------------------------------------------------------- opportunities and bids


class Opportunity(Base):
    """A coming or open procurement at an account, with its computed timeline (recomputed)."""

    __tablename__ = "opportunities"
    __table_args__ = (Index("ix_opportunities_account_phase", "account_id", "phase"),)

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(300), unique=True)  # stable across recomputes
    kind: Mapped[str] = mapped_column(String(16))  # retender|planning|competition
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="SET NULL"))
    notice_pk: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    competition_notice_pk: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL")
    )
    title: Mapped[str | None] = mapped_column(Text)
    buyer_name: Mapped[str | None] = mapped_column(String(500))
    main_cpv: Mapped[str | None] = mapped_column(String(10))
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    expiry: Mapped[dt.date | None] = mapped_column(Date)
    expiry_source: Mapped[str | None] = mapped_column(String(32))
    influence_opens: Mapped[dt.date | None] = mapped_column(Date)
    drafting_starts: Mapped[dt.date | None] = mapped_column(Date)
    expected_publication: Mapped[dt.date | None] = mapped_column(Date)
    expected_deadline: Mapped[dt.date | None] = mapped_column(Date)
    expected_award: Mapped[dt.date | None] = mapped_column(Date)
    contract_start: Mapped[dt.date | None] = mapped_column(Date)
    budget_start: Mapped[dt.date | None] = mapped_column(Date)
    budget_end: Mapped[dt.date | None] = mapped_column(Date)
    phase: Mapped[str | None] = mapped_column(String(24))
    confidence: Mapped[str | None] = mapped_column(String(16))
    # In the capability profile (or flagged by the learned model) when last recomputed:
    # what the aggregates (director pipeline, incumbency, coverage) count.
    in_profile: Mapped[bool | None] = mapped_column(Boolean)
    timeline: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # dates with sources
    computed_for: Mapped[dt.date | None] = mapped_column(Date)
    computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class BidDecision(Base):
    """A bid/no-bid decision on a published competition; every decision is kept."""

    __tablename__ = "bid_decisions"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(8))  # bid|no-bid
    decided_by: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[created_ts]
    why: Mapped[str] = mapped_column(Text)
    score: Mapped[int | None] = mapped_column(Integer)
    score_detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BidStatus(Base):
    """Our bid status on a competition: qualifying, bidding, submitted, won, lost."""

    __tablename__ = "bid_statuses"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[str | None] = mapped_column(String(320))
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)


class BidAssessment(Base):
    """The bid team's own qualification of a competition: do we have the capacity, how big
    is the delivery risk, and why. Counted in the bid score with its reason."""

    __tablename__ = "bid_assessments"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), unique=True
    )
    capacity: Mapped[str | None] = mapped_column(String(16))  # available|stretched|none
    delivery_risk: Mapped[str | None] = mapped_column(String(16))  # low|medium|high
    reason: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(320))
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)


class NoticeMark(Base):
    """A user's star (relevant to us) or dismissal (not for us) of a notice: it trains the
    installation's relevance model (``tracker.opportunities.relevance``)."""

    __tablename__ = "notice_marks"
    __table_args__ = (UniqueConstraint("notice_pk", "user_id"),)

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    mark: Mapped[str] = mapped_column(String(8))  # star|dismiss
    created_at: Mapped[created_ts]


# --------------------------------------------------------------------------- users and account work


class User(Base):
    __tablename__ = "users"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # kam|bid|director|admin
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    calendar_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    last_seen_notices_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Bumped on logout and password change: a session cookie carrying an older version
    # (copied before the logout) no longer logs in (dashboards.web.authenticate).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Page language chosen on the profile page: "nb" or "en"; None = the default (bokmål)
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[created_ts]


class LoginThrottle(Base):
    """Failed-login counter of one key (``email:<e>``, ``client:<ip>``, ``pair:<e>|<ip>``).

    A login reserves its attempt here before the password is checked (compare-and-set on
    ``failures``), so parallel requests cannot all read the same count
    (tracker.users.authenticate); ``next_allowed_at`` is the progressive delay.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_allowed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """Login attempts, for rate limiting by e-mail and client address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "attempted_at"),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str | None] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[created_ts]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # decision_maker|influencer|recommender|user
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]


class Activity(Base):
    """Account work a KAM records (meeting, call, workshop...), optionally on one opportunity."""

    __tablename__ = "activities"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    opportunity_key: Mapped[str | None] = mapped_column(String(300), index=True)
    user_email: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    happened_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[created_ts]
