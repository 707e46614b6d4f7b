"""A supplier's market: wins by buyer, CPV and year, agreements held now, where it meets us.

``supplier_page(session, key, today)`` reads the contracts (one per lot and winner group)
the supplier ``key`` (a contract party key: the orgnr, or ``name:<normalised name>``)
holds; ``supplier_list`` finds suppliers by name or orgnr, most wins first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db.models import Account, Contract, ContractAccount, ContractParty, MarketPartyFact
from tracker.errors import NotFoundError
from tracker.market.common import (
    ValueSum,
    awarded_contracts,
    awarded_on,
    chunks,
    contracts_of_party,
    next_end_expr,
    next_end_of,
    our_orgnrs,
    parties_with_awards,
    running,
    running_expr,
)
from tracker.market.facts import party_groups, party_pairs, top_counterparts
from tracker.notices.codelists import cpv_label


@dataclass(frozen=True)
class Win:
    """One contract (lot and winner group) the supplier won."""

    contract_id: int
    notice_pk: int | None
    title: str | None
    lot_id: str | None
    buyer: str | None
    buyer_key: str | None
    cpv: str | None
    awarded: dt.date | None
    value: Decimal | None
    currency: str | None
    value_kind: str | None
    value_shared: bool
    framework: bool
    end: dt.date | None
    latest_end: dt.date | None
    next_end: dt.date | None
    held_now: bool


@dataclass(frozen=True)
class Group:
    """Wins grouped by one key (a buyer, a CPV code or a year)."""

    key: str
    label: str
    contracts: int
    values: tuple[ValueSum, ...]


@dataclass(frozen=True)
class MeetsUs:
    """One of our accounts where the supplier holds running agreements."""

    account_id: int
    account: str
    agreements: int
    next_end: dt.date | None
    we_hold: int  # running agreements of ours at the same account


@dataclass(frozen=True)
class SupplierPage:
    key: str
    name: str
    orgnr: str | None
    is_us: bool
    contracts: int
    values: tuple[ValueSum, ...]
    by_buyer: tuple[Group, ...]
    by_cpv: tuple[Group, ...]
    by_year: tuple[Group, ...]
    held_now: tuple[Win, ...]  # the first LIST_ROWS, soonest end first
    held_count: int
    meets_us: tuple[MeetsUs, ...]
    shared_cpv: tuple[Group, ...]  # CPV codes where we have won too (its wins counted)
    latest: tuple[Win, ...]


@dataclass(frozen=True)
class SupplierRow:
    key: str
    name: str
    orgnr: str | None
    is_us: bool
    contracts: int
    last_award: dt.date | None


LIST_ROWS = 50  # held agreements and latest wins read for the page (the export: all)
PAGE_BUYERS = 30  # buyers on the page (the export and the API: all)
WALK_FROM = 1000  # a supplier's contracts from which its latest wins are read newest first


def _groups(
    found: dict[tuple[Any, ...], tuple[int, tuple[ValueSum, ...]]],
    label: Any,
    order: str = "count",
) -> tuple[Group, ...]:
    groups = [
        Group(str(k[0]) if k[0] is not None else "?", label(k), n, values)
        for k, (n, values) in found.items()
    ]
    if order == "key":
        groups.sort(key=lambda g: g.key, reverse=True)
    else:
        groups.sort(key=lambda g: (-g.contracts, g.label))
    return tuple(groups)


def _buyers(session: Session, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    out: dict[int, tuple[str | None, str | None]] = {}
    for chunk in chunks(ids):
        for cid, key, name in session.execute(
            select(ContractParty.contract_id, ContractParty.party_key, ContractParty.name)
            .where(ContractParty.role == "buyer", ContractParty.contract_id.in_(chunk))
            .order_by(ContractParty.contract_id, ContractParty.id)
        ):
            out.setdefault(cid, (key, name))
    return out


def _of_supplier(key: str) -> Any:
    """The supplier's awarded contracts (a FROM/WHERE to build on)."""
    return contracts_of_party(key, "supplier")


def supplier_wins(
    session: Session,
    key: str,
    today: dt.date,
    *,
    held_only: bool = False,
    limit: int | None = None,
) -> list[Win]:
    """The supplier ``key``'s awarded contracts: newest award first, or (``held_only``)
    those held now, soonest end first; at most ``limit``."""
    return _wins(session, key, today, held_only, limit)[0]


