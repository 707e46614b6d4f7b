"""Contracts and end dates from the real notices (constructed only where no real case exists)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import NOTICES, REAL
from tests.test_linking import load_real
from tracker.contracts import (
    Period,
    TextTerm,
    add_duration,
    compute_end,
    compute_latest_end,
    derive_contracts,
    parse_extension,
    parse_text_term,
    text_end,
    text_latest_end,
)
from tracker.eforms import parse_notice
from tracker.ingest import ingest_paths
from tracker.models import Contract, ContractAccount, ContractParty, Notice

D = dt.date


def _contract(s: Session, procedure_id: str) -> Contract:
    rows = s.scalars(select(Contract).where(Contract.procedure_id == procedure_id)).all()
    assert len(rows) == 1, [r.key for r in rows]
    return rows[0]


def test_end_date_sources_on_real_notices(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        # conclusion + duration: signed 2020-09-01, 31 months (Oslo kommune VAV, Move AS).
        c = _contract(s, "2022-627512")
        assert (c.conclusion_date, c.end_date, c.end_source) == (
            D(2020, 9, 1),
            D(2023, 3, 31),
            "conclusion+duration",
        )
        # notice date + own duration: Forsvaret, 7 years, no conclusion date in the notice.
        c = _contract(s, "3f04e24d-412f-4334-90f3-5244f30593b4")
        assert (c.end_date, c.end_source) == (D(2031, 7, 3), "notice+duration")
        # framework default of 4 years: Politiets fellestjenester, concluded 2022-10-14.
        c = _contract(s, "2022-927623")
        assert (c.framework, c.end_date, c.end_source) == (
            True,
            D(2026, 10, 13),
            "framework_default",
        )
        assert {p.name for p in c.parties if p.role == "supplier"} == {
            "Avarn Security AS",
            "Securitas AS",
        }
        # framework default, Sykehusinnkjøp (BT-765 fa-wo-rc and BT-768 true).
        c = _contract(s, "2022-697882")
        assert (c.framework, c.end_date, c.end_source) == (
            True,
            D(2026, 11, 23),
            "framework_default",
        )
        # Text: Vestland fylkeskommune canteen, no structured duration, not a framework;
        # "Avtalen gjeld for 3 år ... forlenge avtalen i inntil ytterlegare 3 år" (nynorsk),
        # counted from the conclusion 2024-06-20.
        c = _contract(s, "49a72de8-e68a-4590-9add-10c08638c1e4")
        assert (c.end_date, c.end_source, c.latest_end) == (
            D(2027, 6, 19),
            "text_duration",
            D(2030, 6, 19),
        )
        # Vestfold og Telemark, Bedriftshelsetjeneste: "varighet på 2 år ... 1 + 1 år".
        c = _contract(s, "2022-945801")
        assert (c.end_date, c.end_source, c.latest_end) == (
            D(2024, 11, 2),
            "text_duration",
            D(2026, 11, 2),
        )
        assert c.latest_end_source == "text: varighet på 2 år; 1 + 1 år"
        # Miljødirektoratet: the title names the years, "ViltHOP 2023-2027".
        c = _contract(s, "2022-674620")
        assert (c.end_date, c.end_source) == (D(2027, 12, 31), "text_years")
        # KS: "i en periode på 4 måneder, med opsjon på forlengelse i inntil ytterligere 2
        # måneder" from the conclusion 2023-09-26.
        c = _contract(s, "2023-335407")
        assert (c.end_date, c.end_source, c.latest_end) == (
            D(2024, 1, 25),
            "text_duration",
            D(2024, 3, 25),
        )
        # Still unknown when the text says nothing either (Viken, e-books).
        c = _contract(s, "2023-336496")
        assert (c.end_date, c.end_source, c.latest_end) == (None, "unknown", None)
        # Lots without a winner give no contract (Haugesund: clos-nw).
        assert s.scalars(select(Contract).where(Contract.procedure_id == "2022-347651")).all() == []
        # Several results naming one settled contract are one contract (Moss, 10 suppliers).
        c = _contract(s, "2023-653024")
        assert len([p for p in c.parties if p.role == "supplier"]) == 10


def test_explicit_end_date_on_an_official_eforms_example(engine: Engine) -> None:
    """No real Doffin result notice has BT-537; the SDK's (real French) CAN example does."""
    ingest_paths(engine, [NOTICES / "eforms-sdk" / "can_24_FRA_comments.xml"])
    with Session(engine) as s:
        rows = s.scalars(select(Contract).order_by(Contract.lot_id)).all()
        assert [(c.lot_id, c.start_date, c.end_date, c.end_source) for c in rows] == [
            ("LOT-0001", D(2019, 9, 1), D(2020, 12, 31), "explicit"),
            ("LOT-0002", D(2019, 9, 1), D(2020, 12, 31), "explicit"),
        ]
        # Three renewals (BT-58) whose length the text does not give.
        assert rows[0].max_renewals == 3
        assert rows[0].latest_end_source == "renewals_unknown_length"


