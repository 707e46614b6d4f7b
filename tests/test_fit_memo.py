"""The remembered fit (``profile.item_fit``) is the profile's fit, for every profile."""

from __future__ import annotations

from dataclasses import replace

from tracker.opportunities.profile import TEXT_LIMIT, ItemText, Profile, item_fit

ITEMS = [
    ItemText(["72000000"], "72000000", "Drift av IT-plattform", "programvare og lisenser"),
    ItemText([], "45000000", "Bygg", "vedlikehold " * 10),
    ItemText(["30200000"], None, "Skrivere", "x" * (TEXT_LIMIT + 50) + " programvare"),
    ItemText([], None, "", ""),
]


def test_item_fit_is_the_profiles_fit_and_follows_a_changed_profile() -> None:
    profile = Profile()
    narrow = replace(profile, cpv_prefixes=("45",), keywords=("bygg",))
    for _ in range(2):  # the second round is remembered
        for p in (profile, narrow):
            for item in ITEMS:
                assert item_fit(p, item) == p.fit(item.cpvs, item.main_cpv, item.title, item.text)
    assert item_fit(profile, ITEMS[1]).fit != item_fit(narrow, ITEMS[1]).fit
