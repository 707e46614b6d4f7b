"""The numbers of the timeline (``WindowRules``), resolved once from ``tracker.rules``
(the defaults equal the shipped ``rules.toml``, where each names its source), with the
sources of the dates they make built once, so that computing 100,000 timelines never
looks a rule up or builds a sentence per item (``tracker.opportunities.windows``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tracker.messages import N_, Text
from tracker.opportunities.budget import BudgetCalendar

PROCEDURES: tuple[str, ...] = ("open", "restricted", "negotiated", "dialogue")


def _default_mapping(values: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(values)


# Rule keys of rules.toml named by the dates they make (``Timeline.rule_keys``).
RULE_INFLUENCE = "windows.influence_months_before_expiry"
RULE_DRAFTING = "windows.drafting_months_by_value"
RULE_DRAFTING_DEFAULT = "windows.drafting_months_before_publication"
RULE_LEAD = "windows.publish_before_expiry_months"
RULE_PIN = "windows.pin_expected_months_to_notice"
RULE_DIALOGUE = "windows.dialogue_days_without_deadline"
RULE_TENDER_OPEN = "durations.min_tender_days_open"
RULE_TENDER_REQUEST = "durations.min_request_days"
RULE_EVALUATION = "durations.evaluation_days"
RULE_STANDSTILL = "durations.standstill_days"


def _lead_basis(procedure: str, months: int) -> Text:
    """Why a publication is expected then: the procedure's lead time before expiry."""
    if procedure == "restricted":
        return Text(N_("restricted procedure, %(months)s months before expiry", months=months))
    if procedure == "negotiated":
        return Text(N_("negotiated procedure, %(months)s months before expiry", months=months))
    if procedure == "dialogue":
        return Text(N_("dialogue procedure, %(months)s months before expiry", months=months))
    return Text(N_("open procedure, %(months)s months before expiry", months=months))


def _tender_basis(procedure: str, days: int) -> Text:
    """Why a deadline is expected then: the procedure's minimum tender period."""
    if procedure == "restricted":
        return Text(N_("%(days)s days minimum tender period (restricted)", days=days))
    if procedure == "negotiated":
        return Text(N_("%(days)s days minimum tender period (negotiated)", days=days))
    if procedure == "dialogue":
        return Text(N_("%(days)s days minimum tender period (dialogue)", days=days))
    return Text(N_("%(days)s days minimum tender period (open)", days=days))


@dataclass(frozen=True, slots=True)
class WindowRules:
    """The numbers the timeline needs, resolved once (see ``tracker.rules.Rules.window_rules``)."""

    influence_months: int = 12
    drafting_months: int = 6  # value unknown
    lead_months: Mapping[str, int] = field(
        default_factory=lambda: _default_mapping(
            {"open": 6, "restricted": 8, "negotiated": 9, "dialogue": 12}
        )
    )
    tender_days: Mapping[str, int] = field(
        default_factory=lambda: _default_mapping(
            {"open": 30, "restricted": 55, "negotiated": 55, "dialogue": 55}
        )
    )
    evaluation_days: int = 75
    standstill_days: int = 10
    pin_expected_months: int = 6
    default_procedure: str = "open"
    budget: BudgetCalendar = field(default_factory=BudgetCalendar)
    year_end: tuple[tuple[int, int], tuple[int, int]] | None = None
    # Drafting months by value band: ((from NOK, months, band name), ...), ascending.
    drafting_bands: tuple[tuple[float, int, str], ...] = (
        (0, 3, "small"),
        (2_300_000, 6, "medium"),
        (10_000_000, 12, "large"),
        (100_000_000, 18, "largest"),
    )
    dialogue_days: int = 30  # a market dialogue with no deadline stated is open this long
    # Derived once: source tuples and periods, so that a timeline builds no strings.
    pre: dict[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre", {**_periods(self), **_sources(self)})

    def drafting_band(self, value: float | None) -> tuple[int, str | None]:
        """(months of drafting, band name) for an estimated value (None: unknown)."""
        if value is None:
            return self.drafting_months, None
        months, name = self.drafting_months, None
        for start, m, n in self.pre["bands"]:  # type: ignore[attr-defined]
            if value >= start:
                months, name = m, n
        return months, name


def _periods(r: WindowRules) -> dict[str, object]:
    """The periods and rule keys a timeline uses, per procedure and value band."""
    tender_rule = {p: RULE_TENDER_REQUEST for p in PROCEDURES}
    tender_rule["open"] = RULE_TENDER_OPEN
    tender = {
        p: (
            dt.timedelta(days=r.tender_days.get(p, 30)),
            ("estimate", _tender_basis(p, r.tender_days.get(p, 30))),
        )
        for p in PROCEDURES
    }
    bands = tuple(sorted(r.drafting_bands))
    drafting: dict[str | None, tuple[int, Text]] = {
        name: (
            months,
            Text(N_("%(months)s months before publication (%(band)s value band)",
                    months=months, band=name)),
        )
        for _, months, name in bands
    }  # fmt: skip
    drafting[None] = (
        r.drafting_months,
        Text(N_("%(months)s months before publication (value unknown)",
                months=r.drafting_months)),
    )  # fmt: skip
    return {
        "lead": {p: r.lead_months.get(p, 6) for p in PROCEDURES},
        "bands": bands,
        "drafting": drafting,
        "tender": tender,
        "tender_rule": tender_rule,
        "evaluation": dt.timedelta(days=r.evaluation_days),
        "standstill": dt.timedelta(days=r.standstill_days),
    }


def _sources(r: WindowRules) -> dict[str, object]:
    """The (kind, basis) of the dates the rules make, built once per rules."""
    return {
        "pub_rule": {p: ("rule", _lead_basis(p, r.lead_months.get(p, 6))) for p in PROCEDURES},
        "pub_pin": ("estimate", Text(N_("%(months)s months after the planning notice",
                                        months=r.pin_expected_months))),
        "opens_rule": ("rule", Text(N_("%(months)s months before expiry",
                                       months=r.influence_months))),
        "opens_est": ("estimate", Text(N_("%(months)s months before the estimated expiry",
                                          months=r.influence_months))),
        "award_est": ("estimate", Text(N_("%(days)s days evaluation", days=r.evaluation_days))),
        "start_est": ("estimate", Text(N_("award + %(days)s days standstill",
                                          days=r.standstill_days))),
        "dialogue_default": ("estimate", Text(N_(
            "%(days)s days after the notice: no response deadline stated",
            days=r.dialogue_days))),
    }  # fmt: skip


DEFAULT_RULES = WindowRules()
