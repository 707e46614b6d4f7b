"""A named lock in the ``locks`` table, so that only one scheduler runs at a time.

Works the same on SQLite and PostgreSQL because it relies only on the primary key:
acquiring is an INSERT that fails when the row exists. The holder refreshes
``heartbeat_at``; a row whose heartbeat is older than ``stale_after`` belongs to a
crashed process and is taken over with a compare-and-delete (``DELETE ... WHERE
holder = <old> AND heartbeat_at = <old>``), so two processes recovering the same stale
lock cannot both win.

Example::

    lock = DatabaseLock(engine, "scheduler", stale_after=dt.timedelta(minutes=15))
    with lock.held(heartbeat_every=60):
        run_cycle(engine, settings)
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tracker.db.models import Lock, utcnow
from tracker.errors import LockHeldError, LockLostError

log = logging.getLogger(__name__)

SCHEDULER_LOCK = "scheduler"


def default_holder() -> str:
    """``host:pid:random`` — unique per process and readable in error messages."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LockInfo:
    name: str
    holder: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime


def lock_info(engine: Engine, name: str) -> LockInfo | None:
    """The current holder of lock ``name``, or None when it is free."""
    with engine.connect() as conn:
        row = conn.execute(select(Lock).where(Lock.name == name)).first()
    if row is None:
        return None
    return LockInfo(row.name, row.holder, row.acquired_at, row.heartbeat_at)


class DatabaseLock:
    """A named lock row; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        name: str = SCHEDULER_LOCK,
        *,
        holder: str | None = None,
        stale_after: dt.timedelta = dt.timedelta(minutes=15),
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder or default_holder()
        self.stale_after = stale_after
        self.clock = clock
        self.acquired = False
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ acquire / release

    def _try_insert(self, now: dt.datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(Lock).values(
                        name=self.name, holder=self.holder, acquired_at=now, heartbeat_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeldError` naming the holder.

        A lock whose heartbeat is older than ``stale_after`` is recovered (logged).
        """
        now = self.clock()
        if self._try_insert(now):
            self.acquired = True
            self.lost.clear()
            return
        info = lock_info(self.engine, self.name)
        if info is None:  # released between our insert and our read: try once more
            if self._try_insert(now):
                self.acquired = True
                self.lost.clear()
                return
            info = lock_info(self.engine, self.name)
        if info is not None and now - info.heartbeat_at > self.stale_after:
            with self.engine.begin() as conn:
                gone = conn.execute(
                    delete(Lock).where(
                        Lock.name == self.name,
                        Lock.holder == info.holder,
                        Lock.heartbeat_at == info.heartbeat_at,
                    )
                ).rowcount
            if gone:
                log.warning(
                    "recovered stale lock %r from %s (last heartbeat %s)",
                    self.name,
                    info.holder,
                    info.heartbeat_at.isoformat(timespec="seconds"),
                )
            if self._try_insert(now):
                self.acquired = True
                self.lost.clear()
                return
            info = lock_info(self.engine, self.name) or info
        if info is None:
            raise LockHeldError(f"lock {self.name!r} is contended; try again")
        age = int((now - info.heartbeat_at).total_seconds())
        raise LockHeldError(
            f"another scheduler holds lock {self.name!r}: {info.holder}, "
            f"since {info.acquired_at.isoformat(timespec='seconds')}, "
            f"last heartbeat {age} s ago (taken over after "
            f"{int(self.stale_after.total_seconds())} s without heartbeat)"
        )

    def heartbeat(self) -> None:
        """Refresh our heartbeat; raise :class:`LockLostError` if the lock is no longer ours."""
        with self.engine.begin() as conn:
            n = conn.execute(
                update(Lock)
                .where(Lock.name == self.name, Lock.holder == self.holder)
                .values(heartbeat_at=self.clock())
            ).rowcount
        if n != 1:
            self.lost.set()
            self.acquired = False
            raise LockLostError(f"lock {self.name!r} is no longer held by {self.holder}")

    def release(self) -> None:
        """Stop the heartbeat thread and delete our lock row (never someone else's)."""
        self.stop_heartbeat()
        with self.engine.begin() as conn:
            conn.execute(delete(Lock).where(Lock.name == self.name, Lock.holder == self.holder))
        self.acquired = False

    # ------------------------------------------------------------------ heartbeat thread

    def start_heartbeat(self, every: float) -> None:
        """Refresh the heartbeat every ``every`` seconds in a daemon thread."""
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(every):
                try:
                    self.heartbeat()
                except LockLostError as exc:
                    log.error("%s", exc)
                    return
                except Exception as exc:  # database briefly unreachable: try again next beat
                    log.warning("lock heartbeat failed: %s", type(exc).__name__)

        self._thread = threading.Thread(target=beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None

    @contextmanager
    def held(self, heartbeat_every: float | None = None) -> Iterator[DatabaseLock]:
        """Acquire, optionally heartbeat in the background, and always release."""
        self.acquire()
        try:
            if heartbeat_every:
                self.start_heartbeat(heartbeat_every)
            yield self
        finally:
            self.release()
