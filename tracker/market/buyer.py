"""A buyer's purchase history: what it buys (CPV and year), how (procedures, terms,
options), how often it extends or modifies, how many tenders its competitions get and
how much price weighs in its award criteria.

The buyer ``key`` is a contract party key (the orgnr, or ``name:<normalised name>``);
notice facts (procedures, tenders received, criteria, modification notices) are read
from the notices whose buyer has that orgnr.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Account,
    Contract,
    ContractAccount,
    ContractParty,
    Notice,
    NoticeBuyer,
)
from tracker.errors import NotFoundError
from tracker.market.buyer_notices import (
    modification_notices,
    price_weight_counts,
    tender_counts,
)
from tracker.market.buyer_terms import procedure_counts, term_rows
from tracker.market.common import (
    ValueSum,
    contracts_of_party,
    median_of_counts,
    parties_with_awards,
)
from tracker.market.facts import party_groups, party_pairs, top_counterparts
from tracker.notices.codelists import codelist, cpv_label

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
    competitions: tuple[Competition, ...]  # the newest LIST_ROWS
    competitions_total: int
    median_tenders: float | None
    single_tender: int
    price_weights: tuple[PriceWeight, ...]  # the newest LIST_ROWS
    price_weights_total: int
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


def _titles(session: Session, pks: list[int]) -> dict[int, str | None]:
    if not pks:
        return {}
    return dict(session.execute(select(Notice.id, Notice.title).where(Notice.id.in_(pks))).all())


def competitions(
    session: Session, orgnr: str | None, limit: int | None = None
) -> tuple[list[Competition], list[tuple[int, int]]]:
    """The buyer's award notices that state the tenders received (the largest over their
    lots), newest first (at most ``limit``), and how many notices got how many tenders
    (``market_buyer_notices``); titles only of those listed."""
    rows, histogram = tender_counts(session, orgnr, limit)
    titles = _titles(session, [r[0] for r in rows])
    listed = [Competition(pk, titles.get(pk), day, lots, n) for pk, day, lots, n in rows]
    return listed, histogram


def price_weights(
    session: Session, orgnr: str | None, limit: int | None = None
) -> tuple[list[PriceWeight], list[tuple[float, int]]]:
    """Per lot of the buyer's competitions: the weight of price and cost criteria when the
    weights are percentages (BT-5421 per-exa, or no code) summing to 100; newest first (at
    most ``limit``), and how many lots had which price weight (``market_buyer_notices``)."""
    rows, histogram = price_weight_counts(session, orgnr, limit)
    titles = _titles(session, sorted({r[0] for r in rows}))
    listed = [PriceWeight(pk, titles.get(pk), day, lot, w) for pk, day, lot, w in rows]
    return listed, histogram


def _of_buyer(key: str) -> Any:
    """The buyer's awarded contracts (a FROM/WHERE to build on)."""
    return contracts_of_party(key, "buyer")


def suppliers_at(session: Session, key: str, limit: int | None = LIST_ROWS) -> tuple[Supplier, ...]:
    """Suppliers of the buyer's contracts, most contracts first (the first ``limit``: chosen
    in SQL, the busiest buyer has thousands of suppliers, and only theirs are read)."""
    only = None if limit is None else top_counterparts(session, key, "buyer", limit)
    found = party_pairs(session, key, "buyer", only)
    merged: dict[str, list[Any]] = {}
    for (skey, name), (n, values) in found.items():
        m = merged.setdefault(skey, [name or skey, 0, ()])
        m[1] += n
        m[2] = m[2] + values
    out = [Supplier(k, name, n, values) for k, (name, n, values) in merged.items()]
    out.sort(key=lambda s: (-s.contracts, s.name))
    return tuple(out[:limit] if limit is not None else out)


def _identity(session: Session, key: str) -> tuple[str | None, str | None]:
    """(name, orgnr) of the buyer ``key`` from its contracts, else (an orgnr) its notices."""
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
    return name, orgnr


def _purchases(session: Session, key: str) -> tuple[list[CpvYear], list[CpvYear]]:
    """The buyer's contracts by CPV and year, and by year (``market_party_facts``)."""
    by_cpv_year = sorted(
        (
            CpvYear(
                c, cpv_label(c or "") or c or "(ukjent)", int(y) if y is not None else None, n, v
            )
            for (c, y), (n, v) in party_groups(session, key, "buyer", "main_cpv", "year").items()
        ),
        key=lambda g: (-(g.year or 0), -g.contracts, g.cpv or ""),
    )
    by_year = sorted(
        (
            CpvYear(
                None,
                str(int(y)) if y is not None else "ukjent år",
                int(y) if y is not None else None,
                n,
                v,
            )
            for (y,), (n, v) in party_groups(session, key, "buyer", "year").items()
        ),
        key=lambda g: -(g.year or 0),
    )
    return by_cpv_year, by_year


