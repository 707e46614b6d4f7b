"""Ingest on SQLite and PostgreSQL: idempotency, versions, change links, errors, metadata."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from tracker.db.models import (
    AwardCriterion,
    IngestError,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    Organisation,
    ResultWinner,
    Run,
)
from tracker.notices import ingest
from tracker.notices.files import ingest_paths, reparse
from tracker.notices.ingest import Ingestor
from tracker.notices.parsing import parse_any
from tracker.ops import derive

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notices"
REAL = FIXTURES / "doffin-real"
SDK = FIXTURES / "eforms-sdk"
VEAT = REAL / "2024-110489.xml"  # notice-id 8791620e-..., version 01


def _count(engine: Engine, model: type) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _notices(engine: Engine, notice_id: str) -> list[Notice]:
    with Session(engine) as s:
        return list(
            s.scalars(select(Notice).where(Notice.notice_id == notice_id).order_by(Notice.version))
        )


def _v2(data: bytes, title: str = "Night Vision Systems, revised") -> bytes:
    """A version 02 of a real notice, as the buyer would publish it."""
    assert data.count(b"<cbc:VersionID>01</cbc:VersionID>") == 1
    data = data.replace(b"<cbc:VersionID>01</cbc:VersionID>", b"<cbc:VersionID>02</cbc:VersionID>")
    return data.replace(b"Framework Agreement - 4600004102 Night Vision Systems</cbc:Name>",
                        title.encode() + b"</cbc:Name>", 1)  # fmt: skip


def test_ingest_real_notices_is_idempotent(engine: Engine) -> None:
    first = ingest_paths(engine, [REAL])
    assert first["read"] == 57 and first["new"] == 57 and first["failed"] == 0
    tables = (Notice, NoticeBuyer, Lot, AwardCriterion, LotResult, ResultWinner, Organisation)
    before = {m.__tablename__: _count(engine, m) for m in tables}
    second = ingest_paths(engine, [REAL])
    assert {k: second[k] for k in ("read", "new", "updated", "unchanged", "failed")} == {
        "read": 57, "new": 0, "updated": 0, "unchanged": 57, "failed": 0,
    }  # fmt: skip
    assert {m.__tablename__: _count(engine, m) for m in tables} == before
    assert before["notices"] == 57 and before["lots"] >= 57 and before["result_winners"] > 0
    with Session(engine) as s:
        runs = s.scalars(select(Run).order_by(Run.id)).all()
        assert [(r.kind, r.outcome) for r in runs] == [("ingest", "ok"), ("ingest", "ok")]
        assert runs[1].counts["unchanged"] == 57 and runs[1].finished_at is not None


def test_stored_notice_keeps_raw_xml_and_children(engine: Engine) -> None:
    path = REAL / "ContractAwardNotice_can-standard_2023-335407.xml"
    ingest_paths(engine, [path])
    with Session(engine) as s:
        n = s.scalars(select(Notice)).one()
        assert zlib.decompress(n.raw_xml) == path.read_bytes()
        assert len(n.raw_sha256) == 64 and n.parser_version
        assert n.source == "file" and n.is_latest and n.superseded_by_id is None
        assert [(b.name, b.orgnr, b.orgnr_raw) for b in n.buyers] == [
            ("KS (Kommunesektorens organisasjon)", "971032146", "971 032 146")
        ]
        assert n.buyers[0].organisation is not None and n.buyers[0].organisation.key == "971032146"
        lot = n.lots[0]
        assert [(c.type, c.weight, c.weight_code) for c in lot.award_criteria] == [
            ("quality", 80.0, "per-exa"), ("price", 20.0, "per-exa"),
        ]  # fmt: skip
        result = n.results[0]
        assert result.winner_chosen is True and result.tender_value == 2700000
        winner = result.winners[0]
        assert winner.name == "Kons AS" and winner.orgnr is None
        assert winner.organisation is not None and winner.organisation.key == "name:kons as|NOR"


def test_newer_version_supersedes_older_and_both_are_kept(engine: Engine) -> None:
    v1 = VEAT.read_bytes()
    with Ingestor(engine, source="file") as ing:
        o1 = ing.add(v1, location="v1.xml")
    with Ingestor(engine, source="file") as ing:
        o2 = ing.add(_v2(v1), location="v2.xml")
    assert (o1.status, o1.version, o2.status, o2.version) == ("new", "01", "new", "02")
    old, new = _notices(engine, "8791620e-39a1-435d-985a-bee33825e3f4")
    assert (old.version, old.is_latest, old.superseded_by_id) == ("01", False, new.id)
    assert (new.version, new.is_latest, new.superseded_by_id) == ("02", True, None)
    assert new.title == "Night Vision Systems, revised"
    assert old.title == "Framework Agreement - 4600004102 Night Vision Systems"


def test_older_version_arriving_late_does_not_become_latest(engine: Engine) -> None:
    v1 = VEAT.read_bytes()
    with Ingestor(engine, source="file") as ing:  # both in one batch, newest first
        ing.add(_v2(v1), location="v2.xml")
        ing.add(v1, location="v1.xml")
    old, new = _notices(engine, "8791620e-39a1-435d-985a-bee33825e3f4")
    assert (old.is_latest, old.superseded_by_id, new.is_latest) == (False, new.id, True)


def test_same_version_with_other_bytes_is_updated_in_place(engine: Engine) -> None:
    v1 = VEAT.read_bytes()
    with Ingestor(engine, source="file") as ing:
        first = ing.add(v1, location="a.xml")
    fixed = v1.replace(b"Elbit Systems of America", b"Elbit Systems of America LLC")
    with Ingestor(engine, source="file") as ing:
        again = ing.add(fixed, location="b.xml")
        same = ing.add(fixed, location="b.xml")  # same identity twice: flushed in order
    assert (again.status, same.status) == ("updated", "unchanged")
    assert again.notice_pk == first.notice_pk == same.notice_pk
    with Session(engine) as s:
        n = s.get(Notice, first.notice_pk)
        assert n is not None and zlib.decompress(n.raw_xml) == fixed
        assert [w.name for w in n.results[0].winners] == ["Elbit Systems of America LLC"]
    assert _count(engine, LotResult) == 1 and _count(engine, Lot) == 1


@pytest.mark.parametrize("order", ["original-first", "change-first"])
def test_change_notice_is_linked_to_the_notice_it_changes(engine: Engine, order: str) -> None:
    original = (SDK / "cn_24_minimal.xml").read_bytes()
    change = (SDK / "change-cn_24_void.xml").read_bytes()
    files = [original, change] if order == "original-first" else [change, original]
    for data in files:  # separate batches, as two harvests would bring them
        with Ingestor(engine, source="file") as ing:
            ing.add(data, location="x.xml")
    with Session(engine) as s:
        target = s.scalars(
            select(Notice).where(Notice.notice_id == "f42be27e-09cf-4f0e-a745-63ec689631e6")
        ).one()
        changer = s.scalars(
            select(Notice).where(Notice.changed_notice_id == "f42be27e-09cf-4f0e-a745-63ec689631e6")
        ).one()
        assert changer.changes_notice_pk == target.id
        assert target.changes_notice_pk is None


def test_bad_files_are_recorded_and_stored_data_untouched(engine: Engine, tmp_path: Path) -> None:
    ingest_paths(engine, [VEAT])
    with Session(engine) as s:
        before = s.execute(select(Notice.id, Notice.raw_sha256, Notice.title)).all()
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<a>&b;</a>"
    )
    xxe = tmp_path / "xxe.xml"
    xxe.write_bytes(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<html>502 Bad Gateway")
    result = ingest_paths(engine, [bomb, junk, VEAT, xxe])
    assert (result["read"], result["failed"], result["unchanged"]) == (4, 3, 1)
    reasons = dict(result["failures"])
    assert "DTDs and entity declarations are refused" in reasons[str(bomb)]
    assert "DTDs and entity declarations are refused" in reasons[str(xxe)]
    assert "not well-formed XML" in reasons[str(junk)]
    with Session(engine) as s:
        assert s.execute(select(Notice.id, Notice.raw_sha256, Notice.title)).all() == before
        errors = s.scalars(select(IngestError).order_by(IngestError.id)).all()
        assert [e.location for e in errors] == [str(bomb), str(junk), str(xxe)]
        assert zlib.decompress(errors[1].raw_xml or b"") == b"<html>502 Bad Gateway"
        assert all(e.run_id == result["run_id"] and e.source == "file" for e in errors)
        run = s.get(Run, result["run_id"])
        assert run is not None and run.outcome == "partial" and run.counts["failed"] == 3


def test_database_error_in_a_batch_loses_only_that_notice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_parse(data, location):  # type: ignore[no-untyped-def]
        parsed = parse_any(data, location=location)
        if location == "bad.xml":
            parsed.issue_date = "not a date"  # the database (or its driver) refuses this
        return parsed

    monkeypatch.setattr(ingest, "parse_any", broken_parse)
    paths = sorted(REAL.glob("ContractNotice_cn-*.xml"))[:4]
    with Ingestor(engine, source="file") as ing:
        good = [ing.add(p.read_bytes(), location=p.name) for p in paths[:3]]
        bad = ing.add(paths[3].read_bytes(), location="bad.xml")
    assert [o.status for o in good] == ["new"] * 3
    assert bad.status == "failed" and bad.reason and bad.reason.startswith("database error")
    assert ing.counts == {"read": 4, "new": 3, "updated": 0, "unchanged": 0, "failed": 1}
    assert _count(engine, Notice) == 3
    with Session(engine) as s:
        err = s.scalars(select(IngestError)).one()
        assert err.location == "bad.xml" and err.reason.startswith("database error")
        assert zlib.decompress(err.raw_xml or b"") == paths[3].read_bytes()


def test_search_hit_metadata_is_stored_and_refreshed(engine: Engine) -> None:
    data = VEAT.read_bytes()
    meta = {"id": "2024-110489", "publicationDate": "2024-07-05", "status": "ACTIVE"}
    with Ingestor(engine, source="doffin") as ing:
        first = ing.add(data, location="u", source_id="2024-110489", source_meta=meta)
    with Ingestor(engine, source="doffin") as ing:
        same = ing.add(data, location="u", source_id="2024-110489", source_meta=meta)
        expired = ing.add(
            data, location="u", source_id="2024-110489", source_meta={**meta, "status": "EXPIRED"}
        )
    assert (first.status, same.status, expired.status) == ("new", "unchanged", "updated")
    with Session(engine) as s:
        n = s.scalars(select(Notice)).one()
        assert (n.source, n.source_id, n.status) == ("doffin", "2024-110489", "EXPIRED")
        assert str(n.publication_date) == "2024-07-05"
        assert n.source_meta["status"] == "EXPIRED"
    assert _count(engine, Lot) == 1  # metadata refresh does not touch the children


def test_notice_from_another_source_is_not_overwritten(engine: Engine) -> None:
    data = VEAT.read_bytes()
    with Ingestor(engine, source="doffin") as ing:
        ing.add(data, location="doffin", source_id="2024-110489")
    with Ingestor(engine, source="ted") as ing:
        o = ing.add(data + b"\n", location="ted", source_id="403922-2024")
    assert o.status == "unchanged"
    with Session(engine) as s:
        assert s.scalars(select(Notice.source_id)).one() == "2024-110489"


def test_organisations_are_shared_between_notices(engine: Engine) -> None:
    ingest_paths(engine, [REAL])
    with Session(engine) as s:
        keys = s.scalars(select(Organisation.key)).all()
        assert len(keys) == len(set(keys))
        rogaland = s.scalars(select(NoticeBuyer).where(NoticeBuyer.orgnr == "971045698")).all()
        assert len(rogaland) >= 2 and len({b.organisation_id for b in rogaland}) == 1
        kons = s.scalars(select(Organisation).where(Organisation.key == "name:kons as|NOR")).one()
        assert kons.orgnr is None and kons.name == "Kons AS"


def test_after_ingest_gets_new_and_updated_notice_pks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[int]] = []
    monkeypatch.setattr(
        derive, "after_ingest", lambda session, pks, rules=None: calls.append(list(pks))
    )
    paths = sorted(REAL.glob("*.xml"))[:5]
    with Ingestor(engine, source="file", batch_size=2) as ing:
        outcomes = [ing.add(p.read_bytes(), location=p.name) for p in paths]
    assert [len(c) for c in calls] == [2, 2, 1]
    assert sorted(pk for c in calls for pk in c) == sorted(o.notice_pk for o in outcomes)
    calls.clear()
    with Ingestor(engine, source="file") as ing:
        for p in paths:
            ing.add(p.read_bytes(), location=p.name)
    assert calls == []  # nothing changed, nothing to derive


def test_derive_failure_keeps_the_notices(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(session, pks, rules=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("derive is broken")

    monkeypatch.setattr(derive, "after_ingest", boom)
    result = ingest_paths(engine, [VEAT])
    assert result["new"] == 1 and _count(engine, Notice) == 1
    with Session(engine) as s:
        run = s.get(Run, result["run_id"])
        assert (
            run is not None and run.outcome == "partial" and "derive is broken" in (run.error or "")
        )


def test_reparse_rewrites_rows_in_place(engine: Engine) -> None:
    ingest_paths(engine, [REAL / "ContractNotice_pin-cfc-standard_2023-100718.xml", VEAT])
    with Session(engine) as s:
        ids = sorted(s.scalars(select(Notice.id)).all())
        s.execute(update(Notice).values(title="stale", parser_version="0.0", warnings=[]))
        s.execute(text("DELETE FROM notice_buyers"))
        s.commit()
    result = reparse(engine)
    assert (result["read"], result["updated"], result["failed"]) == (2, 2, 0)
    with Session(engine) as s:
        rows = s.scalars(select(Notice).order_by(Notice.id)).all()
        assert [n.id for n in rows] == ids
        assert rows[0].title and rows[0].title.startswith("Forhåndskunngjøring: Angio")
        assert any("mojibake" in w for w in rows[0].warnings)
        assert rows[0].buyers[0].name == "SYKEHUSINNKJØP HF"
        assert all(n.parser_version != "0.0" for n in rows)
    assert reparse(engine, outdated_only=True)["read"] == 0


def test_stored_values_read_back_as_parsed(engine: Engine) -> None:
    """Every stored field of every real notice reads back equal to the parser's value."""
    from tracker.notices.eforms import parse_notice

    ingest_paths(engine, [REAL])
    with Session(engine) as s:
        notices = s.scalars(select(Notice)).all()
        assert len(notices) == 57
        for n in notices:
            p = parse_notice(zlib.decompress(n.raw_xml))
            assert (n.notice_id, n.version, n.subtype, n.issue_date, n.title) == (
                p.notice_id, p.version, p.subtype, p.issue_date, p.title,
            )  # fmt: skip
            assert (n.cpv_codes, n.warnings, n.previous_notice_ids) == (
                p.cpv_codes, p.warnings, p.previous_notice_ids,
            )  # fmt: skip
            assert (n.estimated_value, n.currency, n.is_test) == (
                p.estimated_value, p.currency, p.is_test,
            )  # fmt: skip
            assert [(b.name, b.orgnr, b.orgnr_raw, b.legal_type) for b in n.buyers] == [
                (b.name, b.orgnr, b.orgnr_raw, b.legal_type) for b in p.buyers
            ]
            assert len(n.lots) == len(p.lots)
            for lot, pl in zip(n.lots, p.lots, strict=True):
                assert (lot.lot_id, lot.submission_deadline, lot.request_deadline) == (
                    pl.lot_id, pl.submission_deadline, pl.request_deadline,
                )  # fmt: skip
                assert (lot.duration_value, lot.duration_unit, lot.start_date, lot.end_date) == (
                    pl.duration_value, pl.duration_unit, pl.start_date, pl.end_date,
                )  # fmt: skip
                assert (lot.cpv_codes, lot.framework_code, lot.estimated_value) == (
                    pl.cpv_codes, pl.framework_code, pl.estimated_value,
                )  # fmt: skip
                assert [(c.type, c.name, c.weight) for c in lot.award_criteria] == [
                    (c.type, c.name, c.weight) for c in pl.award_criteria
                ]
            for r, pr in zip(n.results, p.results, strict=True):
                assert (r.winner_chosen, r.tender_value, r.conclusion_date, r.framework) == (
                    pr.winner_chosen, pr.tender_value, pr.conclusion_date, pr.framework,
                )  # fmt: skip
                assert [(w.name, w.orgnr) for w in r.winners] == [
                    (w.name, w.orgnr) for w in pr.winners
                ]


