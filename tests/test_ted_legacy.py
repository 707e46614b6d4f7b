"""The TED XML reader (notices before eForms) on the 78 real TED_EXPORT notices.

Values below were read from the TED XML files themselves (the element is named in each
comment), not from the reader's output. The comparison with the EU converter's eForms of
the same notices is tests/test_ted_legacy_pairs.py.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.conftest import NOTICES
from tests.support.expected import KEYS
from tracker.cli import main
from tracker.db.models import (
    AwardCriterion,
    Contract,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    ResultWinner,
)
from tracker.errors import NoticeParseError, UnsafeXMLError
from tracker.notices import ted_legacy
from tracker.notices.eforms import parse_notice
from tracker.notices.ingest import Ingestor, ingest_paths
from tracker.notices.parsing import notice_format, parse_any
from tracker.notices.subtypes import phase_of
from tracker.notices.ted_legacy import normalise_ojs, parse_ted_legacy

LEGACY = NOTICES / "ted-legacy"
FILES = sorted(LEGACY.glob("*.xml"))
OSLO = ZoneInfo("Europe/Oslo")


def _parse(name: str) -> ted_legacy.ParsedNotice:
    path = LEGACY / f"{name}-001-EXP.xml"
    return parse_ted_legacy(path.read_bytes(), location=str(path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_legacy_notice_parses(path: Path) -> None:
    data = path.read_bytes()
    assert notice_format(data) == "ted-legacy"
    n = parse_any(data, location=str(path))
    assert n.notice_id == normalise_ojs(n.notice_id)  # the OJ S number, 2021/S 133-354339
    assert n.version == "01" and n.customization_id.startswith("TED_EXPORT R2.0.9")
    assert n.buyers and n.issue_date and n.main_cpv and n.procedure_id
    assert n.subtype is not None or n.form_type == "change"
    assert n.document_type in (
        None,
        "PriorInformationNotice",
        "ContractNotice",
        "ContractAwardNotice",
    )
    if phase_of(n.subtype) in ("competition", "planning"):
        assert n.lots and not n.results
    if n.notice_type in ("can-standard", "can-social", "veat"):
        assert n.results


def test_the_78_notices_cover_the_forms() -> None:
    forms = {}
    for path in FILES:
        n = parse_ted_legacy(path.read_bytes(), location=str(path))
        forms.setdefault(n.subtype, n.notice_type)
    # F01 PIN-only 4, F04 PIN-rtl 8, F08 buyer profile 1, F07/F22 QS 15, F02 16, F05 17,
    # F24 19, F21 20, F12 23, F15 VEAT 25-28, F03 29, F06 30, F25 32, F21 award 33, F13 36,
    # F14 corrigendum (no subtype of its own).
    assert set(forms) == {
        "1", "4", "8", "15", "16", "17", "19", "20", "23", "25", "26", "27", "28", "29", "30",
        "32", "33", "36", None,
    }  # fmt: skip


def test_norwegian_award_kafjord() -> None:
    n = _parse("20-157399")  # F03, Kåfjord kommune, winter road maintenance
    assert n.notice_id == "2020/S 064-154292"  # NO_DOC_OJS
    assert (n.subtype, n.notice_type, n.document_type) == (
        "29",
        "can-standard",
        "ContractAwardNotice",
    )
    assert n.issue_date == dt.date(2020, 3, 28)  # DATE_DISPATCH_NOTICE
    # PROCEDURE/NOTICE_NUMBER_OJ: the notice that opened the procedure groups the award.
    assert n.procedure_id == "2019/S 109-267097"
    assert n.previous_notice_ids == ["2019/S 109-267097"]
    assert n.procedure_type == "open"  # PT_OPEN
    assert n.regulatory_domain == "32014L0024" and n.language == "ENG"
    buyer = n.buyers[0]
    assert (buyer.name, buyer.orgnr, buyer.orgnr_raw, buyer.country, buyer.legal_type) == (
        "Kåfjord Kommune", "940363586", "940 363 586", "NOR", "ra"
    )  # fmt: skip
    assert n.main_cpv == "90620000" and n.result_total == Decimal("4500000.00")  # VAL_TOTAL
    (lot,) = n.lots
    assert lot.lot_id == "LOT-0000" and lot.framework_code == "none"  # NO_LOT_DIVISION
    assert lot.options_description.startswith("The contract can be extended for up to 2")
    assert [(c.type, c.weight) for c in lot.award_criteria] == [("price", None)]  # AC_PRICE
    # Four AWARD_CONTRACTs on the one lot, one contractor each, no VAL_TOTAL (ranges only).
    assert [(r.contract_id, [w.name for w in r.winners]) for r in n.results] == [
        ("1", ["Kurt Steinar Wiik"]),
        ("2", ["Manndalen Maskin AS"]),
        ("3", ["Myrvoll Maskin AS"]),
        ("4", ["Traktor and Maskin"]),
    ]
    assert [r.winners[0].orgnr for r in n.results] == ["976104390", "897935082", None, "989748297"]
    assert all(r.tender_value is None and r.parallel == 4 for r in n.results)
    assert all(r.conclusion_date == dt.date(2019, 9, 24) for r in n.results)
    # VAL_ESTIMATED_TOTAL of the awards (no framework): the lot's estimated value.
    assert (lot.estimated_value, lot.currency) == (Decimal("1000000.00"), "NOK")
    # NATIONALID "MYRVOLL MASKIN AS" is the name, not an orgnr.
    assert (
        "orgnr field holds the name: 'MYRVOLL MASKIN AS' (Myrvoll Maskin AS); kept raw"
        in n.warnings
    )


def test_norwegian_framework_notice_politiet() -> None:
    n = _parse("20-320448")  # F02, Politiets fellestjenester and four joint buyers
    assert (n.subtype, n.procedure_id, n.issue_date) == (
        "16",
        "2020/S 127-311956",
        dt.date(2020, 7, 1),
    )
    assert n.previous_notice_ids == ["2020/S 069-165610"]  # PROCEDURE/NOTICE_NUMBER_OJ (a PIN)
    assert [(b.name, b.orgnr) for b in n.buyers] == [
        ("Politiets fellestjenester", "974761157"),  # NATIONALID 974 761 157
        ("Tolletaten", None),  # ADDRESS_CONTRACTING_BODY_ADDITIONAL, without NATIONALID
        ("Kriminalomsorgen", None),
        ("Sysselmannen på Svalbard", None),
        ("Politiets sikkerhetstjeneste", None),
    ]
    assert (n.estimated_value, n.currency) == (Decimal("20000000.00"), "NOK")
    # LOT_NO A and B are no numbers: lots by position.
    assert [lot.lot_id for lot in n.lots] == ["LOT-0001", "LOT-0002"]
    a = n.lots[0]
    assert a.title == "Sport and Outdoor Supplies"
    assert (a.estimated_value, a.duration_value, a.duration_unit) == (
        Decimal("16000000.00"),
        24,
        "MONTH",
    )
    assert a.framework_code == "fa-wo-rc"  # PROCEDURE/FRAMEWORK
    # DATE_RECEIPT_TENDERS 2020-09-25, TIME_RECEIPT_TENDERS 12:00, Oslo (summer time).
    assert a.submission_deadline == dt.datetime(2020, 9, 25, 12, 0, tzinfo=OSLO)
    assert a.submission_deadline.utcoffset() == dt.timedelta(hours=2)
    assert a.submission_deadline_has_time
    # AC_QUALITY Quality 40, AC_PRICE 60: weights without %, adding up to 100.
    assert [(c.type, c.name, c.weight, c.weight_code) for c in a.award_criteria] == [
        ("quality", "Quality", 40.0, "per-exa"),
        ("price", None, 60.0, "per-exa"),
    ]
    assert a.renewal_description.startswith("The contract period is 2 (two) years")


def test_light_regime_dates_sykehusinnkjop() -> None:
    n = _parse("20-560391")  # F21 NOTICE TYPE="CONTRACT", legal services, three lots
    assert (n.subtype, n.notice_type) == ("20", "cn-social")
    assert n.buyers[0].orgnr == "916879067"
    assert all(
        (lot.start_date, lot.end_date) == (dt.date(2021, 2, 20), dt.date(2025, 2, 19))
        for lot in n.lots
    )  # DATE_START, DATE_END
    assert n.lots[0].submission_deadline == dt.datetime(2020, 12, 11, 12, 0, tzinfo=OSLO)


def test_prior_information_notice_plans_its_competition() -> None:
    n = _parse("20-155018")  # F01 NOTICE TYPE="PRI_ONLY"
    assert (n.subtype, n.notice_type, n.document_type) == (
        "4",
        "pin-only",
        "PriorInformationNotice",
    )
    assert n.planned_date == dt.date(2020, 3, 30)  # OBJECT_CONTRACT/DATE_PUBLICATION_NOTICE
    assert [lot.lot_id for lot in n.lots] == ["PAR-0000"]  # a part, as in eForms PINs


def test_concession_and_veat_subtypes_follow_the_legal_basis() -> None:
    assert _parse("21-119282").subtype == "19"  # F24, Skyss express boats
    assert _parse("19-318420").subtype == "32"  # F25
    # F15 by LEGAL_BASIS: 2014/24 → 25, 2014/25 → 26, 2009/81 → 27, 2014/23 → 28.
    assert [_parse(f).subtype for f in ("21-139343", "21-158592", "22-073124", "21-149886")] == [
        "25", "26", "27", "28",
    ]  # fmt: skip
    veat = _parse("21-158592")
    assert (veat.notice_type, veat.procedure_type) == ("veat", "neg-wo-call")


def test_corrigendum_points_at_the_notice_it_corrects() -> None:
    n = _parse("23-119901")  # F14: COMPLEMENTARY_INFO/NOTICE_NUMBER_OJ 2022/S 098-267307
    assert (n.subtype, n.form_type, n.changed_notice_id) == (None, "change", "2022/S 098-267307")
    assert n.procedure_id == "2022/S 098-267307" and not n.lots
    assert any("corrigendum (F14)" in w for w in n.warnings)


def test_awards_over_several_lots_and_sub_lots() -> None:
    # AWARD_CONTRACT ITEM 2: LOT_NO "1.2.3.....31" names 31 lots; ITEM 3 has no LOT_NO.
    n = _parse("19-271873")
    item2 = [r for r in n.results if r.result_id == "RES-0002"]
    assert [r.lot_id for r in item2] == [f"LOT-{i:04d}" for i in range(1, 32)]
    assert [r.lot_id for r in n.results if r.result_id == "RES-0003"] == [None]
    # LOT_NO "1 / Primo in cascata": lot 1.
    n = _parse("22-109282")
    assert [r.lot_id for r in n.results][:3] == ["LOT-0001"] * 3


def test_design_contest_winners_and_jury_date() -> None:
    n = _parse("18-536293")  # F13: RESULTS/AWARDED_PRIZE, five WINNERs
    assert len(n.results) == 5 and all(r.award_date == dt.date(2018, 11, 24) for r in n.results)
    assert n.results[0].winners[0].name.startswith("I Nagroda - SBS Engineering Group")


def test_framework_awards_keep_their_maximum() -> None:
    n = _parse("21-000061")  # F03 with FRAMEWORK: 1A, 1B, ... parallel on lot 1
    lot1 = [r for r in n.results if r.lot_id == "LOT-0001"]
    assert all(r.framework for r in lot1) and lot1[0].parallel == len(lot1)
    # CONTRACT_NO 1B: a group of two (AWARDED_TO_GROUP), VAL_TOTAL 250000000 GBP.
    group = next(r for r in n.results if r.contract_id == "1B")
    assert [w.name for w in group.winners] == ["ATKINS Ltd", "Jacobs UK Ltd"]
    assert (group.tender_value, group.currency) == (Decimal("250000000"), "GBP")
    assert n.result_framework_max == Decimal("300000000")  # OBJECT_CONTRACT/VAL_TOTAL


def test_sliced_parse_equals_whole_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader parses only the coded data and the original form; reading the whole
    document gives the same notice for every file."""
    sliced = [parse_ted_legacy(p.read_bytes(), location=p.name).to_dict() for p in FILES]
    monkeypatch.setattr(ted_legacy, "_slice", lambda data, head_end, root_name: None)
    whole = [parse_ted_legacy(p.read_bytes(), location=p.name).to_dict() for p in FILES]
    assert sliced == whole


