"""Role rules on every state change: account edits, bid decisions, bid status, link decisions."""

from __future__ import annotations

from sqlalchemy import select

from tests.dashboards.conftest import DIATERMI, KIOSK, USERS, account_id, notice_pk, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import Account, Activity, BidDecision, BidStatus, Contact, NoticeLink


def _post(client, path: str, data: dict) -> int:
    return client.post(
        path, data={**data, "csrf_token": page_csrf(client)}, follow_redirects=False
    ).status_code


def _plan(engine, acc: int) -> str | None:
    with session_scope(engine) as s:
        return s.get(Account, acc).plan_notes


def test_kam_edits_only_own_accounts(client_for, world) -> None:
    engine = world["engine"]
    own = account_id(engine, "Sykehusinnkjøp HF")  # Ingrid's
    other = account_id(engine, "Forsvaret")  # Kari's
    ingrid = client_for("kam")
    assert _post(ingrid, f"/accounts/{own}/plan", {"plan_notes": "Meet the CFO in March"}) == 303
    assert _plan(engine, own) == "Meet the CFO in March"
    before = _plan(engine, other)
    res = ingrid.post(
        f"/accounts/{other}/plan",
        data={"plan_notes": "hijack", "csrf_token": page_csrf(ingrid)},
    )
    assert res.status_code == 403 and "may not change account" in res.text
    assert _plan(engine, other) == before
    for path, data in (
        (f"/accounts/{other}/contacts", {"name": "X", "role": "influencer"}),
        (f"/accounts/{other}/activities", {"kind": "call", "text": "x"}),
    ):
        assert _post(ingrid, path, data) == 403
    with session_scope(engine) as s:
        assert s.scalar(select(Contact).where(Contact.account_id == other)) is None
    # The edit forms are shown to the owner only.
    assert 'id="contact-form"' in ingrid.get(f"/accounts/{own}").text
    assert 'id="contact-form"' not in ingrid.get(f"/accounts/{other}").text


def test_bid_team_cannot_edit_accounts_director_and_admin_can(client_for, world) -> None:
    engine = world["engine"]
    acc = account_id(engine, "Miljødirektoratet")
    assert _post(client_for("bid"), f"/accounts/{acc}/plan", {"plan_notes": "bid"}) == 403
    assert _post(client_for("director"), f"/accounts/{acc}/plan", {"plan_notes": "dir"}) == 303
    assert _plan(engine, acc) == "dir"
    assert _post(client_for("admin"), f"/accounts/{acc}/plan", {"plan_notes": "adm"}) == 303
    assert _plan(engine, acc) == "adm"


def test_contacts_and_activities_by_the_owner(client_for, world) -> None:
    engine = world["engine"]
    acc = account_id(engine, "Helse Sør-Øst RHF")
    ingrid = client_for("kam")
    contact = {"name": "Per Olsen", "role": "decision_maker", "title": "IT-direktør"}
    assert _post(ingrid, f"/accounts/{acc}/contacts", contact) == 303
    activity = {"kind": "meeting", "text": "Needs workshop", "happened_on": "2023-02-10"}
    assert _post(ingrid, f"/accounts/{acc}/activities", activity) == 303
    html = ingrid.get(f"/accounts/{acc}").text
    assert "Per Olsen" in html and "decision maker" in html and "Needs workshop" in html
    bad = ingrid.post(
        f"/accounts/{acc}/contacts",
        data={"name": "Y", "role": "boss", "csrf_token": page_csrf(ingrid)},
    )
    assert bad.status_code == 400 and "role" in bad.text
    bad_date = {"kind": "call", "text": "x", "happened_on": "10.02.2023"}
    assert _post(ingrid, f"/accounts/{acc}/activities", bad_date) == 400
    with session_scope(engine) as s:
        c = s.scalar(select(Contact).where(Contact.name == "Per Olsen"))
        assert c.role == "decision_maker"
        assert (
            s.scalar(select(Activity).where(Activity.text == "Needs workshop")).user_email
            == (USERS["kam"])
        )
    # Another KAM cannot delete it; the owner can.
    assert _post(client_for("kam2"), f"/accounts/{acc}/contacts/{c.id}/delete", {}) == 403
    assert _post(ingrid, f"/accounts/{acc}/contacts/{c.id}/delete", {}) == 303
    with session_scope(engine) as s:
        assert s.get(Contact, c.id) is None


def test_only_director_or_admin_records_bid_decisions(client_for, world) -> None:
    engine = world["engine"]
    pk = notice_pk(engine, KIOSK)
    decision = {"decision": "bid", "why": "Strategic account, we know the users"}
    for who in ("kam", "bid"):
        assert _post(client_for(who), f"/bids/{pk}/decision", decision) == 403
    with session_scope(engine) as s:
        assert s.scalar(select(BidDecision).where(BidDecision.notice_pk == pk)) is None
    director = client_for("director")
    assert _post(director, f"/bids/{pk}/decision", {"decision": "bid", "why": ""}) == 400
    assert _post(director, f"/bids/{pk}/decision", decision) == 303
    with session_scope(engine) as s:
        row = s.scalar(select(BidDecision).where(BidDecision.notice_pk == pk))
        assert (row.decision, row.decided_by) == ("bid", USERS["director"])
        assert row.score is not None and row.score_detail["components"]  # the score decided on
    html = director.get("/director").text
    decided = html.split('id="decided"')[1]
    assert "Strategic account, we know the users" in decided


def test_bid_status_by_bid_team_director_admin(client_for, world) -> None:
    engine = world["engine"]
    pk = notice_pk(engine, DIATERMI)
    assert _post(client_for("kam"), f"/bids/{pk}/status", {"status": "bidding"}) == 403
    bid = client_for("bid")
    assert _post(bid, f"/bids/{pk}/status", {"status": "maybe"}) == 400
    assert _post(bid, f"/bids/{pk}/status", {"status": "qualifying"}) == 303
    assert _post(client_for("director"), f"/bids/{pk}/status", {"status": "bidding"}) == 303
    with session_scope(engine) as s:
        row = s.scalar(select(BidStatus).where(BidStatus.notice_pk == pk))
        assert (row.status, row.updated_by) == ("bidding", USERS["director"])
    assert '<option value="bidding" selected>' in bid.get("/bids").text


def test_link_decisions_by_the_accounts_kam(client_for, world) -> None:
    engine = world["engine"]
    hso = account_id(engine, "Helse Sør-Øst RHF")
    ingrid = client_for("kam")
    # one row per buyer and account; its id is one of the buyer's links
    rows = ingrid.get("/api/home").json()["suggested_links"]
    link_id = next(r["id"] for r in rows if r["account_id"] == hso)
    kari = client_for("kam2")
    assert _post(kari, f"/links/{link_id}/decide", {"status": "confirmed"}) == 403
    assert f'action="/links/{link_id}/decide"' in ingrid.get("/").text
    assert _post(ingrid, f"/links/{link_id}/decide", {"status": "rejected"}) == 303
    with session_scope(engine) as s:
        link = s.get(NoticeLink, link_id)
        assert (link.status, link.decided_by) == ("rejected", USERS["kam"])
    assert f'action="/links/{link_id}/decide"' not in ingrid.get("/").text
