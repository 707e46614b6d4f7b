"""The sales director's market analytics: expiring contract value by quarter (ours vs
competitors'), share of wallet per account and year, win/loss and hit rate, coverage by
KAM. Each chart is a tuple of frozen rows (the page, the JSON API and the exports use
the same rows: ``rows_of``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Account,
    Activity,
    BidStatus,
    Contract,
    ContractAccount,
    ContractParty,
    MarketAccountMonth,
    MarketExpiryMonth,
    Notice,
    Opportunity,
)
from tracker.market import supplier_facts
from tracker.market.common import awarded_contracts, our_orgnrs
from tracker.market.facts import year_of
from tracker.pages.director import NO_ACTIVITY_DAYS
from tracker.pages.opportunities import OPEN_PHASES

QUARTERS = 12
WALLET_YEARS = 5
OUTCOME_ROWS = 500  # bid statuses per query of their outcomes (a range of ids)


@dataclass(frozen=True)
class ExpiringQuarter:
    """Contracts whose hard expiry (end of the last option, else the base end) falls in
    one quarter, ours or competitors', per currency and value kind."""

    quarter: str  # 2026K1
    start: dt.date
    ours: bool
    currency: str | None
    value_kind: str | None
    contracts: int
    value: Decimal | None  # own values only
    shared_not_summed: int  # ceilings shared by parallel suppliers: counted, never added


@dataclass(frozen=True)
class Wallet:
    """Share of wallet at one account in one year and currency: our awarded value (value
    kind ``tender``, own values) against all awarded value; frameworks counted apart."""

    account_id: int
    account: str
    year: int
    currency: str | None
    ours_value: Decimal | None
    all_value: Decimal | None
    share: float | None
    ours_contracts: int
    all_contracts: int
    frameworks_ours: int
    frameworks_all: int


@dataclass(frozen=True)
class WinLoss:
    """Per year: competitions we bid (recorded statuses) won, lost, pending, the hit rate
    won / (won + lost); outcomes come from the recorded status (won/lost) or, for a
    submitted bid, from the award notice of the procedure (naming us or not). Award
    notices naming us counts every award notice with us among the winners."""

    year: int | None
    bids: int
    won: int
    lost: int
    pending: int
    hit_rate: float | None
    award_notices_naming_us: int


@dataclass(frozen=True)
class KamCoverage:
    kam: str | None
    accounts: int
    with_open_windows: int
    open_windows: int
    without_activity: int  # accounts with an open window and no activity in 90 days
    uncovered: tuple[str, ...]


@dataclass(frozen=True)
class DirectorMarket:
    today: dt.date
    scope: str
    expiring: tuple[ExpiringQuarter, ...]
    quarters: tuple[tuple[str, dt.date], ...]
    wallet: tuple[Wallet, ...]
    win_loss: tuple[WinLoss, ...]
    coverage: tuple[KamCoverage, ...]


