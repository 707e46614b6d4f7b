"""Bid/no-bid scoring (tracker.bids.scoring): explainable components, weights from the rules."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.bids.scoring import (
    COMPONENTS,
    BidFacts,
    price_weight_percent,
    score_bid,
    score_text,
)
from tracker.rules import default_rules, parse_rules

TODAY = dt.date(2026, 11, 28)
RULES = default_rules().scoring_rules()


def _by_name(result: dict) -> dict[str, dict]:
    """The components by name, their reasons as English text."""
    return {c["name"]: c for c in score_text(result)["components"]}


def test_strong_opportunity_is_a_bid_with_explained_components() -> None:
    facts = BidFacts(
        today=TODAY,
        tier="star",
        account="Sykehusinnkjøp HF",
        cpv_codes=["72000000-5", "48000000-8"],
        title="Rammeavtale for IKT-infrastruktur, servere og lagring",
        value=20_000_000,
        deadline=TODAY + dt.timedelta(days=35),
        price_weight=30,
        incumbent="us",
        incumbent_name="Atea AS",
        influence_activities=3,
        capacity="available",
        delivery_risk="low",
        assessment_reason="our datacentre team is free from March",
    )
    result = score_bid(facts, RULES)
    assert result["total"] == 100
    assert result["recommendation"] == "bid"
    comps = _by_name(result)
    assert [c["name"] for c in result["components"]] == [n for n, _ in COMPONENTS]
    assert comps["tier"]["reason"] == "Sykehusinnkjøp HF is a star account"
    assert comps["fit"]["reason"].startswith(
        "in profile: main CPV 72000000 Datatjenester: rådgivning"
    )
    assert "ikt" in comps["fit"]["reason"] and "servere" in comps["fit"]["reason"]
    assert comps["capacity"]["reason"] == (
        "we have the people to deliver (our datacentre team is free from March)"
    )
    assert comps["delivery_risk"]["reason"] == (
        "low delivery risk (our datacentre team is free from March)"
    )
    assert comps["value"]["reason"] == (
        "NOK 20.0 M is in our sweet spot "
        "(above the EEA threshold of NOK 2.30 M: EEA-wide competition)"
    )
    assert comps["price_weight"]["reason"] == "price weighs 30 %: quality decides"
    assert comps["incumbent"]["reason"] == "we hold the current agreement (Atea AS)"
    assert comps["influence"]["reason"] == "3 activities recorded in the influence window"
    assert sum(c["max"] for c in result["components"]) == 100
    json.dumps(score_text(result))  # plain values once the reasons are text


def test_weak_opportunity_is_a_no_bid() -> None:
    facts = BidFacts(
        today=TODAY,
        cpv_codes=["45000000-7"],
        text="Rehabilitering av svømmehall",
        value=300_000,
        deadline=TODAY + dt.timedelta(days=5),
        price_weight=80,
        incumbent="competitor",
    )
    result = score_bid(facts, RULES)
    comps = _by_name(result)
    assert result["recommendation"] == "no-bid"
    assert comps["fit"]["points"] == 0
    assert comps["tier"]["reason"] == "not at one of our accounts"
    assert comps["price_weight"]["reason"] == "price weighs 80 %: thin margins"
    assert comps["deadline"]["reason"].startswith("only 5 days to the deadline")
    assert comps["influence"]["reason"].startswith("no activity recorded")
    assert "below our minimum" in comps["value"]["reason"]


def test_unknowns_score_half_and_middle_case_is_consider() -> None:
    facts = BidFacts(today=TODAY, tier="strategic", account="NAV", cpv_codes=["72000000-5"])
    result = score_bid(facts, RULES)
    comps = _by_name(result)
    assert comps["value"]["reason"] == "estimated value unknown"
    assert comps["deadline"]["reason"] == "deadline unknown"
    assert comps["price_weight"]["reason"] == "award criteria weights unknown"
    assert comps["incumbent"]["reason"] == "incumbent unknown"
    assert comps["capacity"]["reason"] == "capacity not assessed by the bid team"
    assert comps["delivery_risk"]["reason"] == "delivery risk not assessed by the bid team"
    assert 40 <= result["total"] < 60
    assert result["recommendation"] == "consider"


@pytest.mark.parametrize(
    ("value", "buyer_type", "reason"),
    [
        (1_000_000, None, "NOK 1.0 M is small for us (sweet spot from NOK 2.0 M) "
         "(below the national threshold of NOK 1.3 M)"),
        (1_400_000, None, "NOK 1.4 M is small for us (sweet spot from NOK 2.0 M)"),
        (1_500_000, "state", "NOK 1.5 M is small for us (sweet spot from NOK 2.0 M) "
         "(above the EEA threshold of NOK 1.49 M: EEA-wide competition)"),
        (300_000_000, "municipality", "NOK 300.0 M is above NOK 200 M: a delivery risk for us "
         "(above the EEA threshold of NOK 2.30 M: EEA-wide competition)"),
    ],
)  # fmt: skip
def test_value_against_our_and_the_legal_thresholds(
    value: float, buyer_type: str | None, reason: str
) -> None:
    facts = BidFacts(today=TODAY, value=value, buyer_type=buyer_type)
    assert _by_name(score_bid(facts, RULES))["value"]["reason"] == reason


def test_passed_deadline_scores_zero() -> None:
    comps = _by_name(score_bid(BidFacts(today=TODAY, deadline=TODAY - dt.timedelta(days=1))))
    assert comps["deadline"]["points"] == 0
    assert "has passed" in comps["deadline"]["reason"]


def test_weights_come_from_configuration() -> None:
    rules = parse_rules(
        "[scoring]\nweights = { tier = 0, fit = 100, value = 0, deadline = 0, price_weight = 0,"
        " incumbent = 0, influence = 0, capacity = 0, delivery_risk = 0 }\n",
        "u.toml",
    ).scoring_rules()
    facts = BidFacts(today=TODAY, cpv_codes=["72000000-5"], title="IT-drift og lisenser")
    result = score_bid(facts, rules)
    assert result["total"] == 100
    assert _by_name(result)["tier"]["max"] == 0


def test_fit_is_the_capability_profile_of_tracker_relevance() -> None:
    profile = RULES.the_profile
    kiosk = BidFacts(today=TODAY, cpv_codes=["55900000"], title="Drift av kiosk", text="IT")
    assert _by_name(score_bid(kiosk, RULES))["fit"]["reason"] == (
        "out of profile: 'kiosk' in the title"
    )
    assert profile.fit(["30213000-5", "45000000-7"], "30213000-5", "Bærbare PC-er").fit


@pytest.mark.parametrize(
    ("criteria", "share"),
    [
        ([("price", 40.0), ("quality", 40.0), ("quality", 20.0)], 40.0),
        ([("cost", 3.0), ("quality", 7.0)], 30.0),
        ([("price", None)], 100.0),
        ([("quality", None), ("price", None)], None),
        ([], None),
    ],
)
def test_price_weight_percent(criteria: list, share: float | None) -> None:
    assert price_weight_percent(criteria) == share


@settings(max_examples=200, deadline=None)
@given(
    tier=st.sampled_from([None, "star", "strategic", "status", "streamline", "weird"]),
    value=st.none() | st.floats(min_value=0, max_value=1e10),
    days=st.none() | st.integers(-100, 400),
    price=st.none() | st.floats(min_value=0, max_value=100),
    incumbent=st.sampled_from(["us", "competitor", "unknown", "?"]),
    activities=st.integers(0, 5),
    text=st.text(max_size=80),
)
def test_score_is_bounded_and_consistent(
    tier: str | None,
    value: float | None,
    days: int | None,
    price: float | None,
    incumbent: str,
    activities: int,
    text: str,
) -> None:
    facts = BidFacts(
        today=TODAY,
        tier=tier,
        account="A" if tier else None,
        value=value,
        deadline=None if days is None else TODAY + dt.timedelta(days=days),
        price_weight=price,
        incumbent=incumbent,
        influence_activities=activities,
        text=text,
        cpv_codes=["72000000-5"],
    )
    result = score_bid(facts, RULES)
    assert 0 <= result["total"] <= 100
    assert result["total"] == sum(c["points"] for c in result["components"])
    for c in result["components"]:
        assert 0 <= c["points"] <= c["max"] and c["reason"]
    by_total = "bid" if result["total"] >= 60 else "consider" if result["total"] >= 40 else "no-bid"
    fits = _by_name(result)["fit"]["points"] > 0
    assert result["recommendation"] == (by_total if fits else "no-bid")


def test_a_suggested_link_gives_a_reduced_labelled_tier_only() -> None:
    """Only a confirmed link gives the account tier; a suggested one gives half, labelled."""
    base = {"today": TODAY, "cpv_codes": ["72000000-5"], "title": "IT-drift"}
    confirmed = _by_name(score_bid(BidFacts(**base, tier="star", account="HSØ"), RULES))
    suggested = _by_name(
        score_bid(BidFacts(**base, suggested_tier="star", suggested_account="HSØ"), RULES)
    )
    assert confirmed["tier"]["points"] == 10
    assert confirmed["tier"]["reason"] == "HSØ is a star account"
    assert suggested["tier"]["points"] == 5  # 0.5 of 10
    assert suggested["tier"]["reason"] == (
        "suggested link to HSØ (star), not confirmed: 0.5 of the tier points"
    )
    # a confirmed account wins over a suggestion
    both = score_bid(
        BidFacts(**base, tier="status", account="A", suggested_tier="star", suggested_account="B"),
        RULES,
    )
    assert _by_name(both)["tier"]["reason"] == "A is a status account"
    # the factor is a rule
    rules = parse_rules("[scoring]\nsuggested_link_factor = 0.0\n", "u.toml").scoring_rules()
    none = score_bid(BidFacts(**base, suggested_tier="star", suggested_account="HSØ"), rules)
    assert _by_name(none)["tier"]["points"] == 0


def test_no_fit_caps_the_recommendation_at_no_bid() -> None:
    """A competition outside the profile (fit 0) is no-bid however well it scores otherwise."""
    facts = BidFacts(
        today=TODAY,
        tier="star",
        account="HSØ",
        value=10_000_000,
        deadline=TODAY + dt.timedelta(days=40),
        price_weight=20,
        incumbent="us",
        influence_activities=2,
        text="Overflatebehandling av metaller",
        cpv_codes=["80000000-4"],
    )
    result = score_bid(facts, RULES)
    assert _by_name(result)["fit"]["points"] == 0
    assert result["total"] >= 60  # would be a bid on points alone
    assert result["recommendation"] == "no-bid"
    assert "fit 0" in str(result["capped"])
    # with a profile keyword in the title the cap does not apply
    fitting = score_bid(BidFacts(**{**facts.__dict__, "title": "IT-drift"}), RULES)
    assert fitting["recommendation"] == "bid" and "capped" not in fitting
    # and the cap is a rule that can be switched off
    off = parse_rules("[scoring]\nno_fit_caps_at_no_bid = false\n", "u.toml").scoring_rules()
    assert score_bid(facts, off)["recommendation"] == "bid"
