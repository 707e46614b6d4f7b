"""Ingest runs over files and over the stored XML, each recorded in ``runs``, with a
progress bar on request.

- :func:`iter_xml_files`: the notice files named on the command line (``*.xml`` under
  folders, sorted);
- :func:`ingest_paths`: ``tracker ingest FILE|DIR...``, in one process or with parsing
  workers (``tracker.notices.parallel``);
- :func:`reparse`: ``tracker reparse``, the parser run again over the stored raw XML.

The notices themselves are stored by ``tracker.notices.ingest.Ingestor``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, cast

import click
from sqlalchemy import Engine, func, select

from tracker.db import runs
from tracker.db.bulk import table_of
from tracker.db.engine import session_scope
from tracker.db.models import Notice
from tracker.notices.eforms import PARSER_VERSION
from tracker.notices.ingest import Ingestor, IngestOutcome
from tracker.notices.parallel import prepare_file, prepare_parallel
from tracker.notices.rows import jsonable
from tracker.rules import Rules

N = table_of(Notice)


def iter_xml_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given, and ``*.xml`` under folders (recursively, sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.xml") if p.is_file())
        else:
            yield path


def start_run(engine: Engine, kind: str, name: str, args: dict[str, Any]) -> int:
    """Record the start of a run in ``runs`` (``tracker.db.runs.start_run``, committed);
    returns its id."""
    with session_scope(engine) as session:
        return runs.start_run(session, kind, name, jsonable(args))


def finish_run(
    engine: Engine, run_id: int, counts: dict[str, Any], outcome: str, error: str | None = None
) -> None:
    """Close a run (``tracker.db.runs.finish_run``, committed)."""
    with session_scope(engine) as session:
        runs.finish_run(session, run_id, counts, outcome, error)


def ingest_paths(
    engine: Engine,
    paths: Iterable[str | Path],
    *,
    source: str = "file",
    progress: bool = False,
    batch_size: int = 500,
    workers: int = 1,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """Ingest notice files (folders: every ``*.xml`` below) as one recorded run.

    Returns the counts ({"read", "new", "updated", "unchanged", "failed"}) plus ``run_id``
    and ``failures`` (list of (file, reason)). A file that cannot be read or parsed is
    recorded in ``ingest_errors``; the run goes on.

    ``workers`` > 1: the files are read, parsed, hashed and compressed in that many
    processes (:func:`prepare_parallel`, in file order) and this process stores and
    derives them batch by batch as with one worker: the same rows, the same units of
    work (a kill loses at most the open batch).
    """
    paths = list(paths)
    files = list(iter_xml_files(paths))
    args: dict[str, Any] = {"paths": [str(p) for p in paths]}
    if workers > 1:
        args["workers"] = workers
    run_id = start_run(engine, "ingest", source, args)
    ing = Ingestor(engine, source=source, run_id=run_id, batch_size=batch_size, rules=rules)
    try:
        with ing, progress_bar("ingest", progress, length=len(files)) as bar:
            outcomes = _store_files(ing, files, workers, bar)
            ing.flush()
            derived_late = ing.derive_pending()
    except Exception as exc:
        finish_run(engine, run_id, ing.counts, "failed", f"{type(exc).__name__}: {exc}")
        raise
    counts: dict[str, Any] = ing.counts
    if derived_late:
        counts["derived_pending"] = derived_late
    failures = [(o.location or "", o.reason or "") for o in outcomes if o.status == "failed"]
    outcome_name = "partial" if counts["failed"] or ing.derive_errors else "ok"
    finish_run(engine, run_id, counts, outcome_name, "; ".join(ing.derive_errors) or None)
    return {
        **counts,
        "run_id": run_id,
        "failures": failures,
        "derive_errors": list(ing.derive_errors),
    }


def _store_files(ing: Ingestor, files: list[Path], workers: int, bar: Any) -> list[IngestOutcome]:
    """Hand every file to ``ing`` (parsed here, or by ``workers`` processes), in order."""
    outcomes: list[IngestOutcome] = []
    if workers > 1:
        prepare = functools.partial(prepare_file, dialect=ing.dialect)
        for prepared in prepare_parallel(prepare, [str(p) for p in files], workers):
            outcomes.append(ing.add_prepared(prepared))
            bar.update(1)
        return outcomes
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            outcomes.append(ing.add_failure(str(path), f"cannot read file: {exc}"))
        else:
            outcomes.append(ing.add(data, location=str(path)))
        bar.update(1)
    return outcomes


def reparse(
    engine: Engine,
    *,
    outdated_only: bool = False,
    batch_size: int = 200,
    progress: bool = False,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """Re-run the parser over the stored raw XML and update the rows in place (a recorded run).

    ``outdated_only`` limits it to rows parsed by an older ``PARSER_VERSION``. Returns counts
    {"read", "updated", "failed", ...} and ``run_id``; a notice that no longer parses keeps
    its stored values and is recorded in ``ingest_errors``.
    """
    run_id = start_run(engine, "ingest", "reparse", {"outdated_only": outdated_only})
    where = [N.c.parser_version != PARSER_VERSION] if outdated_only else []
    with session_scope(engine) as session:
        total = session.execute(select(func.count()).select_from(N).where(*where)).scalar() or 0
    ing = Ingestor(engine, source="reparse", run_id=run_id, batch_size=batch_size, rules=rules)
    try:
        with ing, progress_bar("reparse", progress, length=total) as bar:
            for rows in _stored_batches(engine, where, batch_size):
                ing.reparse_rows(rows)
                bar.update(len(rows))
            ing.derive_pending()
    except Exception as exc:
        finish_run(engine, run_id, ing.counts, "failed", f"{type(exc).__name__}: {exc}")
        raise
    counts = ing.counts
    outcome = "partial" if counts["failed"] or ing.derive_errors else "ok"
    finish_run(engine, run_id, counts, outcome, "; ".join(ing.derive_errors) or None)
    return {**counts, "run_id": run_id}


def _stored_batches(engine: Engine, where: list[Any], size: int) -> Iterator[list[Any]]:
    """(id, raw_xml, notice_id) of the stored notices matching ``where``, by id, ``size``
    at a time (each batch read in its own short session)."""
    last = 0
    while True:
        with session_scope(engine) as session:
            rows = session.execute(
                select(N.c.id, N.c.raw_xml, N.c.notice_id)
                .where(N.c.id > last, *where)
                .order_by(N.c.id)
                .limit(size)
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [tuple(r) for r in rows]


def progress_bar(label: str, show: bool, *, length: int) -> Any:
    """A click progress bar on stderr over ``length`` steps; a silent one unless ``show``."""
    sink = sys.stderr if show else cast(TextIO, _NullFile())
    return click.progressbar(length=length, label=label, show_pos=True, file=sink)


class _NullFile:
    """A sink for the progress bar when it is not wanted."""

    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False