def rows_of(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Frozen rows → plain dicts (for exports and JSON)."""
    out = []
    for item in items:
        d = dataclasses.asdict(item)
        for k, v in d.items():
            if isinstance(v, Decimal):
                d[k] = float(v)
            elif isinstance(v, tuple):
                d[k] = list(v)
        out.append(d)
    return out


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarters(today: dt.date, n: int = QUARTERS) -> list[tuple[str, dt.date]]:
    start = quarter_start(today)
    out = []
    for i in range(n):
        m = start.month - 1 + 3 * i
        d = dt.date(start.year + m // 12, m % 12 + 1, 1)
        out.append((f"{d.year}K{(d.month - 1) // 3 + 1}", d))
    return out


def _is_ours(ours: frozenset[str]) -> Any:
    """True for a contract with one of our orgnrs among its suppliers: an IN over our
    contracts (evaluated once; a join to a derived table is scanned per row on SQLite)."""
    ids = select(ContractParty.contract_id).where(
        ContractParty.role == "supplier", ContractParty.orgnr.in_(sorted(ours) or [""])
    )
    return Contract.id.in_(ids)


def _ours_exists(ours: frozenset[str]) -> Any:
    """``_is_ours`` as a correlated EXISTS: for a query led by another index (this month's
    awards), not by our (many) contracts."""
    return (
        select(ContractParty.id)
        .where(
            ContractParty.contract_id == Contract.id,
            ContractParty.role == "supplier",
            ContractParty.orgnr.in_(sorted(ours) or [""]),
        )
        .exists()
    )


def _summed(session: Session, ours: frozenset[str]) -> bool:
    """Whether ours can be read from the per-supplier summaries (our orgnrs are our
    suppliers' party keys): not when a contract has two of them (its sums would be added
    twice; then ours is counted live)."""
    return bool(ours) and not supplier_facts.joint(session, sorted(ours))


def _at_accounts() -> Any:
    """A contract with a link to one of our accounts that is not rejected (correlated: an
    index lookup per contract; an IN list read all 50,000 links for our few contracts)."""
    return (
        select(ContractAccount.id)
        .where(ContractAccount.contract_id == Contract.id, ContractAccount.status != "rejected")
        .exists()
    )


def _month_index(year: Any, month: Any) -> Any:
    return year * 12 + month


def _our_expiring(
    session: Session, first: dt.date, end: dt.date, ours: frozenset[str], scope: str
) -> list[Any]:
    """Our contracts (few) expiring in [first, end) per month, currency and kind, counted
    live: (year, month, currency, kind, contracts, own values, sum, shared)."""
    expiry = func.coalesce(Contract.latest_end, Contract.end_date)
    y, m = func.extract("year", expiry), func.extract("month", expiry)
    shared = Contract.value_shared.is_(True)
    own = case((and_(Contract.value.is_not(None), Contract.value_shared.is_not(True)), 1))
    stmt = (
        select(
            y, m, Contract.currency, Contract.value_kind, func.count(Contract.id),
            func.count(own), func.sum(case((shared, None), else_=Contract.value)),
            func.sum(case((and_(shared, Contract.value.is_not(None)), 1), else_=0)),
        )
        .where(_is_ours(ours), awarded_contracts(), expiry >= first, expiry < end)
        .group_by(y, m, Contract.currency, Contract.value_kind)
    )  # fmt: skip
    if scope == "accounts":
        stmt = stmt.where(_at_accounts())
    return list(session.execute(stmt))


def expiring_by_quarter(
    session: Session, today: dt.date, ours: frozenset[str], scope: str = "accounts"
) -> tuple[tuple[ExpiringQuarter, ...], list[tuple[str, dt.date]]]:
    """Contracts by the quarter of their hard expiry, ours and competitors': all of them
    from ``market_expiry_months``, ours counted live, competitors' = all - ours."""
    qs = quarters(today)
    first = qs[0][1]
    last_m = qs[-1][1].month - 1 + 3
    end = dt.date(qs[-1][1].year + last_m // 12, last_m % 12 + 1, 1)
    t = MarketExpiryMonth
    index = _month_index(t.year, t.month)
    stmt = (
        select(
            t.year, t.month, t.currency, t.value_kind, func.sum(t.contracts), func.sum(t.own_n),
            func.sum(t.amount), func.sum(t.shared),
        )
        .where(index >= _month_index(first.year, first.month))
        .where(index < _month_index(end.year, end.month))
        .group_by(t.year, t.month, t.currency, t.value_kind)
    )  # fmt: skip
    if scope == "accounts":
        stmt = stmt.where(t.at_accounts.is_(True))
    # per (quarter, ours, currency, kind): contracts, own values, sum, shared
    acc: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, None, 0])
    if _summed(session, ours):
        mine = supplier_facts.expiring(session, sorted(ours), first, end, scope == "accounts")
    else:
        mine = _our_expiring(session, first, end, ours, scope) if ours else []
    for sign, rows in ((1, session.execute(stmt)), (-1, mine)):
        for yy, mm, cur, kind, n, own_n, value, shared in rows:
            q = quarter_start(dt.date(int(yy), int(mm), 1))
            keys = [(q, False, cur, kind)] + ([(q, True, cur, kind)] if sign < 0 else [])
            for key, k in zip(keys, (sign, 1), strict=False):
                a = acc[key]
                a[0] += k * int(n)
                a[1] += k * int(own_n or 0)
                if value is not None:
                    a[2] = (a[2] or Decimal(0)) + k * Decimal(value)
                a[3] += k * int(shared or 0)
    label = {d: name for name, d in qs}
    rows = [
        ExpiringQuarter(label[q], q, o, cur, kind, a[0], a[2] if a[1] else None, a[3])
        for (q, o, cur, kind), a in acc.items()
        if a[0]
    ]
    rows.sort(key=lambda r: (r.start, not r.ours, r.currency or "", r.value_kind or ""))
    return tuple(rows), qs


