"""A buyer's purchase history: what it buys (CPV and year), how (procedures, terms,
options), how often it extends or modifies, how many tenders its competitions get and
how much price weighs in its award criteria.

The buyer ``key`` is a contract party key (the orgnr, or ``name:<normalised name>``);
notice facts (procedures, tenders received, criteria, modification notices) are read
from the notices whose buyer has that orgnr.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.codelists import codelist, cpv_label
from tracker.errors import NotFoundError
from tracker.market.common import ValueSum, awarded_contracts, chunks, median, sum_values
from tracker.models import (
    Account,
    AwardCriterion,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
)
from tracker.subtypes import COMPETITION_SUBTYPES, MODIFICATION_SUBTYPES, RESULT_SUBTYPES

PRICE_TYPES = ("price", "cost")
LIST_ROWS = 40


@dataclass(frozen=True)
class CpvYear:
    cpv: str | None
    label: str
    year: int | None
    contracts: int
    values: tuple[ValueSum, ...]


@dataclass(frozen=True)
class Count:
    key: str | None
    label: str
    count: int


@dataclass(frozen=True)
class Terms:
    """Terms of the buyer's contracts (years, from start to base end and to latest end)."""

    contracts: int
    with_term: int
    median_base_years: float | None
    with_options: int
    median_option_years: float | None
    frameworks: int


@dataclass(frozen=True)
class ExtensionHabit:
    """How often the buyer went past the base period: of the contracts whose base end has
    passed and that had options, how many show an extension (a modification notice near
    or after the end, or a new end stated by one); plus the modification notices."""

    ended_with_options: int
    extended: int
    modified_contracts: int
    modification_notices: int

    @property
    def share(self) -> float | None:
        if not self.ended_with_options:
            return None
        return self.extended / self.ended_with_options


@dataclass(frozen=True)
class Competition:
    """Tenders received in one competition (largest over its lots), from the award notice."""

    notice_pk: int
    title: str | None
    issued: dt.date | None
    lots: int
    tenders: int


@dataclass(frozen=True)
class PriceWeight:
    notice_pk: int
    title: str | None
    issued: dt.date | None
    lot_id: str | None
    price_weight: float


@dataclass(frozen=True)
class Supplier:
    key: str
    name: str
    contracts: int
    values: tuple[ValueSum, ...]


@dataclass(frozen=True)
class BuyerPage:
    key: str
    name: str
    orgnr: str | None
    accounts: tuple[tuple[int, str], ...]
    contracts: int
    values: tuple[ValueSum, ...]
    by_cpv_year: tuple[CpvYear, ...]
    by_year: tuple[CpvYear, ...]
    procedures: tuple[Count, ...]
    terms: Terms
    extension: ExtensionHabit
    competitions: tuple[Competition, ...]
    median_tenders: float | None
    single_tender: int
    price_weights: tuple[PriceWeight, ...]
    median_price_weight: float | None
    suppliers: tuple[Supplier, ...]


@dataclass(frozen=True)
class BuyerRow:
    key: str
    name: str
    orgnr: str | None
    contracts: int
    last_award: dt.date | None


def _years(a: dt.date | None, b: dt.date | None) -> float | None:
    if a is None or b is None or b < a:
        return None
    return round((b - a).days / 365.25, 1)


def _procedure_label(code: str | None) -> str:
    if not code:
        return "ukjent prosedyre"
    entry = codelist("procurement-procedure-type").get(code)
    return entry.label if entry else code


def _notice_pks(session: Session, orgnr: str | None, subtypes: Iterable[str]) -> list[int]:
    if not orgnr:
        return []
    return list(
        session.scalars(
            select(NoticeBuyer.notice_pk)
            .join(Notice, Notice.id == NoticeBuyer.notice_pk)
            .where(
                NoticeBuyer.orgnr == orgnr,
                Notice.is_latest.is_(True),
                Notice.is_test.is_not(True),
                Notice.subtype.in_(sorted(subtypes)),
            )
            .distinct()
        )
    )


