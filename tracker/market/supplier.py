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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from tracker.codelists import cpv_label
from tracker.errors import NotFoundError
from tracker.market.common import (
    ValueSum,
    awarded_contracts,
    chunks,
    next_end_of,
    our_orgnrs,
    running,
    sum_values,
)
from tracker.models import Account, Contract, ContractAccount, ContractParty

LATEST_WINS = 50


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
    held_now: tuple[Win, ...]
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


def _group(wins: Iterable[Win], key: Any, label: Any, order: str = "count") -> tuple[Group, ...]:
    members: dict[str, list[Win]] = defaultdict(list)
    labels: dict[str, str] = {}
    for w in wins:
        k = key(w)
        members[k].append(w)
        labels.setdefault(k, label(w))
    groups = [
        Group(
            k,
            labels[k],
            len(ws),
            sum_values((w.value, w.currency, w.value_kind, w.value_shared) for w in ws),
        )
        for k, ws in members.items()
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


def supplier_wins(session: Session, key: str, today: dt.date) -> list[Win]:
    """Every awarded contract the supplier ``key`` holds or held, newest award first."""
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    rows = session.execute(
        select(
            Contract.id, Contract.notice_pk, Contract.title, Contract.lot_id, Contract.main_cpv,
            award, Contract.value, Contract.currency, Contract.value_kind, Contract.value_shared,
            Contract.framework, Contract.end_date, Contract.latest_end, Contract.extension,
        )
        .join(ContractParty, ContractParty.contract_id == Contract.id)
        .where(ContractParty.party_key == key, ContractParty.role == "supplier")
        .where(awarded_contracts())
    ).all()  # fmt: skip
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
    wins.sort(key=lambda w: (w.awarded or dt.date.min, w.contract_id), reverse=True)
    return wins


def _meets_us(
    session: Session, key: str, ours: frozenset[str], held: list[Win], today: dt.date
) -> tuple[MeetsUs, ...]:
    held_ids = [w.contract_id for w in held]
    if not held_ids:
        return ()
    by_account: dict[int, list[int]] = defaultdict(list)
    for chunk in chunks(held_ids):
        for cid, acc in session.execute(
            select(ContractAccount.contract_id, ContractAccount.account_id).where(
                ContractAccount.contract_id.in_(chunk), ContractAccount.status != "rejected"
            )
        ):
            by_account[acc].append(cid)
    if not by_account:
        return ()
    ends = {w.contract_id: w.next_end for w in held}
    names = dict(
        session.execute(
            select(Account.id, Account.name).where(Account.id.in_(list(by_account)))
        ).all()
    )
    ours_at: dict[int, int] = defaultdict(int)
    if ours:
        for acc, n in session.execute(
            select(ContractAccount.account_id, func.count(func.distinct(Contract.id)))
            .join(Contract, Contract.id == ContractAccount.contract_id)
            .join(ContractParty, ContractParty.contract_id == Contract.id)
            .where(
                ContractAccount.account_id.in_(list(by_account)),
                ContractAccount.status != "rejected",
                ContractParty.role == "supplier",
                ContractParty.orgnr.in_(sorted(ours)),
                awarded_contracts(),
                or_(
                    and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)),
                    Contract.end_date >= today,
                    Contract.latest_end >= today,
                    Contract.extension == "probably_extended",
                ),
            )
            .group_by(ContractAccount.account_id)
        ):
            ours_at[acc] = n
    out = []
    for acc, cids in by_account.items():
        soon = [ends[c] for c in cids if ends.get(c)]
        out.append(
            MeetsUs(
                acc, names.get(acc, "?"), len(set(cids)), min(soon) if soon else None, ours_at[acc]
            )
        )
    out.sort(key=lambda m: (m.next_end or dt.date.max, m.account))
    return tuple(out)


def _shared_cpv(session: Session, wins: list[Win], ours: frozenset[str]) -> tuple[Group, ...]:
    cpvs = sorted({w.cpv for w in wins if w.cpv})
    if not ours or not cpvs:
        return ()
    ours_cpv: set[str] = set()
    for chunk in chunks(cpvs):
        ours_cpv.update(
            session.scalars(
                select(Contract.main_cpv)
                .join(ContractParty, ContractParty.contract_id == Contract.id)
                .where(
                    ContractParty.role == "supplier",
                    ContractParty.orgnr.in_(sorted(ours)),
                    Contract.main_cpv.in_(chunk),
                    awarded_contracts(),
                )
                .distinct()
            )
        )
    return _group(
        (w for w in wins if w.cpv in ours_cpv), lambda w: w.cpv, lambda w: cpv_label(w.cpv) or w.cpv
    )


def supplier_page(
    session: Session, key: str, today: dt.date, ours: Iterable[str] | None = None
) -> SupplierPage:
    """The supplier ``key``'s page (NotFoundError when no contract names it)."""
    ident = session.execute(
        select(func.max(ContractParty.name), func.max(ContractParty.orgnr)).where(
            ContractParty.party_key == key, ContractParty.role == "supplier"
        )
    ).one()
    if ident[0] is None and ident[1] is None:
        raise NotFoundError(f"no supplier {key!r} in the contracts")
    mine = our_orgnrs(ours)
    wins = supplier_wins(session, key, today)
    held = sorted(
        (w for w in wins if w.held_now), key=lambda w: (w.next_end or dt.date.max, w.title or "")
    )
    is_us = bool(ident[1] and ident[1] in mine)
    return SupplierPage(
        key=key,
        name=ident[0] or ident[1] or key,
        orgnr=ident[1],
        is_us=is_us,
        contracts=len(wins),
        values=sum_values((w.value, w.currency, w.value_kind, w.value_shared) for w in wins),
        by_buyer=_group(wins, lambda w: w.buyer_key or "?", lambda w: w.buyer or "(ukjent)"),
        by_cpv=_group(
            wins, lambda w: w.cpv or "?", lambda w: cpv_label(w.cpv or "") or w.cpv or "(ukjent)"
        ),
        by_year=_group(
            wins,
            lambda w: str(w.awarded.year) if w.awarded else "?",
            lambda w: str(w.awarded.year) if w.awarded else "ukjent år",
            order="key",
        ),
        held_now=tuple(held),
        meets_us=() if is_us else _meets_us(session, key, mine, held, today),
        shared_cpv=() if is_us else _shared_cpv(session, wins, mine),
        latest=tuple(wins[:LATEST_WINS]),
    )


def supplier_list(
    session: Session, q: str | None = None, limit: int = 50, ours: Iterable[str] | None = None
) -> tuple[SupplierRow, ...]:
    """Suppliers with awarded contracts, most contracts first; ``q`` filters by a part of
    the name or the orgnr."""
    mine = our_orgnrs(ours)
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    stmt = (
        select(
            ContractParty.party_key,
            func.max(ContractParty.name),
            func.max(ContractParty.orgnr),
            func.count(ContractParty.contract_id),
            func.max(award),
        )
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(ContractParty.role == "supplier", awarded_contracts())
        .group_by(ContractParty.party_key)
        .order_by(func.count(ContractParty.contract_id).desc(), ContractParty.party_key)
        .limit(limit)
    )
    text = (q or "").strip()
    if text:
        if text.isdigit():
            stmt = stmt.where(ContractParty.orgnr == text)
        else:
            stmt = stmt.where(
                func.lower(ContractParty.name).contains(text.casefold(), autoescape=True)
            )
    return tuple(
        SupplierRow(k, name or orgnr or k, orgnr, bool(orgnr and orgnr in mine), n, last)
        for k, name, orgnr, n, last in session.execute(stmt)
    )