def _wallet_rows(session: Session, today: dt.date, ours: frozenset[str], since: dt.date) -> Any:
    """(account, year, currency, ours, contracts, spend, frameworks) rows: all contracts
    of months before this one from ``market_account_months``; this month's and ours live."""
    t = MarketAccountMonth
    month = dt.date(today.year, today.month, 1)
    index = _month_index(t.year, t.month)
    yield from session.execute(
        select(
            t.account_id, t.year, t.currency, false(), func.sum(t.contracts),
            case((func.sum(t.spend_n) > 0, func.sum(t.spend)), else_=None), func.sum(t.frameworks),
        )
        .where(index >= _month_index(since.year, since.month))
        .where(index < _month_index(month.year, month.month))
        .group_by(t.account_id, t.year, t.currency)
        .having(func.sum(t.contracts) > 0)
    )  # fmt: skip
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    spend = and_(Contract.value_kind == "tender", Contract.value_shared.is_not(True))
    live = (
        select(
            ContractAccount.account_id, func.extract("year", award), Contract.currency,
            func.count(Contract.id), func.sum(case((spend, Contract.value), else_=None)),
            func.sum(case((Contract.framework.is_(True), 1), else_=0)),
        )
        .join(Contract, Contract.id == ContractAccount.contract_id)
        .where(ContractAccount.status != "rejected", awarded_contracts())
        .group_by(ContractAccount.account_id, func.extract("year", award), Contract.currency)
    )  # fmt: skip
    for account_id, yy, cur, n, value, fw in session.execute(
        live.where(award >= max(month, since), award <= today)
    ):
        yield account_id, yy, cur, False, n, value, fw
    if not ours:
        return
    if _summed(session, ours):  # months before this one from the summaries, this one live
        for account_id, yy, cur, n, value, fw in supplier_facts.wallet(
            session, sorted(ours), since, month
        ):
            yield account_id, yy, cur, True, n, value, fw
        mine = live.where(_ours_exists(ours), award >= max(month, since), award <= today)
    else:
        mine = live.where(_is_ours(ours), award >= since, award <= today)
    for account_id, yy, cur, n, value, fw in session.execute(mine):
        yield account_id, yy, cur, True, n, value, fw


def share_of_wallet(
    session: Session, today: dt.date, ours: frozenset[str], years: int = WALLET_YEARS
) -> tuple[Wallet, ...]:
    since = dt.date(today.year - years + 1, 1, 1)
    acc: dict[tuple[int, int, str | None], dict[str, Any]] = {}
    for account_id, yy, cur, o, n, value, fw in _wallet_rows(session, today, ours, since):
        a = acc.setdefault(
            (account_id, int(yy), cur),
            {"ours": None, "all": None, "on": 0, "an": 0, "fo": 0, "fa": 0},
        )
        if o:
            a["on"] += n
            a["fo"] += int(fw or 0)
            if value is not None:
                a["ours"] = (a["ours"] or Decimal(0)) + Decimal(value)
            continue
        a["an"] += n
        a["fa"] += int(fw or 0)
        if value is not None:
            a["all"] = (a["all"] or Decimal(0)) + Decimal(value)
    names = dict(
        session.execute(
            select(Account.id, Account.name).where(Account.id.in_({k[0] for k in acc} or {0}))
        ).all()
    )
    out = []
    for (account_id, yy, cur), a in acc.items():
        share = float((a["ours"] or Decimal(0)) / a["all"]) if a["all"] else None
        out.append(
            Wallet(account_id, names.get(account_id, "?"), yy, cur, a["ours"], a["all"], share,
                   a["on"], a["an"], a["fo"], a["fa"])
        )  # fmt: skip
    out.sort(key=lambda w: (w.account, -w.year, w.currency or ""))
    return tuple(out)