def _procedures(session: Session, key: str) -> tuple[Count, ...]:
    """Procedure types of the buyer's contracts, one count per procedure (its lots and
    winners are one competition; a lone notice is one): ``market_buyer_procedures``."""
    return tuple(
        Count(code, _procedure_label(code), n)
        for code, n in sorted(procedure_counts(session, key), key=lambda r: (-r[1], r[0] or ""))
    )


def _terms(
    session: Session, key: str, orgnr: str | None, today: dt.date
) -> tuple[Terms, ExtensionHabit, tuple[Count, ...]]:
    """Terms and options of the buyer's contracts, its extension habit and its procedures
    (``tracker.market.buyer_terms``: the summaries per term and per procedure)."""
    rows, (contracts, ended, extended, frameworks, modified) = term_rows(session, key, today)
    base: dict[float, int] = {}
    option: dict[float, int] = {}
    for base_days, option_days, n, *_ in rows:
        for days, acc in ((base_days, base), (option_days, option)):
            if days is not None:
                years = round(int(days) / 365.25, 1)
                acc[years] = acc.get(years, 0) + int(n)
    terms = Terms(
        contracts=contracts,
        with_term=sum(base.values()),
        median_base_years=median_of_counts(base.items()),
        with_options=sum(option.values()),
        median_option_years=median_of_counts(option.items()),
        frameworks=frameworks,
    )
    extension = ExtensionHabit(
        ended_with_options=ended,
        extended=extended,
        modified_contracts=modified,
        modification_notices=modification_notices(session, orgnr),
    )
    return terms, extension, _procedures(session, key)


def _accounts(session: Session, key: str) -> tuple[tuple[int, str], ...]:
    """Our accounts among the buyer's contracts, by name. The account ids first: as one
    IN (subquery) PostgreSQL walked every account's contracts (0.3 s for the busiest)."""
    account_ids = sorted(
        session.scalars(
            _of_buyer(key)
            .add_columns(ContractAccount.account_id)
            .join(ContractAccount, ContractAccount.contract_id == Contract.id)
            .where(ContractAccount.status != "rejected")
            .distinct()
        )
    )
    if not account_ids:
        return ()
    return tuple(
        (a, n)
        for a, n in session.execute(
            select(Account.id, Account.name)
            .where(Account.id.in_(account_ids))
            .order_by(Account.name)
        )
    )


def buyer_page(session: Session, key: str, today: dt.date) -> BuyerPage:
    """The buyer ``key``'s page (NotFoundError when neither a contract nor a notice names
    it). Groups come from the summaries (``tracker.market.facts``); the lists of
    competitions and price weights hold the newest ``LIST_ROWS`` (their medians count all)."""
    name, orgnr = _identity(session, key)
    by_cpv_year, by_year = _purchases(session, key)
    contracts, values = party_groups(session, key, "buyer").get((), (0, ()))
    terms, extension, procedures = _terms(session, key, orgnr, today)
    comps, tender_counts = competitions(session, orgnr, LIST_ROWS)
    weights, weight_counts = price_weights(session, orgnr, LIST_ROWS)
    return BuyerPage(
        key=key,
        name=name or orgnr or key,
        orgnr=orgnr,
        accounts=_accounts(session, key),
        contracts=contracts,
        values=values,
        by_cpv_year=tuple(by_cpv_year),
        by_year=tuple(by_year),
        procedures=procedures,
        terms=terms,
        extension=extension,
        competitions=tuple(comps),
        competitions_total=sum(n for _, n in tender_counts),
        median_tenders=median_of_counts(tender_counts),
        single_tender=sum(n for t, n in tender_counts if t == 1),
        price_weights=tuple(weights),
        price_weights_total=sum(n for _, n in weight_counts),
        median_price_weight=median_of_counts(weight_counts),
        suppliers=suppliers_at(session, key),
    )


def buyer_list(session: Session, q: str | None = None, limit: int = 50) -> tuple[BuyerRow, ...]:
    """Buyers with awarded contracts, most contracts first; ``q``: part of the name or orgnr."""
    return tuple(
        BuyerRow(k, name or orgnr or k, orgnr, n, last)
        for k, name, orgnr, n, last in parties_with_awards(session, "buyer", q, limit)
    )
