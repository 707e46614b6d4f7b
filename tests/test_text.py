"""Mojibake repair and organisation name keys."""

from __future__ import annotations

from tracker.notices.text import has_mojibake, name_key, repair_mojibake


def test_repairs_utf8_read_as_latin1() -> None:
    assert repair_mojibake("SYKEHUSINNKJÃ˜P HF") == "SYKEHUSINNKJØP HF"
    assert (
        repair_mojibake("Indre og Ã˜stre Finnmark tingrett") == "Indre og Østre Finnmark tingrett"
    )
    assert repair_mojibake("ForhÃ¥ndskunngjÃ¸ring") == "Forhåndskunngjøring"


def test_clean_text_is_untouched() -> None:
    for s in ["Sykehusinnkjøp HF", "Ålesund kommune", "Bærum  kommune", "", "Toma AS"]:
        assert repair_mojibake(s) == s
        assert not has_mojibake(s)


def test_name_key_equates_spelling_variants() -> None:
    assert (
        name_key("SYKEHUSINNKJÃ˜P HF") == name_key("  Sykehusinnkjøp\tHF ") == "sykehusinnkjøp hf"
    )
    assert name_key("Oslo kommune") != name_key("Oslo kommune v/ Bymiljøetaten")
