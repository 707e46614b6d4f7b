"""Competitions as their notices say them: per lot the deadline, framework, value, term,
options and award criteria, structured or read from the buyer's words.

``competition_lots(session, notice_pk)`` is the one read model the notice page, the bid
pages and the golden test use. Every fact carries its source; facts read from text carry
their quote (``tracker.notice_text``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.contracts import FRAMEWORK_CODES, add_months
from tracker.models import AwardCriterion, Lot, Notice
from tracker.notice_text import TextFacts, read_facts


def _whole_months(start: dt.date, end: dt.date) -> int | None:
    """Whole months from ``start`` to ``end`` inclusive (2022-10-01..2026-09-30 → 48), or
    None when the period is not a whole number of months."""
    months = (end.year - start.year) * 12 + end.month - start.month
    for m in (months, months + 1):
        if m > 0 and add_months(start, m) - dt.timedelta(days=1) == end:
            return m
    return None


def duration_of(lot: Any) -> tuple[str | None, str | None]:
    """("24 MONTH", source) of a lot: BT-36, else the whole months between BT-536 and
    BT-537; (None, None) when neither is given."""
    if lot.duration_value is not None and lot.duration_unit:
        value = Decimal(str(lot.duration_value))
        shown = f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"
        return f"{shown} {lot.duration_unit}", "BT-36 duration"
    if lot.start_date and lot.end_date:
        months = _whole_months(lot.start_date, lot.end_date)
        if months:
            return f"{months} MONTH", "derived from BT-536 start and BT-537 end"
    if (lot.duration_unit or "").upper() == "UNLIMITED":
        return "UNLIMITED", "BT-538 duration"
    return None, None


def lot_facts(n: Any, lot: Any, criteria: list[Any], single: bool) -> dict[str, Any]:
    """One lot of a competition: deadline, framework, value, term, options, criteria."""
    texts = [
        ("lot note", lot.note),
        ("options", lot.options_description),
        ("renewals", lot.renewal_description),
        ("lot description", lot.description),
        ("lot title", lot.title),
        ("note", n.note),
        ("description", n.description),
        ("title", n.title),
    ]
    facts: TextFacts = read_facts(texts)
    evidence: list[dict[str, Any]] = []
    if lot.submission_deadline is not None:
        deadline, kind = lot.submission_deadline, "tender submission"
    elif lot.request_deadline is not None:
        deadline, kind = lot.request_deadline, "request to participate"
    else:
        deadline, kind = None, None
    if lot.framework_code in FRAMEWORK_CODES:
        framework = True
        evidence.append(
            {"fact": "framework", "value": True, "source": f"BT-765 {lot.framework_code}"}
        )
    elif facts.framework is not None:
        framework = bool(facts.framework.value)
        evidence.append(facts.framework.as_dict("framework"))
    else:
        framework = False
    value, kind_of_value, value_source = None, None, None
    if lot.estimated_value is not None:
        value, kind_of_value, value_source = lot.estimated_value, "estimated", "BT-27 of the lot"
    elif lot.framework_max_value is not None:
        value, kind_of_value, value_source = (
            lot.framework_max_value,
            "framework_max",
            "BT-271 of the lot",
        )
    elif single and n.framework_max_value is not None:
        value, kind_of_value, value_source = (
            n.framework_max_value,
            "framework_max",
            "BT-271 of the procedure",
        )
    elif single and n.estimated_value is not None:
        value, kind_of_value, value_source = (
            n.estimated_value,
            "estimated",
            "BT-27 of the procedure",
        )
    for name in ("value_per_year", "max_value", "estimated_value"):
        quote = facts.facts.get(name)
        if quote is not None:
            evidence.append(quote.as_dict(name))
    duration, duration_source = duration_of(lot)
    weighted = [c for c in criteria if c.weight is not None]
    if facts.procedure is not None:
        evidence.append(facts.procedure.as_dict("procedure"))
    for name in ("base_months", "option_months", "total_months", "start"):
        quote = facts.facts.get(name)
        if quote is not None:
            evidence.append(quote.as_dict(name))
    return {
        "lot_id": lot.lot_id,
        "title": lot.title,
        "deadline": deadline,
        "deadline_kind": kind,
        "framework": framework,
        "value": value,
        "currency": lot.currency or n.currency,
        "value_kind": kind_of_value,
        "value_source": value_source,
        "value_per_year": facts.value_per_year.value if facts.value_per_year else None,
        "duration": duration,
        "duration_source": duration_source,
        "start_date": lot.start_date,
        "end_date": lot.end_date,
        "options": lot.options_description or lot.renewal_description,
        "award_criteria": [
            {
                "name": c.name,
                "type": c.type,
                "weight": c.weight,
                "weight_code": c.weight_code,
                "source": c.source or "structured",
                "quote": c.quote,
            }
            for c in weighted
        ],
        "procedure_stated": facts.procedure.value if facts.procedure is not None else None,
        "evidence": evidence,
    }


def competition_lots(session: Session, notice_pk: int) -> list[dict[str, Any]]:
    """The lots of a competition notice as :func:`lot_facts` dicts (position order)."""
    n = session.get(Notice, notice_pk)
    if n is None:
        return []
    lots = list(
        session.scalars(select(Lot).where(Lot.notice_pk == notice_pk).order_by(Lot.position))
    )
    criteria: dict[int, list[Any]] = {lot.id: [] for lot in lots}
    if lots:
        for c in session.scalars(
            select(AwardCriterion)
            .where(AwardCriterion.lot_pk.in_(list(criteria)))
            .order_by(AwardCriterion.lot_pk, AwardCriterion.position)
        ):
            criteria[c.lot_pk].append(c)
    return [lot_facts(n, lot, criteria[lot.id], len(lots) == 1) for lot in lots]
