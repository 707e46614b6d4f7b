"""Linking notice buyers to accounts, on the real Doffin notices and the example accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, REAL
from tests.support.worlds import EXAMPLES, load_real
from tracker.db.models import (
    Account,
    ContractAccount,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Organisation,
)
from tracker.errors import ConfigError
from tracker.linking.links import (
    DEFAULT_CENTRAL_PURCHASING_FILE,
    build_index,
    decide_link,
    is_public_buyer,
    link_notices,
    load_central_purchasing,
    parent_chains,
    prospects,
)
from tracker.linking.names import full_key, match_key, parent_name
from tracker.notices.ingest import ingest_paths
from tracker.pages.suggested_links import suggested_links


def links_by_file(session: Session) -> dict[str, list[tuple[str, str, str, str]]]:
    """{fixture file name: [(buyer name, account, method, status)]} for every link."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    rows = session.execute(
        select(Notice.source_meta, Notice.notice_id, NoticeBuyer.name, Account.name, NoticeLink)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .join(NoticeBuyer, NoticeBuyer.id == NoticeLink.buyer_pk)
        .join(Account, Account.id == NoticeLink.account_id)
    ).all()
    files = _files_by_notice_id()
    for _meta, notice_id, buyer, account, link in rows:
        out.setdefault(files[notice_id], []).append((buyer, account, link.method, link.status))
    return out


def _files_by_notice_id() -> dict[str, str]:
    from tracker.notices.eforms import parse_notice

    return {parse_notice(p.read_bytes()).notice_id: p.name for p in REAL.glob("*.xml")}


# Every buyer in the fixtures that belongs to an example account, with the method expected.
EXPECTED = {
    "2024-110489.xml": [("Forsvaret", "orgnr")],
    "PriorInformationNotice_pin-buyer_2023-612007.xml": [("Forsvaret", "orgnr")],
    "ContractAwardNotice_can-modif_2022-627512.xml": [("Oslo kommune", "department")],
    "PriorInformationNotice_pin-cfc-standard_2022-976327.xml": [("Oslo kommune", "department")],
    "ContractAwardNotice_can-social_2022-927623.xml": [("Politiets fellestjenester", "orgnr")],
    "ContractNotice_cn-standard_2022-963627.xml": [("Tolletaten", "orgnr")],
    "ContractAwardNotice_veat_2022-674620.xml": [("Miljødirektoratet", "orgnr")],
    "ContractAwardNotice_can-social_2024-111341.xml": [("Vestland fylkeskommune", "orgnr")],
    "PriorInformationNotice_pin-cfc-social_2022-967371.xml": [("Vestland fylkeskommune", "orgnr")],
    "ContractAwardNotice_can-social_2022-945801.xml": [
        ("Vestfold og Telemark fylkeskommune", "orgnr")
    ],
    "ContractNotice_cn-standard_2024-102199.xml": [("Vestfold og Telemark fylkeskommune", "orgnr")],
    "ContractNotice_cn-desg_2023-696688.xml": [("Trondheim kommune", "orgnr")],
    "ContractNotice_cn-social_2023-629257.xml": [("Arbeids- og velferdsetaten", "name_prefix")],
    "PriorInformationNotice_pin-buyer_2023-101205.xml": [("Forsvarsmateriell", "orgnr")],
    "ContractNotice_qu-sy_2023-604437.xml": [("Sporveien AS", "orgnr")],
}
# Sykehusinnkjøp HF's notices, by the region their text names (tracker/data/
# central_purchasing.yaml): the Helse Sør-Øst account is suggested only for its own region
# and for national purchases.
HSO_FILES = {
    # "nasjonalt beredskapslager ... som eies av Helse Vest RHF": national, base confidence
    "ContractAwardNotice_veat_2022-697882.xml": 0.6,
    # "HSØ er i ferd med å rulle ut ...": its own region, raised
    "PriorInformationNotice_pin-buyer_2023-100372.xml": 0.7,
    # "Drift av parkering ved Sykehuset Innlandet HF": one of its trusts, raised
    "PriorInformationNotice_pin-rtl_2022-642893.xml": 0.7,
}
OTHER_REGION_FILES = {
    "ContractNotice_cn-standard_2023-649037.xml": "Helse Vest",  # "til foretakene i Helse Vest"
    # "Universitetssykehuset Nord-Norge HF (UNN)"; 100718 is the mojibake one
    "ContractNotice_pin-cfc-standard_2023-100718.xml": "Helse Nord",
    "ContractNotice_pin-cfc-standard_2023-101942.xml": "Helse Nord",
    "PriorInformationNotice_pin-cfc-social_2023-664435.xml": "Helse Nord",  # "UNN HF"
}
SYKEHUSINNKJOP_FILES = [*HSO_FILES, *OTHER_REGION_FILES]
for _f in HSO_FILES:
    EXPECTED[_f] = [("Sykehusinnkjøp HF", "orgnr"), ("Helse Sør-Øst RHF", "central_purchasing")]
