"""The configuration reference documents every setting; the ops commands have help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracker.cli import main
from tracker.config import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)`[^|]*\| `(\w+)` \|", doc, re.M)
    }
    missing = [f"{s.key} ({s.env})" for s in SETTINGS if rows.get(s.key) != s.env]
    assert not missing, f"add to docs/configuration.md: {', '.join(missing)}"


@pytest.mark.parametrize(
    "command",
    [
        ["run-once"],
        ["schedule"],
        ["doctor"],
        ["backup"],
        ["restore"],
        ["alerts", "send"],
        ["alerts", "list"],
        ["alerts", "subscribe"],
    ],
)
def test_ops_commands_have_help_with_example(command: list[str]) -> None:
    res = CliRunner().invoke(main, [*command, "--help"])
    assert res.exit_code == 0 and re.search(r"Example: (\S+=\S+ )?tracker ", res.output)


def test_systemd_units_run_the_cycle() -> None:
    service = (ROOT / "docs" / "systemd" / "tracker-cycle.service").read_text()
    timer = (ROOT / "docs" / "systemd" / "tracker-cycle.timer").read_text()
    assert "ExecStart=/srv/tracker/.venv/bin/tracker run-once" in service
    assert "Unit=tracker-cycle.service" in timer and "OnCalendar=" in timer
