"""User documentation stays complete: every setting in the README, every command with an example."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from tracker.cli import main
from tracker.config import SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def _commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path))
    return out


def test_readme_has_every_setting_and_both_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing, f"README.md lacks settings: {missing}"
    assert "make demo" in readme and "make test" in readme


@pytest.mark.parametrize(
    "path,command", _commands(main), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help_with_an_example(
    path: tuple[str, ...], command: click.Command
) -> None:
    doc = command.help or ""
    assert doc.strip(), f"tracker {' '.join(path)} has no help"
    if not isinstance(command, click.Group):
        assert "Example:" in doc, (
            f"tracker {' '.join(path)}: add an 'Example:' line to its docstring"
        )


def test_unmigrated_database_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.delenv("TRACKER_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["accounts", "list"])
    assert result.exit_code == 2
    assert "is not initialised" in result.output and "tracker db upgrade" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "tracker.db").exists()  # a read command creates nothing
