"""The key accounts a user works, with what is going on at each: the accounts question.

The accounts page, the KAM home's account list, ``tracker accounts list``,
``/api/accounts`` and the accounts export all show :func:`accounts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tracker.db.models import Account, ContractAccount, Notice, NoticeLink, Opportunity
from tracker.enums import OPEN_PHASES, LinkStatus
from tracker.pages.base import in_scope


@dataclass(frozen=True)
class AccountRow:
    """One account: who works it and the counts of its linked notices (latest versions,
    links not rejected), suggested links waiting for a decision, linked contracts and
    open influence windows in our capability profile (as of the last recompute)."""

    id: int
    name: str
    orgnr: tuple[str, ...]
    aliases: tuple[str, ...]
    tier: str | None
    buyer_type: str | None
    kam: str | None
    team: str | None
    include_children: bool
    notes: str | None
    notices: int
    suggested_links: int
    contracts: int
    open_windows: int


def accounts(session: Session, scope: list[int] | None) -> list[AccountRow]:
    """The accounts in ``scope`` (``tracker.pages.base.account_scope``: a KAM's own;
    None: every account), by name."""
    q = (
        select(Account)
        .where(in_scope(Account.id, scope))
        .options(selectinload(Account.orgnrs), selectinload(Account.aliases))
        .order_by(Account.name)
    )
    found = session.scalars(q).all()
    latest = Notice.is_latest.is_(True)
    notices = dict(
        session.execute(
            select(NoticeLink.account_id, func.count(func.distinct(NoticeLink.notice_pk)))
            .join(Notice, Notice.id == NoticeLink.notice_pk)
            .where(
                NoticeLink.status != LinkStatus.REJECTED,
                latest,
                in_scope(NoticeLink.account_id, scope),
            )
            .group_by(NoticeLink.account_id)
        ).all()
    )
    suggested = dict(
        session.execute(
            select(NoticeLink.account_id, func.count())
            .join(Notice, Notice.id == NoticeLink.notice_pk)
            .where(
                NoticeLink.status == LinkStatus.SUGGESTED,
                latest,
                in_scope(NoticeLink.account_id, scope),
            )
            .group_by(NoticeLink.account_id)
        ).all()
    )
    contracts = dict(
        session.execute(
            select(ContractAccount.account_id, func.count())
            .where(
                ContractAccount.status != LinkStatus.REJECTED,
                in_scope(ContractAccount.account_id, scope),
            )
            .group_by(ContractAccount.account_id)
        ).all()
    )
    windows = dict(
        session.execute(
            select(Opportunity.account_id, func.count())
            .where(
                Opportunity.phase.in_(OPEN_PHASES),
                Opportunity.in_profile.is_not(False),
                in_scope(Opportunity.account_id, scope),
            )
            .group_by(Opportunity.account_id)
        ).all()
    )
    return [
        AccountRow(
            id=a.id,
            name=a.name,
            orgnr=tuple(sorted(o.orgnr for o in a.orgnrs)),
            aliases=tuple(sorted(x.alias for x in a.aliases)),
            tier=a.tier,
            buyer_type=a.buyer_type,
            kam=a.kam_email,
            team=a.team,
            include_children=bool(a.include_children),
            notes=a.notes,
            notices=notices.get(a.id, 0),
            suggested_links=suggested.get(a.id, 0),
            contracts=contracts.get(a.id, 0),
            open_windows=windows.get(a.id, 0),
        )
        for a in found
    ]
