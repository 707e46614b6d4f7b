"""A buyer's terms, options, extension habit and procedures, kept per buyer (migration 0010).

The buyer page read every contract of the buyer (8,000 for the busiest at the issue's full
size) for these; two tables hold them instead:

- ``market_buyer_terms``: per buyer, base term and option term in whole days (None where
  unknown), and for contracts with options the year and month their base period ends
  and whether they show an extension: contracts, frameworks, modified contracts;
- ``market_buyer_procedures``: per buyer, procedure type and procedure (its id, else the
  notice's key): contracts (a buyer's procedures of a type are the keys left with some).

What depends on today (options whose base period has ended) is cut at the month: the
months before this one from the summary, this one from the contracts ending in it (the
end date index). Kept like the other summaries (``tracker.market.changes``; per buyer in
``facts.refresh_parties``; ``facts.rebuild``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, delete, func, insert, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from tracker.db.models import Contract, ContractParty
from tracker.db.models.market import MarketBuyerProcedure, MarketBuyerTerm
from tracker.market.common import awarded_contracts, chunks
from tracker.market.facts import month_of, year_of

TERM_KEYS = ("buyer_key", "base_days", "option_days", "end_year", "end_month", "extended")
TERM_SUMS = ("contracts", "frameworks", "modified")
PROCEDURE_KEYS = ("buyer_key", "procedure_type", "ident")
PROCEDURE_SUMS = ("contracts",)
EXTENDED = ("probably_extended", "modified")
BUYER = ContractParty.role == "buyer"


class days_between(FunctionElement[int]):  # noqa: N801 - an SQL function
    """Whole days from one date to another (PostgreSQL: date subtraction)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_pg(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"({compiler.process(b, **kw)} - {compiler.process(a, **kw)})"


@compiles(days_between, "sqlite")
def _days_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    b_sql, a_sql = compiler.process(b, **kw), compiler.process(a, **kw)
    return f"CAST(julianday({b_sql}) - julianday({a_sql}) AS INTEGER)"


def _with_options() -> Any:
    end, latest = Contract.end_date, Contract.latest_end
    return and_(end.is_not(None), latest.is_not(None), latest > end)


def terms_query(ids: list[int] | None = None, keys: list[str] | None = None) -> Any:
    start, end, latest = Contract.start_date, Contract.end_date, Contract.latest_end
    options = _with_options()
    has_term = and_(start.is_not(None), end.is_not(None), end >= start)
    base = case((has_term, days_between(start, end)))
    option = case((options, days_between(end, latest)))
    end_y, end_m = case((options, year_of(end))), case((options, month_of(end)))
    extended = case((options, case((Contract.extension.in_(EXTENDED), True), else_=False)))
    modified = or_(Contract.modified_by_notice_pk.is_not(None), Contract.extension == "modified")
    stmt = (
        select(
            ContractParty.party_key, base, option, end_y, end_m, extended,
            func.count(Contract.id), func.sum(case((Contract.framework.is_(True), 1), else_=0)),
            func.sum(case((modified, 1), else_=0)),
        )
        .select_from(ContractParty)
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(BUYER, awarded_contracts())
        .group_by(ContractParty.party_key, base, option, end_y, end_m, extended)
    )  # fmt: skip
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    return stmt if keys is None else stmt.where(ContractParty.party_key.in_(keys))


def _ident() -> Any:
    return func.coalesce(Contract.procedure_id, cast(Contract.notice_pk, String))


def procedures_query(ids: list[int] | None = None, keys: list[str] | None = None) -> Any:
    ident = _ident()
    stmt = (
        select(ContractParty.party_key, Contract.procedure_type, ident, func.count(Contract.id))
        .select_from(ContractParty)
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(BUYER, awarded_contracts())
        .group_by(ContractParty.party_key, Contract.procedure_type, ident)
    )
    if ids is not None:
        stmt = stmt.where(ContractParty.contract_id.in_(ids))
    return stmt if keys is None else stmt.where(ContractParty.party_key.in_(keys))


def _write(session: Session, keys: list[str] | None) -> None:
    session.execute(
        insert(MarketBuyerTerm).from_select([*TERM_KEYS, *TERM_SUMS], terms_query(None, keys))
    )
    session.execute(
        insert(MarketBuyerProcedure).from_select(
            [*PROCEDURE_KEYS, *PROCEDURE_SUMS], procedures_query(None, keys)
        )
    )


def refresh(session: Session, keys: list[str]) -> None:
    """Count the buyers ``keys`` again."""
    for chunk in chunks(sorted(set(keys)), 500):
        for table in (MarketBuyerTerm, MarketBuyerProcedure):
            session.execute(delete(table).where(table.buyer_key.in_(chunk)))
        _write(session, chunk)


def rebuild(session: Session) -> None:
    """Count every buyer again (``facts.rebuild``)."""
    for table in (MarketBuyerTerm, MarketBuyerProcedure):
        session.execute(delete(table))
    _write(session, None)


# --------------------------------------------------------------------------- reading


def term_rows(session: Session, key: str, today: dt.date) -> tuple[list[Any], list[int]]:
    """The buyer ``key``'s (base days, option days, contracts) and its totals: contracts,
    options ended before ``today``, of those extended, frameworks, modified contracts."""
    t = MarketBuyerTerm
    month = dt.date(today.year, today.month, 1)
    before = or_(t.end_year < month.year, and_(t.end_year == month.year, t.end_month < month.month))
    ended = and_(t.option_days.is_not(None), before)
    rows = session.execute(
        select(
            t.base_days, t.option_days, func.sum(t.contracts),
            func.sum(case((ended, t.contracts), else_=0)),
            func.sum(case((and_(ended, t.extended.is_(True)), t.contracts), else_=0)),
            func.sum(t.frameworks), func.sum(t.modified),
        )
        .where(t.buyer_key == key)
        .group_by(t.base_days, t.option_days)
    ).all()  # fmt: skip
    totals = [sum(int(r[i] or 0) for r in rows) for i in (2, 3, 4, 5, 6)]
    # this month's: the contracts whose base period ended in it before today
    end = Contract.end_date
    buyer = (
        select(ContractParty.id)
        .where(ContractParty.contract_id == Contract.id, BUYER, ContractParty.party_key == key)
        .exists()
    )
    live = session.execute(
        select(
            func.count(Contract.id),
            func.sum(case((Contract.extension.in_(EXTENDED), 1), else_=0)),
        ).where(_with_options(), end >= month, end < today, awarded_contracts(), buyer)
    ).one()
    totals[1] += int(live[0] or 0)
    totals[2] += int(live[1] or 0)
    return [r[:3] for r in rows], totals


def procedure_counts(session: Session, key: str) -> list[tuple[str | None, int]]:
    """(procedure type, procedures) of the buyer ``key``."""
    t = MarketBuyerProcedure
    kept = (
        select(t.procedure_type, t.ident)
        .where(t.buyer_key == key)
        .group_by(t.procedure_type, t.ident)
        .having(func.sum(t.contracts) > 0)
        .subquery()
    )
    return [
        (code, int(n))
        for code, n in session.execute(
            select(kept.c.procedure_type, func.count(kept.c.ident)).group_by(kept.c.procedure_type)
        )
    ]
