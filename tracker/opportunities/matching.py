"""How notices fold into opportunities: the draft of an opportunity, the title and CPV
similarity that says two procurements of a buyer are the same one, and which drafts a
planning notice or a competition may belong to. Pure (values in, values out); the
database side is :mod:`tracker.opportunities.drafts`.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
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
    # the common prefix is at least n long when the first n characters agree (and a has n)
    if a[:5] == b[:5] and len(a) >= 5:
        return 1.0
    if a[:3] == b[:3] and len(a) >= 3:
        return 0.6
    return 0.3 if a[:2] == b[:2] and len(a) >= 2 else 0.0


def similarity(
    a_title: frozenset[str], a_cpv: str | None, b_title: frozenset[str], b_cpv: str | None
) -> float:
    """Match score of two procurements of the same buyer; 0 when they do not match.

    A match needs a similar CPV (same group) and some shared title words (Jaccard ≥ 0.2),
    or clearly shared title words (Jaccard ≥ 0.6) whatever the CPV.
    """
    return _score(len(a_title & b_title), len(a_title), len(b_title), a_cpv, b_cpv)


def _score(common: int, a_len: int, b_len: int, a_cpv: str | None, b_cpv: str | None) -> float:
    """``similarity`` of two titles sharing ``common`` of their ``a_len`` and ``b_len`` words."""
    if not common:
        return 0.0  # no shared title word: Jaccard 0, no match whatever the CPV
    jac = common / (a_len + b_len - common)
    if jac >= 0.6:
        return jac + 0.5 * cpv_similarity(a_cpv, b_cpv)
    if jac >= 0.2:
        cpv = cpv_similarity(a_cpv, b_cpv)
        if cpv >= 0.6:
            return jac + 0.5 * cpv
    return 0.0


def best_match(
    drafts: list[Draft], tokens: frozenset[str], cpv: str | None, ok: Callable[[Draft], bool]
) -> Draft | None:
    """The most similar draft that ``ok`` accepts (None when none is similar); the first
    of equally similar ones. ``ok`` (no side effects) is asked only of a draft that would
    be the best so far: most drafts share no title word and are passed over at once."""
    best, best_score = None, 0.0
    size = len(tokens)
    for d in drafts:
        theirs = d.tokens
        if theirs.isdisjoint(tokens):
            continue  # similarity 0
        score = _score(len(theirs & tokens), len(theirs), size, d.main_cpv, cpv)
        if score > best_score and ok(d):
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


# Bounds (in days, with room to spare for month-end clamping) of the date ranges a draft
# must fall in to pass plausible_for_planning / plausible_for_competition: 36 months after
# a planning notice, 6 months before to 24 months after a competition, a planning notice
# 12 months before a competition.
_PLANNING_EXPIRY_AFTER = 36 * 31 + 5
_COMPETITION_EXPIRY_BEFORE = 6 * 31 + 5
_COMPETITION_EXPIRY_AFTER = 24 * 31 + 5
_COMPETITION_PLANNED_BEFORE = 12 * 31 + 5


class Candidates:
    """The drafts of one account a planning notice or a competition can belong to, found
    by date instead of by trying every draft: those whose expiry (or, without one, the
    planning date) lies near the notice. Every draft outside the range fails the
    plausibility test, so ``best_match`` over the candidates (kept in the account's order)
    gives what it gives over all the drafts. Built over the drafts as they are when the
    notices are folded (the expiries and planning dates no longer change then; drafts
    appended meanwhile have neither an expiry nor, for a competition, a chance)."""

    def __init__(self, drafts: list[Draft]) -> None:
        self._drafts = drafts
        expiring: list[tuple[dt.date, int]] = []
        planned: list[tuple[dt.date, int]] = []
        for pos, d in enumerate(drafts):
            expiry = as_date(d.inputs.get("expiry"))
            if expiry is not None:
                expiring.append((expiry, pos))
            elif d.kind != "competition":
                planning = as_date(d.inputs.get("planning_date"))
                if planning is not None:
                    planned.append((planning, pos))
        expiring.sort()
        planned.sort()
        self._expiring = ([e for e, _ in expiring], [p for _, p in expiring])
        self._planned = ([e for e, _ in planned], [p for _, p in planned])

    @staticmethod
    def _between(index: tuple[list[dt.date], list[int]], lo: dt.date, hi: dt.date) -> list[int]:
        dates, positions = index
        return positions[bisect_left(dates, lo) : bisect_right(dates, hi)]

    def _drafts_at(self, positions: list[int]) -> list[Draft]:
        drafts = self._drafts
        return [drafts[p] for p in sorted(positions)]

    def for_planning(self, issued: dt.date) -> list[Draft]:
        """Drafts that may pass ``plausible_for_planning`` for a notice issued then."""
        hi = issued + dt.timedelta(days=_PLANNING_EXPIRY_AFTER)
        return self._drafts_at(self._between(self._expiring, issued, hi))

    def for_competition(self, issued: dt.date) -> list[Draft]:
        """Drafts that may pass ``plausible_for_competition`` for a competition issued then."""
        lo = issued - dt.timedelta(days=_COMPETITION_EXPIRY_BEFORE)
        hi = issued + dt.timedelta(days=_COMPETITION_EXPIRY_AFTER)
        found = self._between(self._expiring, lo, hi)
        lo = issued - dt.timedelta(days=_COMPETITION_PLANNED_BEFORE)
        found += self._between(self._planned, lo, issued)
        return self._drafts_at(found)