def _with_procedure(src: Path, procedure_id: str, dest: Path) -> Path:
    text = src.read_text(encoding="utf-8")
    text = re.sub(
        r"<cbc:ContractFolderID>[^<]*</cbc:ContractFolderID>",
        f"<cbc:ContractFolderID>{procedure_id}</cbc:ContractFolderID>",
        text,
        count=1,
    )
    dest.write_text(text, encoding="utf-8")
    return dest


def test_award_plus_contract_notice_duration_by_procedure_id(
    engine: Engine, tmp_path: Path
) -> None:
    """Constructed pairing (no real CN/CAN pair shares a procedure in the fixtures): the real
    VTFK award (concluded 2022-11-03, no duration) is put in the procedure of the real OFA
    contract notice (72 months), and of the real Målselv notice (explicit 2026-09-30)."""
    can = REAL / "ContractAwardNotice_can-social_2022-945801.xml"
    # The award arrives first: no contract notice yet, so only its text gives the end
    # ("varighet på 2 år", low confidence)...
    ingest_paths(engine, [_with_procedure(can, "2022-902600", tmp_path / "can.xml")])
    with Session(engine) as s:
        c = _contract(s, "2022-902600")
        assert (c.end_date, c.end_source) == (D(2024, 11, 2), "text_duration")
    # ...then the contract notice of the same procedure arrives and its structured
    # duration wins over the text.
    ingest_paths(engine, [REAL / "ContractNotice_cn-social_2022-902600.xml"])
    with Session(engine) as s:
        c = _contract(s, "2022-902600")
        assert (c.end_date, c.end_source) == (D(2028, 11, 2), "award+cn_duration")
    other = tmp_path / "other"
    other.mkdir()
    ingest_paths(
        engine,
        [
            _with_procedure(can, "2022-396301", other / "can2.xml"),
            REAL / "ContractNotice_cn-social_2022-396301.xml",
        ],
    )
    with Session(engine) as s:
        c = _contract(s, "2022-396301")
        assert (c.end_date, c.end_source) == (D(2026, 9, 30), "cn_explicit")


def test_modification_notice_updates_the_contract_it_changes(
    engine: Engine, tmp_path: Path
) -> None:
    """Constructed base: the real AID modification notice (subtype 38, 21 months, signed
    2021-03-26) with its subtype set to 25 and a new notice id plays the original award; the
    real modification notice then updates that contract instead of making a second one."""
    mod = REAL / "ContractAwardNotice_can-modif_2023-627259.xml"
    text = mod.read_text(encoding="utf-8")
    base = re.sub(r'listName="notice-subtype">38<', 'listName="notice-subtype">25<', text)
    base = re.sub(
        r"(<cbc:ID schemeName=\"notice-id\">)[^<]*",
        r"\g<1>aaaaaaaa-0000-4000-8000-000000000001",
        base,
    )
    base = re.sub(r"<cbc:DurationMeasure[^>]*>\d+</cbc:DurationMeasure>", "", base)
    base = base.replace("<cbc:IssueDate>2023-01-30", "<cbc:IssueDate>2021-03-30")
    assert base != text
    (tmp_path / "base.xml").write_text(base, encoding="utf-8")
    ingest_paths(engine, [tmp_path / "base.xml"])
    with Session(engine) as s:
        c = _contract(s, "2023-627259")
        assert (c.end_source, c.modified_by_notice_pk) == ("unknown", None)
        key = c.key
    ingest_paths(engine, [mod])
    with Session(engine) as s:
        c = _contract(s, "2023-627259")
        mod_pk = s.scalar(select(Notice.id).where(Notice.subtype == "38"))
        assert c.key == key
        assert c.modified_by_notice_pk == mod_pk
        assert (c.end_date, c.end_source) == (D(2022, 12, 25), "modification")
        assert c.notes.endswith("end from conclusion+duration")
        assert c.value == Decimal("3200000.00")


