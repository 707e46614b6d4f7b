"""Notices as the sources publish them (organisations, notices, lots, results,
winners, ingest errors) and the harvest state (runs, harvested days, fetch failures)."""

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
    Index,
    Integer,
    LargeBinary,
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
    name_str,
    utcnow,
)

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
