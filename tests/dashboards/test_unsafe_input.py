"""Untrusted URLs from notices are never links; bid decisions only on competitions, with
a bounded reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select

from tests.dashboards.conftest import DIATERMI, account_id, notice_pk, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import BidDecision, Lot, Notice, NoticeBuyer, NoticeLink

JS = "javascript:alert(document.cookie)"
DATA = "data:text/html,<script>alert(1)</script>"


def test_javascript_and_data_urls_are_shown_as_text_not_links(
    client_for: Any, world: dict[str, Any]
) -> None:
    engine = world["engine"]
    acc = account_id(engine, "Sykehusinnkjøp HF")
    with session_scope(engine) as s:
        n = Notice(
            source="doffin",
            source_id=JS,
            notice_id="js-notice",
            version="01",
            subtype="16",
            issue_date=dt.date(2023, 2, 20),
            title="Notice with hostile links",
            documents_url=JS,
            raw_xml=b"",
            raw_sha256="0" * 64,
            parser_version="test",
        )
        n.buyers.append(NoticeBuyer(name="Buyer", orgnr="916879067"))
        n.lots.append(
            Lot(
                lot_id="LOT-0001",
                documents_url=DATA,
                submission_deadline=dt.datetime(2023, 3, 20, 12, tzinfo=dt.UTC),
            )
        )
        s.add(n)
        s.flush()
        s.add(
            NoticeLink(
                notice_pk=n.id,
                buyer_pk=n.buyers[0].id,
                account_id=acc,
                method="orgnr",
                confidence=1.0,
                status="confirmed",
            )
        )
        pk = n.id
    try:
        client = client_for("bid")
        page = client.get(f"/notices/{pk}").text
        assert "Notice with hostile links" in page
        assert 'href="javascript:' not in page and 'href="data:' not in page
        assert "javascript:alert(document.cookie)" in page  # shown, as text
        assert "not a web address: not linked" in page
        bids = client.get("/bids?show=all").text
        assert "Notice with hostile links" in bids
        assert 'href="javascript:' not in bids and 'href="data:' not in bids
        # Real links stay links.
        real = client.get(f"/notices/{notice_pk(engine, DIATERMI)}").text
        assert 'href="https://' in real
    finally:
        with session_scope(engine) as s:
            s.execute(delete(Notice).where(Notice.id == pk))


def test_bid_decision_only_on_a_competition_with_a_bounded_reason(
    client_for: Any, world: dict[str, Any]
) -> None:
    engine = world["engine"]
    with session_scope(engine) as s:
        pin = s.scalar(select(Notice.id).where(Notice.subtype == "4").limit(1))
        before = s.scalar(select(func.count()).select_from(BidDecision))
    client = client_for("director")
    token = page_csrf(client, "/director")
    res = client.post(
        f"/bids/{pin}/decision", data={"decision": "bid", "why": "x", "csrf_token": token}
    )
    assert res.status_code == 400 and "is not a competition" in res.text
    competition = notice_pk(engine, DIATERMI)
    res = client.post(
        f"/bids/{competition}/decision",
        data={"decision": "bid", "why": "w" * 2001, "csrf_token": token},
    )
    assert res.status_code == 400 and "why: at most 2000 characters" in res.text
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(BidDecision)) == before


def test_nul_bytes_and_overlong_values_are_refused_with_a_clear_message(
    client_for: Any, world: dict[str, Any]
) -> None:
    """PostgreSQL refuses NUL in text and strings over a column's length; the edge refuses
    them first with a message naming the field, on both backends (the route fuzzer checks
    every route, with TRACKER_SLOW_TESTS=1 on PostgreSQL)."""
    kam = client_for("kam")
    res = kam.get("/search?text=a%00b")
    assert res.status_code == 400 and "NUL" in res.text
    acc = account_id(world["engine"], "Sykehusinnkjøp HF")
    res = kam.post(
        f"/accounts/{acc}/activities",
        data={"kind": "meeting", "text": "a\x00b", "csrf_token": page_csrf(kam)},
    )
    assert res.status_code == 400 and "NUL" in res.text
    res = kam.post(
        f"/accounts/{acc}/activities",
        data={
            "kind": "meeting",
            "text": "t",
            "opportunity_key": "k" * 301,
            "csrf_token": page_csrf(kam),
        },
    )
    assert res.status_code == 400 and "at most 300 characters" in res.text
