"""Bid/no-bid scoring: a pure function from facts about a competition to an explainable score.

``score_bid(facts, rules)`` returns a plain dict::

    {"total": 0..100, "recommendation": "bid" | "consider" | "no-bid",
     "components": [{"name": "fit", "label": "Fit (CPV and keywords)",
                     "points": 15, "max": 25, "reason": "CPV 72000000 matches ..."}, ...]}

Components, in this order (``COMPONENTS``): account tier, fit (the capability profile of
``tracker.opportunities.relevance``: CPV prefixes, keywords, negative keywords), value against our
thresholds, days to the deadline, price weight in the award criteria (high price weight
means thin margins), incumbent (us, a competitor, unknown), influence (activity recorded on
the opportunity in its window), and the bid team's own assessment of our capacity and of
the delivery risk (with their reason; unknown until recorded). Each gets a fraction 0..1
of its weight; the weights come from ``[scoring] weights`` in the rules and are normalised
to a total of 100.

Only a confirmed account link gives the account and its tier; a competition reached only
through a suggested link gets ``suggested_link_factor`` of that tier's points, labelled
"suggested link to X, not confirmed". A fit of 0 caps the recommendation at no-bid
(``no_fit_caps_at_no_bid``; the result then has ``capped`` with the reason). Both are
rules in ``[scoring]`` of the rules file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from tracker.opportunities.profile import Fit, Profile

COMPONENTS: tuple[tuple[str, str], ...] = (
    ("tier", "Account tier"),
    ("fit", "Fit (CPV and keywords)"),
    ("value", "Value against our thresholds"),
    ("deadline", "Days to the deadline"),
    ("price_weight", "Price weight in the award criteria"),
    ("incumbent", "Incumbent"),
    ("influence", "Influence window worked"),
    ("capacity", "Our capacity (bid team)"),
    ("delivery_risk", "Delivery risk (bid team)"),
)
CAPACITY_FACTOR = {"available": 1.0, "stretched": 0.4, "none": 0.0}
RISK_FACTOR = {"low": 1.0, "medium": 0.5, "high": 0.0}
RECOMMENDATIONS: tuple[str, ...] = ("bid", "consider", "no-bid")


@dataclass(frozen=True)
class ScoringRules:
    """Weights, factors and the capability profile (built by ``tracker.rules``)."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "tier": 10,
            "fit": 25,
            "value": 10,
            "deadline": 10,
            "price_weight": 10,
            "incumbent": 10,
            "influence": 15,
            "capacity": 5,
            "delivery_risk": 5,
        }
    )
    tier_factor: Mapping[str, float] = field(
        default_factory=lambda: {
            "star": 1.0,
            "strategic": 0.75,
            "status": 0.5,
            "streamline": 0.25,
            "none": 0.0,
        }
    )
    incumbent_factor: Mapping[str, float] = field(
        default_factory=lambda: {"us": 1.0, "unknown": 0.5, "competitor": 0.3}
    )
    deadline_comfortable: int = 21
    deadline_tight: int = 10
    price_low: float = 30
    price_high: float = 60
    bid_at: float = 60
    consider_at: float = 40
    no_fit_caps_at_no_bid: bool = True  # fit 0 -> recommendation no-bid
    suggested_link_factor: float = 0.5  # share of the tier points through an unconfirmed link
    cpv_prefixes: tuple[str, ...] = ("302", "48", "72")
    keywords: tuple[str, ...] = ("IT", "programvare", "software")
    min_value: float = 500_000
    sweet_low: float = 2_000_000
    sweet_high: float = 50_000_000
    max_value: float = 200_000_000
    national_threshold: float = 1_300_000
    eea_threshold_state: float = 1_490_000
    eea_threshold_other: float = 2_300_000
    profile: Profile | None = None  # the capability profile (tracker.opportunities.relevance)

    @cached_property
    def the_profile(self) -> Profile:
        """The capability profile: the one of the rules, else one of these prefixes and
        keywords."""
        return self.profile or Profile(cpv_prefixes=self.cpv_prefixes, keywords=self.keywords)

    @cached_property
    def normalised_weights(self) -> dict[str, float]:
        total = sum(self.weights.get(name, 0) for name, _ in COMPONENTS)
        if total <= 0:
            return {name: 0.0 for name, _ in COMPONENTS}
        return {name: 100.0 * self.weights.get(name, 0) / total for name, _ in COMPONENTS}

    def fits_profile(self, cpv_codes: Sequence[str], text: str, title: str = "") -> bool:
        """Whether an item is in the capability profile
        (``tracker.opportunities.relevance.Profile.fit``)."""
        main = cpv_codes[0] if cpv_codes else None
        return self.the_profile.fit(cpv_codes, main, title, text).fit


