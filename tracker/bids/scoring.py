"""Bid/no-bid scoring: a pure function from facts about a competition to an explainable score.

``score_bid(facts, rules)`` returns a dict::

    {"total": 0..100, "recommendation": "bid" | "consider" | "no-bid",
     "components": [{"name": "fit", "label": "Fit (CPV and keywords)",
                     "points": 15, "max": 25, "reason": "CPV 72000000 matches ..."}, ...]}

Reasons are ``tracker.messages.Message`` values (English ``str()``, translated where they
are shown: dates, amounts and tier names in the reader's language); ``score_text`` gives
the score with every reason as its English text (JSON, the stored decision).

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
from typing import Any

from tracker.enums import Recommendation
from tracker.messages import N_, Message, join
from tracker.opportunities.profile import Fit, Profile

Reason = Message | str  # a message, or text as it was written (the fit, the bid team's words)

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
RECOMMENDATIONS: tuple[Recommendation, ...] = tuple(Recommendation)


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


def day_message(d: dt.date) -> Message:
    """A date: ISO in English (2023-03-17), dd.mm.åååå in Norwegian."""
    year, month, day = f"{d.year:04d}", f"{d.month:02d}", f"{d.day:02d}"
    return N_("%(year)s-%(month)s-%(day)s", year=year, month=month, day=day)


def mnok_message(value: float, decimals: int) -> Message:
    """An amount in millions: "NOK 2.30 M" in English, "2,30 mill. kr" in Norwegian."""
    whole, _, fraction = f"{value / 1e6:.{decimals}f}".partition(".")
    if fraction:
        return N_("NOK %(whole)s.%(fraction)s M", whole=whole, fraction=fraction)
    return N_("NOK %(whole)s M", whole=whole)


TIER_WORDS = {
    "star": N_("star"),
    "strategic": N_("strategic"),
    "status": N_("status"),
    "streamline": N_("streamline"),
}


def _tier_word(tier: str) -> Message | str:
    return TIER_WORDS.get(tier, tier)


def _with_why(text: Message, why: str | None) -> Message:
    """``text`` followed by the bid team's own words in brackets."""
    return join([text, f"({why})"], " ") if why else text


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


