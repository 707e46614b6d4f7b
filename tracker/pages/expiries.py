"""Which contracts at the accounts run out, and when: the expiries question.

The KAM home's expiries, ``tracker expiries``, ``/api/expiries`` and the expiries export
all show :func:`expiries`; the account page's and the notice page's contracts are the
same :class:`ContractRow` (``contract_rows``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Bundle, Session

from tracker.contracts.expiries import contract_dict
from tracker.dates import add_months
from tracker.db.models import Account, Contract, ContractAccount, ContractParty, Notice
from tracker.enums import Extension, LinkStatus
from tracker.opportunities.profile import contract_item, notice_texts
from tracker.opportunities.relevance import relevance, stored_model
from tracker.pages.base import among_ids, in_scope, known_by, still_running
from tracker.rules import Rules

CHUNK = 2000  # ids per IN list


@dataclass(frozen=True)
class Party:
    """A buyer or supplier of a contract as the notice names it."""

    name: str | None
    orgnr: str | None
    us: bool = False


@dataclass(frozen=True)
class AccountRef:
    """An account a contract is linked to (links not rejected), best link first."""

    id: int
    name: str
    method: str | None
    status: str


@dataclass(frozen=True)
class ContractRow:
    """One contract (an awarded lot and winner group) as every list shows it: per-lot
    suppliers, the value with its kind (``value`` None when unknown), base, next and
    latest end with their sources, the buyer's own words (``evidence``: the stored
    facts, each ``{fact, value, source, confidence, quote}``). ``account_id`` and
    ``account``: the accounts in the reader's scope (``account_id`` the first of them,
    ``account`` their names, a suggested link marked "(suggested)"); ``accounts``: every
    account it is at. ``fit``: the capability profile's verdict
    (``tracker.opportunities.relevance.relevance``), None where the list does not ask."""

    contract_id: int
    key: str
    title: str | None
    lot_id: str | None
    procedure_id: str | None
    buyer: str
    buyers: tuple[Party, ...]
    account_id: int | None
    account: str | None
    accounts: tuple[AccountRef, ...]
    suppliers: tuple[str, ...]
    incumbents: tuple[Party, ...]
    incumbent: str
    us: bool
    parallel_suppliers: int | None
    value: float | None
    currency: str | None
    value_kind: str | None
    value_shared: bool
    value_label: str
    value_per_year: float | None
    framework: str | None
    direct_award: bool
    regime: str | None
    national: bool
    procedure_type: str | None
    retender: str | None
    retender_note: str | None
    main_cpv: str | None
    start_date: str | None
    start_source: str | None
    end_date: str | None
    end_source: str | None
    option_ends: tuple[str, ...]
    next_end: str | None
    latest_end: str | None
    latest_end_source: str | None
    end_confidence: str | None
    days_left: int | None
    status: str
    ended: bool
    extension: str | None
    expected: bool
    expected_award: str | None
    challenge_until: str | None
    challenge_days_left: int | None
    evidence: tuple[dict[str, Any], ...]
    evidence_text: str
    notes: str | None
    source: str | None
    notice_id: str | None
    doffin_id: str | None
    notice_pk: int | None
    modified_by_notice_pk: int | None
    fit: dict[str, Any] | None = None


def _parties(session: Session, ids: Sequence[int]) -> dict[int, dict[str, list[dict]]]:
    out: dict[int, dict[str, list[dict]]] = defaultdict(lambda: {"buyer": [], "supplier": []})
    for i in range(0, len(ids), CHUNK):
        for cid, role, name, orgnr in session.execute(
            select(ContractParty.contract_id, ContractParty.role, ContractParty.name,
                   ContractParty.orgnr)
            .where(among_ids(session, ContractParty.contract_id, ids[i : i + CHUNK]))
            .order_by(ContractParty.contract_id, ContractParty.id)
        ):  # fmt: skip
            if role in ("buyer", "supplier"):
                out[cid][role].append({"name": name, "orgnr": orgnr})
    return out


def _accounts(session: Session, ids: Sequence[int]) -> dict[int, list[AccountRef]]:
    out: dict[int, list[AccountRef]] = defaultdict(list)
    for i in range(0, len(ids), CHUNK):
        for cid, acc, name, method, status in session.execute(
            select(ContractAccount.contract_id, ContractAccount.account_id, Account.name,
                   ContractAccount.method, ContractAccount.status)
            .join(Account, Account.id == ContractAccount.account_id)
            .where(
                among_ids(session, ContractAccount.contract_id, ids[i : i + CHUNK]),
                ContractAccount.status != LinkStatus.REJECTED,
            )
            .order_by(ContractAccount.confidence.desc(), Account.name)
        ):  # fmt: skip
            out[cid].append(AccountRef(acc, name, method, status))
    return out


def contract_rows(
    session: Session,
    found: Sequence[tuple[Contract, str | None, str | None]],
    today: dt.date,
    *,
    ours: frozenset[str] | set[str],
    scope: list[int] | None = None,
) -> list[ContractRow]:
    """``(contract, Doffin id, notice id)`` rows as :class:`ContractRow`, in the given
    order (the contract: a row of ``CONTRACT_COLUMNS``, or a ``Contract``); ``scope``:
    the reader's accounts (``account_id`` is the first of them)."""
    ids = sorted({c.id for c, _, _ in found})
    parties = _parties(session, ids)
    accounts = _accounts(session, ids)
    out = []
    for c, doffin_id, notice_id in found:
        refs = accounts.get(c.id, [])
        mine = [a for a in refs if scope is None or a.id in scope] or refs
        d = contract_dict(
            c,
            today=today,
            parties=parties[c.id],
            accounts=[{"name": a.name, "status": a.status} for a in refs],
            ours=set(ours),
            notice_id=notice_id,
            doffin_id=doffin_id,
        )
        out.append(
            ContractRow(
                **{k: d[k] for k in _SCALARS},
                buyers=tuple(Party(p["name"], p["orgnr"]) for p in d["buyers"]),
                account_id=mine[0].id if mine else None,
                account=", ".join(
                    a.name + (" (suggested)" if a.status == LinkStatus.SUGGESTED else "")
                    for a in mine
                )
                or None,
                accounts=tuple(refs),
                suppliers=tuple(s["name"] or s["orgnr"] or "?" for s in d["incumbents"]),
                incumbents=tuple(Party(s["name"], s["orgnr"], s["us"]) for s in d["incumbents"]),
                option_ends=tuple(str(x) for x in d["option_ends"]),
                ended=d["status"] == "ended",
                challenge_days_left=(c.challenge_until - today).days if c.challenge_until else None,
                evidence=tuple(d["evidence"]),
            )
        )
    return out


