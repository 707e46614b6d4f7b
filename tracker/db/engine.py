"""Engine and session handling for SQLite and PostgreSQL.

An engine never creates a missing SQLite file or its folders: connecting to one raises
``DatabaseUnavailableError`` ("run 'tracker db upgrade'"), so a read command or a typo
in the URL does not leave an empty database behind. ``tracker db upgrade`` (through
``tracker.db.migrate.upgrade``) creates it with :func:`create_sqlite_file`: mode 0600 in a
folder created 0700; SQLite gives its WAL and shared-memory files the same mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from tracker.config import Settings, load_settings
from tracker.db import validation  # noqa: F401 - checks every ORM write (lengths, NUL)
from tracker.errors import DatabaseUnavailableError

_ENGINES: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def parse_url(url: str | URL) -> URL:
    """The URL, or ``DatabaseUnavailableError`` naming the problem (password not shown)."""
    if isinstance(url, URL):
        return url
    try:
        return make_url(url)
    except ArgumentError as exc:
        shown = url.rsplit("@", 1)[-1][-80:]  # never the password
        raise DatabaseUnavailableError(
            f"database_url {shown!r} is not a database URL (expected e.g. "
            "sqlite:////srv/tracker/tracker.db or postgresql+psycopg://user@host/db)"
        ) from exc


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite URL (None: in-memory or another backend)."""
    u = parse_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):
        return None
    return Path(u.database)


def create_sqlite_file(path: Path) -> None:
    """Create an empty database file 0600 (its missing folders 0700) if it does not exist."""
    for parent in reversed(path.parent.parents):
        if not parent.exists():
            parent.mkdir(mode=0o700, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    Connecting to a missing SQLite file raises ``DatabaseUnavailableError`` (the file
    is not created); a malformed URL raises it at once.
    """
    u = parse_url(url)
    try:
        if u.get_backend_name() == "sqlite":
            engine = create_engine(u, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            path = sqlite_file(u)
            if path is not None:

                @event.listens_for(engine, "do_connect")
                def _refuse_missing(dialect: Any, rec: Any, cargs: Any, cparams: Any) -> None:
                    if not path.is_file():
                        raise DatabaseUnavailableError(
                            f"the database {path} is not initialised (no such file); "
                            "run 'tracker db upgrade' first"
                        )

            return engine
        # No JIT compilation of plans: the pages' queries are short, and PostgreSQL's cost
        # estimate sometimes JIT-compiles one for more than it then runs (45 ms measured on
        # the director's win/loss at 100,000 contracts, bench/market.py).
        return create_engine(
            u,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args={"options": "-c jit=off"},
        )
    except (ArgumentError, ImportError) as exc:
        raise DatabaseUnavailableError(
            f"database_url: cannot use {u.render_as_string(hide_password=True)}: {exc}"
        ) from exc


def get_engine(url: str | None = None, settings: Settings | None = None) -> Engine:
    """Return a cached engine for ``url`` (default: the configured database)."""
    if url is None:
        url = (settings or load_settings()).db_url
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    engine = engine or get_engine()
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
