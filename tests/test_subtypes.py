"""One definition of the notice-subtype groups, checked against the shipped code list."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import tracker.contracts.build
import tracker.notices.xmlread
import tracker.opportunities.drafts
from tracker.notices import subtypes
from tracker.notices.subtypes import PHASE_SUBTYPES, is_contract_notice, phase_of

TSV = Path(subtypes.__file__).parents[1] / "data" / "notice-subtype.tsv"


def test_every_notice_subtype_in_the_code_list_has_exactly_one_phase() -> None:
    with TSV.open(encoding="utf-8") as f:
        codes = {row["code"] for row in csv.DictReader(f, delimiter="\t")}
    # X01/X02 are company forms (EEIG, SE/SCE), not procurement notices.
    procurement = codes - {"X01", "X02"}
    grouped = [c for group in PHASE_SUBTYPES.values() for c in group]
    assert len(grouped) == len(set(grouped)), "a subtype is in two groups"
    national = {"N4", "N16", "N29"}  # Doffin's national subtypes (domain.md), not in the TSV
    assert set(grouped) == procurement | national


@pytest.mark.parametrize(
    ("code", "phase"),
    [
        ("1", "planning"),
        ("N4", "planning"),
        ("T01", "planning"),  # a PIN for public passenger transport, not a competition
        ("10", "competition"),
        ("16", "competition"),
        ("N16", "competition"),
        ("E3", "competition"),
        ("25", "award"),
        ("N29", "award"),
        ("E4", "award"),
        ("E5", "completion"),
        ("38", "modification"),
        ("E6", "modification"),
        ("99", None),
        (None, None),
    ],
)
def test_phase_of(code: str | None, phase: str | None) -> None:
    assert phase_of(code) == phase


def test_the_areas_share_one_definition() -> None:
    assert tracker.opportunities.drafts.PLANNING_SUBTYPES is subtypes.PLANNING_SUBTYPES
    assert tracker.opportunities.drafts.COMPETITION_SUBTYPES is subtypes.COMPETITION_SUBTYPES
    assert tracker.contracts.build.MODIFICATION_SUBTYPES is subtypes.MODIFICATION_SUBTYPES
    assert (
        tracker.opportunities.drafts.PLACEHOLDER_YEAR
        == tracker.notices.xmlread.PLACEHOLDER_YEAR
        == 2090
    )
    assert tracker.notices.xmlread.PLACEHOLDER_YEAR is subtypes.PLACEHOLDER_YEAR


def test_contract_notice() -> None:
    assert is_contract_notice("16") and is_contract_notice("N16")
    assert is_contract_notice("10", "ContractNotice")
    assert not is_contract_notice("29", "ContractAwardNotice")
    assert not is_contract_notice("4", "PriorInformationNotice")
