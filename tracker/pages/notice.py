"""One notice: every parsed field, buyers and links, lots, results, versions, the
contracts derived from it, what it says as a competition and its fit (``NoticePage``: the
notice page and ``/api/notices/{id}`` show the same record).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from tracker.bids.competitions import competition_lots, labelled_criterion
from tracker.contracts.build import unawarded
from tracker.db.models import (
    Account,
    Contract,
    Lot,
    LotResult,
    Notice,
    NoticeLink,
)
from tracker.errors import NotFoundError
from tracker.notices.subtypes import phase_of
from tracker.opportunities.drafts import pretender_readings
from tracker.opportunities.profile import notice_texts
from tracker.opportunities.relevance import relevance, stored_model
from tracker.pages.base import PageEnv, num
from tracker.pages.expiries import CONTRACT_COLUMNS, ContractRow, contract_rows
from tracker.pages.suggested_links import doffin_url

NOTICE_FIELDS = (
    ("source", "Source"),
    ("source_id", "Source id"),
    ("notice_id", "Notice id (BT-701)"),
    ("version", "Version (BT-757)"),
    ("procedure_id", "Procedure id (BT-04)"),
    ("subtype", "Subtype (OPP-070)"),
    ("notice_type", "Notice type (BT-02)"),
    ("form_type", "Form type (BT-03)"),
    ("document_type", "Document"),
    ("customization_id", "Customization id"),
    ("issue_date", "Issue date (BT-05)"),
    ("publication_date", "Publication date"),
    ("status", "Status"),
    ("language", "Language"),
    ("procedure_type", "Procedure type (BT-105)"),
    ("main_cpv", "Main CPV (BT-262)"),
    ("cpv_codes", "CPV codes (BT-262/263)"),
    ("estimated_value", "Estimated value (BT-27)"),
    ("currency", "Currency"),
    ("changed_notice_id", "Changes notice (BT-758)"),
    ("previous_notice_ids", "Previous notices (BT-125)"),
    ("planned_date", "Planned date of later notice (BT-127)"),
    ("documents_url", "Tender documents (BT-15)"),
    ("is_test", "Test notice"),
    ("warnings", "Parser warnings"),
    ("parser_version", "Parser version"),
    ("created_at", "Stored at"),
)


@dataclass(frozen=True)
class BuyerLink:
    """A buyer's link to one of our accounts."""

    id: int
    account_id: int
    account: str
    method: str
    confidence: float
    status: str
    decided_by: str | None


@dataclass(frozen=True)
class NoticeBuyer:
    name: str | None
    orgnr: str | None
    orgnr_raw: str | None
    country: str | None
    legal_type: str | None
    links: list[BuyerLink]


@dataclass(frozen=True)
class NoticeLot:
    lot_id: str
    title: str | None
    description: str | None
    main_cpv: str | None
    value: float | None  # the lot's estimated value (BT-27)
    currency: str | None
    framework_code: str | None
    duration: str | None  # "24 MONTH"
    start_date: dt.date | None
    end_date: dt.date | None
    max_renewals: int | None
    renewal_description: str | None
    options_description: str | None
    submission_deadline: dt.datetime | None
    request_deadline: dt.datetime | None
    documents_url: str | None
    selection_criteria: list[dict[str, Any]]  # with a label
    criteria: list[dict[str, Any]]  # award criteria: {type, name, weight}


@dataclass(frozen=True)
class NoticeResult:
    lot_id: str | None
    winner_chosen: bool | None
    tender_value: float | None
    currency: str | None
    conclusion_date: dt.date | None
    framework: bool | None
    contract_id: str | None
    contract_title: str | None
    tenders_received: int | None
    award_date: dt.date | None
    tender_id: str | None
    value_inferred: bool
    lot_mapped: str | None
    parallel: int | None  # winner groups on the same lot
    winners: list[dict[str, Any]]  # {name, orgnr}


