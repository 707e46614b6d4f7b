"""Backup and restore of the tracker database.

SQLite: an online, consistent copy with SQLite's backup API
(``sqlite3.Connection.backup``), safe while the scheduler or dashboard write; restore
checks the file (SQLite header, ``PRAGMA integrity_check``, an ``alembic_version``
table) and copies it back page by page with the same API.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists``, run
when they are on ``PATH`` (the password goes through ``PGPASSWORD``, never the command
line); :func:`pg_commands` gives the commands to run by hand otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import URL, make_url

from tracker.config import Settings
from tracker.db.locks import SCHEDULER_LOCK
from tracker.db.models import Lock
from tracker.errors import BackupError

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    backend: str
    size: int
    command: str | None = None  # the pg_dump command line (password not shown)


def default_backup_path(settings: Settings, backend: str, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    ext = "db" if backend == "sqlite" else "dump"
    return settings.home_path / "backups" / f"tracker-{stamp}.{ext}"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False), env


def pg_commands(url: str | URL, file: Path) -> tuple[str, str]:
    """(pg_dump, pg_restore) command lines for ``url``; set PGPASSWORD for the password."""
    uri, _ = _libpq(make_url(url))
    q = shlex.quote
    return (
        f"pg_dump --format=custom --no-owner --file={q(str(file))} {q(uri)}",
        f"pg_restore --clean --if-exists --no-owner --dbname={q(uri)} {q(str(file))}",
    )


def _private_file(out: Path) -> None:
    """Create ``out`` empty with mode 0600 (missing folders 0700); a clear BackupError if
    it exists or cannot be written."""
    try:
        for parent in reversed([out.parent, *out.parent.parents]):
            if not parent.exists():
                parent.mkdir(mode=0o700)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{out}: exists; choose another --out") from None
    except OSError as exc:
        raise BackupError(f"{out}: cannot write there: {exc.strerror or exc}") from None
    os.close(fd)


def backup(settings: Settings, out: Path | None = None) -> BackupResult:
    """Write a consistent copy of the configured database to ``out`` (default under home,
    in ``backups/``); the file is created 0600 (folders 0700): it holds the whole
    database."""
    url = make_url(settings.db_url)
    backend = url.get_backend_name()
    out = Path(out) if out else default_backup_path(settings, backend)
    if backend == "sqlite":
        src_path = _sqlite_path(url)
        if not src_path.is_file():
            raise BackupError(f"{src_path}: database file does not exist")
        _private_file(out)
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True)
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
            src.close()
        if ok != "ok":
            raise BackupError(f"{out}: integrity check of the copy failed: {ok}")
        return BackupResult(out, backend, out.stat().st_size)
    if backend == "postgresql":
        dump_cmd, _ = pg_commands(url, out)
        if shutil.which("pg_dump") is None:
            raise BackupError(f"pg_dump is not on PATH; run it by hand:\n  {dump_cmd}")
        _private_file(out)  # pg_dump writes into the 0600 file made here
        uri, env = _libpq(url)
        proc = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", uri],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            out.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        return BackupResult(out, backend, out.stat().st_size, dump_cmd)
    raise BackupError(f"backup of {backend} databases is not supported")


def check_sqlite_backup(path: Path) -> None:
    """Raise :class:`BackupError` unless ``path`` is an intact tracker SQLite database."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as fh:
        if fh.read(16) != SQLITE_HEADER:
            raise BackupError(f"{path}: not an SQLite database")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        has_version = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: unreadable: {exc}") from exc
    finally:
        conn.close()
    if ok != "ok":
        raise BackupError(f"{path}: integrity check failed: {ok}")
    if not has_version:
        raise BackupError(f"{path}: not a tracker database (no alembic_version table)")


def _refuse_if_scheduler_runs(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            holder = conn.execute(select(Lock.holder).where(Lock.name == SCHEDULER_LOCK)).scalar()
    except Exception:  # an empty or broken database has no lock table: nothing runs on it
        return
    if holder:
        raise BackupError(f"the scheduler is running ({holder}); stop it before restoring")


def restore(settings: Settings, file: Path | None = None) -> Path:
    """Replace the configured database with the backup ``file``; returns the database path.

    Refuses while a scheduler holds its lock. The current database is overwritten.
    """
    from tracker.db.engine import create_sqlite_file, dispose_engines, get_engine

    if file is None:
        raise BackupError("restore needs a backup file")
    file = Path(file)
    url = make_url(settings.db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        check_sqlite_backup(file)
        target = _sqlite_path(url)
        if target.exists():
            _refuse_if_scheduler_runs(get_engine(settings.db_url))
        dispose_engines()
        create_sqlite_file(target)  # 0600 in a 0700 folder when it did not exist
        src = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return target
    if backend == "postgresql":
        if not file.is_file():
            raise BackupError(f"{file}: no such file")
        _refuse_if_scheduler_runs(get_engine(settings.db_url))
        _, restore_cmd = pg_commands(url, file)
        if shutil.which("pg_restore") is None:
            raise BackupError(f"pg_restore is not on PATH; run it by hand:\n  {restore_cmd}")
        dispose_engines()
        uri, env = _libpq(url)
        proc = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={uri}", str(file)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
        return file
    raise BackupError(f"restore of {backend} databases is not supported")
