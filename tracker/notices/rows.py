"""Rows of a parsed notice for the ``notices`` table and its children (values in, values out).

The ingest (``tracker.notices.ingest``) stores a :class:`ParsedNotice` as one ``notices``
row and its buyers, lots (with award criteria), results (with winners) as child rows;
this module builds those rows as plain dicts, in the column order of the bulk inserts
(``tracker.db.bulk.bulk_insert``). Amounts too large for their column are dropped
(:func:`money`), organisations are keyed by :func:`org_key`, and the search hit's metadata
gives the publication date and status (:func:`meta_date`, :func:`meta_status`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from tracker.db.models import utcnow
from tracker.notices.eforms import PARSER_VERSION
from tracker.notices.records import (
    ParsedCriterion,
    ParsedLot,
    ParsedNotice,
    ParsedParty,
    ParsedResult,
)
from tracker.notices.text import name_key

MAX_MONEY = Decimal(10) ** 16  # Numeric(18, 2)
MAX_DURATION = Decimal(10) ** 8  # Numeric(10, 2)


def money(value: Decimal | None, limit: Decimal = MAX_MONEY) -> Decimal | None:
    """``value``, or None when it does not fit its ``Numeric`` column."""
    if value is None or abs(value) >= limit:
        return None
    return value


def version_key(version: str) -> tuple[int, int | str]:
    """Sort key of notice versions: numbers by value, after any other text."""
    return (1, int(version)) if version.isdigit() else (0, version)


def jsonable(meta: dict[str, Any] | None) -> dict[str, Any]:
    """``meta`` as plain JSON values (dates and other objects as strings); {} for None."""
    if not meta:
        return {}
    return json.loads(json.dumps(meta, default=str))


def meta_date(meta: dict[str, Any] | None) -> dt.date | None:
    """The publication date of a search hit's metadata (ISO or ``YYYYMMDD``), if any."""
    if not meta:
        return None
    for key in ("publicationDate", "publication_date", "publication-date"):
        raw = meta.get(key)
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str) and len(raw) >= 8:
            text = raw.strip()
            try:
                if len(text) >= 10 and text[4] == "-":
                    return dt.date.fromisoformat(text[:10])
                if text[:8].isdigit():
                    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            except ValueError:
                return None
    return None


def meta_status(meta: dict[str, Any] | None) -> str | None:
    """The status of a search hit's metadata (at most 32 characters), if any."""
    if not meta:
        return None
    raw = meta.get("status")
    return str(raw)[:32] if raw is not None else None


def org_key(party: ParsedParty) -> str | None:
    """The ``Organisation.key`` of a party: its valid orgnr, else ``name:<name key>|<country>``."""
    if party.orgnr:
        return party.orgnr
    if party.name:
        return f"name:{name_key(party.name)}|{party.country or ''}"
    return None


def parties(p: ParsedNotice) -> Iterator[ParsedParty]:
    """Every buyer and winner of a notice (the organisations it names)."""
    yield from p.buyers
    for r in p.results:
        yield from r.winners


def notice_row(
    p: ParsedNotice,
    *,
    source: str,
    source_id: str | None,
    meta: dict[str, Any] | None,
    raw: bytes,
    sha: str,
    derive_pending: bool | None,
) -> dict[str, Any]:
    """The ``notices`` row of a parsed notice (``raw``: its compressed bytes)."""
    return {
        "source": source,
        "source_id": source_id,
        "notice_id": p.notice_id,
        "version": p.version,
        "procedure_id": p.procedure_id,
        "subtype": p.subtype,
        "notice_type": p.notice_type,
        "form_type": p.form_type,
        "document_type": p.document_type,
        "customization_id": p.customization_id,
        "issue_date": p.issue_date,
        "publication_date": meta_date(meta),
        "status": meta_status(meta),
        "language": p.language,
        "title": p.title,
        "description": p.description,
        "procedure_type": p.procedure_type,
        "main_cpv": p.main_cpv,
        "cpv_codes": p.cpv_codes,
        "estimated_value": money(p.estimated_value),
        "currency": p.currency,
        "changed_notice_id": p.changed_notice_id,
        "previous_notice_ids": p.previous_notice_ids,
        "planned_date": p.planned_date,
        "regulatory_domain": p.regulatory_domain,
        "contract_nature": p.contract_nature,
        "note": p.note,
        "framework_max_value": money(p.framework_max_value),
        "result_total": money(p.result_total),
        "result_framework_max": money(p.result_framework_max),
        "modification_reason": p.modification_reason,
        "modification_description": p.modification_description,
        "documents_url": p.documents_url,
        "is_test": p.is_test,
        "warnings": p.warnings,
        "is_latest": True,
        "superseded_by_id": None,
        "changes_notice_pk": None,
        "raw_xml": raw,
        "raw_sha256": sha,
        "parser_version": PARSER_VERSION,
        "source_meta": jsonable(meta),
        # Derived in the same transaction (``Ingestor.flush``); set when derivation is
        # skipped (``run_derive=False``) or fails (``Ingestor._derive``).
        "derive_pending": derive_pending,
        "created_at": utcnow(),
    }