for _f in OTHER_REGION_FILES:
    EXPECTED[_f] = [("Sykehusinnkjøp HF", "orgnr")]


def test_names_normalise_suffixes_departments_and_mojibake() -> None:
    assert match_key("SYKEHUSINNKJÃ˜P HF") == match_key("Sykehusinnkjøp  hf") == "sykehusinnkjøp"
    assert match_key("Helse Sør-Øst RHF") == match_key("HELSE SØR-ØST") == "helse sør-øst"
    assert parent_name("Forsvaret v/Forsvarets logistikkorganisasjon") == "Forsvaret"
    assert parent_name("Oslo kommune v/ Sykehjemsetaten") == "Oslo kommune"
    assert parent_name("Forsvarsmateriell") is None
    assert match_key("Larvik kommune 918082956") == match_key("Larvik kommune") == "larvik"
    # A county never collapses onto the municipality of the same name.
    assert match_key("Rogaland Fylkeskommune") == "rogaland fylke" != match_key("Rogaland kommune")
    assert match_key("KS  (Kommunesektorens organisasjon)") == "ks"
    assert full_key("Oslo kommune") == "oslo kommune"


def test_every_account_buyer_in_the_real_notices_is_linked_with_the_right_method(
    engine: Engine,
) -> None:
    load_real(engine)
    with Session(engine) as s:
        got = links_by_file(s)
    expected = {f: sorted(v) for f, v in EXPECTED.items()}
    actual = {f: sorted((a, m) for _b, a, m, _s in v) for f, v in got.items()}
    assert actual == expected  # nothing missing, nothing extra: no false links
    statuses = {(a, m): st for v in got.values() for _b, a, m, st in v}
    assert statuses[("Forsvaret", "orgnr")] == "confirmed"
    assert statuses[("Oslo kommune", "department")] == "confirmed"
    assert statuses[("Helse Sør-Øst RHF", "central_purchasing")] == "suggested"
    assert statuses[("Arbeids- og velferdsetaten", "name_prefix")] == "suggested"


