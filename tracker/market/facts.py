"""The market summaries: the contract facts added up once, read by the market pages.

A supplier's or a buyer's page and the director's charts otherwise add up every contract
of the party (tens of thousands for the busiest buyer) on every request. Four tables hold
the sums (``tracker.db.models``, migration 0009):

- ``market_party_facts``: per buyer or supplier, award year, main CPV, currency and value
  kind (the supplier's and buyer's groups by year and CPV, their totals);
- ``market_party_pairs``: per buyer or supplier and counterpart, currency and value kind
  (a supplier's buyers, a buyer's suppliers);
- ``market_account_months``: per account, award month and currency (share of wallet);
- ``market_expiry_months``: per hard-expiry month, at our accounts or not, currency and
  value kind (expiring value by quarter).

Each row counts contracts, contracts with a value, the sum of own values and the shared
ceilings (counted, never summed), with the same SQL expressions the pages used
(``tracker.market.common``), so a page shows the same numbers as a recount. "Ours" is a
setting, so it is not stored: the same sums per supplier (``tracker.market.supplier_facts``,
migration 0010) are added up over our keys when read. A buyer's terms and procedures are
kept per buyer (``tracker.market.buyer_terms``). Rebuilt and refreshed with these.

Who refreshes: what a change touches (``Touched``: the parties, accounts and expiry
months of the contracts, read before and after) is counted again.
``tracker.ops.derive.after_ingest`` reads it for the procedures it derives and
``tracker.contracts.agreements.store_agreements`` for the agreements it stores;
``tracker.linking.links.refresh_contract_accounts`` (every contract write and every link
decision ends there) refreshes the accounts and expiry months of its contracts;
``tracker derive`` calls ``rebuild``.

Freshness: ``rebuild`` records ``SUMMARY_VERSION`` in the ``kv`` table (``MARKER``).
Migrations create summary tables empty and never fill them (they must not run app code);
``tracker.db.migrate.upgrade`` calls ``refresh_if_stale`` after them, which rebuilds when
the marker is missing or older. A change of what a summary holds (a new table or column,
another way of counting) raises ``SUMMARY_VERSION``, so the next upgrade counts again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, case, cast, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Contract,
    ContractAccount,
    ContractParty,
    KeyValue,
    MarketAccountMonth,
    MarketExpiryMonth,
    MarketPartyFact,
    MarketPartyPair,
    Notice,
    utcnow,
)
from tracker.enums import LinkStatus
from tracker.market.common import awarded_contracts, awarded_on, chunks, fold

PartyKey = tuple[str, str]  # (role, party_key)
SUMMARY_VERSION = 3  # raise when what the summaries hold changes (a rebuild follows)
MARKER = "market_summaries"  # kv key: {"version": SUMMARY_VERSION of the last rebuild}
VALUE_FIELDS = ("contracts", "with_value", "amount", "shared")


def year_of(day: Any) -> Any:
    """The year of a date expression as an integer (both backends)."""
    return cast(func.extract("year", day), Integer)


def month_of(day: Any) -> Any:
    return cast(func.extract("month", day), Integer)


def _value_sums() -> tuple[Any, ...]:
    """contracts, contracts with a value, the sum of own values, shared ceilings with a
    value: ``common.value_columns`` without the group keys."""
    shared = Contract.value_shared.is_(True)
    return (
        func.count(Contract.id),
        func.count(Contract.value),
        func.sum(case((shared, None), else_=Contract.value)),
        func.sum(case((and_(shared, Contract.value.is_not(None)), 1), else_=0)),
    )


@dataclass
class Touched:
    """What a change of some contracts may change in the summaries: their parties, their
    accounts and the months of their hard expiry. Read before and after the change."""

    parties: set[PartyKey] = field(default_factory=set)
    accounts: set[int] = field(default_factory=set)
    months: set[tuple[int, int]] = field(default_factory=set)

    def __or__(self, other: Touched) -> Touched:
        return Touched(
            self.parties | other.parties,
            self.accounts | other.accounts,
            self.months | other.months,
        )


def touched_by_contracts(session: Session, contract_ids: Iterable[int]) -> Touched:
    """The parties, accounts and expiry months of the contracts ``contract_ids`` now."""
    out = Touched()
    expiry = func.coalesce(Contract.latest_end, Contract.end_date)
    for chunk in chunks(sorted(set(contract_ids))):
        out.parties.update(
            (role, key)
            for role, key in session.execute(
                select(ContractParty.role, ContractParty.party_key)
                .where(ContractParty.contract_id.in_(chunk))
                .distinct()
            )
        )
        out.accounts.update(
            session.scalars(
                select(ContractAccount.account_id)
                .where(ContractAccount.contract_id.in_(chunk))
                .distinct()
            )
        )
        out.months.update(
            (day.year, day.month)
            for day in session.scalars(
                select(expiry).where(Contract.id.in_(chunk), expiry.is_not(None)).distinct()
            )
        )
    return out


def contracts_of_notices(session: Session, notice_pks: Iterable[int]) -> set[int]:
    """The contracts that deriving ``notice_pks`` may change or remove: those of the
    notices' procedures and of the notices themselves."""
    ids: set[int] = set()
    for chunk in chunks(sorted(set(notice_pks))):
        procedures = select(Notice.procedure_id).where(
            Notice.id.in_(chunk), Notice.procedure_id.is_not(None)
        )
        ids.update(
            session.scalars(
                select(Contract.id).where(
                    or_(Contract.procedure_id.in_(procedures), Contract.notice_pk.in_(chunk))
                )
            )
        )
    return ids


