"""Unattended operation: ``tracker schedule`` (a long-running daily scheduler) and
``tracker run-once`` (one cycle, for cron or a systemd timer).

Both take the ``scheduler`` database lock first, so only one cycle runs at a time
across machines sharing the database; a second instance stops at once with a message
naming the holder. The lock is heartbeated while held; a lock whose holder died is
taken over after ``lock_stale_seconds``.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import schedule
from sqlalchemy import Engine

from tracker.config import Settings
from tracker.db.engine import get_engine
from tracker.db.locks import SCHEDULER_LOCK, DatabaseLock
from tracker.errors import ConfigError, LockLostError
from tracker.ops.cycle import CycleResult, Step, run_cycle

log = logging.getLogger(__name__)


def scheduler_lock(engine: Engine, settings: Settings) -> DatabaseLock:
    return DatabaseLock(
        engine,
        SCHEDULER_LOCK,
        stale_after=dt.timedelta(seconds=int(settings.lock_stale_seconds)),
    )


def run_once(
    settings: Settings,
    engine: Engine | None = None,
    *,
    today: dt.date | None = None,
    steps: Sequence[Step] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CycleResult:
    """Take the lock, run one cycle, release. Raises ``LockHeldError`` if a cycle runs."""
    engine = engine or get_engine(settings=settings)
    lock = scheduler_lock(engine, settings)
    with lock.held(heartbeat_every=float(settings.heartbeat_seconds)):
        return run_cycle(
            engine, settings, today=today, steps=steps, sleep=sleep, should_stop=lock.lost.is_set
        )


def serve(
    settings: Settings,
    engine: Engine | None = None,
    *,
    steps: Sequence[Step] | None = None,
    stop: threading.Event | None = None,
    poll_seconds: float = 30.0,
    run_now: bool = False,
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> None:
    """Hold the lock and run the cycle every day at ``schedule_time`` until stopped.

    Stops on SIGTERM/SIGINT (when run in the main thread) or when ``stop`` is set;
    raises ``LockHeldError`` at start if another scheduler runs and ``LockLostError``
    if the lock is taken away (the database was unreachable longer than the stale limit).
    """
    engine = engine or get_engine(settings=settings)
    at = str(settings.schedule_time)
    stop = stop or threading.Event()
    lock = scheduler_lock(engine, settings)
    lock.acquire()
    # The handlers before ours, put back when the scheduler stops (None: one installed
    # outside Python, which cannot be put back from here).
    previous: dict[signal.Signals, Any] = {}
    try:
        lock.start_heartbeat(float(settings.heartbeat_seconds))
        if threading.current_thread() is threading.main_thread():

            def _on_signal(signum: int, _frame: FrameType | None) -> None:
                log.warning("signal %d: stopping after the current step", signum)
                stop.set()

            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, _on_signal)

        def job() -> None:
            result = run_cycle(
                engine,
                settings,
                steps=steps,
                should_stop=lambda: lock.lost.is_set() or stop.is_set(),
            )
            log.warning("cycle %s finished: %s", result.run_id, result.outcome)
            if on_cycle:
                on_cycle(result)

        sched = schedule.Scheduler()
        try:
            sched.every().day.at(at).do(job)
        except schedule.ScheduleValueError as exc:
            raise ConfigError(f"schedule_time={at!r}: {exc}") from exc
        log.warning("scheduler %s: daily cycle at %s, next %s", lock.holder, at, sched.next_run)
        if run_now:
            job()
        while not stop.is_set():
            if lock.lost.is_set():
                raise LockLostError("scheduler lock lost; another scheduler may have taken over")
            sched.run_pending()
            idle = sched.idle_seconds
            stop.wait(min(poll_seconds, max(idle if idle is not None else poll_seconds, 0.1)))
    finally:
        try:
            for sig, handler in previous.items():
                if handler is not None:
                    signal.signal(sig, handler)
        finally:
            lock.release()
