"""The buyer's own words: facts read from a notice's free text, each with its quote.

Notices often say in words what the structured fields leave out: the base term and the
options ("varighet på 2 år ... opsjon på forlengelse ... 1 + 1 år"), the planned start
("planlagt oppstartsdato 9. mars 2023", "Ønsket oppstart 2.10.23"), a total period
("total mulig avtalelengde ... er 4 år"), a period in years ("for perioden 2023 - 2025",
"ViltHOP 2023-2027"), the estimated and the maximum value ("Rammeavtalenes samlede
maksimale verdi: NOK 65.000.000"), award weights ("3) Pris (30%)"), that it is a framework
agreement ("rammeavtale med én leverandør"), a direct award ("Intensjonskunngjøring"), the
procedure ("konkurranse med forhandling"), the regulation (FOSA) and, in result notices,
that the competition is cancelled and will be announced again.

Everything here is pure (text in, facts out). Every fact is a :class:`Quote`: the value,
the words it was read from, which text they came from (``where``: note, description,
options, ...) and a confidence (``high`` when the text states it plainly, ``medium`` when
it needs a reading, e.g. "ønsket oppstart" or a year-only period). Bokmål, nynorsk and
English; texts that name no number, unit or keyword are skipped by cheap tests first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Quote:
    """One fact read from text, with the words it came from."""

    value: Any
    quote: str
    where: str  # note | description | options | renewals | title | contract title | ...
    confidence: str = "high"  # high | medium | low

    def as_dict(self, fact: str) -> dict[str, Any]:
        value = self.value
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, tuple):
            value = list(value)
        return {
            "fact": fact,
            "value": value,
            "quote": self.quote,
            "source": f"text ({self.where})",
            "confidence": self.confidence,
        }


@dataclass(slots=True)
class TextFacts:
    """What a set of texts says about one contract or competition (None: not said)."""

    base_months: Quote | None = None  # "varighet på 2 år" → 24
    option_months: Quote | None = None  # total of the options: "1 + 1 år" → 24
    option_steps: tuple[int, ...] = ()  # each option in months: "1 + 1 år" → (12, 12)
    total_months: Quote | None = None  # "maksimale varighet er 4 år" → 48
    start: Quote | None = None  # planned start date
    period: Quote | None = None  # (first year, last year) of a year-only period
    estimated_value: Quote | None = None
    max_value: Quote | None = None
    max_values: tuple[Decimal, ...] = ()  # every amount the text calls a maximum
    value_per_year: Quote | None = None
    framework: Quote | None = None  # True, or False when the text denies it
    direct_award: Quote | None = None
    procedure: Quote | None = None  # eForms BT-105 code of the procedure the text states
    regime: Quote | None = None  # defence | utilities | light
    cancelled: Quote | None = None
    retender_signal: Quote | None = None
    new_end: Quote | None = None  # a modification's own new end date
    facts: dict[str, Quote] = field(default_factory=dict)  # all of the above by name

    def evidence(self) -> list[dict[str, Any]]:
        """The facts as rows for pages and exports (fact, value, quote, source, confidence)."""
        return [q.as_dict(name) for name, q in self.facts.items()]


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


# --------------------------------------------------------------------------- terms


def parse_extension(text: str | None, base_months: int | None = None) -> tuple[int, str] | None:
    """Months of options/renewals in a Norwegian or English text, with what was read.

    ``"opsjon på å forlenge ... med 1 + 1 år"`` → 24; ``"Forlengelse 2 måneder"`` → 2;
    ``"2+1+1 år"`` for a two-year base → 24 (the first term is the base period).
    Returns None when the text says nothing measurable.
    """
    found = _extension(text, base_months)
    return (found[0], found[1]) if found else None


def _extension(
    text: str | None, base_months: int | None = None
) -> tuple[int, str, tuple[int, ...], int, int] | None:
    """(months, words, each option in months, start, end) of the options a text states."""
    if not text or not _has(text.lower(), _EXT_HINTS):
        return None
    text = _paren(text)
    m = _SEQUENCE.search(text) if "+" in text else None
    if m:
        terms = [int(t) for t in re.split(r"\s*\+\s*", m.group(1))]
        factor = 12 if m.group(2).lower().startswith(("år", "year")) else 1
        before = text[max(0, m.start() - 80) : m.start()]
        if base_months is not None and terms[0] * factor == base_months:
            ext = terms[1:]
        elif _EXT_BEFORE.search(before):
            ext = terms
        else:
            ext = terms[1:]
        steps = tuple(t * factor for t in ext)
        return sum(steps), m.group(0).strip(), steps, m.start(), m.end()
    m = _SINGLE.search(text)
    if m:
        months = _months(m.group(1), m.group(2))
        step = _STEP.search(text, m.start())
        steps: tuple[int, ...] = (months,)
        if step is not None and step.start() - m.end() < 60:
            size = (
                _months(step.group(1), step.group(2))
                if step.group(1)
                else _months(step.group(3), step.group(4))
            )
            if 0 < size < months and months % size == 0:
                steps = (size,) * (months // size)
        return months, m.group(0).strip(), steps, m.start(), m.end()
    return None


def parse_total(text: str | None) -> int | None:
    """Months of a stated maximum total period ("maksimal samlet avtaleperiode er 4 år")."""
    found = _total(text)
    return found[0] if found else None


def _total(text: str | None) -> tuple[int, str] | None:
    if not text or not _has(text.lower(), _TOTAL_HINTS):
        return None
    text = _paren(text)
    m = _TOTAL.search(text)
    if m is None:
        return None
    return _months(m.group(2), m.group(3)), " ".join(m.group(0).split())


@dataclass(frozen=True)
class TextTerm:
    """A contract period stated in the notice's free text (title, BT-24 description)."""

    base_months: int | None = None  # "varighet på 2 år" → 24
    option_months: int | None = None  # "opsjon på forlengelse ... 1 + 1 år" → 24
    last_year: int | None = None  # "ViltHOP 2023-2027" → 2027
    evidence: str = ""
    first_year: int | None = None  # "ViltHOP 2023-2027" → 2023
    option_steps: tuple[int, ...] = ()
    total_months: int | None = None  # "maksimal varighet er 4 år" → 48


