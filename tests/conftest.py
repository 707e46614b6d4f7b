"""Shared fixtures: real data under tests/fixtures, fresh databases on SQLite and PostgreSQL.

Database tests take the ``engine`` fixture (or ``db_url``); it is parametrised over
SQLite (always) and PostgreSQL (when ``TRACKER_TEST_DATABASE_URL`` is set). Each test
gets an empty, fully migrated database: SQLite copies a migrated template file,
PostgreSQL uses a private database per test process and truncates it between tests.
Code under test may commit freely.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tracker.db import engine as tracker_db
from tracker.db.migrate import upgrade
from tracker.db.models import Base

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOTICES = FIXTURES / "notices"
REAL = NOTICES / "doffin-real"
PG_URL = os.environ.get("TRACKER_TEST_DATABASE_URL")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
SLOW = os.environ.get("TRACKER_SLOW_TESTS") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``slow`` runs only with ``TRACKER_SLOW_TESTS=1``. A test marked
    ``pg_slow`` (a long crawl, a kill and rerun, the route fuzzer) runs on PostgreSQL only
    with ``TRACKER_SLOW_TESTS=1``: what is PostgreSQL's own in it (the
    exactly-once store, NUL and length checks) is covered by faster tests on both backends,
    and the whole suite must stay within CI's ten minutes."""
    if SLOW:
        return
    skip = pytest.mark.skip(reason="PostgreSQL run of a long test: TRACKER_SLOW_TESTS=1")
    slow = pytest.mark.skip(reason="slow test: TRACKER_SLOW_TESTS=1")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("slow"):
            item.add_marker(slow)
        elif item.get_closest_marker("pg_slow") and callspec and "postgresql" in callspec.id:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = tracker_db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A private PostgreSQL database for this test process, migrated once."""
    if not PG_URL:
        yield None
        return
    base = make_url(PG_URL)
    name = f"tracker_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = tracker_db.make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        tracker_db.dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_database: str | None
) -> Iterator[str]:
    """URL of an empty migrated database (SQLite and, when configured, PostgreSQL)."""
    if request.param == "sqlite":
        path = tmp_path / "tracker.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        assert pg_database is not None
        _truncate_pg(pg_database)
        url = pg_database
    yield url
    tracker_db.dispose_engines()


@pytest.fixture
def engine(db_url: str) -> Engine:
    return tracker_db.get_engine(db_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(bind=engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def tracker_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running the CLI against the test database (in-process or subprocess)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"TRACKER_HOME": str(home), "TRACKER_DATABASE_URL": db_url}
    for key in ("TRACKER_CONFIG", "DOFFIN_API_KEY", "TRACKER_RULES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session", autouse=True)
def english_pages_by_default() -> Iterator[None]:
    """The tests written against the pages' English words see English: users without a
    language get English here (the product default is Norwegian bokmål; the tests of the
    Norwegian pages set it back, tests/dashboards/test_language.py and the browser sweep)."""
    from tracker import i18n

    original = i18n.DEFAULT_LANGUAGE
    i18n.DEFAULT_LANGUAGE = "en"
    yield
    i18n.DEFAULT_LANGUAGE = original