def test_odd_text_before_the_form_falls_back_to_the_whole_document() -> None:
    data = (LEGACY / "21-364240-001-EXP.xml").read_bytes()
    odd = data.replace(
        b"<ML_TITLES>", b'<ML_TITLES><!-- <F03_2014 CATEGORY="ORIGINAL"> --><TI_X/>', 1
    )
    assert parse_ted_legacy(odd).to_dict() == parse_ted_legacy(data).to_dict()


def test_unsafe_truncated_and_foreign_input_is_refused() -> None:
    data = (LEGACY / "21-364240-001-EXP.xml").read_bytes()
    bomb = data.replace(
        b"<TED_EXPORT ", b'<!DOCTYPE TED_EXPORT [<!ENTITY a "aaaa">]>\n<TED_EXPORT ', 1
    )
    with pytest.raises(UnsafeXMLError, match="x.xml: DTDs"):
        parse_any(bomb, location="x.xml")
    with pytest.raises(NoticeParseError, match="truncated TED XML"):
        parse_any(data[: len(data) // 2], location="x.xml")
    with pytest.raises(NoticeParseError, match="not well-formed"):
        parse_any(data.replace(b"</OBJECT_CONTRACT>", b"</OBJECT>", 1), location="x.xml")
    with pytest.raises(NoticeParseError, match="empty file"):
        parse_ted_legacy(b"  ", location="x.xml")
    # An eForms notice goes to the eForms parser; a TED file never does.
    eforms = (NOTICES / "doffin-real" / "2024-110489.xml").read_bytes()
    assert notice_format(eforms) == "eforms" and parse_any(eforms).notice_id
    with pytest.raises(NoticeParseError, match="not an eForms UBL notice"):
        parse_notice(data, location="x.xml")


def test_unknown_forms_are_read_from_the_coded_data() -> None:
    """R2.0.8 forms (2004 directives) are read from the coded data: shown on a real R2.0.9
    award notice rewritten in the R2.0.8 namespace with its form renamed CONTRACT_AWARD
    (a form element the reader does not read field by field)."""
    data = (LEGACY / "20-157399-001-EXP.xml").read_bytes()
    old = data.replace(
        b'xmlns="http://publications.europa.eu/resource/schema/ted/R2.0.9/publication"',
        b'xmlns="http://publications.europa.eu/TED_schema/Export"',
    ).replace(b"F03_2014", b"CONTRACT_AWARD")
    n = parse_any(old, location="old.xml")
    assert n.notice_id == "2020/S 064-154292"
    assert (n.subtype, n.notice_type) == ("29", "can-standard")  # TD_DOCUMENT_TYPE 7
    assert n.procedure_type == "open"  # PR_PROC 1
    assert n.issue_date == dt.date(2020, 3, 28)  # DS_DATE_DISPATCH 20200328
    assert n.main_cpv == "90620000"  # ORIGINAL_CPV
    assert [(b.name, b.orgnr) for b in n.buyers] == [("Kåfjord Kommune", "940363586")]
    assert not n.lots and not n.results
    assert any("CONTRACT_AWARD is not read field by field" in w for w in n.warnings)


def test_parse_json_has_the_eforms_keys() -> None:
    result = CliRunner().invoke(main, ["parse", "--json", str(LEGACY)])
    assert result.exit_code == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) == 78 and all(set(o) == KEYS for o in objects)
    eforms = json.loads(
        CliRunner()
        .invoke(main, ["parse", "--json", str(NOTICES / "doffin-real" / "2024-110489.xml")])
        .stdout
    )
    lot_keys, result_keys = set(eforms["lots"][0]), set(eforms["results"][0])
    assert all(set(lot) == lot_keys for o in objects for lot in o["lots"])
    assert all(set(r) == result_keys for o in objects for r in o["results"])
    kafjord = next(o for o in objects if o["notice_id"] == "2020/S 064-154292")
    assert kafjord["buyers"][0]["orgnr"] == "940363586"
    assert kafjord["results"][0]["winners"] == [{"name": "Kurt Steinar Wiik", "orgnr": "976104390"}]
    assert kafjord["results"][0]["conclusion_date"] == "2019-09-24"


def test_ingest_stores_notices_lots_results_winners_and_contracts(engine: Engine) -> None:
    first = ingest_paths(engine, [LEGACY])
    assert (first["read"], first["new"], first["failed"]) == (78, 78, 0)
    again = ingest_paths(engine, [LEGACY])
    assert (again["unchanged"], again["new"]) == (78, 0)
    with Session(engine) as s:
        count = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Notice, NoticeBuyer, Lot, AwardCriterion, LotResult, ResultWinner, Contract)
        }
        assert count["notices"] == 78 and count["lots"] >= 900 and count["lot_results"] >= 1400
        assert count["result_winners"] >= 600 and count["contracts"] >= 600
        kafjord = s.scalars(select(Notice).where(Notice.notice_id == "2020/S 064-154292")).one()
        assert kafjord.subtype == "29" and kafjord.procedure_id == "2019/S 109-267097"
        contracts = s.scalars(
            select(Contract).where(Contract.notice_pk == kafjord.id).order_by(Contract.key)
        ).all()
        assert len(contracts) == 4 and all(c.procedure_id == "2019/S 109-267097" for c in contracts)
        # Four parallel contractors, each the award's estimated 1 MNOK: a shared estimate.
        assert {(c.value, c.currency, c.value_kind, c.value_shared) for c in contracts} == {
            (Decimal("1000000.00"), "NOK", "estimated", True)
        }
        suppliers = s.scalars(
            select(ContractParty.orgnr).where(
                ContractParty.contract_id.in_([c.id for c in contracts]),
                ContractParty.role == "supplier",
            )
        ).all()
        assert sorted(o for o in suppliers if o) == ["897935082", "976104390", "989748297"]
        # A VEAT is a direct award (F15 → subtype 25-28).
        veat = s.scalars(select(Notice).where(Notice.notice_id == "2021/S 061-155727")).one()
        assert all(
            c.direct_award for c in s.scalars(select(Contract).where(Contract.notice_pk == veat.id))
        )