def _range(m: re.Match[str] | None) -> tuple[int, int, str] | None:
    if m is None:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    if first <= last <= first + MAX_TEXT_YEARS:
        return first, last, m.group(0).strip()
    return None


def parse_text_term(title: str | None, description: str | None) -> TextTerm | None:
    """The contract period a notice states in words, or None. Pure.

    Bokmål and nynorsk: "varighet på 2 år", "Avtalen gjeld for 3 år", "avtaleperiode 4 år",
    "2 + 1 + 1 år" (first term the base, the rest options), options from
    :func:`parse_extension` ("opsjon på forlengelse ... i inntil ytterlegare 3 år"), a total
    ("maksimal samlet avtaleperiode er 4 år": without a base, base = total − options); a
    year range in the title ("ViltHOP 2023-2027") or after "perioden"/"fra" in the
    description ("for perioden 2023 - 2025"); "ut 2025".
    """
    text = " ".join(t for t in (title, description) if t)
    if not _maybe_period(text):  # cheap test first: most texts name no period
        return None
    text = _paren(text)
    base: int | None = None
    evidence = ""
    m = _DURATION.search(text)
    if m:
        base, evidence = _months(m.group(1), m.group(2)), m.group(0).strip()
    seq = _SEQUENCE.search(text)
    if base is None and seq is not None and not _EXT_BEFORE.search(text[: seq.start()][-80:]):
        terms = [int(t) for t in re.split(r"\s*\+\s*", seq.group(1))]
        factor = 12 if seq.group(2).lower().startswith(("år", "year")) else 1
        base, evidence = terms[0] * factor, seq.group(0).strip()
    ext = _extension(text, base)
    options = ext[0] if ext and ext[0] > 0 else None
    total = _total(text)
    if base is None and total is not None and options and total[0] > options:
        base, evidence = total[0] - options, total[1]  # "1 + 1 år ... total 4 år" → 2 years
    first_year = last_year = None
    if base is None:
        found = _range(_YEAR_RANGE.search(title or "")) or _range(
            _PERIOD_RANGE.search(description or "")
        )
        if found is None:
            out = _OUT_YEAR.search(description or "")
            if out:
                last_year, evidence = int(out.group(1)), out.group(0).strip()
        else:
            first_year, last_year, evidence = found
    if base is None and last_year is None:
        return None
    if ext and options:
        evidence = f"{evidence}; {ext[1]}"
    return TextTerm(
        base_months=base,
        option_months=options,
        last_year=last_year,
        evidence=evidence[:120],
        first_year=first_year,
        option_steps=ext[2] if ext and options else (),
        total_months=total[0] if total else None,
    )