_SCALARS = (
    "contract_id", "key", "title", "lot_id", "procedure_id", "buyer", "incumbent", "us",
    "parallel_suppliers", "value", "currency", "value_kind", "value_shared", "value_label",
    "value_per_year", "framework", "direct_award", "regime", "national", "procedure_type",
    "retender", "retender_note", "main_cpv", "start_date", "start_source", "end_date",
    "end_source", "next_end", "latest_end", "latest_end_source", "end_confidence",
    "days_left", "status", "extension", "expected", "expected_award", "challenge_until",
    "evidence_text", "notes", "source", "notice_id", "doffin_id", "notice_pk",
    "modified_by_notice_pk",
)  # fmt: skip


def with_fit(session: Session, rows: list[ContractRow], rules: Rules) -> list[ContractRow]:
    """``rows`` with the capability profile's ``fit`` (the row's account's profile; the
    contract's title and main CPV with the text of the notice it came from)."""
    from dataclasses import replace

    texts = notice_texts(session, [r.notice_pk for r in rows if r.notice_pk])
    model = stored_model(session)
    out = []
    for r in rows:
        item = contract_item(r.title, r.main_cpv, texts.get(r.notice_pk or -1))
        first = r.accounts[0].name if r.accounts else None
        name = next((a.name for a in r.accounts if a.id == r.account_id), first)
        out.append(replace(r, fit=relevance(rules.profile(name), item, model)))
    return out


# A contract's columns as one plain row (attributes named as the model's): what
# ``contract_rows`` reads of it, without building ORM objects. For the KAM home's 583
# contracts at 2 M notices, a third of the read went to loading them as entities.
CONTRACT_COLUMNS: Bundle[Any] = Bundle("contract", *Contract.__table__.columns)


def contract_among(session: Session, ids: Select[Any]) -> ColumnElement[bool]:
    """SQL condition: the contract's id is one of those ``ids`` (a query of contract ids)
    selects. On PostgreSQL ``= ANY(ARRAY(...))``: the ids are read first, then each
    contract by its key, where ``IN (subquery)`` makes the planner hash a sequential scan
    of every contract for the few thousand of one reader's accounts (bench/dashboard.py
    at 200,000 contracts: 80 ms against 11 ms)."""
    if session.get_bind().dialect.name == "postgresql":
        return Contract.id == func.any(func.array(ids.scalar_subquery()))
    return Contract.id.in_(ids)


