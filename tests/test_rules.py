"""Rules configuration (tracker.rules): shipped defaults, user file, per-account overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tracker.config import load_settings
from tracker.errors import ConfigError
from tracker.rules import BUYER_TYPES, default_rules, load_rules, normalise_buyer_type, parse_rules


def test_every_default_rule_has_a_value_and_a_source() -> None:
    rules = default_rules()
    assert len(rules.entries) >= 30
    for rule in rules.entries.values():
        assert rule.source.strip(), rule.key
        assert rule.origin == "default"


@pytest.mark.parametrize(
    ("key", "value", "source"),
    [
        ("thresholds.national", 1_300_000, "ks.no, thresholds 2024–2026"),
        ("thresholds.eea_goods_services_state", 1_490_000, "regjeringen.no"),
        ("thresholds.eea_goods_services_other", 2_300_000, "regjeringen.no"),
        ("thresholds.eea_works", 57_800_000, "regjeringen.no"),
        ("thresholds.eea_utilities_goods_services", 4_600_000, "regjeringen.no"),
        ("durations.framework_max_years", 4, "FOA § 11-1 (4), § 26-1 (4)"),
        ("durations.min_tender_days_open", 30, "anskaffelser.no minimum deadlines"),
        ("durations.standstill_days", 10, "FOA; foa.no"),
        ("durations.evaluation_days", 75, "EU single market scoreboard 2024: 74 days average"),
        ("windows.influence_months_before_expiry", 12, None),
        ("windows.drafting_months_before_publication", 6, None),
        (
            "windows.drafting_months_by_value",
            {"small": 3, "medium": 6, "large": 12, "largest": 18},
            None,
        ),
        ("windows.dialogue_days_without_deadline", 30, None),
        ("budget.default.anchor", "contract_start", None),
        ("budget.health_trust.anchor", "publication", None),
        ("windows.pin_min_days_to_notice", 35, "Directive 2014/24 art. 28"),
        ("windows.pin_max_months_to_notice", 12, "Directive 2014/24 art. 28"),
        ("budget.default.window", {"start": "10-01", "end": "03-31"}, "the source interviews"),
    ],
)
def test_defaults_match_the_domain_brief(key: str, value: object, source: str | None) -> None:
    rule = default_rules().entries[key]
    assert rule.value == value
    if source:
        assert rule.source == source


def test_every_default_names_its_source() -> None:
    for key, rule in default_rules().entries.items():
        assert rule.source and len(rule.source) > 8, key
    interviews = ("windows.influence_months_before_expiry", "windows.publish_before_expiry_months")
    for key in interviews:
        assert "the source interviews" in default_rules().entries[key].source
    assert "12–18 months" in default_rules().entries["windows.drafting_months_by_value"].source
    assert "anskaffelser.no" in default_rules().entries["dialogue.supplier_note"].source


def test_budget_anchor_and_drafting_bands_are_checked() -> None:
    with pytest.raises(ConfigError, match="budget.state.anchor: expected one of publication"):
        parse_rules('[budget.state]\nanchor = "expiry"\n', "u.toml")
    with pytest.raises(ConfigError, match="drafting_value_bands"):
        parse_rules("[windows]\ndrafting_value_bands = { large = 1 }\n", "u.toml")
    rules = parse_rules('[accounts."NAV".budget.state]\nanchor = "publication"\n', "u.toml")
    assert rules.window_rules("state", "NAV").budget.anchor == "publication"
    assert rules.window_rules("state").budget.anchor == "contract_start"


def test_publish_before_expiry_and_calendars() -> None:
    r = default_rules()
    assert r.value("windows.publish_before_expiry_months") == {
        "open": 6,
        "restricted": 8,
        "negotiated": 9,
        "dialogue": 12,
    }
    assert r.entries["budget.state.milestones"].source == "regjeringen.no budget calendar"
    assert r.entries["budget.health_trust.milestones"].source == "Helse Sør-Øst board papers"
    assert r.value("windows.year_end_window")["enabled"] is False
    for bt in BUYER_TYPES:
        cal = r.budget_calendar(bt)
        assert (cal.start, cal.end) == ((10, 1), (3, 31))


def test_user_file_overrides_with_bare_values_tables_and_merged_dicts(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        "[windows]\n"
        "influence_months_before_expiry = 18\n"
        'drafting_months_before_publication = { value = 9, source = "our bid office" }\n'
        "publish_before_expiry_months = { open = 5 }\n"
        "[scoring]\n"
        "weights = { tier = 30 }\n",
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert rules.value("windows.influence_months_before_expiry") == 18
    assert rules.entries["windows.influence_months_before_expiry"].source == f"file {path}"
    assert rules.entries["windows.drafting_months_before_publication"].source == "our bid office"
    assert rules.value("windows.publish_before_expiry_months")["restricted"] == 8
    assert rules.value("windows.publish_before_expiry_months")["open"] == 5
    assert rules.scoring_rules().weights["tier"] == 30
    assert rules.scoring_rules().weights["fit"] == 25
    wr = rules.window_rules()
    assert (wr.influence_months, wr.drafting_months, wr.lead_months["open"]) == (18, 9, 5)
    # untouched rules keep the default source
    assert rules.entries["durations.standstill_days"].origin == "default"


def test_rules_file_from_setting(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text("[durations]\nevaluation_days = 60\n", encoding="utf-8")
    settings = load_settings({"TRACKER_RULES": str(path), "TRACKER_HOME": str(tmp_path)})
    assert load_rules(settings=settings).window_rules().evaluation_days == 60
    settings = load_settings({"TRACKER_HOME": str(tmp_path)})
    assert load_rules(settings=settings).window_rules().evaluation_days == 75


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[windows]\ninfluence_months_before_expiry = "six"',
            "windows.influence_months_before_expiry: expected a number, got 'six'",
        ),
        ("[windows]\ninfluence_months_before_expiry = 1.5", "expected a whole number"),
        ("[windows]\ninfluence_month = 12", "windows.influence_month: unknown rule"),
        ("[windows\n", "not valid TOML"),
        (
            '[budget.state]\nwindow = { start = "13-01" }',
            "budget.state.window.start: no such day '13-01'",
        ),
        ('[budget.state]\nwindow = { begin = "10-01" }', "budget.state.window.begin: unknown key"),
        ('[budget.state]\nwindow = { start = "1st October" }', "expected a date as MM-DD"),
        ("[scoring]\nweights = { tier = -1 }", "scoring.weights.tier: must not be negative"),
        ("[scoring]\nrecommendation = { bid = 30, consider = 50 }", "bid (30) is below consider"),
        ("[profile]\ncpv_prefixes = [72, 48]", "profile.cpv_prefixes: expected a list of strings"),
        (
            '[budget.state]\nmilestones = [{ name = "x", date = "02-30" }]',
            "budget.state.milestones[0]",
        ),
        (
            '[budget.state]\nmilestones = [{ name = "x", date = "12-15", year = 1 }]',
            "budget.state.milestones[0].year: expected -2, -1 or 0 (relative to the budget year",
        ),
        (
            '[budget.state]\nmilestones = [{ name = "x", date = "12-15", year = "t-1" }]',
            "budget.state.milestones[0].year: expected -2, -1 or 0",
        ),
        (
            "[windows]\nyear_end_window = { enabled = 1 }",
            "windows.year_end_window.enabled: expected true or false",
        ),
        ('[accounts.NAV]\nbuyer_type = "kommune"', "accounts.NAV.buyer_type: expected one of"),
        ("[accounts.NAV.windows]\nnope = 1", "accounts.NAV: windows.nope: unknown rule"),
        ("accounts = 3", "accounts: expected tables"),
        ('[windows]\ndefault_procedure = "auction"', "windows.default_procedure: expected one of"),
    ],
)
def test_malformed_rules_are_refused_with_key_and_reason(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_rules(text, "my-rules.toml")
    assert "my-rules.toml" in str(err.value)
    assert message in str(err.value)


def test_missing_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rules(tmp_path / "nope.toml")


def test_per_account_overrides_and_buyer_type() -> None:
    rules = parse_rules(
        "[windows]\ninfluence_months_before_expiry = 20\n"
        '[accounts."Helse Sør-Øst RHF"]\nbuyer_type = "health trust"\n'
        '[accounts."Helse Sør-Øst RHF".windows]\ninfluence_months_before_expiry = 30\n'
        '[accounts."Helse Sør-Øst RHF".budget.health_trust]\n'
        'window = { start = "09-01", end = "03-15" }\n',
        "u.toml",
    )
    acc = rules.window_rules("other", account="helse sør-øst rhf")
    assert acc.influence_months == 30
    assert acc.budget.buyer_type == "health_trust"
    assert (acc.budget.start, acc.budget.end) == ((9, 1), (3, 15))
    assert acc.budget.milestones  # the health-trust milestones still apply
    other = rules.window_rules("health_trust", account="Oslo kommune")
    assert other.influence_months == 20
    assert (other.budget.start, other.budget.end) == ((10, 1), (3, 31))
    rows = rules.show()
    scoped = [r for r in rows if r["scope"] == "account Helse Sør-Øst RHF"]
    assert {r["key"] for r in scoped} == {
        "windows.influence_months_before_expiry",
        "budget.health_trust.window",
        "buyer_type",
    }


def test_window_rules_are_cached_per_buyer_type_and_account() -> None:
    rules = default_rules()
    assert rules.window_rules("state") is rules.window_rules("state")
    assert rules.window_rules("state") is not rules.window_rules("municipality")


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("health trust", "health_trust"),
        ("Health-Trust", "health_trust"),
        ("state", "state"),
        ("COUNTY", "county"),
        ("", "other"),
        (None, "other"),
        ("kommune", "other"),
    ],
)
def test_normalise_buyer_type(raw: str | None, norm: str) -> None:
    assert normalise_buyer_type(raw) == norm


def test_user_milestones_are_dated_relative_to_the_budget_year() -> None:
    rules = parse_rules(
        '[budget.municipality]\nmilestones = [{ name = "dialogue", date = "09-01", year = -2 },'
        ' { name = "adopted", date = "12-10", year = -1 }]\n',
        "u.toml",
    )
    cal = rules.window_rules("municipality").budget
    assert cal.milestones == (("dialogue", 9, 1, -2), ("adopted", 12, 10, -1))
    from tracker.opportunities.budget import budget_window_for

    w = budget_window_for(dt.date(2027, 5, 1), cal, today=dt.date(2026, 1, 1))
    # window 2026-10-01 – 2027-03-31: only the milestones inside it, with their budget year
    assert w.milestones == (("adopted (budget 2027)", dt.date(2026, 12, 10)),)
    wide = parse_rules(
        '[budget.municipality]\nwindow = { start = "09-01", end = "03-31" }\n'
        'milestones = [{ name = "dialogue", date = "09-01", year = -2 },'
        ' { name = "adopted", date = "12-10", year = -1 }]\n',
        "u.toml",
    ).window_rules("municipality")
    w = budget_window_for(dt.date(2027, 5, 1), wide.budget, today=dt.date(2026, 1, 1))
    assert w.milestones == (
        ("dialogue (budget 2028)", dt.date(2026, 9, 1)),
        ("adopted (budget 2027)", dt.date(2026, 12, 10)),
    )


def test_unknown_accounts_names_overrides_that_match_no_account() -> None:
    rules = parse_rules(
        '[accounts."Nonexistent"]\nbuyer_type = "state"\n'
        '[accounts."Oslo Kommune".windows]\ninfluence_months_before_expiry = 30\n'
        '[accounts."NAV".windows]\ndrafting_months_before_publication = 4\n',
        "u.toml",
    )
    names = ["Oslo kommune", "Arbeids- og velferdsetaten"]
    assert rules.unknown_accounts(names) == ["NAV", "Nonexistent"]
    assert rules.unknown_accounts([*names, "nav", "NONEXISTENT"]) == []
    assert default_rules().unknown_accounts([]) == []