@dataclass(frozen=True)
class NoticeVersion:
    id: int
    version: str
    source_id: str | None
    issue_date: dt.date | None
    is_latest: bool


@dataclass(frozen=True)
class NoticeChange:
    """A notice that changes this one (BT-758)."""

    id: int
    notice_id: str
    version: str
    issue_date: dt.date | None
    title: str | None


@dataclass(frozen=True)
class ProcedureNotice:
    """Another notice of the same procedure (BT-04)."""

    id: int
    subtype: str | None
    phase: str | None
    issue_date: dt.date | None
    title: str | None


@dataclass(frozen=True)
class NoticePage:
    """One notice as its page shows it (``fields``: (label, name, value) of every parsed
    field; ``competition``: its lots as ``tracker.bids.competitions`` reads them;
    ``not_awarded``: for a result that awards nothing, why and whether the buyer says it
    will try again)."""

    id: int
    title: str | None
    description: str | None
    note: str | None
    contracts: list[ContractRow]
    competition: list[dict[str, Any]]
    not_awarded: Any
    phase: str | None
    doffin_url: str | None
    pretender: dict[str, Any] | None  # what it asks before the competition
    fit: dict[str, Any]
    fields: list[tuple[str, str, Any]]
    buyers: list[NoticeBuyer]
    lots: list[NoticeLot]
    results: list[NoticeResult]
    versions: list[NoticeVersion]
    changes: list[NoticeChange]
    procedure: list[ProcedureNotice]


def _load_notice(session: Session, notice_pk: int) -> Notice:
    n = session.get(
        Notice,
        notice_pk,
        options=[
            selectinload(Notice.buyers),
            selectinload(Notice.lots).selectinload(Lot.award_criteria),
            selectinload(Notice.results).selectinload(LotResult.winners),
        ],
    )
    if n is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return n


def _buyers(session: Session, n: Notice) -> list[NoticeBuyer]:
    """The notice's buyers, each with its links to our accounts."""
    links = session.execute(
        select(NoticeLink, Account.name)
        .join(Account, Account.id == NoticeLink.account_id)
        .where(NoticeLink.notice_pk == n.id)
        .order_by(NoticeLink.id)
    ).all()
    by_buyer: dict[int, list[BuyerLink]] = defaultdict(list)
    for link, name in links:
        by_buyer[link.buyer_pk].append(
            BuyerLink(
                link.id,
                link.account_id,
                name,
                link.method,
                round(link.confidence, 2),
                link.status,
                link.decided_by,
            )  # fmt: skip
        )
    return [
        NoticeBuyer(b.name, b.orgnr, b.orgnr_raw, b.country, b.legal_type, by_buyer.get(b.id, []))
        for b in n.buyers
    ]


def _duration(value: Decimal | float | None, unit: str | None) -> str | None:
    return f"{value:g} {unit}" if value is not None else None


def _lot(lot: Lot) -> NoticeLot:
    return NoticeLot(
        lot_id=lot.lot_id,
        title=lot.title,
        description=lot.description,
        main_cpv=lot.main_cpv,
        value=num(lot.estimated_value),
        currency=lot.currency,
        framework_code=lot.framework_code,
        duration=_duration(lot.duration_value, lot.duration_unit),
        start_date=lot.start_date,
        end_date=lot.end_date,
        max_renewals=lot.max_renewals,
        renewal_description=lot.renewal_description,
        options_description=lot.options_description,
        submission_deadline=lot.submission_deadline,
        request_deadline=lot.request_deadline,
        documents_url=lot.documents_url,
        selection_criteria=[labelled_criterion(c) for c in lot.selection_criteria or []],
        criteria=[{"type": c.type, "name": c.name, "weight": c.weight} for c in lot.award_criteria],
    )


