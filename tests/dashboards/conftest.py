"""A seeded world for the dashboard tests: real notices, example accounts, one user per role.

The world is built once per test process and backend (SQLite, and PostgreSQL when
``TRACKER_TEST_DATABASE_URL`` is set): the example accounts are imported, the real
fixture notices ingested (which links buyers and derives contracts), opportunities
recomputed when ``tracker.opportunities.build`` is there, and users created. Tests that change
data touch their own rows, so they can share it. "Today" is fixed at 2023-02-22, when
two linked competitions of the fixtures are open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import re
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
from tracker.rules import load_rules

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
            recompute(s, today, rules=load_rules())
        for key, email in USERS.items():
            tracker_users.ensure_user(s, email, ROLE_OF[key], PASSWORD, name=key.title())


@contextlib.contextmanager
def migrated_database(backend: str, home: Path, prefix: str) -> Iterator[tuple[str, Any]]:
    """``(url, engine)`` of a new migrated database: a SQLite file in ``home``, or a private
    PostgreSQL database dropped afterwards."""
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{home / 'tracker.db.engine'}"
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


@pytest.fixture(scope="session", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    home = tmp_path_factory.mktemp(f"world-{request.param}")
    with migrated_database(request.param, home, "tracker_dash") as (url, engine):
        seed(engine)
        yield {"backend": request.param, "url": url, "engine": engine, "home": home}


def make_settings(home: Path, **extra: str) -> Any:
    env = {"TRACKER_HOME": str(home), "TRACKER_TODAY": TODAY.isoformat(), **extra}
    return load_settings(env=env)


@pytest.fixture(scope="session")
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
