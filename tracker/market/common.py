"""What every market read model shares: value sums per currency and kind, 'ours', years."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from tracker.db.models import Contract, ContractParty

# Value kinds of contracts.value_kind (tracker.contracts.build.value_of), in display order; the
# labels are English msgids, translated where they are shown (``_(v.label)``).
KIND_ORDER = ("tender", "estimated", "framework_max")
KIND_LABELS = {
    "tender": "awarded value",
    "estimated": "estimated value",
    "framework_max": "framework maximum",
    None: "unknown value kind",
}


@dataclass(frozen=True)
class ValueSum:
    """Values of one currency and one kind. ``amount`` adds the contracts' own values;
    ``shared`` counts the contracts whose value is a ceiling shared by parallel suppliers
    (listed, never summed); ``contracts`` counts every contract of the group."""

    currency: str | None
    kind: str | None
    amount: Decimal | None
    contracts: int
    shared: int = 0

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind or KIND_LABELS[None])

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "kind": self.kind,
            "amount": float(self.amount) if self.amount is not None else None,
            "contracts": self.contracts,
            "shared_not_summed": self.shared,
        }


def _kind_rank(kind: str | None) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def sum_values(
    rows: Iterable[tuple[Decimal | None, str | None, str | None, bool | None]],
) -> tuple[ValueSum, ...]:
    """``(value, currency, kind, shared)`` rows → one ``ValueSum`` per (currency, kind)
    with a known value; rows without a value are not counted here."""
    acc: dict[tuple[str | None, str | None], list[Any]] = defaultdict(lambda: [None, 0, 0])
    for value, currency, kind, shared in rows:
        if value is None:
            continue
        a = acc[(currency, kind)]
        a[1] += 1
        if shared:
            a[2] += 1
        else:
            a[0] = (a[0] or Decimal(0)) + Decimal(value)
    return tuple(
        ValueSum(cur, kind, a[0], a[1], a[2])
        for (cur, kind), a in sorted(
            acc.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or "", _kind_rank(kv[0][1]))
        )
    )


def spend(values: Iterable[ValueSum], currency: str | None = None) -> Decimal | None:
    """The awarded value (kind ``tender``, own values only) of ``currency`` (any when
    None): what was bought, never a framework maximum or an estimate."""
    total: Decimal | None = None
    for v in values:
        if (
            v.kind == "tender"
            and v.amount is not None
            and (currency is None or v.currency == currency)
        ):
            total = (total or Decimal(0)) + v.amount
    return total


def our_orgnrs(given: Iterable[str]) -> frozenset[str]:
    """Our own organisation numbers (setting ``our_orgnrs``, passed in by the caller) as a
    set, as incumbency decides 'us': a supplier is ours when its orgnr is one of them."""
    return frozenset(str(x).strip() for x in given if str(x).strip())


def awarded_on() -> ColumnElement[Any]:
    """The day a contract was awarded as far as the facts say: conclusion, award
    decision, else its start."""
    return func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)


def year_of(day: dt.date | None) -> int | None:
    return day.year if day is not None else None


def awarded_contracts() -> ColumnElement[bool]:
    """Contracts that were awarded (not the expected ones seeded from an open competition)."""
    return Contract.expected.is_not(True)


def next_end_of(end: dt.date | None, latest: dt.date | None, today: dt.date) -> dt.date | None:
    """The next end after ``today``: the base end while it is ahead, else the latest end."""
    if end is not None and end >= today:
        return end
    if latest is not None and latest >= today:
        return latest
    return None


def running(
    end: dt.date | None, latest: dt.date | None, extension: str | None, today: dt.date
) -> bool:
    """Held now: an end (base or latest) ahead, or probably extended, or no end known."""
    if end is None and latest is None:
        return True
    return next_end_of(end, latest, today) is not None or extension == "probably_extended"


def median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def chunks(items: list[Any], size: int = 2000) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def value_columns() -> tuple[Any, ...]:
    """Aggregate columns for ``fold``: currency, kind, contracts with a value, the sum of
    own values, the number of shared ceilings, all contracts."""
    shared = Contract.value_shared.is_(True)
    return (
        Contract.currency,
        Contract.value_kind,
        func.count(Contract.value),
        func.sum(case((shared, None), else_=Contract.value)),
        func.sum(case((and_(shared, Contract.value.is_not(None)), 1), else_=0)),
        func.count(Contract.id),
    )


def fold(
    rows: Iterable[Any], nkeys: int
) -> dict[tuple[Any, ...], tuple[int, tuple[ValueSum, ...]]]:
    """Rows of ``(*group keys, *value_columns())`` → per group key: (contracts, value sums)."""
    acc: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = tuple(row[:nkeys])
        cur, kind, with_value, amount, shared, n = row[nkeys:]
        a = acc.setdefault(key, [0, []])
        a[0] += int(n)
        if with_value:
            amt = Decimal(amount) if amount is not None else None
            a[1].append(ValueSum(cur, kind, amt, int(with_value), int(shared or 0)))
    return {
        k: (
            n,
            tuple(
                sorted(vs, key=lambda v: (v.currency is None, v.currency or "", _kind_rank(v.kind)))
            ),
        )
        for k, (n, vs) in acc.items()
    }


def median_of_counts(counts: Iterable[tuple[float, int]]) -> float | None:
    """The median of values given as (value, how many times)."""
    pairs = sorted((float(v), int(n)) for v, n in counts if v is not None and n)
    total = sum(n for _, n in pairs)
    if not total:
        return None

    def nth(i: int) -> float:
        seen = 0
        for v, n in pairs:
            seen += n
            if i < seen:
                return v
        return pairs[-1][0]

    if total % 2:
        return nth(total // 2)
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


def next_end_expr(today: dt.date) -> ColumnElement[Any]:
    """SQL of ``next_end_of``: the base end while ahead, else the latest end."""
    return case((Contract.end_date >= today, Contract.end_date), else_=Contract.latest_end)


def running_expr(today: dt.date) -> ColumnElement[bool]:
    """SQL of ``running``."""
    return or_(
        and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)),
        Contract.end_date >= today,
        Contract.latest_end >= today,
        Contract.extension == "probably_extended",
    )


def parties_with_awards(
    session: Session, role: str, q: str | None, limit: int
) -> list[tuple[str, str | None, str | None, int, dt.date | None]]:
    """``(party_key, name, orgnr, contracts, last award)`` of the buyers or suppliers
    (``role``) of awarded contracts, most contracts first; ``q`` is an orgnr or a part of
    the name (case-insensitive). The one query behind the buyer and supplier lists."""
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    count = func.count(ContractParty.contract_id)
    stmt = (
        select(
            ContractParty.party_key,
            func.max(ContractParty.name),
            func.max(ContractParty.orgnr),
            count,
            func.max(award),
        )
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(ContractParty.role == role, awarded_contracts())
        .group_by(ContractParty.party_key)
        .order_by(count.desc(), ContractParty.party_key)
        .limit(limit)
    )
    text = (q or "").strip()
    if text.isdigit():
        stmt = stmt.where(ContractParty.orgnr == text)
    elif text:
        stmt = stmt.where(func.lower(ContractParty.name).contains(text.casefold(), autoescape=True))
    return [(k, name, orgnr, n, last) for k, name, orgnr, n, last in session.execute(stmt)]


def contracts_of_party(key: str, role: str) -> Any:
    """The awarded contracts of one buyer or supplier (``role``): a FROM/WHERE to build on."""
    return (
        select()
        .select_from(Contract)
        .join(ContractParty, ContractParty.contract_id == Contract.id)
        .where(ContractParty.party_key == key, ContractParty.role == role)
        .where(awarded_contracts())
    )