def test_conflicting_copies_in_one_run_keep_the_first(engine: Engine) -> None:
    """The SDK examples reuse notice-ids: a run keeps the first copy, so reruns are stable."""
    v1 = VEAT.read_bytes()
    other = v1.replace(b"Elbit Systems of America", b"Someone Else AS")
    for _ in range(2):
        with Ingestor(engine, source="file") as ing:
            a = ing.add(v1, location="a.xml")
            b = ing.add(other, location="b.xml")
        assert b.status == "unchanged" and b.notice_pk == a.notice_pk
        assert b.reason and "already read from a.xml with other content" in b.reason
    assert a.status == "unchanged"  # second run: nothing changed
    with Session(engine) as s:
        n = s.scalars(select(Notice)).one()
        assert [w.name for w in n.results[0].winners] == ["Elbit Systems of America"]


def test_database_error_after_the_notice_row_rolls_back_that_notice_only(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure in a child table undoes the notice row too (savepoint), others stay."""

    def broken_parse(data, location):  # type: ignore[no-untyped-def]
        parsed = parse_any(data, location=location)
        if location == "bad.xml":
            for lot in parsed.lots:
                lot.start_date = "not a date"  # refused when the lots are stored
        return parsed

    monkeypatch.setattr(ingest, "parse_any", broken_parse)
    paths = sorted(REAL.glob("ContractNotice_cn-*.xml"))[:4]
    with Ingestor(engine, source="file") as ing:
        outcomes = [ing.add(p.read_bytes(), location=p.name) for p in paths[:3]]
        outcomes.append(ing.add(paths[3].read_bytes(), location="bad.xml"))
    assert [o.status for o in outcomes] == ["new", "new", "new", "failed"]
    with Session(engine) as s:
        stored = s.scalars(select(Notice.notice_id)).all()
        assert sorted(stored) == sorted(o.notice_id for o in outcomes[:3])
        orphans = s.scalar(
            select(func.count()).select_from(Lot).where(Lot.notice_pk.not_in(select(Notice.id)))
        )
        assert orphans == 0
        assert s.scalars(select(IngestError.location)).all() == ["bad.xml"]


def test_values_longer_than_their_column_are_cut_not_refused(engine: Engine) -> None:
    """PostgreSQL refuses over-long strings: the notice is stored with them cut to length."""
    long_name = "Elbit Systems of America " + "x" * 600
    data = (
        VEAT.read_bytes()
        .replace(b"3f04e24d-412f-4334-90f3-5244f30593b4", b"P" * 100)
        .replace(b"Elbit Systems of America", long_name.encode())
    )
    with Ingestor(engine, source="test") as ing:
        outcome = ing.add(data, location="long.xml")
    assert outcome.status == "new", outcome.reason
    with Session(engine) as s:
        n = s.get(Notice, outcome.notice_pk)
        assert n is not None and n.procedure_id == "P" * 64
        winners = [w for r in n.results for w in r.winners]
        assert winners and all(w.name == long_name[:500] for w in winners)


def test_the_ingest_derives_with_the_rules_it_is_given(engine: Engine, tmp_path: Path) -> None:
    """A framework with no stated term ends at the rules' framework maximum: an ingest given
    a rules file with 2 years derives that, not the default 4 (the rules travel with the
    ingest instead of being read behind its back)."""
    from tracker.db.models import Contract
    from tracker.rules import load_rules

    veat = FIXTURES / "doffin-real" / "ContractAwardNotice_veat_2022-697882.xml"
    path = tmp_path / "rules.toml"
    path.write_text(
        "[regimes]\nframework_max_years = { classic = 2, light = 2, defence = 7, utilities = 8 }\n",
        encoding="utf-8",
    )
    ingest_paths(engine, [veat], rules=load_rules(path))
    with Session(engine) as s:
        query = select(Contract.latest_end_source, Contract.latest_end)
        [(source, latest)] = s.execute(query).all()
    assert source == "framework_default (2 years)" and latest == dt.date(2024, 11, 23)
