"""The KAM home and account page show the tracker's own timeline values: days left,
overdue, can_influence, the one-line reason and the source of every date; and the
``overdue`` phase as a risk list."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from dashboards.app import create_app
from tests.dashboards.conftest import TODAY, USERS, account_id, login, make_settings
from tests.readmodels import list_opportunities
from tracker.db.engine import session_scope
from tracker.db.models import Account, Contract, ContractAccount
from tracker.opportunities.build import recompute
from tracker.opportunities.windows import PHASES
from tracker.pages.opportunities import PHASE_ORDER
from tracker.rules import load_rules

# A known agreement (constructed: an import) at Oslo kommune that expires 2023-03-31 with no
# competition seen. (The real Oslo VAV contract of the fixtures ended the same day, but a
# modification notice 112 days before that end says it was probably extended: it is
# watched with "ask the buyer", never overdue.)
OSLO = "Drift av vannverkets driftssentral"
VAV = "Drift og utvikling av gradert informasjonssystem"
AFTER_START = dt.date(2023, 5, 1)  # after its contract start: phase overdue


@pytest.fixture
def overdue_agreement(world: dict) -> Iterator[None]:
    engine = world["engine"]
    with session_scope(engine) as s:
        acc = s.scalars(select(Account).where(Account.name == "Oslo kommune")).one()
        c = Contract(
            key="import:test-oslo-vannverk",
            source="import",
            title=OSLO,
            main_cpv="72000000",
            start_date=dt.date(2019, 4, 1),
            end_date=dt.date(2023, 3, 31),
            end_source="import",
            framework=False,
        )
        s.add(c)
        s.flush()
        s.add(ContractAccount(contract_id=c.id, account_id=acc.id, method="import", confidence=1))
        s.flush()
        recompute(s, TODAY, rules=load_rules())
    yield
    with session_scope(engine) as s:
        s.execute(delete(ContractAccount).where(ContractAccount.contract_id == c.id))
        s.execute(delete(Contract).where(Contract.id == c.id))
        recompute(s, TODAY, rules=load_rules())


def test_home_rows_carry_the_trackers_values(world, client_for, overdue_agreement) -> None:
    data = client_for("admin").get("/api/home").json()
    rows = data["influence_open"]
    assert rows
    with session_scope(world["engine"]) as s:
        theirs = {o["key"]: o for o in list_opportunities(s, today=TODAY)}
    for row in rows:
        o = theirs[row["key"]]
        for field in ("phase", "days_left", "overdue", "can_influence", "reason"):
            assert row[field] == o[field], (row["key"], field)
        assert row["sources"] == o["sources"] and row["sources"]
        assert row["days_left"] is not None and row["days_left"] >= 0  # never "N d ago left"
    oslo = next(r for r in rows if r["title"] == OSLO)
    assert oslo["overdue"] and oslo["phase"] == "drafting"
    assert VAV not in {r["title"] for r in rows}  # probably extended: not an open window


def shown(reason: str) -> str:
    """The API's reason (ISO days) as an English page shows it (days as dd.mm.åååå)."""
    return re.sub(r"(\d{4})-(\d{2})-(\d{2})", r"\3.\2.\1", reason)


def test_home_and_account_page_show_reason_and_date_sources(
    world, client_for, overdue_agreement
) -> None:
    client = client_for("admin")
    page = html.unescape(client.get("/?all=1").text)  # parking is out of the IT profile
    assert "d ago left" not in page
    assert "publication overdue" in page  # the Oslo row, not a negative countdown
    assert 'title="source: ' in page
    with session_scope(world["engine"]) as s:
        opps = list_opportunities(s, today=TODAY, account="Sykehusinnkjøp HF")
    parking = next(o for o in opps if o["title"].startswith("Drift av parkering"))
    assert shown(parking["reason"]) in page
    acc = html.unescape(
        client.get(f"/accounts/{account_id(world['engine'], 'Sykehusinnkjøp HF')}").text
    )
    assert shown(parking["reason"]) in acc
    src = parking["sources"]["influence_opens"]
    assert f'title="source: {src["kind"]} – {src["basis"]}"' in acc
    # a date a rule made names the rule of rules.toml
    assert "(rule windows.publish_before_expiry_months in rules.toml)" in page


def test_overdue_phase_is_a_risk_list(world, overdue_agreement) -> None:
    assert PHASE_ORDER == PHASES and PHASE_ORDER.index("overdue") == PHASES.index("drafting") + 1
    app = create_app(
        make_settings(world["home"], TRACKER_TODAY=AFTER_START.isoformat()),
        engine=world["engine"],
    )
    with TestClient(app) as client:
        assert login(client, USERS["admin"]).status_code == 303
        data = client.get("/api/home").json()  # the Oslo IT contract is in profile
        [risk] = [o for o in data["overdue"] if o["title"] == OSLO]
        assert risk["phase"] == "overdue" and "no competition notice" in risk["reason"]
        assert OSLO not in {o["title"] for o in data["influence_open"]}
        page = html.unescape(client.get("/").text)
        section = page.split('id="overdue"')[1].split("</section>")[0]
        assert "re-tender overdue / extended?" in section and OSLO in section
        assert shown(risk["reason"]) in section
        acc = account_id(world["engine"], "Oslo kommune")
        page = html.unescape(client.get(f"/accounts/{acc}").text)
        section = page.split('id="overdue"')[1].split("</section>")[0]
        assert 'class="badge urgent">re-tender overdue / extended?' in section and OSLO in section
