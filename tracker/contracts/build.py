"""Contracts as the notices say them: one per awarded lot and winner group, with its ends.

A result notice gives one contract per awarded lot and winning tendering party (the
result's own structure: settled contract → lot tender → tendering party → tenderers;
``tracker.notices.records.ParsedResult``): parallel framework suppliers are one contract each,
with that tender's value. Every contract keeps:

- **value and its kind** (``value_kind``): ``tender`` (BT-720 of the winning tender),
  ``framework_max`` (the tender amount is the framework's ceiling: the text calls it the
  maximum, or it equals BT-709/BT-118; else BT-709/BT-118/BT-271 themselves) or
  ``estimated`` (BT-27). A maximum shared by parallel suppliers is ``value_shared``: it
  is the ceiling of them all, never to be summed or multiplied. The currency is kept.
- **framework** from the contracting-system code (BT-765), the contract's indicator
  (BT-768) or the text ("rammeavtale"; the text wins over a ``none`` code);
  **direct_award** for negotiated procedures without prior call (BT-105 ``neg-wo-call``),
  VEAT notices and intention notices ("intensjonskunngjøring"): no re-tender is assumed
  (``retender = not_assumed``); **regime** (classic, light, defence, utilities) from the
  regulatory domain, the notice type and the text (FOSA).
- **start**, first that applies: the lot's start (BT-536), a start stated in the text
  ("planlagt oppstartsdato 9. mars 2023"), the first year of a year-only period, the
  contract notice's start, the conclusion date (BT-145), the winner decision (BT-1451),
  the notice date (each after the first an assumption: medium confidence at most).
- **base end** (``end_date``, source in ``end_source``), first that applies:

  =======================  ================================================================
  ``explicit``             the lot's end date (BT-537)
  ``modification``         a modification notice's own new end
  ``*+duration``           start + the lot's duration (BT-36) − 1 day; the prefix names the
                           start (``start``, ``text_start``, ``conclusion``, ``award``,
                           ``notice``, ``expected``)
  ``cn_explicit``          the end date of the same lot in the contract notice
  ``cn_start+duration``    the contract notice's start + duration
  ``award+cn_duration``    start + the contract notice's duration
  ``text_duration``        the base term in the buyer's words ("varighet på 2 år"; or the
                           stated total less the options: "1 + 1 år ... total 4 år")
  ``text_years``           a year-only period ("for perioden 2023 - 2025"): 31 December
  ``framework_default``    a framework agreement with no stated term: no base end; the
                           latest end is the regime's maximum (4 years classic and light,
                           7 defence and security, 8 utilities; ``regimes`` rules)
  ``unlimited``            the notice says the duration is unlimited (BT-538 UNLIMITED)
  ``unknown``              none of the above
  =======================  ================================================================

- **options**: each option's end (``option_ends``) from BT-54/BT-57 or the text ("1 + 1
  år", "inntil ytterlegare 3 år, 1 år om gangen", "maksimal samlet avtaleperiode er 4
  år"), and the **latest end** (every option taken); a framework agreement never runs
  past its regime's maximum. The next decision point is the next option end
  (:func:`next_end`), not the last.
- **evidence**: one row per fact with its source (a field, a rule, or the text with its
  quote) and a confidence; ``end_confidence`` is ``high`` when start and term are stated,
  ``medium`` with one assumption (usually the start) or a year-only period, ``low`` when
  the end is a guess (legal maximum, a modification without content, no term at all).

Modification notices (subtypes 38-40, E6) update the contract they change (same
procedure, lot and supplier): their own new end or value replaces the old; one with an
empty modification section near or after the end (``extension_evidence_months``) is
evidence of an extension (``extension = probably_extended``: ask the buyer) and leaves
the latest end unknown. Without the original award stored, the modification notice gives
the contract itself.

A competition (contract notice) with no award seen seeds an **expected** contract from
its own lots (``expected``; ``expected_award`` = deadline + evaluation period): readers
show it once that date has passed. Derivation is idempotent: contracts are keyed by
``Contract.key`` and recomputed per procedure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from tracker.dates import add_months
from tracker.db.models import (
    Contract,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    ResultWinner,
    utcnow,
)
from tracker.linking.names import clean_name, is_valid_orgnr, match_key
from tracker.notices.notice_text import (
    Quote,
    TextFacts,
    TextTerm,
    _extension,
    _total,
    parse_extension,
    parse_text_term,
    parse_total,
    read_facts,
)
from tracker.notices.subtypes import MODIFICATION_SUBTYPES, RESULT_SUBTYPES, is_contract_notice

__all__ = [
    "ContractRules",
    "Period",
    "Term",
    "TextTerm",
    "add_duration",
    "add_months",
    "compute_term",
    "derive_contracts",
    "end_category",
    "next_end",
    "parse_extension",
    "parse_text_term",
    "parse_total",
    "regime_of",
    "value_of",
]

FRAMEWORK_DEFAULT_YEARS = 4
FRAMEWORK_CODES = frozenset({"fa-wo-rc", "fa-w-rc", "fa-mix"})
VEAT_SUBTYPES = frozenset({"25", "26", "27", "28"})
ASSUMED_STARTS = frozenset({"conclusion", "award", "notice", "expected"})
# end_source -> the category ``bench/derive.py`` counts (explicit, duration, text, default,
# unknown).
END_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "explicit": "explicit",
        "cn_explicit": "explicit",
        "modification": "explicit",
        "agreement_page": "explicit",
        "import": "explicit",
        "manual": "explicit",
        "text_duration": "text",
        "text_years": "text",
        "framework_default": "default",
        "unlimited": "unknown",
        "unknown": "unknown",
    }
)
CHUNK = 2000
# One expanding parameter for the IN lists of a batch: the statement is built and cached
# once, not coerced element by element for every chunk.
_K = bindparam("k", expanding=True)
# Every column a derived row sets, so that one executemany statement fits all rows.
_CONTRACT_DEFAULTS: dict[str, Any] = {
    "external_ref": None,
    "url": None,
    "updated_at": None,
}


def end_category(source: str | None) -> str:
    """explicit | duration | text | default | unknown: what kind of source an end has."""
    if not source:
        return "unknown"
    if source in END_CATEGORIES:
        return END_CATEGORIES[source]
    return "duration" if "duration" in source else "unknown"


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class ThresholdPeriod:
    """The thresholds in force from ``valid_from`` to ``valid_to`` (NOK, excl. VAT)."""

    name: str  # the rules key: period_2022, period_2024
    valid_from: dt.date
    valid_to: dt.date
    values: Mapping[str, int]
    sources: Mapping[str, str]


@dataclass(frozen=True)
class ContractRules:
    """The numbers derivation needs (``regimes``, ``durations`` and ``thresholds.period_*``
    in tracker/rules.toml)."""

    framework_max_years: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(
            {"classic": 4, "light": 4, "defence": 7, "utilities": 8}
        )
    )
    evaluation_days: int = 75
    standstill_days: int = 10
    intention_standstill_days: int = 10
    extension_evidence_months: int = 6
    thresholds: tuple[ThresholdPeriod, ...] = ()

    def max_years(self, regime: str | None) -> int:
        return int(self.framework_max_years.get(regime or "classic", FRAMEWORK_DEFAULT_YEARS))

    def eea_threshold(
        self, day: dt.date | None, regime: str | None, nature: str | None, state: bool
    ) -> tuple[int, str] | None:
        """The EEA threshold in force on ``day`` for a contract of this regime and nature
        (works; utilities, defence and social / specific services have their own; goods
        and services of state buyers a lower one) and the rule it comes from; None when no
        period of the rules covers ``day``."""
        if day is None:
            return None
        period = next((p for p in self.thresholds if p.valid_from <= day <= p.valid_to), None)
        if period is None:
            return None
        if (nature or "") == "works":
            key = "eea_works"
        elif regime == "utilities":
            key = "eea_utilities_goods_services"
        elif regime == "defence":
            key = "eea_defence_goods_services"
        elif regime == "light":
            key = "eea_social_services"
        else:
            key = "eea_goods_services_state" if state else "eea_goods_services_other"
        value = int(period.values[key])
        amount = f"{value:,}".replace(",", " ")
        basis = (
            f"thresholds.{period.name}.{key} NOK {amount} ({period.valid_from} – "
            f"{period.valid_to}; {period.sources.get(key, '')})"
        )
        return value, basis


def contract_rules(rules: Any = None) -> ContractRules:
    """``ContractRules`` from the rules in force (``tracker.rules.load_rules``)."""
    if rules is None:
        from tracker.rules import load_rules

        rules = load_rules()
    get = rules.value
    periods = []
    names = sorted({k.split(".")[1] for k in rules.entries if k.startswith("thresholds.period_")})
    for name in names:
        prefix = f"thresholds.{name}."
        entries = {k[len(prefix) :]: r for k, r in rules.entries.items() if k.startswith(prefix)}
        periods.append(
            ThresholdPeriod(
                name=name,
                valid_from=dt.date.fromisoformat(entries.pop("valid_from").value),
                valid_to=dt.date.fromisoformat(entries.pop("valid_to").value),
                values=MappingProxyType({k: r.value for k, r in entries.items()}),
                sources=MappingProxyType({k: r.source for k, r in entries.items()}),
            )
        )
    return ContractRules(
        thresholds=tuple(periods),
        framework_max_years=MappingProxyType(dict(get("regimes.framework_max_years"))),
        evaluation_days=int(get("durations.evaluation_days")),
        standstill_days=int(get("durations.standstill_days")),
        intention_standstill_days=int(get("regimes.intention_standstill_days")),
        extension_evidence_months=int(get("regimes.extension_evidence_months")),
    )


# --------------------------------------------------------------------------- pure date rules


@dataclass(frozen=True)
class Period:
    """What one notice says about the period of a lot."""

    start: dt.date | None = None
    end: dt.date | None = None
    duration_value: Decimal | float | None = None
    duration_unit: str | None = None  # DAY|WEEK|MONTH|YEAR, or UNLIMITED
    max_renewals: int | None = None
    renewal_text: str | None = None
    options_text: str | None = None

    @property
    def has_duration(self) -> bool:
        return (
            self.duration_value is not None
            and self.duration_unit is not None
            and self.duration_unit.upper() != "UNLIMITED"
        )

    @property
    def unlimited(self) -> bool:
        return (self.duration_unit or "").upper() == "UNLIMITED"


def _months_end(start: dt.date, months: int) -> dt.date:
    """Last day of a period of ``months`` starting on ``start``."""
    return add_months(start, months) - dt.timedelta(days=1)


def add_duration(anchor: dt.date, value: Decimal | float, unit: str) -> dt.date | None:
    """Last day of a period of ``value`` ``unit`` starting on ``anchor`` (None if unknown unit)."""
    v = Decimal(str(value))
    unit = (unit or "").upper()
    if unit in {"YEAR", "ANN"}:
        months = v * 12
    elif unit in {"MONTH", "MON"}:
        months = v
    elif unit in {"WEEK", "WEE"}:
        return anchor + dt.timedelta(days=int(v * 7)) - dt.timedelta(days=1)
    elif unit in {"DAY", "DAYS"}:
        return anchor + dt.timedelta(days=int(v)) - dt.timedelta(days=1)
    else:
        return None
    whole = int(months)
    end = add_months(anchor, whole)
    frac = months - whole
    if frac:
        end += dt.timedelta(days=int(frac * 30))
    return end - dt.timedelta(days=1)


def _period_months(p: Period | None) -> int | None:
    if p is None or not p.has_duration:
        return None
    unit = (p.duration_unit or "").upper()
    v = Decimal(str(p.duration_value))
    if unit == "YEAR":
        return int(v * 12)
    if unit == "MONTH":
        return int(v)
    return None


def next_end(
    end: dt.date | None,
    option_ends: Sequence[dt.date | str] | None,
    latest: dt.date | None,
    today: dt.date,
) -> dt.date | None:
    """The next decision point on ``today``: the base end, else the next option's end, else
    the latest end, whichever comes first on or after ``today``; None when all have passed
    (or nothing is known)."""
    points: list[dt.date] = []
    for d in (end, *(option_ends or ()), latest):
        if isinstance(d, str):
            d = dt.date.fromisoformat(d)
        if d is not None:
            points.append(d)
    coming = sorted(d for d in points if d >= today)
    return coming[0] if coming else None


@dataclass
class Term:
    """The period of one contract: start, base end, each option's end, latest end."""

    start: dt.date | None = None
    start_source: str = "unknown"
    end: dt.date | None = None
    end_source: str = "unknown"
    option_ends: list[dt.date] = field(default_factory=list)
    latest: dt.date | None = None
    latest_source: str | None = None
    confidence: str = "low"
    options_text: str | None = None
    max_renewals: int | None = None  # BT-58
    evidence: list[dict[str, Any]] = field(default_factory=list)


