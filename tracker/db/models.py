"""The data model (SQLAlchemy 2.0). Alembic migrations are generated from ``Base.metadata``.

Sections follow the flow of data: organisations and notices (ingest), harvest state
(spiders), accounts, links and contracts (linking and expiries), opportunities and
bids (windows and scoring), users and account work (dashboards), alerts and runs
(operations).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
timestamp = Annotated[dt.datetime, mapped_column(UTCDateTime())]
created_ts = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow, nullable=False)]
money = Annotated[Decimal, mapped_column(Numeric(18, 2))]
short = Annotated[str, mapped_column(String(64))]
name_str = Annotated[str, mapped_column(String(500))]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}


# --------------------------------------------------------------------------- ingest


class Organisation(Base):
    """A legal person: a buyer, a winner, or a register unit.

    ``key`` is the valid orgnr for Norwegian organisations, else
    ``name:<normalised name>|<country>``, so that foreign suppliers without a Norwegian
    number are still one row each.
    """

    __tablename__ = "organisations"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(600), unique=True)
    orgnr: Mapped[str | None] = mapped_column(String(9), unique=True)
    orgnr_raw: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[name_str]
    country: Mapped[str | None] = mapped_column(String(3))
    # From the business register (brreg spider).
    org_form: Mapped[str | None] = mapped_column(String(16))
    sector_code: Mapped[str | None] = mapped_column(String(8))
    parent_orgnr: Mapped[str | None] = mapped_column(String(9), index=True)
    register_name: Mapped[str | None] = mapped_column(String(500))
    register_status: Mapped[str | None] = mapped_column(String(16))  # enhet|underenhet|unknown
    enriched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]


class Notice(Base):
    """One version of one eForms notice (notice-id + version), from any source."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("notice_id", "version"),
        Index("ix_notices_issue_date", "issue_date"),
        Index("ix_notices_procedure_id", "procedure_id"),
    )

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(16))  # doffin|ted|file
    source_id: Mapped[str | None] = mapped_column(String(64), index=True)  # Doffin id / TED pub no.
    notice_id: Mapped[str] = mapped_column(String(64))  # BT-701
    version: Mapped[str] = mapped_column(String(16))  # BT-757
    procedure_id: Mapped[str | None] = mapped_column(String(64))  # BT-04
    subtype: Mapped[str | None] = mapped_column(String(16), index=True)  # OPP-070
    notice_type: Mapped[str | None] = mapped_column(String(32))  # BT-02
    form_type: Mapped[str | None] = mapped_column(String(32))  # BT-03
    document_type: Mapped[str | None] = mapped_column(String(40))  # root element
    customization_id: Mapped[str | None] = mapped_column(String(64))
    issue_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-05
    publication_date: Mapped[dt.date | None] = mapped_column(Date)  # search-hit metadata
    status: Mapped[str | None] = mapped_column(String(32))  # search-hit metadata
    language: Mapped[str | None] = mapped_column(String(3))
    title: Mapped[str | None] = mapped_column(Text)  # BT-21
    description: Mapped[str | None] = mapped_column(Text)  # BT-24
    procedure_type: Mapped[str | None] = mapped_column(String(32))  # BT-105
    main_cpv: Mapped[str | None] = mapped_column(String(10), index=True)  # BT-262
    cpv_codes: Mapped[list[str]] = mapped_column(JSON, default=list)  # BT-262 + BT-263
    estimated_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-27
    currency: Mapped[str | None] = mapped_column(String(3))
    changed_notice_id: Mapped[str | None] = mapped_column(String(64), index=True)  # BT-758
    previous_notice_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # BT-125/OPP-090
    planned_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-127
    regulatory_domain: Mapped[str | None] = mapped_column(String(16))  # 32014L0024, OTHER...
    contract_nature: Mapped[str | None] = mapped_column(String(16))  # BT-23 works|supplies|...
    note: Mapped[str | None] = mapped_column(Text)  # BT-300 additional information
    framework_max_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-271
    result_total: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-161
    result_framework_max: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-118
    modification_reason: Mapped[str | None] = mapped_column(String(32))  # BT-200
    modification_description: Mapped[str | None] = mapped_column(Text)  # BT-202, BT-201
    documents_url: Mapped[str | None] = mapped_column(String(1000))  # BT-15
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Version chain: the newest version of a notice-id has is_latest; older ones point to it.
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    changes_notice_pk: Mapped[int | None] = mapped_column(ForeignKey("notices.id"))
    raw_xml: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed original bytes
    raw_sha256: Mapped[str] = mapped_column(String(64))
    parser_version: Mapped[str] = mapped_column(String(16))
    source_meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # True while the notice is stored but its derived rows (account links, contracts) are
    # not: set when a batch's derivation failed or was skipped; the next ingest (or
    # ``tracker ingest --derive-pending``) derives it and clears the mark (tracker.notices.ingest).
    derive_pending: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[created_ts]
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), onupdate=utcnow)

    buyers: Mapped[list[NoticeBuyer]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="NoticeBuyer.position"
    )
    lots: Mapped[list[Lot]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="Lot.position"
    )
    results: Mapped[list[LotResult]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="LotResult.position"
    )


