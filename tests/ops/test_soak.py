"""The soak benchmark, short: real cycles against the replay server (slow, opt-in)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("TRACKER_SLOW_TESTS") != "1", reason="TRACKER_SLOW_TESTS=1")
def test_short_soak_keeps_every_invariant() -> None:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "bench" / "soak.py")
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    args = ["--cycles", "4", "--per-day", "2", "--max-seconds", "400"]
    if os.environ.get("TRACKER_TEST_DATABASE_URL"):
        args += ["--db", os.environ["TRACKER_TEST_DATABASE_URL"]]
    assert soak.main(args) == 0