def _outcomes(session: Session, ours: frozenset[str]) -> list[Any]:
    """(status, year issued, awarded, ours among the winners, how many) of the recorded bid
    statuses; the middle two only for a submitted bid: whether the procedure of its notice
    has awarded contracts from notices, and whether one of them names us. Led by the bid
    statuses (a few thousand, a range of 500 at a time): their notice and its procedure's
    contracts read by index per status (a join made PostgreSQL hash all notices, 0.1 s)."""
    of_notice = Notice.id == BidStatus.notice_pk
    # correlated to the bid status also inside the contracts' EXISTS
    proc = select(Notice.procedure_id).where(of_notice).correlate_except(Notice).scalar_subquery()
    day = select(Notice.issue_date).where(of_notice).correlate_except(Notice).scalar_subquery()

    def awarded(*extra: Any) -> Any:
        found = select(Contract.id).where(
            Contract.procedure_id == proc, awarded_contracts(), Contract.source == "notice", *extra
        )
        return case((found.exists(), 1), else_=0)

    submitted = BidStatus.status == "submitted"
    mine = _ours_exists(ours) if ours else false()
    keys = (
        BidStatus.status, year_of(day), case((submitted, awarded())),
        case((submitted, awarded(mine))),
    )  # fmt: skip
    recorded = BidStatus.status.in_(("submitted", "won", "lost"))
    ids = session.scalars(select(BidStatus.id).where(recorded).order_by(BidStatus.id)).all()
    out: list[Any] = []
    # in ranges: PostgreSQL compiles (JIT, 45 ms) a plan it estimates as costly
    for first in range(0, len(ids), OUTCOME_ROWS):
        low, high = ids[first], ids[min(first + OUTCOME_ROWS, len(ids)) - 1]
        out.extend(
            session.execute(
                select(*keys, func.count())
                .where(recorded, BidStatus.id >= low, BidStatus.id <= high)
                .group_by(*keys)
            ).all()
        )
    return out


def win_loss(session: Session, ours: frozenset[str]) -> tuple[WinLoss, ...]:
    statuses = _outcomes(session, ours)
    mine = _is_ours(ours)
    acc: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for status, year, awarded, won, n in statuses:
        a = acc[int(year) if year is not None else None]
        a[0] += n
        outcome = status
        if status == "submitted":
            outcome = ("won" if won else "lost") if awarded else "pending"
        a[{"won": 1, "lost": 2, "pending": 3}[outcome]] += n
    if _summed(session, ours):
        for yy, n in supplier_facts.notices_per_year(session, sorted(ours)).items():
            acc[yy][4] += n
    elif ours:
        issued = func.coalesce(Notice.issue_date, Contract.award_date)
        y = func.extract("year", issued)
        for yy, n in session.execute(
            select(y, func.count(func.distinct(Contract.notice_pk)))
            .join(Notice, Notice.id == Contract.notice_pk)
            .where(mine, awarded_contracts(), Contract.source == "notice")
            .group_by(y)
        ):
            acc[int(yy) if yy is not None else None][4] += n
    out = [
        WinLoss(y, a[0], a[1], a[2], a[3], (a[1] / (a[1] + a[2])) if a[1] + a[2] else None, a[4])
        for y, a in acc.items()
    ]
    out.sort(key=lambda w: -(w.year or 0))
    return tuple(out)


def coverage_by_kam(session: Session, today: dt.date) -> tuple[KamCoverage, ...]:
    since = today - dt.timedelta(days=NO_ACTIVITY_DAYS)
    accounts = session.execute(select(Account.id, Account.name, Account.kam_email)).all()
    windows = dict(
        session.execute(
            select(Opportunity.account_id, func.count(Opportunity.id))
            .where(Opportunity.phase.in_(OPEN_PHASES), Opportunity.in_profile.is_not(False))
            .group_by(Opportunity.account_id)
        ).all()
    )
    active = set(
        session.scalars(select(Activity.account_id).where(Activity.happened_on >= since).distinct())
    )
    by_kam: dict[str | None, list[Any]] = defaultdict(list)
    for aid, name, kam in accounts:
        by_kam[kam].append((aid, name))
    out = []
    for kam, accs in by_kam.items():
        open_accs = [(a, n) for a, n in accs if windows.get(a)]
        uncovered = sorted(n for a, n in open_accs if a not in active)
        out.append(
            KamCoverage(kam, len(accs), len(open_accs), sum(windows[a] for a, _ in open_accs),
                        len(uncovered), tuple(uncovered))
        )  # fmt: skip
    out.sort(key=lambda k: (-k.without_activity, k.kam is None, k.kam or ""))
    return tuple(out)


def director_market(
    session: Session, today: dt.date, scope: str = "accounts", *, ours: Iterable[str]
) -> DirectorMarket:
    """Every chart of the director's market page. ``scope``: ``accounts`` (contracts of
    our accounts, default) or ``all`` (every stored contract) for the expiring value."""
    if scope not in ("accounts", "all"):
        from tracker.errors import UserError

        raise UserError(f"scope: {scope!r} is not accounts or all")
    mine = our_orgnrs(ours)
    expiring, qs = expiring_by_quarter(session, today, mine, scope)
    return DirectorMarket(
        today=today,
        scope=scope,
        expiring=expiring,
        quarters=tuple(qs),
        wallet=share_of_wallet(session, today, mine),
        win_loss=win_loss(session, mine),
        coverage=coverage_by_kam(session, today),
    )