class NoticeBuyer(Base):
    __tablename__ = "notice_buyers"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(500))
    orgnr: Mapped[str | None] = mapped_column(String(9), index=True)
    orgnr_raw: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(3))
    legal_type: Mapped[str | None] = mapped_column(String(32))  # BT-11

    notice: Mapped[Notice] = relationship(back_populates="buyers")
    organisation: Mapped[Organisation | None] = relationship()


class Lot(Base):
    __tablename__ = "lots"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    lot_id: Mapped[str] = mapped_column(String(32))  # BT-137
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    main_cpv: Mapped[str | None] = mapped_column(String(10))
    cpv_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    estimated_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    framework_code: Mapped[str | None] = mapped_column(String(16))  # BT-765
    duration_value: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # BT-36
    duration_unit: Mapped[str | None] = mapped_column(String(16))  # DAY|WEEK|MONTH|YEAR|UNLIMITED
    start_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-536
    end_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-537
    max_renewals: Mapped[int | None] = mapped_column(Integer)  # BT-58
    renewal_description: Mapped[str | None] = mapped_column(Text)  # BT-57
    options_description: Mapped[str | None] = mapped_column(Text)  # BT-54
    note: Mapped[str | None] = mapped_column(Text)  # BT-300 additional information of the lot
    framework_max_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-271
    submission_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # BT-131
    request_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # BT-1311
    documents_url: Mapped[str | None] = mapped_column(String(1000))
    # Selection criteria (BT-747 type, BT-749 name, BT-750 description): what a tenderer
    # must show to qualify, [{"type", "name", "description"}].
    selection_criteria: Mapped[list[Any] | None] = mapped_column(JSON)

    notice: Mapped[Notice] = relationship(back_populates="lots")
    award_criteria: Mapped[list[AwardCriterion]] = relationship(
        back_populates="lot", cascade="all, delete-orphan", order_by="AwardCriterion.position"
    )


class AwardCriterion(Base):
    __tablename__ = "award_criteria"

    id: Mapped[intpk]
    lot_pk: Mapped[int] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str | None] = mapped_column(String(16))  # BT-539 price|quality|cost
    name: Mapped[str | None] = mapped_column(Text)  # BT-734
    weight: Mapped[float | None] = mapped_column(Float)  # BT-541 (percent or points)
    # BT-5421 what the weight means: per-exa (percent), poi-exa (points), dec-exa (decimal),
    # ord-imp (order of importance: 1 is most important), *-ran (a range's middle).
    weight_code: Mapped[str | None] = mapped_column(String(16))
    # structured (BT-539/BT-541) or text: weights written in the description ("Pris (30%)").
    source: Mapped[str | None] = mapped_column(String(16))
    quote: Mapped[str | None] = mapped_column(Text)  # the words a text criterion was read from

    lot: Mapped[Lot] = relationship(back_populates="award_criteria")


