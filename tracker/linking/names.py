"""Organisation-name normalisation for linking buyers to accounts.

Three keys are derived from a name, all from ``tracker.notices.text.name_key`` (repaired
mojibake, NFC, casefolded, runs of spaces collapsed) with punctuation removed:

- ``full_key``: every word kept (``"oslo kommune"``); used for prefix suggestions.
- ``match_key``: legal-form suffixes dropped (``kommune``, ``HF``, ``RHF``, ``AS``, ...),
  an orgnr written into the name and parentheses removed: ``"Helse Sør-Øst RHF"`` and
  ``"HELSE SØR-ØST"`` both give ``"helse sør-øst"``. ``fylkeskommune`` becomes ``fylke``
  so that a county never matches a municipality of the same name.
- ``parent_name``: the body before a department marker: ``"Forsvaret v/Forsvarets
  logistikkorganisasjon"`` → ``"Forsvaret"``; ``None`` when the name has no marker.
"""

from __future__ import annotations

import functools
import re

from tracker.notices.text import clean_name, name_key
from tracker.orgnr import is_valid_orgnr as _is_valid_orgnr

# Legal-form words that do not distinguish one public body from another when trailing.
LEGAL_SUFFIXES = frozenset(
    {"kommune", "hf", "rhf", "as", "asa", "sf", "iks", "kf", "fkf", "ans", "da", "sa"}
)
_DEPARTMENT = re.compile(
    r"\s+(?:v/|v\.|ved|c/o|avd\.?|avdeling)\s*(?=\S)|\s*,\s*(?:v/|avd\.?|avdeling)\s*",
    re.IGNORECASE,
)
_SLASH_V = re.compile(r"\s*\bv\s*/\s*", re.IGNORECASE)
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_ORGNR_IN_NAME = re.compile(r"\b(?:org\.?\s*nr\.?\s*)?\d[\d\s]{7,10}\d\b", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w-]+")  # hyphens stay: "sør-øst"


def _words(name: str) -> list[str]:
    s = name_key(name)
    s = _PARENS.sub(" ", s)
    s = _ORGNR_IN_NAME.sub(" ", s)
    return [w.strip("-") for w in _NON_WORD.split(s) if w.strip("-")]


def full_key(name: str | None) -> str:
    """Every word of the name, normalised: ``"Oslo  Kommune "`` → ``"oslo kommune"``."""
    return " ".join(_words(name or ""))


def match_key(name: str | None) -> str:
    """Name without trailing legal-form suffixes.

    ``"SYKEHUSINNKJÃ˜P HF"`` → ``"sykehusinnkjøp"``.
    """
    words = _words(name or "")
    if words and words[-1] == "fylkeskommune":
        words[-1] = "fylke"
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if words and words[-1] == "fylkeskommune":
        words[-1] = "fylke"
    return " ".join(words)


def parent_name(name: str | None) -> str | None:
    """The body a department belongs to, or None.

    ``"Oslo kommune v/ Sykehjemsetaten"`` → ``"Oslo kommune"``.
    """
    s = clean_name(name)
    if not s:
        return None
    m = _SLASH_V.search(s) or _DEPARTMENT.search(s)
    if not m or m.start() == 0:
        return None
    head = s[: m.start()].strip(" ,-")
    return head or None


def is_prefix_key(prefix: str, key: str) -> bool:
    """True when ``key`` starts with all the words of ``prefix`` and has more words after them."""
    return bool(prefix) and key.startswith(prefix + " ")


@functools.lru_cache(maxsize=65536)
def is_valid_orgnr(orgnr: str) -> bool:
    """``tracker.orgnr.is_valid_orgnr``, cached: the same buyers recur in every batch."""
    return _is_valid_orgnr(orgnr)
