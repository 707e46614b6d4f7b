"""What a contract is worth and under which rules it runs: value and its kind, regime,
framework, direct award, the EEA thresholds. Pure rules (values in, values out); the
numbers come from tracker/rules.toml through :class:`ContractRules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tracker.contracts.terms import FRAMEWORK_DEFAULT_YEARS, fact_row
from tracker.messages import N_, Text
from tracker.notices.notice_text import TextFacts
from tracker.rules import Rules

FRAMEWORK_CODES = frozenset({"fa-wo-rc", "fa-w-rc", "fa-mix"})
VEAT_SUBTYPES = frozenset({"25", "26", "27", "28"})


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


def contract_rules(rules: Rules) -> ContractRules:
    """``ContractRules`` from the rules in force (``tracker.rules.load_rules``)."""
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
    """The contract's value and its kind (see the module docstring of
    tracker.contracts.build). Pure.

    ``result_max`` is BT-709 of the lot result, ``notice_max`` BT-118 (meaningful per
    contract only when the notice awards one lot: ``single_award``), ``lot_max`` and
    ``procedure_max`` BT-271, ``estimate`` BT-27. ``parallel`` winner groups on the same
    lot carrying ``siblings_same_amount`` share one ceiling: ``shared``.
    """
    facts = facts or TextFacts()
    ev: list[dict[str, Any]] = []
    structured_max = result_max if result_max is not None else notice_max if single_award else None
    amount: Decimal | None
    kind: str | None
    if tender is not None:
        amount = tender
        kind, row = _tender_kind(
            tender, inferred, structured_max, parallel, siblings_same_amount, framework, facts
        )
        ev.append(row)
    elif structured_max is not None:
        # the maximum's own currency (eForms keeps it on the result, else the notice)
        amount, kind, currency = structured_max, "framework_max", currency or estimate_currency
        ev.append(fact_row("value", amount, "framework maximum (BT-709/BT-118)", "high"))
    elif (lot_max or procedure_max) is not None:
        amount, kind = lot_max or procedure_max, "framework_max"
        currency = currency or estimate_currency  # BT-271's currency is kept on the lot
        ev.append(fact_row("value", amount, "BT-271 framework maximum value", "high"))
    elif estimate is not None:
        amount, kind, currency = estimate, "estimated", estimate_currency or currency
        ev.append(fact_row("value", amount, "BT-27 estimated value", "high"))
    else:
        amount, kind = None, None
    shared = bool(
        amount is not None and parallel > 1 and (siblings_same_amount or kind != "tender")
    )
    if shared:
        ev.append(
            fact_row(
                "value_shared",
                True,
                f"one ceiling for {parallel} parallel suppliers: never summed",
                "high",
            )  # fmt: skip
        )
    return Value(amount, currency, kind, shared, ev)


def _tender_kind(
    tender: Decimal,
    inferred: bool,
    structured_max: Decimal | None,
    parallel: int,
    siblings_same_amount: bool,
    framework: bool,
    facts: TextFacts,
) -> tuple[str, dict[str, Any]]:
    """The kind of a tender value (``tender`` or ``framework_max``) and its evidence."""
    source = "BT-720 tender value" + (" (inferred, see warnings)" if inferred else "")
    text_max = next((m for m in facts.max_values if _same(tender, m)), None)
    if text_max is not None:
        quote = facts.max_value.quote if facts.max_value is not None else None
        for q in facts.facts.values():
            if isinstance(q.value, Decimal) and _same(q.value, tender):
                quote = q.quote
        return "framework_max", fact_row(
            "value", tender, f"{source}; the text calls it the maximum", "high", quote
        )
    if _same(tender, structured_max):
        return "framework_max", fact_row(
            "value", tender, f"{source} = the framework maximum (BT-709/BT-118)", "high"
        )
    if parallel > 1 and siblings_same_amount and framework:
        return "framework_max", fact_row(
            "value",
            tender,
            f"{source}, the same on all {parallel} parallel suppliers: the shared ceiling",
            "medium",
        )
    return "tender", fact_row("value", tender, source, "high")


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
        reason = Text(N_("cancelled"))
    elif "clos-nw" in codes:
        reason = Text(N_("no winner chosen, competition closed (clos-nw)"))
    elif "open-nw" in codes:
        reason = Text(N_("no winner chosen yet, competition still open (open-nw)"))
    else:
        reason = Text(N_("no award in the result notice"))
    signal = facts.retender_signal
    return {
        "reason": reason,
        "quote": facts.cancelled.quote if facts.cancelled is not None else None,
        "retender_signal": signal.quote if signal is not None else None,
    }


def framework_of(
    result_flag: bool | None, codes: Sequence[str | None], facts: TextFacts
) -> tuple[bool, dict[str, Any]]:
    """Framework agreement? The code (BT-765), the contract's flag (BT-768), the text."""
    text = facts.framework
    if text is not None and text.value is False:
        return False, text.as_dict("framework")
    for code in codes:
        if code in FRAMEWORK_CODES:
            return True, fact_row("framework", True, f"BT-765 {code}", "high")
    if result_flag:
        return True, fact_row("framework", True, "BT-768 framework indicator", "high")
    if text is not None:
        return True, text.as_dict("framework")
    return False, fact_row("framework", False, "no framework code, flag or text", "high")


def direct_award_of(n: Any, facts: TextFacts) -> tuple[bool, dict[str, Any] | None]:
    """Direct award? Negotiated without prior call, a VEAT, or an intention notice in text."""
    if (n.procedure_type or "") == "neg-wo-call":
        return True, fact_row("direct_award", True, "BT-105 procedure neg-wo-call", "high")
    if (n.notice_type or "") == "veat" or (n.subtype or "") in VEAT_SUBTYPES:
        return True, fact_row("direct_award", True, "notice type VEAT (intention notice)", "high")
    if facts.direct_award is not None:
        return True, facts.direct_award.as_dict("direct_award")
    return False, None