class LotResult(Base):
    """An awarded lot and winner group with its settled contract (eForms NoticeResult/
    LotResult → SettledContract → LotTender → TenderingParty): one row per winning
    tendering party (parallel framework suppliers: one row each), or one row without
    winners for a lot result that awarded nothing."""

    __tablename__ = "lot_results"

    id: Mapped[intpk]
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    result_id: Mapped[str | None] = mapped_column(String(32))
    lot_id: Mapped[str | None] = mapped_column(String(32))
    winner_chosen: Mapped[bool | None] = mapped_column(Boolean)  # BT-142
    result_code: Mapped[str | None] = mapped_column(String(16))
    tender_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-720
    currency: Mapped[str | None] = mapped_column(String(3))
    conclusion_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-145
    framework: Mapped[bool | None] = mapped_column(Boolean)  # BT-768
    contract_id: Mapped[str | None] = mapped_column(String(64))
    contract_title: Mapped[str | None] = mapped_column(Text)
    tenders_received: Mapped[int | None] = mapped_column(Integer)  # BT-759 of type "tenders"
    award_date: Mapped[dt.date | None] = mapped_column(Date)  # BT-1451 winner decision
    tender_id: Mapped[str | None] = mapped_column(String(64))  # winning LotTender(s)
    party_id: Mapped[str | None] = mapped_column(String(64))  # winning TenderingParty
    framework_max_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))  # BT-709
    value_inferred: Mapped[bool | None] = mapped_column(Boolean)  # tender had no amount
    lot_mapped: Mapped[str | None] = mapped_column(String(200))  # broken lot link repaired
    parallel: Mapped[int | None] = mapped_column(Integer)  # winner groups on the same lot

    notice: Mapped[Notice] = relationship(back_populates="results")
    winners: Mapped[list[ResultWinner]] = relationship(
        back_populates="result", cascade="all, delete-orphan", order_by="ResultWinner.position"
    )


class ResultWinner(Base):
    __tablename__ = "result_winners"

    id: Mapped[intpk]
    result_pk: Mapped[int] = mapped_column(
        ForeignKey("lot_results.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(500))
    orgnr: Mapped[str | None] = mapped_column(String(9), index=True)
    orgnr_raw: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(3))

    result: Mapped[LotResult] = relationship(back_populates="winners")
    organisation: Mapped[Organisation | None] = relationship()


class IngestError(Base):
    """A notice that could not be parsed or stored, with the reason (nothing else is touched)."""

    __tablename__ = "ingest_errors"

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(1000))  # file path, URL or source id
    reason: Mapped[str] = mapped_column(Text)
    raw_xml: Mapped[bytes | None] = mapped_column(LargeBinary)  # compressed, when available
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[created_ts]


# --------------------------------------------------------------------------- runs and harvest


class Run(Base):
    """A recorded run: a crawl, an ingest, or one step of the scheduled cycle."""

    __tablename__ = "runs"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(16))  # crawl|ingest|step|cycle
    name: Mapped[str] = mapped_column(String(64), index=True)  # spider or step name
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[created_ts]
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed|partial
    error: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class HarvestDay(Base):
    """Per source and issue date: whether every notice of that day is stored."""

    __tablename__ = "harvest_days"
    __table_args__ = (UniqueConstraint("source", "day"),)

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(16))
    day: Mapped[dt.date] = mapped_column(Date)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    hits: Mapped[int | None] = mapped_column(Integer)
    stored: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)


class FetchFailure(Base):
    """A notice (or register lookup) that could not be fetched; retried on the next run."""

    __tablename__ = "fetch_failures"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[intpk]
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[created_ts]
    last_tried: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


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


