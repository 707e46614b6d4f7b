"""Bid qualification and relevance feedback through the web app: the bid team's capacity and
delivery-risk assessment counts in the score; stars and dismissals are kept (CSRF, roles);
selection requirements and the tenders received last time are beside the score."""

from __future__ import annotations

import html

from sqlalchemy import delete, select

from tests.dashboards.conftest import DIATERMI, KIOSK, USERS, notice_pk, page_csrf
from tracker.bids.context import tenders_last_time
from tracker.db.engine import session_scope
from tracker.db.models import BidAssessment, Contract, NoticeMark, User


def _row(client, pk: int) -> dict:
    [row] = [b for b in client.get("/api/bids?show=accounts").json()["items"] if b["id"] == pk]
    return row


def test_capacity_and_delivery_risk_count_in_the_score(client_for, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    bid = client_for("bid")
    before = _row(bid, pk)
    assert before["assessment"] is None
    comps = {c["name"]: c for c in before["score"]["components"]}
    assert comps["capacity"]["reason"] == "capacity not assessed by the bid team"
    form = {"capacity": "none", "delivery_risk": "high", "reason": "Whole team on NAV until Q3"}
    assert bid.post(f"/bids/{pk}/assessment", data=form, follow_redirects=False).status_code == 403
    try:
        res = bid.post(
            f"/bids/{pk}/assessment",
            data={**form, "csrf_token": page_csrf(bid, "/bids?show=accounts")},
            follow_redirects=False,
        )
        assert res.status_code == 303
        after = _row(bid, pk)
        comps = {c["name"]: c for c in after["score"]["components"]}
        assert comps["capacity"] == {**comps["capacity"], "points": 0}
        assert comps["capacity"]["reason"] == (
            "we have no capacity to deliver (Whole team on NAV until Q3)"
        )
        assert comps["delivery_risk"]["reason"] == "high delivery risk (Whole team on NAV until Q3)"
        assert after["total"] < before["total"]
        assert after["assessment"]["by"] == USERS["bid"]
        # a KAM may not assess bids; a bad value is refused with the field named
        kam = client_for("kam")
        denied = kam.post(
            f"/bids/{pk}/assessment",
            data={**form, "csrf_token": page_csrf(kam)},
            follow_redirects=False,
        )
        assert denied.status_code == 403
        bad = bid.post(
            f"/bids/{pk}/assessment",
            data={**form, "capacity": "lots", "csrf_token": page_csrf(bid)},
            follow_redirects=False,
        )
        assert bad.status_code == 400 and "capacity: 'lots'" in html.unescape(bad.text)
    finally:
        with session_scope(world["engine"]) as s:
            s.execute(delete(BidAssessment).where(BidAssessment.notice_pk == pk))


def test_selection_requirements_and_tenders_last_time(client_for, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    row = _row(client_for("bid"), pk)
    labels = {c["label"] for c in row["selection_criteria"]}
    assert all(c["description"] for c in row["selection_criteria"])
    # the notice names no criterion: its BT-747 type gives the label
    assert labels == {
        "Egnethet (registrering, autorisasjon)",
        "Økonomisk og finansiell kapasitet",
        "Tekniske og faglige kvalifikasjoner",
    }
    assert row["tenders_last_time"] is None  # no earlier contract of this re-tender known
    page = client_for("bid").get("/bids?show=accounts").text
    assert "Selection requirements:" in page and "Competition last time:" in page
    with session_scope(world["engine"]) as s:
        # the guard-services framework of Politiets fellestjenester received 3 tenders
        cid = s.scalar(select(Contract.id).where(Contract.title.like("%vakt- og sikkerhet%")))
        assert tenders_last_time(s, [cid])[cid]["tenders"] == 3


def test_star_and_dismiss_are_kept_per_user(client_for, world) -> None:
    engine = world["engine"]
    pk = notice_pk(engine, KIOSK)
    kam = client_for("kam")
    assert kam.post(f"/notices/{pk}/mark", data={"mark": "star"}).status_code == 403
    try:
        for mark in ("star", "dismiss"):
            res = kam.post(
                f"/notices/{pk}/mark",
                data={"mark": mark, "next": "/?all=1", "csrf_token": page_csrf(kam)},
                follow_redirects=False,
            )
            assert res.status_code == 303 and res.headers["location"] == "/?all=1"
        with session_scope(engine) as s:
            user = s.scalar(select(User).where(User.email == USERS["kam"]))
            marks = s.scalars(select(NoticeMark).where(NoticeMark.notice_pk == pk)).all()
            assert [(m.user_id, m.mark) for m in marks] == [(user.id, "dismiss")]  # the latest
        bad = kam.post(
            f"/notices/{pk}/mark",
            data={"mark": "love", "csrf_token": page_csrf(kam)},
            follow_redirects=False,
        )
        assert bad.status_code == 400 and "mark: 'love'" in html.unescape(bad.text)
        page = kam.get("/?all=1").text
        assert f'action="/notices/{pk}/mark"' in page
    finally:
        with session_scope(engine) as s:
            s.execute(delete(NoticeMark).where(NoticeMark.notice_pk == pk))