DEFAULT_SCORING = ScoringRules()


@dataclass
class BidFacts:
    """What the score is computed from; every field may be unknown (None)."""

    today: dt.date
    tier: str | None = None
    account: str | None = None  # the account of a confirmed link
    suggested_account: str | None = None  # reached only through a suggested (unconfirmed) link
    suggested_tier: str | None = None
    cpv_codes: Sequence[str] = ()
    text: str = ""  # descriptions
    title: str = ""  # title and lot titles
    main_cpv: str | None = None
    value: float | None = None  # the competition's one value (tracker.bids.competitions)
    value_kind: str | None = None  # estimated | framework_max | text_estimated | text_max
    currency: str | None = None  # of the value (None: NOK)
    value_words: tuple[str, ...] = ()  # the buyer's own words where they name another amount
    deadline: dt.date | None = None
    price_weight: float | None = None  # percent of the award criteria that is price/cost
    incumbent: str = "unknown"  # us|competitor|unknown
    incumbent_name: str | None = None
    influence_activities: int = 0
    buyer_type: str | None = None  # state buyers have the lower EEA threshold
    capacity: str | None = None  # available|stretched|none (the bid team's assessment)
    delivery_risk: str | None = None  # low|medium|high
    assessment_reason: str | None = None  # why (recorded with the assessment)
    profile: Profile | None = None  # the account's profile (per-account overrides), if any


def price_weight_percent(criteria: Sequence[tuple[str | None, float | None]]) -> float | None:
    """Share (percent) of price/cost among award criteria given as (BT-539 type, BT-541 weight).

    Weights may be percentages or points: the share is price weight / total weight. None
    when no weight is given. A lone price criterion without weight is 100 %.
    """
    total = 0.0
    price = 0.0
    typed_price = False
    for ctype, weight in criteria:
        is_price = (ctype or "").lower() in ("price", "cost")
        typed_price = typed_price or is_price
        if weight is None:
            continue
        total += weight
        if is_price:
            price += weight
    if total > 0:
        return round(100.0 * price / total, 1)
    if typed_price and all((c or "").lower() in ("price", "cost") for c, _ in criteria):
        return 100.0
    return None


def profile_fit(f: BidFacts, r: ScoringRules) -> Fit:
    """The capability-profile fit of the competition (``tracker.opportunities.relevance``)."""
    main = f.main_cpv or (f.cpv_codes[0] if f.cpv_codes else None)
    return (f.profile or r.the_profile).fit(f.cpv_codes, main, f.title, f.text)