_START_LABELS = {
    "explicit": ("start+duration", "BT-536 start date"),
    "text": ("text_start+duration", "start stated in the text"),
    "text_years": ("start+duration", "first year of the period in the text"),
    "cn_explicit": ("cn_start+duration", "start date in the contract notice"),
    "conclusion": ("conclusion+duration", "BT-145 contract conclusion date (assumed start)"),
    "award": ("award+duration", "BT-1451 winner decision date (assumed start)"),
    "notice": ("notice+duration", "notice date (assumed start: no conclusion or award date)"),
    "expected": ("expected+duration", "expected award + standstill (no award seen)"),
}


def _ev(fact: str, value: Any, source: str, confidence: str, quote: str | None = None) -> dict:
    if isinstance(value, dt.date):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = float(value)
    row = {"fact": fact, "value": value, "source": source, "confidence": confidence}
    if quote:
        row["quote"] = quote
    return row


def compute_term(
    *,
    lot: Period | None,
    cn_lot: Period | None = None,
    conclusion: dt.date | None = None,
    award: dt.date | None = None,
    notice_date: dt.date | None = None,
    framework: bool = False,
    facts: TextFacts | None = None,
    max_years: int = FRAMEWORK_DEFAULT_YEARS,
    expected_start: dt.date | None = None,
) -> Term:
    """Start, base end, option ends and latest end of one contract, with evidence. Pure.

    ``lot`` is what the result (or modification) notice says, ``cn_lot`` what the contract
    notice of the procedure says about the same lot, ``facts`` what the texts say
    (:func:`tracker.notices.notice_text.read_facts`). See the module docstring for the order.
    """
    lot = lot or Period()
    facts = facts or TextFacts()
    t = Term(max_renewals=lot.max_renewals or (cn_lot.max_renewals if cn_lot else None))
    ev = t.evidence
    unlimited = lot.unlimited or (
        not lot.has_duration and lot.end is None and cn_lot is not None and cn_lot.unlimited
    )

    # Start.
    period = facts.period.value if facts.period is not None else None
    if lot.start:
        t.start, t.start_source, sconf = lot.start, "explicit", "high"
        ev.append(_ev("start", lot.start, "BT-536 start date", "high"))
    elif facts.start is not None:
        q = facts.start
        t.start, t.start_source, sconf = q.value, "text", q.confidence
        ev.append(q.as_dict("start"))
    elif period is not None and period[0] is not None:
        t.start, t.start_source, sconf = dt.date(period[0], 1, 1), "text_years", "medium"
        ev.append(facts.period.as_dict("period"))  # type: ignore[union-attr]
    elif cn_lot is not None and cn_lot.start:
        t.start, t.start_source, sconf = cn_lot.start, "cn_explicit", "high"
        ev.append(_ev("start", cn_lot.start, "start date in the contract notice", "high"))
    else:
        for day, source in (
            (conclusion, "conclusion"),
            (award, "award"),
            (expected_start, "expected"),
            (notice_date, "notice"),
        ):
            if day is not None:
                t.start, t.start_source = day, source
                ev.append(_ev("start", day, _START_LABELS[source][1], "medium"))
                break
        sconf = "low" if t.start_source == "expected" else "medium"

    # Base end.
    months: int | None = None
    start = t.start
    text_base = facts.base_months
    if text_base is None and facts.total_months is not None and facts.option_months is not None:
        total, options = facts.total_months.value, facts.option_months.value
        if total > options:
            quote = f"{facts.option_months.quote} … {facts.total_months.quote}"
            text_base = Quote(total - options, quote, facts.total_months.where)
    if unlimited:
        t.end_source = "unlimited"
        ev.append(_ev("duration", "unlimited", "BT-538 duration: UNLIMITED", "high"))
    elif lot.end:
        t.end, t.end_source = lot.end, "explicit"
        ev.append(_ev("base_end", lot.end, "BT-537 end date", "high"))
    elif facts.new_end is not None:
        t.end, t.end_source = facts.new_end.value, "modification"
        ev.append(facts.new_end.as_dict("new_end"))
    elif lot.has_duration and start is not None:
        t.end = add_duration(start, lot.duration_value, lot.duration_unit)  # type: ignore[arg-type]
        t.end_source = _START_LABELS.get(t.start_source, ("start+duration", ""))[0]
        months = _period_months(lot)
        ev.append(
            _ev("duration", f"{lot.duration_value:g} {lot.duration_unit}", "BT-36 duration", "high")
        )
    elif cn_lot is not None and cn_lot.end:
        t.end, t.end_source = cn_lot.end, "cn_explicit"
        ev.append(_ev("base_end", cn_lot.end, "end date in the contract notice", "high"))
    elif cn_lot is not None and cn_lot.has_duration and start is not None:
        t.end = add_duration(start, cn_lot.duration_value, cn_lot.duration_unit)  # type: ignore[arg-type]
        own_start = t.start_source in ("explicit", "cn_explicit", "text")
        t.end_source = "cn_start+duration" if own_start else "award+cn_duration"
        months = _period_months(cn_lot)
        ev.append(
            _ev(
                "duration",
                f"{cn_lot.duration_value:g} {cn_lot.duration_unit}",
                "BT-36 duration in the contract notice",
                "high",
            )
        )
    elif text_base is not None and start is not None:
        months = int(text_base.value)
        t.end, t.end_source = _months_end(start, months), "text_duration"
        ev.append(text_base.as_dict("base_term_months"))
    elif (
        facts.total_months is not None
        and facts.option_months is None
        and start is not None
        and not lot.max_renewals
    ):
        months = int(facts.total_months.value)
        t.end, t.end_source = _months_end(start, months), "text_duration"
        ev.append(facts.total_months.as_dict("total_months"))
    elif period is not None:
        t.end, t.end_source = dt.date(period[1], 12, 31), "text_years"
        if t.start_source != "text_years":
            ev.append(facts.period.as_dict("period"))  # type: ignore[union-attr]
    elif framework and start is not None:
        t.end_source = "framework_default"
    if t.end is not None:
        ev.append(_ev("base_end", t.end, t.end_source, "high"))

    # Options and the latest end.
    if t.end is not None:
        _options(t, lot, cn_lot, facts, months, start, framework, max_years)
    elif t.end_source == "framework_default" and start is not None:
        t.latest = _months_end(start, 12 * max_years)
        t.latest_source = f"framework_default ({max_years} years)"
        ev.append(
            _ev(
                "latest_end",
                t.latest,
                f"rule: a framework agreement runs at most {max_years} years (regime)",
                "low",
            )
        )

    # Confidence of the ends.
    if unlimited:
        t.confidence = "high" if t.start_source in ("explicit", "cn_explicit") else "medium"
    elif t.end is None:
        t.confidence = "low"
    elif t.end_source == "text_years" or t.start_source == "text_years":
        t.confidence = "medium"
    elif t.start_source in ("explicit", "cn_explicit") or t.end_source in (
        "explicit",
        "cn_explicit",
    ):
        t.confidence = "high"
    elif t.start_source == "text":
        t.confidence = sconf
    else:
        t.confidence = "low" if t.start_source == "expected" else "medium"
    return t


