"""The market world: the dashboard world's real Doffin notices and example accounts plus
the TED XML notices published before eForms (tests/fixtures/notices/ted-legacy) as
history, stored as the TED spider stores them; "us" chosen from the data (the supplier
holding contracts at most of our accounts)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from dashboards.app import create_app
from tests.conftest import BACKENDS, NOTICES, PG_URL
from tests.dashboards.conftest import make_settings, seed
from tracker import db as tracker_db
from tracker.db import session_scope
from tracker.ingest import Ingestor
from tracker.migrate import upgrade
from tracker.models import ContractAccount, ContractParty

LEGACY = NOTICES / "ted-legacy"


def _choose_us(engine: Any) -> str:
    with session_scope(engine) as s:
        return s.execute(
            select(ContractParty.orgnr)
            .join(ContractAccount, ContractAccount.contract_id == ContractParty.contract_id)
            .where(ContractParty.role == "supplier", ContractParty.orgnr.is_not(None))
            .group_by(ContractParty.orgnr)
            .order_by(
                func.count(func.distinct(ContractAccount.account_id)).desc(), ContractParty.orgnr
            )
            .limit(1)
        ).scalar_one()


@pytest.fixture(name="market", scope="module", params=BACKENDS)
def market_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    home = tmp_path_factory.mktemp(f"market-{request.param}")
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'tracker.db'}"
    else:
        base = make_url(PG_URL)
        name = f"tracker_market_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = tracker_db.make_engine(url)
    upgrade(engine)
    # History first, as the TED spider stores it (source "ted", the publication number).
    with Ingestor(engine, source="ted") as ing:
        for path in sorted(LEGACY.glob("*.xml")):
            ing.add(path.read_bytes(), location=str(path), source_id=path.name.split("-EXP")[0])
        ing.flush()
    seed(engine)
    us = _choose_us(engine)
    app = create_app(make_settings(home, TRACKER_OUR_ORGNRS=us), engine=engine)
    yield {"backend": request.param, "engine": engine, "app": app, "us": us}
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()
