"""Text clean-up for names and titles from notices: mojibake repair and matching keys."""

from __future__ import annotations

import re
import unicodedata

import ftfy

# Characters that appear when UTF-8 bytes were decoded as Latin-1/CP1252 ("Ã˜", "Ã¸", "â€™").
# ftfy is only called when one of them is present: it is slow, and most text is clean.
_SUSPECT = re.compile(
    "[ÃÂâ][\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u02dc\u2013-\u203a]"
)
_SPACES = re.compile(r"\s+")


def has_mojibake(s: str) -> bool:
    """True when ``s`` looks like UTF-8 read as Latin-1 (``SYKEHUSINNKJÃ˜P``)."""
    # Plain substring tests first: 30x faster than the regex on clean text.
    if "Ã" not in s and "Â" not in s and "â" not in s:
        return False
    return bool(_SUSPECT.search(s))


def repair_mojibake(s: str) -> str:
    """Repair UTF-8-read-as-Latin-1 text: ``SYKEHUSINNKJÃ˜P HF`` → ``SYKEHUSINNKJØP HF``.

    Clean text is returned unchanged (and fast); only the encoding is fixed, nothing else
    (no quote or whitespace normalisation).
    """
    if not s or not has_mojibake(s):
        return s
    return ftfy.fix_encoding(s)


def collapse_spaces(s: str) -> str:
    """Trim and collapse runs of whitespace to one space."""
    return _SPACES.sub(" ", s).strip()


def clean_name(s: str | None) -> str:
    """An organisation name for display and storage: repaired, NFC, trimmed, single spaces."""
    return collapse_spaces(unicodedata.normalize("NFC", repair_mojibake(s or "")))


def name_key(s: str | None) -> str:
    """The matching key of an organisation name: :func:`clean_name`, casefolded. The one
    normalisation every key starts from (``tracker.linking.names`` builds on it).

    ``"  Sykehusinnkjøp  HF"`` and ``"SYKEHUSINNKJÃ˜P HF"`` give the same key.
    """
    return clean_name(s).casefold()