def test_no_false_links_to_other_public_bodies(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        got = links_by_file(s)
    # Forsvarsmateriell is a separate agency (its own account, not Forsvaret's); the labour
    # ministry is not NAV.
    assert [a for _, a, _, _ in got["PriorInformationNotice_pin-buyer_2023-101205.xml"]] == [
        "Forsvarsmateriell"
    ]
    assert "ContractAwardNotice_can-modif_2023-627259.xml" not in got
    # "Oslo kommune" does not swallow OsloMet or other Oslo bodies.
    assert "2023-307227.xml" not in got


def test_name_only_accounts_link_mojibake_and_department_names(
    engine: Engine, tmp_path: Path
) -> None:
    """Without orgnrs the same buyers link by name: the mojibake notice and "v/" names."""
    data = yaml.safe_load((EXAMPLES / "accounts.yaml").read_text(encoding="utf-8"))
    for acc in data["accounts"]:
        acc.pop("orgnr", None)
    path = tmp_path / "names-only.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_real(engine, path)
    with Session(engine) as s:
        got = links_by_file(s)
    mojibake = got["ContractNotice_pin-cfc-standard_2023-100718.xml"]
    assert ("Sykehusinnkjøp HF", "name") in {(a, m) for _b, a, m, _s in mojibake}
    forsvaret = got["2024-110489.xml"]
    assert [(a, m, st) for _b, a, m, st in forsvaret] == [("Forsvaret", "department", "confirmed")]
    assert {a for v in got.values() for _b, a, _m, _s in v} >= {"Tolletaten", "Trondheim kommune"}


def test_parent_in_business_register_links_sub_units(session: Session) -> None:
    """Real register record: Registerenheten i Brønnøysund's parent is 912660680 (NFD)."""
    record = json.loads((FIXTURES / "api" / "brreg-enhet-974760673.json").read_text())
    session.add(
        Organisation(
            key=record["organisasjonsnummer"],
            orgnr=record["organisasjonsnummer"],
            name=record["navn"],
            org_form=record["organisasjonsform"]["kode"],
            sector_code=record["institusjonellSektorkode"]["kode"],
            parent_orgnr=record["overordnetEnhet"],
        )
    )
    ministry = Account(name="Nærings- og fiskeridepartementet", include_children=True)
    session.add(ministry)
    session.flush()
    from tracker.db.models import AccountOrgnr

    session.add(AccountOrgnr(account_id=ministry.id, orgnr="912660680"))
    session.flush()
    chains = parent_chains(session, ["974760673"])
    assert chains["974760673"] == ["912660680"]
    idx = build_index(session, central=[])
    matches = idx.match("974760673", "REGISTERENHETEN I BRØNNØYSUND", chains["974760673"])
    assert [(m.account_id, m.method) for m in matches] == [(ministry.id, "parent")]
    ministry.include_children = False
    session.flush()
    idx = build_index(session, central=[])
    assert idx.match("974760673", "REGISTERENHETEN I BRØNNØYSUND", chains["974760673"]) == []
    assert is_public_buyer(record["navn"], "ORGL", "6100")


def test_decisions_are_remembered_across_relink_and_reingest(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        suggestions = suggested_links(s, None)
        hso = [x for x in suggestions if x.account == "Helse Sør-Øst RHF"]
        nav = [x for x in suggestions if x.account == "Arbeids- og velferdsetaten"]
        # one row per buyer and account, with the number of its notices
        assert [x.notices for x in hso] == [len(HSO_FILES)] and [x.notices for x in nav] == [1]
        result = decide_link(s, hso[0].id, "rejected", "ingrid.berg@example.no")
        assert result["links_changed"] == len(HSO_FILES)  # every notice of that buyer
        decide_link(s, nav[0].id, "confirmed", "ola.hansen@example.no")
    with Session(engine) as s:
        link_notices(s)
        s.commit()
    ingest_paths(engine, [REAL])  # unchanged notices: nothing is relinked differently
    with Session(engine) as s:
        statuses = {
            (a, link.status, link.decided_by)
            for link, a in s.execute(
                select(NoticeLink, Account.name).join(Account, Account.id == NoticeLink.account_id)
            )
            if a in {"Helse Sør-Øst RHF", "Arbeids- og velferdsetaten"}
        }
        assert statuses == {
            ("Helse Sør-Øst RHF", "rejected", "ingrid.berg@example.no"),
            ("Arbeids- og velferdsetaten", "confirmed", "ola.hansen@example.no"),
        }
        assert suggested_links(s, None) == []
        # A rejected link gives the account no contract.
        hso_id = s.scalar(select(Account.id).where(Account.name == "Helse Sør-Øst RHF"))
        assert (
            s.scalars(select(ContractAccount).where(ContractAccount.account_id == hso_id)).all()
            == []
        )


def test_relink_is_idempotent_and_follows_account_changes(engine: Engine, tmp_path: Path) -> None:
    load_real(engine)
    with Session(engine) as s:
        again = link_notices(s)
        s.commit()
    assert again["added"] == again["removed"] == again["updated"] == 0
    # Drop Tolletaten from the accounts: its link goes on relink.
    with Session(engine) as s:
        s.delete(s.scalars(select(Account).where(Account.name == "Tolletaten")).one())
        s.commit()
        counts = link_notices(s)
        s.commit()
        assert counts["removed"] == 0  # cascade removed it with the account
        assert "ContractNotice_cn-standard_2022-963627.xml" not in links_by_file(s)


def test_prospects_are_public_unlinked_buyers_ranked_by_volume(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        rows = prospects(s, limit=100)
    names = [r["name"] for r in rows]
    # Two notices each: ranked first.
    assert set(names[:2]) == {
        "Kulturtanken - Den Kulturelle Skolesekken Norge",
        "Rogaland Fylkeskommune",
    }
    assert rows[0]["notices"] == 2
    assert "Forsvaret v/Forsvarets logistikkorganisasjon" not in names  # linked
    assert "FORSVARSMATERIELL" not in names  # linked to its own account
    assert "Trøndelag fylkeskommune" in names  # a public buyer that is no account
    assert not any("Test" in n for n in names)  # the [Test] notice is left out
    assert "Achilles Information AS" not in names  # a private company (legal type, name)


def test_prospects_leave_out_foreign_buyers(engine: Engine) -> None:
    """The official SDK samples carry buyers from all over the EU; none is a prospect."""
    ingest_paths(engine, [REAL, FIXTURES / "notices" / "eforms-sdk"])
    with Session(engine) as s:
        rows = prospects(s, limit=1000)
        foreign = set(
            s.scalars(
                select(NoticeBuyer.name).where(
                    NoticeBuyer.country != "NOR", NoticeBuyer.orgnr.is_(None)
                )
            )
        )
    assert foreign, "the SDK samples should bring foreign buyers"
    names = {r["name"] for r in rows}
    assert "Rogaland Fylkeskommune" in names
    assert not names & foreign


def test_link_cli(tracker_env: dict[str, str], engine: Engine) -> None:
    from click.testing import CliRunner

    from tracker.cli import main

    load_real(engine)
    runner = CliRunner()
    out = runner.invoke(main, ["link"])
    assert out.exit_code == 0, out.output
    assert "4 suggested" in out.output  # three to Helse Sør-Øst, one to NAV
    out = runner.invoke(main, ["links", "list", "--format", "json"])
    rows = json.loads(out.output)
    assert sorted(r["notices"] for r in rows) == [1, 3]  # one buyer per account
    out = runner.invoke(main, ["links", "reject", str(rows[0]["id"]), "--by", "x@example.no"])
    assert out.exit_code == 0 and "rejected" in out.output
    out = runner.invoke(main, ["links", "confirm", "999999"])
    assert out.exit_code == 2 and "no link with id 999999" in out.output
    out = runner.invoke(main, ["prospects", "--limit", "3"])
    assert out.exit_code == 0 and "Kulturtanken" in out.output


# --------------------------------------------------------------------------- regions


def _hso_links(session: Session, account: str = "Helse Sør-Øst RHF") -> dict[str, tuple]:
    files = _files_by_notice_id()
    rows = session.execute(
        select(Notice.notice_id, NoticeLink.confidence, NoticeLink.status)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .join(Account, Account.id == NoticeLink.account_id)
        .where(Account.name == account, NoticeLink.method == "central_purchasing")
    ).all()
    return {files[n]: (round(c, 2), st) for n, c, st in rows}


def test_central_purchasing_follows_the_region_the_notice_names(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        got = _hso_links(s)
    assert got == {f: (conf, "suggested") for f, conf in HSO_FILES.items()}


def test_accounts_of_other_regions_get_their_own_notices(engine: Engine, tmp_path: Path) -> None:
    """With Helse Vest RHF and Helse Nord RHF as accounts, each gets its region's notices."""
    data = yaml.safe_load((EXAMPLES / "accounts.yaml").read_text(encoding="utf-8"))
    for name in ("Helse Vest RHF", "Helse Nord RHF"):
        data["accounts"].append(
            {"name": name, "kam": "kari@example.no", "buyer_type": "health_trust"}
        )
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_real(engine, path)
    national = "ContractAwardNotice_veat_2022-697882.xml"
    with Session(engine) as s:
        assert _hso_links(s) == {f: (conf, "suggested") for f, conf in HSO_FILES.items()}
        vest = _hso_links(s, "Helse Vest RHF")
        nord = _hso_links(s, "Helse Nord RHF")
    want = {f for f, region in OTHER_REGION_FILES.items() if region == "Helse Vest"}
    assert vest == {national: (0.6, "suggested"), **dict.fromkeys(want, (0.7, "suggested"))}
    want = {f for f, region in OTHER_REGION_FILES.items() if region == "Helse Nord"}
    assert nord == {national: (0.6, "suggested"), **dict.fromkeys(want, (0.7, "suggested"))}


def test_region_confidence_can_confirm_and_the_map_is_validated(
    engine: Engine, tmp_path: Path
) -> None:
    data = yaml.safe_load(DEFAULT_CENTRAL_PURCHASING_FILE.read_text(encoding="utf-8"))
    data["central_purchasing"][0]["region_confidence"] = 0.8
    path = tmp_path / "cp.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_real(engine)
    with Session(engine) as s:
        link_notices(s, index=build_index(s, load_central_purchasing(path)))
        got = _hso_links(s)
    assert got["PriorInformationNotice_pin-rtl_2022-642893.xml"] == (0.8, "confirmed")
    assert got["ContractAwardNotice_veat_2022-697882.xml"] == (0.6, "suggested")
    data["central_purchasing"][0]["regions"] = [{"terms": ["Helse Vest"]}]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cp.yaml: entry 1, region 1: 'name' is required"):
        load_central_purchasing(path)
    data["central_purchasing"][0]["region_confidence"] = 2
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="region_confidence must be a number"):
        load_central_purchasing(path)


def test_the_built_in_map_is_the_shipped_file_and_the_example() -> None:
    assert (EXAMPLES / "central_purchasing.yaml").resolve() == DEFAULT_CENTRAL_PURCHASING_FILE
    assert load_central_purchasing(None) == load_central_purchasing(DEFAULT_CENTRAL_PURCHASING_FILE)
    bodies = {b["name"] for b in load_central_purchasing(None)}
    assert bodies == {"Sykehusinnkjøp HF", "Statens innkjøpssenter"}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Diatermipenner og -plater med tilbehør til foretakene i Helse Vest", {"Helse Vest"}),
        ("kiosk i Tromsø og Harstad for UNN HF", {"Helse Nord"}),
        ("Drift av parkering ved Sykehuset Innlandet HF", {"Helse Sør-Øst"}),
        ("Helse Nord-Trøndelag HF", {"Helse Midt-Norge"}),  # not Helse Nord
        ("til Helse Vestfold", None),  # not Helse Vest (no such body, and not a whole word)
        ("dunne lag", None),  # "unn" in lower case is not UNN
        ("nasjonalt beredskapslager som eies av Helse Vest RHF", None),  # national
        ("Kontorrekvisita", None),
    ],
)
def test_regions_named_in_a_text(text: str, named: set[str] | None) -> None:
    with Session(create_engine("sqlite://")) as s:
        Account.metadata.create_all(s.get_bind())
        body = build_index(s, load_central_purchasing(None)).central[0]
    assert body.regions_named(text) == named