def _sort_key(row: ContractRow) -> tuple[Any, ...]:
    when = row.next_end or (row.end_date if row.extension else None)
    return (when is None, when or "", row.contract_id)


def expiries(
    session: Session,
    today: dt.date,
    *,
    ours: frozenset[str] | set[str],
    rules: Rules,
    account_ids: list[int] | None = None,
    within_months: int | None = 24,
    include_unknown: bool = False,
    limit: int | None = None,
    fit: bool = True,
) -> list[ContractRow]:
    """Contracts at the accounts (``account_ids``; None: every account) still running on
    ``today`` (:func:`tracker.pages.base.still_running`) and known by then (from a notice
    issued by ``today``, or imported), soonest next decision point first (the base end,
    else the next option's end, else the latest end: ``tracker.contracts.build.next_end``);
    contracts probably extended (ask the buyer) by their base end. ``within_months``:
    only those whose next end falls within that many months (the probably extended
    ones always); None: any. ``include_unknown``: contracts whose end is unknown too,
    last. One row per contract, however many accounts it is at; each with its ``fit``
    (``fit=False``: without, for a chart that does not show it)."""
    linked = select(ContractAccount.contract_id).where(
        ContractAccount.status != LinkStatus.REJECTED,
        in_scope(ContractAccount.account_id, account_ids),
    )
    q = (
        select(CONTRACT_COLUMNS, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            contract_among(session, linked) if account_ids is not None else Contract.id.in_(linked),
            still_running(today, unknown_end=include_unknown),
            known_by(today),
        )
    )
    horizon = add_months(today, within_months) if within_months is not None else None
    if horizon is not None:
        q = q.where(
            or_(
                Contract.end_date <= horizon,
                Contract.latest_end <= horizon,
                Contract.extension == Extension.PROBABLY_EXTENDED,
                and_(Contract.end_date.is_(None), Contract.latest_end.is_(None))
                if include_unknown
                else false(),
            )
        )
    q = q.order_by(func.coalesce(Contract.end_date, Contract.latest_end), Contract.id)
    if limit is not None:
        q = q.limit(limit * 4)  # some fall out below (an option ends after the horizon)
    rows = contract_rows(session, session.execute(q).all(), today, ours=ours, scope=account_ids)
    until = horizon.isoformat() if horizon is not None else None
    kept = [
        r
        for r in rows
        if until is None
        or (r.next_end is not None and r.next_end <= until)
        or r.extension
        or (include_unknown and r.end_date is None and r.latest_end is None)
    ]
    kept.sort(key=_sort_key)
    kept = kept[:limit] if limit is not None else kept
    return with_fit(session, kept, rules) if fit else kept


def narrowed(
    session: Session,
    wider: Sequence[ContractRow],
    today: dt.date,
    *,
    rules: Rules,
    within_months: int,
    limit: int | None = None,
    fit: bool = True,
) -> list[ContractRow]:
    """What :func:`expiries` gives for ``within_months`` (and ``limit``, ``fit``), taken
    from ``wider``: the same reader's ``expiries`` over at least as many months, with
    ``fit=False``, no limit and without ``include_unknown`` (the KAM home reads its
    contracts once for its list and the renewal radar). The same conditions, in Python."""
    horizon = add_months(today, within_months).isoformat()
    kept = [
        r
        for r in wider
        if (
            (r.end_date is not None and r.end_date <= horizon)
            or (r.latest_end is not None and r.latest_end <= horizon)
            or r.extension == Extension.PROBABLY_EXTENDED
        )
        and ((r.next_end is not None and r.next_end <= horizon) or r.extension)
    ]
    kept.sort(key=_sort_key)
    kept = kept[:limit] if limit is not None else kept
    return with_fit(session, kept, rules) if fit else kept


# The columns of the expiries export (CSV/XLSX): one cell per fact, the evidence as quotes.
EXPORT_COLUMNS = (
    "contract_id", "account_id", "account", "title", "lot_id", "suppliers", "buyer", "status",
    "next_end", "end_date", "end_source", "option_ends", "latest_end", "latest_end_source",
    "end_confidence", "start_date", "start_source", "value", "currency", "value_kind",
    "value_shared", "parallel_suppliers", "framework", "direct_award", "regime", "retender",
    "challenge_until", "expected_award", "evidence_text", "procedure_id",
)  # fmt: skip
