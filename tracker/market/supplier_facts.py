"""The market summaries per supplier: what the director's page counts of "ours".

"Ours" is a setting (our orgnrs), so the summaries of all contracts (``tracker.market.facts``)
cannot hold it; the page counted our contracts live, and at the issue's full size "us" is
the largest supplier (9,000 of 100,000 contracts). Three tables (migration 0010) hold the
same sums per supplier party key, and "ours" is applied when they are read (an orgnr is
the party key of the parties that have it, ``tracker.contracts.rows.party``):

- ``market_supplier_expiry``: ``market_expiry_months`` per supplier;
- ``market_supplier_months``: ``market_account_months`` per supplier (award month, account);
- ``market_supplier_notices``: per supplier and award notice, with the notice's year.

A contract with two of our orgnrs among its suppliers (a joint bid of two of our
companies) would be counted twice by adding up our keys: ``joint`` finds such contracts
and the page counts live then. Kept like the others: ``tracker.market.changes`` (the
difference of what changed contracts add), ``facts.refresh_accounts`` / ``refresh_parties``
(counted again), ``facts.rebuild`` (all; ``rebuild_notices``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.orm import Session

from tracker.db.models import Contract, ContractAccount, ContractParty, Notice
from tracker.db.models.market import (
    MarketSupplierExpiry,
    MarketSupplierMonth,
    MarketSupplierNotice,
)
from tracker.enums import LinkStatus
from tracker.market.common import awarded_contracts, awarded_on, chunks
from tracker.market.facts import _at_accounts, _value_sums, in_month, month_of, year_of

EXPIRY_KEYS = ("supplier_key", "at_accounts", "year", "month", "currency", "value_kind")
EXPIRY_SUMS = ("contracts", "own_n", "amount", "shared")
MONTH_KEYS = ("supplier_key", "account_id", "year", "month", "currency")
MONTH_SUMS = ("contracts", "spend_n", "spend", "frameworks")
NOTICE_KEYS = ("supplier_key", "notice_pk", "year")
NOTICE_SUMS = ("contracts", "with_value", "amount", "shared")
SUPPLIER = ContractParty.role == "supplier"


def expiry_query(ids: list[int] | None = None, month: tuple[int, int] | None = None) -> Any:
    """Per supplier: ``facts._expiry_months`` (the contracts ``ids``, the expiry ``month``)."""
    expiry = func.coalesce(Contract.latest_end, Contract.end_date)
    at = case((_at_accounts(), True), else_=False)
    shared = Contract.value_shared.is_(True)
    own = case((and_(Contract.value.is_not(None), Contract.value_shared.is_not(True)), 1))
    y, m = year_of(expiry), month_of(expiry)
    stmt = (
        select(
            ContractParty.party_key, at, y, m, Contract.currency, Contract.value_kind,
            func.count(Contract.id), func.count(own),
            func.sum(case((shared, None), else_=Contract.value)),
            func.sum(case((and_(shared, Contract.value.is_not(None)), 1), else_=0)),
        )
        .select_from(ContractParty)
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(SUPPLIER, awarded_contracts(), expiry.is_not(None))
        .group_by(ContractParty.party_key, at, y, m, Contract.currency, Contract.value_kind)
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    if month is None:
        return stmt
    return stmt.where(*in_month(expiry, month))


def months_query(ids: list[int] | None = None, accounts: list[int] | None = None) -> Any:
    """Per supplier: ``facts._account_months`` (the contracts ``ids``, the ``accounts``)."""
    award = awarded_on()
    spend = and_(Contract.value_kind == "tender", Contract.value_shared.is_not(True))
    y, m = year_of(award), month_of(award)
    stmt = (
        select(
            ContractParty.party_key, ContractAccount.account_id, y, m, Contract.currency,
            func.count(Contract.id),
            func.count(case((spend, Contract.value), else_=None)),
            func.sum(case((spend, Contract.value), else_=None)),
            func.sum(case((Contract.framework.is_(True), 1), else_=0)),
        )
        .select_from(ContractParty)
        .join(Contract, Contract.id == ContractParty.contract_id)
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .where(SUPPLIER, ContractAccount.status != LinkStatus.REJECTED, awarded_contracts())
        .group_by(ContractParty.party_key, ContractAccount.account_id, y, m, Contract.currency)
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    return stmt if accounts is None else stmt.where(ContractAccount.account_id.in_(accounts))


def notices_query(ids: list[int] | None = None, keys: list[str] | None = None) -> Any:
    """Per supplier and award notice (contracts from notices): the notice's year (issued,
    else the contract's award date) and the value sums."""
    issued = year_of(func.coalesce(Notice.issue_date, Contract.award_date))
    stmt = (
        select(ContractParty.party_key, Contract.notice_pk, issued, *_value_sums())
        .select_from(ContractParty)
        .join(Contract, Contract.id == ContractParty.contract_id)
        .join(Notice, Notice.id == Contract.notice_pk)
        .where(SUPPLIER, awarded_contracts(), Contract.source == "notice")
        .group_by(ContractParty.party_key, Contract.notice_pk, issued)
    )
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    return stmt if keys is None else stmt.where(ContractParty.party_key.in_(keys))


