"""Suggested buyer→account links waiting for a KAM's confirm or reject.

The KAM home's suggestions, ``tracker links list``, ``/api/suggested-links`` and the
suggested-links export all show :func:`suggested_links`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.db.models import Account, Notice, NoticeBuyer, NoticeLink
from tracker.enums import LinkStatus
from tracker.linking.matching import buyer_key
from tracker.notices.text import clean_name
from tracker.pages.base import in_scope, iso

SCAN = 5000  # suggested links read at most (highest confidence first)


@dataclass(frozen=True)
class SuggestedLink:
    """One buyer at one account: ``id`` is one of its links (confirming or rejecting it
    applies to every notice of the buyer at the account: ``tracker.linking.links.decide_link``);
    ``notices``: how many notices it covers; ``notice_pk``/``title``/``issue_date``: the
    latest of them."""

    id: int
    account_id: int
    account: str
    buyer: str | None
    buyer_orgnr: str | None
    buyer_key: str
    method: str
    confidence: float
    notices: int
    notice_pk: int
    title: str | None
    issue_date: str | None
    doffin_url: str | None


def doffin_url(source: str | None, source_id: str | None) -> str | None:
    """The notice on doffin.no (Doffin notices only)."""
    if source == "doffin" and source_id:
        return f"https://doffin.no/notices/{source_id}"
    return None


def suggested_links(
    session: Session, scope: list[int] | None, limit: int | None = None
) -> list[SuggestedLink]:
    """Suggested links of the latest notice versions at the accounts in ``scope`` (None:
    every account), one row per buyer (``tracker.linking.matching.buyer_key``: orgnr, else the
    normalised name) and account, highest confidence first, then the latest notice."""
    rows = session.execute(
        select(
            NoticeLink.id,
            NoticeLink.account_id,
            Account.name.label("account"),
            NoticeLink.notice_pk,
            NoticeLink.method,
            NoticeLink.confidence,
            Notice.title,
            Notice.issue_date,
            Notice.source,
            Notice.source_id,
            NoticeBuyer.name,
            NoticeBuyer.orgnr,
        )
        .join(Notice, Notice.id == NoticeLink.notice_pk)
        .join(NoticeBuyer, NoticeBuyer.id == NoticeLink.buyer_pk)
        .join(Account, Account.id == NoticeLink.account_id)
        .where(
            NoticeLink.status == LinkStatus.SUGGESTED,
            Notice.is_latest.is_(True),
            in_scope(NoticeLink.account_id, scope),
        )
        .order_by(NoticeLink.confidence.desc(), NoticeLink.notice_pk.desc(), NoticeLink.id)
        .limit(SCAN)
    ).all()
    first: dict[tuple[str, int], Any] = {}
    notices: dict[tuple[str, int], set[int]] = defaultdict(set)
    for r in rows:
        key = (buyer_key(r.orgnr, r.name), r.account_id)
        notices[key].add(r.notice_pk)
        first.setdefault(key, r)  # the first: highest confidence, latest notice
    out = [
        SuggestedLink(
            id=r.id,
            account_id=r.account_id,
            account=r.account,
            buyer=clean_name(r.name) if r.name else None,
            buyer_orgnr=r.orgnr,
            buyer_key=key[0],
            method=r.method,
            confidence=round(r.confidence, 2),
            notices=len(notices[key]),
            notice_pk=r.notice_pk,
            title=r.title,
            issue_date=iso(r.issue_date),
            doffin_url=doffin_url(r.source, r.source_id),
        )
        for key, r in first.items()
    ]
    return out[:limit] if limit is not None else out