def refresh(session: Session, touched: Touched) -> None:
    """Count again every summary ``touched`` names; flushes."""
    refresh_parties(session, touched.parties)
    refresh_accounts(session, touched.accounts, touched.months)


def _party_facts(role: str, keys: list[str] | None, ids: list[int] | None = None) -> Any:
    year = year_of(awarded_on())
    stmt = (
        select(
            ContractParty.role, ContractParty.party_key, year, Contract.main_cpv,
            Contract.currency, Contract.value_kind, *_value_sums(),
        )
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(ContractParty.role == role, awarded_contracts())
        .group_by(
            ContractParty.role, ContractParty.party_key, year, Contract.main_cpv,
            Contract.currency, Contract.value_kind,
        )
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    return stmt if keys is None else stmt.where(ContractParty.party_key.in_(keys))


def _party_pairs(role: str, keys: list[str] | None, ids: list[int] | None = None) -> Any:
    party = ContractParty.__table__.alias("party")
    other = ContractParty.__table__.alias("other")
    stmt = (
        select(
            party.c.role, party.c.party_key, other.c.party_key, func.max(other.c.name),
            Contract.currency, Contract.value_kind, *_value_sums(),
        )
        .select_from(party)
        .join(Contract, Contract.id == party.c.contract_id)
        .join(other, and_(other.c.contract_id == Contract.id, other.c.role != party.c.role))
        .where(party.c.role == role, awarded_contracts())
        .group_by(
            party.c.role, party.c.party_key, other.c.party_key, Contract.currency,
            Contract.value_kind,
        )
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(party.c.contract_id.in_(ids))
    return stmt if keys is None else stmt.where(party.c.party_key.in_(keys))


FACT_COLUMNS = ("role", "party_key", "year", "main_cpv", "currency", "value_kind")
PAIR_COLUMNS = ("role", "party_key", "other_key", "other_name", "currency", "value_kind")


def _write_parties(session: Session, role: str, keys: list[str] | None) -> None:
    session.execute(
        insert(MarketPartyFact).from_select(
            [*FACT_COLUMNS, *VALUE_FIELDS], _party_facts(role, keys)
        )
    )
    session.execute(
        insert(MarketPartyPair).from_select(
            [*PAIR_COLUMNS, *VALUE_FIELDS], _party_pairs(role, keys)
        )
    )


def refresh_parties(session: Session, keys: Iterable[PartyKey]) -> int:
    """Count again the summaries of the parties ``keys`` ((role, party key)); flushes.
    Returns the number of parties refreshed."""
    session.flush()
    by_role: dict[str, list[str]] = {}
    for role, key in set(keys):
        by_role.setdefault(role, []).append(key)
    for role, role_keys in by_role.items():
        for chunk in chunks(sorted(role_keys), 500):
            for table in (MarketPartyFact, MarketPartyPair):
                session.execute(delete(table).where(table.role == role, table.party_key.in_(chunk)))
            _write_parties(session, role, chunk)
    from tracker.market import buyer_terms, supplier_facts  # the same per party

    if by_role.get("supplier"):
        supplier_facts.refresh_suppliers(session, by_role["supplier"])
    if by_role.get("buyer"):
        buyer_terms.refresh(session, by_role["buyer"])
    return sum(len(v) for v in by_role.values())


def _at_accounts() -> Any:
    """A contract with a link to one of our accounts that is not rejected (correlated:
    one index lookup per contract, also when few months are counted)."""
    return (
        select(ContractAccount.id)
        .where(
            ContractAccount.contract_id == Contract.id,
            ContractAccount.status != LinkStatus.REJECTED,
        )
        .exists()
    )


def _account_months(accounts: list[int] | None, ids: list[int] | None = None) -> Any:
    award = awarded_on()
    spend = and_(Contract.value_kind == "tender", Contract.value_shared.is_not(True))
    stmt = (
        select(
            ContractAccount.account_id, year_of(award), month_of(award), Contract.currency,
            func.count(Contract.id),
            func.count(case((spend, Contract.value), else_=None)),
            func.sum(case((spend, Contract.value), else_=None)),
            func.sum(case((Contract.framework.is_(True), 1), else_=0)),
        )
        .join(Contract, Contract.id == ContractAccount.contract_id)
        .where(ContractAccount.status != LinkStatus.REJECTED, awarded_contracts())
        .group_by(ContractAccount.account_id, year_of(award), month_of(award), Contract.currency)
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(ContractAccount.contract_id.in_(ids))
    return stmt if accounts is None else stmt.where(ContractAccount.account_id.in_(accounts))


def _expiry_months(month: tuple[int, int] | None, ids: list[int] | None = None) -> Any:
    expiry = func.coalesce(Contract.latest_end, Contract.end_date)
    at = case((_at_accounts(), True), else_=False)
    shared = Contract.value_shared.is_(True)
    own = case((and_(Contract.value.is_not(None), Contract.value_shared.is_not(True)), 1))
    stmt = (
        select(
            at, year_of(expiry), month_of(expiry), Contract.currency, Contract.value_kind,
            func.count(Contract.id), func.count(own),
            func.sum(case((shared, None), else_=Contract.value)),
            func.sum(case((and_(shared, Contract.value.is_not(None)), 1), else_=0)),
        )
        .where(awarded_contracts(), expiry.is_not(None))
        .group_by(at, year_of(expiry), month_of(expiry), Contract.currency, Contract.value_kind)
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(Contract.id.in_(ids))
    if month is None:
        return stmt
    return stmt.where(*in_month(expiry, month))  # the expression index 0007


def in_month(day: Any, month: tuple[int, int]) -> tuple[Any, Any]:
    """Conditions that the date expression ``day`` lies in ``month`` (year, month), as a
    range an index on ``day`` can serve."""
    first = dt.date(month[0], month[1], 1)
    after = dt.date(month[0] + month[1] // 12, month[1] % 12 + 1, 1)
    return day >= first, day < after


ACCOUNT_MONTH_COLUMNS = (
    "account_id", "year", "month", "currency", "contracts", "spend_n", "spend", "frameworks",
)  # fmt: skip
EXPIRY_COLUMNS = (
    "at_accounts", "year", "month", "currency", "value_kind", "contracts", "own_n", "amount",
    "shared",
)  # fmt: skip


def refresh_accounts(
    session: Session,
    accounts: Iterable[int] | None = None,
    months: Iterable[tuple[int, int]] | None = None,
) -> None:
    """Count again the account summaries of ``accounts`` and the expiry summaries of the
    expiry ``months`` ((year, month)); all of both when both are None. Flushes."""
    session.flush()
    from tracker.market import supplier_facts  # the same per supplier

    accounts = None if accounts is None else sorted(set(accounts))
    months = None if months is None else sorted(set(months))
    supplier_facts.refresh_accounts(session, accounts, months)
    whole = accounts is None and months is None
    if whole:
        session.execute(delete(MarketAccountMonth))
        session.execute(
            insert(MarketAccountMonth).from_select(ACCOUNT_MONTH_COLUMNS, _account_months(None))
        )
        session.execute(delete(MarketExpiryMonth))
        session.execute(insert(MarketExpiryMonth).from_select(EXPIRY_COLUMNS, _expiry_months(None)))
        session.flush()
        return
    for chunk in chunks(list(accounts or ()), 500):
        session.execute(delete(MarketAccountMonth).where(MarketAccountMonth.account_id.in_(chunk)))
        session.execute(
            insert(MarketAccountMonth).from_select(ACCOUNT_MONTH_COLUMNS, _account_months(chunk))
        )
    for year, month in months or ():
        t = MarketExpiryMonth
        session.execute(delete(t).where(t.year == year, t.month == month))
        session.execute(insert(t).from_select(EXPIRY_COLUMNS, _expiry_months((year, month))))
    session.flush()


def rebuild(session: Session) -> None:
    """Count every summary again from the contracts and notices (``tracker derive``, the
    bench, ``refresh_if_stale`` after migrations) and mark them fresh; flushes."""
    from tracker.market import buyer_notices

    buyer_notices.rebuild(session)
    for table in (MarketPartyFact, MarketPartyPair):
        session.execute(delete(table))
    for role in ("buyer", "supplier"):
        _write_parties(session, role, None)
    from tracker.market import buyer_terms, supplier_facts

    buyer_terms.rebuild(session)
    supplier_facts.rebuild_notices(session)  # the months and expiry: refresh_accounts
    refresh_accounts(session)
    _mark(session)


def summary_version(session: Session) -> int | None:
    """The ``SUMMARY_VERSION`` of the last ``rebuild`` of this database (None: never)."""
    value = session.scalar(select(KeyValue.value).where(KeyValue.key == MARKER))
    version = value.get("version") if isinstance(value, dict) else None
    return version if isinstance(version, int) else None


def _mark(session: Session) -> None:
    row = session.get(KeyValue, MARKER)
    if row is None:
        session.add(KeyValue(key=MARKER, value={"version": SUMMARY_VERSION}))
    else:
        row.value = {"version": SUMMARY_VERSION}
        row.updated_at = utcnow()
    session.flush()


def refresh_if_stale(session: Session) -> bool:
    """Rebuild the summaries when the last rebuild was by an older ``SUMMARY_VERSION`` or
    never happened (a database just migrated), or when contracts have parties and the
    summaries none (emptied behind the marker's back); True when it rebuilt. A database
    with neither notices nor contracts has nothing to count and gets no marker (what is
    stored later is counted as it comes). Flushes."""
    has_parties = session.scalar(select(ContractParty.id).limit(1)) is not None
    if not has_parties and session.scalar(select(Notice.id).limit(1)) is None:
        return False  # nothing to count (a new database): no marker either
    version = summary_version(session)
    empty = has_parties and session.scalar(select(MarketPartyFact.id).limit(1)) is None
    if version is not None and version >= SUMMARY_VERSION and not empty:
        return False
    rebuild(session)
    return True


# --------------------------------------------------------------------------- reading


def _summed(table: Any) -> tuple[Any, ...]:
    """The columns ``common.fold`` reads, added up over summary rows: currency, kind,
    contracts with a value, own values (None when none is left), shared ceilings,
    contracts. A key may have several rows (``tracker.market.changes`` adds differences)."""
    own = func.sum(table.with_value) - func.sum(table.shared)
    return (
        table.currency,
        table.value_kind,
        func.sum(table.with_value),
        case((own > 0, func.sum(table.amount)), else_=None),
        func.sum(table.shared),
        func.sum(table.contracts),
    )


def party_groups(session: Session, key: str, role: str, *dims: str) -> dict[tuple[Any, ...], Any]:
    """A party's awarded contracts grouped by ``dims`` (columns of ``market_party_facts``:
    ``year``, ``main_cpv``; none for the totals), as ``common.fold`` returns them."""
    t = MarketPartyFact
    columns = [getattr(t, d) for d in dims]
    return fold(
        session.execute(
            select(*columns, *_summed(t))
            .where(t.party_key == key, t.role == role)
            .group_by(*columns, t.currency, t.value_kind)
            .having(func.sum(t.contracts) > 0)
        ),
        len(dims),
    )


def party_pairs(
    session: Session, key: str, role: str, others: list[str] | None = None
) -> dict[tuple[Any, ...], Any]:
    """A party's awarded contracts per counterpart (only ``others`` when given): ``(other
    key, other name)`` → as ``common.fold`` returns them (the name: the largest given in a
    group)."""
    t = MarketPartyPair
    stmt = (
        select(t.other_key, func.max(t.other_name), *_summed(t))
        .where(t.party_key == key, t.role == role)
        .group_by(t.other_key, t.currency, t.value_kind)
        .having(func.sum(t.contracts) > 0)
    )
    if others is not None:
        stmt = stmt.where(t.other_key.in_(others))
    return fold(session.execute(stmt), 2)


def top_counterparts(session: Session, key: str, role: str, limit: int) -> list[str]:
    """The keys of a party's ``limit`` counterparts with most contracts (ties by name, as
    the pages order them; a few more than ``limit`` are taken for the ties): a page lists
    the first few of thousands, and only theirs are read and folded."""
    t = MarketPartyPair
    n = func.sum(t.contracts)
    return list(
        session.scalars(
            select(t.other_key)
            .where(t.party_key == key, t.role == role)
            .group_by(t.other_key)
            .having(n > 0)
            .order_by(n.desc(), func.coalesce(func.max(t.other_name), t.other_key), t.other_key)
            .limit(limit + 10)
        )
    )
