"""The scheduler lock on SQLite and PostgreSQL: contention, heartbeat, stale recovery."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from tracker.db.locks import DatabaseLock, lock_info
from tracker.db.models import Lock, utcnow
from tracker.errors import LockHeldError, LockLostError


def test_second_holder_refused_then_free_after_release(engine: Engine) -> None:
    first = DatabaseLock(engine, "scheduler", holder="host-a:1")
    second = DatabaseLock(engine, "scheduler", holder="host-b:2")
    first.acquire()
    with pytest.raises(LockHeldError, match=r"another scheduler holds lock 'scheduler': host-a:1"):
        second.acquire()
    assert lock_info(engine, "scheduler").holder == "host-a:1"
    first.release()
    assert lock_info(engine, "scheduler") is None
    second.acquire()
    assert lock_info(engine, "scheduler").holder == "host-b:2"
    # Releasing a lock we do not hold leaves the other holder's row alone.
    first.release()
    assert lock_info(engine, "scheduler").holder == "host-b:2"


def test_different_names_do_not_conflict(engine: Engine) -> None:
    DatabaseLock(engine, "a", holder="x").acquire()
    DatabaseLock(engine, "b", holder="y").acquire()
    assert lock_info(engine, "a").holder == "x" and lock_info(engine, "b").holder == "y"


def test_stale_lock_is_recovered_fresh_one_is_not(engine: Engine) -> None:
    crashed = DatabaseLock(engine, "scheduler", holder="crashed:9")
    crashed.acquire()
    stale = dt.timedelta(minutes=15)
    # Heartbeat 10 minutes ago: still alive, refused.
    with engine.begin() as conn:
        conn.execute(update(Lock).values(heartbeat_at=utcnow() - dt.timedelta(minutes=10)))
    with pytest.raises(LockHeldError, match="last heartbeat 6"):
        DatabaseLock(engine, "scheduler", holder="new:1", stale_after=stale).acquire()
    # Heartbeat 20 minutes ago: the holder crashed, the lock is taken over.
    with engine.begin() as conn:
        conn.execute(update(Lock).values(heartbeat_at=utcnow() - dt.timedelta(minutes=20)))
    newcomer = DatabaseLock(engine, "scheduler", holder="new:1", stale_after=stale)
    newcomer.acquire()
    assert lock_info(engine, "scheduler").holder == "new:1"
    # The crashed process, if it comes back, learns it lost the lock.
    with pytest.raises(LockLostError):
        crashed.heartbeat()
    assert crashed.lost.is_set()
    newcomer.heartbeat()


def test_concurrent_recovery_of_a_stale_lock_has_one_winner(engine: Engine) -> None:
    DatabaseLock(engine, "scheduler", holder="dead").acquire()
    with engine.begin() as conn:
        conn.execute(update(Lock).values(heartbeat_at=utcnow() - dt.timedelta(hours=2)))
    contenders = [
        DatabaseLock(engine, "scheduler", holder=f"c{i}", stale_after=dt.timedelta(minutes=1))
        for i in range(4)
    ]
    results: list[str] = []
    barrier = threading.Barrier(len(contenders))

    def go(lock: DatabaseLock) -> None:
        barrier.wait()
        try:
            lock.acquire()
            results.append("won")
        except LockHeldError:
            results.append("refused")

    threads = [threading.Thread(target=go, args=(c,)) for c in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused"] * 3 + ["won"]
    winner = [c for c in contenders if c.acquired]
    assert len(winner) == 1 and lock_info(engine, "scheduler").holder == winner[0].holder


def test_heartbeat_thread_keeps_lock_fresh(engine: Engine) -> None:
    lock = DatabaseLock(engine, "scheduler", holder="beating")
    with lock.held(heartbeat_every=0.05):
        with engine.begin() as conn:
            conn.execute(update(Lock).values(heartbeat_at=utcnow() - dt.timedelta(hours=1)))
        deadline = utcnow() + dt.timedelta(seconds=5)
        while utcnow() < deadline:
            with engine.connect() as conn:
                hb = conn.execute(select(Lock.heartbeat_at)).scalar_one()
            if utcnow() - hb < dt.timedelta(minutes=1):
                break
        assert utcnow() - hb < dt.timedelta(minutes=1)
    assert lock_info(engine, "scheduler") is None
