"""Suggested links are listed once per buyer and account, with the number of notices."""

from __future__ import annotations

import datetime as dt

from tracker.db.models import Account, Notice, NoticeBuyer, NoticeLink
from tracker.pages.suggested_links import suggested_links


def _notice(session, n: int, buyer: str, orgnr: str | None) -> Notice:
    notice = Notice(
        source="doffin",
        source_id=f"2023-00000{n}",
        notice_id=f"n-{n}",
        version="01",
        subtype="16",
        issue_date=dt.date(2023, 2, n),
        title=f"Notice {n}",
        raw_xml=b"",
        raw_sha256=f"{n}" * 64,
        parser_version="test",
    )
    notice.buyers.append(NoticeBuyer(name=buyer, orgnr=orgnr))
    session.add(notice)
    session.flush()
    return notice


def _suggest(session, notice: Notice, account: Account, confidence: float) -> None:
    session.add(
        NoticeLink(
            notice_pk=notice.id,
            buyer_pk=notice.buyers[0].id,
            account_id=account.id,
            method="central_purchasing",
            confidence=confidence,
            status="suggested",
        )
    )


def test_suggested_links_grouped_by_buyer_and_account(session) -> None:
    hso, other = Account(name="Helse Sør-Øst RHF"), Account(name="Other")
    session.add_all([hso, other])
    session.flush()
    notices = [_notice(session, i, "Sykehusinnkjøp HF", "916879067") for i in range(1, 8)]
    for n in notices:
        _suggest(session, n, hso, 0.6)  # seven notices of one buyer -> one row
    _suggest(session, notices[0], other, 0.5)  # same buyer, another account -> its own row
    by_name = _notice(session, 9, "NAV Tiltak Rogaland", None)
    _suggest(session, by_name, hso, 0.5)
    session.flush()
    rows = suggested_links(session, None)
    got = {(r.buyer, r.account): r.notices for r in rows}
    assert got == {
        ("Sykehusinnkjøp HF", "Helse Sør-Øst RHF"): 7,
        ("Sykehusinnkjøp HF", "Other"): 1,
        ("NAV Tiltak Rogaland", "Helse Sør-Øst RHF"): 1,
    }
    first = rows[0]
    assert first.confidence == 0.6 and first.notice_pk == notices[-1].id  # latest
    # a KAM sees only the rows of their accounts
    assert {r.account for r in suggested_links(session, [other.id])} == {"Other"}