# --------------------------------------------------------------------------- dates


def parse_date_words(text: str, pos: int = 0) -> tuple[dt.date, int, int] | None:
    """The first date written at or right after ``pos`` ("9. mars 2023", "2.10.23",
    "02.10.2023", "2023-10-02"), with its span; None if none within 25 characters."""
    m = _DATE.search(text, pos)
    if m is None or m.start() - pos > 25:
        return None
    try:
        if m.group(1):
            day, month, year = int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3))
        elif m.group(4):
            day, month, year = int(m.group(4)), int(m.group(5)), int(m.group(6))
            if year < 100:
                year += 2000
        else:
            year, month, day = int(m.group(7)), int(m.group(8)), int(m.group(9))
        return dt.date(year, month, day), m.start(), m.end()
    except (ValueError, KeyError):
        return None


def planned_start(text: str | None) -> tuple[dt.date, str, str] | None:
    """The start a text states ("planlagt oppstartsdato 9. mars 2023", "Ønsket oppstart
    2.10.23"): (date, quote, confidence). Planned/fixed starts are ``high``; wished,
    expected or estimated ones ``medium``."""
    if not text:
        return None
    low = text.lower()
    if not _has_start_word(low) or len(low) != len(text):
        return None
    for m in _START.finditer(low):
        found = parse_date_words(text, m.end())
        if found is None:
            continue
        day, _, end = found
        q = _START_QUALIFIER.search(low, max(0, m.start() - 14), m.start())
        qualifier = q.group(1) if q is not None else ""
        confidence = "high" if qualifier in ("", "planlagt", "planlagd", "planned") else "medium"
        begin = q.start() if q is not None else m.start()
        return day, _clip(text, begin, end), confidence
    return None


def _has_start_word(low: str) -> bool:
    return "start" in low or "iverksett" in low or "ikraft" in low


# --------------------------------------------------------------------------- amounts


class _Span:
    """Start and end of an amount with its currency and unit."""

    __slots__ = ("_end", "_start")

    def __init__(self, start: int, end: int) -> None:
        self._start, self._end = start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


