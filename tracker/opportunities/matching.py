"""How notices fold into opportunities: the draft of an opportunity, the title and CPV
similarity that says two procurements of a buyer are the same one, and which drafts a
planning notice or a competition may belong to. Pure (values in, values out); the
database side is :mod:`tracker.opportunities.drafts`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tracker.dates import add_months
from tracker.messages import Message
from tracker.notices.pretender import Reading
from tracker.opportunities.bases import DIALOGUE_DAY, RESPONSE_DEADLINE, planned_basis

# Words that say nothing about what is bought (words under 3 letters are dropped anyway).
_STOP = frozenset(
    {
        "for",
        "til",
        "med",
        "fra",
        "ved",
        "inkl",
        "the",
        "and",
        "rammeavtale",
        "rammeavtaler",
        "avtale",
        "kontrakt",
        "kjøp",
        "anskaffelse",
        "anskaffelser",
        "konkurranse",
        "kunngjøring",
        "veiledende",
        "forhåndskunngjøring",
        "levering",
        "leveranse",
        "tjenester",
        "tjeneste",
        "innkjøp",
        "framework",
        "agreement",
        "contract",
        "supply",
        "services",
        "service",
        "purchase",
        "procurement",
        "notice",
        "lot",
        "del",
        "delkontrakt",
    }
)
_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def title_tokens(title: str | None) -> frozenset[str]:
    """Significant lower-case words of a title (stop words and short words dropped)."""
    if not title:
        return frozenset()
    return frozenset(t for t in _TOKEN.findall(title.lower()) if t not in _STOP)


def cpv_similarity(a: str | None, b: str | None) -> float:
    """1.0 for the same CPV class (5 digits), 0.6 same group (3), 0.3 same division (2)."""
    if not a or not b:
        return 0.0
    a, b = a[:8], b[:8]
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return 1.0 if common >= 5 else 0.6 if common >= 3 else 0.3 if common >= 2 else 0.0


def similarity(
    a_title: frozenset[str], a_cpv: str | None, b_title: frozenset[str], b_cpv: str | None
) -> float:
    """Match score of two procurements of the same buyer; 0 when they do not match.

    A match needs a similar CPV (same group) and some shared title words (Jaccard ≥ 0.2),
    or clearly shared title words (Jaccard ≥ 0.6) whatever the CPV.
    """
    union = a_title | b_title
    jac = len(a_title & b_title) / len(union) if union else 0.0
    cpv = cpv_similarity(a_cpv, b_cpv)
    if (cpv >= 0.6 and jac >= 0.2) or jac >= 0.6:
        return jac + 0.5 * cpv
    return 0.0


def best_match(
    drafts: list[Draft], tokens: frozenset[str], cpv: str | None, ok: Callable[[Draft], bool]
) -> Draft | None:
    """The most similar draft that ``ok`` accepts (None when none is similar)."""
    best, best_score = None, 0.0
    for d in drafts:
        if not ok(d):
            continue
        score = similarity(d.tokens, d.main_cpv, tokens, cpv)
        if score > best_score:
            best, best_score = d, score
    return best


@dataclass
class Draft:
    key: str
    kind: str
    account_id: int
    link_status: str
    title: str | None
    buyer: str | None
    main_cpv: str | None
    tokens: frozenset[str]
    value: Decimal | None = None
    currency: str | None = None
    contract_id: int | None = None
    notice_pk: int | None = None  # planning notice
    notice_id: str | None = None
    procedure_id: str | None = None
    competition_notice_pk: int | None = None
    competition_notice_id: str | None = None
    competition_procedure_id: str | None = None
    framework: bool = True
    concluded: dt.date | None = None  # old contract concluded / started (excludes its own CN)
    incumbent: str = "unknown"
    incumbents: list[str] = field(default_factory=list)
    latest_end: dt.date | None = None
    note: str | None = None  # shown beside the reason: "probably extended: ask the buyer"
    inputs: dict[str, Any] = field(default_factory=dict)
    source_notice_pk: int | None = None  # the notice the profile reads (its text and CPVs)
    item: dict[str, Any] | None = None  # tracker.opportunities.relevance.ItemText as a dict


def iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def as_date(s: Any) -> dt.date | None:
    if s is None or s == "":
        return None
    if isinstance(s, dt.date):
        return s
    return dt.date.fromisoformat(str(s))


def plausible_for_planning(d: Draft, n: Any, issued: dt.date) -> bool:
    """A planning notice issued on ``issued`` can belong to a re-tender whose expiry is
    within 36 months after it (not to the old contract's own procedure)."""
    if d.procedure_id and d.procedure_id == n.procedure_id:
        return False  # the original procedure of the old contract
    expiry = as_date(d.inputs.get("expiry"))
    return expiry is not None and add_months(expiry, -36) <= issued <= expiry


def plausible_for_competition(d: Draft, n: Any, issued: dt.date) -> bool:
    """A competition issued on ``issued`` can close a re-tender between 24 months before
    and 6 months after its expiry (after the old contract was concluded), or a planning
    opportunity within 12 months after its notice."""
    if d.kind == "competition":
        return False
    if d.procedure_id and d.procedure_id == n.procedure_id and d.kind == "retender":
        return False
    if d.concluded is not None and issued <= d.concluded:
        return False
    expiry = as_date(d.inputs.get("expiry"))
    if expiry is not None:
        return add_months(expiry, -24) <= issued <= add_months(expiry, 6)
    planned = as_date(d.inputs.get("planning_date"))
    return planned is not None and planned <= issued <= add_months(planned, 12)


def apply_reading(target: Draft, reading: Reading, issued: dt.date) -> None:
    """Put what a planning notice says (dialogue, planned publication) into the inputs."""
    planned = reading.planned_publication
    if planned is not None:
        target.inputs["planned_publication"] = planned.first.isoformat()
        target.inputs["planned_publication_until"] = planned.last.isoformat()
        target.inputs["planned_publication_basis"] = planned_basis(
            planned.source, planned.precision, planned.text
        )
    if reading.kind == "market_dialogue":
        prev = as_date(target.inputs.get("dialogue_notice_date"))
        if prev is not None and prev > issued:
            return  # keep the latest dialogue
        until = reading.response_deadline or reading.dialogue_date
        target.inputs.update(
            dialogue=True,
            dialogue_notice_date=issued.isoformat(),
            dialogue_until=until.day.isoformat() if until else None,
            dialogue_basis=Message(
                (RESPONSE_DEADLINE if until is reading.response_deadline else DIALOGUE_DAY).msgid,
                {"what": until.text if until.source == "notice text" else until.source},
            ).render()
            if until
            else None,
        )
    target.inputs["pretender"] = reading.as_dict()
