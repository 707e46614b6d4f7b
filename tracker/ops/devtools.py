"""Developer tools (not for users): regenerate the initial migration before the first release."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from tracker.db.migrate import ROOT, alembic_config


def regen_initial_migration() -> Path:
    versions = ROOT / "alembic" / "versions"
    for old in versions.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/empty.db"
        cfg = alembic_config(url)
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    (new,) = versions.glob("*.py")
    return new


if __name__ == "__main__":
    if sys.argv[1:] == ["regen-initial-migration"]:
        print(regen_initial_migration())
    else:
        sys.exit("usage: python -m tracker.ops.devtools regen-initial-migration")
