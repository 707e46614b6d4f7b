"""Influence windows, timelines and budget windows (tracker.opportunities.windows): table and
property tests."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.dates import add_months
from tracker.opportunities.budget import BUDGET_STATUSES, BudgetCalendar, budget_window_for
from tracker.opportunities.explain import explain
from tracker.opportunities.window_rules import DEFAULT_RULES, WindowRules
from tracker.opportunities.windows import (
    CONFIDENCES,
    PHASES,
    compute_timeline,
    expected_procedure,
    year_end_window,
)
from tracker.rules import default_rules, parse_rules

D = dt.date


# --------------------------------------------------------------------------- the issue's examples


def test_issue_example_reason_verbatim() -> None:
    today = D(2026, 11, 28)
    tl = compute_timeline(today, expiry=D(2027, 9, 30), expiry_source="explicit", procedure="open")
    assert tl.expected_publication == D(2027, 3, 30)
    assert tl.drafting_starts == D(2026, 9, 30)
    assert tl.influence_opens == D(2026, 9, 30)  # 12 months before expiry (the interviews)
    assert tl.rule_keys["influence_opens"] == "windows.influence_months_before_expiry"
    assert tl.rule_keys["expected_publication"] == "windows.publish_before_expiry_months"
    assert tl.rule_keys["drafting_starts"] == "windows.drafting_months_before_publication"
    assert tl.phase == "drafting"
    assert tl.can_influence is True
    assert tl.days_left == 122
    assert explain(tl, today, title="X", buyer="Sykehusinnkjøp HF") == (
        "Agreement X at Sykehusinnkjøp HF ends 2027-09-30; re-tender expected ~2027-03-30 "
        "(open procedure, 6 months before expiry); specification drafting since ~2026-09-30; "
        "on 2026-11-28 influence is still possible for 122 days, until publication"
    )


@pytest.mark.parametrize(
    ("contract_start", "window"),
    [
        (D(2027, 9, 30), (D(2026, 10, 1), D(2027, 3, 31))),
        (D(2027, 2, 1), (D(2025, 10, 1), D(2026, 3, 31))),
    ],
)
def test_issue_budget_examples(contract_start: dt.date, window: tuple[dt.date, dt.date]) -> None:
    w = budget_window_for(contract_start, BudgetCalendar(), today=D(2026, 11, 28))
    assert (w.start, w.end) == window


# --------------------------------------------------------------------------- one table per rule


@pytest.mark.parametrize(
    ("procedure", "publication"),
    [
        ("open", D(2027, 3, 30)),
        ("restricted", D(2027, 1, 30)),
        ("neg-w-call", D(2026, 12, 30)),
        ("comp-dial", D(2026, 9, 30)),
        ("innovation", D(2026, 9, 30)),
        (None, D(2027, 3, 30)),
        ("something-else", D(2027, 3, 30)),
    ],
)
def test_publication_lead_time_per_procedure(procedure: str | None, publication: dt.date) -> None:
    tl = compute_timeline(D(2026, 1, 1), expiry=D(2027, 9, 30), procedure=procedure)
    assert tl.expected_publication == publication
    assert tl.sources["expected_publication"][0] == "rule"


def test_influence_opens_12_months_before_expiry_and_drafting_6_before_publication() -> None:
    tl = compute_timeline(D(2024, 1, 1), expiry=D(2026, 2, 28), expiry_source="explicit")
    assert tl.influence_opens == D(2025, 2, 28)
    assert tl.expected_publication == D(2025, 8, 28)
    assert tl.drafting_starts == D(2025, 2, 28)
    assert tl.phase == "watching"
    assert tl.can_influence is False and tl.days_left is None
    assert "influence is not yet open: it opens ~2025-02-28 (in 424 days)" in explain(
        tl, D(2024, 1, 1), title="T"
    )


@pytest.mark.parametrize(
    ("value", "drafting", "opens", "band", "rule"),
    [
        # publication 2025-08-28 (open procedure, 6 months before the 2026-02-28 expiry)
        (1_000_000, D(2025, 5, 28), D(2025, 2, 28), "small", "windows.drafting_months_by_value"),
        (5_000_000, D(2025, 2, 28), D(2025, 2, 28), "medium", "windows.drafting_months_by_value"),
        (15_000_000, D(2024, 8, 28), D(2024, 8, 28), "large", "windows.drafting_months_by_value"),
        (250e6, D(2024, 2, 28), D(2024, 2, 28), "largest", "windows.drafting_months_by_value"),
        (None, D(2025, 2, 28), D(2025, 2, 28), "value unknown",
         "windows.drafting_months_before_publication"),
    ],
)  # fmt: skip
def test_drafting_time_by_value_band_and_large_frameworks_open_earlier(
    value: float | None, drafting: dt.date, opens: dt.date, band: str, rule: str
) -> None:
    tl = compute_timeline(D(2024, 1, 1), expiry=D(2026, 2, 28), value=value)
    assert tl.expected_publication == D(2025, 8, 28)
    assert tl.drafting_starts == drafting
    assert tl.influence_opens == opens  # 12 months before expiry, or when drafting starts
    assert band in tl.sources["drafting_starts"][1]
    assert tl.rule_keys["drafting_starts"] == rule
    if opens < D(2025, 2, 28):
        assert "when the buyer starts drafting" in tl.sources["influence_opens"][1]


def test_influence_open_phase_before_drafting() -> None:
    today = D(2025, 4, 1)
    tl = compute_timeline(today, expiry=D(2026, 2, 28), expiry_source="explicit", value=900_000)
    assert tl.phase == "influence_open"
    assert tl.days_left == (D(2025, 8, 28) - today).days
    assert "specification drafting from ~2025-05-28" in explain(tl, today, title="T")


def test_planning_notice_opens_influence_and_bt127_sets_publication() -> None:
    # PIN issued 2023-03-10 announcing a contract notice on 2023-09-01 (BT-127).
    today = D(2023, 4, 1)
    tl = compute_timeline(today, planning_date=D(2023, 3, 10), planned_publication=D(2023, 9, 1))
    assert tl.influence_opens == D(2023, 3, 10)
    assert tl.expected_publication == D(2023, 9, 1)
    assert tl.sources["expected_publication"] == (
        "notice",
        "planned date of the contract notice (BT-127)",
    )
    # Drafting would start 2023-03-01, before the PIN: it starts when influence opens.
    assert tl.drafting_starts == D(2023, 3, 10)
    assert tl.phase == "drafting"
    assert tl.confidence == "medium"
    assert tl.days_left == 153


def test_planning_notice_without_planned_date_estimates_six_months() -> None:
    tl = compute_timeline(D(2023, 4, 1), planning_date=D(2023, 3, 10))
    assert tl.expected_publication == D(2023, 9, 10)
    assert tl.sources["expected_publication"][0] == "estimate"
    assert tl.confidence == "low"


def test_planning_notice_earlier_than_12_months_opens_influence_earlier() -> None:
    tl = compute_timeline(D(2023, 1, 1), expiry=D(2026, 6, 30), planning_date=D(2025, 1, 15))
    assert tl.influence_opens == D(2025, 1, 15)
    assert tl.sources["influence_opens"] == ("notice", "issue date of the planning notice")
    tl = compute_timeline(D(2023, 1, 1), expiry=D(2026, 6, 30), planning_date=D(2025, 9, 15))
    assert tl.influence_opens == D(2025, 6, 30)


def test_planned_date_before_the_planning_notice_is_ignored() -> None:
    tl = compute_timeline(
        D(2023, 4, 1), planning_date=D(2023, 3, 10), planned_publication=D(2023, 1, 1)
    )
    assert tl.expected_publication == D(2023, 9, 10)


def test_market_dialogue_is_open_now_until_its_response_deadline() -> None:
    # 2023-664435: notice 2023-02-21, feedback asked by 2023-03-08 "før endelig utlysning".
    kw = dict(planning_date=D(2023, 2, 21), dialogue=True, dialogue_until=D(2023, 3, 8))
    kw["dialogue_basis"] = "notice field: deadline"
    tl = compute_timeline(D(2023, 3, 1), **kw)  # type: ignore[arg-type]
    assert (tl.phase, tl.can_influence, tl.days_left) == ("dialogue_open", True, 7)
    assert tl.influence_opens == D(2023, 2, 21)
    assert tl.sources["influence_opens"] == ("notice", "issue date of the market-dialogue notice")
    text = explain(tl, D(2023, 3, 1), kind="dialogue", title="Kiosk", buyer="B")
    assert text.startswith("Market dialogue Kiosk at B; the buyer asks the market for input")
    assert "7 days left to respond" in text
    assert compute_timeline(D(2023, 3, 8), **kw).phase == "dialogue_open"  # type: ignore[arg-type]
    after = compute_timeline(D(2023, 3, 9), **kw)  # type: ignore[arg-type]
    assert after.phase == "drafting" and after.can_influence  # influence until publication
    assert after.days_left == (D(2023, 8, 21) - D(2023, 3, 9)).days


def test_market_dialogue_without_deadline_is_open_for_the_rule_days() -> None:
    tl = compute_timeline(D(2023, 11, 1), planning_date=D(2023, 10, 30), dialogue=True)
    assert tl.dialogue_until == D(2023, 11, 29)
    assert tl.sources["dialogue_until"][0] == "estimate"
    assert tl.rule_keys["dialogue_until"] == "windows.dialogue_days_without_deadline"
    assert tl.phase == "dialogue_open" and tl.days_left == 28


def test_stated_publication_month_due_then_overdue_not_influence() -> None:
    # 2022-642893: "Konkurransen utlyses i januar 2023" (notice 2022-11-29).
    kw = dict(
        planning_date=D(2022, 11, 29),
        planned_publication=D(2023, 1, 1),
        planned_publication_until=D(2023, 1, 31),
        planned_publication_basis="notice text: 'Konkurransen utlyses i januar 2023.'",
    )
    before = compute_timeline(D(2022, 12, 15), **kw)  # type: ignore[arg-type]
    assert (before.phase, before.days_left, before.confidence) == ("drafting", 17, "medium")
    assert before.sources["expected_publication"][0] == "notice"
    due = compute_timeline(D(2023, 1, 15), **kw)  # type: ignore[arg-type]
    assert (due.phase, due.due, due.overdue, due.days_left) == ("drafting", True, False, 16)
    assert "publication is due (stated period)" in explain(due, D(2023, 1, 15), kind="planning")
    late = compute_timeline(D(2023, 3, 1), **kw)  # type: ignore[arg-type]
    assert (late.phase, late.can_influence, late.days_left) == ("overdue", False, None)
    text = explain(late, D(2023, 3, 1), kind="planning", title="Parkering")
    assert "between 2023-01-01 and 2023-01-31" in text
    assert "the stated publication date has passed" in text
    assert "still possible" not in text


def test_published_competition_uses_notice_dates() -> None:
    # Published 2024-03-01 with tender deadline 2024-04-10 and contract start 2024-09-01.
    pub, deadline, start = D(2024, 3, 1), D(2024, 4, 10), D(2024, 9, 1)
    cases = [
        (D(2024, 3, 20), "published"),
        (D(2024, 4, 10), "published"),
        (D(2024, 4, 11), "evaluation"),
        (D(2024, 6, 24), "awarded"),
        (D(2024, 9, 1), "running"),
    ]
    for today, phase in cases:
        tl = compute_timeline(
            today, expiry=D(2024, 8, 31), published=pub, deadline=deadline, contract_start=start
        )
        assert tl.expected_deadline == deadline
        assert tl.expected_award == D(2024, 6, 24)  # deadline + 75 days evaluation
        assert tl.contract_start == start
        assert tl.phase == phase, today
        assert tl.can_influence is False
        assert tl.confidence == "high"
    tl = compute_timeline(D(2024, 3, 20), published=pub, deadline=deadline)
    assert "questions only until the deadline 2024-04-10" in explain(
        tl, D(2024, 3, 20), kind="competition", title="T"
    )


def test_published_without_deadline_estimates_minimum_periods() -> None:
    tl = compute_timeline(D(2024, 3, 2), published=D(2024, 3, 1), procedure="restricted")
    assert tl.expected_deadline == D(2024, 4, 25)  # 30 days request + 25 days tender
    assert tl.expected_award == D(2024, 7, 9)
    assert tl.contract_start == D(2024, 7, 19)  # award + 10 days standstill


def test_late_publication_pushes_contract_start_past_expiry() -> None:
    tl = compute_timeline(
        D(2024, 8, 1), expiry=D(2024, 8, 31), published=D(2024, 7, 1), deadline=D(2024, 8, 5)
    )
    assert tl.expected_award == D(2024, 10, 19)
    assert tl.contract_start == D(2024, 10, 29)
    assert tl.sources["contract_start"][0] == "estimate"


def test_overdue_publication_keeps_influence_until_contract_start() -> None:
    tl = compute_timeline(D(2024, 5, 1), expiry=D(2024, 8, 31), expiry_source="explicit")
    assert tl.expected_publication == D(2024, 2, 29)
    assert (tl.phase, tl.overdue, tl.can_influence, tl.days_left) == ("drafting", True, True, 0)
    assert "publication is overdue" in explain(tl, D(2024, 5, 1), title="T")
    tl = compute_timeline(D(2024, 9, 1), expiry=D(2024, 8, 31), expiry_source="explicit")
    assert tl.phase == "overdue" and tl.overdue and not tl.can_influence


@pytest.mark.parametrize(
    ("today", "expiry", "phase", "can"),
    [
        # Two agreements the reviewer saw as "running" on 2026-11-28 with no competition.
        (D(2026, 11, 28), D(2026, 11, 23), "overdue", False),
        (D(2026, 11, 28), D(2026, 10, 13), "overdue", False),
        (D(2026, 11, 23), D(2026, 11, 23), "drafting", True),  # the last day of the contract
        (D(2026, 11, 24), D(2026, 11, 23), "overdue", False),  # the day after
        (D(2027, 11, 22), D(2026, 11, 23), "overdue", False),  # a year on: still a risk
    ],
)
def test_expired_without_competition_is_overdue_not_running(
    today: dt.date, expiry: dt.date, phase: str, can: bool
) -> None:
    tl = compute_timeline(today, expiry=expiry, expiry_source="explicit")
    assert (tl.phase, tl.overdue, tl.can_influence) == (phase, True, can)
    assert tl.days_left == (0 if can else None)
    text = explain(tl, today, title="X", buyer="B")
    assert "running" not in text
    if phase == "overdue":
        assert text == (
            f"Agreement X at B ended {expiry}; re-tender was expected "
            f"~{add_months(expiry, -6)} (open procedure, 6 months before expiry); on {today} "
            "no competition notice has been seen: re-tender overdue or the agreement was "
            "extended"
        )
        contract = explain(tl, today, title="X", framework=False)
        assert contract.endswith("re-tender overdue or the contract was extended")


def test_planning_notice_without_competition_becomes_overdue() -> None:
    # PIN 2024-01-10 -> expected publication 2024-07-10, deadline 2024-08-09, award
    # 2024-10-23, contract start 2024-11-02; no competition seen by 2025-01-01.
    tl = compute_timeline(D(2025, 1, 1), planning_date=D(2024, 1, 10))
    assert (tl.contract_start, tl.phase, tl.can_influence) == (D(2024, 11, 2), "overdue", False)
    assert explain(tl, D(2025, 1, 1), kind="planning", title="P").endswith(
        "no competition notice has been seen although the contract was expected to start "
        "~2024-11-02: competition overdue, not found or dropped"
    )


def test_published_competition_is_running_after_its_contract_start() -> None:
    tl = compute_timeline(
        D(2024, 9, 2), expiry=D(2024, 8, 31), published=D(2024, 2, 1), deadline=D(2024, 3, 5)
    )
    assert (tl.phase, tl.overdue) == ("running", False)
    assert "the new contract is running (since ~2024-09-01)" in explain(tl, D(2024, 9, 2))


@pytest.mark.parametrize(
    ("source", "confidence"),
    [
        ("explicit", "high"),
        ("start+duration", "high"),
        ("conclusion+duration", "medium"),
        ("award+cn_duration", "medium"),
        ("framework_default", "low"),
        ("unknown", "low"),
        ("something new", "medium"),
    ],
)
def test_confidence_follows_how_the_expiry_was_known(source: str, confidence: str) -> None:
    tl = compute_timeline(D(2025, 1, 1), expiry=D(2027, 1, 31), expiry_source=source)
    assert tl.confidence == confidence


def test_nothing_known_is_watching_with_unknown_confidence() -> None:
    tl = compute_timeline(D(2025, 1, 1))
    assert (tl.phase, tl.confidence, tl.can_influence, tl.budget) == (
        "watching",
        "unknown",
        False,
        None,
    )
    assert "end date unknown" in explain(tl, D(2025, 1, 1), title="T")


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (D(2026, 9, 30), "upcoming"),
        (D(2026, 10, 1), "open"),
        (D(2027, 3, 31), "open"),
        (D(2027, 4, 1), "closed"),
    ],
)
def test_budget_window_status(today: dt.date, status: str) -> None:
    w = budget_window_for(
        D(2027, 10, 1), BudgetCalendar(), today=today, influence_opens=D(2025, 1, 1)
    )
    assert w.status == status


def test_budget_window_missed_when_it_closed_before_influence_opened() -> None:
    # A planning notice seen on 2026-05-01 for a contract starting 2026-12-01: the funding
    # cycle (2025-10-01 – 2026-03-31) closed before influence could start.
    tl = compute_timeline(
        D(2026, 5, 2), planning_date=D(2026, 5, 1), planned_publication=D(2026, 7, 1)
    )
    assert tl.budget is not None
    assert (tl.budget.start, tl.budget.end, tl.budget.status) == (
        D(2025, 10, 1),
        D(2026, 3, 31),
        "missed",
    )


def test_budget_window_boundary_contract_starting_first_of_april() -> None:
    w = budget_window_for(D(2027, 4, 1), BudgetCalendar(), today=D(2026, 1, 1))
    assert (w.start, w.end) == (D(2026, 10, 1), D(2027, 3, 31))
    w = budget_window_for(D(2027, 3, 31), BudgetCalendar(), today=D(2026, 1, 1))
    assert (w.start, w.end) == (D(2025, 10, 1), D(2026, 3, 31))


def test_budget_calendars_per_buyer_type_with_milestones() -> None:
    # A contract starting 2027-09-30 is funded in the window 2026-10-01 – 2027-03-31: it
    # holds the proposal and adoption of budget 2027 and the initiatives and frames of 2028.
    rules = default_rules()
    state = rules.window_rules("state")
    w = budget_window_for(D(2027, 9, 30), state.budget, today=D(2026, 11, 28))
    assert w.buyer_type == "state"
    assert w.milestones == (
        ("budget proposal presented (budget 2027)", D(2026, 10, 6)),
        ("budget adopted by the Storting (budget 2027)", D(2026, 12, 15)),
        ("new initiatives to the ministry (budget 2028)", D(2027, 1, 25)),
        ("budget frames conference (budget 2028)", D(2027, 3, 10)),
    )
    health = rules.window_rules("health trust")
    assert health.budget.buyer_type == "health_trust"
    w = budget_window_for(D(2027, 9, 30), health.budget, today=D(2026, 11, 28))
    assert w.milestones == (
        ("income frames (budget 2027)", D(2026, 11, 15)),
        ("assignment document (budget 2027)", D(2027, 1, 31)),
        ("planning assumptions (budget 2028)", D(2027, 3, 15)),
    )


@pytest.mark.parametrize(
    ("buyer_type", "start", "window", "milestones"),
    [
        # A municipal contract starting 2023-04-01: budget 2023 proposed and adopted in
        # the window (its June frames fall outside any October–March window).
        (
            "municipality",
            D(2023, 4, 1),
            (D(2022, 10, 1), D(2023, 3, 31)),
            [("budget proposal (budget 2023)", D(2022, 10, 15)),
             ("budget adopted (budget 2023)", D(2022, 12, 15))],
        ),
        # Politiets fellestjenester, start 2026-10-14: adopted by the Storting 2025-12-15.
        (
            "state",
            D(2026, 10, 14),
            (D(2025, 10, 1), D(2026, 3, 31)),
            [("budget proposal presented (budget 2026)", D(2025, 10, 6)),
             ("budget adopted by the Storting (budget 2026)", D(2025, 12, 15)),
             ("new initiatives to the ministry (budget 2027)", D(2026, 1, 25)),
             ("budget frames conference (budget 2027)", D(2026, 3, 10))],
        ),
        # The issue's example: a start in February 2022 is funded in 2020-10 – 2021-03;
        # its milestones are those inside that window (never 2022-06/10/12 ones).
        (
            "county",
            D(2022, 2, 1),
            (D(2020, 10, 1), D(2021, 3, 31)),
            [("budget proposal (budget 2021)", D(2020, 10, 15)),
             ("budget adopted (budget 2021)", D(2020, 12, 15))],
        ),
        # A health-trust contract starting 2027-01-15: window 2025-10 – 2026-03.
        (
            "health_trust",
            D(2027, 1, 15),
            (D(2025, 10, 1), D(2026, 3, 31)),
            [("income frames (budget 2026)", D(2025, 11, 15)),
             ("assignment document (budget 2026)", D(2026, 1, 31)),
             ("planning assumptions (budget 2027)", D(2026, 3, 15))],
        ),
        ("other", D(2027, 1, 1), (D(2025, 10, 1), D(2026, 3, 31)), []),
    ],
)  # fmt: skip
def test_budget_milestones_fall_inside_their_window(
    buyer_type: str,
    start: dt.date,
    window: tuple[dt.date, dt.date],
    milestones: list[tuple[str, dt.date]],
) -> None:
    cal = default_rules().window_rules(buyer_type).budget
    w = budget_window_for(start, cal, today=D(2023, 3, 1))
    assert (w.start, w.end) == window
    assert list(w.milestones) == milestones


def test_funding_window_anchored_to_the_decision_to_procure_and_to_the_contract_start() -> None:
    # Expiry 2027-09-30: publication expected 2027-03-30, contract start 2027-10-01.
    rules = default_rules()
    for buyer_type, primary in (("state", "contract_start"), ("health_trust", "publication")):
        wr = rules.window_rules(buyer_type)
        tl = compute_timeline(D(2026, 11, 28), wr, expiry=D(2027, 9, 30))
        pub, start = tl.budget_windows["publication"], tl.budget_windows["contract_start"]
        assert (pub.start, pub.end, pub.anchor_date) == (
            D(2025, 10, 1),
            D(2026, 3, 31),
            D(2027, 3, 30),
        )
        assert (start.start, start.end, start.anchor_date) == (
            D(2026, 10, 1),
            D(2027, 3, 31),
            D(2027, 10, 1),
        )
        assert tl.budget is tl.budget_windows[primary]
        assert tl.budget.anchor == primary


# The milestone that decides the money, per shipped calendar.
_ADOPTION = {
    "state": "budget adopted by the Storting",
    "municipality": "budget adopted",
    "county": "budget adopted",
    "health_trust": "income frames",
}


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=D(2015, 1, 1), max_value=D(2040, 12, 31)),
    buyer_type=st.sampled_from(sorted(_ADOPTION)),
    anchor=st.sampled_from(["contract_start", "publication"]),
)
def test_budget_milestones_fall_inside_the_window_and_before_the_anchor(
    start: dt.date, buyer_type: str, anchor: str
) -> None:
    cal = default_rules().window_rules(buyer_type).budget
    w = budget_window_for(start, cal, today=start, anchor=anchor)
    assert w.anchor == anchor and w.anchor_date == start
    assert w.start <= w.end < start
    assert w.milestones, "a shipped October–March calendar always has milestones inside"
    dates_ = [d for _, d in w.milestones]
    assert dates_ == sorted(dates_)
    for name, d in w.milestones:
        assert w.start <= d <= w.end and d < start, (name, d, w)
        assert "(budget " in name
    # the adoption of the budget of the year after the window opens is in every window
    adopted = [d for n, d in w.milestones if n.startswith(_ADOPTION[buyer_type] + " (")]
    assert adopted and all(w.start <= d <= w.end for d in adopted)


def test_window_from_a_user_file_crossing_no_year_end() -> None:
    rules = parse_rules(
        '[budget.municipality]\nwindow = { start = "01-15", end = "06-30" }\n', "u.toml"
    )
    cal = rules.window_rules("municipality").budget
    w = budget_window_for(D(2027, 9, 30), cal, today=D(2027, 2, 1))
    assert (w.start, w.end, w.status) == (D(2027, 1, 15), D(2027, 6, 30), "open")
    # other buyer types keep the default October–March window
    assert rules.window_rules("state").budget.start == (10, 1)


def test_year_end_window_flag() -> None:
    assert year_end_window(D(2026, 11, 20)) is None  # disabled by default
    rules = parse_rules("[windows]\nyear_end_window = { enabled = true }\n", "u.toml")
    wr = rules.window_rules()
    assert year_end_window(D(2026, 11, 20), wr) == {
        "start": D(2026, 11, 15),
        "end": D(2026, 12, 31),
        "active": True,
    }
    assert year_end_window(D(2026, 11, 14), wr)["active"] is False  # type: ignore[index]


def test_add_months_clamps_and_handles_leap_years() -> None:
    assert add_months(D(2024, 3, 31), -1) == D(2024, 2, 29)
    assert add_months(D(2023, 3, 31), -1) == D(2023, 2, 28)
    assert add_months(D(2027, 9, 30), -24) == D(2025, 9, 30)
    assert add_months(D(2026, 12, 15), 1) == D(2027, 1, 15)
    assert add_months(D(2026, 1, 31), -13) == D(2024, 12, 31)


def test_expected_procedure_codes() -> None:
    assert expected_procedure("neg-wo-call") == "negotiated"
    assert expected_procedure("comp-dial") == "dialogue"
    assert expected_procedure("Restricted") == "restricted"
    assert expected_procedure(None, "restricted") == "restricted"


def test_user_rules_change_the_timeline() -> None:
    rules = parse_rules(
        "[windows]\ninfluence_months_before_expiry = 18\n"
        "publish_before_expiry_months = { open = 5 }\n",
        "u.toml",
    )
    tl = compute_timeline(D(2026, 1, 1), rules.window_rules(), expiry=D(2027, 9, 30))
    assert tl.influence_opens == D(2026, 3, 30)
    assert tl.expected_publication == D(2027, 4, 30)


# --------------------------------------------------------------------------- properties

dates = st.dates(min_value=D(2015, 1, 1), max_value=D(2040, 12, 31))
optional_dates = st.none() | dates
procedures = st.sampled_from(["open", "restricted", "neg-w-call", "comp-dial", None])
sources = st.sampled_from(["explicit", "start+duration", "framework_default", "unknown"])


@settings(max_examples=300, deadline=None)
@given(
    today=dates,
    expiry=optional_dates,
    source=sources,
    procedure=procedures,
    planning=optional_dates,
    planned=optional_dates,
    published=optional_dates,
    deadline=optional_dates,
    awarded=optional_dates,
    start=optional_dates,
)
def test_timeline_properties(
    today: dt.date,
    expiry: dt.date | None,
    source: str,
    procedure: str | None,
    planning: dt.date | None,
    planned: dt.date | None,
    published: dt.date | None,
    deadline: dt.date | None,
    awarded: dt.date | None,
    start: dt.date | None,
) -> None:
    tl = compute_timeline(
        today,
        expiry=expiry,
        expiry_source=source,
        procedure=procedure,
        planning_date=planning,
        planned_publication=planned,
        published=published,
        deadline=deadline,
        awarded=awarded,
        contract_start=start,
    )
    assert tl.phase in PHASES
    assert tl.confidence in CONFIDENCES
    text = explain(tl, today, title="T", buyer="B")
    assert text.startswith(("Agreement T", "Planning notice T", "Competition T"))
    if tl.expected_publication is None:
        assert tl.phase in ("watching", "running") and not tl.can_influence
        return
    d = [x for _, x in tl.dates()]
    assert all(x is not None for x in d)
    # dates in order
    assert d == sorted(d), tl.dates()  # type: ignore[type-var]
    opens, drafting, pub, dl, award, cstart = d
    # phase consistent with today
    stated_passed = tl.planned_until is not None and tl.planned_until < today
    expected = {
        "watching": lambda: today < opens,
        "influence_open": lambda: opens <= today < drafting,
        "drafting": lambda: drafting <= today < (pub if tl.published else cstart),
        # the current contract has ended (or the stated publication period has passed)
        # and no competition was seen: never "running"
        "overdue": lambda: not tl.published and pub <= today and (cstart <= today or stated_passed),
        "published": lambda: tl.published and pub <= today <= dl,
        "evaluation": lambda: tl.published and dl < today < award,
        "awarded": lambda: tl.published and award <= today < cstart,
        "running": lambda: tl.published and today >= cstart,
    }[tl.phase]
    assert expected(), (tl.phase, today, tl.dates())
    if tl.planned_until is None or published is not None:
        assert tl.overdue == (not tl.published and today >= pub)
    else:  # a publication the buyer stated: due in its period, overdue after it
        assert tl.overdue == (not tl.published and today >= pub and not tl.due)
        assert tl.due == (tl.phase == "drafting" and today >= pub)
    if tl.phase == "overdue":
        assert "no competition notice has been seen" in text
    assert tl.can_influence == (tl.phase in ("influence_open", "drafting"))
    if tl.can_influence:
        assert tl.days_left is not None and tl.days_left >= 0
        if tl.due:
            assert today + dt.timedelta(days=tl.days_left) == tl.planned_until
        elif not tl.overdue:
            assert today + dt.timedelta(days=tl.days_left) == pub
    # budget window ends before the contract starts, and is the last one that does
    assert tl.budget is not None and tl.budget.status in BUDGET_STATUSES
    assert tl.budget.start < tl.budget.end < cstart
    assert add_months(tl.budget.end, 12) >= cstart
    # actual dates are kept when they are consistent
    if published is not None:
        assert pub == published
        if deadline is not None and deadline >= published:
            assert dl == deadline
    if expiry is not None and tl.sources["contract_start"][0] == "rule":
        assert cstart == expiry + dt.timedelta(days=1)
    if expiry is not None and planning is None:
        # 12 months before expiry, or when drafting starts (6 months before publication)
        rule_opens = add_months(expiry, -DEFAULT_RULES.influence_months)
        assert opens == min(rule_opens, add_months(pub, -DEFAULT_RULES.drafting_months), pub)


@settings(max_examples=200, deadline=None)
@given(start=dates, today=dates, sm=st.integers(1, 12), em=st.integers(1, 12))
def test_budget_window_properties(start: dt.date, today: dt.date, sm: int, em: int) -> None:
    cal = BudgetCalendar(start=(sm, 1), end=(em, 28))
    w = budget_window_for(start, cal, today=today)
    assert w.start <= w.end < start
    assert (w.start.month, w.start.day) == (sm, 1) and (w.end.month, w.end.day) == (em, 28)
    assert D(start.year - 1, 1, 1) <= w.end  # the last such window, not an older one
    assert w.status == ("upcoming" if today < w.start else "open" if today <= w.end else "closed")


@settings(max_examples=200, deadline=None)
@given(
    today=dates,
    expiry=optional_dates,
    planning=optional_dates,
    planned=optional_dates,
    published=optional_dates,
    influence=st.integers(0, 60),
    drafting=st.integers(0, 24),
    lead=st.integers(0, 24),
    tender=st.integers(0, 120),
    evaluation=st.integers(0, 200),
    standstill=st.integers(0, 30),
    window=st.tuples(
        st.integers(1, 12), st.integers(1, 28), st.integers(1, 12), st.integers(1, 28)
    ),
)
def test_timeline_order_holds_for_any_rules(
    today: dt.date,
    expiry: dt.date | None,
    planning: dt.date | None,
    planned: dt.date | None,
    published: dt.date | None,
    influence: int,
    drafting: int,
    lead: int,
    tender: int,
    evaluation: int,
    standstill: int,
    window: tuple[int, int, int, int],
) -> None:
    rules = WindowRules(
        influence_months=influence,
        drafting_months=drafting,
        lead_months={p: lead for p in ("open", "restricted", "negotiated", "dialogue")},
        tender_days={p: tender for p in ("open", "restricted", "negotiated", "dialogue")},
        evaluation_days=evaluation,
        standstill_days=standstill,
        budget=BudgetCalendar(start=window[:2], end=window[2:]),
    )
    tl = compute_timeline(
        today,
        rules,
        expiry=expiry,
        planning_date=planning,
        planned_publication=planned,
        published=published,
    )
    if tl.expected_publication is None:
        return
    d = [x for _, x in tl.dates()]
    assert d == sorted(d), tl.dates()  # type: ignore[type-var]
    assert tl.budget is not None and tl.budget.end < d[-1]
    assert (tl.budget.status == "missed") == (tl.budget.end < d[0])
