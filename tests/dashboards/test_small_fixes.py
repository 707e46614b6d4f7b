"""Small fixes: bid status on competitions only; unknown incumbency value shown as '–';
urgency flags computed in the view."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from tests.dashboards.conftest import DIATERMI, TODAY, notice_pk, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import Account, BidStatus, Contract, ContractAccount, ContractParty, Notice
from tracker.notices.subtypes import COMPETITION_SUBTYPES
from tracker.pages.bids import URGENT_DEADLINE_DAYS
from tracker.pages.incumbency import incumbency


def test_bid_status_only_on_competitions(client_for, world) -> None:
    with session_scope(world["engine"]) as s:
        award = s.scalar(
            select(Notice.id)
            .where(Notice.subtype.not_in(sorted(COMPETITION_SUBTYPES)), Notice.is_latest.is_(True))
            .order_by(Notice.id)
            .limit(1)
        )
    client = client_for("bid")
    res = client.post(
        f"/bids/{award}/status",
        data={"status": "bidding", "csrf_token": page_csrf(client, "/bids")},
        follow_redirects=False,
    )
    assert res.status_code == 400 and "not a competition" in res.text
    with session_scope(world["engine"]) as s:
        assert s.scalar(select(BidStatus).where(BidStatus.notice_pk == award)) is None


def test_unknown_incumbency_value_is_none_not_zero(session) -> None:
    acc = Account(name="Acc")
    session.add(acc)
    session.flush()
    c = Contract(key="c1", source="notice", end_date=dt.date(2030, 1, 1))
    session.add(c)
    session.flush()
    session.add_all(
        [
            ContractAccount(contract_id=c.id, account_id=acc.id, method="orgnr", confidence=1.0),
            ContractParty(contract_id=c.id, role="supplier", party_key="x", name="Supplier AS"),
        ]
    )
    session.flush()
    [row] = incumbency(session, dt.date(2026, 1, 1), ours=frozenset())
    assert row.value is None and row.contracts == 1


def test_competition_urgency_flag_comes_from_the_view(client_for, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    items = client_for("bid").get("/api/bids?show=accounts").json()["items"]
    [dia] = [b for b in items if b["id"] == pk]
    assert dia["days_left"] == (dt.date(2023, 3, 17) - TODAY).days
    assert dia["urgent"] is (dia["days_left"] < URGENT_DEADLINE_DAYS)
    assert all(b["urgent"] == (b["days_left"] is not None and b["days_left"] < 10) for b in items)
