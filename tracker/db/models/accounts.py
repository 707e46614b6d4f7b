"""Key accounts, their links to notice buyers and the contracts derived from the
notices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db.types import (
    Base,
    UTCDateTime,
    created_ts,
    intpk,
    utcnow,
)

# --------------------------------------------------------------------------- accounts and links


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(300), unique=True)
    kam_email: Mapped[str | None] = mapped_column(String(320), index=True)
    team: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(16), default="streamline")
    buyer_type: Mapped[str] = mapped_column(String(16), default="other")
    include_children: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    plan_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), onupdate=utcnow)

    orgnrs: Mapped[list[AccountOrgnr]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    aliases: Mapped[list[AccountAlias]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class AccountOrgnr(Base):
    __tablename__ = "account_orgnrs"
    __table_args__ = (UniqueConstraint("account_id", "orgnr"),)

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    orgnr: Mapped[str] = mapped_column(String(9), index=True)

    account: Mapped[Account] = relationship(back_populates="orgnrs")


class AccountAlias(Base):
    __tablename__ = "account_aliases"
    __table_args__ = (UniqueConstraint("account_id", "alias"),)

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(300))
    alias_key: Mapped[str] = mapped_column(String(300), index=True)  # normalised for matching

    account: Mapped[Account] = relationship(back_populates="aliases")


class NoticeLink(Base):
    """A notice buyer linked to an account, with how and how sure; KAM decisions are kept."""

    __tablename__ = "notice_links"
    __table_args__ = (UniqueConstraint("buyer_pk", "account_id"),)

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    buyer_pk: Mapped[int] = mapped_column(ForeignKey("notice_buyers.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(32))  # orgnr|parent|name|alias|central_purchasing
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        String(16), default="confirmed"
    )  # confirmed|suggested|rejected
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]


class LinkDecision(Base):
    """A KAM's confirm/reject of a suggested link, remembered across relinking and reingest."""

    __tablename__ = "link_decisions"
    __table_args__ = (UniqueConstraint("buyer_key", "account_id"),)

    id: Mapped[intpk]
    buyer_key: Mapped[str] = mapped_column(String(600))  # orgnr or normalised name
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # confirmed|rejected
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[created_ts]


class Contract(Base):
    """An awarded contract or framework agreement, with its end date and where it came from."""

    __tablename__ = "contracts"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(300), unique=True)  # stable identity
    source: Mapped[str] = mapped_column(String(16))  # notice|agreement_page|import
    notice_pk: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    result_pk: Mapped[int | None] = mapped_column(ForeignKey("lot_results.id"))
    procedure_id: Mapped[str | None] = mapped_column(String(64), index=True)
    lot_id: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(Text)
    main_cpv: Mapped[str | None] = mapped_column(String(10), index=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    framework: Mapped[bool] = mapped_column(Boolean, default=False)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    # explicit|start+duration|conclusion+duration|award+cn_duration|framework_default|unknown|...
    end_source: Mapped[str] = mapped_column(String(32), default="unknown")
    latest_end: Mapped[dt.date | None] = mapped_column(Date)
    # Where latest_end came from: options text, renewals, same as end (no options known).
    latest_end_source: Mapped[str | None] = mapped_column(String(64))
    max_renewals: Mapped[int | None] = mapped_column(Integer)
    options_text: Mapped[str | None] = mapped_column(Text)
    conclusion_date: Mapped[dt.date | None] = mapped_column(Date)
    modified_by_notice_pk: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    # What the notices say beyond the dates (tracker.contracts.build): the value's kind
    # (tender|estimated|framework_max), a maximum shared by parallel suppliers (never
    # summed), how the contract was awarded and under which rules, where the start came
    # from, each option's end, the evidence (quotes from the buyer's words included).
    tender_id: Mapped[str | None] = mapped_column(String(64))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    value_shared: Mapped[bool | None] = mapped_column(Boolean)
    value_per_year: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    parallel_suppliers: Mapped[int | None] = mapped_column(Integer)
    direct_award: Mapped[bool | None] = mapped_column(Boolean)
    regime: Mapped[str | None] = mapped_column(String(16))  # classic|light|defence|utilities
    national: Mapped[bool | None] = mapped_column(Boolean)
    procedure_type: Mapped[str | None] = mapped_column(String(32))  # BT-105 (or as stated)
    start_source: Mapped[str | None] = mapped_column(String(32))
    award_date: Mapped[dt.date | None] = mapped_column(Date)
    option_ends: Mapped[list[Any] | None] = mapped_column(JSON)  # ISO dates, one per option
    end_confidence: Mapped[str | None] = mapped_column(String(8))  # high|medium|low
    evidence: Mapped[list[Any] | None] = mapped_column(JSON)  # [{fact, value, source, quote...}]
    extension: Mapped[str | None] = mapped_column(String(32))  # probably_extended|modified
    retender: Mapped[str | None] = mapped_column(String(16))  # expected|not_assumed|none
    expected: Mapped[bool | None] = mapped_column(Boolean)  # seeded from a competition
    expected_award: Mapped[dt.date | None] = mapped_column(Date)
    # An intention notice (VEAT): the award can be challenged until this day (standstill).
    challenge_until: Mapped[dt.date | None] = mapped_column(Date)
    external_ref: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(1000))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_ts]
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), onupdate=utcnow)

    parties: Mapped[list[ContractParty]] = relationship(
        back_populates="contract", cascade="all, delete-orphan"
    )


class ContractParty(Base):
    """A buyer or supplier of a contract."""

    __tablename__ = "contract_parties"
    __table_args__ = (UniqueConstraint("contract_id", "role", "party_key"),)

    id: Mapped[intpk]
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # buyer|supplier
    party_key: Mapped[str] = mapped_column(String(600))  # orgnr or normalised name
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(500))
    orgnr: Mapped[str | None] = mapped_column(String(9), index=True)

    contract: Mapped[Contract] = relationship(back_populates="parties")


class ContractAccount(Base):
    """Which accounts a contract belongs to (derived from its buyers by the linker)."""

    __tablename__ = "contract_accounts"
    __table_args__ = (UniqueConstraint("contract_id", "account_id"),)

    id: Mapped[intpk]
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    # The status of the buyer link it comes from: confirmed|suggested|rejected.
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