# The shared samples have no modification notice (F20). This one is constructed, in the
# R2.0.9 F20 structure (sections II, IV, V as at the award, VII the modification), for
# the first contract of the real Kåfjord award notice 2020/S 064-154292 above; its
# envelope (coded data) is that notice's, under another OJ S number.
F20_FORM = """<F20_2014 CATEGORY="ORIGINAL" FORM="F20" LG="NO">
  <LEGAL_BASIS VALUE="32014L0024"/>
  <CONTRACTING_BODY>
    <ADDRESS_CONTRACTING_BODY>
      <OFFICIALNAME>Kåfjord Kommune</OFFICIALNAME><NATIONALID>940 363 586</NATIONALID>
      <TOWN>Olderdalen</TOWN><COUNTRY VALUE="NO"/>
    </ADDRESS_CONTRACTING_BODY>
  </CONTRACTING_BODY>
  <OBJECT_CONTRACT>
    <TITLE><P>Vintervedlikehold av kommunale veier og plasser</P></TITLE>
    <CPV_MAIN><CPV_CODE CODE="90620000"/></CPV_MAIN>
    <OBJECT_DESCR ITEM="1">
      <SHORT_DESCR><P>Brøyting og strøing.</P></SHORT_DESCR>
      <DURATION TYPE="MONTH">24</DURATION>
    </OBJECT_DESCR>
  </OBJECT_CONTRACT>
  <PROCEDURE><NOTICE_NUMBER_OJ>2020/S 064-154292</NOTICE_NUMBER_OJ></PROCEDURE>
  <AWARD_CONTRACT>
    <CONTRACT_NO>1</CONTRACT_NO>
    <AWARDED_CONTRACT>
      <DATE_CONCLUSION_CONTRACT>2019-09-24</DATE_CONCLUSION_CONTRACT>
      <CONTRACTORS><NO_AWARDED_TO_GROUP/><CONTRACTOR><ADDRESS_CONTRACTOR>
        <OFFICIALNAME>Kurt Steinar Wiik</OFFICIALNAME><NATIONALID>976104390</NATIONALID>
        <TOWN>Rotsund</TOWN><COUNTRY VALUE="NO"/>
      </ADDRESS_CONTRACTOR><NO_SME/></CONTRACTOR></CONTRACTORS>
      <VALUES><VAL_TOTAL CURRENCY="NOK">1000000</VAL_TOTAL></VALUES>
    </AWARDED_CONTRACT>
  </AWARD_CONTRACT>
  <COMPLEMENTARY_INFO><DATE_DISPATCH_NOTICE>2021-09-01</DATE_DISPATCH_NOTICE></COMPLEMENTARY_INFO>
  <MODIFICATIONS_CONTRACT>
    <DESCRIPTION_PROCUREMENT>
      <CPV_MAIN><CPV_CODE CODE="90620000"/></CPV_MAIN>
      <SHORT_DESCR><P>Brøyting og strøing, også gang- og sykkelveier.</P></SHORT_DESCR>
      <DURATION TYPE="MONTH">36</DURATION>
      <VALUES><VAL_TOTAL CURRENCY="NOK">1400000</VAL_TOTAL></VALUES>
      <CONTRACTORS><NO_AWARDED_TO_GROUP/><CONTRACTOR><ADDRESS_CONTRACTOR>
        <OFFICIALNAME>Kurt Steinar Wiik</OFFICIALNAME><NATIONALID>976104390</NATIONALID>
        <TOWN>Rotsund</TOWN><COUNTRY VALUE="NO"/>
      </ADDRESS_CONTRACTOR><NO_SME/></CONTRACTOR></CONTRACTORS>
    </DESCRIPTION_PROCUREMENT>
    <INFO_MODIFICATIONS>
      <SHORT_DESCR>
        <P>Kontrakten utvides med gang- og sykkelveier og forlenges ett år.</P>
      </SHORT_DESCR>
      <ADDITIONAL_NEED><P>Nye gang- og sykkelveier er overtatt av kommunen.</P></ADDITIONAL_NEED>
      <VALUES>
        <VAL_TOTAL_BEFORE CURRENCY="NOK">1000000</VAL_TOTAL_BEFORE>
        <VAL_TOTAL_AFTER CURRENCY="NOK">1400000</VAL_TOTAL_AFTER>
      </VALUES>
    </INFO_MODIFICATIONS>
  </MODIFICATIONS_CONTRACT>
</F20_2014>"""