def _options(
    t: Term,
    lot: Period,
    cn_lot: Period | None,
    facts: TextFacts,
    months: int | None,
    start: dt.date | None,
    framework: bool,
    max_years: int,
) -> None:
    """Each option's end and the latest end of a term with a known base end."""
    assert t.end is not None
    steps: list[int] = []
    total: int | None = None
    label = ""
    texts = [(lot.options_text, "options"), (lot.renewal_text, "renewals")]
    if cn_lot is not None and not (lot.options_text or lot.renewal_text):
        texts += [(cn_lot.options_text, "options"), (cn_lot.renewal_text, "renewals")]
    for text, what in texts:
        ext = _extension(text, months)
        tot = _total(text)
        if ext is None and tot is None:
            continue
        if ext is not None and ext[0] > 0:
            steps, label = list(ext[2]), f"{what}: {ext[1]}"
        if tot is not None:
            total = tot[0]
            label = label or f"{what}: {tot[1]}"
        t.options_text = text
        t.evidence.append(
            _ev("options", text, "BT-54 options" if what == "options" else "BT-57 renewals", "high")
        )
        break
    if not steps and total is None:
        if facts.option_months is not None:
            steps = list(facts.option_steps) or [int(facts.option_months.value)]
            label = f"text: {facts.option_months.quote}"
            t.options_text = facts.option_months.quote
            t.evidence.append(facts.option_months.as_dict("options_months"))
        if facts.total_months is not None:
            total = int(facts.total_months.value)
            t.evidence.append(facts.total_months.as_dict("total_months"))
            label = label or f"text: {facts.total_months.quote}"
    if total is not None and months is not None and total > months:
        remaining = total - months
        size = steps[0] if steps and steps[0] <= remaining else remaining
        steps = [size] * (remaining // size) + ([remaining % size] if remaining % size else [])
    elif total is not None and start is not None and not steps:
        latest = _months_end(start, total)
        if latest > t.end:
            steps = []
            t.option_ends = [latest]
    ends: list[dt.date] = list(t.option_ends)
    day = t.end
    for step in steps:
        day = _months_end(day + dt.timedelta(days=1), step)
        ends.append(day)
    latest = ends[-1] if ends else t.end
    source = (
        label[:64] if ends else ("renewals_unknown_length" if lot.max_renewals else "no_options")
    )
    if framework and start is not None and ends:
        cap = _months_end(start, 12 * max_years)
        if latest > cap:
            ends = [d for d in ends if d <= cap]
            if (not ends or ends[-1] < cap) and cap > t.end:
                ends.append(cap)
            latest = max(cap, t.end)
            source = f"{label[:40]} (capped at {max_years} years)"
    t.option_ends = ends
    t.latest, t.latest_source = latest, source
    if ends:
        t.evidence.append(_ev("latest_end", latest, source, "high"))


# --------------------------------------------------------------------------- value, regime


def _same(a: Decimal | None, b: Decimal | None) -> bool:
    """Two amounts that are the same figure (within 0.5 %: "18 MNOK" vs 18 000 000)."""
    if a is None or b is None or not a or not b:
        return False
    return abs(a - b) <= abs(b) * Decimal("0.005")


@dataclass(frozen=True)
class Value:
    amount: Decimal | None
    currency: str | None
    kind: str | None  # tender | framework_max | estimated
    shared: bool
    evidence: list[dict[str, Any]]


def value_of(
    *,
    tender: Decimal | None,
    currency: str | None,
    inferred: bool = False,
    result_max: Decimal | None = None,
    notice_max: Decimal | None = None,
    single_award: bool = True,
    lot_max: Decimal | None = None,
    procedure_max: Decimal | None = None,
    estimate: Decimal | None = None,
    estimate_currency: str | None = None,
    parallel: int = 1,
    siblings_same_amount: bool = False,
    framework: bool = False,
    facts: TextFacts | None = None,
) -> Value:
    """The contract's value and its kind (see the module docstring). Pure.

    ``result_max`` is BT-709 of the lot result, ``notice_max`` BT-118 (meaningful per
    contract only when the notice awards one lot: ``single_award``), ``lot_max`` and
    ``procedure_max`` BT-271, ``estimate`` BT-27. ``parallel`` winner groups on the same
    lot carrying ``siblings_same_amount`` share one ceiling: ``shared``.
    """
    facts = facts or TextFacts()
    ev: list[dict[str, Any]] = []
    text_max = next((m for m in facts.max_values if _same(tender, m)), None)
    structured_max = result_max if result_max is not None else notice_max if single_award else None
    if tender is not None:
        amount, kind = tender, "tender"
        source = "BT-720 tender value" + (" (inferred, see warnings)" if inferred else "")
        if text_max is not None:
            kind = "framework_max"
            quote = facts.max_value.quote if facts.max_value is not None else None
            for q in facts.facts.values():
                if isinstance(q.value, Decimal) and _same(q.value, tender):
                    quote = q.quote
            ev.append(
                _ev("value", tender, f"{source}; the text calls it the maximum", "high", quote)
            )
        elif _same(tender, structured_max):
            kind = "framework_max"
            ev.append(
                _ev("value", tender, f"{source} = the framework maximum (BT-709/BT-118)", "high")
            )
        elif parallel > 1 and siblings_same_amount and framework:
            kind = "framework_max"
            ev.append(
                _ev(
                    "value",
                    tender,
                    f"{source}, the same on all {parallel} parallel suppliers: the shared ceiling",
                    "medium",
                )  # fmt: skip
            )
        else:
            ev.append(_ev("value", tender, source, "high"))
    elif structured_max is not None:
        # the maximum's own currency (eForms keeps it on the result, else the notice)
        amount, kind, currency = structured_max, "framework_max", currency or estimate_currency
        ev.append(_ev("value", amount, "framework maximum (BT-709/BT-118)", "high"))
    elif (lot_max or procedure_max) is not None:
        amount, kind = lot_max or procedure_max, "framework_max"
        currency = currency or estimate_currency  # BT-271's currency is kept on the lot
        ev.append(_ev("value", amount, "BT-271 framework maximum value", "high"))
    elif estimate is not None:
        amount, kind, currency = estimate, "estimated", estimate_currency or currency
        ev.append(_ev("value", amount, "BT-27 estimated value", "high"))
    else:
        amount, kind = None, None
    shared = bool(
        amount is not None and parallel > 1 and (siblings_same_amount or kind != "tender")
    )
    if shared:
        ev.append(
            _ev(
                "value_shared",
                True,
                f"one ceiling for {parallel} parallel suppliers: never summed",
                "high",
            )  # fmt: skip
        )
    return Value(amount, currency, kind, shared, ev)


LIGHT_NOTICE_TYPES = frozenset({"cn-social", "can-social", "pin-cfc-social", "pin-social"})
NATIONAL_SUBTYPES = frozenset({"N4", "N16", "N29", "E1", "E2", "E3", "E4", "E5", "E6"})


def regime_of(
    regulatory_domain: str | None,
    notice_type: str | None,
    subtype: str | None,
    facts: TextFacts | None = None,
) -> tuple[str, bool, str]:
    """(regime, national, basis): ``classic`` (2014/24), ``light`` (social and other
    specific services: the -social notice types or the text), ``defence`` (2009/81 or a
    text citing FOSA, which wins), ``utilities`` (2014/25); ``national`` for notices
    below the EEA thresholds (regulatory domain OTHER, national subtypes). Pure."""
    rd = (regulatory_domain or "").upper()
    national = rd == "OTHER" or (subtype or "").upper() in NATIONAL_SUBTYPES
    text = facts.regime if facts is not None else None
    if text is not None and text.value == "defence":
        return "defence", national, f"text: {text.quote}"
    if rd == "32009L0081":
        return "defence", national, "regulatory domain 2009/81 (FOSA)"
    if rd == "32014L0025":
        return "utilities", national, "regulatory domain 2014/25 (forsyningsforskriften)"
    if (notice_type or "") in LIGHT_NOTICE_TYPES:
        return "light", national, f"notice type {notice_type}"
    if text is not None:
        return str(text.value), national, f"text: {text.quote}"
    return "classic", national, "regulatory domain 2014/24 (FOA)" if rd else "classic (default)"


def not_awarded(result_codes: Sequence[str | None], facts: TextFacts | None) -> dict[str, Any]:
    """Why a result notice that awards nothing awarded nothing, and whether the buyer says
    it will try again (a re-tender signal): {reason, quote, retender_signal}. Pure."""
    facts = facts or TextFacts()
    codes = [c for c in result_codes if c]
    if facts.cancelled is not None:
        reason = "cancelled"
    elif "clos-nw" in codes:
        reason = "no winner chosen, competition closed (clos-nw)"
    elif "open-nw" in codes:
        reason = "no winner chosen yet, competition still open (open-nw)"
    else:
        reason = "no award in the result notice"
    signal = facts.retender_signal
    return {
        "reason": reason,
        "quote": facts.cancelled.quote if facts.cancelled is not None else None,
        "retender_signal": signal.quote if signal is not None else None,
    }


def unawarded(session: Session, notice_pk: int) -> dict[str, Any] | None:
    """For a result notice that awards nothing (every lot result without a winner, or no
    lot result at all, e.g. a cancelled competition): :func:`not_awarded` with the
    notice's texts; None for any other notice. A re-tender signal for the bid team."""
    n = session.get(Notice, notice_pk)
    if n is None or not _is_result(n) or (n.subtype or "") in MODIFICATION_SUBTYPES:
        return None
    results = list(session.scalars(select(LotResult).where(LotResult.notice_pk == n.id)))
    if any(r.winners for r in results):
        return None
    texts: list[tuple[str, str | None]] = [("note", n.note), ("description", n.description)]
    for lot in session.scalars(select(Lot).where(Lot.notice_pk == n.id).order_by(Lot.position)):
        texts += [("lot note", lot.note), ("lot description", lot.description)]
    texts.append(("title", n.title))
    info = not_awarded([r.result_code for r in results], read_facts(texts))
    info["notice_pk"] = n.id
    return info


# --------------------------------------------------------------------------- derivation


@dataclass
class _Desired:
    key: str
    values: dict[str, Any]
    buyers: list[dict[str, Any]]
    suppliers: list[dict[str, Any]]


def _party(
    role: str, orgnr: str | None, name: str | None, organisation_id: int | None
) -> dict[str, Any]:
    valid = orgnr if orgnr and is_valid_orgnr(orgnr) else None
    return {
        "role": role,
        "party_key": valid or ("name:" + match_key(name))[:600],
        "organisation_id": organisation_id,
        "name": clean_name(name)[:500] or None,
        "orgnr": valid,
    }


def _period_of(lot: Any) -> Period | None:
    if lot is None:
        return None
    return Period(
        start=lot.start_date,
        end=lot.end_date,
        duration_value=lot.duration_value,
        duration_unit=lot.duration_unit,
        max_renewals=lot.max_renewals,
        renewal_text=lot.renewal_description,
        options_text=lot.options_description,
    )


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_NOTICE_COLS = (
    Notice.id,
    Notice.notice_id,
    Notice.procedure_id,
    Notice.subtype,
    Notice.notice_type,
    Notice.document_type,
    Notice.issue_date,
    Notice.title,
    Notice.description,
    Notice.note,
    Notice.main_cpv,
    Notice.previous_notice_ids,
    Notice.is_test,
    Notice.procedure_type,
    Notice.regulatory_domain,
    Notice.contract_nature,
    Notice.estimated_value,
    Notice.currency,
    Notice.framework_max_value,
    Notice.result_framework_max,
    Notice.modification_description,
)
_LOT_COLS = (
    Lot.notice_pk,
    Lot.lot_id,
    Lot.title,
    Lot.description,
    Lot.note,
    Lot.main_cpv,
    Lot.framework_code,
    Lot.duration_value,
    Lot.duration_unit,
    Lot.start_date,
    Lot.end_date,
    Lot.max_renewals,
    Lot.renewal_description,
    Lot.options_description,
    Lot.estimated_value,
    Lot.currency,
    Lot.framework_max_value,
    Lot.submission_deadline,
    Lot.request_deadline,
)
_RESULT_COLS = (
    LotResult.id,
    LotResult.notice_pk,
    LotResult.result_id,
    LotResult.lot_id,
    LotResult.winner_chosen,
    LotResult.result_code,
    LotResult.tender_value,
    LotResult.currency,
    LotResult.conclusion_date,
    LotResult.award_date,
    LotResult.framework,
    LotResult.contract_id,
    LotResult.contract_title,
    LotResult.tender_id,
    LotResult.party_id,
    LotResult.framework_max_value,
    LotResult.value_inferred,
    LotResult.lot_mapped,
    LotResult.parallel,
)


def derive_contracts(
    session: Session, notice_pks: Iterable[int] | None = None, *, rules: Any = None
) -> dict[str, Any]:
    """(Re)derive contracts for the procedures of the given notices (default: all); flushes.

    Every procedure touched is recomputed whole (its award, contract and modification
    notices together), so the order notices arrive in does not matter and running it
    twice changes nothing. Contract accounts are refreshed from the notices' links.
    Returns counts: procedures, contracts, created, updated, removed, modified, expected;
    and ``contract_ids`` of every contract written.
    """
    session.flush()  # the reads below bypass the session's autoflush
    conn = session.connection()
    if notice_pks is None:
        given = conn.execute(select(Notice.id, Notice.procedure_id, Notice.notice_id)).all()
    else:
        pks = sorted(set(notice_pks))
        given = []
        for chunk in _chunks(pks):
            given.extend(
                conn.execute(
                    select(Notice.id, Notice.procedure_id, Notice.notice_id).where(
                        Notice.id.in_(_K)
                    ),
                    {"k": list(chunk)},
                ).all()
            )
    procedures = sorted({p for _, p, _ in given if p})
    lone = sorted({pk for pk, p, _ in given if not p})
    notices: list[Any] = []
    for chunk in _chunks(procedures):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(
                    Notice.procedure_id.in_(_K), Notice.is_latest.is_(True)
                ),
                {"k": list(chunk)},
            ).all()
        )
    for chunk in _chunks(lone):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(Notice.id.in_(_K), Notice.is_latest.is_(True)),
                {"k": list(chunk)},
            ).all()
        )
    counts: dict[str, Any] = dict.fromkeys(
        ("procedures", "contracts", "created", "updated", "removed", "modified", "expected"), 0
    )
    counts["procedures"] = len(procedures) + len(lone)
    desired = _desired_contracts(session, notices, counts, contract_rules(rules))
    # The contracts that exist now for these procedures (or lone notices).
    existing: dict[str, Contract] = {}
    for chunk in _chunks(procedures):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.procedure_id.in_(_K)),
            {"k": list(chunk)},
        ):
            existing[c.key] = c
    for chunk in _chunks(lone):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.notice_pk.in_(_K)),
            {"k": list(chunk)},
        ):
            existing[c.key] = c
    for chunk in _chunks(sorted(desired)):
        for c in session.scalars(select(Contract).where(Contract.key.in_(_K)), {"k": list(chunk)}):
            existing[c.key] = c
    stale = [c.id for k, c in existing.items() if k not in desired and c.source == "notice"]
    if stale:
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(stale)))
        session.execute(delete(Contract).where(Contract.id.in_(stale)))
        counts["removed"] = len(stale)
    ids: dict[str, int] = {}
    new_rows = []
    for key, d in desired.items():
        c = existing.get(key)
        if c is None:
            new_rows.append({"key": key, **d.values})
            continue
        changed = False
        for k, v in d.values.items():
            if getattr(c, k) != v:
                setattr(c, k, v)
                changed = True
        counts["updated"] += int(changed)
        ids[key] = c.id
    session.flush()
    if new_rows:
        # One executemany through the driver (tracker.db.bulk.bulk_insert: no per-row
        # parameter handling), then the ids by key.
        from tracker.db.bulk import bulk_insert

        now = utcnow()
        bulk_insert(
            session,
            Contract.__table__,
            [{**_CONTRACT_DEFAULTS, "created_at": now, **row} for row in new_rows],
        )
        new_keys = [row["key"] for row in new_rows]
        for chunk in _chunks(new_keys):
            for cid, key in session.execute(
                select(Contract.id, Contract.key).where(Contract.key.in_(_K)), {"k": list(chunk)}
            ):
                ids[key] = cid
        counts["created"] = len(new_rows)
    counts["contracts"] = len(desired)
    all_ids = sorted(ids.values())
    kept = sorted(existing[k].id for k in desired if k in existing)  # new ones have no parties
    for chunk in _chunks(kept):
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(chunk)))
    parties = []
    for key, d in desired.items():
        seen: set[tuple[str, str]] = set()
        for p in d.buyers + d.suppliers:
            if (p["role"], p["party_key"]) in seen:
                continue
            seen.add((p["role"], p["party_key"]))
            parties.append({"contract_id": ids[key], **p})
    if parties:
        from tracker.db.bulk import bulk_insert

        bulk_insert(session, ContractParty.__table__, parties)
    session.flush()
    if all_ids:
        from tracker.linking.links import refresh_contract_accounts

        refresh_contract_accounts(session, all_ids)
    counts["contract_ids"] = all_ids
    return counts