def parse_amounts(text: str | None) -> list[tuple[Decimal, str, int, int]]:
    """Amounts in NOK a text names, with their kind: (amount, kind, start, end), kind one
    of ``max``, ``estimated``, ``per_year``, ``amount``. Only numbers with a currency or a
    unit of millions beside them count (years and counts are not amounts)."""
    if not text or not _MONEY_HINT.search(text.lower()):
        return []
    out: list[tuple[Decimal, str, int, int]] = []
    low = text.lower()
    prev_end = 0
    prev_kind = "amount"
    for m in _NUMBER.finditer(text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in ",."):
            continue  # inside a word, a code or a decimal
        near = low[max(0, m.start() - 8) : m.end() + 14]
        if not ("kr" in near or "nok" in near or "mill" in near or "mrd" in near or ",-" in near):
            continue
        before = _CURRENCY_BEFORE.search(low, max(0, m.start() - 8), m.start())
        after_m = _UNIT_AFTER.match(low, m.end())
        unit = (after_m.group("unit") or "") if after_m else ""
        if before is None and not unit and not (after_m and after_m.group("dash")):
            continue
        number = m.group(0)
        whole, _, dec = number.partition(",")
        raw = re.sub(r"[ .\u00a0\u202f]", "", whole)
        try:
            value = Decimal(raw + ("." + dec if dec else ""))
        except InvalidOperation:
            continue
        if unit.startswith(("mnok", "mill")):
            value *= 1_000_000
        elif unit.startswith(("mrd", "milliard")):
            value *= 1_000_000_000
        if value < 1000:
            continue  # "kr 5,-" per unit prices and the like are no contract values
        start = before.start() if before is not None else m.start()
        end = after_m.end() if after_m is not None and (unit or after_m.group("dash")) else m.end()
        m = _Span(start, end)
        window = text[max(prev_end, m.start() - 80) : m.start()]
        after = text[m.end() : m.end() + 25]
        kind = "amount"
        last = -1
        for pattern, name in ((_MAX_WORDS, "max"), (_EST_WORDS, "estimated")):
            for k in pattern.finditer(window):
                if k.start() > last:
                    last, kind = k.start(), name
        if kind == "amount" and prev_end and ". " not in window:
            kind = prev_kind  # "ca. NOK 7 500 000,- per år, totalt NOK 30 000 000,-"
        prev_kind = kind
        if _YEARLY.search(after) or _YEARLY_BEFORE.search(window):
            kind = "per_year"
        out.append((value, kind, m.start(), m.end()))
        prev_end = m.end()
    return out


# --------------------------------------------------------------------------- award weights


def award_weights(text: str | None) -> list[tuple[str, float, str]]:
    """Award criteria with weights written in text ("1) Kvalitet, kreativitet, design (40%)
    ... 3) Pris (30%)"): [(name, weight, quote)], only when at least two criteria are named
    and the weights add up to 100 (else [])."""
    if not text or "%" not in text:
        return []
    out: list[tuple[str, float, str]] = []
    last_end = 0
    for m in _CRITERION_WEIGHT.finditer(text):
        weight = float((m.group(1) or m.group(2)).replace(",", "."))
        head = text[max(last_end, m.start() - 80) : m.start()]
        stops = list(_CRITERION_STOP.finditer(head))
        name = head[stops[-1].end() :] if stops else head
        name = re.sub(r"^\W+|[\s:–-]+$", "", name).strip()
        last_end = m.end()
        if not name or len(name) > 70 or not name[0].isalpha():
            continue
        out.append((name, weight, " ".join(text[m.start() - len(name) - 1 : m.end()].split())))
    if len(out) < 2 or abs(sum(w for _, w, _ in out) - 100) > 1:
        return []
    return out


# --------------------------------------------------------------------------- all facts


def read_facts(texts: Iterable[tuple[str, str | None]], *, modification: bool = False) -> TextFacts:
    """Every fact the ``texts`` state, as (where, text) pairs in order of trust (the lot's
    own texts first). The first text that states a fact gives it (later texts are not
    searched for a fact already found, except amounts: every maximum counts). Pure."""
    facts = TextFacts()
    found: dict[str, Quote] = {}

    def put(name: str, quote: Quote) -> None:
        if name not in found:
            found[name] = quote

    for where, text in texts:
        if not text or text.isspace():
            continue
        low = text.lower()
        if not found.keys() >= _TERM_FACTS:
            _read_term(text, where, put, low, found)
        if "start" not in found and _has_start_word(low):
            start = planned_start(text)
            if start is not None:
                put("start", Quote(start[0], start[1], where, start[2]))
        _read_values(text, where, put, facts, low)
        if "framework" not in found and ("ramme" in low or "framework" in low):
            fw = _FRAMEWORK.search(text)
            if fw is not None:
                neg = _NOT_FRAMEWORK.search(text)
                put("framework", Quote(neg is None, _clip(text, fw.start(), fw.end(), 40), where))
        if "direct_award" not in found and _has(low, _DIRECT_HINTS):
            da = _DIRECT.search(text)
            if da is not None:
                put("direct_award", Quote(True, _clip(text, da.start(), da.end(), 30), where))
        if "procedure" not in found and _has(low, _PROCEDURE_HINTS):
            for pattern, code in _PROCEDURES:
                pm = pattern.search(text)
                if pm is not None:
                    quote = _clip(text, pm.start(), pm.end())
                    put("procedure", Quote(code, quote, where, "medium"))
                    break
        if "regime" not in found and _has(low, _REGIME_HINTS):
            for pattern, regime in _REGIMES:
                rm = pattern.search(text)
                if rm is not None:
                    put("regime", Quote(regime, _clip(text, rm.start(), rm.end(), 30), where))
                    break
        if _has(low, _CANCEL_HINTS):
            cm = _CANCELLED.search(text) if "cancelled" not in found else None
            if cm is not None:
                put("cancelled", Quote(True, _clip(text, cm.start(), cm.end(), 60), where))
            rt = _RETENDER.search(text) if "retender_signal" not in found else None
            if rt is not None:
                put("retender_signal", Quote(True, _sentence(text, rt.start(), rt.end()), where))
        if modification and "new_end" not in found:
            for nm in _NEW_END.finditer(text):
                day = parse_date_words(text, nm.end())
                if day is not None:
                    put("new_end", Quote(day[0], _clip(text, nm.start(), day[2]), where))
                    break
    steps = found.pop("option_steps", None)
    if steps is not None:
        facts.option_steps = steps.value
    for name, quote in found.items():
        setattr(facts, name, quote)
    facts.facts = found
    return facts