def _competitions(session: Session, pks: list[int]) -> list[Competition]:
    out = []
    for chunk in chunks(pks):
        rows = session.execute(
            select(
                Notice.id, Notice.title, Notice.issue_date,
                func.count(func.distinct(LotResult.lot_id)), func.max(LotResult.tenders_received),
            )
            .join(LotResult, LotResult.notice_pk == Notice.id)
            .where(Notice.id.in_(chunk), LotResult.tenders_received.is_not(None))
            .group_by(Notice.id, Notice.title, Notice.issue_date)
        ).all()  # fmt: skip
        out.extend(Competition(pk, t, d, lots, n) for pk, t, d, lots, n in rows)
    out.sort(key=lambda c: (c.issued or dt.date.min, c.notice_pk), reverse=True)
    return out


def _price_weights(session: Session, pks: list[int]) -> list[PriceWeight]:
    """Per lot of the buyer's competitions: the weight of price and cost criteria when the
    weights are percentages (BT-5421 per-exa, or no code and weights summing to 100)."""
    per_lot: dict[int, dict[str, Any]] = {}
    for chunk in chunks(pks):
        for lot_pk, npk, title, day, lot_id, ctype, weight, code in session.execute(
            select(
                Lot.id, Notice.id, Notice.title, Notice.issue_date, Lot.lot_id,
                AwardCriterion.type, AwardCriterion.weight, AwardCriterion.weight_code,
            )
            .join(Lot, Lot.notice_pk == Notice.id)
            .join(AwardCriterion, AwardCriterion.lot_pk == Lot.id)
            .where(Notice.id.in_(chunk))
        ):  # fmt: skip
            lot = per_lot.setdefault(
                lot_pk,
                {"notice": (npk, title, day, lot_id), "price": 0.0, "total": 0.0, "ok": True},
            )
            if weight is None or (code and code != "per-exa"):
                lot["ok"] = False
                continue
            lot["total"] += weight
            if (ctype or "") in PRICE_TYPES:
                lot["price"] += weight
    out = []
    for lot in per_lot.values():
        if lot["ok"] and 99.0 <= lot["total"] <= 101.0:
            npk, title, day, lot_id = lot["notice"]
            out.append(PriceWeight(npk, title, day, lot_id, round(lot["price"], 1)))
    out.sort(key=lambda p: (p.issued or dt.date.min, p.notice_pk, p.lot_id or ""), reverse=True)
    return out


