"""Keep the market summaries (``tracker.market.facts``) in step with a change of contracts.

Counting a party, an account or an expiry month again from scratch costs as much as the
party is big: an ingest batch touches the busiest buyer, "us" and most accounts, and at
100,000 contracts each batch paid seconds. Instead, what the changed contracts add to the
summaries is counted before and after the change, and the difference is stored as rows
of its own (``Change``), which the pages add up with the rest: the cost follows the
contracts changed, not the parties' sizes. Counts and sums are exact; a counterpart's
name is the largest seen (it may outlive a removed contract). ``tracker derive`` counts
everything again into one row per key.

    with tracking(session, contract_ids) as change:   # before: what these contracts add
        ...write the contracts...
        change.also(new_contract_ids)                 # after: these and the new ones

Nested changes of the same session (the relinking inside a derivation) are counted by the
outer one. A contract written that was neither given nor new (no such case is known) is
counted again whole under the keys it has afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Contract,
    MarketAccountMonth,
    MarketExpiryMonth,
    MarketPartyFact,
    MarketPartyPair,
)
from tracker.db.models.market import (
    MarketBuyerProcedure,
    MarketBuyerTerm,
    MarketSupplierExpiry,
    MarketSupplierMonth,
    MarketSupplierNotice,
)
from tracker.market import buyer_terms, facts, supplier_facts
from tracker.market.common import chunks

ACTIVE = "tracker.market.changes"  # session.info key of the change being tracked
Sums = list[Any]  # contracts, count for the amount, amount, fourth count; or counts


@dataclass(frozen=True)
class Spec:
    """One summary table: its key columns, its four sums, which of them says whether the
    amount is known, and the queries of what some contracts add to it."""

    table: Any
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    owned: Callable[[Sums], int]
    queries: Callable[[list[int]], list[Any]]
    named: bool = False  # the query gives the counterpart's name after the keys
    amount: int | None = 2  # which sum is an amount (None: counts only)


def _pairs(ids: list[int]) -> list[Any]:
    return [facts._party_pairs(role, None, ids) for role in ("buyer", "supplier")]


SPECS = {
    "facts": Spec(
        MarketPartyFact,
        facts.FACT_COLUMNS,
        facts.VALUE_FIELDS,
        lambda v: v[1] - v[3],
        lambda ids: [facts._party_facts(role, None, ids) for role in ("buyer", "supplier")],
    ),
    "pairs": Spec(
        MarketPartyPair,
        ("role", "party_key", "other_key", "currency", "value_kind"),
        facts.VALUE_FIELDS,
        lambda v: v[1] - v[3],
        _pairs,
        named=True,
    ),
    "months": Spec(
        MarketAccountMonth,
        ("account_id", "year", "month", "currency"),
        ("contracts", "spend_n", "spend", "frameworks"),
        lambda v: v[1],
        lambda ids: [facts._account_months(None, ids)],
    ),
    "expiry": Spec(
        MarketExpiryMonth,
        ("at_accounts", "year", "month", "currency", "value_kind"),
        ("contracts", "own_n", "amount", "shared"),
        lambda v: v[1],
        lambda ids: [facts._expiry_months(None, ids)],
    ),
    # per supplier (tracker.market.supplier_facts)
    "supplier_expiry": Spec(
        MarketSupplierExpiry,
        supplier_facts.EXPIRY_KEYS,
        supplier_facts.EXPIRY_SUMS,
        lambda v: v[1],
        lambda ids: [supplier_facts.expiry_query(ids)],
    ),
    "supplier_months": Spec(
        MarketSupplierMonth,
        supplier_facts.MONTH_KEYS,
        supplier_facts.MONTH_SUMS,
        lambda v: v[1],
        lambda ids: [supplier_facts.months_query(ids)],
    ),
    "supplier_notices": Spec(
        MarketSupplierNotice,
        supplier_facts.NOTICE_KEYS,
        supplier_facts.NOTICE_SUMS,
        lambda v: v[1] - v[3],
        lambda ids: [supplier_facts.notices_query(ids)],
    ),
    # per buyer (tracker.market.buyer_terms)
    "buyer_terms": Spec(
        MarketBuyerTerm,
        buyer_terms.TERM_KEYS,
        buyer_terms.TERM_SUMS,
        lambda v: v[0],
        lambda ids: [buyer_terms.terms_query(ids)],
        amount=None,
    ),
    "buyer_procedures": Spec(
        MarketBuyerProcedure,
        buyer_terms.PROCEDURE_KEYS,
        buyer_terms.PROCEDURE_SUMS,
        lambda v: v[0],
        lambda ids: [buyer_terms.procedures_query(ids)],
        amount=None,
    ),
}
# what a relink changes
ACCOUNT_TABLES = ("months", "expiry", "supplier_expiry", "supplier_months")


def contributions(
    session: Session, ids: Iterable[int], tables: Iterable[str]
) -> dict[str, dict[tuple[Any, ...], tuple[Sums, str | None]]]:
    """What the contracts ``ids`` add to each summary of ``tables``: per key, the four
    sums and (pairs) the counterpart's largest name."""
    out: dict[str, dict[tuple[Any, ...], tuple[Sums, str | None]]] = {}
    for name in tables:
        spec = SPECS[name]
        found: dict[tuple[Any, ...], tuple[Sums, str | None]] = {}
        n = len(spec.keys)
        for chunk in chunks(sorted(set(ids)), 500):
            for query in spec.queries(chunk):
                for row in session.execute(query):
                    if spec.named:
                        key = tuple(row[:3]) + tuple(row[4 : n + 1])
                        label, sums = row[3], list(row[n + 1 :])
                    else:
                        key, label, sums = tuple(row[:n]), None, list(row[n:])
                    prev = found.get(key)
                    if prev is not None:  # the same key from two chunks
                        sums = _add(prev[0], sums, 1, spec.amount)
                        label = max((x for x in (prev[1], label) if x is not None), default=None)
                    found[key] = (sums, label)
        out[name] = found
    return out


