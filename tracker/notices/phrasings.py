"""The phrasings the notice-text readers (``tracker.notices.notice_text``) look for:
numbers and units, dates, amounts, durations and options, framework, direct award,
procedure, regulation and cancellation words, in bokmål, nynorsk and English.

Patterns run on the lower-cased text (``_CI``: several times faster than
``re.IGNORECASE``) and answer with the original's words. The ``_HINTS`` tuples are cheap
substring tests that let a reader skip a text before any pattern runs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any


class _Orig:
    """A match on the lower-cased text, read back from the original (same length)."""

    __slots__ = ("_m", "_text")

    def __init__(self, m: re.Match[str], text: str) -> None:
        self._m, self._text = m, text

    def group(self, *index: int) -> Any:
        if len(index) > 1:
            return tuple(self.group(i) for i in index)
        i = index[0] if index else 0
        start, end = self._m.span(i)
        return None if start < 0 else self._text[start:end]

    def start(self, i: int = 0) -> int:
        return self._m.start(i)

    def end(self, i: int = 0) -> int:
        return self._m.end(i)


class _CI:
    """A case-insensitive pattern that runs on the lower-cased text (several times faster
    than ``re.IGNORECASE`` in CPython's engine) and answers with the original's words;
    ``re.IGNORECASE`` on the original when lower-casing changes the length (rare)."""

    __slots__ = ("icase", "low", "pattern")

    def __init__(self, pattern: str) -> None:
        assert not re.search(r"\\[DSWBAZ]", pattern), pattern  # lower() would change them
        self.pattern = pattern
        self.icase = re.compile(pattern, re.IGNORECASE)
        self.low = re.compile(pattern.lower())

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> Any:
        low = text.lower()
        end = len(text) if endpos is None else endpos
        if len(low) != len(text):
            return self.icase.search(text, pos, end)
        m = self.low.search(low, pos, end)
        return _Orig(m, text) if m is not None else None

    def finditer(self, text: str, pos: int = 0) -> Any:
        low = text.lower()
        if len(low) != len(text):
            return self.icase.finditer(text, pos)
        return (_Orig(m, text) for m in self.low.finditer(low, pos))


# --------------------------------------------------------------------------- numbers and units

_WORD_NUMBERS = {
    "en": 1, "ett": 1, "ei": 1, "eitt": 1, "one": 1, "to": 2, "two": 2, "tre": 3,
    "three": 3, "fire": 4, "four": 4, "fem": 5, "five": 5, "seks": 6, "six": 6,
    "sju": 7, "syv": 7, "seven": 7, "åtte": 8, "eight": 8,
}  # fmt: skip
_NUM = (
    r"(\d+(?:[.,]\d+)?|en|ett|ei|eitt|one|to|two|tre|three|fire|four|fem|five|seks|six"
    r"|sju|syv|seven|åtte|eight)"
)
_UNIT = r"(år|års|year|years|måned|måneder|måneders|månad|månader|månadar|mnd|month|months)\b"
_PAREN_NUM = re.compile(r"\b[a-zæøå]+\s*\((\d+)\)", re.IGNORECASE)  # "to (2) år" → "2 år"
_SEQUENCE = re.compile(rf"(\d+(?:\s*\+\s*\d+)+)\s*{_UNIT}", re.IGNORECASE)
_EXTENSION_WORDS = (
    r"(?:forleng\w*|opsjon\w*|option\w*|extension\w*|extend\w*|renewal\w*|fornye\w*|fornying\w*)"
)
_SINGLE = _CI(
    rf"{_EXTENSION_WORDS}[^.\d]{{0,60}}?(?:inntil|med|i|up to|for|ytterligere|ytterlegare)?"
    rf"\s*{_NUM}\s*{_UNIT}"
)
_STEP = _CI(rf"{_NUM}\s*{_UNIT}\s*(?:om|av|i|per)\s+gangen|{_NUM}\s*{_UNIT}\s*at a time")
_TOTAL = _CI(
    r"(?:maksimal\w*|maks\.?|samlet|samla|total\w*|maximum|max\.?)\s+"
    r"(?:[\wæøå]+\s+){0,2}?[\wæøå]*(?:lengde|periode|varighet|varigheit|løpetid|avtaletid|"
    r"kontraktstid|duration|term|period)\b(.{0,80}?)\b(?:er|på|blir|is|of|:)\s*"
    rf"{_NUM}\s*{_UNIT}"
)
_EXT_BEFORE = _CI(_EXTENSION_WORDS)
_DUR_LEAD = (
    r"(?:varighet|varigheit|løpetid|avtaleperiode\w*|kontraktsperiode\w*|avtaletid\w*"
    r"|periode|gjeld(?:er)?(?:\s+for)?|varer|inngås|inngåast|inngåes|duration|term)"
)
_DURATION = _CI(rf"\b{_DUR_LEAD}\b(?:[^.\d]{{0,25}}?)(?:på|er|for|i|:|of)?\s*{_NUM}\s*{_UNIT}")
_YEAR_RANGE = re.compile(r"(?<!\d)(20\d\d)\s*[-–—]\s*(20\d\d)(?!\d)")
_PERIOD_RANGE = _CI(
    r"\b(?:perioden|periode|avtaleperioden|for|fra|frå)\s+(20\d\d)\s*[-–—]\s*(20\d\d)(?!\d)"
)
_OUT_YEAR = _CI(r"\b(?:og\s+ut|ut|til\s+og\s+med|tom\.?)\s+(20\d\d)(?!\d)")
# A number before a unit of time, or a year: without one, a text states no period. Two
# patterns on the lower-cased text (a digit first is a fast scan; number words are rare).
_MAYBE_PERIOD = re.compile(r"[\d)]\s*(?:år|mån|mnd|year|month)|20\d\d")
_MAYBE_PERIOD_WORDS = re.compile(rf"\b(?:{_NUM[1:-1]})\s+(?:år|mån|mnd|year|month)")
MAX_TEXT_YEARS = 15  # a longer stated period is more likely a strategy span than a contract

_MONTHS = {
    "januar": 1, "jan": 1, "februar": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4, "apr": 4,
    "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "desember": 12, "des": 12, "january": 1, "february": 2, "march": 3, "may": 5, "june": 6,
    "july": 7, "october": 10, "oct": 10, "december": 12, "dec": 12,
}  # fmt: skip
_DATE_WORDS = (
    r"(\d{1,2})\.?\s*(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?\s+(\d{4})"
)
_DATE_NUM = r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?!\d)"
_DATE_ISO = r"(\d{4})-(\d{2})-(\d{2})"
_DATE = re.compile(rf"{_DATE_WORDS}|{_DATE_NUM}|{_DATE_ISO}", re.IGNORECASE)
# A start: the noun first (a fast scan on the lower-cased text), then what stands around it.
_START = re.compile(
    r"(oppstart(?:sdato|dato|en|s?tidspunkt\w*)?\b|kontraktsstart|avtalestart|iverksettelse|"
    r"ikraftsetjing|ikrafttredelse|"
    r"start\s*date|start\s+of\s+the\s+contract)"
    r"(?:\s+(?:er|blir|vil\s+være|is|på|av\s+avtalen|av\s+kontrakten))?"
    r"(?:\s*(?:dato|date))?\s*[:.]?\s*(?:fra\s+|den\s+|on\s+)?"
)
_START_QUALIFIER = re.compile(
    r"(planlagt|planlagd|ønsket|ønska|forventet|forventa|antatt|estimert|tentativ|planned|"
    r"expected|desired)\s*$"
)

# Amounts: a number with a currency or a unit of millions beside it ("NOK 65.000.000",
# "18 MNOK", "kr 82 013,-", "7 500 000,-", "1,5 mill. kr"). The number is found first (a
# digit starts it: a fast scan), then what stands right before and after it.
_NUMBER = re.compile(r"\d{1,3}(?:[ .\u00a0\u202f]\d{3})+(?:,\d{1,2})?|\d+(?:,\d{1,2})?")
_CURRENCY_BEFORE = re.compile(r"(?:nok|kr\.?|kroner)\s*$")
_UNIT_AFTER = re.compile(
    r"(?P<dash>\s*,-)?\s*(?P<unit>mnok|mill(?:ioner|ion)?\.?(?:\s*(?:kr\.?|kroner|nok))?|"
    r"mrd\.?|milliarder|kr\.?|kroner|nok)?(?![\wæøå])"
)
# A number with a currency or a unit of millions beside it (cheap test before _AMOUNT).
_MONEY_HINT = re.compile(r"\d\s*(?:,-|kr|nok|mnok|mill|mrd)|(?:nok|kr\.?)\s*\d")  # lower-cased
_MAX_WORDS = _CI(
    r"maks\w*|maksimal\w*|øvre\s+ramme|inntil|ceiling|maximum|max\.?|ramme\s*(?:på|er)\b"
)
_EST_WORDS = _CI(
    r"anslått\w*|anslag\w*|anslåtte|estimert\w*|antatt\w*|forventet\w*|forventa|ca\.|"
    r"omtrent|estimated|approximately"
)
_YEARLY = _CI(r"^\s*(?:eks\w*\.?\s*mva\.?\s*)?(?:per|pr\.?)\s*år|^\s*årlig")
_YEARLY_BEFORE = _CI(r"(?:(?:per|pr\.?)\s*år\b|årlig\w*|årleg\w*)[^.,\d]{0,12}$")

_FRAMEWORK = _CI(r"\bramme\s?-?avtal\w*|\bframework\s+agreements?\b")
_NOT_FRAMEWORK = _CI(
    r"\b(?:ikke|ikkje|ingen|not)\s+(?:en\s+|ei\s+|a\s+)?(?:ramme\s?-?avtal\w*|framework)"
)
_DIRECT = _CI(
    r"\bintensjonsk\w*ngj\w*|\buten\s+(?:forutgående\s+)?(?:kunngjøring|konkurranse)|"
    r"\butan\s+konkurranse|\bintensjon\s+om\s+å\s+(?:tildele|inngå)|\btil\s+intensjon\s+å\s+inngå|"
    r"\bintention\s+to\s+award|\bwithout\s+(?:prior\s+)?(?:publication|competition)"
)
_PROCEDURES = (
    (_CI(r"konkurranse\s+med\s+forhandling\s+uten\s+forutgående"), "neg-wo-call"),
    (_CI(r"konkurranse\s+med\s+forhandling|konkurranse\s+med\s+forhandlingar"),
     "neg-w-call"),
    (_CI(r"åpen\s+(?:anbuds)?konkurranse|open\s+procedure|open\s+tender"), "open"),
    (_CI(r"begrenset\s+(?:anbuds)?konkurranse|restricted\s+procedure"), "restricted"),
    (_CI(r"konkurransepreget\s+dialog|competitive\s+dialogue"), "comp-dial"),
    (_CI(r"innovasjonspartnerskap|innovation\s+partnership"), "innovation"),
)  # fmt: skip
_REGIMES = (
    (_CI(r"\bFOSA\b|forsvars-\s*og\s+sikkerhetsanskaffelser|defence\s+and\s+security"),
     "defence"),
    (_CI(r"forsyningsforskrift\w*|\butilities\s+directive"), "utilities"),
    (_CI(r"særlige\s+tjenester|særlege\s+tenester|helse-\s*og\s+sosialtjenester|"
                r"social\s+and\s+other\s+specific\s+services"), "light"),
)  # fmt: skip
_CANCELLED = _CI(r"\bavlys\w*|\bavbr[yu]\w*|\bannuller\w*|\bkansellert\w*|\bcancel\w*")
_RETENDER = _CI(
    r"\b(?:kunngjort\s+på\s+nytt|kunngjøres\s+på\s+nytt|lyses\s+ut\s+(?:på\s+)?nytt|"
    r"utlyst\s+på\s+nytt|ny\s+konkurranse|nye?\s+kunngjøring|re-?announced|re-?launched|"
    r"new\s+competition)\b"
)
# Cheap substring tests before the patterns: most texts say none of these things.
_CANCEL_HINTS = ("avlys", "avbr", "annuller", "kansell", "cancel", "på nytt", "ny konkurranse",
                 "ny kunngjøring", "nye kunngjøring", "announced", "launched",
                 "new competition")  # fmt: skip
_DIRECT_HINTS = ("intensjon", "uten forut", "uten konk", "utan konk", "intention", "without")
_PROCEDURE_HINTS = ("forhandling", "åpen ", "begrenset ", "procedure", "open tender", "dialog",
                    "innovasjon", "partnership")  # fmt: skip
_REGIME_HINTS = ("fosa", "forsvars", "forsynings", "utilities", "defence", "særlige", "særlege",
                 "sosialtjenester", "specific services")  # fmt: skip


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around ``text[start:end]`` (for a quote)."""
    left = max(text.rfind(". ", 0, start) + 2, 0) if text.rfind(". ", 0, start) >= 0 else 0
    right = text.find(".", end)
    right = len(text) if right < 0 else right + 1
    return " ".join(text[left:right].split())[:300]


_NEW_END = _CI(
    r"(?:forlenge[st]?|forlengelse|forlenget|prolonged|extended|ny\s+sluttdato|ny\s+utløpsdato|"
    r"varer\s+nå)[^.]{0,60}?(?:til|frem\s+til|fram\s+til|ut|until|to|:)\s*(?:og\s+med\s+)?"
)
_CRITERION_WEIGHT = re.compile(r"\(\s*(\d{1,3}(?:[.,]\d+)?)\s*%\s*\)|(?<![\d,.])(\d{1,3})\s*%")
_CRITERION_STOP = re.compile(r"(?:^|[.;:\n]|\d\)|\b[a-z]\))\s*", re.IGNORECASE)


_UNIT_WORDS = (" år", " mån", " mnd", " year", " month")
_EXT_HINTS = ("+", "forleng", "opsjon", "option", "extens", "extend", "renew", "forny")
_TOTAL_HINTS = ("maks", "samle", "samla", "total", "maxim", "max")
_DUR_HINTS = ("varig", "løpetid", "periode", "avtaletid", "gjeld", "varer", "inngå", "duration",
              "term")  # fmt: skip


def _has(low: str, hints: tuple[str, ...]) -> bool:
    for h in hints:  # noqa: SIM110 - a loop, not any(<generator>): this runs for every text
        if h in low:
            return True
    return False


def _maybe_period(text: str, low: str | None = None) -> bool:
    low = low if low is not None else text.lower()
    if _MAYBE_PERIOD.search(low):
        return True
    return _has(low, _UNIT_WORDS) and _MAYBE_PERIOD_WORDS.search(low) is not None


def _paren(text: str) -> str:
    return _PAREN_NUM.sub(r"\1", text) if "(" in text else text


def _months(number: str, unit: str) -> int:
    n = _WORD_NUMBERS.get(number.lower())
    value = Decimal(n) if n is not None else Decimal(number.replace(",", "."))
    factor = 12 if unit.lower().startswith(("år", "year")) else 1
    return int(value * factor)


def _clip(text: str, start: int, end: int, pad: int = 0) -> str:
    return " ".join(text[max(0, start - pad) : end + pad].split())[:200]