def _fit(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    fit = profile_fit(f, r)
    return (fit.strength if fit.fit else 0.0), fit.reason


VALUE_KIND_WORDS = {
    "estimated": N_("estimated value"),
    "framework_max": N_("framework maximum (a ceiling: the spend may be lower)"),
    "text_estimated": N_("estimated value the text states"),
    "text_max": N_("maximum the text states (a ceiling)"),
}


def _value(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    """The competition's one value (with its kind) against our thresholds; the buyer's own
    words are quoted where they name another amount (2023-649037: 30 MNOK over 4 years,
    "ca. NOK 7 500 000,- per år")."""
    if f.value is None:
        return 0.5, N_("estimated value unknown")
    words = VALUE_KIND_WORDS.get(f.value_kind or "")
    if (f.currency or "NOK") != "NOK":
        return 0.5, N_(
            "%(what)s %(amount)s %(currency)s: not compared with our NOK thresholds",
            what=words or N_("value"), amount=f"{f.value:,.0f}", currency=f.currency,
        )  # fmt: skip
    frac, reason = _value_fit(f.value, r)
    if words:
        reason = join([words, reason], ": ")
    eea = r.eea_threshold_state if f.buyer_type == "state" else r.eea_threshold_other
    if f.value >= eea:
        above = N_(
            "(above the EEA threshold of %(eea)s: EEA-wide competition)", eea=mnok_message(eea, 2)
        )
        reason = join([reason, above], " ")
    elif f.value < r.national_threshold:
        national = mnok_message(r.national_threshold, 1)
        below = N_("(below the national threshold of %(national)s)", national=national)
        reason = join([reason, below], " ")
    if f.value_words:
        quotes = "; ".join(f"«{w}»" for w in f.value_words)
        reason = join([reason, N_("the buyer writes: %(quotes)s", quotes=quotes)], "; ")
    return frac, reason


def _value_fit(v: float, r: ScoringRules) -> tuple[float, Message]:
    amount = mnok_message(v, 1)
    if v < r.min_value:
        return 0.1, N_(
            "%(amount)s is below our minimum of %(minimum)s",
            amount=amount, minimum=mnok_message(r.min_value, 1),
        )  # fmt: skip
    if v < r.sweet_low:
        return 0.6, N_(
            "%(amount)s is small for us (sweet spot from %(low)s)",
            amount=amount, low=mnok_message(r.sweet_low, 1),
        )  # fmt: skip
    if v <= r.sweet_high:
        return 1.0, N_("%(amount)s is in our sweet spot", amount=amount)
    if v <= r.max_value:
        return 0.6, N_(
            "%(amount)s is large (sweet spot up to %(high)s)",
            amount=amount, high=mnok_message(r.sweet_high, 1),
        )  # fmt: skip
    return 0.2, N_(
        "%(amount)s is above %(maximum)s: a delivery risk for us",
        amount=amount, maximum=mnok_message(r.max_value, 0),
    )  # fmt: skip


def _deadline(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    if f.deadline is None:
        return 0.5, N_("deadline unknown")
    days = (f.deadline - f.today).days
    day = day_message(f.deadline)
    if days < 0:
        return 0.0, N_("deadline %(day)s has passed", day=day)
    if days < r.deadline_tight:
        return 0.2, N_("only %(days)s days to the deadline %(day)s", days=days, day=day)
    if days < r.deadline_comfortable:
        return 0.6, N_("%(days)s days to the deadline %(day)s", days=days, day=day)
    return 1.0, N_("%(days)s days to the deadline %(day)s: enough time", days=days, day=day)


def _price(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    p = f.price_weight
    if p is None:
        return 0.5, N_("award criteria weights unknown")
    percent = f"{p:g}"
    if p <= r.price_low:
        return 1.0, N_("price weighs %(percent)s %%: quality decides", percent=percent)
    if p >= r.price_high:
        return 0.0, N_("price weighs %(percent)s %%: thin margins", percent=percent)
    frac = (r.price_high - p) / (r.price_high - r.price_low)
    return frac, N_("price weighs %(percent)s %%", percent=percent)


def _incumbent(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    who = f.incumbent if f.incumbent in r.incumbent_factor else "unknown"
    frac = r.incumbent_factor.get(who, 0.5)
    name = f.incumbent_name
    if who == "us":
        text = (
            N_("we hold the current agreement (%(name)s)", name=name)
            if name
            else N_("we hold the current agreement")
        )
    elif who == "competitor":
        text = (
            N_("a competitor holds the current agreement (%(name)s)", name=name)
            if name
            else N_("a competitor holds the current agreement")
        )
    else:
        text = N_("incumbent unknown")
    return frac, text


def _influence(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    n = f.influence_activities
    if n == 1:
        return 1.0, N_("%(count)s activity recorded in the influence window", count=n)
    if n > 0:
        return 1.0, N_("%(count)s activities recorded in the influence window", count=n)
    return 0.0, N_("no activity recorded: we did not work the influence window")


def _tier(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    if not f.account and f.suggested_account:
        tier = f.suggested_tier or "streamline"
        frac = r.tier_factor.get(tier, 0.0) * r.suggested_link_factor
        factor = f"{r.suggested_link_factor:g}"
        return frac, N_(
            "suggested link to %(account)s (%(tier)s), not confirmed: "
            "%(factor)s of the tier points",
            account=f.suggested_account, tier=_tier_word(tier), factor=factor,
        )  # fmt: skip
    if not f.account:
        return r.tier_factor.get("none", 0.0), N_("not at one of our accounts")
    tier = f.tier or "streamline"
    return r.tier_factor.get(tier, 0.0), N_(
        "%(account)s is a %(tier)s account", account=f.account, tier=_tier_word(tier)
    )


CAPACITY_WORDS = {
    "available": N_("we have the people to deliver"),
    "stretched": N_("we are stretched: delivery would need extra people"),
    "none": N_("we have no capacity to deliver"),
}
RISK_WORDS = {
    "low": N_("low delivery risk"),
    "medium": N_("medium delivery risk"),
    "high": N_("high delivery risk"),
}


def _capacity(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    if f.capacity not in CAPACITY_FACTOR:
        return 0.5, N_("capacity not assessed by the bid team")
    return CAPACITY_FACTOR[f.capacity], _with_why(CAPACITY_WORDS[f.capacity], f.assessment_reason)


def _delivery_risk(f: BidFacts, r: ScoringRules) -> tuple[float, Reason]:
    if f.delivery_risk not in RISK_FACTOR:
        return 0.5, N_("delivery risk not assessed by the bid team")
    words = RISK_WORDS[f.delivery_risk]
    return RISK_FACTOR[f.delivery_risk], _with_why(words, f.assessment_reason)


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


def recommend(total: float, rules: ScoringRules = DEFAULT_SCORING) -> Recommendation:
    """bid, consider or no-bid for a total score."""
    if total >= rules.bid_at:
        return Recommendation.BID
    if total >= rules.consider_at:
        return Recommendation.CONSIDER
    return Recommendation.NO_BID


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
        out["recommendation"] = Recommendation.NO_BID
        out["capped"] = N_("fit 0 (outside our capability profile): no-bid whatever the total")
    return out


def _as_text(value: Any) -> Any:
    if isinstance(value, Message):
        return str(value)
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return value


def score_text(score: dict[str, Any]) -> dict[str, Any]:
    """``score`` with every reason as its English text (JSON, the stored decision)."""
    return dict(_as_text(score))