def buyer_page(session: Session, key: str, today: dt.date) -> BuyerPage:
    """The buyer ``key``'s page (NotFoundError when neither a contract nor a notice names it)."""
    name, orgnr = session.execute(
        select(func.max(ContractParty.name), func.max(ContractParty.orgnr)).where(
            ContractParty.party_key == key, ContractParty.role == "buyer"
        )
    ).one()
    if name is None and orgnr is None:
        if key.isdigit():
            name = session.scalar(
                select(func.max(NoticeBuyer.name)).where(NoticeBuyer.orgnr == key)
            )
            orgnr = key if name is not None else None
        if name is None:
            raise NotFoundError(f"no buyer {key!r} in the contracts or notices")
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    rows = session.execute(
        select(
            Contract.id, Contract.main_cpv, award, Contract.value, Contract.currency,
            Contract.value_kind, Contract.value_shared, Contract.procedure_id, Contract.notice_pk,
            Contract.procedure_type, Contract.framework, Contract.start_date, Contract.end_date,
            Contract.latest_end, Contract.extension, Contract.modified_by_notice_pk,
        )
        .join(ContractParty, ContractParty.contract_id == Contract.id)
        .where(ContractParty.party_key == key, ContractParty.role == "buyer", awarded_contracts())
    ).all()  # fmt: skip
    ids = [r[0] for r in rows]

    def vals(rs: Iterable[Any]) -> tuple[ValueSum, ...]:
        return sum_values((r[3], r[4], r[5], r[6]) for r in rs)

    groups: dict[tuple[str | None, int | None], list[Any]] = defaultdict(list)
    years: dict[int | None, list[Any]] = defaultdict(list)
    for r in rows:
        y = r[2].year if r[2] else None
        groups[(r[1], y)].append(r)
        years[y].append(r)
    by_cpv_year = sorted(
        (
            CpvYear(c, cpv_label(c or "") or c or "(ukjent)", y, len(rs), vals(rs))
            for (c, y), rs in groups.items()
        ),
        key=lambda g: (-(g.year or 0), -g.contracts, g.cpv or ""),
    )
    by_year = sorted(
        (
            CpvYear(None, str(y) if y else "ukjent år", y, len(rs), vals(rs))
            for y, rs in years.items()
        ),
        key=lambda g: -(g.year or 0),
    )
    # Procedures: one per procedure (all its lots and winners are one competition).
    proc: dict[Any, str | None] = {}
    for r in rows:
        proc.setdefault(r[7] or f"notice:{r[8]}", r[9])
    procedures = tuple(
        Count(code, _procedure_label(code), n)
        for code, n in sorted(Counter(proc.values()).items(), key=lambda kv: (-kv[1], kv[0] or ""))
    )
    base = [y for r in rows if (y := _years(r[11], r[12])) is not None]
    option_years = [
        y for r in rows if r[13] and r[12] and r[13] > r[12] and (y := _years(r[12], r[13]))
    ]
    terms = Terms(
        contracts=len(rows),
        with_term=len(base),
        median_base_years=median(base),
        with_options=len(option_years),
        median_option_years=median(option_years),
        frameworks=sum(1 for r in rows if r[10]),
    )
    ended = [r for r in rows if r[12] and r[12] < today and r[13] and r[13] > r[12]]
    mods = _notice_pks(session, orgnr, MODIFICATION_SUBTYPES)
    extension = ExtensionHabit(
        ended_with_options=len(ended),
        extended=sum(1 for r in ended if r[14] in ("probably_extended", "modified")),
        modified_contracts=sum(1 for r in rows if r[15] is not None or r[14] == "modified"),
        modification_notices=len(mods),
    )
    competitions = _competitions(session, _notice_pks(session, orgnr, RESULT_SUBTYPES))
    weights = _price_weights(session, _notice_pks(session, orgnr, COMPETITION_SUBTYPES))
    accounts = (
        tuple(
            session.execute(
                select(Account.id, Account.name)
                .join(ContractAccount, ContractAccount.account_id == Account.id)
                .where(
                    ContractAccount.contract_id.in_(ids[:2000]),
                    ContractAccount.status != "rejected",
                )
                .distinct()
                .order_by(Account.name)
            ).all()
        )
        if ids
        else ()
    )
    return BuyerPage(
        key=key,
        name=name or orgnr or key,
        orgnr=orgnr,
        accounts=accounts,
        contracts=len(rows),
        values=vals(rows),
        by_cpv_year=tuple(by_cpv_year),
        by_year=tuple(by_year),
        procedures=procedures,
        terms=terms,
        extension=extension,
        competitions=tuple(competitions),
        median_tenders=median([float(c.tenders) for c in competitions]),
        single_tender=sum(1 for c in competitions if c.tenders == 1),
        price_weights=tuple(weights),
        median_price_weight=median([p.price_weight for p in weights]),
        suppliers=_suppliers(session, rows),
    )


def _suppliers(session: Session, rows: list[Any]) -> tuple[Supplier, ...]:
    by_id = {r[0]: r for r in rows}
    members: dict[str, list[Any]] = defaultdict(list)
    names: dict[str, str] = {}
    for chunk in chunks(list(by_id)):
        for cid, key, name in session.execute(
            select(ContractParty.contract_id, ContractParty.party_key, ContractParty.name).where(
                ContractParty.role == "supplier", ContractParty.contract_id.in_(chunk)
            )
        ):
            members[key].append(by_id[cid])
            names.setdefault(key, name or key)
    out = [
        Supplier(k, names[k], len(rs), sum_values((r[3], r[4], r[5], r[6]) for r in rs))
        for k, rs in members.items()
    ]
    out.sort(key=lambda s: (-s.contracts, s.name))
    return tuple(out[:LIST_ROWS])


def buyer_list(session: Session, q: str | None = None, limit: int = 50) -> tuple[BuyerRow, ...]:
    """Buyers with awarded contracts, most contracts first; ``q``: part of the name or orgnr."""
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
        .where(ContractParty.role == "buyer", awarded_contracts())
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
        BuyerRow(k, name or orgnr or k, orgnr, n, last)
        for k, name, orgnr, n, last in session.execute(stmt)
    )


def decimal_share(part: Decimal | None, whole: Decimal | None) -> float | None:
    if part is None or not whole:
        return None
    return float(part / whole)