def _add(a: Sums, b: Sums, sign: int, amount: int | None = 2) -> Sums:
    """``a + sign * b``: counts as integers, the sum at ``amount`` (a value table's
    amount; None: a table of counts) as a Decimal, None while unknown."""
    out: Sums = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if i != amount:
            out.append(int(x or 0) + sign * int(y or 0))
        elif y is None:
            out.append(x)
        else:
            out.append((Decimal(x) if x is not None else Decimal(0)) + sign * Decimal(y))
    return out


def _apply_table(session: Session, spec: Spec, before: dict, after: dict) -> None:
    """Add the difference as rows of its own (negative where something went): the pages
    add up a key's rows (``facts.party_groups``), so nothing is read or rewritten here."""
    rows = []
    blank: Sums = [None if i == spec.amount else 0 for i in range(len(spec.sums))]
    zero: tuple[Sums, str | None] = (blank, None)
    for key in set(before) | set(after):
        d = _add(after.get(key, zero)[0], before.get(key, zero)[0], -1, spec.amount)
        if not any(x for x in d if x is not None):
            continue
        row = {**dict(zip(spec.keys, key, strict=True)), **dict(zip(spec.sums, d, strict=True))}
        if spec.named:
            row["other_name"] = after.get(key, before.get(key, zero))[1]
        rows.append(row)
    for chunk in chunks(rows, 1000):
        session.execute(insert(spec.table), chunk)


@dataclass
class Change:
    """The summaries' part of a change of contracts: counted before, applied after."""

    ids: set[int]
    tables: tuple[str, ...]
    before: dict[str, dict] = field(default_factory=dict)
    newest: int = 0  # contracts above this id are new
    later: set[int] = field(default_factory=set)
    nested: bool = False  # inside another tracked change: the outer one counts it

    def also(self, ids: Iterable[int]) -> None:
        """Contracts written besides those given (new ones among them)."""
        self.later.update(ids)

    def apply(self, session: Session) -> None:
        session.flush()
        strays = {i for i in self.later - self.ids if i <= self.newest}
        after = contributions(session, self.ids | self.later, self.tables)
        for name in self.tables:
            _apply_table(session, SPECS[name], self.before[name], after[name])
        session.flush()
        if strays:  # written, not given, not new: count their keys again whole
            touched = facts.touched_by_contracts(session, strays)
            if "facts" in self.tables:
                facts.refresh_parties(session, touched.parties)
            facts.refresh_accounts(session, touched.accounts, touched.months)


def _active(session: Session) -> Change | None:
    """The change tracked in the session's current transaction (a rolled-back one's
    change is forgotten)."""
    found = session.info.get(ACTIVE)
    if found is None or found[1] is not session.get_transaction():
        return None
    return found[0]


def start(session: Session, ids: Iterable[int], tables: Iterable[str] = tuple(SPECS)) -> Change:
    """Count what the contracts ``ids`` add to the summaries ``tables`` now; ``finish``
    adds the difference after the change. Inside another tracked change of the session
    (in the same transaction) the outer one counts it and this one does nothing."""
    change = Change(set(ids), tuple(tables))
    if _active(session) is not None:
        change.nested = True
        return change
    session.flush()
    change.newest = session.scalar(select(func.max(Contract.id))) or 0
    change.before = contributions(session, change.ids, change.tables)
    session.info[ACTIVE] = (change, session.get_transaction())
    return change


def finish(session: Session, change: Change) -> None:
    if change.nested:
        return
    session.info.pop(ACTIVE, None)
    change.apply(session)


@contextmanager
def tracking(
    session: Session, ids: Iterable[int], tables: Iterable[str] = tuple(SPECS)
) -> Iterator[Change]:
    """``start``, the block, ``finish`` (not after an error: the caller rolls back)."""
    change = start(session, ids, tables)
    try:
        yield change
    except BaseException:
        if not change.nested:
            session.info.pop(ACTIVE, None)
        raise
    finish(session, change)
