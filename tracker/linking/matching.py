"""Link the buyers of notices (and of contracts) to key accounts.

Each buyer is matched to accounts by, in order of confidence:

============================  ==========  ============================================
method                        confidence  when
============================  ==========  ============================================
``orgnr``                     1.00        the buyer's orgnr is one of the account's
``parent``                    0.90        a parent in the business register (followed
                                          up the chain) is the account's and the account
                                          includes sub-units
``name`` / ``alias``          0.85        normalised names are equal (mojibake repaired,
                                          case, spacing, legal suffixes)
``department``                0.80        the body before "v/" is the account
                                          ("Forsvaret v/Forsvarets logistikkorganisasjon")
``central_purchasing``        per body    the buyer buys on behalf of the account
                                          (configurable map, Sykehusinnkjøp HF → health
                                          trusts); when the notice names a region or
                                          trust, only the accounts of that region keep
                                          the link, with ``region_confidence``
``name_prefix``               0.50        the buyer's name starts with the account's name
                                          ("NAV Tiltak Rogaland" → NAV)
============================  ==========  ============================================

A name match whose buyer has a valid orgnr that the account does not list drops to
0.60. Links below ``SUGGEST_BELOW`` are "suggested"; a KAM's confirm or reject is kept
in ``link_decisions`` (by buyer orgnr, or normalised name when there is none) and wins
over the computed status on every relink.

Pure rules (values in, values out): :class:`AccountIndex` matches one buyer; the database
side (building the index, linking notices and contracts, decisions) is
:mod:`tracker.linking.links`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker.linking.names import full_key, is_prefix_key, is_valid_orgnr, match_key, parent_name

SUGGEST_BELOW = 0.75
CONFIDENCE = {
    "orgnr": 1.0,
    "parent": 0.9,
    "name": 0.85,
    "alias": 0.85,
    "department": 0.8,
    "name_prefix": 0.5,
    "manual": 1.0,
}
ORGNR_CONFLICT_CONFIDENCE = 0.6
REGION_CONFIDENCE_STEP = 0.1  # default raise when a notice names the account's own region


@dataclass(frozen=True)
class Match:
    account_id: int
    method: str
    confidence: float
    body: int | None = None  # index in ``AccountIndex.central`` for central_purchasing


def terms_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for whole-word terms: case-insensitive, except all-capital ones ("UNN").

    A term never matches inside a longer word or hyphenated name ("Helse Nord" is not in
    "Helse Nord-Trøndelag"). None when there are no terms.
    """
    parts = []
    for term in sorted({str(t).strip() for t in terms if str(t).strip()}, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in term.split())
        parts.append(f"(?-i:{body})" if term.isupper() and len(term) <= 5 else body)
    if not parts:
        return None
    return re.compile(rf"(?<![\w-])(?:{'|'.join(parts)})(?![\w-])", re.IGNORECASE)


@dataclass
class Region:
    name: str
    pattern: re.Pattern[str] | None
    account_ids: set[int]


@dataclass
class CentralBody:
    name: str
    orgnrs: set[str]
    keys: set[str]
    account_ids: set[int]
    confidence: float
    regions: list[Region] = field(default_factory=list)
    region_confidence: float | None = None
    national: re.Pattern[str] | None = None

    def regions_named(self, text: str | None) -> set[str] | None:
        """Regions a notice text names; None when it names none or says it is national."""
        if not text or not self.regions:
            return None
        if self.national is not None and self.national.search(text):
            return None
        named = {r.name for r in self.regions if r.pattern is not None and r.pattern.search(text)}
        return named or None

    def confidence_for(self, account_id: int, text: str | None) -> float | None:
        """The link's confidence for this account given the notice text. Pure.

        None (no link) when the notice names only other regions than the account's; the
        region confidence when it names the account's; else the body's confidence.
        """
        named = self.regions_named(text)
        if named is None:
            return self.confidence
        own = {r.name for r in self.regions if account_id in r.account_ids}
        if not own:
            return self.confidence  # an account in no region: the text says nothing about it
        if own & named:
            if self.region_confidence is not None:
                return self.region_confidence
            return min(1.0, self.confidence + REGION_CONFIDENCE_STEP)
        return None


