"""Runs left ``running`` by a process that died (``kill -9``, power loss, OOM killer).

Every run started by a process (ingest, crawl) records the process id and host in its
``args`` (``_pid``, ``_host``; :func:`process_args`). Before a new run starts,
:func:`close_dead_runs` closes the runs of this host whose process is gone as
``failed`` with the error ``interrupted: ...``, so a killed run does not stay
``running`` forever. ``tracker doctor`` reports them (:func:`dead_runs`) without
changing anything. Cycle and step runs are closed by the scheduler under its lock
(``tracker.ops.cycle.mark_interrupted``).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.db.models import Run, utcnow

INTERRUPTED = "interrupted: the process ended without closing the run"


def process_args() -> dict[str, Any]:
    """``{"_pid", "_host"}`` of this process, kept in a run's ``args``."""
    return {"_pid": os.getpid(), "_host": socket.gethostname()}


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_runs(session: Session) -> list[Run]:
    """Runs still ``running`` whose process (on this host) no longer exists."""
    host = socket.gethostname()
    out = []
    for run in session.scalars(select(Run).where(Run.outcome == "running").order_by(Run.id)):
        args = run.args or {}
        pid = args.get("_pid")
        if args.get("_host") == host and isinstance(pid, int) and not pid_alive(pid):
            out.append(run)
    return out


def close_dead_runs(session: Session) -> int:
    """Close :func:`dead_runs` as failed ("interrupted"); returns how many. Flushes."""
    runs = dead_runs(session)
    for run in runs:
        run.outcome = "failed"
        run.error = INTERRUPTED
        run.finished_at = utcnow()
    session.flush()
    return len(runs)