def _f20() -> bytes:
    data = (LEGACY / "20-157399-001-EXP.xml").read_bytes()
    start = data.index(b"<F03_2014")
    end = data.index(b"</F03_2014>") + len(b"</F03_2014>")
    data = data[:start] + F20_FORM.encode() + data[end:]
    data = data.replace(
        b"<NO_DOC_OJS>2020/S 064-154292</NO_DOC_OJS>",
        b"<NO_DOC_OJS>2021/S 170-000001</NO_DOC_OJS>",
        1,
    )
    return data.replace(b'<TD_DOCUMENT_TYPE CODE="7">', b'<TD_DOCUMENT_TYPE CODE="K">', 1)


def test_modification_notice_reads_the_contract_after_it() -> None:
    n = parse_any(_f20(), location="f20.xml")
    assert (n.notice_id, n.subtype, n.notice_type) == ("2021/S 170-000001", "38", "can-modif")
    assert n.document_type == "ContractAwardNotice" and n.issue_date == dt.date(2021, 9, 1)
    assert n.modified_notice_id == n.procedure_id == "2020/S 064-154292"
    assert n.modification_reason == "add-wss"  # INFO_MODIFICATIONS/ADDITIONAL_NEED
    assert n.modification_description.startswith("Kontrakten utvides med gang- og sykkelveier")
    (lot,) = n.lots
    assert (lot.duration_value, lot.duration_unit) == (36, "MONTH")  # section VII, not II
    assert lot.description == "Brøyting og strøing, også gang- og sykkelveier."
    (result,) = n.results
    assert [w.orgnr for w in result.winners] == ["976104390"]
    assert (result.tender_value, result.currency) == (Decimal("1400000"), "NOK")  # VAL_TOTAL_AFTER
    assert result.contract_id == "1" and result.conclusion_date == dt.date(2019, 9, 24)


def test_modification_changes_the_contract_of_its_award(engine: Engine) -> None:
    """The F20 names its award notice, the award names the notice that opened the
    procedure: the ingest follows the names, so the modification lands on its contract."""
    ingest_paths(engine, [LEGACY / "20-157399-001-EXP.xml"])
    with Ingestor(engine, source="file") as ing:
        outcome = ing.add(_f20(), location="f20.xml")
    assert outcome.status == "new"
    with Session(engine) as s:
        f20 = s.get(Notice, outcome.notice_pk)
        assert f20.procedure_id == "2019/S 109-267097"  # F20 → 2020/S 064-154292 → PIN
        contracts = s.scalars(
            select(Contract).where(Contract.procedure_id == "2019/S 109-267097")
        ).all()
        assert len(contracts) == 4  # the award's four; the modification adds none
        (modified,) = [c for c in contracts if c.modified_by_notice_pk == f20.id]
        assert (modified.value, modified.value_kind) == (Decimal("1400000.00"), "tender")
        assert modified.key.endswith("|1|TPA-0001")  # CONTRACT_NO 1, Kurt Steinar Wiik