def _load(session: Session, pks: list[int]) -> tuple[dict, dict, dict, dict]:
    """Lots, results, winners and buyers of the notices ``pks`` (plain rows)."""
    conn = session.connection()  # plain rows: no ORM result processing
    lots: dict[int, list[Any]] = defaultdict(list)
    results: dict[int, list[Any]] = defaultdict(list)
    winners: dict[int, list[Any]] = defaultdict(list)
    buyers: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(pks):
        for lot in conn.execute(
            select(*_LOT_COLS).where(Lot.notice_pk.in_(_K)).order_by(Lot.notice_pk, Lot.position),
            {"k": list(chunk)},
        ):
            lots[lot.notice_pk].append(lot)
        for r in conn.execute(
            select(*_RESULT_COLS).where(LotResult.notice_pk.in_(_K)).order_by(LotResult.position),
            {"k": list(chunk)},
        ):
            results[r.notice_pk].append(r)
        for b in conn.execute(
            select(
                NoticeBuyer.notice_pk,
                NoticeBuyer.orgnr,
                NoticeBuyer.name,
                NoticeBuyer.organisation_id,
                NoticeBuyer.legal_type,
            )
            .where(NoticeBuyer.notice_pk.in_(_K))
            .order_by(NoticeBuyer.position),
            {"k": list(chunk)},
        ):
            buyers[b.notice_pk].append(b)
    result_pks = [r.id for rs in results.values() for r in rs]
    for chunk in _chunks(result_pks):
        for w in conn.execute(
            select(
                ResultWinner.result_pk,
                ResultWinner.orgnr,
                ResultWinner.name,
                ResultWinner.organisation_id,
            )
            .where(ResultWinner.result_pk.in_(_K))
            .order_by(ResultWinner.position),
            {"k": list(chunk)},
        ):
            winners[w.result_pk].append(w)
    return lots, results, winners, buyers