# Indexes the dashboard pages need (bench/dashboard.py: bounded page queries on 200k notices).
Index("ix_lots_submission_deadline", Lot.submission_deadline)  # open competitions
Index("ix_opportunities_competition_notice_pk", Opportunity.competition_notice_pk)  # bid scores
Index("ix_notice_links_account_status", NoticeLink.account_id, NoticeLink.status)  # links
Index("ix_notice_links_account_created", NoticeLink.account_id, NoticeLink.created_at)  # news
Index("ix_bid_decisions_decided_at", BidDecision.decided_at)  # latest decisions
Index(  # a KAM's contracts (expiries, incumbency) without reading contract_accounts rows
    "ix_contract_accounts_account_contract",
    ContractAccount.account_id,
    ContractAccount.contract_id,
    ContractAccount.status,
)
# Notices waiting for derivation (few or none): found without reading the notices table.
Index(
    "ix_notices_derive_pending",
    Notice.id,
    sqlite_where=text("derive_pending = 1"),
    postgresql_where=text("derive_pending"),
)
# Most opportunities have no competition notice: with table statistics SQLite scans the
# table for ``competition_notice_pk IN (...)`` on the full index above (bid scores of a
# page); this partial index holds only the set ones and is used by both backends.
Index(
    "ix_opportunities_competition_set",
    Opportunity.competition_notice_pk,
    sqlite_where=Opportunity.competition_notice_pk.is_not(None),
    postgresql_where=Opportunity.competition_notice_pk.is_not(None),
)


# Market pages (tracker.market, bench/market.py): a supplier's or buyer's contracts by
# party key without reading every party row; the expiring value by quarter reads the
# contracts whose hard expiry falls in the next 12 quarters through the same expression.
Index(
    "ix_contract_parties_key_role",
    ContractParty.party_key,
    ContractParty.role,
    ContractParty.contract_id,
)
Index("ix_contracts_expiry", func.coalesce(Contract.latest_end, Contract.end_date))
# A buyer's notices (competitions, awards, modifications) without a lookup per buyer row.
Index("ix_notice_buyers_orgnr_notice", NoticeBuyer.orgnr, NoticeBuyer.notice_pk)


# --------------------------------------------------------------------------- alerts and operations


class AlertSubscription(Base):
    __tablename__ = "alert_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "kind", "channel"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # email|digest|webhook
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target: Mapped[str | None] = mapped_column(String(1000))  # webhook URL
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AlertLog(Base):
    """Every alert once: ``dedup_key`` is unique; status pending until a channel accepted it."""

    __tablename__ = "alert_log"

    id: Mapped[intpk]
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending|sending|sent|dropped|failed (failed: a cause that will not change, e.g. a
    # refused recipient or a webhook that is gone, after ALERT_PERMANENT_ATTEMPTS tries)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    permanent_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Lock(Base):
    """Named database lock (one scheduler at a time), with a heartbeat for stale recovery."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[created_ts]
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyValue(Base):
    """Small persistent state (for example the last fully harvested day per source)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)


# Scale (alembic 0008): foreign keys PostgreSQL does not index by itself, and
# partial indexes for the rows the pages and the harvest read at 2 M notices.
Index("ix_opportunities_contract_id", Opportunity.contract_id)
Index("ix_opportunities_notice_pk", Opportunity.notice_pk)
Index("ix_contracts_result_pk", Contract.result_pk)
Index("ix_contracts_modified_by_notice_pk", Contract.modified_by_notice_pk)
Index("ix_notices_superseded_by_id", Notice.superseded_by_id)
Index("ix_notices_changes_notice_pk", Notice.changes_notice_pk)
Index("ix_link_decisions_account_id", LinkDecision.account_id)
Index("ix_alert_log_user_id", AlertLog.user_id)
Index("ix_ingest_errors_run_id", IngestError.run_id)
Index("ix_runs_parent_id", Run.parent_id)
Index("ix_notices_source_source_id", Notice.source, Notice.source_id)
Index(
    "ix_opportunities_account_open",
    Opportunity.account_id,
    Opportunity.phase,
    Opportunity.expiry,
    postgresql_where=text("in_profile IS NOT false"),
    sqlite_where=text("in_profile IS NOT 0"),
)
Index(
    "ix_notices_current_issue",
    Notice.issue_date,
    postgresql_where=text("superseded_by_id IS NULL"),
    sqlite_where=text("superseded_by_id IS NULL"),
)
Index(
    "ix_fetch_failures_open",
    FetchFailure.source,
    FetchFailure.id,
    postgresql_where=text("resolved = false"),
    sqlite_where=text("resolved = 0"),
)


# --------------------------------------------------------------------------- market summaries


