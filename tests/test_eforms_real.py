"""Field values of real Doffin notices, checked by hand against the XML.

Each expectation below was read from the notice file itself (the element named in the
comment), not from the parser's output.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import NOTICES
from tracker.notices.eforms import ParsedNotice, parse_notice

REAL = NOTICES / "doffin-real"
UTC = dt.UTC


def _parse(name: str) -> ParsedNotice:
    path = REAL / name
    return parse_notice(path.read_bytes(), location=str(path))


def _at(y: int, m: int, d: int, hh: int, mm: int, ss: int = 0, offset: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=dt.timezone(dt.timedelta(hours=offset)))


# notice file → expected values (only the keys given are checked)
CASES: dict[str, dict[str, Any]] = {
    # CN, Sykehusinnkjøp, framework without reopening, 24 months, deadline 17.03.2023 13:00.
    "ContractNotice_cn-standard_2023-649037.xml": {
        "notice_id": "2023-649037",
        "subtype": "16",
        "notice_type": "cn-standard",
        "issue_date": dt.date(2023, 2, 16),
        "procedure_type": "open",
        "main_cpv": "33100000",
        "estimated_value": Decimal("30000000.00"),
        "buyers": [("SYKEHUSINNKJØP HF", "916879067", "NOR")],
        "lots": [
            {
                "lot_id": "LOT-1-8",
                "framework_code": "fa-wo-rc",
                "duration": (Decimal(24), "MONTH"),
                "deadline": _at(2023, 3, 17, 13, 0, offset=1),  # written +02:00 in winter
                "cpv_codes": ["33100000", "33169000"],
            }
        ],
        "retroconverted": True,
    },
    # CAN, KS: winner Kons AS (no orgnr in the notice), 2.7 MNOK, quality 80 / price 20.
    "ContractAwardNotice_can-standard_2023-335407.xml": {
        "notice_id": "2023-335407",
        "subtype": "29",
        "procedure_type": "restricted",
        "main_cpv": "79410000",
        "buyers": [("KS (Kommunesektorens organisasjon)", "971032146", "NOR")],
        "orgnr_raw": "971 032 146",
        "previous": ["2021/S 124-329785"],
        "criteria": [("quality", "Kvalitet", 80.0, "per-exa"), ("price", None, 20.0, "per-exa")],
        "results": [
            {
                "lot_id": "LOT-0000",
                "winner_chosen": True,
                "winners": [("Kons AS", None)],
                "tender_value": Decimal("2700000.00"),
                "conclusion_date": dt.date(2023, 9, 26),
            }
        ],
    },
    # VEAT, Forsvaret: framework 7 years; winner via SettledContract CON-0001 → TEN-0008.
    "2024-110489.xml": {
        "notice_id": "8791620e-39a1-435d-985a-bee33825e3f4",
        "notice_type": "veat",
        "subtype": "25",
        "issue_date": dt.date(2024, 7, 4),
        "buyers": [("Forsvaret v/Forsvarets logistikkorganisasjon", "988517860", "NOR")],
        "lots": [{"lot_id": "LOT-0000", "duration": (Decimal(7), "YEAR"), "deadline": None}],
        "results": [
            {
                "lot_id": "LOT-0000",
                "winner_chosen": True,  # no BT-142, but a settled contract names the winner
                "winners": [("Elbit Systems of America", None)],
                "contract_id": "Framework Agreement\u202f- 4600004102 Night Vision Systems",
            }
        ],
        "retroconverted": False,
    },
    # A test notice published in production: "[Test]" buyer, junk orgnr 223345.
    "ContractNotice_pin-cfc-social_2024-111079.xml": {
        "is_test": True,
        "subtype": "14",
        "buyers": [("[Test][Cloudia]TestOrg6", None, "NOR")],
        "orgnr_raw": "223345",
        "lots": [
            {
                "lot_id": "LOT-0000",
                "duration": (None, None),  # the 1 DAY is the tender validity (BT-98)
                "request_deadline": _at(2024, 8, 11, 8, 42),  # BT-630 of a PIN-cfc
            }
        ],
        "warning": "6 digits",
    },
    # Retroconverted PIN with the 2099-01-01 placeholder deadline.
    "PriorInformationNotice_pin-rtl_2023-659744.xml": {
        "subtype": "8",
        "notice_type": "pin-rtl",
        "buyers": [("Bane NOR SF", "917082308", "NOR")],
        "lots": [{"lot_id": "LOT-0000", "deadline": None, "framework_code": "none"}],
        "warning": "placeholder deadline 2099-01-01",
    },
    # CN social, two buyers listed but only ORG-0002 is the buyer; Norwegian title preferred.
    "ContractNotice_cn-social_2024-106969.xml": {
        "title": "Innsamling av husholdningsavfall",
        "procedure_type": "oth-mult",
        "main_cpv": "90512000",
        "buyers": [("Lofoten Avfallsselskap IKS", "971014407", "NOR")],
        # The 17.06.2024 10:00 deadline is for requests to participate (BT-1311).
        "lots": [
            {"lot_id": "LOT-0000", "deadline": None, "request_deadline": _at(2024, 6, 17, 10, 0)}
        ],
    },
    # CAN social: LotResult lists TEN-0001 and TEN-0002, the contract only TEN-0001 (ISS).
    "ContractAwardNotice_can-social_2024-111341.xml": {
        "buyers": [("Vestland fylkeskommune", "821311632", "NOR")],
        "legal_type": "ra",
        "estimated_value": Decimal(10800000),
        "previous": ["099ed52d-de8a-47b9-becc-4a5bec643770-01"],
        "lots": [{"lot_id": "LOT-0000", "framework_code": "none"}],
        "results": [
            {
                "lot_id": "LOT-0000",
                "winner_chosen": True,
                "winners": [("Iss Facility Services AS", "914791723")],
            }
        ],
    },
    # National CAN (N29): Ringerike buys software from Focus Software AS.
    "ContractAwardNotice_can-standard_2024-100829.xml": {
        "subtype": "N29",
        "procedure_type": "neg-wo-call",
        "buyers": [("Ringerike Kommune", "940100925", "NOR")],
        "legal_type": "pub-undert-la",
        "cpv_codes": ["48100000", "22114300", "48326000", "72268000", "72310000"],
        "results": [
            {
                "winners": [("Focus Software AS", "826781742")],
                "conclusion_date": dt.date(2024, 1, 18),
                "framework": False,
                "contract_id": "2024/1004",
            }
        ],
    },
    # National CN (N16), Heim kommune.
    "ContractNotice_cn-standard_2023-697632.xml": {
        "subtype": "N16",
        "title": "VA Sodin",
        "buyers": [("Heim kommune", "920920004", "NOR")],
        "main_cpv": "45231300",
        "lots": [
            {
                "lot_id": "LOT-0000",
                "deadline": _at(2023, 3, 9, 12, 0, offset=1),  # written +02:00 in winter
                "framework_code": "none",
                "cpv_codes": [
                    "45231300",
                    "45230000",
                    "45232000",
                    "45232150",
                    "45232400",
                    "45232420",
                    "45232440",
                ],  # fmt: skip
            }
        ],
    },
    # National PIN (N4) with a Part instead of a Lot.
    "PriorInformationNotice_pin-only_2022-970816.xml": {
        "subtype": "N4",
        "buyers": [("Rogaland Fylkeskommune", "971045698", "NOR")],
        "lots": [{"lot_id": "PAR-0000", "deadline": None}],
        "cpv_codes": ["72212931", "48190000", "48931000", "72212190"],
    },
    # VEAT with a tender value and a conclusion date without offset.
    "ContractAwardNotice_veat_2022-365499.xml": {
        "buyers": [("Rogaland Fylkeskommune", "971045698", "NOR")],
        "legal_type": "ra",
        "results": [
            {
                "winners": [("Xtend Technology AS", None)],
                "tender_value": Decimal(319128),
                "conclusion_date": dt.date(2022, 8, 2),
            }
        ],
    },
    # Mojibake in buyer name and title, repaired; 120 months; BT-630 as request deadline.
    "ContractNotice_pin-cfc-standard_2023-100718.xml": {
        "buyers": [("SYKEHUSINNKJØP HF", "916879067", "NOR")],
        "title_starts": "Forhåndskunngjøring: Angio",
        "lots": [
            {
                "lot_id": "LOT-0000",
                "duration": (Decimal(120), "MONTH"),
                "request_deadline": _at(2023, 12, 8, 0, 0, offset=1),
            }
        ],
        "warning": "repaired mojibake in organisation name",
    },
    # Invalid orgnr kept raw and flagged; two lots with their own values.
    "ContractNotice_cn-social_2023-629257.xml": {
        "buyers": [("NAV Tiltak Rogaland", None, "NOR")],
        "orgnr_raw": "974640782",
        "warning": "mod-11",
        "lots": [
            {
                "lot_id": "LOT-0001",
                "estimated_value": Decimal("2280000.00"),
                "framework_code": "fa-wo-rc",
                "duration": (Decimal(24), "MONTH"),
            },
            {
                "lot_id": "LOT-0002",
                "estimated_value": Decimal("6800000.00"),
                "deadline": _at(2023, 9, 14, 12, 0, offset=2),
            },
        ],  # fmt: skip
    },
    # Seven buyers; Tydal's orgnr has eight digits; planned period start/end.
    "ContractNotice_pin-cfc-social_2024-101732.xml": {
        "buyer_count": 7,  # ORG-0002, the court, is not a buyer
        "buyer_names_include": ["Stjørdal kommune", "Tydal kommune", "Holtålen kommune"],
        "estimated_value": Decimal(150000000),
        "lots": [
            {
                "lot_id": "LOT-0000",
                "start_date": dt.date(2024, 4, 1),
                "end_date": dt.date(2026, 3, 31),
                "request_deadline": _at(2024, 3, 8, 0, 0, offset=1),
            }
        ],
        "warning": "8 digits",
    },
    # The buyer's name typed into the orgnr field.
    "PriorInformationNotice_pin-cfc-social_2022-394467.xml": {
        "buyers": [("Elvia AS", None, "NOR")],
        "orgnr_raw": "Elvia AS",
        "warning": "orgnr field holds the name",
        "lots": [
            {
                "lot_id": "LOT-0000",
                "framework_code": "fa-wo-rc",
                "duration": (Decimal(36), "MONTH"),
                "deadline": _at(2022, 8, 18, 12, 0, offset=2),
            },
        ],  # fmt: skip
    },
    # A change notice (BT-758) to a notice of the same procedure.
    "ContractNotice_cn-standard_2024-102199.xml": {
        "changed_notice_id": "76f2960c-5463-4919-9ac1-4e4cd5fac8c4",
        "buyers": [("Vestfold og Telemark fylkeskommune", "821227062", "NOR")],
        "title": "Rammeavtale om formidling av leasing finansierte elsykler",
        "lots": [{"lot_id": "LOT-0000", "deadline": _at(2024, 2, 27, 14, 0, 58, offset=1)}],
    },
    # Qualification system: planned period, renewals 0.
    "ContractNotice_qu-sy_2023-604437.xml": {
        "buyers": [("Sporveien AS", "915070434", "NOR")],
        "lots": [
            {
                "lot_id": "LOT-0000",
                "start_date": dt.date(2023, 5, 2),
                "end_date": dt.date(2023, 6, 5),
                "max_renewals": 0,
            }
        ],
    },
}


def test_at_least_fifteen_real_notices_are_checked_by_hand() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_notice_fields(name: str) -> None:
    exp = CASES[name]
    n = _parse(name)
    notice_keys = ("notice_id", "subtype", "notice_type", "issue_date", "procedure_type",
                   "main_cpv", "estimated_value", "title", "changed_notice_id",
                   "is_test")  # fmt: skip
    for key in notice_keys:
        if key in exp:
            assert getattr(n, key) == exp[key], key
    if "title_starts" in exp:
        assert n.title and n.title.startswith(exp["title_starts"])
    if "buyers" in exp:
        assert [(b.name, b.orgnr, b.country) for b in n.buyers] == exp["buyers"]
    if "orgnr_raw" in exp:
        assert n.buyers[0].orgnr_raw == exp["orgnr_raw"]
    if "legal_type" in exp:
        assert n.buyers[0].legal_type == exp["legal_type"]
    if "buyer_count" in exp:
        assert len(n.buyers) == exp["buyer_count"]
        names = [b.name for b in n.buyers]
        assert all(x in names for x in exp["buyer_names_include"])
    if "cpv_codes" in exp:
        assert n.cpv_codes == exp["cpv_codes"]
    if "previous" in exp:
        assert n.previous_notice_ids == exp["previous"]
    if "retroconverted" in exp:
        assert n.is_retroconverted is exp["retroconverted"]
        assert any("retroconverted" in w for w in n.warnings) is exp["retroconverted"]
    if "warning" in exp:
        assert any(exp["warning"] in w for w in n.warnings), n.warnings
    if "criteria" in exp:
        got = [(c.type, c.name, c.weight, c.weight_code) for c in n.lots[0].award_criteria]
        assert got == exp["criteria"]
    for i, lot_exp in enumerate(exp.get("lots", [])):
        lot = n.lots[i]
        assert lot.lot_id == lot_exp["lot_id"]
        if "deadline" in lot_exp:
            assert lot.submission_deadline == lot_exp["deadline"]
        if "request_deadline" in lot_exp:
            assert lot.request_deadline == lot_exp["request_deadline"]
        if "duration" in lot_exp:
            assert (lot.duration_value, lot.duration_unit) == lot_exp["duration"]
        for key in ("framework_code", "cpv_codes", "estimated_value", "start_date", "end_date",
                    "max_renewals"):  # fmt: skip
            if key in lot_exp:
                assert getattr(lot, key) == lot_exp[key], key
    for i, res_exp in enumerate(exp.get("results", [])):
        res = n.results[i]
        if "winners" in res_exp:
            assert [(w.name, w.orgnr) for w in res.winners] == res_exp["winners"]
        for key in ("lot_id", "winner_chosen", "tender_value", "conclusion_date", "framework",
                    "contract_id"):  # fmt: skip
            if key in res_exp:
                assert getattr(res, key) == res_exp[key], key


def test_deadlines_compare_in_utc() -> None:
    # "2023-03-17" "13:00:00+02:00": Oslo is at +01:00 on 17 March, the tool wrote summer
    # time all year; the buyer's 13:00 in Oslo is 12:00 UTC.
    lot = _parse("ContractNotice_cn-standard_2023-649037.xml").lots[0]
    assert lot.submission_deadline is not None
    assert lot.submission_deadline.astimezone(UTC) == dt.datetime(2023, 3, 17, 12, 0, tzinfo=UTC)


def test_summer_offset_in_winter_is_the_buyers_oslo_time() -> None:
    from tracker.notices.eforms import oslo_wall_clock

    summer = dt.timezone(dt.timedelta(hours=2))
    # 25.11.2022 00:00 "+02:00" (2022-902600) is midnight in Oslo, not 23:00 the day before
    assert oslo_wall_clock(dt.datetime(2022, 11, 25, 0, 0, tzinfo=summer)).isoformat() == (
        "2022-11-25T00:00:00+01:00"
    )
    # in summer +02:00 is Oslo's own offset: kept as written
    july = dt.datetime(2023, 7, 30, 23, 59, tzinfo=summer)
    assert oslo_wall_clock(july) is july
    # +01:00 in winter and any other offset: kept as written
    winter = dt.datetime(2023, 11, 8, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert oslo_wall_clock(winter) is winter
    utc = dt.datetime(2023, 3, 17, 13, 0, tzinfo=UTC)
    assert oslo_wall_clock(utc) is utc


def test_every_real_notice_has_buyer_with_name() -> None:
    for path in sorted(REAL.glob("*.xml")):
        n = parse_notice(path.read_bytes(), location=str(path))
        assert n.buyers, path.name
        assert all(b.name for b in n.buyers), path.name


def test_one_result_per_awarded_lot_and_winner_group() -> None:
    # Ten parallel suppliers in one lot: ten results, each with its own tender's value.
    n = _parse("ContractAwardNotice_can-social_2023-653024.xml")
    assert len(n.results) == 10
    assert {(len(r.winners), r.tender_value, r.parallel) for r in n.results} == {
        (1, Decimal(65000000), 10)
    }
    assert n.result_total == Decimal(65000000)
    assert n.lots[0].note is not None and "samlede maksimale verdi" in n.lots[0].note
    # Broken lot links ('MISSING'): repaired from the contract titles "Delkontrakt 1/2".
    n = _parse("ContractAwardNotice_can-social_2022-927623.xml")
    assert [(r.lot_id, r.winners[0].name, r.tender_value) for r in n.results] == [
        ("LOT-0001", "Avarn Security AS", Decimal("138000000.00")),
        ("LOT-0002", "Securitas AS", Decimal("3000000.00")),
    ]
    assert all(r.lot_mapped and "Delkontrakt" in r.lot_mapped for r in n.results)
    assert n.result_framework_max == Decimal("141000000.00")
    # A tender the settled contract does not name is no winner (Toma AS lost).
    n = _parse("ContractAwardNotice_can-social_2024-111341.xml")
    assert [[w.name for w in r.winners] for r in n.results] == [["Iss Facility Services AS"]]
    assert (n.results[0].conclusion_date, n.results[0].award_date) == (None, dt.date(2024, 6, 20))
    # The winning TEN-0008 has no amount: the tenderer's own repeated amount, never summed.
    n = _parse("2024-110489.xml")
    (r,) = n.results
    assert (r.tender_id, r.tender_value, r.value_inferred) == ("TEN-0008", Decimal(95000000), True)
    assert any("TEN-0008 carries no amount" in w for w in n.warnings)
    assert r.award_date is None  # 2000-01-01 is a placeholder
    # A result without winner stays one record without winners.
    n = _parse("ContractAwardNotice_can-standard_2022-347651.xml")
    assert [(r.result_code, r.winners) for r in n.results] == [("clos-nw", [])]


def test_modification_unlimited_duration_and_regulatory_domain() -> None:
    n = _parse("ContractAwardNotice_can-modif_2023-101032.xml")
    assert n.modification_reason == "mod-cir"
    assert n.modification_description.startswith("I forbindelse med kommunedeling")
    assert (n.lots[0].duration_value, n.lots[0].duration_unit) == (None, "UNLIMITED")
    assert n.regulatory_domain == "32014L0024"
    n = _parse("ContractNotice_cn-standard_2024-102199.xml")
    assert n.framework_max_value == Decimal(100000000)
    assert n.contract_nature == "supplies"