def _is_result(n: Any) -> bool:
    return (n.document_type or "") == "ContractAwardNotice" or (n.subtype or "") in (
        RESULT_SUBTYPES | MODIFICATION_SUBTYPES
    )


def _seeds_expected(n: Any) -> bool:
    """A competition whose award is worth expecting: a contract notice (cn-*, national
    N16/E3), not a PIN used as a call, a qualification system, a change notice or a test."""
    if n.is_test:
        return False
    kind = (n.notice_type or "").lower()
    return kind.startswith("cn-") or (n.subtype or "").upper() in ("N16", "E3")


def _desired_contracts(
    session: Session, notices: list[Any], counts: dict[str, Any], rules: ContractRules
) -> dict[str, _Desired]:
    # Only result and contract notices give contracts: planning notices' lots stay unread.
    wanted = [
        n.id for n in notices if _is_result(n) or is_contract_notice(n.subtype, n.document_type)
    ]
    lots, results, winners, buyers = _load(session, wanted)
    by_proc: dict[str, list[Any]] = defaultdict(list)
    for n in notices:
        by_proc[n.procedure_id or f"notice:{n.notice_id}"].append(n)
    desired: dict[str, _Desired] = {}
    ctx = _Ctx(lots, results, winners, buyers, rules)
    for proc, group in by_proc.items():
        group.sort(key=lambda n: (n.issue_date or dt.date.min, n.id))
        cns = [
            n for n in group if is_contract_notice(n.subtype, n.document_type) and lots.get(n.id)
        ]
        cn = cns[-1] if cns else None
        awards = [
            n for n in group if results.get(n.id) and (n.subtype or "") not in MODIFICATION_SUBTYPES
        ]
        mods = [
            n for n in group if results.get(n.id) and (n.subtype or "") in MODIFICATION_SUBTYPES
        ]
        for n in awards + mods:
            is_mod = n in mods
            awarded = [
                r for r in results[n.id] if r.winner_chosen is not False and winners.get(r.id)
            ]
            same: dict[str | None, set[Decimal | None]] = defaultdict(set)
            for r in awarded:
                same[r.lot_id].add(r.tender_value)
            single = len({r.lot_id for r in awarded}) == 1
            for r in awarded:
                lot = ctx.lot_of(n, r.lot_id)
                key = f"n:{proc}|{r.lot_id or '-'}|{r.contract_id or r.result_id or '-'}"
                key = f"{key}|{r.party_id or r.tender_id or '-'}"[:300]
                facts = ctx.facts(n, lot, r.contract_title, cn, is_mod)
                if is_mod:
                    base = _find_base(desired, proc, r, lot, ctx)
                    if base is not None:
                        _apply_modification(base, n, r, lot, facts, ctx)
                        counts["modified"] += 1
                        continue
                d = _build(
                    proc, n, r, lot, cn, facts, ctx, is_mod, single, len(same[r.lot_id]) == 1
                )
                d.key = key
                if is_mod:
                    _modification_effects(d.values, n, lot, facts, ctx, own=True)
                desired[key] = d
        if cn is not None and not any(_is_result(n) for n in group) and _seeds_expected(cn):
            for lot in lots.get(cn.id, []):
                d = _build_expected(proc, cn, lot, ctx)
                if d is not None:
                    desired[d.key] = d
                    counts["expected"] += 1
    return desired


