"""What a modification notice (subtypes 38-40, E6) does to the contract it changes.

Its own new end or value replaces the old and its suppliers replace the old ones; one
with an empty modification section near or after the end is evidence of an extension
(``extension = probably_extended``). See the module docstring of tracker.contracts.build.
"""

from __future__ import annotations

from typing import Any

from tracker.contracts.notes import extended_note
from tracker.contracts.rows import Batch, Desired, party, period_of
from tracker.contracts.terms import compute_term, fact_row
from tracker.dates import add_months
from tracker.notices.notice_text import TextFacts


def find_base(
    desired: dict[str, Desired], proc: str, r: Any, lot: Any, ctx: Batch
) -> Desired | None:
    """The contract a modification changes: same procedure and lot, the same supplier when
    several suppliers share the lot (else the one contract of the procedure)."""
    lot_id = r.lot_id or (lot.lot_id if lot is not None else None)
    candidates = [
        d
        for d in desired.values()
        if not d.values.get("expected")
        and (d.values["procedure_id"] == proc or d.key.startswith(f"n:{proc}|"))
    ]
    same_lot = [d for d in candidates if d.values["lot_id"] == lot_id]
    keys = {
        party("supplier", w.orgnr, w.name, w.organisation_id)["party_key"]
        for w in ctx.winners.get(r.id, [])
    }
    same_supplier = [d for d in same_lot if keys & {p["party_key"] for p in d.suppliers}]
    exact = [d for d in same_lot if r.contract_id and f"|{r.contract_id}|" in d.key]
    pick = same_supplier or exact or (same_lot if len(same_lot) == 1 else [])
    if not pick and len(candidates) == 1:
        pick = candidates
    return pick[-1] if pick else None


def apply_modification(
    base: Desired, n: Any, r: Any, lot: Any, facts: TextFacts, ctx: Batch
) -> None:
    """A modification notice changes the contract it modifies: its own new end or value
    replaces the old; its suppliers replace the old ones."""
    v = base.values
    v["modified_by_notice_pk"] = n.id
    how = []
    if r.tender_value is not None and r.tender_value != v["value"]:
        v["value"], v["currency"], v["value_kind"] = (
            r.tender_value,
            r.currency or v["currency"],
            "tender",
        )
        v["evidence"] = v["evidence"] + [
            fact_row(
                "value", r.tender_value, f"BT-720 in modification notice {n.notice_id}", "high"
            )
        ]
        how.append("value")
    period = period_of(lot)
    if period is not None and (period.end or period.has_duration) or facts.new_end is not None:
        term = compute_term(
            lot=period,
            conclusion=r.conclusion_date or v["conclusion_date"],
            award=r.award_date or v.get("award_date"),
            framework=bool(v["framework"]),
            facts=facts,
        )
        if term.end is not None:
            old_latest = v["latest_end"]
            v["end_date"], v["end_source"] = term.end, "modification"
            v["option_ends"] = [d for d in v["option_ends"] or [] if d > term.end.isoformat()]
            v["latest_end"] = max(d for d in (term.end, old_latest) if d is not None)
            v["latest_end_source"] = "modification"
            v["evidence"] = v["evidence"] + term.evidence
            how.append(f"end from {term.end_source}")
    new_suppliers = [
        party("supplier", w.orgnr, w.name, w.organisation_id) for w in ctx.winners.get(r.id, [])
    ]
    if new_suppliers:
        base.suppliers = new_suppliers
    v["notes"] = f"modified by notice {n.notice_id} ({n.issue_date}): " + (
        ", ".join(how) or "suppliers"
    )
    modification_effects(v, n, lot, facts, ctx, own=False)


def modification_effects(
    v: dict[str, Any], n: Any, lot: Any, facts: TextFacts, ctx: Batch, *, own: bool
) -> None:
    """What a modification notice says about the end: a new end stated replaces the old
    (``extension = modified``); an empty modification section leaves the new end unknown
    (latest end None, low confidence); either near or after the end (within
    ``extension_evidence_months`` before it) is evidence of an extension."""
    stated = facts.new_end is not None or (lot is not None and lot.end_date is not None)
    empty = not n.modification_description and not stated
    end = v["end_date"]
    if stated:
        v["extension"] = "modified"
        return
    if empty:
        v["latest_end"], v["latest_end_source"] = None, "modification: new end not stated"
        v["option_ends"] = []
        v["end_confidence"] = "low"
    issued = n.issue_date
    if end is None or issued is None:
        return
    horizon = add_months(end, -ctx.rules.extension_evidence_months)
    if issued >= horizon:
        days = (issued - end).days
        when = f"{days} days after" if days >= 0 else f"{-days} days before"
        v["extension"] = "probably_extended"
        v["evidence"] = v["evidence"] + [
            fact_row(
                "extension",
                "probably extended: ask the buyer",
                f"modification notice {n.notice_id} of {issued.isoformat()}, {when} the end "
                f"{end.isoformat()}",
                "medium",
            )
        ]
        note = str(extended_note(issued, end))
        v["notes"] = f"{v['notes']}; {note}" if v.get("notes") else note