# The contract facts added up once for the market pages (tracker.market.facts; bench/market.py:
# the busiest buyer and the director page otherwise add up tens of thousands of contracts per
# request). Refreshed by the derive step for the parties it touched, and whole by
# ``tracker derive``; values per currency and value kind, shared ceilings counted, not summed.
class MarketPartyFact(Base):
    """Awarded contracts of one buyer or supplier per award year, main CPV, currency and
    value kind: counts and the sum of own values (``tracker.market.common.value_columns``)."""

    __tablename__ = "market_party_facts"

    id: Mapped[intpk]
    role: Mapped[str] = mapped_column(String(16))
    party_key: Mapped[str] = mapped_column(String(600))
    year: Mapped[int | None] = mapped_column(Integer)
    main_cpv: Mapped[str | None] = mapped_column(String(10))
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    with_value: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketPartyPair(Base):
    """Awarded contracts of one buyer or supplier with one counterpart (a supplier of the
    buyer, a buyer of the supplier) per currency and value kind."""

    __tablename__ = "market_party_pairs"

    id: Mapped[intpk]
    role: Mapped[str] = mapped_column(String(16))
    party_key: Mapped[str] = mapped_column(String(600))
    other_key: Mapped[str] = mapped_column(String(600))
    other_name: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    with_value: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketAccountMonth(Base):
    """Awarded contracts at one account (links not rejected) per award month and currency:
    the share of wallet's 'all awarded value' (kind tender, own values) and frameworks."""

    __tablename__ = "market_account_months"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    year: Mapped[int | None] = mapped_column(Integer)
    month: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    contracts: Mapped[int] = mapped_column(Integer)
    spend_n: Mapped[int] = mapped_column(Integer)
    spend: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    frameworks: Mapped[int] = mapped_column(Integer)


class MarketExpiryMonth(Base):
    """Awarded contracts by the month of their hard expiry (``coalesce(latest_end,
    end_date)``), at our accounts or not, per currency and value kind."""

    __tablename__ = "market_expiry_months"

    id: Mapped[intpk]
    at_accounts: Mapped[bool] = mapped_column(Boolean)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    own_n: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketBuyerNotice(Base):
    """A buyer's notice as its page reads it (``tracker.market.buyer_notices``): an award
    notice with the tenders received (``kind`` result), a competition lot whose criteria
    weights sum to 100 % with its price weight (competition), a modification notice."""

    __tablename__ = "market_buyer_notices"

    id: Mapped[intpk]
    orgnr: Mapped[str | None] = mapped_column(String(9))
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # result|competition|modification
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    lot_id: Mapped[str | None] = mapped_column(String(32))
    lots: Mapped[int | None] = mapped_column(Integer)
    tenders: Mapped[int | None] = mapped_column(Integer)
    price_weight: Mapped[float | None] = mapped_column(Float)


Index("ix_market_party_facts_key_role", MarketPartyFact.party_key, MarketPartyFact.role)
Index("ix_market_party_pairs_key_role", MarketPartyPair.party_key, MarketPartyPair.role)
Index("ix_market_account_months_account_id", MarketAccountMonth.account_id)
Index("ix_market_expiry_months_year_month", MarketExpiryMonth.year, MarketExpiryMonth.month)
Index(  # covering: the page's counts and newest rows without reading the table
    "ix_market_buyer_notices_orgnr_kind_issue",
    MarketBuyerNotice.orgnr,
    MarketBuyerNotice.kind,
    MarketBuyerNotice.issue_date,
    MarketBuyerNotice.notice_pk,
    MarketBuyerNotice.lot_id,
    MarketBuyerNotice.lots,
    MarketBuyerNotice.tenders,
    MarketBuyerNotice.price_weight,
)
Index("ix_market_buyer_notices_notice_pk", MarketBuyerNotice.notice_pk)
# A party's name and orgnr without reading its rows (supplier and buyer page headings).
Index(
    "ix_contract_parties_key_role_name",
    ContractParty.party_key,
    ContractParty.role,
    ContractParty.orgnr,
    ContractParty.name,
)
# Contracts awarded in a date range (the share of wallet's current month).
Index(
    "ix_contracts_awarded_on",
    func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date),
)
