"""The golden test: contracts, results without award and competitions derived from the real
Doffin notices against the hand-checked golden file (tests/fixtures/golden/README.md).

Prints ``contracts right: N/M`` (and per confidence), ``not awarded right``,
``competitions right``. Targets: every high- and medium-confidence contract right
(winners, framework, direct award, value and its kind, base and latest end within a
month) and at least 90 % of the low-confidence ones. Other notices and golden files:
``TRACKER_GOLDEN_FILE`` and ``TRACKER_GOLDEN_NOTICES`` (a directory of the notices the
file describes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, REAL
from tests.golden_check import (
    by_confidence,
    check_competitions,
    check_contracts,
    check_not_awarded,
    load_golden,
    summary,
)
from tracker.notices.files import ingest_paths

GOLDEN = Path(
    os.environ.get("TRACKER_GOLDEN_FILE") or FIXTURES / "golden" / "doffin-real-golden.json"
)
NOTICES = Path(os.environ.get("TRACKER_GOLDEN_NOTICES") or REAL)


def _report(rows: list[dict], label: str) -> None:
    print(summary(rows, label))
    for r in rows:
        if r["problems"]:
            e = r["entry"]
            who = ", ".join(e.get("supplier_names") or []) or e.get("title")
            conf = r.get("confidence", "")
            print(f"  WRONG {e['doffin_id']} {e.get('lot_id', '')} {who} [{conf}]: "
                  + "; ".join(r["problems"]))  # fmt: skip


@pytest.fixture
def derived(engine: Engine) -> Engine:
    golden = load_golden(GOLDEN)
    files = sorted({NOTICES / e["file"] for key in ("contracts", "not_awarded", "competitions")
                    for e in golden.get(key, [])})  # fmt: skip
    missing = [f for f in files if not f.exists()]
    assert not missing, f"golden file names notices that are not in {NOTICES}: {missing[:3]}"
    result = ingest_paths(engine, sorted(NOTICES.glob("*.xml")))
    assert result["failed"] == 0, result["failures"]
    return engine


def _checked(engine: Engine, check: Any, label: str, capsys: pytest.CaptureFixture[str]) -> list:
    with Session(engine) as s:
        rows = check(s, load_golden(GOLDEN))
    with capsys.disabled():
        _report(rows, label)
    return rows


def test_golden_contracts(derived: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _checked(derived, check_contracts, "contracts", capsys)
    groups = by_confidence(rows)
    with capsys.disabled():
        print("  by confidence: " + ", ".join(f"{k} {r}/{n}" for k, (r, n) in groups.items()))
    for conf in ("high", "medium"):
        right, total = groups[conf]
        assert right == total, f"{conf}-confidence contracts right: {right}/{total}"
    right, total = groups["low"]
    assert right >= 0.9 * total, f"low-confidence contracts right: {right}/{total}"


def test_golden_not_awarded(derived: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _checked(derived, check_not_awarded, "not awarded", capsys)
    assert all(not r["problems"] for r in rows)


def test_golden_competitions(derived: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _checked(derived, check_competitions, "competitions", capsys)
    assert all(not r["problems"] for r in rows), summary(rows, "competitions")