def buyer_row(
    notice_pk: int | None, i: int, b: ParsedParty, org_ids: dict[str, int]
) -> dict[str, Any]:
    """The ``notice_buyers`` row of the ``i``-th buyer."""
    return {
        "notice_pk": notice_pk,
        "organisation_id": org_ids.get(org_key(b) or ""),
        "position": i,
        "name": b.name,
        "orgnr": b.orgnr,
        "orgnr_raw": b.orgnr_raw,
        "country": b.country,
        "legal_type": b.legal_type,
    }


def lot_row(notice_pk: int | None, i: int, lot: ParsedLot) -> dict[str, Any]:
    """The ``lots`` row of the ``i``-th lot (its award criteria: :func:`criterion_row`)."""
    return {
        "notice_pk": notice_pk,
        "position": i,
        "lot_id": lot.lot_id,
        "title": lot.title,
        "description": lot.description,
        "main_cpv": lot.main_cpv,
        "cpv_codes": lot.cpv_codes,
        "estimated_value": money(lot.estimated_value),
        "currency": lot.currency,
        "framework_code": lot.framework_code,
        "duration_value": money(lot.duration_value, MAX_DURATION),
        "duration_unit": lot.duration_unit,
        "start_date": lot.start_date,
        "end_date": lot.end_date,
        "max_renewals": lot.max_renewals,
        "renewal_description": lot.renewal_description,
        "options_description": lot.options_description,
        "note": lot.note,
        "framework_max_value": money(lot.framework_max_value),
        "submission_deadline": lot.submission_deadline,
        "request_deadline": lot.request_deadline,
        "documents_url": lot.documents_url,
        "selection_criteria": lot.selection_criteria or None,
    }


def criterion_row(lot_pk: int, i: int, c: ParsedCriterion) -> dict[str, Any]:
    """The ``award_criteria`` row of a lot's ``i``-th criterion."""
    return {
        "lot_pk": lot_pk,
        "position": i,
        "type": c.type,
        "name": c.name,
        "weight": c.weight,
        "weight_code": c.weight_code,
        "source": c.source,
        "quote": c.quote,
    }


def result_row(notice_pk: int | None, i: int, r: ParsedResult) -> dict[str, Any]:
    """The ``lot_results`` row of the ``i``-th result (its winners: :func:`winner_row`)."""
    return {
        "notice_pk": notice_pk,
        "position": i,
        "result_id": r.result_id,
        "lot_id": r.lot_id,
        "winner_chosen": r.winner_chosen,
        "result_code": r.result_code,
        "tender_value": money(r.tender_value),
        "currency": r.currency,
        "conclusion_date": r.conclusion_date,
        "framework": r.framework,
        "contract_id": r.contract_id,
        "contract_title": r.contract_title,
        "tenders_received": r.tenders_received,
        "award_date": r.award_date,
        "tender_id": r.tender_id,
        "party_id": r.party_id,
        "framework_max_value": money(r.framework_max_value),
        "value_inferred": r.value_inferred,
        "lot_mapped": r.lot_mapped,
        "parallel": r.parallel,
    }


def winner_row(result_pk: int, i: int, w: ParsedParty, org_ids: dict[str, int]) -> dict[str, Any]:
    """The ``result_winners`` row of a result's ``i``-th winner."""
    return {
        "result_pk": result_pk,
        "organisation_id": org_ids.get(org_key(w) or ""),
        "position": i,
        "name": w.name,
        "orgnr": w.orgnr,
        "orgnr_raw": w.orgnr_raw,
        "country": w.country,
    }
