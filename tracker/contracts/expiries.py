"""How a contract reads: ``contract_dict`` (per-lot suppliers, the value with its kind,
base, next and latest end with their sources, the buyer's own words), its value label
and evidence text, and ``parse_within`` for the command line's horizon.

The questions built on it (which contracts run out: ``tracker.pages.expiries``; who holds
them: ``tracker.pages.incumbency``) are answered in ``tracker.pages``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tracker.contracts.notes import readable_notes
from tracker.contracts.terms import next_end, readable_evidence
from tracker.db.models import Contract
from tracker.errors import TrackerError
from tracker.messages import N_, Text

_WITHIN = re.compile(r"^\s*(\d+)\s*(m|mo|mnd|month|months|y|yr|year|years|år|d|day|days)?\s*$")


def parse_within(text: str | int | None) -> int | None:
    """Months in ``"24m"``, ``"2y"``, ``"18"`` (months); None for None. Raises TrackerError."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    m = _WITHIN.match(str(text).lower())
    if not m:
        raise TrackerError(f"--within {text!r}: use months like 24m or years like 2y")
    n, unit = int(m.group(1)), (m.group(2) or "m")
    if unit.startswith(("y", "å")):
        return n * 12
    if unit.startswith("d"):
        return max(1, round(n / 30))
    return n


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


RETENDER_NOTES = {
    "not_assumed": N_(
        "direct award: no competition is assumed to follow (the buyer may award "
        "directly again); ask the buyer"
    ),
    "none": N_("no end: the contract runs until terminated, no re-tender is scheduled"),
}


def value_label(value: float | None, currency: str | None, kind: str | None,
                shared: bool | None, parallel: int | None) -> str:  # fmt: skip
    """How a contract's value reads: '65 000 000 NOK (framework maximum, shared by 10
    parallel suppliers)', '10 800 000 NOK (estimated)', '–' when unknown."""
    if value is None:
        return "–"
    amount = f"{value:,.0f}".replace(",", "\u00a0") + (f" {currency}" if currency else "")
    what = {"framework_max": "framework maximum", "estimated": "estimated",
            "tender": "tender value"}.get(kind or "", kind or "")  # fmt: skip
    if shared:
        what = f"{what}, shared by {parallel or 'several'} parallel suppliers: never summed"
    return f"{amount} ({what})" if what else amount


def evidence_text(evidence: list[dict[str, Any]] | None, limit: int = 4) -> str:
    """The quotes from the buyer's words behind a contract's facts, for one cell:
    'start: «planlagt oppstartsdato 9. mars 2023» (note); ...'."""
    parts = []
    for e in evidence or []:
        quote = e.get("quote")
        if quote:
            where = str(e.get("source", "")).removeprefix("text (").rstrip(")")
            parts.append(f"{e.get('fact')}: «{quote}» ({where})")
    return "; ".join(parts[:limit])


def _status(c: Contract, nxt: dt.date | None) -> str:
    """probably extended, expected, ended or running."""
    if c.extension == "probably_extended":
        return "probably extended: ask the buyer"
    if c.expected:
        return "expected: no award seen"
    if nxt is None and (c.end_date or c.latest_end) is not None:
        return "ended"
    return "running"


def contract_dict(
    c: Contract,
    *,
    today: dt.date,
    parties: dict[str, list[dict[str, Any]]],
    accounts: list[dict[str, Any]] | None = None,
    ours: set[str] | None = None,
    notice_id: str | None = None,
    doffin_id: str | None = None,
) -> dict[str, Any]:
    """One contract as every reader shows it (CLI, pages, exports): per-lot suppliers,
    value with its kind, base, next and latest end with their sources, the evidence."""
    ours = ours or set()
    accounts = accounts or []
    suppliers = [{**p, "us": bool(p["orgnr"] and p["orgnr"] in ours)} for p in parties["supplier"]]
    nxt = next_end(c.end_date, c.option_ends, c.latest_end, today)
    value = float(c.value) if c.value is not None else None
    return {
        "contract_id": c.id,
        "key": c.key,
        "title": c.title,
        "lot_id": c.lot_id,
        "procedure_id": c.procedure_id,
        "buyers": parties["buyer"],
        "buyer": ", ".join(b["name"] or "" for b in parties["buyer"]),
        "accounts": accounts,
        "account": ", ".join(
            a["name"] + (" (suggested)" if a["status"] == "suggested" else "") for a in accounts
        ),
        "incumbents": suppliers,
        "incumbent": ", ".join(s["name"] or "" for s in suppliers),
        "us": any(s["us"] for s in suppliers),
        "parallel_suppliers": c.parallel_suppliers,
        "value": value,
        "currency": c.currency,
        "value_kind": c.value_kind,
        "value_shared": bool(c.value_shared),
        "value_label": value_label(
            value, c.currency, c.value_kind, c.value_shared, c.parallel_suppliers
        ),
        "value_per_year": float(c.value_per_year) if c.value_per_year is not None else None,
        "framework": c.framework,
        "direct_award": bool(c.direct_award),
        "regime": c.regime,
        "national": bool(c.national),
        "procedure_type": c.procedure_type,
        "retender": c.retender,
        "retender_note": Text(RETENDER_NOTES[c.retender]) if c.retender in RETENDER_NOTES else None,
        "main_cpv": c.main_cpv,
        "start_date": _iso(c.start_date),
        "start_source": c.start_source,
        "end_date": _iso(c.end_date),
        "end_source": c.end_source,
        "option_ends": list(c.option_ends or []),
        "next_end": _iso(nxt),
        "latest_end": _iso(c.latest_end),
        "latest_end_source": c.latest_end_source,
        "end_confidence": c.end_confidence,
        "days_left": (nxt - today).days if nxt else None,
        "status": _status(c, nxt),
        "extension": c.extension,
        "expected": bool(c.expected),
        "expected_award": _iso(c.expected_award),
        "challenge_until": _iso(c.challenge_until),
        "evidence": readable_evidence(c.evidence),
        "evidence_text": evidence_text(c.evidence),
        "notes": readable_notes(c.notes),
        "source": c.source,
        "notice_id": notice_id,
        "doffin_id": doffin_id,
        "notice_pk": c.notice_pk,
        "modified_by_notice_pk": c.modified_by_notice_pk,
    }
