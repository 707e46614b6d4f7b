"""One notice: every parsed field, buyers and links, lots, results, versions, the
contracts derived from it, what it says as a competition and its fit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
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
from tracker.opportunities.build import (
    pretender_readings,
)
from tracker.opportunities.relevance import (
    notice_texts,
    relevance,
    stored_model,
)
from tracker.pages.base import PageEnv, num, plain_rows
from tracker.pages.expiries import contract_rows
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


def notice_page(
    session: Session, notice_pk: int, today: dt.date, *, env: PageEnv
) -> dict[str, Any]:
    """Every parsed field of a notice, its buyers and links, lots, results and versions;
    the contracts derived from it (per lot and supplier, with their evidence), what it
    says as a competition (``tracker.bids.competitions``), and, for a result that awards
    nothing, why and whether the buyer says it will try again."""
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
    links = session.execute(
        select(NoticeLink, Account.name)
        .join(Account, Account.id == NoticeLink.account_id)
        .where(NoticeLink.notice_pk == n.id)
        .order_by(NoticeLink.id)
    ).all()
    links_by_buyer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link, name in links:
        links_by_buyer[link.buyer_pk].append(
            {
                "id": link.id,
                "account_id": link.account_id,
                "account": name,
                "method": link.method,
                "confidence": round(link.confidence, 2),
                "status": link.status,
                "decided_by": link.decided_by,
            }
        )
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
            .order_by(Notice.issue_date, Notice.id)
            .limit(50)
        ).all()
        if n.procedure_id
        else []
    )
    reading = pretender_readings(session, [n]).get(n.id)
    item = notice_texts(session, [n.id])[n.id]
    derived = session.execute(
        select(Contract, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(or_(Contract.notice_pk == n.id, Contract.modified_by_notice_pk == n.id))
        .order_by(Contract.lot_id, Contract.id)
    ).all()
    contracts = plain_rows(contract_rows(session, derived, today, ours=env.ours))
    return {
        "id": n.id,
        "title": n.title,
        "description": n.description,
        "note": n.note,
        "contracts": contracts,
        "competition": competition_lots(session, n.id)
        if phase_of(n.subtype) in ("competition", "planning") or n.document_type == "ContractNotice"
        else [],
        "not_awarded": unawarded(session, n.id),
        "phase": phase_of(n.subtype),
        "doffin_url": doffin_url(n.source, n.source_id),
        # what the notice asks for before the competition (tracker.notices.pretender), and fit
        "pretender": reading.as_dict() if reading else None,
        "fit": relevance(env.rules.profile(), item, stored_model(session)),
        "fields": [(label, key, getattr(n, key)) for key, label in NOTICE_FIELDS],
        "buyers": [
            {
                "name": b.name,
                "orgnr": b.orgnr,
                "orgnr_raw": b.orgnr_raw,
                "country": b.country,
                "legal_type": b.legal_type,
                "links": links_by_buyer.get(b.id, []),
            }
            for b in n.buyers
        ],
        "lots": [
            {
                "lot_id": lot.lot_id,
                "title": lot.title,
                "description": lot.description,
                "main_cpv": lot.main_cpv,
                "value": num(lot.estimated_value),
                "currency": lot.currency,
                "framework_code": lot.framework_code,
                "duration": f"{lot.duration_value:g} {lot.duration_unit}"
                if lot.duration_value is not None
                else None,
                "start_date": lot.start_date,
                "end_date": lot.end_date,
                "max_renewals": lot.max_renewals,
                "renewal_description": lot.renewal_description,
                "options_description": lot.options_description,
                "submission_deadline": lot.submission_deadline,
                "request_deadline": lot.request_deadline,
                "documents_url": lot.documents_url,
                "selection_criteria": [labelled_criterion(c) for c in lot.selection_criteria or []],
                "criteria": [
                    {"type": c.type, "name": c.name, "weight": c.weight} for c in lot.award_criteria
                ],
            }
            for lot in n.lots
        ],
        "results": [
            {
                "lot_id": r.lot_id,
                "winner_chosen": r.winner_chosen,
                "tender_value": num(r.tender_value),
                "currency": r.currency,
                "conclusion_date": r.conclusion_date,
                "framework": r.framework,
                "contract_id": r.contract_id,
                "contract_title": r.contract_title,
                "tenders_received": r.tenders_received,
                "award_date": r.award_date,
                "tender_id": r.tender_id,
                "value_inferred": bool(r.value_inferred),
                "lot_mapped": r.lot_mapped,
                "parallel": r.parallel,
                "winners": [{"name": w.name, "orgnr": w.orgnr} for w in r.winners],
            }
            for r in n.results
        ],
        "versions": [
            {"id": i, "version": v, "source_id": s, "issue_date": d, "is_latest": latest}
            for i, v, s, d, latest in versions
        ],
        "changes": [
            {"id": i, "notice_id": nid, "version": v, "issue_date": d, "title": t}
            for i, nid, v, d, t in changes
        ],
        "procedure": [
            {"id": i, "subtype": s, "phase": phase_of(s), "issue_date": d, "title": t}
            for i, s, d, t in same_procedure
        ],
    }
