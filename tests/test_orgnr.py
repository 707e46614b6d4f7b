"""Organisation numbers: mod-11 validation and cleaning of what notices really contain."""

from __future__ import annotations

import pytest

from tracker.orgnr import clean_orgnr, is_valid_orgnr


@pytest.mark.parametrize(
    "orgnr",
    ["974760673", "971032146", "916879067", "988517860", "821227062", "926725939"],
)
def test_valid_numbers_from_the_register_and_notices(orgnr: str) -> None:
    assert is_valid_orgnr(orgnr)


@pytest.mark.parametrize(
    "orgnr",
    [
        "974760674",  # wrong check digit
        "974640782",  # NAV Tiltak Rogaland as written in a real notice
        "911937491",
        "12345678",  # eight digits
        "1234567890",
        "97476067a",
        "٩٧٤٧٦٠٦٧٣",  # Arabic-Indic digits are digits to str.isdigit, not orgnr digits
        "",
    ],
)
def test_invalid_numbers(orgnr: str) -> None:
    assert not is_valid_orgnr(orgnr)


def test_check_digit_ten_is_invalid() -> None:
    # 3*1+2*0+7*0+6*0+5*0+4*0+3*0+2*4 = 11 → 11 - 0 = 11 → 0; pick one whose remainder is 1:
    # weights sum 3*0+...+2*0 with first digit giving remainder 1 → check 10 → invalid.
    base = "00000001"  # sum = 2 → 11 - 2 = 9
    assert is_valid_orgnr(base + "9")
    ten = "50000000"  # sum = 15 → 15 % 11 = 4 → 7
    assert is_valid_orgnr(ten + "7")
    remainder_one = "40000000"  # sum = 12 → 12 % 11 = 1 → 10: no valid check digit exists
    assert not any(is_valid_orgnr(remainder_one + str(d)) for d in range(10))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("971 032 146", "971032146"),
        ("NO943184097MVA", "943184097"),
        ("NO 943 184 097 MVA", "943184097"),
        ("974.760.673", "974760673"),
        (" 988517860 ", "988517860"),
    ],
)
def test_clean_accepts_spaces_dots_and_vat_form(raw: str, expected: str) -> None:
    assert clean_orgnr(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("Elvia AS", "holds text"),
        ("Test Org", "holds text"),
        ("64983472", "8 digits"),
        ("223345", "6 digits"),
        ("974640782", "mod-11"),
        ("tvb123452ccc", "not a nine-digit number"),
    ],
)
def test_clean_flags_junk_and_keeps_nothing(raw: str, fragment: str) -> None:
    orgnr, warning = clean_orgnr(raw)
    assert orgnr is None
    assert warning is not None and fragment in warning and raw in warning


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_clean_empty_is_silent(raw: str | None) -> None:
    assert clean_orgnr(raw) == (None, None)