class _Ctx:
    """Rows of one derivation batch, and the text facts read so far (one read per text)."""

    def __init__(
        self, lots: dict, results: dict, winners: dict, buyers: dict, rules: ContractRules
    ):
        self.lots, self.results, self.winners, self.buyers = lots, results, winners, buyers
        self.rules = rules
        self._facts: dict[tuple[Any, ...], TextFacts] = {}
        self.shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._thresholds: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._buyers: dict[int, list[dict[str, Any]]] = {}

    def buyer_parties(self, notice_pk: int) -> list[dict[str, Any]]:
        """The buyers of a notice as contract parties (once per notice: parallel suppliers
        share them)."""
        found = self._buyers.get(notice_pk)
        if found is None:
            found = self._buyers[notice_pk] = [
                _party("buyer", b.orgnr, b.name, b.organisation_id)
                for b in self.buyers.get(notice_pk, [])
            ]
        return found

    def lot_of(self, n: Any, lot_id: str | None) -> Any:
        own = self.lots.get(n.id, [])
        for lot in own:
            if lot.lot_id == lot_id:
                return lot
        return own[0] if len(own) == 1 else None

    def cn_lot(self, cn: Any, lot_id: str | None) -> Any:
        if cn is None:
            return None
        cn_lots = self.lots.get(cn.id, [])
        match = [x for x in cn_lots if x.lot_id == lot_id]
        if match:
            return match[0]
        return cn_lots[0] if len(cn_lots) == 1 else None

    def facts(
        self, n: Any, lot: Any, contract_title: str | None, cn: Any, is_mod: bool
    ) -> TextFacts:
        """What the texts of the contract say: the modification, the lot (note, options,
        renewals, description, title), the contract title, the notice, then the contract
        notice of the procedure."""
        lot_id = lot.lot_id if lot is not None else None
        key = (n.id, lot_id, contract_title, cn.id if cn is not None else None)
        found = self._facts.get(key)
        if found is not None:
            return found
        texts: list[tuple[str, str | None]] = []
        if is_mod:
            texts.append(("modification", n.modification_description))
        if lot is not None:
            texts += [
                ("lot note", lot.note),
                ("options", lot.options_description),
                ("renewals", lot.renewal_description),
                ("lot description", lot.description),
                ("lot title", lot.title),
            ]
        texts += [
            ("contract title", contract_title),
            ("note", n.note),
            ("description", n.description),
            ("title", n.title),
        ]
        if cn is not None and cn.id != n.id:
            cl = self.cn_lot(cn, lot_id)
            if cl is not None:
                texts += [
                    ("contract notice lot note", cl.note),
                    ("contract notice options", cl.options_description),
                    ("contract notice lot description", cl.description),
                    ("contract notice lot title", cl.title),
                ]
            texts += [
                ("contract notice note", cn.note),
                ("contract notice description", cn.description),
                ("contract notice title", cn.title),
            ]
        found = read_facts(_new_sentences(texts), modification=is_mod)
        self._facts[key] = found
        return found


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _new_sentences(texts: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """The texts without what an earlier text already said: a text another one holds is
    left out, and so are the sentences an earlier text has (a lot description often repeats
    the procedure's, give or take a sentence). Facts are read once, from the first text."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for where, text in texts:
        if not text or any(text in t for _, t in out):
            continue
        sentences = _SENTENCE_END.split(text)
        fresh = [x for x in sentences if x not in seen]
        seen.update(sentences)
        if fresh:
            out.append((where, text if len(fresh) == len(sentences) else " ".join(fresh)))
    return out


def _framework(
    result_flag: bool | None, codes: Sequence[str | None], facts: TextFacts
) -> tuple[bool, dict[str, Any]]:
    """Framework agreement? The code (BT-765), the contract's flag (BT-768), the text."""
    text = facts.framework
    if text is not None and text.value is False:
        return False, text.as_dict("framework")
    for code in codes:
        if code in FRAMEWORK_CODES:
            return True, _ev("framework", True, f"BT-765 {code}", "high")
    if result_flag:
        return True, _ev("framework", True, "BT-768 framework indicator", "high")
    if text is not None:
        return True, text.as_dict("framework")
    return False, _ev("framework", False, "no framework code, flag or text", "high")


def _direct(n: Any, facts: TextFacts) -> tuple[bool, dict[str, Any] | None]:
    """Direct award? Negotiated without prior call, a VEAT, or an intention notice in text."""
    if (n.procedure_type or "") == "neg-wo-call":
        return True, _ev("direct_award", True, "BT-105 procedure neg-wo-call", "high")
    if (n.notice_type or "") == "veat" or (n.subtype or "") in VEAT_SUBTYPES:
        return True, _ev("direct_award", True, "notice type VEAT (intention notice)", "high")
    if facts.direct_award is not None:
        return True, facts.direct_award.as_dict("direct_award")
    return False, None


def _common(
    n: Any,
    lot: Any,
    cn: Any,
    cn_lot: Any,
    facts: TextFacts,
    ctx: _Ctx,
    result_flag: bool | None = None,
) -> tuple[bool, bool, str, bool, list[dict[str, Any]]]:
    """framework, direct award, regime, national and their evidence."""
    codes = [lot.framework_code if lot is not None else None]
    if cn_lot is not None:
        codes.append(cn_lot.framework_code)
    framework, fw_ev = _framework(result_flag, codes, facts)
    direct, da_ev = _direct(n, facts)
    domain = n.regulatory_domain or (cn.regulatory_domain if cn is not None else None)
    regime, national, basis = regime_of(domain, n.notice_type, n.subtype, facts)
    ev = [fw_ev, _ev("regime", regime, basis, "high" if "text" not in basis else "medium")]
    if da_ev is not None:
        ev.append(da_ev)
    return framework, direct, regime, national, ev


def _build(
    proc: str,
    n: Any,
    r: Any,
    lot: Any,
    cn: Any,
    facts: TextFacts,
    ctx: _Ctx,
    is_mod: bool,
    single_award: bool,
    siblings_same: bool,
) -> _Desired:
    lot_id = r.lot_id or (lot.lot_id if lot is not None else None)
    # Parallel suppliers of one lot share everything but their tender: computed once.
    shared_key = (n.id, lot_id, r.contract_title, r.conclusion_date, r.award_date, r.framework)
    shared = ctx.shared.get(shared_key)
    if shared is None:
        cn_lot = ctx.cn_lot(cn, lot_id) if cn is not None and cn.id != n.id else None
        framework, direct, regime, national, common_ev = _common(
            n, lot, cn, cn_lot, facts, ctx, r.framework
        )
        term = compute_term(
            lot=_period_of(lot),
            cn_lot=_period_of(cn_lot),
            conclusion=r.conclusion_date,
            award=r.award_date,
            notice_date=n.issue_date,
            framework=framework,
            facts=facts,
            max_years=ctx.rules.max_years(regime),
        )
        shared = ctx.shared[shared_key] = (framework, direct, regime, national, common_ev, term)
    framework, direct, regime, national, common_ev, term = shared
    ev = list(common_ev)
    parallel = r.parallel or 1
    value = value_of(
        tender=r.tender_value,
        currency=r.currency,
        inferred=bool(r.value_inferred),
        result_max=r.framework_max_value,
        notice_max=n.result_framework_max,
        single_award=single_award,
        lot_max=lot.framework_max_value if lot is not None else None,
        procedure_max=n.framework_max_value,
        estimate=(lot.estimated_value if lot is not None else None) or n.estimated_value,
        estimate_currency=(lot.currency if lot is not None else None) or n.currency,
        parallel=parallel,
        siblings_same_amount=siblings_same,
        framework=framework,
        facts=facts,
    )
    if r.lot_mapped:
        ev.append(_ev("lot", lot_id, f"the result's lot link is broken; {r.lot_mapped}", "high"))
    challenge = None
    veat = (n.notice_type or "") == "veat" or (n.subtype or "") in VEAT_SUBTYPES
    if direct and veat and n.issue_date is not None:
        days = ctx.rules.intention_standstill_days
        challenge = n.issue_date + dt.timedelta(days=days)
        ev.append(
            _ev(
                "challenge_until",
                challenge,
                f"rule: after an intention notice the award can be challenged for {days} days "
                "before the contract is concluded (FOA § 21-5)",
                "high",
            )
        )
    per_year = facts.value_per_year
    title = r.contract_title or (lot.title if lot is not None else None) or n.title
    values = {
        "source": "notice",
        "notice_pk": n.id,
        "result_pk": r.id,
        "procedure_id": n.procedure_id,
        "lot_id": lot_id,
        "tender_id": r.tender_id,
        "title": title,
        "main_cpv": (lot.main_cpv if lot is not None else None) or n.main_cpv,
        "value": value.amount,
        "currency": value.currency,
        "value_kind": value.kind,
        "value_shared": value.shared,
        "value_per_year": per_year.value if per_year is not None else None,
        "parallel_suppliers": parallel,
        "framework": framework,
        "direct_award": direct,
        "regime": regime,
        "national": national,
        "procedure_type": n.procedure_type
        or (facts.procedure.value if facts.procedure is not None else None),
        "conclusion_date": r.conclusion_date,
        "award_date": r.award_date,
        "modified_by_notice_pk": n.id if is_mod else None,
        "extension": None,
        "expected": False,
        "expected_award": None,
        "challenge_until": challenge,
        "notes": "from a modification notice; the original award notice is not stored"
        if is_mod
        else None,
        **_term_values(term, direct),
    }
    values["evidence"] = (
        ev
        + term.evidence
        + value.evidence
        + ([per_year.as_dict("value_per_year")] if per_year is not None else [])
        + _threshold_evidence(ctx, n, regime, value.amount, value.currency, False)
    )
    return _Desired(
        key="",
        values=values,
        buyers=ctx.buyer_parties(n.id),
        suppliers=[
            _party("supplier", w.orgnr, w.name, w.organisation_id)
            for w in ctx.winners.get(r.id, [])
        ],
    )


STATE_LEGAL_TYPES = frozenset({"cga", "body-pl-cga", "def-cont"})


def _threshold_evidence(
    ctx: _Ctx, n: Any, regime: str, amount: Decimal | None, currency: str | None, expected: bool
) -> list[dict[str, Any]]:
    """Where the value stands against the EEA threshold in force on the notice's date: an
    award notice is mandatory only above it (below, the award may never be published)."""
    if amount is None or (currency or "NOK") != "NOK":
        return []
    key = (n.id, regime, amount, expected)
    cached = ctx._thresholds.get(key)
    if cached is not None:
        return cached
    ctx._thresholds[key] = found_ev = _threshold_rows(ctx, n, regime, amount, expected)
    return found_ev


def _threshold_rows(
    ctx: _Ctx, n: Any, regime: str, amount: Decimal, expected: bool
) -> list[dict[str, Any]]:
    state = any((b.legal_type or "") in STATE_LEGAL_TYPES for b in ctx.buyers.get(n.id, []))
    found = ctx.rules.eea_threshold(n.issue_date, regime, n.contract_nature, state)
    if found is None:
        return []
    threshold, basis = found
    if amount >= threshold:
        what = "above the EEA threshold: an award notice is mandatory"
    elif expected:
        what = "below the EEA threshold: an award notice is not mandatory, it may never come"
    else:
        what = "below the EEA threshold"
    return [_ev("eea_threshold", threshold, f"rule: {basis}; the value is {what}", "high")]


def _term_values(term: Term, direct: bool) -> dict[str, Any]:
    retender = "none" if term.end_source == "unlimited" else "not_assumed" if direct else "expected"
    return {
        "start_date": term.start,
        "start_source": term.start_source,
        "end_date": term.end,
        "end_source": term.end_source,
        "option_ends": [d.isoformat() for d in term.option_ends],
        "latest_end": term.latest,
        "latest_end_source": term.latest_source,
        "end_confidence": term.confidence,
        "options_text": term.options_text,
        "retender": retender,
        "max_renewals": term.max_renewals,
    }


def _build_expected(proc: str, cn: Any, lot: Any, ctx: _Ctx) -> _Desired | None:
    """The contract a competition is expected to give, from its own lot (no award seen)."""
    deadline = lot.submission_deadline or lot.request_deadline
    if deadline is not None:
        base_day = deadline.date()
    elif cn.issue_date is not None:
        base_day = cn.issue_date + dt.timedelta(days=30)  # the minimum open tender period
    else:
        return None
    award = base_day + dt.timedelta(days=ctx.rules.evaluation_days)
    start = award + dt.timedelta(days=ctx.rules.standstill_days)
    facts = ctx.facts(cn, lot, None, None, False)
    framework, direct, regime, national, ev = _common(cn, lot, None, None, facts, ctx)
    if (cn.notice_type or "") == "cn-desg" and not framework:
        return None  # a design contest gives prizes, not a contract
    term = compute_term(
        lot=_period_of(lot),
        framework=framework,
        facts=facts,
        max_years=ctx.rules.max_years(regime),
        expected_start=start,
    )
    single = len(ctx.lots.get(cn.id, [])) == 1
    value = value_of(
        tender=None,
        currency=lot.currency or cn.currency,
        lot_max=lot.framework_max_value,
        procedure_max=cn.framework_max_value if single else None,
        estimate=lot.estimated_value or (cn.estimated_value if single else None),
        estimate_currency=lot.currency or cn.currency,
        framework=framework,
        facts=facts,
    )
    ev.insert(
        0,
        _ev(
            "expected",
            award,
            f"no award seen: expected award = {'deadline' if deadline else 'notice + 30 days'} "
            f"+ {ctx.rules.evaluation_days} days evaluation (rule)",
            "low",
        ),
    )
    values = {
        "source": "notice",
        "notice_pk": cn.id,
        "result_pk": None,
        "procedure_id": cn.procedure_id,
        "lot_id": lot.lot_id,
        "tender_id": None,
        "title": lot.title or cn.title,
        "main_cpv": lot.main_cpv or cn.main_cpv,
        "value": value.amount,
        "currency": value.currency,
        "value_kind": value.kind,
        "value_shared": value.shared,
        "value_per_year": None,
        "parallel_suppliers": None,
        "framework": framework,
        "direct_award": direct,
        "regime": regime,
        "national": national,
        "procedure_type": cn.procedure_type
        or (facts.procedure.value if facts.procedure is not None else None),
        "conclusion_date": None,
        "award_date": None,
        "modified_by_notice_pk": None,
        "extension": None,
        "expected": True,
        "expected_award": award,
        "challenge_until": None,
        "notes": "expected: the competition's award has not been seen",
        **_term_values(term, direct),
    }
    values["evidence"] = (
        ev
        + term.evidence
        + value.evidence
        + _threshold_evidence(ctx, cn, regime, value.amount, value.currency, True)
    )
    return _Desired(
        key=f"x:{proc}|{lot.lot_id}"[:300],
        values=values,
        buyers=ctx.buyer_parties(cn.id),
        suppliers=[],
    )


def _find_base(
    desired: dict[str, _Desired], proc: str, r: Any, lot: Any, ctx: _Ctx
) -> _Desired | None:
    """The contract a modification changes: same procedure and lot, the same supplier when
    several suppliers share the lot (else the one contract of the procedure)."""
    lot_id = r.lot_id or (lot.lot_id if lot is not None else None)
    candidates = [
        d
        for d in desired.values()
        if not d.values.get("expected")
        and (d.values["procedure_id"] == proc or d.key.startswith(f"n:{proc}|"))
    ]
    same_lot = [d for d in candidates if d.values["lot_id"] == lot_id]
    keys = {
        _party("supplier", w.orgnr, w.name, w.organisation_id)["party_key"]
        for w in ctx.winners.get(r.id, [])
    }
    same_supplier = [d for d in same_lot if keys & {p["party_key"] for p in d.suppliers}]
    exact = [d for d in same_lot if r.contract_id and f"|{r.contract_id}|" in d.key]
    pick = same_supplier or exact or (same_lot if len(same_lot) == 1 else [])
    if not pick and len(candidates) == 1:
        pick = candidates
    return pick[-1] if pick else None


def _apply_modification(
    base: _Desired, n: Any, r: Any, lot: Any, facts: TextFacts, ctx: _Ctx
) -> None:
    """A modification notice changes the contract it modifies: its own new end or value
    replaces the old; its suppliers replace the old ones."""
    v = base.values
    v["modified_by_notice_pk"] = n.id
    how = []
    if r.tender_value is not None and r.tender_value != v["value"]:
        v["value"], v["currency"], v["value_kind"] = (
            r.tender_value,
            r.currency or v["currency"],
            "tender",
        )
        v["evidence"] = v["evidence"] + [
            _ev("value", r.tender_value, f"BT-720 in modification notice {n.notice_id}", "high")
        ]
        how.append("value")
    period = _period_of(lot)
    if period is not None and (period.end or period.has_duration) or facts.new_end is not None:
        term = compute_term(
            lot=period,
            conclusion=r.conclusion_date or v["conclusion_date"],
            award=r.award_date or v.get("award_date"),
            framework=bool(v["framework"]),
            facts=facts,
        )
        if term.end is not None:
            old_latest = v["latest_end"]
            v["end_date"], v["end_source"] = term.end, "modification"
            v["option_ends"] = [d for d in v["option_ends"] or [] if d > term.end.isoformat()]
            v["latest_end"] = max(d for d in (term.end, old_latest) if d is not None)
            v["latest_end_source"] = "modification"
            v["evidence"] = v["evidence"] + term.evidence
            how.append(f"end from {term.end_source}")
    new_suppliers = [
        _party("supplier", w.orgnr, w.name, w.organisation_id) for w in ctx.winners.get(r.id, [])
    ]
    if new_suppliers:
        base.suppliers = new_suppliers
    v["notes"] = f"modified by notice {n.notice_id} ({n.issue_date}): " + (
        ", ".join(how) or "suppliers"
    )
    _modification_effects(v, n, lot, facts, ctx, own=False)


def _modification_effects(
    v: dict[str, Any], n: Any, lot: Any, facts: TextFacts, ctx: _Ctx, *, own: bool
) -> None:
    """What a modification notice says about the end: a new end stated replaces the old
    (``extension = modified``); an empty modification section leaves the new end unknown
    (latest end None, low confidence); either near or after the end (within
    ``extension_evidence_months`` before it) is evidence of an extension."""
    stated = facts.new_end is not None or (lot is not None and lot.end_date is not None)
    empty = not n.modification_description and not stated
    end = v["end_date"]
    if stated:
        v["extension"] = "modified"
        return
    if empty:
        v["latest_end"], v["latest_end_source"] = None, "modification: new end not stated"
        v["option_ends"] = []
        v["end_confidence"] = "low"
    issued = n.issue_date
    if end is None or issued is None:
        return
    horizon = add_months(end, -ctx.rules.extension_evidence_months)
    if issued >= horizon:
        days = (issued - end).days
        when = f"{days} days after" if days >= 0 else f"{-days} days before"
        v["extension"] = "probably_extended"
        v["evidence"] = v["evidence"] + [
            _ev(
                "extension",
                "probably extended: ask the buyer",
                f"modification notice {n.notice_id} of {issued.isoformat()}, {when} the end "
                f"{end.isoformat()}",
                "medium",
            )
        ]
        note = f"probably extended: modification notice {issued.isoformat()} {when} the end"
        v["notes"] = f"{v['notes']}; {note}" if v.get("notes") else note