@dataclass
class AccountIndex:
    """Accounts prepared for matching (built once per linking run)."""

    by_orgnr: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_key: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    prefixes: list[tuple[str, int]] = field(default_factory=list)
    include_children: set[int] = field(default_factory=set)
    orgnrs_of: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    central: list[CentralBody] = field(default_factory=list)
    _cache: dict[tuple[Any, ...], list[Match]] = field(default_factory=dict, repr=False)

    @property
    def empty(self) -> bool:
        return not self.orgnrs_of and not self.by_key

    def match(
        self, orgnr: str | None, name: str | None, ancestors: Sequence[str] = ()
    ) -> list[Match]:
        """Best match per account for one buyer (orgnr, name, register parents nearest first)."""
        key = (orgnr, name, tuple(ancestors))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._match(orgnr, name, ancestors)
        return list(hit)

    def _match(self, orgnr: str | None, name: str | None, ancestors: Sequence[str]) -> list[Match]:
        best: dict[int, Match] = {}

        def offer(account_id: int, method: str, confidence: float, body: int | None = None) -> None:
            cur = best.get(account_id)
            if cur is None or confidence > cur.confidence:
                best[account_id] = Match(account_id, method, confidence, body)

        valid_orgnr = orgnr if orgnr and is_valid_orgnr(orgnr) else None
        if valid_orgnr:
            for a in self.by_orgnr.get(valid_orgnr, ()):
                offer(a, "orgnr", CONFIDENCE["orgnr"])
            for depth, anc in enumerate(ancestors):
                for a in self.by_orgnr.get(anc, ()):
                    if a in self.include_children:
                        offer(a, "parent", CONFIDENCE["parent"] - 0.02 * depth)

        def conflict(a: int) -> bool:
            return bool(valid_orgnr and self.orgnrs_of.get(a))

        key = match_key(name)
        if key:
            for a, how in self.by_key.get(key, {}).items():
                offer(a, how, ORGNR_CONFLICT_CONFIDENCE if conflict(a) else CONFIDENCE[how])
        head = parent_name(name)
        if head:
            for a in self.by_key.get(match_key(head), {}):
                ok = not conflict(a) or a in self.include_children
                offer(
                    a, "department", CONFIDENCE["department"] if ok else ORGNR_CONFLICT_CONFIDENCE
                )
        fkey = full_key(name)
        if fkey and self.prefixes:
            for prefix, a in self.prefixes:
                if a not in best and is_prefix_key(prefix, fkey):
                    offer(a, "name_prefix", CONFIDENCE["name_prefix"])
        for i, body in enumerate(self.central):
            if (valid_orgnr and valid_orgnr in body.orgnrs) or (key and key in body.keys):
                for a in body.account_ids:
                    if a not in best:
                        offer(a, "central_purchasing", body.confidence, i)
        return sorted(best.values(), key=lambda m: (-m.confidence, m.account_id))

    def for_notice(self, matches: list[Match], text: str | None) -> list[Match]:
        """Central-purchasing matches adjusted to the regions the notice text names."""
        out = []
        for m in matches:
            if m.body is None:
                out.append(m)
                continue
            conf = self.central[m.body].confidence_for(m.account_id, text)
            if conf is not None:
                out.append(Match(m.account_id, m.method, conf, m.body))
        return out


def buyer_key(orgnr: str | None, name: str | None) -> str:
    """Identity of a buyer for remembered decisions: orgnr, else ``name:<match key>``."""
    if orgnr and is_valid_orgnr(orgnr):
        return orgnr
    return "name:" + match_key(name)


def link_status(confidence: float, decision: str | None) -> str:
    """A remembered decision wins; else confirmed from ``SUGGEST_BELOW`` up, else suggested."""
    if decision in {"confirmed", "rejected"}:
        return decision
    return "confirmed" if confidence >= SUGGEST_BELOW else "suggested"
