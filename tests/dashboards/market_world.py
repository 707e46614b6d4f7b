"""The market world: the dashboard world's real Doffin notices and example accounts plus
the TED XML notices published before eForms (tests/fixtures/notices/ted-legacy) as
history, stored as the TED spider stores them; "us" chosen from the data (the supplier
holding contracts at most of our accounts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboards.app import create_app
from tests.conftest import BACKENDS, NOTICES
from tests.dashboards.conftest import make_settings, migrated_database, seed
from tracker.db.engine import session_scope
from tracker.db.models import ContractAccount, ContractParty
from tracker.notices.ingest import Ingestor

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
    with migrated_database(request.param, home, "tracker_market") as (_url, engine):
        # History first, as the TED spider stores it (source "ted", the publication number).
        with Ingestor(engine, source="ted") as ing:
            for path in sorted(LEGACY.glob("*.xml")):
                source_id = path.name.split("-EXP")[0]
                ing.add(path.read_bytes(), location=str(path), source_id=source_id)
            ing.flush()
        seed(engine)
        us = _choose_us(engine)
        app = create_app(make_settings(home, TRACKER_OUR_ORGNRS=us), engine=engine)
        yield {"backend": request.param, "engine": engine, "app": app, "us": us}
