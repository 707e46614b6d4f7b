"""Expiries and incumbency on the real notices."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.test_linking import load_real
from tracker.cli import main
from tracker.errors import TrackerError
from tracker.expiries import incumbency, list_expiries, parse_within
from tracker.models import Contract

D = dt.date
VESTLAND = "49a72de8-e68a-4590-9add-10c08638c1e4"  # canteen at Leikanger


def test_expiries_by_end_date_with_sources(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        rows = list_expiries(s, today=D(2024, 1, 1))
    assert [(r["end_date"], r["end_source"], r["account"], r["incumbent"]) for r in rows] == [
        # "varighet på 2 år" (still listed: the 1 + 1 år options run to 2026-11-02)
        ("2024-11-02", "text_duration", "Vestfold og Telemark fylkeskommune",
         "Bedriftshelsen AS"),
        ("2026-10-13", "framework_default", "Politiets fellestjenester",
         "Avarn Security AS, Securitas AS"),
        ("2026-11-23", "framework_default", "Sykehusinnkjøp HF, Helse Sør-Øst RHF (suggested)",
         "JANSSEN-CILAG AS"),
        ("2027-06-19", "text_duration", "Vestland fylkeskommune", "Iss Facility Services AS"),
        ("2027-12-31", "text_years", "Miljødirektoratet", "Veterinærinstituttet"),
        ("2031-07-03", "notice+duration", "Forsvaret", "Elbit Systems of America"),
    ]  # fmt: skip
    assert rows[0]["latest_end"] == "2026-11-02"
    first = rows[1]
    assert first["value"] == 141000000.0 and first["latest_end"] == "2026-10-13"
    assert first["days_left"] == (D(2026, 10, 13) - D(2024, 1, 1)).days
    assert first["buyers"] == [{"name": "Politiets fellestjenester", "orgnr": "974761157"}]


def test_expiries_filters(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        within = list_expiries(s, today=D(2024, 12, 1), within_months=24)
        assert [r["end_date"] for r in within] == ["2024-11-02", "2026-10-13", "2026-11-23"]
        forsvaret = list_expiries(s, today=D(2024, 1, 1), account="Forsvaret")
        assert [r["end_source"] for r in forsvaret] == ["notice+duration"]
        # Oslo kommune's contract ended 2023-03-31: listed only when today is before that.
        assert list_expiries(s, today=D(2024, 1, 1), account="Oslo kommune") == []
        oslo = list_expiries(s, today=D(2023, 1, 1), account="Oslo kommune")
        assert [(r["end_date"], r["end_source"]) for r in oslo] == [
            ("2023-03-31", "conclusion+duration")
        ]
        # Every account contract of the fixtures now has an end (the last three from the
        # notice text): take Vestland's away to see an unknown end listed last.
        c = s.scalars(select(Contract).where(Contract.procedure_id == VESTLAND)).one()
        c.end_date, c.latest_end, c.end_source = None, None, "unknown"
        s.flush()
        assert VESTLAND not in {r["procedure_id"] for r in list_expiries(s, today=D(2024, 1, 1))}
        unknown = list_expiries(s, today=D(2024, 1, 1), include_unknown=True)
        assert [(r["end_date"], r["end_source"]) for r in unknown][-1] == (None, "unknown")


def test_incumbency_us_vs_competitors(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    load_real(engine)
    monkeypatch.setenv("TRACKER_OUR_ORGNRS", "920144950")  # as if we were Securitas
    with Session(engine) as s:
        rows = incumbency(s, "Politiets fellestjenester")
        assert [(r["supplier"], r["us"], r["count"]) for r in rows] == [
            ("Securitas AS", True, 1),
            ("Avarn Security AS", False, 1),
        ]
        everyone = incumbency(s, today=D(2024, 1, 1))
        assert {r["account"] for r in everyone} >= {"Forsvaret", "Sykehusinnkjøp HF"}
        assert "Oslo kommune" not in {r["account"] for r in everyone}  # ended 2023
        exp = list_expiries(s, today=D(2024, 1, 1), account="Politiets fellestjenester")
        assert exp[0]["us"] is True


def test_parse_within() -> None:
    assert parse_within("24m") == 24 and parse_within("2y") == 24 and parse_within("18") == 18
    assert parse_within(None) is None
    with pytest.raises(TrackerError, match="--within"):
        parse_within("soon")


def test_expiries_cli(tracker_env: dict[str, str], engine: Engine) -> None:
    load_real(engine)
    runner = CliRunner()
    out = runner.invoke(main, ["expiries", "--today", "2024-01-01", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [r["end_date"] for r in rows] == [
        "2024-11-02",
        "2026-10-13",
        "2026-11-23",
        "2027-06-19",
        "2027-12-31",
        "2031-07-03",
    ]
    out = runner.invoke(
        main,
        [
            "expiries",
            "--today",
            "2024-01-01",
            "--within",
            "3y",
            "--account",
            "PFT",
            "--format",
            "json",
        ],
    )
    assert [r["account"] for r in json.loads(out.output)] == ["Politiets fellestjenester"]
    out = runner.invoke(main, ["expiries", "--today", "2024-01-01"])
    assert "framework_default" in out.output and "Elbit Systems of America" in out.output
    out = runner.invoke(main, ["expiries", "--within", "soon"])
    assert out.exit_code == 2 and "--within 'soon'" in out.output
    out = runner.invoke(main, ["incumbency", "--format", "json"])
    assert out.exit_code == 0 and json.loads(out.output)