def _columns() -> tuple[Any, ...]:
    return (
        Contract.id, Contract.notice_pk, Contract.title, Contract.lot_id, Contract.main_cpv,
        awarded_on(), Contract.value, Contract.currency, Contract.value_kind,
        Contract.value_shared, Contract.framework, Contract.end_date, Contract.latest_end,
        Contract.extension,
    )  # fmt: skip


def _to_wins(session: Session, rows: list[Any], today: dt.date) -> list[Win]:
    """Rows of ``_columns`` → wins, with their (first) buyers."""
    buyers = _buyers(session, [r[0] for r in rows])
    wins = []
    for cid, npk, title, lot, cpv, day, value, cur, kind, shared, fw, end, latest, ext in rows:
        bkey, bname = buyers.get(cid, (None, None))
        wins.append(
            Win(
                cid, npk, title, lot, bname, bkey, cpv, day, value, cur, kind, bool(shared),
                bool(fw), end, latest, next_end_of(end, latest, today),
                running(end, latest, ext, today),
            )
        )  # fmt: skip
    return wins


def _wins(
    session: Session, key: str, today: dt.date, held_only: bool, limit: int | None
) -> tuple[list[Win], int]:
    """``supplier_wins`` and how many there are in all (counted in the same pass, a window
    count: the supplier's contracts are read once for both; 0 when none is listed)."""
    award = awarded_on()
    stmt = _of_supplier(key).add_columns(*_columns(), func.count().over())
    if held_only:
        stmt = stmt.where(running_expr(today)).order_by(
            next_end_expr(today).is_(None), next_end_expr(today), Contract.id
        )
    else:
        stmt = stmt.order_by(award.is_(None), award.desc(), Contract.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = session.execute(stmt).all()
    wins = _to_wins(session, [tuple(r)[:-1] for r in rows], today)
    return wins, int(rows[0][-1]) if rows else 0


def _meets_us(
    session: Session, key: str, ours: frozenset[str], today: dt.date
) -> tuple[MeetsUs, ...]:
    """Our accounts where the supplier holds running agreements, with ours there."""
    found = session.execute(
        _of_supplier(key)
        .add_columns(
            ContractAccount.account_id,
            func.count(func.distinct(Contract.id)),
            func.min(next_end_expr(today)),
        )
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .where(ContractAccount.status != "rejected", running_expr(today))
        .group_by(ContractAccount.account_id)
    ).all()
    if not found:
        return ()
    accounts = [r[0] for r in found]
    names = dict(
        session.execute(select(Account.id, Account.name).where(Account.id.in_(accounts))).all()
    )
    ours_at: dict[int, int] = defaultdict(int)
    if ours:
        # From our contract parties (few) to all their accounts (read once per contract;
        # a filter on the accounts made SQLite probe every (account, contract) pair: 0.9 s
        # at 100,000 contracts); the accounts not met are left out below.
        for acc, n in session.execute(
            select(ContractAccount.account_id, func.count(func.distinct(Contract.id)))
            .select_from(ContractParty)
            .join(Contract, Contract.id == ContractParty.contract_id)
            .join(ContractAccount, ContractAccount.contract_id == Contract.id)
            .where(
                ContractParty.role == "supplier",
                ContractParty.orgnr.in_(sorted(ours)),
                ContractAccount.status != "rejected",
                awarded_contracts(),
                running_expr(today),
            )
            .group_by(ContractAccount.account_id)
        ):
            ours_at[acc] = n
    out = [MeetsUs(acc, names.get(acc, "?"), n, soon, ours_at[acc]) for acc, n, soon in found]
    out.sort(key=lambda m: (m.next_end or dt.date.max, m.account))
    return tuple(out)


def _our_cpvs(session: Session, cpvs: list[str], ours: frozenset[str]) -> set[str]:
    """The CPV codes of ``cpvs`` where we have won (our orgnrs are our party keys: from
    the summaries of our keys, not our contracts)."""
    t = MarketPartyFact
    found: set[str] = set()
    for chunk in chunks(cpvs):
        found.update(
            session.scalars(
                select(t.main_cpv)
                .where(t.role == "supplier", t.party_key.in_(sorted(ours)), t.main_cpv.in_(chunk))
                .group_by(t.main_cpv)
                .having(func.sum(t.contracts) > 0)
            )
        )
    return found


def supplier_page(
    session: Session,
    key: str,
    today: dt.date,
    ours: Iterable[str],
    *,
    buyer_rows: int | None = None,
) -> SupplierPage:
    """The supplier ``key``'s page (NotFoundError when no contract names it). Groups are
    counted in SQL; the held agreements and latest wins are the first ``LIST_ROWS``; the
    buyers the first ``buyer_rows`` (all when None: the export, the API)."""
    ident = session.execute(
        select(func.max(ContractParty.name), func.max(ContractParty.orgnr)).where(
            ContractParty.party_key == key, ContractParty.role == "supplier"
        )
    ).one()
    if ident[0] is None and ident[1] is None:
        raise NotFoundError(f"no supplier {key!r} in the contracts")
    mine = our_orgnrs(ours)
    is_us = bool(ident[1] and ident[1] in mine)
    by_year = party_groups(session, key, "supplier", "year")
    by_cpv = party_groups(session, key, "supplier", "main_cpv")
    buyer_names: dict[Any, str] = {}
    merged: dict[tuple[Any, ...], tuple[int, tuple[ValueSum, ...]]] = {}
    only = None if buyer_rows is None else top_counterparts(session, key, "supplier", buyer_rows)
    for (bkey, bname), v in party_pairs(session, key, "supplier", only).items():
        buyer_names[bkey] = bname or bkey
        merged[(bkey,)] = v
    contracts, values = party_groups(session, key, "supplier").get((), (0, ()))
    cpv_groups = _groups(by_cpv, lambda k: cpv_label(k[0] or "") or k[0] or "(ukjent)")
    shared_cpv: tuple[Group, ...] = ()
    if not is_us and mine:
        theirs = [g.key for g in cpv_groups if g.key != "?"]
        both = _our_cpvs(session, theirs, mine)
        shared_cpv = tuple(g for g in cpv_groups if g.key in both)
    held_now, held_count = _wins(session, key, today, True, LIST_ROWS)
    return SupplierPage(
        key=key,
        name=ident[0] or ident[1] or key,
        orgnr=ident[1],
        is_us=is_us,
        contracts=contracts,
        values=values,
        by_buyer=_groups(merged, lambda k: buyer_names.get(k[0]) or "(ukjent)")[:buyer_rows],
        by_cpv=cpv_groups,
        by_year=_groups(
            {(int(k[0]) if k[0] is not None else None,): v for k, v in by_year.items()},
            lambda k: str(k[0]) if k[0] is not None else "ukjent år",
            order="key",
        ),
        held_now=tuple(held_now),
        held_count=held_count,
        meets_us=() if is_us else _meets_us(session, key, mine, today),
        shared_cpv=shared_cpv,
        latest=tuple(_latest(session, key, today, contracts, by_year)),
    )


def _latest(
    session: Session, key: str, today: dt.date, contracts: int, by_year: dict[Any, Any]
) -> list[Win]:
    """The supplier's ``LIST_ROWS`` latest wins. A large supplier's (``WALK_FROM``
    contracts or more) from the newest awards down (the award day index) to the first
    day of the year by which it won ``LIST_ROWS`` (from ``by_year``, the summaries'
    counts), stopping at ``LIST_ROWS``: the largest holds 9,000, which the plain query
    reads and sorts; the order is the same (award day, then id, newest first)."""
    since = None
    if contracts >= WALK_FROM:
        seen = 0
        for (year,), (n, _) in sorted(
            ((k, v) for k, v in by_year.items() if k[0] is not None), reverse=True
        ):
            seen += n
            if seen >= LIST_ROWS:
                since = dt.date(int(year), 1, 1)
                break
    if since is None:
        return supplier_wins(session, key, today, limit=LIST_ROWS)
    award = awarded_on()
    party = (
        select(ContractParty.id)
        .where(
            ContractParty.contract_id == Contract.id,
            ContractParty.role == "supplier",
            ContractParty.party_key == key,
        )
        .exists()
    )
    rows = session.execute(
        select(*_columns())
        .where(award >= since, awarded_contracts(), party)
        .order_by(award.desc(), Contract.id.desc())
        .limit(LIST_ROWS)
    ).all()
    return _to_wins(session, list(rows), today)


def supplier_list(
    session: Session, q: str | None, limit: int, ours: Iterable[str]
) -> tuple[SupplierRow, ...]:
    """Suppliers with awarded contracts, most contracts first; ``q`` filters by a part of
    the name or the orgnr."""
    mine = our_orgnrs(ours)
    return tuple(
        SupplierRow(k, name or orgnr or k, orgnr, bool(orgnr and orgnr in mine), n, last)
        for k, name, orgnr, n, last in parties_with_awards(session, "supplier", q, limit)
    )