def _fit(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    fit = profile_fit(f, r)
    return (fit.strength if fit.fit else 0.0), fit.reason


VALUE_KIND_WORDS = {
    "estimated": "estimated value",
    "framework_max": "framework maximum (a ceiling: the spend may be lower)",
    "text_estimated": "estimated value the text states",
    "text_max": "maximum the text states (a ceiling)",
}


def _value(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    """The competition's one value (with its kind) against our thresholds; the buyer's own
    words are quoted where they name another amount (2023-649037: 30 MNOK over 4 years,
    "ca. NOK 7 500 000,- per år")."""
    if f.value is None:
        return 0.5, "estimated value unknown"
    words = VALUE_KIND_WORDS.get(f.value_kind or "")
    if (f.currency or "NOK") != "NOK":
        what = words or "value"
        return 0.5, f"{what} {f.value:,.0f} {f.currency}: not compared with our NOK thresholds"
    frac, reason = _value_fit(f.value, r)
    if words:
        reason = f"{words}: {reason}"
    eea = r.eea_threshold_state if f.buyer_type == "state" else r.eea_threshold_other
    if f.value >= eea:
        reason += f" (above the EEA threshold of NOK {eea / 1e6:.2f} M: EEA-wide competition)"
    elif f.value < r.national_threshold:
        reason += f" (below the national threshold of NOK {r.national_threshold / 1e6:.1f} M)"
    if f.value_words:
        reason += "; the buyer writes: " + "; ".join(f"«{w}»" for w in f.value_words)
    return frac, reason


def _value_fit(v: float, r: ScoringRules) -> tuple[float, str]:
    mnok = f"NOK {v / 1e6:.1f} M"
    if v < r.min_value:
        return 0.1, f"{mnok} is below our minimum of NOK {r.min_value / 1e6:.1f} M"
    if v < r.sweet_low:
        return 0.6, f"{mnok} is small for us (sweet spot from NOK {r.sweet_low / 1e6:.1f} M)"
    if v <= r.sweet_high:
        return 1.0, f"{mnok} is in our sweet spot"
    if v <= r.max_value:
        return 0.6, f"{mnok} is large (sweet spot up to NOK {r.sweet_high / 1e6:.1f} M)"
    return 0.2, f"{mnok} is above NOK {r.max_value / 1e6:.0f} M: a delivery risk for us"


def _deadline(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    if f.deadline is None:
        return 0.5, "deadline unknown"
    days = (f.deadline - f.today).days
    if days < 0:
        return 0.0, f"deadline {f.deadline} has passed"
    if days < r.deadline_tight:
        return 0.2, f"only {days} days to the deadline {f.deadline}"
    if days < r.deadline_comfortable:
        return 0.6, f"{days} days to the deadline {f.deadline}"
    return 1.0, f"{days} days to the deadline {f.deadline}: enough time"


def _price(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    p = f.price_weight
    if p is None:
        return 0.5, "award criteria weights unknown"
    if p <= r.price_low:
        return 1.0, f"price weighs {p:g} %: quality decides"
    if p >= r.price_high:
        return 0.0, f"price weighs {p:g} %: thin margins"
    frac = (r.price_high - p) / (r.price_high - r.price_low)
    return frac, f"price weighs {p:g} %"


def _incumbent(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    who = f.incumbent if f.incumbent in r.incumbent_factor else "unknown"
    frac = r.incumbent_factor.get(who, 0.5)
    name = f" ({f.incumbent_name})" if f.incumbent_name else ""
    text = {
        "us": f"we hold the current agreement{name}",
        "competitor": f"a competitor holds the current agreement{name}",
    }.get(who, "incumbent unknown")
    return frac, text


def _influence(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    n = f.influence_activities
    if n > 0:
        return 1.0, f"{n} activit{'y' if n == 1 else 'ies'} recorded in the influence window"
    return 0.0, "no activity recorded: we did not work the influence window"


def _tier(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    if not f.account and f.suggested_account:
        tier = f.suggested_tier or "streamline"
        frac = r.tier_factor.get(tier, 0.0) * r.suggested_link_factor
        return frac, (
            f"suggested link to {f.suggested_account} ({tier}), not confirmed: "
            f"{r.suggested_link_factor:g} of the tier points"
        )
    if not f.account:
        return r.tier_factor.get("none", 0.0), "not at one of our accounts"
    tier = f.tier or "streamline"
    return r.tier_factor.get(tier, 0.0), f"{f.account} is a {tier} account"


def _capacity(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    why = f" ({f.assessment_reason})" if f.assessment_reason else ""
    if f.capacity not in CAPACITY_FACTOR:
        return 0.5, "capacity not assessed by the bid team"
    text = {
        "available": "we have the people to deliver",
        "stretched": "we are stretched: delivery would need extra people",
        "none": "we have no capacity to deliver",
    }[f.capacity]
    return CAPACITY_FACTOR[f.capacity], text + why


def _delivery_risk(f: BidFacts, r: ScoringRules) -> tuple[float, str]:
    why = f" ({f.assessment_reason})" if f.assessment_reason else ""
    if f.delivery_risk not in RISK_FACTOR:
        return 0.5, "delivery risk not assessed by the bid team"
    return RISK_FACTOR[f.delivery_risk], f"{f.delivery_risk} delivery risk{why}"


_COMPUTE = {
    "tier": _tier,
    "fit": _fit,
    "value": _value,
    "deadline": _deadline,
    "price_weight": _price,
    "incumbent": _incumbent,
    "influence": _influence,
    "capacity": _capacity,
    "delivery_risk": _delivery_risk,
}


def recommend(total: float, rules: ScoringRules = DEFAULT_SCORING) -> str:
    """bid, consider or no-bid for a total score."""
    if total >= rules.bid_at:
        return "bid"
    if total >= rules.consider_at:
        return "consider"
    return "no-bid"


def score_bid(facts: BidFacts, rules: ScoringRules = DEFAULT_SCORING) -> dict[str, object]:
    """The explainable bid/no-bid score of one competition (see the module docstring)."""
    weights = rules.normalised_weights
    components: list[dict[str, object]] = []
    total = 0
    no_fit = False
    for name, label in COMPONENTS:
        frac, reason = _COMPUTE[name](facts, rules)
        frac = min(1.0, max(0.0, frac))
        no_fit = no_fit or (name == "fit" and frac == 0.0)
        w = weights[name]
        points = round(w * frac)
        total += points
        components.append(
            {"name": name, "label": label, "points": points, "max": round(w), "reason": reason}
        )
    total = max(0, min(100, total))
    out: dict[str, object] = {
        "total": total,
        "recommendation": recommend(total, rules),
        "components": components,
    }
    if no_fit and rules.no_fit_caps_at_no_bid:
        out["recommendation"] = "no-bid"
        out["capped"] = "fit 0 (outside our capability profile): no-bid whatever the total"
    return out
