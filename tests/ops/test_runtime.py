"""The garbage collector's threshold in the tracker's processes (tracker.ops.runtime)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from tracker.ops.runtime import YOUNG_THRESHOLD, tune_gc


@pytest.fixture
def threshold():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def _defaults() -> tuple[int, ...]:
    """A fresh interpreter's thresholds (they differ between CPython versions)."""
    out = subprocess.run(
        [sys.executable, "-c", "import gc; print(*gc.get_threshold())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return tuple(int(x) for x in out.stdout.split())


def test_the_young_generation_is_collected_less_often(threshold) -> None:
    young, *older = _defaults()
    assert young < YOUNG_THRESHOLD
    gc.set_threshold(young, *older)
    tune_gc()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *older)
    gc.set_threshold(50_000, 5, 5)  # an embedding program's own: kept
    tune_gc()
    assert gc.get_threshold() == (50_000, 5, 5)
    gc.set_threshold(0)  # collection switched off: left off
    tune_gc()
    assert gc.get_threshold()[0] == 0


def test_the_web_app_and_the_command_line_tune_it(tmp_path) -> None:
    env = {**os.environ, "TRACKER_HOME": str(tmp_path),
           "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}"}  # fmt: skip
    app = (
        "import gc; from dashboards.app import create_app; create_app(); print(gc.get_threshold())"
    )
    cli = (
        "import gc; from click.testing import CliRunner; from tracker.cli import main;"
        " print(CliRunner().invoke(main, ['config']).output); print(gc.get_threshold())"
    )
    for code in (app, cli):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        last = out.stdout.strip().splitlines()[-1]
        wanted = (YOUNG_THRESHOLD, *_defaults()[1:])
        assert last == str(wanted), out.stdout[-2000:] + out.stderr[-2000:]


def test_a_bulk_job_runs_with_the_collector_paused_and_restores_it() -> None:
    from tracker.ops.runtime import collection_paused

    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("a failing job")
    assert gc.isenabled()  # switched back on after a failure too
    gc.disable()  # a program that runs without it: left off
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_recompute_pauses_the_collector(monkeypatch, engine) -> None:
    import datetime as dt

    from sqlalchemy.orm import Session

    from tracker.opportunities import build
    from tracker.rules import load_rules

    seen: list[bool] = []
    real = build.build_drafts

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(build, "build_drafts", spy)
    with Session(engine) as s:
        build.recompute(s, dt.date(2026, 1, 5), rules=load_rules())
    assert seen == [False] and gc.isenabled()


def _alive_naming(marker: str) -> list[int]:
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl: Linux")
def test_executor_workers_end_with_a_killed_parent(tmp_path) -> None:
    """``kill -9`` of a process running a recompute's workers leaves none behind (they
    would wait for ever to hand back their results)."""
    import time

    marker = f"executor-parent-{os.getpid()}"
    code = (
        "import os, signal, sys, time\n"
        "from tracker.ops.runtime import process_executor\n"
        "pool = process_executor(2)\n"
        "futures = [pool.submit(time.sleep, 30) for _ in range(4)]\n"
        "time.sleep(1)\n"
        "print(*[p.pid for p in pool._processes.values()], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, marker], capture_output=True, text=True,
                         timeout=60, cwd=os.getcwd())  # fmt: skip
    assert out.returncode == -9, out.stderr
    workers = [int(pid) for pid in out.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while _alive_naming(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_naming(marker) == [], "workers outlived their parent"
