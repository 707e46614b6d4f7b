"""Expiries and incumbency on the real notices."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.readmodels import list_expiries
from tests.support.worlds import load_real
from tracker.cli import main
from tracker.contracts.expiries import parse_within
from tracker.db.models import Contract
from tracker.errors import TrackerError
from tracker.pages.incumbency import incumbency

D = dt.date
VESTLAND = "49a72de8-e68a-4590-9add-10c08638c1e4"  # canteen at Leikanger


def test_expiries_by_end_date_with_sources(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        rows = list_expiries(s, today=D(2024, 1, 1))
    got = [
        (r["next_end"], r["end_source"], r["lot_id"], r["account"], r["incumbent"]) for r in rows
    ]
    assert got == [
        # Oslo kommune VAV: ended 2023-03-31, but a modification notice came 112 days
        # before that end: probably extended, ask the buyer (listed first, flagged).
        (None, "conclusion+duration", "LOT-0000", "Oslo kommune", "Move AS"),
        # "varighet på 2 år" (then 1 + 1 år options to 2026-11-02)
        ("2024-11-02", "text_duration", "LOT-0000", "Vestfold og Telemark fylkeskommune",
         "Bedriftshelsen AS"),
        # Politiets fellestjenester: one contract per lot and supplier.
        ("2025-03-08", "text_duration", "LOT-0001", "Politiets fellestjenester",
         "Avarn Security AS"),
        ("2025-03-08", "text_duration", "LOT-0002", "Politiets fellestjenester", "Securitas AS"),
        # Helse Vest's diathermy competition (deadline 2023-03-17): no award seen by now,
        # the expected contract from its own 24 months.
        ("2025-06-09", "expected+duration", "LOT-1-8", "Sykehusinnkjøp HF", ""),
        # NAV's AMO courses (suggested link), no award seen either.
        ("2025-12-07", "expected+duration", "LOT-0001", "Arbeids- og velferdsetaten (suggested)",
         ""),
        ("2025-12-07", "expected+duration", "LOT-0002", "Arbeids- og velferdsetaten (suggested)",
         ""),
        # A framework with no stated term: the 4-year maximum as latest end.
        ("2026-11-23", "framework_default", "LOT-0000",
         "Sykehusinnkjøp HF, Helse Sør-Øst RHF (suggested)", "JANSSEN-CILAG AS"),
        ("2027-12-31", "text_years", "LOT-0000", "Miljødirektoratet", "Veterinærinstituttet"),
        # Not known yet on 2024-01-01 (no hindsight, as on every page): Vestland's canteen
        # (award notice of 2024-08-05) and Forsvaret's night vision (2024-07-04).
    ]  # fmt: skip
    oslo, vtfk, avarn = rows[0], rows[1], rows[2]
    assert oslo["status"] == "probably extended: ask the buyer" and oslo["extension"]
    assert (vtfk["latest_end"], vtfk["option_ends"]) == ("2026-11-02", ("2025-11-02", "2026-11-02"))
    assert vtfk["value_label"].endswith("NOK (framework maximum)")
    assert avarn["value"] == 138000000.0 and avarn["value_kind"] == "tender"
    assert avarn["days_left"] == (D(2025, 3, 8) - D(2024, 1, 1)).days
    assert [(b["name"], b["orgnr"]) for b in avarn["buyers"]] == [
        ("Politiets fellestjenester", "974761157")
    ]
    assert "«planlagt oppstartsdato 9. mars 2023»" in avarn["evidence_text"]
    with Session(engine) as s:
        later = list_expiries(s, today=D(2024, 8, 5))
    assert [r["lot_id"] for r in later if r["incumbent"] == "Iss Facility Services AS"] == [
        "LOT-0000"
    ]
    forsvaret = later[-1]
    assert (forsvaret["direct_award"], forsvaret["retender"]) == (True, "not_assumed")
    assert forsvaret["retender_note"].startswith("direct award")
    assert forsvaret["challenge_until"] == "2024-07-14"


def test_next_decision_point_is_the_next_option_end(engine: Engine) -> None:
    """Vestfold og Telemark after the base end 2024-11-02: the next option end
    2025-11-02, not the last one (2026-11-02)."""
    load_real(engine)
    with Session(engine) as s:
        rows = list_expiries(s, today=D(2025, 1, 1), account="Vestfold og Telemark fylkeskommune")
        (row,) = [r for r in rows if r["procedure_id"] == "2022-945801"]
    assert (row["next_end"], row["end_date"], row["latest_end"]) == (
        "2025-11-02",
        "2024-11-02",
        "2026-11-02",
    )


def test_expiries_filters(engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        within = list_expiries(s, today=D(2024, 12, 1), within_months=24)
        assert [(r["next_end"], r["lot_id"]) for r in within] == [
            (None, "LOT-0000"),  # probably extended (Oslo kommune): ask the buyer
            ("2025-03-08", "LOT-0001"),
            ("2025-03-08", "LOT-0002"),
            ("2025-06-09", "LOT-1-8"),
            ("2025-11-02", "LOT-0000"),  # VTFK's first option, after the base end
            ("2025-12-07", "LOT-0001"),
            ("2025-12-07", "LOT-0002"),
            ("2026-11-23", "LOT-0000"),
        ]
        # (Forsvaret's night-vision award is known from its notice of 2024-07-04)
        forsvaret = list_expiries(s, today=D(2024, 7, 10), account="Forsvaret")
        assert [r["end_source"] for r in forsvaret] == ["notice+duration"]
        # Oslo kommune's contract ended 2023-03-31 and was probably extended.
        (oslo,) = list_expiries(s, today=D(2024, 1, 1), account="Oslo kommune")
        assert (oslo["end_date"], oslo["latest_end"], oslo["extension"]) == (
            "2023-03-31",
            None,
            "probably_extended",
        )
        # An expected contract is listed only after its expected award date.
        early = list_expiries(s, today=D(2023, 5, 1), account="Sykehusinnkjøp HF")
        assert "LOT-1-8" not in {r["lot_id"] for r in early}
        # Take Vestland's end away to see an unknown end listed last.
        c = s.scalars(select(Contract).where(Contract.procedure_id == VESTLAND)).one()
        c.end_date, c.latest_end, c.option_ends, c.end_source = None, None, [], "unknown"
        s.flush()
        # (known from its award notice of 2024-08-05)
        assert VESTLAND not in {r["procedure_id"] for r in list_expiries(s, today=D(2024, 8, 5))}
        unknown = list_expiries(s, today=D(2024, 8, 5), include_unknown=True)
        assert [(r["end_date"], r["end_source"]) for r in unknown][-1] == (None, "unknown")


def _account_id(s: Session, name: str) -> int:
    from tracker.accounts.keyaccounts import get_account

    return get_account(s, name).id


def test_incumbency_us_vs_competitors(engine: Engine) -> None:
    load_real(engine)
    ours = frozenset({"920144950"})  # as if we were Securitas
    with Session(engine) as s:
        rows = incumbency(
            s, D(2023, 6, 1), ours=ours, account_id=_account_id(s, "Politiets fellestjenester")
        )
        # Each supplier its own lot and value: not both at 141 MNOK.
        assert [(r.supplier, r.us, r.contracts, r.value) for r in rows] == [
            ("Securitas AS", True, 1, 3000000.0),
            ("Avarn Security AS", False, 1, 138000000.0),
        ]
        everyone = incumbency(s, D(2024, 1, 1), ours=ours)
        assert {r.account for r in everyone} >= {"Forsvaret", "Sykehusinnkjøp HF"}
        exp = list_expiries(s, today=D(2024, 1, 1), account="Politiets fellestjenester", ours=ours)
        assert [r["us"] for r in exp] == [False, True]
        # the one "still running" rule: contracts ended by then are held by nobody
        later = incumbency(s, D(2032, 1, 1), ours=ours)
        assert sum(r.contracts for r in later) < sum(r.contracts for r in everyone)


def test_shared_ceiling_is_never_added(engine: Engine) -> None:
    """Moss kommune's ten parallel nurse-staffing frameworks share one 65 MNOK ceiling:
    each supplier holds its own contract, the ceiling is listed, never summed."""
    load_real(engine, accounts=_moss_account())
    with Session(engine) as s:
        rows = incumbency(
            s, D(2024, 1, 1), ours=frozenset(), account_id=_account_id(s, "Moss kommune")
        )
        assert len(rows) == 10
        assert {(r.contracts, r.value, r.shared_ceilings) for r in rows} == {
            (1, None, (65000000.0,))
        }
        exp = list_expiries(s, today=D(2024, 1, 1), account="Moss kommune")
        assert len(exp) == 10 and all(r["value_shared"] for r in exp)
        assert exp[0]["value_label"] == (
            "65\u00a0000\u00a0000 NOK (framework maximum, shared by 10 parallel suppliers: "
            "never summed)"
        )


def _moss_account() -> Path:
    path = Path(tempfile.mkdtemp()) / "moss.csv"
    path.write_text("name,orgnr,tier\nMoss kommune,920817521,status\n", encoding="utf-8")
    return path


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
    assert [r["next_end"] for r in rows] == [
        "",  # probably extended (Oslo kommune): ask the buyer
        "2024-11-02",
        "2025-03-08",
        "2025-03-08",
        "2025-06-09",
        "2025-12-07",
        "2025-12-07",
        "2026-11-23",
        "2027-12-31",
        # not yet known on 2024-01-01 (no hindsight: the one rule of every list):
        # the contract ending 2027-06-19 and Elbit's (2031-07-03, notice of 2024-07-04)
    ]
    assert rows[2]["suppliers"] == "Avarn Security AS" and rows[2]["value_kind"] == "tender"
    assert "planlagt oppstartsdato 9. mars 2023" in rows[2]["evidence"]
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
    assert [r["account"] for r in json.loads(out.output)] == ["Politiets fellestjenester"] * 2
    out = runner.invoke(main, ["expiries", "--today", "2024-07-10"])
    assert "framework_default" in out.output and "Elbit Systems of America" in out.output
    assert "probably extended: ask the buyer" in out.output
    out = runner.invoke(main, ["expiries", "--within", "soon"])
    assert out.exit_code == 2 and "--within 'soon'" in out.output
    out = runner.invoke(main, ["incumbency", "--format", "json"])
    assert out.exit_code == 0 and json.loads(out.output)


@pytest.mark.parametrize("day", [D(2023, 5, 1), D(2024, 1, 1), D(2024, 12, 1), D(2026, 1, 1)])
def test_narrowed_gives_what_expiries_gives(engine: Engine, day: dt.date) -> None:
    """The KAM home reads its contracts once (36 months, for the renewal radar) and takes
    its expiries list from them: the same rows as reading the list itself."""
    from tracker.pages.base import plain_rows
    from tracker.pages.expiries import expiries, narrowed
    from tracker.rules import default_rules

    load_real(engine)
    rules = default_rules()
    with Session(engine) as s:
        wider = expiries(s, day, ours=frozenset(), rules=rules, within_months=36, fit=False)
        for months, limit in ((24, None), (24, 2), (12, None), (6, 1), (36, None)):
            direct = expiries(
                s, day, ours=frozenset(), rules=rules, within_months=months, limit=limit
            )
            taken = narrowed(s, wider, day, rules=rules, within_months=months, limit=limit)
            assert plain_rows(taken) == plain_rows(direct), (months, limit)