def test_derivation_is_idempotent(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        before = {
            c.key: (c.end_date, c.end_source, c.latest_end, c.value)
            for c in s.scalars(select(Contract))
        }
        parties = s.query(ContractParty).count()
        accounts = s.query(ContractAccount).count()
        counts = derive_contracts(s)
        s.commit()
        assert counts["created"] == counts["removed"] == counts["updated"] == 0
        after = {
            c.key: (c.end_date, c.end_source, c.latest_end, c.value)
            for c in s.scalars(select(Contract))
        }
        assert after == before and len(before) == 16
        assert s.query(ContractParty).count() == parties
        assert s.query(ContractAccount).count() == accounts


# --------------------------------------------------------------------------- pure rules


def test_start_plus_duration_and_other_rules_constructed() -> None:
    """Constructed: no real result notice gives a start date with a duration."""
    lot = Period(start=D(2023, 4, 1), duration_value=Decimal(24), duration_unit="MONTH")
    assert compute_end(
        lot=lot, conclusion=None, notice_date=None, cn_lot=None, framework=False
    ) == (D(2025, 3, 31), "start+duration")
    assert add_duration(D(2024, 1, 31), 1, "MONTH") == D(2024, 2, 28)
    assert add_duration(D(2024, 1, 1), 2, "WEEK") == D(2024, 1, 14)
    assert add_duration(D(2024, 1, 1), 10, "DAY") == D(2024, 1, 10)
    assert add_duration(D(2024, 1, 1), Decimal("1.5"), "YEAR") == D(2025, 6, 30)
    assert compute_end(
        lot=None, conclusion=None, notice_date=None, cn_lot=None, framework=True
    ) == (None, "unknown")


@pytest.mark.parametrize(
    ("text", "base", "months"),
    [
        # Real option texts from the fixtures.
        (
            "Oppdragsgiver har opsjon på å forlenge avtalen med de samme betingelser med 1 + 1 år "
            "slik at total mulig avtalelengde fra planlagt oppstartsdato 9. mars 2023 er 4 år.",
            24,
            24,
        ),
        ("Forlengelse 2 måneder.", None, 2),
        (
            "Kontraktens varighet er fra avtalt oppstart i 2022 og ut 2025. Tilbudet kan forlenges "
            "etter avtale med leverandøren 1 + 1 + 1 + 1 år.",
            None,
            48,
        ),
        ("Prosjektet forløper i faser. Se konkurransegrunnlaget.", None, None),
        # Constructed: the first term is the base period.
        ("Avtalen gjelder 2+1+1 år.", 24, 24),
    ],
)
def test_parse_extension(text: str, base: int | None, months: int | None) -> None:
    got = parse_extension(text, base)
    assert (got[0] if got else None) == months


def test_latest_end_from_real_options_texts() -> None:
    sykehus = (
        "Rammeavtalen skal ha en varighet på to (2) år regnet fra oppstartstidspunkt. "
        "Oppdragsgiveren har deretter en ensidig rett til å forlenge avtalen med inntil ett (1) "
        "år av gangen. Maksimal samlet avtaleperiode er fire (4) år."
    )
    lot = Period(duration_value=Decimal(24), duration_unit="MONTH", options_text=sykehus)
    latest, source = compute_latest_end(
        end=D(2025, 3, 31), start=D(2023, 4, 1), lot=lot, framework=True
    )
    assert latest == D(2027, 3, 31) and source == "options: total 48 months"
    lot = Period(options_text="Forlengelse 2 måneder.")
    assert compute_latest_end(end=D(2024, 1, 31), start=None, lot=lot, framework=False) == (
        D(2024, 3, 31),
        "options: Forlengelse 2 måneder",
    )
    # A framework never runs past four years from its start.
    lot = Period(options_text="opsjon på forlengelse 2 + 2 + 2 år")
    latest, source = compute_latest_end(
        end=D(2025, 12, 31), start=D(2024, 1, 1), lot=lot, framework=True
    )
    assert latest == D(2027, 12, 31) and "capped" in source
    assert compute_latest_end(end=D(2025, 1, 1), start=None, lot=None, framework=False) == (
        D(2025, 1, 1),
        "no_options",
    )


# --------------------------------------------------------------------------- period in words


def _real_text(name: str, lot: bool = False) -> tuple[str | None, str | None]:
    n = parse_notice((REAL / name).read_bytes())
    if lot:
        return n.lots[0].title, n.lots[0].description
    return n.title, n.description


@pytest.mark.parametrize(
    ("fixture", "base", "options", "last_year"),
    [
        # nynorsk: "Avtalen gjeld for 3 år ..., med opsjon ... i inntil ytterlegare 3 år"
        ("ContractAwardNotice_can-social_2024-111341.xml", 36, 36, None),
        # bokmål: "varighet på 2 år. ... opsjon på forlengelse ... ytterligere 1 + 1 år"
        ("ContractAwardNotice_can-social_2022-945801.xml", 24, 24, None),
        # title: "Helseovervåking av vilt - ViltHOP 2023-2027"
        ("ContractAwardNotice_veat_2022-674620.xml", None, None, 2027),
        # "for perioden 2023 - 2025" (Riksantikvaren, ESRI licences)
        ("ContractAwardNotice_veat_2022-627736.xml", None, None, 2025),
        # "i en periode på 4 måneder, med opsjon på forlengelse i inntil ytterligere 2 måneder"
        ("ContractAwardNotice_can-standard_2023-335407.xml", 4, 2, None),
        # "fra avtalt oppstart i 2022 og ut 2025 ... forlenges ... 1 + 1 + 1 + 1 år" (lot text)
        ("PriorInformationNotice_pin-cfc-standard_2022-366668.xml#lot", None, 48, 2025),
        # Nothing about the period: "totalt NOK 30 000 000,- over 4 år" is a value span,
        # "Årshjul for anskaffelser 2023" one year, "planleggere under 40 år" an age.
        ("ContractNotice_cn-standard_2023-649037.xml", None, None, None),
        ("PriorInformationNotice_pin-buyer_2023-661116.xml", None, None, None),
        ("ContractNotice_cn-desg_2023-696688.xml#lot", None, None, None),
        ("ContractAwardNotice_can-standard_2023-336496.xml", None, None, None),
    ],
)
def test_parse_text_term_on_real_descriptions(
    fixture: str, base: int | None, options: int | None, last_year: int | None
) -> None:
    name, _, part = fixture.partition("#")
    term = parse_text_term(*_real_text(name, lot=part == "lot"))
    got = (term.base_months, term.option_months, term.last_year) if term else (None,) * 3
    assert got == (base, options, last_year)


@pytest.mark.parametrize(
    ("text", "base", "options"),
    [
        # Constructed phrasings the real fixtures do not cover.
        ("Avtaleperiode 4 år.", 48, None),
        ("Rammeavtalen gjelder for 2 år med opsjon på forlengelse i 1 år.", 24, 12),
        ("Avtalen har ei avtaletid på 24 månader.", 24, None),  # nynorsk
        ("Kontrakten inngås for 2 + 1 + 1 år.", 24, 24),
        ("Avtalen varer i 18 måneder.", 18, None),
        ("Kontraktens varighet: to (2) år.", 24, None),
        ("Avtalen har en varighet på tre år med opsjon på forlengelse i ett år.", 36, 12),
    ],
)
def test_parse_text_term_phrasings(text: str, base: int | None, options: int | None) -> None:
    term = parse_text_term(None, text)
    got = (term.base_months, term.option_months) if term else (None, None)
    assert got == (base, options)


def test_text_end_and_its_place_in_the_order() -> None:
    term = TextTerm(base_months=24, option_months=24, evidence="varighet på 2 år; 1 + 1 år")
    assert text_end(term, D(2022, 11, 3)) == (D(2024, 11, 2), D(2026, 11, 2))
    assert text_end(term, None) == (None, None)
    years = TextTerm(last_year=2027, evidence="2023-2027")
    assert text_end(years, None) == (D(2027, 12, 31), D(2027, 12, 31))
    # A structured source wins over the text ...
    lot = Period(duration_value=Decimal(31), duration_unit="MONTH")
    assert compute_end(
        lot=lot,
        conclusion=D(2020, 9, 1),
        notice_date=None,
        cn_lot=None,
        framework=False,
        text=term,
    ) == (D(2023, 3, 31), "conclusion+duration")
    # ... the text wins over the framework default (4 years is only the legal maximum) ...
    assert compute_end(
        lot=None,
        conclusion=D(2022, 11, 3),
        notice_date=None,
        cn_lot=None,
        framework=True,
        text=term,
    ) == (D(2024, 11, 2), "text_duration")
    # ... and without a text the framework default applies as before.
    assert compute_end(
        lot=None, conclusion=D(2022, 11, 3), notice_date=None, cn_lot=None, framework=True
    ) == (D(2026, 11, 2), "framework_default")
    # Options from the text, capped at 4 years for a framework agreement (3 + 3 years).
    assert text_latest_end(term, D(2024, 11, 2), D(2022, 11, 3), False) == (
        D(2026, 11, 2),
        "text: varighet på 2 år; 1 + 1 år",
    )
    six = TextTerm(base_months=36, option_months=36, evidence="gjeld for 3 år; 3 år")
    assert text_latest_end(six, D(2027, 6, 19), D(2024, 6, 20), True) == (
        D(2028, 6, 19),
        "text (capped at 4 years)",
    )
    assert text_latest_end(years, D(2027, 12, 31), None, True) == (D(2027, 12, 31), "no_options")


def test_text_sources_are_low_confidence_in_the_timeline() -> None:
    from tracker.windows import EXPIRY_CONFIDENCE

    assert EXPIRY_CONFIDENCE["text_duration"] == EXPIRY_CONFIDENCE["text_years"] == "low"
