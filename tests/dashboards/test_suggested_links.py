"""Suggested links are listed once per buyer and account, with the number of notices."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from tracker.db import session_scope
from tracker.linking import buyer_key
from tracker.models import Notice, NoticeBuyer, NoticeLink


def test_suggested_links_grouped_by_buyer_and_account(client_for, world) -> None:
    with session_scope(world["engine"]) as s:
        links = s.execute(
            select(NoticeBuyer.orgnr, NoticeBuyer.name, NoticeLink.account_id, Notice.id)
            .join(NoticeLink, NoticeLink.buyer_pk == NoticeBuyer.id)
            .join(Notice, Notice.id == NoticeLink.notice_pk)
            .where(NoticeLink.status == "suggested", Notice.is_latest.is_(True))
        ).all()
    by_pair: dict[tuple[str, int], set[int]] = defaultdict(set)
    for orgnr, name, acc, pk in links:
        by_pair[(buyer_key(orgnr, name), acc)].add(pk)
    expected = {pair: len(pks) for pair, pks in by_pair.items()}
    assert max(expected.values()) >= 2, "the world has a buyer with several suggested notices"
    rows = client_for("admin").get("/api/home").json()["suggested_links"]
    got = {(buyer_key(r["buyer_orgnr"], r["buyer"]), r["account_id"]): r["notices"] for r in rows}
    assert len(got) == len(rows)  # one row per buyer and account
    assert got == expected
    page = client_for("admin").get("/").text.split('id="suggested"')[1].split("</section>")[0]
    n = max(expected.values())
    assert f"{n} notices, latest" in page