def _result(r: LotResult) -> NoticeResult:
    return NoticeResult(
        lot_id=r.lot_id,
        winner_chosen=r.winner_chosen,
        tender_value=num(r.tender_value),
        currency=r.currency,
        conclusion_date=r.conclusion_date,
        framework=r.framework,
        contract_id=r.contract_id,
        contract_title=r.contract_title,
        tenders_received=r.tenders_received,
        award_date=r.award_date,
        tender_id=r.tender_id,
        value_inferred=bool(r.value_inferred),
        lot_mapped=r.lot_mapped,
        parallel=r.parallel,
        winners=[{"name": w.name, "orgnr": w.orgnr} for w in r.winners],
    )


PROCEDURE_ROWS = 50  # other notices of the procedure on a notice's page: the newest


def _related(
    session: Session, n: Notice
) -> tuple[list[NoticeVersion], list[NoticeChange], list[ProcedureNotice]]:
    """The notice's versions, the notices that change it and the other notices of its
    procedure."""
    versions = session.execute(
        select(Notice.id, Notice.version, Notice.source_id, Notice.issue_date, Notice.is_latest)
        .where(Notice.notice_id == n.notice_id)
        .order_by(Notice.id)
    ).all()
    changes = session.execute(
        select(Notice.id, Notice.notice_id, Notice.version, Notice.issue_date, Notice.title)
        .where(or_(Notice.changed_notice_id == n.notice_id, Notice.changes_notice_pk == n.id))
        .order_by(Notice.issue_date, Notice.id)
        .limit(100)
    ).all()
    same_procedure = (
        session.execute(
            select(Notice.id, Notice.subtype, Notice.issue_date, Notice.title)
            .where(
                Notice.procedure_id == n.procedure_id,
                Notice.id != n.id,
                Notice.is_latest.is_(True),
            )
            .order_by(Notice.issue_date.desc(), Notice.id.desc())
            .limit(PROCEDURE_ROWS)
        ).all()[::-1]  # the newest, shown oldest first
        if n.procedure_id
        else []
    )
    return (
        [NoticeVersion(*row) for row in versions],
        [NoticeChange(*row) for row in changes],
        [ProcedureNotice(i, s, phase_of(s), d, t) for i, s, d, t in same_procedure],
    )


def notice_page(session: Session, notice_pk: int, today: dt.date, *, env: PageEnv) -> NoticePage:
    """Every parsed field of a notice, its buyers and links, lots, results and versions;
    the contracts derived from it (per lot and supplier, with their evidence), what it
    says as a competition (``tracker.bids.competitions``), and, for a result that awards
    nothing, why and whether the buyer says it will try again."""
    n = _load_notice(session, notice_pk)
    reading = pretender_readings(session, [n]).get(n.id)
    item = notice_texts(session, [n.id])[n.id]
    derived = session.execute(
        select(CONTRACT_COLUMNS, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(or_(Contract.notice_pk == n.id, Contract.modified_by_notice_pk == n.id))
        .order_by(Contract.lot_id, Contract.id)
    ).all()
    phase = phase_of(n.subtype)
    is_competition = phase in ("competition", "planning") or n.document_type == "ContractNotice"
    versions, changes, procedure = _related(session, n)
    return NoticePage(
        id=n.id,
        title=n.title,
        description=n.description,
        note=n.note,
        contracts=contract_rows(session, derived, today, ours=env.ours),
        competition=competition_lots(session, n.id) if is_competition else [],
        not_awarded=unawarded(session, n.id),
        phase=phase,
        doffin_url=doffin_url(n.source, n.source_id),
        # what the notice asks for before the competition (tracker.notices.pretender), and fit
        pretender=reading.as_dict() if reading else None,
        fit=relevance(env.rules.profile(), item, stored_model(session)),
        fields=[(label, key, getattr(n, key)) for key, label in NOTICE_FIELDS],
        buyers=_buyers(session, n),
        lots=[_lot(lot) for lot in n.lots],
        results=[_result(r) for r in n.results],
        versions=versions,
        changes=changes,
        procedure=procedure,
    )
