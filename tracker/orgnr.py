"""Norwegian organisation numbers (Enhetsregisteret): cleaning and mod-11 validation.

Nine digits; weights 3,2,7,6,5,4,3,2 on the first eight; check digit = 11 − (sum mod 11),
where 11 gives 0 and 10 means the number is invalid.
"""

from __future__ import annotations

import re

_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_NO_MVA = re.compile(r"^\s*NO\s*|\s*(MVA|FORETAKSREGISTERET)\s*$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s.\-\u00a0]+")


def is_valid_orgnr(s: str) -> bool:
    """True when ``s`` is exactly nine digits with a correct mod-11 check digit."""
    if len(s) != 9 or not s.isascii() or not s.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(s[:8], _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(s[8])


def clean_orgnr(raw: str | None) -> tuple[str | None, str | None]:
    """Clean and validate an orgnr as it appears in notices.

    Returns ``(orgnr, warning)``: the valid nine-digit number (or None) and, when the raw
    value was non-empty but not a valid number, a warning saying why. Accepts spaces, dots,
    dashes and the ``NO…MVA`` VAT form: ``"NO 943 184 097 MVA"`` → ``("943184097", None)``.
    """
    if raw is None:
        return None, None
    text = raw.strip()
    if not text:
        return None, None
    if len(text) == 9 and text.isascii() and text.isdigit():  # the common case, no regex
        return (
            (text, None)
            if is_valid_orgnr(text)
            else (None, f"orgnr {raw!r} fails the mod-11 check")
        )
    candidate = _SEPARATORS.sub("", _NO_MVA.sub("", text))
    if candidate.isdigit():
        if len(candidate) != 9:
            return None, f"orgnr {raw!r} has {len(candidate)} digits, not 9"
        if not is_valid_orgnr(candidate):
            return None, f"orgnr {raw!r} fails the mod-11 check"
        return candidate, None
    if not any(c.isdigit() for c in candidate):
        return None, f"orgnr field holds text, not a number: {raw!r}"
    return None, f"orgnr {raw!r} is not a nine-digit number"
