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

from tracker.notices.phrasings import (
    _CANCEL_HINTS,
    _CANCELLED,
    _CRITERION_STOP,
    _CRITERION_WEIGHT,
    _CURRENCY_BEFORE,
    _DATE,
    _DIRECT,
    _DIRECT_HINTS,
    _DUR_HINTS,
    _DURATION,
    _EST_WORDS,
    _EXT_BEFORE,
    _EXT_HINTS,
    _FRAMEWORK,
    _MAX_WORDS,
    _MONEY_HINT,
    _MONTHS,
    _NEW_END,
    _NOT_FRAMEWORK,
    _NUMBER,
    _OUT_YEAR,
    _PERIOD_RANGE,
    _PROCEDURE_HINTS,
    _PROCEDURES,
    _REGIME_HINTS,
    _REGIMES,
    _RETENDER,
    _SEQUENCE,
    _SINGLE,
    _START,
    _START_QUALIFIER,
    _STEP,
    _TOTAL,
    _TOTAL_HINTS,
    _UNIT_AFTER,
    _YEAR_RANGE,
    _YEARLY,
    _YEARLY_BEFORE,
    MAX_TEXT_YEARS,
    _clip,
    _has,
    _maybe_period,
    _months,
    _paren,
    _sentence,
)

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
        steps = (months,)
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
        span = _Span(start, end)
        window = text[max(prev_end, span.start() - 80) : span.start()]
        after = text[span.end() : span.end() + 25]
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
        out.append((value, kind, span.start(), span.end()))
        prev_end = span.end()
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
    for name, fact in found.items():
        setattr(facts, name, fact)
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
