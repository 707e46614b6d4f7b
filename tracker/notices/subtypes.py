"""Notice subtypes (eForms OPP-070) grouped by procurement phase: the one definition.

The codes and names are in ``tracker/data/notice-subtype.tsv`` (EU subtypes 1-40, the
Norwegian national ones N4/N16/N29 and E1-E6, and T01/T02 for public passenger transport):

==================  ============================================================
group               subtypes
==================  ============================================================
``planning``        1-9 (PIN/PIN on a buyer profile, PIN shortening time limits),
                    N4, E1 (market dialogue), E2 (PIN below threshold),
                    T01 (PIN for a public service contract, transport)
``competition``     10-24 (PIN as call for competition, contract, concession,
                    design contest notices), N16, E3 (contract notice below
                    threshold), CEI (call for expressions of interest)
``result``          25-37 (VEAT, award and design contest results), N29, E4 (award
                    below threshold), T02 (award of a public service contract)
``completion``      E5 (contract completed, below threshold)
``modification``    38-40, E6 (modification below threshold)
==================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _codes(first: int, last: int, *extra: str) -> frozenset[str]:
    return frozenset({*(str(i) for i in range(first, last + 1)), *extra})


PLANNING_SUBTYPES = _codes(1, 9, "N4", "E1", "E2", "T01")
COMPETITION_SUBTYPES = _codes(10, 24, "N16", "E3", "CEI")
RESULT_SUBTYPES = _codes(25, 37, "N29", "E4", "T02")
COMPLETION_SUBTYPES = frozenset({"E5"})
MODIFICATION_SUBTYPES = _codes(38, 40, "E6")

PHASE_SUBTYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "planning": PLANNING_SUBTYPES,
        "competition": COMPETITION_SUBTYPES,
        "award": RESULT_SUBTYPES,
        "completion": COMPLETION_SUBTYPES,
        "modification": MODIFICATION_SUBTYPES,
    }
)

# Dates from this year on are placeholders ("2099-01-01" in real notices), not dates.
PLACEHOLDER_YEAR = 2090


def phase_of(subtype: str | None) -> str | None:
    """The phase of a subtype (``planning``, ``competition``, ``award``, ``completion``,
    ``modification``), or None when unknown or missing. ``phase_of("16") == "competition"``."""
    code = (subtype or "").strip().upper()
    for phase, codes in PHASE_SUBTYPES.items():
        if code in codes:
            return phase
    return None


def is_contract_notice(subtype: str | None, document_type: str | None = None) -> bool:
    """A notice that opens a competition (its lots carry the planned duration)."""
    return (document_type or "") == "ContractNotice" or (subtype or "") in COMPETITION_SUBTYPES
