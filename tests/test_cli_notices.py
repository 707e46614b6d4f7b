"""The notice commands: tracker parse, tracker ingest, tracker reparse."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.support.expected import KEYS
from tracker.cli import main

NOTICES = Path(__file__).resolve().parent / "fixtures" / "notices"
REAL = NOTICES / "doffin-real"


def test_parse_json_prints_one_object_per_notice() -> None:
    result = CliRunner().invoke(main, ["parse", "--json", str(REAL)])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) == 57
    assert all(set(o) == KEYS for o in objects)
    ks = next(o for o in objects if o["notice_id"] == "2023-335407")
    assert ks["buyers"] == [
        {"name": "KS (Kommunesektorens organisasjon)", "orgnr": "971032146",
         "orgnr_raw": "971 032 146", "country": "NOR"}
    ]  # fmt: skip
    assert ks["results"][0]["winners"] == [{"name": "Kons AS", "orgnr": None}]
    assert ks["lots"][0]["award_criteria"][0] == {
        "type": "quality",
        "name": "Kvalitet",
        "weight": 80,
    }
    assert ks["issue_date"] == "2023-09-28"


def test_parse_reports_failures_on_stderr_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_bytes(b"<ContractNotice")
    good = REAL / "2024-110489.xml"
    result = CliRunner().invoke(main, ["parse", "--json", str(bad), str(good)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert json.loads(result.stdout)["notice_id"] == "8791620e-39a1-435d-985a-bee33825e3f4"
    assert f"failed: {bad}: not well-formed XML" in result.stderr


def test_parse_summary_is_readable() -> None:
    path = REAL / "ContractNotice_cn-social_2023-629257.xml"
    result = CliRunner().invoke(main, ["parse", str(path)])
    assert result.exit_code == 0
    assert "NAV Tiltak Rogaland (974640782)" in result.stdout
    assert "lot LOT-0002: deadline 2023-09-14T12:00:00+02:00  framework fa-wo-rc" in result.stdout
    assert "warning: orgnr '974640782' fails the mod-11 check" in result.stdout


def test_ingest_twice_then_reparse(tracker_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.xml"
    bad.write_text("not xml")
    first = runner.invoke(main, ["ingest", str(REAL), str(bad)])
    assert first.exit_code == 1, first.output  # one file failed; the other 57 are stored
    assert first.stdout.strip() == "read 58, new 57, updated 0, unchanged 0, failed 1"
    assert f"failed: {bad}: not well-formed XML" in first.stderr
    second = runner.invoke(main, ["ingest", str(REAL)])
    assert second.exit_code == 0
    assert second.stdout.strip() == "read 57, new 0, updated 0, unchanged 57, failed 0"
    third = runner.invoke(main, ["reparse", "--outdated"])
    assert third.stdout.strip() == "read 0, updated 0, failed 0"
    fourth = runner.invoke(main, ["reparse"])
    assert fourth.stdout.strip() == "read 57, updated 57, failed 0"


def test_commands_are_documented() -> None:
    for name in ("parse", "ingest", "reparse"):
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Example: tracker" in result.stdout
