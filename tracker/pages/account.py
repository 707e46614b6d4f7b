"""One account: its profile, contracts, opportunities, notices and the KAM's work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from tracker.accounts.work import list_activities, list_contacts
from tracker.db.models import (
    Account,
    Contract,
    ContractAccount,
    Notice,
    NoticeLink,
    Opportunity,
    Organisation,
    User,
)
from tracker.enums import LinkStatus
from tracker.errors import NotFoundError
from tracker.notices.search import notice_rows
from tracker.pages.base import PageEnv, plain_rows, still_running
from tracker.pages.expiries import CONTRACT_COLUMNS, ContractRow, contract_among, contract_rows
from tracker.pages.opportunities import RISK_PHASES, opportunity_rows
from tracker.rules import Rules
from tracker.users import can_edit_account


def _get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, options=[selectinload(Account.orgnrs)])
    if account is None:
        raise NotFoundError(f"no account with id {account_id}")
    return account


def account_profile(session: Session, account: Account) -> dict[str, Any]:
    orgnrs = sorted(o.orgnr for o in account.orgnrs)
    orgs = (
        session.scalars(select(Organisation).where(Organisation.orgnr.in_(orgnrs))).all()
        if orgnrs
        else []
    )
    parents = sorted({o.parent_orgnr for o in orgs if o.parent_orgnr})
    parent_names = (
        dict(
            session.execute(
                select(Organisation.orgnr, Organisation.name).where(Organisation.orgnr.in_(parents))
            ).all()
        )
        if parents
        else {}
    )
    return {
        "id": account.id,
        "name": account.name,
        "orgnrs": [
            {
                "orgnr": nr,
                "name": next((o.register_name or o.name for o in orgs if o.orgnr == nr), None),
            }
            for nr in orgnrs
        ],
        "parents": [{"orgnr": p, "name": parent_names.get(p)} for p in parents],
        "sector": sorted({o.sector_code for o in orgs if o.sector_code}),
        "org_form": sorted({o.org_form for o in orgs if o.org_form}),
        "tier": account.tier,
        "buyer_type": account.buyer_type,
        "kam": account.kam_email,
        "team": account.team,
        "notes": account.notes,
        "plan_notes": account.plan_notes,
    }


def account_notices(
    session: Session, account_id: int, rules: Rules, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Notice history of an account (latest versions, newest first), one page.

    One query gives the page's ids and the total (a window count); a COUNT runs only
    when the page is past the end.
    """
    linked = select(NoticeLink.notice_pk).where(
        NoticeLink.account_id == account_id, NoticeLink.status != LinkStatus.REJECTED
    )
    latest = and_(Notice.id.in_(linked), Notice.is_latest.is_(True))
    rows = session.execute(
        select(Notice.id, func.count().over().label("total"))
        .where(latest)
        .order_by(Notice.issue_date.desc().nulls_last(), Notice.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if rows:
        total = rows[0].total
    else:
        total = session.scalar(select(func.count()).select_from(Notice).where(latest)) or 0
    return {"items": notice_rows(session, [r.id for r in rows], rules), "total": total}


CONTRACT_ROWS = 200  # contracts on the account page; the export has them all
OPPORTUNITY_ROWS = 100  # coming procurements on the account page, soonest publication first


def _account_contracts(session: Session, account_id: int, today: dt.date) -> Select[Any]:
    """The account's contracts (links not rejected; an expected one once its award is
    due), as ``(contract, Doffin id, notice id)`` (the contract: a row of
    ``CONTRACT_COLUMNS``)."""
    return (
        select(CONTRACT_COLUMNS, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            contract_among(
                session,
                select(ContractAccount.contract_id).where(
                    ContractAccount.account_id == account_id,
                    ContractAccount.status != LinkStatus.REJECTED,
                ),
            ),
            or_(Contract.expected.is_not(True), Contract.expected_award <= today),
        )
    )


def account_contract_rows(
    session: Session,
    account_id: int,
    today: dt.date,
    limit: int | None = CONTRACT_ROWS,
    *,
    ours: frozenset[str],
) -> list[ContractRow]:
    """Contracts of the account: current and coming ends first, then ended ones; one row
    per awarded lot and winner group (``tracker.pages.expiries.ContractRow``). When there
    are more than ``limit``, those still running (``still_running``) are taken first,
    soonest end first, then the most recently ended: an account with years of history
    never loses its current contracts to the cut. ``limit`` None: every one (the CLI)."""
    running = still_running(today, unknown_end=True)
    ends = func.coalesce(Contract.end_date, Contract.latest_end)
    found = session.execute(
        _account_contracts(session, account_id, today)
        .order_by(
            case((running, 0), else_=1),
            case((running, ends), else_=None).asc().nulls_last(),
            ends.desc().nulls_last(),
            Contract.id,
        )
        .limit(limit)
    ).all()
    rows = contract_rows(session, found, today, ours=ours, scope=[account_id])
    rows.sort(
        key=lambda r: (
            r.ended,
            (r.next_end or r.end_date or r.latest_end) is None,
            r.next_end or r.end_date or r.latest_end or "",
            r.contract_id,
        )
    )
    return rows


def account_contract_count(session: Session, account_id: int, today: dt.date) -> int:
    """How many contracts :func:`account_contract_rows` chooses from."""
    query = _account_contracts(session, account_id, today).subquery()
    return int(session.scalar(select(func.count()).select_from(query)) or 0)


def account_page(
    session: Session, account_id: int, user: User, today: dt.date, *, env: PageEnv
) -> dict[str, Any]:
    account = _get_account(session, account_id)
    known = {account.id: {"name": account.name, "buyer_type": account.buyer_type}}
    opportunities = plain_rows(
        opportunity_rows(
            session,
            today,
            account_ids=[account.id],
            limit=OPPORTUNITY_ROWS,
            accounts=known,
            rules=env.rules,
        )
    )
    stored = select(func.count()).where(Opportunity.account_id == account.id)
    # every opportunity of the account, the ones in the capability profile first
    opportunities.sort(key=lambda o: not (o.get("fit") or {}).get("shown"))
    return {
        "overdue": [o for o in opportunities if o["phase"] in RISK_PHASES],
        "account": account_profile(session, account),
        "can_edit": can_edit_account(user, account.kam_email),
        "contracts": plain_rows(
            account_contract_rows(session, account.id, today, CONTRACT_ROWS, ours=env.ours)
        ),
        "contracts_total": account_contract_count(session, account.id, today),
        "opportunities": opportunities,
        "opportunities_total": int(session.scalar(stored) or 0),
        "notices": account_notices(session, account.id, env.rules),
        "activities": list_activities(session, account.id),
        "contacts": list_contacts(session, account.id),
    }
