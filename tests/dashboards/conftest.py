"""A seeded world for the dashboard tests: real notices, example accounts, one user per role.

The world is seeded once per test session into a template (the example accounts
imported, the 57 real fixture notices ingested, which links buyers and derives
contracts, opportunities recomputed, users created) and every test module gets its own
copy of it (``world``, module-scoped: the browser tests keep one server per module),
so what one module changes never reaches another; tests of a module that change data
touch their own rows. On SQLite the template is a file (built by the first xdist
worker, copied by all); on PostgreSQL (``TRACKER_TEST_DATABASE_URL``) the world is one
seeded database per test process, shared by its modules. "Today" is fixed at 2023-02-22,
when two linked competitions of the fixtures are open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import importlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dashboards.app import create_app
from tests.conftest import BACKENDS, NOTICES, PG_URL
from tracker import users as tracker_users
from tracker.accounts.keyaccounts import import_accounts
from tracker.config import load_settings
from tracker.db import engine as tracker_db
from tracker.db.engine import session_scope
from tracker.db.migrate import upgrade
from tracker.notices.ingest import Ingestor
from tracker.pages.base import NoCache

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2023, 2, 22)
PASSWORD = "correct horse battery"
USERS = {
    "kam": "ingrid.berg@example.no",  # KAM of Sykehusinnkjøp HF and Helse Sør-Øst RHF
    "kam2": "kari.nordmann@example.no",  # KAM of Forsvaret
    "bid": "bid@example.no",
    "director": "director@example.no",
    "admin": "admin@example.no",
}
ROLE_OF = {"kam": "kam", "kam2": "kam", "bid": "bid", "director": "director", "admin": "admin"}


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters in tests only (production keeps the library defaults)."""
    original = tracker_users._hasher
    tracker_users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    tracker_users._hasher = original


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def seed(engine: Any, today: dt.date = TODAY) -> None:
    with session_scope(engine) as s:
        import_accounts(s, ROOT / "examples" / "accounts.yaml")
    # As the Doffin spider stores them: source "doffin" and the Doffin id (in the file name).
    with Ingestor(engine, source="doffin") as ing:
        for path in sorted((NOTICES / "doffin-real").glob("*.xml")):
            match = re.search(r"(\d{4}-\d{6})", path.name)
            ing.add(path.read_bytes(), location=str(path), source_id=match and match.group(1))
        ing.flush()
    recompute = _optional("tracker.opportunities.build", "recompute")
    with session_scope(engine) as s:
        if recompute is not None:
            recompute(s, today)
        for key, email in USERS.items():
            tracker_users.ensure_user(s, email, ROLE_OF[key], PASSWORD, name=key.title())


@contextlib.contextmanager
def migrated_database(backend: str, home: Path, prefix: str) -> Iterator[tuple[str, Any]]:
    """``(url, engine)`` of a new migrated database: a SQLite file in ``home``, or a private
    PostgreSQL database dropped afterwards."""
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{home / 'tracker.db'}"
    else:
        base = make_url(PG_URL)
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = tracker_db.make_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(
                    text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
                )
            admin.dispose()


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``lock`` (across the xdist workers of a session)."""
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def world_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """The seeded world as a SQLite file, seeded once per test session: the first xdist
    worker builds it in the session's shared temporary directory, the others wait."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    path = root / "world-template.db"
    with _exclusive(root / "world-template.lock"):
        if not path.exists():
            building = root / "world-template.building"
            shutil.copy(sqlite_template, building)
            engine = tracker_db.make_engine(f"sqlite:///{building}")
            try:
                seed(engine)
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                engine.dispose()
            building.rename(path)
    return path


@pytest.fixture(scope="session")
def pg_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The seeded world on PostgreSQL: one database per test process."""
    home = tmp_path_factory.mktemp("world-postgresql")
    with migrated_database("postgresql", home, "tracker_dash") as (url, engine):
        seed(engine)
        yield {"backend": "postgresql", "url": url, "engine": engine, "home": home}


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """The world of one test module: a copy of the template on SQLite."""
    if request.param != "sqlite":
        yield request.getfixturevalue("pg_world")
        return
    home = tmp_path_factory.mktemp("world-sqlite")
    path = home / "tracker.db"
    shutil.copy(request.getfixturevalue("world_template"), path)
    url = f"sqlite:///{path}"
    engine = tracker_db.make_engine(url)
    try:
        yield {"backend": "sqlite", "url": url, "engine": engine, "home": home}
    finally:
        engine.dispose()


def make_settings(home: Path, **extra: str) -> Any:
    env = {"TRACKER_HOME": str(home), "TRACKER_TODAY": TODAY.isoformat(), **extra}
    return load_settings(env=env)


@pytest.fixture(scope="module")
def app(world: dict) -> Any:
    """The app of the world; it keeps no aggregates between requests (``NoCache``), so
    each test sees the data as it is now (``test_pages`` tests the 60 s cache itself)."""
    return create_app(make_settings(world["home"]), engine=world["engine"], cache=NoCache())


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": "/",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )


@pytest.fixture
def client_for(app: Any) -> Any:
    """``client_for("kam")`` → a TestClient logged in as that user of the world."""
    clients: list[TestClient] = []

    def make(who: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        res = login(client, USERS[who])
        assert res.status_code == 303, res.text
        return client

    yield make
    for c in clients:
        c.close()


def page_csrf(client: TestClient, path: str = "/me") -> str:
    return csrf_from(client.get(path).text)


def account_id(engine: Any, name: str) -> int:
    from sqlalchemy import select

    from tracker.db.models import Account

    with session_scope(engine) as s:
        return s.scalar(select(Account.id).where(Account.name == name))


def notice_pk(engine: Any, title_start: str) -> int:
    from sqlalchemy import select

    from tracker.db.models import Notice

    with session_scope(engine) as s:
        return s.scalar(
            select(Notice.id)
            .where(Notice.title.startswith(title_start), Notice.is_latest.is_(True))
            .order_by(Notice.id)
            .limit(1)
        )


DIATERMI = "Diatermipenner og -plater"  # open on TODAY, linked to Sykehusinnkjøp HF
KIOSK = "Veiledende kunngjøring - Drift av kiosk"  # open on TODAY, Sykehusinnkjøp HF
