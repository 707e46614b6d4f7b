"""The CLI of the windows area: rules show, opportunities, bids, decide, calendar."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from sqlalchemy import Engine

from tests.support.expected import ISSUE_KEYS
from tests.support.worlds import load_world
from tracker.cli import main

COMMANDS = [
    ["rules", "show"], ["opportunities"], ["bids"], ["decide"], ["calendar"], ["recompute"],
]  # fmt: skip


@pytest.fixture
def world(engine: Engine, tracker_env: dict[str, str]) -> Engine:
    load_world(engine)
    return engine


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_is_documented_with_an_example(cmd: list[str]) -> None:
    code, out, _ = run(*cmd, "--help")
    assert code == 0
    example = out[out.index("Example:") :]
    assert f"tracker {' '.join(cmd)}" in example


def test_rules_show_prints_rules_with_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKER_RULES", raising=False)
    code, out, _ = run("rules", "show")
    assert code == 0
    line = next(x for x in out.splitlines() if "durations.standstill_days" in x)
    assert "10" in line and "FOA; foa.no" in line and "default" in line
    path = tmp_path / "r.toml"
    path.write_text("[durations]\nstandstill_days = 15\n", encoding="utf-8")
    code, out, _ = run("rules", "show", "--format", "json", env={"TRACKER_RULES": str(path)})
    rows = {r["key"]: r for r in json.loads(out)}
    assert rows["durations.standstill_days"]["value"] == 15
    assert rows["durations.standstill_days"]["origin"] == f"file {path}"
    assert all(r["source"] for r in rows.values())


def test_rules_show_warns_about_an_override_for_no_account(
    world: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        '[accounts."Nonexistent"]\nbuyer_type = "state"\n'
        '[accounts."NAV".windows]\ninfluence_months_before_expiry = 30\n'
        '[accounts."Forsvaret".windows]\ninfluence_months_before_expiry = 30\n',
        encoding="utf-8",
    )
    code, out, err = run("rules", "show", "--file", str(path))
    assert code == 0 and "account Nonexistent" in out
    lines = [x for x in err.splitlines() if x.startswith("warning:")]
    assert len(lines) == 2
    assert lines[0] == (
        'warning: [accounts."NAV"]: no account has that name (an alias of '
        '"Arbeids- og velferdsetaten": use the account name)'
    )
    assert lines[1].startswith('warning: [accounts."Nonexistent"]: no account has that name (')
    assert lines[1].endswith(" accounts in the database); the override applies to nothing")
    # recompute (the daily cycle) logs the same
    with caplog.at_level("WARNING", logger="tracker.opportunities.build"):
        code, _, _ = run("recompute", "--today", "2023-06-01", env={"TRACKER_RULES": str(path)})
    assert code == 0
    assert 'rules: [accounts."Nonexistent"]: no account has that name; ignored' in caplog.text
    assert "Forsvaret" not in caplog.text
    # no per-account rules: no warning, and no database needed
    code, _, err = run("rules", "show")
    assert code == 0 and "warning" not in err


def test_malformed_rules_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[windows]\ndrafting_months_before_publication = "half a year"\n')
    code, out, err = run("rules", "show", "--file", str(path))
    assert code == 2 and out == ""
    assert "windows.drafting_months_before_publication: expected a number" in err
    assert str(path) in err


def test_opportunities_json_csv_and_table(world: Engine) -> None:
    code, out, _ = run("opportunities", "--today", "2023-06-01", "--format", "json", "--recompute")
    assert code == 0
    rows = json.loads(out)
    assert rows and all(set(r) >= ISSUE_KEYS for r in rows)
    pin = next(r for r in rows if "2023004253" in (r["title"] or ""))
    assert pin["influence_opens"] == "2023-03-14" and pin["days_left"] == 105
    assert pin["budget_window"]["status"] in ("open", "upcoming", "closed", "missed")

    code, out, _ = run("opportunities", "--today", "2023-06-01", "--open-now", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert parsed and all(r["can_influence"] == "yes" for r in parsed)
    assert len(parsed) == sum(1 for r in rows if r["can_influence"])

    code, out, _ = run(
        "opportunities", "--today", "2023-06-01", "--account", "Forsvaret", "--phase", "drafting"
    )
    assert code == 0 and "2023004253 Veiledende kunngjøring - Service på elektronisk" in out
    assert "Trondheim" not in out

    code, _, err = run("opportunities", "--account", "Nobody", "--today", "2023-06-01")
    assert code == 2 and "no account named 'Nobody'" in err
    code, _, err = run("opportunities", "--today", "June")
    assert code == 2 and "is not a date" in err


def test_bids_and_decide(world: Engine) -> None:
    code, out, _ = run("bids", "--today", "2023-03-01", "--format", "json")
    assert not [r for r in json.loads(out) if "Diatermipenner" in r["title"]]  # not IT
    code, out, _ = run("bids", "--today", "2023-03-01", "--format", "json", "--show", "accounts")
    rows = json.loads(out)
    dia = next(r for r in rows if "Diatermipenner" in r["title"])
    assert dia["fit"]["reason"].startswith("out of profile")
    assert {c["name"] for c in dia["score"]["components"]} >= {"tier", "fit", "influence"}
    code, out, err = run(
        "decide", dia["notice_id"], "--no-bid", "--why", "Not our products", "--by", "d@x.no",
        "--today", "2023-03-01",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"recorded no-bid on notice {dia['notice_id']} by d@x.no (score ")
    code, out, _ = run("bids", "--today", "2023-03-01")
    assert "no-bid (d@x.no)" in out  # a decision keeps it on the list (tracked)
    code, _, err = run("decide", dia["notice_id"], "--why", "x")
    assert code == 2 and "--bid or --no-bid" in err
    code, _, err = run("decide", "nope", "--bid", "--why", "x")
    assert code == 2 and "no notice 'nope'" in err


def test_calendar_file(world: Engine, tmp_path: Path) -> None:
    out_file = tmp_path / "forsvaret.ics"
    code, out, _ = run(
        "calendar", "--account", "Forsvaret", "--out", str(out_file), "--today", "2023-06-01",
        "--recompute", "--lang", "en",
    )  # fmt: skip
    assert code == 0 and out.startswith("wrote ")
    cal = Calendar.from_ical(out_file.read_bytes())
    summaries = [str(e["SUMMARY"]) for e in cal.walk("VEVENT")]
    assert any(s.startswith("Influence window opens: 2023004253") for s in summaries)
    assert any(s.startswith("Budget window opens: Forsvaret") for s in summaries)
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert len(uids) == len(set(uids)) == int(out.split()[1])
    # a second export has the same UIDs
    run(
        "calendar", "--account", "Forsvaret", "--out", str(out_file), "--today", "2023-06-02",
        "--recompute", "--lang", "en",
    )  # fmt: skip
    again = Calendar.from_ical(out_file.read_bytes())
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(uids)


def test_reading_commands_never_write(world: Engine) -> None:
    """Only 'tracker recompute' (or --recompute) changes what every page shows."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from tracker.db.models import Opportunity

    def stored() -> list[tuple]:
        with Session(world) as s:
            return list(
                s.execute(
                    select(Opportunity.key, Opportunity.phase, Opportunity.computed_for).order_by(
                        Opportunity.key
                    )
                )
            )

    code, out, _ = run("recompute", "--today", "2023-06-01")
    assert code == 0 and out.startswith("opportunities for 2023-06-01: ")
    before = stored()
    assert before and {r[2].isoformat() for r in before} == {"2023-06-01"}
    for args in (
        ["opportunities", "--today", "2024-06-01"],
        ["bids", "--today", "2024-06-01"],
        ["expiries", "--today", "2024-06-01"],
    ):
        assert run(*args)[0] == 0
    assert stored() == before
    assert run("opportunities", "--today", "2024-06-01", "--recompute")[0] == 0
    assert {r[2].isoformat() for r in stored()} == {"2024-06-01"}


def test_recompute_with_workers_says_what_one_process_says(world: Engine) -> None:
    """`tracker recompute --workers 2` (and TRACKER_WORKERS) builds in two processes and
    stores the same rows: the second run updates every row and adds none."""
    code, one, _ = run("recompute", "--today", "2023-06-01")
    assert code == 0 and " new, 0 updated, 0 removed" in one
    code, two, _ = run("recompute", "--today", "2023-06-01", "--workers", "2")
    assert code == 0
    made = int(one.split(": ")[1].split(" new")[0])
    assert two.startswith(f"opportunities for 2023-06-01: 0 new, {made} updated, 0 removed")
    assert one.split("; ")[1] == two.split("; ")[1]  # the same can be influenced now
    code, by_setting, _ = run("recompute", "--today", "2023-06-01",
                              env={"TRACKER_WORKERS": "2"})  # fmt: skip
    assert code == 0 and by_setting == two
    result = CliRunner().invoke(main, ["recompute", "--today", "2023-06-01"],
                                env={"TRACKER_WORKERS": "0"})  # fmt: skip
    assert result.exit_code == 2 and "TRACKER_WORKERS): 0 is not 1 to 64" in result.output
