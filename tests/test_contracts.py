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
from tests.support.worlds import load_real
from tracker.contracts.build import (
    Period,
    add_duration,
    compute_term,
    derive_contracts,
    end_category,
    next_end,
    parse_extension,
    parse_text_term,
    regime_of,
    value_of,
)
from tracker.db.models import Contract, ContractAccount, ContractParty, Notice
from tracker.notices.eforms import parse_notice
from tracker.notices.ingest import ingest_paths
from tracker.notices.notice_text import Quote, TextFacts, read_facts

D = dt.date


def _contract(s: Session, procedure_id: str, lot_id: str | None = None) -> Contract:
    q = select(Contract).where(
        Contract.procedure_id == procedure_id, Contract.expected.is_not(True)
    )
    if lot_id is not None:
        q = q.where(Contract.lot_id == lot_id)
    rows = s.scalars(q).all()
    assert len(rows) == 1, [r.key for r in rows]
    return rows[0]


def _suppliers(c: Contract) -> list[str | None]:
    return [p.name for p in c.parties if p.role == "supplier"]


def test_end_date_sources_on_real_notices(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        # conclusion + duration: signed 2020-09-01, 31 months (Oslo kommune VAV, Move AS);
        # the modification notice of 2022-12-09 is 112 days before that end and says
        # nothing: probably extended, the new end is unknown.
        c = _contract(s, "2022-627512")
        assert (c.conclusion_date, c.end_date, c.end_source, c.latest_end) == (
            D(2020, 9, 1),
            D(2023, 3, 31),
            "conclusion+duration",
            None,
        )
        assert (c.extension, c.end_confidence, c.regime) == (
            "probably_extended",
            "low",
            "utilities",
        )
        # notice date + own duration: Forsvaret, 7 years, no conclusion date in the notice;
        # a direct award (VEAT) under FOSA: no re-tender assumed, a challenge period.
        c = _contract(s, "3f04e24d-412f-4334-90f3-5244f30593b4")
        assert (c.end_date, c.end_source, c.start_source) == (
            D(2031, 7, 3),
            "notice+duration",
            "notice",
        )
        assert (c.direct_award, c.retender, c.regime, c.framework) == (
            True,
            "not_assumed",
            "defence",
            True,
        )
        assert c.challenge_until == D(2024, 7, 14)
        # The winning TEN-0008 has no amount: the tenderer's other tenders say 95 MNOK (never
        # summed over the 13 tenders).
        assert (c.value, c.value_kind) == (Decimal("95000000.00"), "tender")
        # Politiets fellestjenester: two lots, one supplier each, that tender's value; the
        # lot links are broken ('MISSING') and come from the contract titles; the lot Note
        # gives the planned start and "1 + 1 år ... total 4 år" (base 2 years).
        avarn = _contract(s, "2022-927623", "LOT-0001")
        securitas = _contract(s, "2022-927623", "LOT-0002")
        assert (_suppliers(avarn), avarn.value, avarn.value_kind) == (
            ["Avarn Security AS"],
            Decimal("138000000.00"),
            "tender",
        )
        assert (_suppliers(securitas), securitas.value) == (["Securitas AS"], Decimal("3000000.00"))
        for c in (avarn, securitas):
            assert (c.start_date, c.start_source) == (D(2023, 3, 9), "text")
            assert (c.end_date, c.end_source, c.latest_end) == (
                D(2025, 3, 8),
                "text_duration",
                D(2027, 3, 8),
            )
            assert c.option_ends == ["2026-03-08", "2027-03-08"]
            assert c.end_confidence == "high" and c.framework
            quotes = [e.get("quote") for e in c.evidence]
            assert "planlagt oppstartsdato 9. mars 2023" in quotes
        # Sykehusinnkjøp: a direct award (VEAT) of a framework with no stated term: no base
        # end, the 4-year maximum as latest end (low); the amount is the framework maximum.
        c = _contract(s, "2022-697882")
        assert (c.framework, c.end_date, c.end_source, c.latest_end) == (
            True,
            None,
            "framework_default",
            D(2026, 11, 23),
        )
        assert (c.value_kind, c.direct_award, c.retender, c.end_confidence) == (
            "framework_max",
            True,
            "not_assumed",
            "low",
        )
        # Vestland fylkeskommune canteen: only the tender the settled contract names wins
        # (ISS, not Toma AS); "Avtalen gjeld for 3 år ... inntil ytterlegare 3 år, 1 år om
        # gangen" counted from the winner decision 2024-06-20; value only estimated.
        c = _contract(s, "49a72de8-e68a-4590-9add-10c08638c1e4")
        assert _suppliers(c) == ["Iss Facility Services AS"]
        assert (c.end_date, c.end_source, c.latest_end, c.start_source) == (
            D(2027, 6, 19),
            "text_duration",
            D(2030, 6, 19),
            "award",
        )
        assert c.option_ends == ["2028-06-19", "2029-06-19", "2030-06-19"]
        assert (c.value, c.value_kind) == (Decimal("10800000.00"), "estimated")
        # Vestfold og Telemark: a framework only in the text; "varighet på 2 år ... 1 + 1
        # år"; the 18 MNOK tender amount is the text's "Maksimal verdi".
        c = _contract(s, "2022-945801")
        assert (c.framework, c.end_date, c.end_source, c.latest_end) == (
            True,
            D(2024, 11, 2),
            "text_duration",
            D(2026, 11, 2),
        )
        assert c.option_ends == ["2025-11-02", "2026-11-02"]
        assert c.value_kind == "framework_max"
        # Miljødirektoratet: the title names the years, "ViltHOP 2023-2027".
        c = _contract(s, "2022-674620")
        assert (c.start_date, c.end_date, c.end_source) == (
            D(2023, 1, 1),
            D(2027, 12, 31),
            "text_years",
        )
        # KS: "i en periode på 4 måneder ... Ønsket oppstart 2.10.23", options BT-54
        # "Forlengelse 2 måneder".
        c = _contract(s, "2023-335407")
        assert (c.start_date, c.end_date, c.end_source, c.latest_end) == (
            D(2023, 10, 2),
            D(2024, 2, 1),
            "text_duration",
            D(2024, 4, 1),
        )
        assert c.end_confidence == "medium"  # "ønsket" (wished) start: one reading
        # Still unknown when the text says nothing either (Viken, e-books).
        c = _contract(s, "2023-336496")
        assert (c.end_date, c.end_source, c.latest_end) == (None, "unknown", None)
        # Unlimited duration (Ringerike, Focus Arealplan): no end, no re-tender.
        c = _contract(s, "5081837f-9dfe-4b87-98ca-cca5c60b9c28")
        assert (c.end_source, c.retender, c.direct_award) == ("unlimited", "none", True)
        # Lots without a winner give no contract (Haugesund: clos-nw).
        assert s.scalars(select(Contract).where(Contract.procedure_id == "2022-347651")).all() == []
        # Ten parallel suppliers on one lot: ten contracts, each with the shared 65 MNOK
        # ceiling (never 650 MNOK).
        moss = s.scalars(select(Contract).where(Contract.procedure_id == "2023-653024")).all()
        assert len(moss) == 10 and all(len(_suppliers(c)) == 1 for c in moss)
        assert {(c.value, c.value_kind, c.value_shared, c.parallel_suppliers) for c in moss} == {
            (Decimal("65000000.00"), "framework_max", True, 10)
        }


def test_competition_without_award_seeds_an_expected_contract(engine: Engine) -> None:
    """Helse Vest's diathermy frameworks (no award among the fixtures): expected award =
    deadline 2023-03-17 + 75 days; its own 24 months and "1 år av gangen ... maksimal
    samlet avtaleperiode er 4 år" give the option ends."""
    ingest_paths(engine, [REAL / "ContractNotice_cn-standard_2023-649037.xml"])
    with Session(engine) as s:
        c = s.scalars(select(Contract)).one()
        assert (c.expected, c.expected_award, c.start_date, c.start_source) == (
            True,
            D(2023, 5, 31),
            D(2023, 6, 10),
            "expected",
        )
        assert (c.end_date, c.end_source, c.latest_end) == (
            D(2025, 6, 9),
            "expected+duration",
            D(2027, 6, 9),
        )
        assert c.option_ends == ["2026-06-09", "2027-06-09"]
        assert (c.value, c.value_kind, c.framework) == (Decimal("30000000.00"), "estimated", True)
        assert c.parties == [] or all(p.role == "buyer" for p in c.parties)
        assert c.end_confidence == "low"


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
        assert "end from conclusion+duration" in c.notes
        assert c.value == Decimal("3200000.00")
        # Its modification section is empty and it came 36 days after that end: the new
        # end is not stated, the contract was probably extended (ask the buyer).
        assert (c.latest_end, c.extension) == (None, "probably_extended")
        assert "36 days after the end 2022-12-25" in c.evidence[-1]["source"]


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
        expected = s.query(Contract).filter(Contract.expected.is_(True)).count()
        assert after == before and len(before) - expected == 26 and expected > 0
        assert s.query(ContractParty).count() == parties
        assert s.query(ContractAccount).count() == accounts


# --------------------------------------------------------------------------- pure rules


def test_start_plus_duration_and_other_rules_constructed() -> None:
    """Constructed: no real result notice gives a start date with a duration."""
    lot = Period(start=D(2023, 4, 1), duration_value=Decimal(24), duration_unit="MONTH")
    t = compute_term(lot=lot)
    assert (t.start, t.end, t.end_source, t.confidence) == (
        D(2023, 4, 1),
        D(2025, 3, 31),
        "start+duration",
        "high",
    )
    assert add_duration(D(2024, 1, 31), 1, "MONTH") == D(2024, 2, 28)
    assert add_duration(D(2024, 1, 1), 2, "WEEK") == D(2024, 1, 14)
    assert add_duration(D(2024, 1, 1), 10, "DAY") == D(2024, 1, 10)
    assert add_duration(D(2024, 1, 1), Decimal("1.5"), "YEAR") == D(2025, 6, 30)
    t = compute_term(lot=None, framework=True)
    assert (t.end, t.latest, t.end_source) == (None, None, "unknown")
    # A framework with no stated term: no base end, the regime's maximum as latest end.
    t = compute_term(lot=None, conclusion=D(2024, 7, 4), framework=True, max_years=7)
    assert (t.end, t.end_source, t.latest, t.confidence) == (
        None,
        "framework_default",
        D(2031, 7, 3),
        "low",
    )
    assert [end_category(x) for x in ("explicit", "notice+duration", "text_years",
                                      "framework_default", "unlimited")] == [
        "explicit", "duration", "text", "default", "unknown"]  # fmt: skip


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


def test_option_ends_from_real_options_texts() -> None:
    sykehus = (
        "Rammeavtalen skal ha en varighet på to (2) år regnet fra oppstartstidspunkt. "
        "Oppdragsgiveren har deretter en ensidig rett til å forlenge avtalen med inntil ett (1) "
        "år av gangen. Maksimal samlet avtaleperiode er fire (4) år."
    )
    lot = Period(
        start=D(2023, 4, 1), duration_value=Decimal(24), duration_unit="MONTH", options_text=sykehus
    )
    t = compute_term(lot=lot, framework=True)
    assert (t.end, t.option_ends, t.latest) == (
        D(2025, 3, 31),
        [D(2026, 3, 31), D(2027, 3, 31)],
        D(2027, 3, 31),
    )
    t = compute_term(
        lot=Period(end=D(2024, 1, 31), options_text="Forlengelse 2 måneder."),
        conclusion=D(2023, 1, 1),
    )
    assert (t.latest, t.latest_source) == (D(2024, 3, 31), "options: Forlengelse 2 måneder")
    # A framework never runs past its regime's maximum from its start.
    lot = Period(
        start=D(2024, 1, 1), end=D(2025, 12, 31), options_text="opsjon på forlengelse 2 + 2 + 2 år"
    )
    t = compute_term(lot=lot, framework=True)
    assert t.latest == D(2027, 12, 31) and "capped at 4 years" in (t.latest_source or "")
    assert compute_term(lot=lot, framework=True, max_years=8).latest == D(2031, 12, 31)
    t = compute_term(lot=Period(end=D(2025, 1, 1)))
    assert (t.latest, t.latest_source) == (D(2025, 1, 1), "no_options")


def test_next_decision_point_is_the_next_option_end() -> None:
    ends = ["2025-11-02", "2026-11-02"]
    assert next_end(D(2024, 11, 2), ends, D(2026, 11, 2), D(2024, 6, 1)) == D(2024, 11, 2)
    assert next_end(D(2024, 11, 2), ends, D(2026, 11, 2), D(2025, 1, 1)) == D(2025, 11, 2)
    assert next_end(D(2024, 11, 2), ends, D(2026, 11, 2), D(2026, 12, 1)) is None
    assert next_end(None, [], D(2027, 10, 24), D(2025, 1, 1)) == D(2027, 10, 24)


def test_value_and_its_kind() -> None:
    facts = read_facts(
        [
            (
                "lot note",
                "Anskaffelsens anslåtte verdi: NOK 60.000.000 ekskl. mva. "
                "Rammeavtalenes samlede maksimale verdi: NOK 65.000.000 ekskl. mva.",
            )
        ]
    )
    # Ten parallel suppliers, each tender 65 MNOK, the text's maximum: a shared ceiling.
    v = value_of(tender=Decimal(65_000_000), currency="NOK", parallel=10,
                 siblings_same_amount=True, framework=True, facts=facts)  # fmt: skip
    assert (v.amount, v.kind, v.shared) == (Decimal(65_000_000), "framework_max", True)
    # A tender value equal to the overall framework maximum of a one-lot notice.
    v = value_of(tender=Decimal(7_432_000), currency="NOK", notice_max=Decimal(7_432_000))
    assert v.kind == "framework_max" and not v.shared
    # Two lots under one overall maximum (141 = 138 + 3): each lot's own tender value.
    v = value_of(tender=Decimal(138_000_000), currency="NOK", notice_max=Decimal(141_000_000),
                 single_award=False)  # fmt: skip
    assert v.kind == "tender"
    # No tender amount: the framework maximum (BT-271), else the estimate (BT-27).
    assert value_of(tender=None, currency=None, procedure_max=Decimal(1)).kind == "framework_max"
    v = value_of(tender=None, currency=None, estimate=Decimal(10_800_000), estimate_currency="NOK")
    assert (v.kind, v.currency) == ("estimated", "NOK")
    assert value_of(tender=None, currency=None).kind is None
    # A foreign currency is kept.
    assert value_of(tender=Decimal(12_000), currency="EUR").currency == "EUR"


def test_regimes() -> None:
    fosa = TextFacts(regime=Quote("defence", "FOSA § 9-4", "description"))
    assert regime_of("32014L0024", "veat", "25", fosa)[:2] == ("defence", False)
    assert regime_of("32014L0025", "can-modif", "38")[0] == "utilities"
    assert regime_of("32014L0024", "can-social", "33")[0] == "light"
    assert regime_of("32009L0081", "can-desg", "30")[0] == "defence"
    assert regime_of("OTHER", "can-standard", "N29")[:2] == ("classic", True)
    assert regime_of("32014L0024", "can-standard", "29")[:2] == ("classic", False)


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


def test_the_text_and_its_place_in_the_order() -> None:
    facts = read_facts(
        [
            (
                "description",
                "Rammeavtalens skal ha en varighet på 2 år. Oppdragsgiver "
                "skal ha opsjon på forlengelse av rammeavtalen ytterligere 1 + 1 år.",
            )
        ]
    )
    # A structured source wins over the text ...
    lot = Period(duration_value=Decimal(31), duration_unit="MONTH")
    t = compute_term(lot=lot, conclusion=D(2020, 9, 1), facts=facts)
    assert (t.end, t.end_source) == (D(2023, 3, 31), "conclusion+duration")
    # ... the text wins over the framework default (4 years is only the legal maximum) ...
    t = compute_term(lot=None, conclusion=D(2022, 11, 3), framework=True, facts=facts)
    assert (t.end, t.end_source, t.latest, t.confidence) == (
        D(2024, 11, 2),
        "text_duration",
        D(2026, 11, 2),
        "medium",
    )
    assert t.option_ends == [D(2025, 11, 2), D(2026, 11, 2)]
    assert any(e.get("quote") == "varighet på 2 år" for e in t.evidence)
    # ... options from the text are capped at 4 years for a framework agreement.
    six = read_facts(
        [
            (
                "description",
                "Avtalen gjeld for 3 år, med opsjon for oppdragsgjevar til "
                "å forlenge avtalen i inntil ytterlegare 3 år, 1 år om gangen.",
            )
        ]
    )
    t = compute_term(lot=None, award=D(2024, 6, 20), framework=True, facts=six)
    assert (t.latest, t.option_ends) == (D(2028, 6, 19), [D(2028, 6, 19)])
    # A year-only period: 1 January of the first year to 31 December of the last (medium).
    years = read_facts([("title", "Helseovervåking av vilt - ViltHOP 2023-2027")])
    t = compute_term(lot=None, conclusion=D(2022, 12, 15), facts=years)
    assert (t.start, t.end, t.latest, t.confidence) == (
        D(2023, 1, 1),
        D(2027, 12, 31),
        D(2027, 12, 31),
        "medium",
    )
    # The planned start and "1 + 1 år ... total 4 år" (base 2 years) of a lot Note.
    note = read_facts([("lot note", "Oppdragsgiver har opsjon på å forlenge avtalen med de samme "
                        "betingelser med 1 + 1 år slik at total mulig avtalelengde fra planlagt "
                        "oppstartsdato 9. mars 2023 er 4 år.")])  # fmt: skip
    t = compute_term(lot=None, conclusion=D(2022, 10, 14), framework=True, facts=note)
    assert (t.start, t.end, t.latest, t.confidence) == (
        D(2023, 3, 9),
        D(2025, 3, 8),
        D(2027, 3, 8),
        "high",
    )


def test_text_sources_are_low_confidence_in_the_timeline() -> None:
    from tracker.opportunities.windows import EXPIRY_CONFIDENCE

    assert EXPIRY_CONFIDENCE["text_duration"] == EXPIRY_CONFIDENCE["text_years"] == "low"


def test_thresholds_by_the_period_of_the_notice() -> None:
    """The EEA thresholds of the notice's own date (tracker/rules.toml, thresholds.period_*):
    the 2022 values differ from the 2024 ones; social and other specific services, defence,
    utilities and works have their own; state buyers a lower one for goods and services."""
    from tracker.contracts.build import contract_rules
    from tracker.rules import default_rules

    rules = contract_rules(default_rules())
    day22, day24 = D(2023, 6, 1), D(2024, 6, 1)
    assert rules.eea_threshold(day22, "classic", "services", False)[0] == 2_200_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "classic", "services", False)[0] == 2_300_000  # type: ignore[index]
    assert rules.eea_threshold(day22, "classic", "supplies", True)[0] == 1_400_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "classic", "supplies", True)[0] == 1_490_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "light", "services", False)[0] == 7_800_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "defence", "supplies", True)[0] == 4_600_000  # type: ignore[index]
    assert rules.eea_threshold(day22, "defence", "supplies", True)[0] == 4_500_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "utilities", "services", False)[0] == 4_600_000  # type: ignore[index]
    assert rules.eea_threshold(day24, "classic", "works", False)[0] == 57_800_000  # type: ignore[index]
    value, basis = rules.eea_threshold(day22, "light", "services", False)  # type: ignore[misc]
    assert basis.startswith("thresholds.period_2022.eea_social_services NOK 7 500 000")
    assert rules.eea_threshold(D(2021, 1, 1), "classic", "services", False) is None
    assert rules.max_years("defence") == 7 and rules.max_years("utilities") == 8
    assert rules.max_years("classic") == rules.max_years("light") == 4
