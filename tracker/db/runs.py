"""Run bookkeeping: the ``runs`` rows of ingests, crawls and the daily cycle, and the runs
left ``running`` by a process that died (``kill -9``, power loss, OOM killer).

:func:`start_run` records a run as ``running`` and :func:`finish_run` closes it with its
counts, outcome and error; the ingest (``tracker.notices.ingest``), the harvest state of
the crawls (``tracker.notices.harvest``) and the daily cycle (``tracker.ops.cycle``) all
use them. Every run started by a process (ingest, crawl) records the process id and host in its
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


def start_run(
    session: Session,
    kind: str,
    name: str,
    args: dict[str, Any],
    *,
    parent_id: int | None = None,
    track_process: bool = True,
) -> int:
    """Record a run as ``running``; returns its id. Flushes; the caller commits.

    ``track_process`` (ingest, crawl): the run's ``args`` also keep this process's id and
    host (:func:`process_args`), and runs left ``running`` by a process of this host that
    is gone are closed first (:func:`close_dead_runs`). Cycle and step runs are closed by
    the scheduler instead (``tracker.ops.cycle.mark_interrupted``).
    """
    if track_process:
        close_dead_runs(session)
        args = {**args, **process_args()}
    run = Run(kind=kind, name=name, args=args, outcome="running", counts={}, parent_id=parent_id)
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    counts: dict[str, Any],
    outcome: str,
    error: str | None = None,
) -> None:
    """Close a run with its counts, outcome (ok|partial|failed) and error; the caller
    commits. A run that does not exist (deleted meanwhile) is left alone."""
    run = session.get(Run, run_id)
    if run is None:
        return
    run.counts = dict(counts)
    run.outcome = outcome
    run.error = error
    run.finished_at = utcnow()
