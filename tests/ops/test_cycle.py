"""The daily cycle: runs recorded, failing steps retried without stopping the others, one
cycle at a time through the lock (also across processes), interrupted runs closed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import Engine

import tracker.ops.crawl
from tracker.cli import main
from tracker.config import load_settings
from tracker.db.locks import DatabaseLock
from tracker.db.models import Run
from tracker.errors import LockHeldError
from tracker.ops.crawl import CrawlResult
from tracker.ops.cycle import Step, StepFailed, run_cycle, spider_step
from tracker.ops.scheduler import run_once

TODAY = dt.date(2026, 11, 28)


def _settings(tracker_env: dict[str, str]):
    return load_settings({**tracker_env, "TRACKER_STEP_RETRIES": "2"})


def test_failed_step_retried_with_backoff_and_others_still_run(
    engine: Engine, tracker_env: dict[str, str]
) -> None:
    calls: list[str] = []
    flaky_left = [1]

    def ok(ctx):
        calls.append("ok")
        assert ctx.today == TODAY
        return {"stored": 3}

    def flaky(ctx):
        calls.append("flaky")
        if flaky_left[0]:
            flaky_left[0] -= 1
            raise ConnectionError("API answered 503")
        return 7

    def broken(ctx):
        calls.append("broken")
        raise StepFailed(f"spider exited with 1 (password {ctx.settings.smtp_password})")

    sleeps: list[float] = []
    settings = load_settings({**tracker_env, "TRACKER_SMTP_PASSWORD": "s3cret-pw"})
    result = run_cycle(
        engine,
        settings,
        today=TODAY,
        steps=[Step("first", ok), Step("broken", broken), Step("flaky", flaky), Step("last", ok)],
        retries=2,
        backoff=10,
        sleep=sleeps.append,
    )
    assert calls == ["ok", "broken", "broken", "broken", "flaky", "flaky", "ok"]
    assert sleeps == [10, 20, 10]  # exponential backoff per failing step
    assert result.outcome == "partial"
    assert [(s.name, s.outcome, s.attempts) for s in result.steps] == [
        ("first", "ok", 1),
        ("broken", "failed", 3),
        ("flaky", "ok", 2),
        ("last", "ok", 1),
    ]
    with engine.connect() as conn:
        cycle = conn.execute(select(Run).where(Run.kind == "cycle")).one()
        steps = conn.execute(select(Run).where(Run.kind == "step").order_by(Run.id)).all()
    assert cycle.outcome == "partial" and cycle.error == "steps not ok: broken"
    assert cycle.args == {"today": "2026-11-28"} and cycle.finished_at is not None
    assert [s.parent_id for s in steps] == [cycle.id] * 4
    by_name = {s.name: s for s in steps}
    assert by_name["first"].counts == {"stored": 3, "attempts": 1}
    assert by_name["flaky"].counts == {"count": 7, "attempts": 2}
    assert "attempt 1: ConnectionError: API answered 503" in by_name["flaky"].error
    assert by_name["broken"].outcome == "failed"
    assert "s3cret-pw" not in by_name["broken"].error and "***" in by_name["broken"].error


def test_all_steps_failing_is_a_failed_cycle(engine: Engine, tracker_env) -> None:
    def boom(ctx):
        raise RuntimeError("down")

    result = run_cycle(
        engine,
        _settings(tracker_env),
        today=TODAY,
        steps=[Step("a", boom), Step("b", boom)],
        retries=0,
        sleep=lambda s: None,
    )
    assert result.outcome == "failed" and not result.ok


def test_spider_step_reports_exit_code_and_crawl_counts(
    engine: Engine, tracker_env, monkeypatch
) -> None:
    with engine.begin() as conn:
        crawl_id = conn.execute(
            Run.__table__.insert().values(
                kind="crawl",
                name="doffin",
                outcome="ok",
                counts={"new": 12, "failed": 1},
                started_at=dt.datetime.now(dt.UTC),
                args={},
            )
        ).inserted_primary_key[0]
    results = iter([CrawlResult(1, crawl_id), CrawlResult(0, crawl_id)])
    monkeypatch.setattr(tracker.ops.crawl, "run_crawl", lambda name, args: next(results))
    result = run_cycle(
        engine,
        _settings(tracker_env),
        today=TODAY,
        steps=[Step("doffin", spider_step("doffin"))],
        retries=1,
        sleep=lambda s: None,
    )
    step = result.steps[0]
    assert step.outcome == "ok" and step.attempts == 2
    assert step.counts == {
        "exit_code": 0,
        "crawl_run_id": crawl_id,
        "new": 12,
        "failed": 1,
        "attempts": 2,
    }
    with engine.connect() as conn:
        err = conn.execute(select(Run.error).where(Run.kind == "step")).scalar_one()
    assert "scrapy crawl doffin exited with 1" in err


def test_run_once_refused_while_another_cycle_holds_the_lock(engine: Engine, tracker_env) -> None:
    settings = _settings(tracker_env)
    other = DatabaseLock(engine, "scheduler", holder="other-host:42")
    other.acquire()
    ran = []
    with pytest.raises(LockHeldError, match="other-host:42"):
        run_once(settings, engine, today=TODAY, steps=[Step("x", lambda c: ran.append(1))])
    assert ran == []
    runner = CliRunner()
    res = runner.invoke(main, ["run-once"], env=tracker_env)
    assert res.exit_code == 3
    assert "not started: another scheduler holds lock 'scheduler': other-host:42" in res.output
    other.release()
    result = run_once(settings, engine, today=TODAY, steps=[Step("x", lambda c: ran.append(1))])
    assert result.ok and ran == [1]
    with engine.connect() as conn:  # the lock is released afterwards
        assert conn.execute(select(Run.outcome).where(Run.kind == "cycle")).scalar_one() == "ok"
    run_once(settings, engine, today=TODAY, steps=[Step("x", lambda c: ran.append(1))])
    assert ran == [1, 1]


def test_killed_cycle_is_closed_and_its_stale_lock_recovered(engine: Engine, tracker_env) -> None:
    """A real `tracker run-once` process SIGKILLed mid-step; the next one takes over."""
    env = {
        **os.environ,
        **tracker_env,
        "TRACKER_LOCK_STALE_SECONDS": "2",
        "TRACKER_HEARTBEAT_SECONDS": "1",
    }
    code = (
        "import sys, time; from tracker.ops.cycle import Step;"
        " from tracker.ops.scheduler import run_once; from tracker.config import load_settings;"
        "run_once(load_settings(),"
        " steps=[Step('slow', lambda c: (print('started', flush=True), time.sleep(60)))])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        settings = load_settings(env)
        with pytest.raises(LockHeldError):
            run_once(settings, engine, steps=[])
    finally:
        proc.kill()
        proc.wait()
    # No heartbeat any more: after the stale limit the lock is taken over.
    import time

    deadline = time.monotonic() + 15
    while True:
        try:
            result = run_once(settings, engine, steps=[Step("after", lambda c: 1)])
            break
        except LockHeldError:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert result.ok and result.interrupted_runs == 2
    with engine.connect() as conn:
        slow = conn.execute(select(Run).where(Run.name == "slow")).one()
    assert slow.outcome == "failed" and "interrupted" in slow.error


def test_scheduler_runs_cycle_and_a_second_scheduler_refuses(engine: Engine, tracker_env) -> None:
    import threading

    from tracker.ops.cycle import CycleResult
    from tracker.ops.scheduler import serve

    settings = load_settings({**tracker_env, "TRACKER_SCHEDULE_TIME": "03:15"})
    stop = threading.Event()
    done: list[CycleResult] = []
    errors: list[BaseException] = []

    def on_cycle(result: CycleResult) -> None:
        done.append(result)

    def target() -> None:
        try:
            serve(
                settings,
                engine,
                steps=[Step("x", lambda c: 1)],
                stop=stop,
                poll_seconds=0.05,
                run_now=True,
                on_cycle=on_cycle,
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done and done[0].ok
        with pytest.raises(LockHeldError, match="another scheduler holds lock"):
            serve(settings, engine, steps=[], stop=threading.Event())
    finally:
        stop.set()
        t.join(10)
    assert not errors and not t.is_alive()
    # Stopped cleanly: the lock is free again.
    DatabaseLock(engine, "scheduler", holder="next").acquire()


def test_scheduler_in_the_main_thread_gives_back_the_signal_handlers(
    engine: Engine, tracker_env
) -> None:
    import signal
    import threading

    from tracker.ops.scheduler import serve

    def mine(signum, frame):  # the embedding program's own handler
        pass

    before = signal.signal(signal.SIGTERM, mine)
    # SIGINT as this process has it: Python's default_int_handler, or SIG_IGN when the
    # tests run in a background job (a shell ignores SIGINT for those)
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        stop = threading.Event()
        serve(
            load_settings({**tracker_env, "TRACKER_SCHEDULE_TIME": "03:15"}),
            engine,
            steps=[Step("x", lambda c: 1)],
            stop=stop,
            poll_seconds=0.01,
            run_now=True,
            on_cycle=lambda result: stop.set(),
        )
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is interrupt
    finally:
        signal.signal(signal.SIGTERM, before)


def test_bad_schedule_time_is_a_clear_error(engine: Engine, tracker_env) -> None:
    import threading

    from tracker.errors import ConfigError
    from tracker.ops.scheduler import serve

    settings = load_settings({**tracker_env, "TRACKER_SCHEDULE_TIME": "25:99"})
    with pytest.raises(ConfigError, match="schedule_time='25:99'"):
        serve(settings, engine, steps=[], stop=threading.Event())


def test_stop_request_skips_the_remaining_steps(engine: Engine, tracker_env) -> None:
    stop = []

    def first(ctx):
        stop.append(True)  # e.g. SIGTERM arrives during the first step
        return 1

    result = run_cycle(
        engine,
        _settings(tracker_env),
        today=TODAY,
        steps=[Step("a", first), Step("b", lambda c: 2)],
        should_stop=lambda: bool(stop),
    )
    assert [(s.name, s.outcome) for s in result.steps] == [("a", "ok"), ("b", "skipped")]
    assert result.outcome == "partial"


def test_schedule_command_holds_the_lock_until_sigterm(engine: Engine, tracker_env) -> None:
    import signal
    import time

    from tracker.db.locks import lock_info

    env = {**os.environ, **tracker_env, "TRACKER_SCHEDULE_TIME": "03:00"}
    tracker = os.path.join(os.path.dirname(sys.executable), "tracker")
    proc = subprocess.Popen([tracker, "schedule"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("scheduler: daily cycle at 03:00")
        deadline = time.monotonic() + 20
        while lock_info(engine, "scheduler") is None:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        second = subprocess.run(
            [tracker, "schedule"], env=env, capture_output=True, text=True, timeout=60
        )
        assert (
            second.returncode == 3 and "not started: another scheduler holds lock" in second.stderr
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert lock_info(engine, "scheduler") is None