_TERM_FACTS = frozenset({"base_months", "option_months", "total_months", "period"})


def _read_term(text: str, where: str, put: Any, low: str | None = None, found: Any = ()) -> None:
    if not _maybe_period(text, low):
        return
    norm = _paren(text)
    low = norm.lower()
    m = None
    if "base_months" not in found:
        m = _DURATION.search(norm) if _has(low, _DUR_HINTS) else None
        if m:
            quote = _clip(norm, m.start(), m.end())
            put("base_months", Quote(_months(m.group(1), m.group(2)), quote, where))
        seq = _SEQUENCE.search(norm) if m is None and "+" in norm else None
        if seq is not None and not _EXT_BEFORE.search(norm[: seq.start()][-80:]):
            terms = [int(t) for t in re.split(r"\s*\+\s*", seq.group(1))]
            factor = 12 if seq.group(2).lower().startswith(("år", "year")) else 1
            put("base_months", Quote(terms[0] * factor, seq.group(0).strip(), where))
    if "option_months" not in found:
        base = _months(m.group(1), m.group(2)) if m else None
        ext = _extension(norm, base)
        if ext is not None and ext[0] > 0:
            put("option_months", Quote(ext[0], _clip(norm, ext[3], ext[4], 30), where))
            put("option_steps", Quote(ext[2], ext[1], where))
    if "total_months" not in found:
        total = _total(norm)
        if total is not None:
            put("total_months", Quote(total[0], total[1], where))
    if "period" in found or "20" not in norm:
        return
    span = _range(_YEAR_RANGE.search(norm)) if "title" in where else None
    span = span or _range(_PERIOD_RANGE.search(norm))
    if span is not None:
        put("period", Quote((span[0], span[1]), span[2], where, "medium"))
    elif "title" not in where:
        out = _OUT_YEAR.search(norm)
        if out is not None:
            put("period", Quote((None, int(out.group(1))), out.group(0).strip(), where, "medium"))


def _read_values(text: str, where: str, put: Any, facts: TextFacts, low: str | None = None) -> None:
    if not _MONEY_HINT.search(low if low is not None else text.lower()):
        return
    maxima: list[Decimal] = list(facts.max_values)
    for value, kind, start, end in parse_amounts(text):
        quote = Quote(value, _clip(text, start, end, 40), where, "medium")
        if kind == "max":
            put("max_value", quote)
            maxima.append(value)
        elif kind == "estimated":
            put("estimated_value", quote)
        elif kind == "per_year":
            put("value_per_year", quote)
    facts.max_values = tuple(maxima)


def quotes_for(facts: TextFacts, names: Sequence[str]) -> list[dict[str, Any]]:
    """Evidence rows of the named facts that were found."""
    return [facts.facts[n].as_dict(n) for n in names if n in facts.facts]