# --------------------------------------------------------------------------- writing


def refresh_suppliers(session: Session, keys: list[str]) -> None:
    """Count again the notices of the suppliers ``keys`` (their months and expiry follow
    their accounts and expiry months: ``refresh_accounts``)."""
    t = MarketSupplierNotice
    for chunk in chunks(sorted(set(keys)), 500):
        session.execute(delete(t).where(t.supplier_key.in_(chunk)))
        session.execute(
            insert(t).from_select([*NOTICE_KEYS, *NOTICE_SUMS], notices_query(None, chunk))
        )


def refresh_accounts(
    session: Session,
    accounts: Iterable[int] | None = None,
    months: Iterable[tuple[int, int]] | None = None,
) -> None:
    """Count again the months of ``accounts`` and the expiry ``months``; all of both when
    both are None (as ``facts.refresh_accounts``)."""
    e, m = MarketSupplierExpiry, MarketSupplierMonth
    if accounts is None and months is None:
        session.execute(delete(m))
        session.execute(insert(m).from_select([*MONTH_KEYS, *MONTH_SUMS], months_query()))
        session.execute(delete(e))
        session.execute(insert(e).from_select([*EXPIRY_KEYS, *EXPIRY_SUMS], expiry_query()))
        return
    for chunk in chunks(sorted(set(accounts or ())), 500):
        session.execute(delete(m).where(m.account_id.in_(chunk)))
        session.execute(
            insert(m).from_select([*MONTH_KEYS, *MONTH_SUMS], months_query(None, chunk))
        )
    for year, month in sorted(set(months or ())):
        session.execute(delete(e).where(e.year == year, e.month == month))
        session.execute(
            insert(e).from_select([*EXPIRY_KEYS, *EXPIRY_SUMS], expiry_query(None, (year, month)))
        )


def rebuild_notices(session: Session) -> None:
    """Count every supplier's notices again (``facts.rebuild``, whose ``refresh_accounts``
    counts the months and expiry)."""
    session.execute(delete(MarketSupplierNotice))
    session.execute(
        insert(MarketSupplierNotice).from_select([*NOTICE_KEYS, *NOTICE_SUMS], notices_query())
    )


# --------------------------------------------------------------------------- reading


def joint(session: Session, keys: list[str]) -> bool:
    """Whether a contract has two of the supplier ``keys`` (then their sums overlap)."""
    if len(keys) < 2:
        return False
    found = session.execute(
        select(ContractParty.contract_id)
        .where(SUPPLIER, ContractParty.party_key.in_(keys))
        .group_by(ContractParty.contract_id)
        .having(func.count() > 1)
        .limit(1)
    ).first()
    return found is not None


def _index(year: Any, month: Any) -> Any:
    return year * 12 + month


def expiring(
    session: Session, keys: list[str], first: dt.date, end: dt.date, at_accounts: bool
) -> list[Any]:
    """The suppliers ``keys``' contracts expiring in [first, end) per month, currency and
    kind: (year, month, currency, kind, contracts, own values, sum, shared)."""
    t = MarketSupplierExpiry
    index = _index(t.year, t.month)
    stmt = (
        select(
            t.year, t.month, t.currency, t.value_kind, func.sum(t.contracts), func.sum(t.own_n),
            case((func.sum(t.own_n) > 0, func.sum(t.amount)), else_=None), func.sum(t.shared),
        )
        .where(t.supplier_key.in_(keys))
        .where(index >= _index(first.year, first.month), index < _index(end.year, end.month))
        .group_by(t.year, t.month, t.currency, t.value_kind)
        .having(func.sum(t.contracts) != 0)
    )  # fmt: skip
    if at_accounts:
        stmt = stmt.where(t.at_accounts.is_(True))
    return list(session.execute(stmt))


def wallet(session: Session, keys: list[str], since: dt.date, before: dt.date) -> list[Any]:
    """The suppliers ``keys``' contracts at accounts awarded in the months [since, before):
    (account, year, currency, contracts, spend, frameworks)."""
    t = MarketSupplierMonth
    index = _index(t.year, t.month)
    return list(
        session.execute(
            select(
                t.account_id, t.year, t.currency, func.sum(t.contracts),
                case((func.sum(t.spend_n) > 0, func.sum(t.spend)), else_=None),
                func.sum(t.frameworks),
            )
            .where(t.supplier_key.in_(keys))
            .where(index >= _index(since.year, since.month))
            .where(index < _index(before.year, before.month))
            .group_by(t.account_id, t.year, t.currency)
            .having(func.sum(t.contracts) != 0)
        )
    )  # fmt: skip


def notices_per_year(session: Session, keys: list[str]) -> dict[int | None, int]:
    """Award notices naming one of the suppliers ``keys``, per year issued."""
    t = MarketSupplierNotice
    named = (
        select(t.notice_pk, t.year)
        .where(t.supplier_key.in_(keys))
        .group_by(t.notice_pk, t.year)
        .having(func.sum(t.contracts) > 0)
        .subquery()
    )
    return {
        (int(y) if y is not None else None): int(n)
        for y, n in session.execute(
            select(named.c.year, func.count()).select_from(named).group_by(named.c.year)
        )
    }
