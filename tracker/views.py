"""Read-side page data for the dashboards, the JSON API and the exports: plain dicts.

Each function answers one screen (``kam_home``, ``account_page``, ``bids_page``,
``director_page``, ``notice_page``) or one exportable list, with bounded queries (every
list has a limit or a page), so pages stay fast on 200,000 notices. Where another area
publishes a query (``tracker.accounts``, ``tracker.opportunities``, ``tracker.bids``,
``tracker.linking``, ``tracker.expiries``) it is used; stored rows (``Opportunity``,
``Contract``, ``BidDecision``...) are read directly only for cross-account aggregates.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from tracker import bids as bids_module
from tracker.accountwork import list_activities, list_contacts
from tracker.bids import BID_STATUSES, CAPACITIES, DECISIONS, RISKS
from tracker.competitions import competition_lots
from tracker.config import load_settings
from tracker.contracts import add_months, unawarded
from tracker.errors import NotFoundError, PermissionDeniedError, UserError
from tracker.expiries import contract_dict
from tracker.ical import build_calendar
from tracker.linking import buyer_key, decide_link
from tracker.models import (
    Account,
    Activity,
    BidAssessment,
    BidDecision,
    BidStatus,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    NoticeLink,
    NoticeMark,
    Opportunity,
    Organisation,
    User,
    utcnow,
)
from tracker.opportunities import (
    opportunity_dict,
    opportunity_item,
    pretender_readings,
    stored_budget_window,
)
from tracker.relevance import (
    LearnedModel,
    contract_item,
    notice_texts,
    relevance,
    stored_model,
    train_model,
)
from tracker.rules import Rules, load_rules
from tracker.search import notice_rows
from tracker.subtypes import phase_of
from tracker.users import can_decide_bids, can_edit_account, can_set_bid_status
from tracker.windows import INFLUENCE_PHASES, PHASES, budget_status

OPEN_PHASES = tuple(p for p in PHASES if p in INFLUENCE_PHASES)  # influence_open, drafting
PHASE_ORDER = PHASES  # the tracker's own order (tracker.windows.PHASES), overdue included
RISK_PHASES = ("overdue",)  # contract ended, no competition seen: re-tender overdue/extended?
URGENT_INFLUENCE_DAYS = 60  # an influence window closing sooner is flagged urgent
FIRST_VISIT_DAYS = 14  # never marked as seen: the notices issued in the last 14 days
URGENT_DEADLINE_DAYS = 10  # a competition deadline sooner than this is flagged urgent
NO_ACTIVITY_DAYS = 90
HOME_ROWS = 25  # rows per section of the KAM home; the full lists are in the exports
# Whole-database aggregates (pipeline, incumbency, uncovered accounts) change only when
# data is ingested or recomputed; the director page reuses them for this many seconds.
AGGREGATE_TTL_SECONDS = 60.0
# The list of open competitions (not their scores, statuses or decisions) is reused by the
# bid list and the director's queue for this many seconds; the pages say so.
OPEN_LIST_TTL_SECONDS = 60.0
_aggregate_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_aggregate_lock = threading.Lock()


def cached_aggregate(
    session: Session,
    name: Hashable,
    today: dt.date,
    build: Callable[[], Any],
    ttl: float = AGGREGATE_TTL_SECONDS,
) -> Any:
    """``build()`` once per database, name and day within ``ttl`` seconds; the value is
    shared between requests, so callers must not change it."""
    bind = session.get_bind()
    key = (str(bind.url), id(bind), name, today)
    now = time.monotonic()
    with _aggregate_lock:
        hit = _aggregate_cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    value = build()
    with _aggregate_lock:
        _aggregate_cache[key] = (now, value)
    return value


def clear_aggregate_cache() -> None:
    with _aggregate_lock:
        _aggregate_cache.clear()


def doffin_url(source: str | None, source_id: str | None) -> str | None:
    if source == "doffin" and source_id:
        return f"https://doffin.no/notices/{source_id}"
    return None


def _num(value: Decimal | float | None) -> float | None:
    return float(value) if value is not None else None


# --------------------------------------------------------------------------- accounts in scope


def account_ids_for(session: Session, user: User) -> list[int] | None:
    """The accounts a user works: a KAM's own; None (= every account) for other roles."""
    if user.role == "kam":
        return list(
            session.scalars(
                select(Account.id).where(func.lower(Account.kam_email) == user.email.lower())
            )
        )
    return None


def _in_accounts(column: Any, ids: list[int] | None) -> Any:
    return column.in_(ids) if ids is not None else True


def account_names(session: Session, ids: list[int] | None = None) -> dict[int, str]:
    q = select(Account.id, Account.name)
    if ids is not None:
        q = q.where(Account.id.in_(ids))
    return dict(session.execute(q).all())


def accounts_list(
    session: Session, user: User | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Accounts (a KAM's own, else all) with counts of open influence windows in our
    capability profile (``Opportunity.in_profile`` of the last recompute)."""
    q = select(Account).order_by(Account.name)
    if user is not None and user.role == "kam":  # as account_ids_for, in the same query
        q = q.where(func.lower(Account.kam_email) == user.email.lower())
    accounts = session.scalars(q.options(selectinload(Account.orgnrs))).all()
    ids = [a.id for a in accounts] if user is not None and user.role == "kam" else None
    open_counts: dict[int, int] = dict(
        session.execute(
            select(Opportunity.account_id, func.count())
            .where(
                Opportunity.phase.in_(OPEN_PHASES),
                Opportunity.in_profile.is_not(False),
                _in_accounts(Opportunity.account_id, ids),
            )
            .group_by(Opportunity.account_id)
        ).all()
    )
    return [
        {
            "id": a.id,
            "name": a.name,
            "orgnr": sorted(o.orgnr for o in a.orgnrs),
            "tier": a.tier,
            "buyer_type": a.buyer_type,
            "kam": a.kam_email,
            "team": a.team,
            "open_windows": open_counts.get(a.id, 0),
        }
        for a in accounts
    ]


# --------------------------------------------------------------------------- opportunities


def account_info(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """``{id: {name, buyer_type}}`` of the given accounts (what the window rules need)."""
    if not ids:
        return {}
    return {
        i: {"name": name, "buyer_type": buyer_type}
        for i, name, buyer_type in session.execute(
            select(Account.id, Account.name, Account.buyer_type).where(Account.id.in_(ids))
        )
    }


def _accounts_of(
    session: Session, ids: list[int], known: dict[int, dict[str, Any]] | None
) -> dict[int, dict[str, Any]]:
    """``account_info`` of ``ids``, from ``known`` (accounts the page already read) when
    it has them all, else one query."""
    if known is not None and all(i in known for i in ids):
        return known
    return account_info(session, ids)


# The columns the opportunity rows show (not the timeline JSON: its dates are columns too).
_OPPORTUNITY_COLUMNS = (
    Opportunity.key,
    Opportunity.kind,
    Opportunity.account_id,
    Opportunity.title,
    Opportunity.buyer_name,
    Opportunity.main_cpv,
    Opportunity.value,
    Opportunity.expiry,
    Opportunity.expiry_source,
    Opportunity.influence_opens,
    Opportunity.drafting_starts,
    Opportunity.expected_publication,
    Opportunity.expected_deadline,
    Opportunity.contract_start,
    Opportunity.phase,
    Opportunity.confidence,
    Opportunity.notice_pk,
    Opportunity.competition_notice_pk,
    Opportunity.id,
    Opportunity.contract_id,
    Opportunity.timeline,
)


def _opportunity_dict(
    o: Any,
    accounts: dict[int, dict[str, Any]],
    today: dt.date,
    rules: Rules,
    model: LearnedModel | None = None,
) -> dict[str, Any]:
    """One stored opportunity row with the tracker's own values for ``today``
    (``tracker.opportunities.opportunity_dict``: phase, dates, ``days_left``, ``overdue``,
    ``can_influence``, the one-line ``reason``, the ``sources`` of every date, the market
    dialogue and the profile ``fit``; no second formula here). A row without stored
    timeline inputs (not recomputed yet) keeps its stored columns and has no days left,
    reason or sources."""
    account = accounts.get(o.account_id or 0, {})
    base = {
        "key": o.key,
        "group": o.key.rsplit(":", 1)[0],  # the same procurement at several accounts
        "kind": o.kind,
        "account_id": o.account_id,
        "account": account.get("name"),
        "accounts": [(o.account_id, account.get("name"))],
        "title": o.title,
        "buyer": o.buyer_name,
        "main_cpv": o.main_cpv,
        "value": _num(o.value),
        "expiry": o.expiry,
        "expiry_source": o.expiry_source,
        "influence_opens": o.influence_opens,
        "drafting_starts": o.drafting_starts,
        "expected_publication": o.expected_publication,
        "expected_deadline": o.expected_deadline,
        "phase": o.phase,
        "can_influence": False,
        "days_left": None,
        "overdue": o.phase == "overdue",
        "reason": None,
        "note": None,
        "sources": {},
        "budget_window": stored_budget_window(
            o.contract_start, o.influence_opens, today, rules, account, o.expected_publication
        ),
        "budget_windows": {},
        "confidence": o.confidence,
        "notice_pk": o.notice_pk,
        "competition_notice_pk": o.competition_notice_pk,
        "dialogue": False,
    }
    if not (o.timeline or {}).get("inputs"):
        base["fit"] = relevance(rules.profile(account.get("name")), opportunity_item(o), model)
        base["urgent"] = False
        return base
    tracked = opportunity_dict(o, account, today, rules, model=model)
    for k in (
        "expiry",
        "expiry_source",
        "influence_opens",
        "drafting_starts",
        "expected_publication",
        "expected_deadline",
        "phase",
        "can_influence",
        "days_left",
        "overdue",
        "due",
        "reason",
        "sources",
        "budget_window",
        "budget_windows",
        "confidence",
        "currency",
        "dialogue",
        "dialogue_until",
        "response_deadline",
        "dialogue_date",
        "pretender",
        "planned_publication",
        "supplier_note",
        "supplier_note_source",
        "fit",
        "note",
    ):
        base[k] = tracked.get(k)
    days = base["days_left"]
    base["urgent"] = bool(
        base["can_influence"] and days is not None and days < URGENT_INFLUENCE_DAYS
    )
    return base


def shown_first(
    rows: list[dict[str, Any]], show_all: bool, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """In-profile rows (``fit.shown``: the profile's fit, or flagged by the learned model)
    and how many out-of-profile rows were left out; with ``show_all`` every row, in-profile
    ones first. The list keeps its order otherwise (never hides an in-profile row)."""
    inside = [r for r in rows if (r.get("fit") or {}).get("shown")]
    outside = [r for r in rows if not (r.get("fit") or {}).get("shown")]
    if show_all:
        return (inside + outside)[:limit], 0
    return inside[:limit], len(outside)


def merge_accounts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per procurement (``group``) with every account it is at (a notice linked
    to Sykehusinnkjøp HF and Helse Sør-Øst RHF is listed once, not once per account)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        first = out.get(r["group"])
        if first is None:
            out[r["group"]] = {**r, "accounts": list(r["accounts"])}
        elif r["accounts"][0] not in first["accounts"]:
            first["accounts"].append(r["accounts"][0])
    return list(out.values())


def opportunity_rows(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None = None,
    phases: tuple[str, ...] | None = None,
    limit: int = 200,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules | None = None,
    where: Any = None,
    in_profile: bool | None = None,
) -> list[dict[str, Any]]:
    """Stored opportunities (from ``tracker.opportunities.recompute``), soonest first;
    ``where``: an extra SQL condition (a cheap pre-selection); ``in_profile``: only those in
    (True) or outside (False) the capability profile as of the last recompute;
    ``phases``: stored in one of these phases and still in one of them on ``today``.
    ``accounts``: ``{id: {name, buyer_type}}`` the caller already has (saves a query);
    ``rules``: the rules the caller loaded (default ``load_rules()``)."""
    q = select(*_OPPORTUNITY_COLUMNS).where(_in_accounts(Opportunity.account_id, account_ids))
    if in_profile is not None:  # the fit stored at recompute (the live fit is shown)
        q = q.where(
            Opportunity.in_profile.is_not(False)
            if in_profile
            else Opportunity.in_profile.is_(False)
        )
    if phases:
        q = q.where(Opportunity.phase.in_(phases))
    if where is not None:
        q = q.where(where)
    q = q.order_by(
        Opportunity.expected_publication.is_(None),
        Opportunity.expected_publication,
        Opportunity.id,
    ).limit(limit)
    rows = session.execute(q).all()
    info = _accounts_of(session, sorted({o.account_id for o in rows if o.account_id}), accounts)
    rules = rules or load_rules()
    model = stored_model(session)
    out = [_opportunity_dict(o, info, today, rules, model) for o in rows]
    if phases:  # the phase on today (an overdue publication turns overdue at contract start)
        out = [o for o in out if o["phase"] in phases]
    return out


def overdue_rows(
    session: Session,
    today: dt.date,
    account_ids: list[int] | None,
    *,
    limit: int = HOME_ROWS,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules | None = None,
    in_profile: bool | None = None,
) -> list[dict[str, Any]]:
    """Opportunities in the tracker's ``overdue`` phase on ``today`` (the contract has
    ended and no competition notice was seen: re-tender overdue or the contract
    extended?), with their reason. Stored phases drafting/overdue are the candidates (an
    overdue publication stays in drafting until the contract start); the phase shown is
    the one ``tracker.opportunities`` computes for ``today``."""
    rows = opportunity_rows(
        session,
        today,
        account_ids=account_ids,
        phases=("drafting", *RISK_PHASES),
        limit=limit * 4,
        accounts=accounts,
        rules=rules,
        # pre-selection only (the phase shown is recomputed): a drafting opportunity can
        # be overdue only once its contract start has come
        # (or a publication the buyer stated has passed)
        where=or_(
            Opportunity.phase.in_(RISK_PHASES),
            Opportunity.contract_start <= today,
            Opportunity.expected_publication < today,
        ),
        in_profile=in_profile,
    )
    return [o for o in rows if o["phase"] in RISK_PHASES][:limit]


def budget_windows(
    session: Session,
    today: dt.date,
    account_ids: list[int] | None,
    limit: int = 50,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules | None = None,
    in_profile_only: bool = False,
) -> list[dict[str, Any]]:
    """Primary budget windows (``tracker.opportunities.stored_budget_window``) not yet
    ended, per account (one row per account and window), with their status: open,
    upcoming, or missed when the window ends before influence opens on any of its
    opportunities (``tracker.windows.budget_window_for``). ``in_profile_only``: count only
    opportunities in our capability profile (``Opportunity.in_profile``)."""
    rows = session.execute(
        select(
            Opportunity.account_id,
            Opportunity.budget_start,
            Opportunity.budget_end,
            func.count(),
            func.min(Opportunity.contract_start),
            func.min(Opportunity.influence_opens),
        )
        .where(
            _in_accounts(Opportunity.account_id, account_ids),
            Opportunity.budget_end.is_not(None),
            Opportunity.budget_end >= today,
            Opportunity.in_profile.is_not(False) if in_profile_only else True,
        )
        .group_by(Opportunity.account_id, Opportunity.budget_start, Opportunity.budget_end)
        .order_by(Opportunity.budget_start, Opportunity.account_id)
        .limit(limit)
    ).all()
    info = _accounts_of(session, sorted({r[0] for r in rows if r[0]}), accounts)
    rules = rules or load_rules()
    out = []
    for acc, start, end, count, _contract_start, opens in rows:
        account = info.get(acc or 0, {})
        window = {"status": budget_status(start, end, opens, today)}
        out.append(
            {
                "account_id": acc,
                "account": account.get("name"),
                "start": start,
                "end": end,
                "status": window["status"] if window else None,
                "days_to_start": (start - today).days if start and start > today else 0,
                "days_left": (end - today).days,
                "opportunities": count,
            }
        )
    return out


# --------------------------------------------------------------------------- contracts


def _contract_rows(
    session: Session,
    rows: list[Any],
    today: dt.date,
    accounts: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``tracker.expiries.contract_dict`` of each (Contract, account_id) row: the one shape
    the CLI, the pages and the exports show (per-lot suppliers, value and its kind, base,
    next and latest end, the evidence)."""
    ids = sorted({c.id for c, _ in rows})
    parties = contract_parties(session, ids)
    ours = set(load_settings().our_orgnr_list)
    info = _accounts_of(session, sorted({a for _, a in rows if a is not None}), accounts)
    out = []
    for c, account_id in rows:
        row = contract_dict(c, today=today, parties=parties[c.id], ours=ours)
        row["account_id"] = account_id
        row["account"] = info.get(account_id or 0, {}).get("name")
        row["suppliers"] = [s["name"] or s["orgnr"] or "?" for s in row["incumbents"]]
        row["ended"] = row["status"] == "ended"
        out.append(row)
    return out


def _alive(today: dt.date) -> Any:
    """Contracts that count on ``today``: an end or latest end still to come, or probably
    extended (ask the buyer); an expected contract once its expected award has passed."""
    return and_(
        or_(
            Contract.end_date >= today,
            Contract.latest_end >= today,
            Contract.extension == "probably_extended",
        ),
        or_(Contract.expected.is_not(True), Contract.expected_award <= today),
    )


def expiry_rows(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None = None,
    months: int = 24,
    limit: int = 200,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules | None = None,
) -> list[dict[str, Any]]:
    """Contracts of the accounts whose next decision point (the base end, else the next
    option's end, else the latest end) falls within ``months``, soonest first; contracts
    probably extended (ask the buyer) first. One row per awarded lot and winner group,
    known by ``today`` (from a notice issued by then, or imported), with the capability
    profile's ``fit`` (the account's profile; the contract's title and main CPV with the
    text of the notice it came from)."""
    horizon = add_months(today, months)
    until = horizon.isoformat()
    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    found = session.execute(
        select(Contract, ContractAccount.account_id)
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            _in_accounts(ContractAccount.account_id, account_ids),
            ContractAccount.status != "rejected",
            _alive(today),
            or_(
                Contract.end_date <= horizon,
                Contract.latest_end <= horizon,
                Contract.extension == "probably_extended",
            ),
            # a contract known only from a notice issued after today is not known yet
            or_(Notice.id.is_(None), issued.is_(None), issued <= today),
        )
        .order_by(func.coalesce(Contract.end_date, Contract.latest_end), Contract.id)
        .limit(limit * 4)
    ).all()
    rows = [
        r
        for r in _contract_rows(session, found, today, accounts)
        if (r["next_end"] is not None and r["next_end"] <= until) or r["extension"]
    ]
    rows.sort(key=lambda r: (r["next_end"] or r["end_date"] or "", r["contract_id"]))
    rows = rows[:limit]
    texts = notice_texts(session, [r["notice_pk"] for r in rows if r["notice_pk"]])
    rules = rules or load_rules()
    model = stored_model(session)
    for r in rows:
        item = contract_item(r["title"], r["main_cpv"], texts.get(r["notice_pk"] or -1))
        r["fit"] = relevance(rules.profile(r["account"]), item, model)
    return rows


def contract_parties(session: Session, contract_ids: list[int]) -> dict[int, dict[str, list]]:
    """``{contract id: {"buyer": [...], "supplier": [...]}}`` (name, orgnr)."""
    out: dict[int, dict[str, list]] = defaultdict(lambda: {"buyer": [], "supplier": []})
    for i in range(0, len(contract_ids), 2000):
        for cid, role, name, orgnr in session.execute(
            select(ContractParty.contract_id, ContractParty.role, ContractParty.name,
                   ContractParty.orgnr)
            .where(ContractParty.contract_id.in_(contract_ids[i : i + 2000]))
            .order_by(ContractParty.contract_id, ContractParty.id)
        ):  # fmt: skip
            if role in ("buyer", "supplier"):
                out[cid][role].append({"name": name, "orgnr": orgnr})
    return out


def export_contract(row: dict[str, Any]) -> dict[str, Any]:
    """A contract row flattened for CSV/XLSX: one cell per fact, the evidence as quotes."""
    keys = (
        "account", "title", "lot_id", "suppliers", "buyer", "status", "next_end", "end_date",
        "end_source", "option_ends", "latest_end", "latest_end_source", "end_confidence",
        "start_date", "start_source", "value", "currency", "value_kind", "value_shared",
        "parallel_suppliers", "framework", "direct_award", "regime", "retender",
        "challenge_until", "expected_award", "evidence_text", "procedure_id",
    )  # fmt: skip
    return {k: row.get(k) for k in keys}


# --------------------------------------------------------------------------- KAM home


def new_notices(
    session: Session,
    account_ids: list[int] | None,
    since: dt.datetime | None,
    limit: int = 50,
    accounts: dict[int, dict[str, Any]] | None = None,
    *,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Latest notice versions linked to the accounts since ``since`` (newest link first);
    with ``since`` None (never marked as seen), those issued in the ``FIRST_VISIT_DAYS``
    days up to ``today``.

    A link is made when a notice is stored (or relinked to the account), so the link's
    time is when the notice became news for the account; index
    ``ix_notice_links_account_created`` keeps this a short range scan per account.
    """
    q = (
        select(NoticeLink.notice_pk, NoticeLink.account_id)
        .join(Notice, Notice.id == NoticeLink.notice_pk)
        .where(
            _in_accounts(NoticeLink.account_id, account_ids),
            NoticeLink.status != "rejected",
            Notice.is_latest.is_(True),
        )
    )
    if since is not None:
        q = q.where(NoticeLink.created_at > since)
    else:
        day = today or utcnow().date()
        issued = func.coalesce(Notice.issue_date, Notice.publication_date)
        q = q.where(issued > day - dt.timedelta(days=FIRST_VISIT_DAYS), issued <= day)
    rows = session.execute(
        q.order_by(NoticeLink.created_at.desc(), NoticeLink.notice_pk.desc()).limit(limit * 2)
    ).all()
    info = _accounts_of(session, sorted({acc for _, acc in rows}), accounts)
    by_notice: dict[int, list[str]] = defaultdict(list)
    order: list[int] = []
    for pk, acc in rows:
        if pk not in by_notice:
            order.append(pk)
        by_notice[pk].append(info.get(acc, {}).get("name") or "?")
    items = notice_rows(session, order[:limit])
    for item in items:
        item["accounts"] = by_notice[item["id"]]
    return items


def suggested_link_rows(
    session: Session,
    account_ids: list[int] | None,
    limit: int = 50,
    accounts: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Suggested buyer→account links waiting for a KAM's confirm or reject, one row per
    buyer (orgnr, else normalised name: ``tracker.linking.buyer_key``) and account with
    the number of its notices (``notices``) and the latest one (``notice_pk``, ``title``);
    ``id`` is one of its links: confirming or rejecting it applies to the buyer
    (``tracker.linking.decide_link``). Highest confidence first."""
    rows = session.execute(
        select(
            NoticeLink.id,
            NoticeLink.account_id,
            NoticeLink.notice_pk,
            NoticeLink.method,
            NoticeLink.confidence,
            Notice.title,
            Notice.source,
            Notice.source_id,
            NoticeBuyer.name,
            NoticeBuyer.orgnr,
        )
        .join(Notice, Notice.id == NoticeLink.notice_pk)
        .join(NoticeBuyer, NoticeBuyer.id == NoticeLink.buyer_pk)
        .where(
            NoticeLink.status == "suggested",
            Notice.is_latest.is_(True),
            _in_accounts(NoticeLink.account_id, account_ids),
        )
        .order_by(NoticeLink.confidence.desc(), NoticeLink.notice_pk.desc(), NoticeLink.id)
        .limit(5000)
    ).all()
    groups: dict[tuple[str, int], dict[str, Any]] = {}
    notices: dict[tuple[str, int], set[int]] = defaultdict(set)
    for r in rows:
        key = (buyer_key(r.orgnr, r.name), r.account_id)
        notices[key].add(r.notice_pk)
        if key not in groups:  # the first row: highest confidence, latest notice
            groups[key] = {
                "id": r.id,
                "account_id": r.account_id,
                "notice_pk": r.notice_pk,
                "title": r.title,
                "doffin_url": doffin_url(r.source, r.source_id),
                "buyer": r.name,
                "buyer_orgnr": r.orgnr,
                "method": r.method,
                "confidence": round(r.confidence, 2),
            }
    out = list(groups.items())[:limit]
    info = _accounts_of(session, sorted({g["account_id"] for _, g in out}), accounts)
    for key, g in out:
        g["account"] = info.get(g["account_id"], {}).get("name")
        g["notices"] = len(notices[key])
    return [g for _, g in out]


def kam_home(
    session: Session, user: User, today: dt.date, *, show_all: bool = False
) -> dict[str, Any]:
    """The KAM's start page (read only: opening it changes nothing).

    On top the market dialogues open now at the KAM's accounts (the buyer asks for input
    before the competition: days left to respond, the response deadline and the note on
    the rules for suppliers who take part), then the other open influence windows, risks,
    expiries, budget windows and new notices. Every list shows the items in the capability
    profile (``tracker.relevance``; flagged by the learned model too) and says how many it
    left out (``hidden``); ``show_all`` lists those too, after the in-profile ones. A
    procurement at several of the KAM's accounts is one row (``accounts``). New notices
    are those stored since the user last marked them as seen (``mark_notices_seen``), or
    on a first visit those issued in the ``FIRST_VISIT_DAYS`` days up to ``today``."""
    accounts = accounts_list(session, user, today)
    known = {a["id"]: {"name": a["name"], "buyer_type": a["buyer_type"]} for a in accounts}
    ids = list(known) if user.role == "kam" else None  # = account_ids_for(session, user)
    rules = load_rules()
    since = user.last_seen_notices_at
    wide = HOME_ROWS * 2  # a few more than shown: some may turn out of profile today

    def opps(fetch: Callable[[bool], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """In-profile rows (as of the last recompute) first; the others only for show_all."""
        rows = fetch(True)
        return merge_accounts(rows + fetch(False) if show_all else rows)

    open_rows = opps(
        lambda mine: opportunity_rows(
            session, today, account_ids=ids, phases=OPEN_PHASES, limit=wide, accounts=known,
            rules=rules, in_profile=mine,
        )
    )  # fmt: skip
    overdue = opps(
        lambda mine: overdue_rows(
            session, today, ids, accounts=known, rules=rules, limit=wide, in_profile=mine
        )
    )
    dialogues = sorted(
        (o for o in open_rows if o["phase"] == "dialogue_open"),
        key=lambda o: (o["days_left"] if o["days_left"] is not None else 10**6, o["key"]),
    )
    windows = [o for o in open_rows if o["phase"] != "dialogue_open"]
    # out of profile as of the last recompute, by stored phase (shown with "show all")
    stored_out = dict(
        session.execute(
            select(Opportunity.phase, func.count())
            .where(_in_accounts(Opportunity.account_id, ids), Opportunity.in_profile.is_(False))
            .group_by(Opportunity.phase)
        ).all()
    )
    hidden: dict[str, int] = {}
    data: dict[str, Any] = {"accounts": accounts}
    for name, rows in (
        ("dialogues", dialogues),
        ("influence_open", windows),
        ("overdue", overdue),
        ("expiries", expiry_rows(session, today, account_ids=ids, months=24, limit=HOME_ROWS * 4,
                                 accounts=known, rules=rules)),
        ("new_notices", new_notices(session, ids, since, limit=HOME_ROWS * 4, accounts=known,
                                    today=today)),
    ):  # fmt: skip
        data[name], hidden[name] = shown_first(rows, show_all, HOME_ROWS)
    if not show_all:
        hidden["dialogues"] += stored_out.get("dialogue_open", 0)
        hidden["influence_open"] += sum(stored_out.get(p, 0) for p in OPEN_PHASES) - (
            stored_out.get("dialogue_open", 0)
        )
        hidden["overdue"] += stored_out.get("overdue", 0)
    data.update(
        {
            "budget_windows": budget_windows(
                session,
                today,
                ids,
                limit=HOME_ROWS,
                accounts=known,
                rules=rules,
                in_profile_only=not show_all,
            ),
            "new_since": since,
            "first_visit_since": today - dt.timedelta(days=FIRST_VISIT_DAYS - 1),
            "suggested_links": suggested_link_rows(session, ids, limit=HOME_ROWS, accounts=known),
            "scope": "my accounts" if ids is not None else "all accounts",
            "show_all": show_all,
            "hidden": hidden,
            "hidden_total": sum(hidden.values()),
            "profile": profile_summary(rules),
        }
    )
    return data


def profile_summary(rules: Rules) -> dict[str, Any]:
    """The capability profile in words, for the pages (CPV prefixes with their Norwegian
    names, keywords, negative keywords) and where it comes from."""
    p = rules.profile()
    return {
        "cpvs": [{"prefix": k, "label": v} for k, v in p.labels.items()],
        "keywords": list(p.keywords),
        "negative_keywords": list(p.negative_keywords),
        "source": rules.entries["profile.cpv_prefixes"].source,
    }


MARKS = ("star", "dismiss")


def mark_notice(session: Session, user: User, notice_pk: int, mark: str) -> str:
    """A user's star (relevant to us) or dismissal (not for us) of a notice; the
    installation's relevance model is retrained from every decision (``tracker.relevance``).
    Returns what happened to the model, in words. Flushes; the caller commits."""
    if mark not in MARKS:
        raise UserError(f"mark: {mark!r} is not one of {', '.join(MARKS)}")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    row = session.scalars(
        select(NoticeMark).where(NoticeMark.notice_pk == notice_pk, NoticeMark.user_id == user.id)
    ).first()
    if row is None:
        row = NoticeMark(notice_pk=notice_pk, user_id=user.id, mark=mark)
        session.add(row)
    row.mark, row.created_at = mark, utcnow()
    session.flush()
    model = train_model(session)
    if model is None:
        return "The relevance model needs at least 3 relevant and 3 irrelevant examples."
    return f"Relevance model retrained on {model.examples} decisions."


def mark_notices_seen(session: Session, user: User, now: dt.datetime | None = None) -> None:
    """'Mark all as seen': the KAM home then lists only notices stored after ``now``.
    Flushes; the caller commits."""
    user.last_seen_notices_at = now or utcnow()
    session.flush()


# --------------------------------------------------------------------------- account page


def _get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id, options=[selectinload(Account.orgnrs)])
    if account is None:
        raise NotFoundError(f"no account with id {account_id}")
    return account


def account_profile(session: Session, account: Account) -> dict[str, Any]:
    orgnrs = sorted(o.orgnr for o in account.orgnrs)
    orgs = (
        session.scalars(select(Organisation).where(Organisation.orgnr.in_(orgnrs))).all()
        if orgnrs
        else []
    )
    parents = sorted({o.parent_orgnr for o in orgs if o.parent_orgnr})
    parent_names = (
        dict(
            session.execute(
                select(Organisation.orgnr, Organisation.name).where(Organisation.orgnr.in_(parents))
            ).all()
        )
        if parents
        else {}
    )
    return {
        "id": account.id,
        "name": account.name,
        "orgnrs": [
            {
                "orgnr": nr,
                "name": next((o.register_name or o.name for o in orgs if o.orgnr == nr), None),
            }
            for nr in orgnrs
        ],
        "parents": [{"orgnr": p, "name": parent_names.get(p)} for p in parents],
        "sector": sorted({o.sector_code for o in orgs if o.sector_code}),
        "org_form": sorted({o.org_form for o in orgs if o.org_form}),
        "tier": account.tier,
        "buyer_type": account.buyer_type,
        "kam": account.kam_email,
        "team": account.team,
        "notes": account.notes,
        "plan_notes": account.plan_notes,
    }


def account_notices(
    session: Session, account_id: int, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Notice history of an account (latest versions, newest first), one page.

    One query gives the page's ids and the total (a window count); a COUNT runs only
    when the page is past the end.
    """
    linked = select(NoticeLink.notice_pk).where(
        NoticeLink.account_id == account_id, NoticeLink.status != "rejected"
    )
    latest = and_(Notice.id.in_(linked), Notice.is_latest.is_(True))
    rows = session.execute(
        select(Notice.id, func.count().over().label("total"))
        .where(latest)
        .order_by(Notice.issue_date.desc().nulls_last(), Notice.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    if rows:
        total = rows[0].total
    else:
        total = session.scalar(select(func.count()).select_from(Notice).where(latest)) or 0
    return {"items": notice_rows(session, [r.id for r in rows]), "total": total}


def account_contract_rows(
    session: Session, account_id: int, today: dt.date, limit: int = 200
) -> list[dict[str, Any]]:
    """Contracts of the account: current and coming ends first, then ended ones; one row
    per awarded lot and winner group (``_contract_rows``)."""
    found = session.execute(
        select(Contract, ContractAccount.account_id)
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .where(
            ContractAccount.account_id == account_id,
            ContractAccount.status != "rejected",
            or_(Contract.expected.is_not(True), Contract.expected_award <= today),
        )
        .order_by(Contract.id)
        .limit(limit)
    ).all()
    rows = _contract_rows(session, found, today)
    rows.sort(
        key=lambda r: (
            r["ended"],
            (r["next_end"] or r["end_date"] or r["latest_end"]) is None,
            r["next_end"] or r["end_date"] or r["latest_end"] or "",
            r["contract_id"],
        )
    )
    return rows


def account_page(session: Session, account_id: int, user: User, today: dt.date) -> dict[str, Any]:
    account = _get_account(session, account_id)
    known = {account.id: {"name": account.name, "buyer_type": account.buyer_type}}
    opportunities = opportunity_rows(
        session, today, account_ids=[account.id], limit=100, accounts=known
    )
    # every opportunity of the account, the ones in the capability profile first
    opportunities.sort(key=lambda o: not (o.get("fit") or {}).get("shown"))
    return {
        "overdue": [o for o in opportunities if o["phase"] in RISK_PHASES],
        "account": account_profile(session, account),
        "can_edit": can_edit_account(user, account.kam_email),
        "contracts": account_contract_rows(session, account.id, today),
        "opportunities": opportunities,
        "notices": account_notices(session, account.id),
        "activities": list_activities(session, account.id),
        "contacts": list_contacts(session, account.id),
    }


# --------------------------------------------------------------------------- bids


def _bid_item(row: dict[str, Any]) -> dict[str, Any]:
    """A ``tracker.bids.bid_row`` dict with the names the templates and exports use."""
    criteria = next((lot["criteria"] for lot in row["lots"] if lot["criteria"]), [])
    return {
        **row,
        "id": row["notice_pk"],
        "doffin_url": row["url"],
        "estimated_value": row["value"],
        "bid_status": row["status"],
        "criteria": criteria,
        "urgent": row["days_left"] is not None and row["days_left"] < URGENT_DEADLINE_DAYS,
    }


def scored_bids(
    session: Session, today: dt.date, notice_pks: list[int], rules: Rules | None = None
) -> list[dict[str, Any]]:
    """Rows with explainable scores (``tracker.bids.bid_rows``), in the given order."""
    if not notice_pks:
        return []
    rows = bids_module.bid_rows(session, today, notice_pks, rules=rules)
    return [_bid_item(row) for row in rows]


BID_SHOWS = bids_module.SHOWS


def open_competition_ids(
    session: Session,
    today: dt.date,
    *,
    show: str = "relevant",
    account_ids: list[int] | None = None,
    cached: bool = False,
    rules: Rules | None = None,
) -> tuple[int, ...]:
    """Primary keys of the open competitions, soonest deadline first: the selection of
    ``tracker.bids.open_competition_ids`` (the ``tracker bids`` command lists the same).
    ``cached``: reuse the list built for the same database, day and filter for up to
    ``OPEN_LIST_TTL_SECONDS`` (a competition stored meanwhile shows up that much later;
    decisions, bid statuses and scores are never cached)."""
    rules = rules or load_rules()

    def build() -> tuple[int, ...]:
        return tuple(
            bids_module.open_competition_ids(
                session, today, show=show, account_ids=account_ids, rules=rules
            )
        )

    if not cached:
        return build()
    if show not in BID_SHOWS:
        raise UserError(f"show: {show!r} is not one of {', '.join(BID_SHOWS)}")
    ids = tuple(account_ids) if account_ids is not None else None
    scoring = rules.scoring_rules()
    key = ("open-competitions", show, ids, scoring.cpv_prefixes, scoring.keywords)
    return cached_aggregate(session, key, today, build, ttl=OPEN_LIST_TTL_SECONDS)


def bids_page(
    session: Session,
    today: dt.date,
    *,
    show: str = "relevant",
    account_ids: list[int] | None = None,
    undecided_only: bool = False,
    page: int = 1,
    per_page: int = 50,
    cached: bool = False,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """Open competitions, soonest deadline first, one page, scored by ``tracker.bids``.

    Only the page's rows are scored. ``cached``: the list of open competitions may be up
    to ``OPEN_LIST_TTL_SECONDS`` old (``open_competition_ids``); ``fresh_within_s`` says
    how old it may be (0: built for this call).
    """
    # Open competitions are a few thousand at most: one query for the ids of all, then
    # a page of them scored (cheaper than a COUNT plus a LIMIT query over the same join).
    rules = rules or load_rules()
    ordered: tuple[int, ...] | list[int] = open_competition_ids(
        session, today, show=show, account_ids=account_ids, cached=cached, rules=rules
    )
    if undecided_only:  # decisions are read on every call: a decision leaves the queue at once
        decided = set(session.scalars(select(BidDecision.notice_pk).distinct()))
        ordered = [pk for pk in ordered if pk not in decided]
    total = len(ordered)
    per_page = max(1, min(per_page, 200))
    page = max(1, page)
    rows = list(ordered[(page - 1) * per_page : page * per_page])
    return {
        "items": scored_bids(session, today, rows, rules),
        "total": total,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "show": show,
        "statuses": BID_STATUSES,
        "capacities": CAPACITIES,
        "risks": RISKS,
        "fresh_within_s": int(OPEN_LIST_TTL_SECONDS) if cached else 0,
        "intentions": intention_rows(session, today),
    }


def intention_rows(session: Session, today: dt.date, limit: int = 50) -> list[dict[str, Any]]:
    """Intention notices (direct awards announced before the contract is concluded) whose
    challenge period has not run out on ``today``: the bid team may still ask the buyer
    or challenge the award. One row per contract, soonest end of the period first."""
    found = session.execute(
        select(Contract, ContractAccount.account_id)
        .outerjoin(
            ContractAccount,
            and_(ContractAccount.contract_id == Contract.id, ContractAccount.status != "rejected"),
        )
        .join(Notice, Notice.id == Contract.notice_pk)
        .where(
            Contract.challenge_until >= today,
            func.coalesce(Notice.issue_date, Notice.publication_date) <= today,
        )
        .order_by(Contract.challenge_until, Contract.id)
        .limit(limit)
    ).all()
    seen: set[int] = set()
    out = []
    for row in _contract_rows(session, list(found), today):
        if row["contract_id"] in seen:
            continue
        seen.add(row["contract_id"])
        row["challenge_days_left"] = (dt.date.fromisoformat(row["challenge_until"]) - today).days
        out.append(row)
    return out


def set_bid_status(session: Session, user: User, notice_pk: int, status: str) -> BidStatus:
    """Record our bid status on a competition (bid team, director or admin only)."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not change bid statuses")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return bids_module.set_bid_status(session, notice_pk, status, user.email)


def assess_bid(
    session: Session,
    user: User,
    notice_pk: int,
    capacity: str | None,
    delivery_risk: str | None,
    reason: str,
) -> BidAssessment:
    """Record the bid team's capacity and delivery-risk assessment of a competition (bid
    team, director or admin); it counts in the score with its reason."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not assess bids")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return bids_module.set_assessment(
        session, notice_pk, user.email, capacity=capacity, delivery_risk=delivery_risk,
        reason=reason,
    )  # fmt: skip


def decide_bid(
    session: Session, user: User, notice_pk: int, decision: str, why: str, today: dt.date
) -> BidDecision:
    """Record a bid/no-bid decision (director or admin only) with the score of ``today``."""
    if not can_decide_bids(user):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not record bid decisions: director or admin only"
        )
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return bids_module.record_decision(session, notice_pk, decision, user.email, why, today=today)


# --------------------------------------------------------------------------- director


def pipeline(session: Session, in_profile_only: bool = True) -> list[dict[str, Any]]:
    """Opportunities by phase and currency: ``{phase, currency, count, value}``, phases in
    the tracker's order (``PHASE_ORDER``). Only opportunities in our capability profile
    (``Opportunity.in_profile``, as of the last recompute; every one with
    ``in_profile_only`` False) at an account by a confirmed link count, and each tender
    once (identified by its procedure id, else its competition notice, notice or
    contract), whatever the number of accounts it is at;
    values are summed per currency (never EUR added to NOK; the opportunity's currency,
    else its notice's); ``currency`` None when neither is known."""
    rows = session.execute(
        select(
            Opportunity.key,
            Opportunity.phase,
            Opportunity.value,
            Opportunity.timeline,
            Opportunity.competition_notice_pk,
            Opportunity.notice_pk,
            Opportunity.contract_id,
            Notice.currency,
        )
        .outerjoin(
            Notice,
            Notice.id == func.coalesce(Opportunity.competition_notice_pk, Opportunity.notice_pk),
        )
        .where(Opportunity.in_profile.is_not(False) if in_profile_only else True)
        .order_by(Opportunity.id)
    )
    seen: set[tuple[str, Any]] = set()
    by: dict[tuple[str | None, str | None], list[float]] = {}
    for key, phase, value, timeline, comp_pk, notice_pk, contract_id, notice_cur in rows:
        extra = (timeline or {}).get("extra") or {}
        if extra.get("link_status", "confirmed") != "confirmed":
            continue
        ident: tuple[str, Any]
        if extra.get("procedure_id"):
            ident = ("procedure", extra["procedure_id"])
        elif comp_pk or notice_pk:
            ident = ("notice", comp_pk or notice_pk)
        elif contract_id:
            ident = ("contract", contract_id)
        else:
            ident = ("key", key)
        if ident in seen:
            continue
        seen.add(ident)
        currency = extra.get("currency") or notice_cur or None
        acc = by.setdefault((phase, currency), [0, 0.0])
        acc[0] += 1
        acc[1] += float(value or 0)
    rank = {p: i for i, p in enumerate(PHASE_ORDER)}
    order = sorted(
        by,
        key=lambda pc: (
            rank.get(pc[0], len(rank)) if pc[0] is not None else len(rank) + 1,
            pc[0] or "",
            pc[1] is None,
            pc[1] or "",
        ),
    )
    return [
        {
            "phase": phase or "unknown",
            "currency": currency,
            "count": int(by[(phase, currency)][0]),
            "value": by[(phase, currency)][1],
        }
        for phase, currency in order
    ]


def incumbency_rows(
    session: Session,
    today: dt.date,
    limit: int = 100,
    our_orgnrs: list[str] | None = None,
    in_profile_only: bool = True,
) -> list[dict[str, Any]]:
    """Per account: who holds its running contracts in our capability profile (their
    re-tender opportunity is ``in_profile``), us or a competitor, most first."""
    if our_orgnrs is None:
        our_orgnrs = load_settings().our_orgnr_list
    rows = session.execute(
        select(
            ContractAccount.account_id,
            ContractParty.orgnr,
            func.max(ContractParty.name),
            func.count(func.distinct(Contract.id)),
            # NULL when no value is known: shown as "–", not 0. A ceiling shared by
            # parallel suppliers is not this supplier's value: never added.
            func.sum(case((Contract.value_shared.is_(True), None), else_=Contract.value)),
            func.min(func.coalesce(Contract.end_date, Contract.latest_end)),
        )
        .join(Contract, Contract.id == ContractAccount.contract_id)
        .join(
            ContractParty,
            and_(ContractParty.contract_id == Contract.id, ContractParty.role == "supplier"),
        )
        .where(
            ContractAccount.status != "rejected",
            or_(
                and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)),
                Contract.end_date >= today,
                Contract.latest_end >= today,
                Contract.extension == "probably_extended",
            ),
            # (an IN over the in-profile re-tenders: one scan, not one per contract)
            Contract.id.in_(
                select(Opportunity.contract_id).where(
                    Opportunity.contract_id.is_not(None), Opportunity.in_profile.is_not(False)
                )
            )
            if in_profile_only
            else True,
        )
        .group_by(ContractAccount.account_id, ContractParty.orgnr, ContractParty.party_key)
        .order_by(func.count(func.distinct(Contract.id)).desc(), ContractAccount.account_id)
        .limit(limit)
    ).all()
    names = account_names(session, sorted({r[0] for r in rows}))
    return [
        {
            "account_id": acc,
            "account": names.get(acc),
            "supplier": name,
            "orgnr": orgnr,
            "us": bool(orgnr and orgnr in our_orgnrs),
            "contracts": count,
            "value": float(value) if value is not None else None,
            "next_end": next_end,
        }
        for acc, orgnr, name, count, value, next_end in rows
    ]


def uncovered_accounts(
    session: Session, today: dt.date, limit: int = 100, in_profile_only: bool = True
) -> list[dict[str, Any]]:
    """Accounts with an open influence window in our capability profile and no activity in
    the last 90 days."""
    since = today - dt.timedelta(days=NO_ACTIVITY_DAYS)
    rows = session.execute(
        select(Account.id, Account.name, Account.kam_email, func.count(Opportunity.id))
        .join(Opportunity, Opportunity.account_id == Account.id)
        .where(
            Opportunity.phase.in_(OPEN_PHASES),
            Opportunity.in_profile.is_not(False) if in_profile_only else True,
            ~exists().where(and_(Activity.account_id == Account.id, Activity.happened_on >= since)),
        )
        .group_by(Account.id, Account.name, Account.kam_email)
        .order_by(func.count(Opportunity.id).desc(), Account.name)
        .limit(limit)
    ).all()
    return [
        {"account_id": i, "account": n, "kam": k, "open_windows": c, "since": since}
        for i, n, k, c in rows
    ]


def director_page(
    session: Session, today: dt.date, queue_size: int = 20, show: str = "relevant"
) -> dict[str, Any]:
    """The director's page: pipeline, the bid/no-bid queue (``show``: ``relevant``, the
    competitions in our capability profile, by default; ``accounts`` or ``all``),
    decisions, incumbency and uncovered accounts (in our profile only with ``relevant``)."""
    rules = load_rules()
    mine = show == "relevant"
    queue = bids_page(
        session,
        today,
        show=show,
        undecided_only=True,
        per_page=queue_size,
        cached=True,
        rules=rules,
    )
    decided = session.execute(
        select(BidDecision.notice_pk)
        .order_by(BidDecision.decided_at.desc(), BidDecision.id.desc())
        .limit(queue_size)
    ).scalars()
    decided_pks = list(dict.fromkeys(decided))
    return {
        "pipeline": cached_aggregate(
            session, ("pipeline", mine), today, lambda: pipeline(session, mine)
        ),
        "queue": queue["items"],
        "queue_total": queue["total"],
        "decided": scored_bids(session, today, decided_pks, rules),
        "incumbency": cached_aggregate(
            session,
            ("incumbency", mine),
            today,
            lambda: incumbency_rows(session, today, in_profile_only=mine),
        ),
        "uncovered": cached_aggregate(
            session,
            ("uncovered", mine),
            today,
            lambda: uncovered_accounts(session, today, in_profile_only=mine),
        ),
        "decisions": DECISIONS,
        "show": show,
        "fresh_within_s": int(max(AGGREGATE_TTL_SECONDS, OPEN_LIST_TTL_SECONDS)),
    }


# --------------------------------------------------------------------------- notice page


NOTICE_FIELDS = (
    ("source", "Source"),
    ("source_id", "Source id"),
    ("notice_id", "Notice id (BT-701)"),
    ("version", "Version (BT-757)"),
    ("procedure_id", "Procedure id (BT-04)"),
    ("subtype", "Subtype (OPP-070)"),
    ("notice_type", "Notice type (BT-02)"),
    ("form_type", "Form type (BT-03)"),
    ("document_type", "Document"),
    ("customization_id", "Customization id"),
    ("issue_date", "Issue date (BT-05)"),
    ("publication_date", "Publication date"),
    ("status", "Status"),
    ("language", "Language"),
    ("procedure_type", "Procedure type (BT-105)"),
    ("main_cpv", "Main CPV (BT-262)"),
    ("cpv_codes", "CPV codes (BT-262/263)"),
    ("estimated_value", "Estimated value (BT-27)"),
    ("currency", "Currency"),
    ("changed_notice_id", "Changes notice (BT-758)"),
    ("previous_notice_ids", "Previous notices (BT-125)"),
    ("planned_date", "Planned date of later notice (BT-127)"),
    ("documents_url", "Tender documents (BT-15)"),
    ("is_test", "Test notice"),
    ("warnings", "Parser warnings"),
    ("parser_version", "Parser version"),
    ("created_at", "Stored at"),
)


def notice_page(session: Session, notice_pk: int, today: dt.date | None = None) -> dict[str, Any]:
    """Every parsed field of a notice, its buyers and links, lots, results and versions;
    the contracts derived from it (per lot and supplier, with their evidence), what it
    says as a competition (``tracker.competitions``), and, for a result that awards
    nothing, why and whether the buyer says it will try again."""
    n = session.get(
        Notice,
        notice_pk,
        options=[
            selectinload(Notice.buyers),
            selectinload(Notice.lots).selectinload(Lot.award_criteria),
            selectinload(Notice.results).selectinload(LotResult.winners),
        ],
    )
    if n is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    links = session.execute(
        select(NoticeLink, Account.name)
        .join(Account, Account.id == NoticeLink.account_id)
        .where(NoticeLink.notice_pk == n.id)
        .order_by(NoticeLink.id)
    ).all()
    links_by_buyer: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link, name in links:
        links_by_buyer[link.buyer_pk].append(
            {
                "id": link.id,
                "account_id": link.account_id,
                "account": name,
                "method": link.method,
                "confidence": round(link.confidence, 2),
                "status": link.status,
                "decided_by": link.decided_by,
            }
        )
    versions = session.execute(
        select(Notice.id, Notice.version, Notice.source_id, Notice.issue_date, Notice.is_latest)
        .where(Notice.notice_id == n.notice_id)
        .order_by(Notice.id)
    ).all()
    changes = session.execute(
        select(Notice.id, Notice.notice_id, Notice.version, Notice.issue_date, Notice.title)
        .where(or_(Notice.changed_notice_id == n.notice_id, Notice.changes_notice_pk == n.id))
        .order_by(Notice.issue_date, Notice.id)
        .limit(100)
    ).all()
    same_procedure = (
        session.execute(
            select(Notice.id, Notice.subtype, Notice.issue_date, Notice.title)
            .where(
                Notice.procedure_id == n.procedure_id,
                Notice.id != n.id,
                Notice.is_latest.is_(True),
            )
            .order_by(Notice.issue_date, Notice.id)
            .limit(50)
        ).all()
        if n.procedure_id
        else []
    )
    reading = pretender_readings(session, [n]).get(n.id)
    item = notice_texts(session, [n.id])[n.id]
    day = today or dt.date.today()
    derived = session.execute(
        select(Contract, ContractAccount.account_id)
        .outerjoin(
            ContractAccount,
            and_(ContractAccount.contract_id == Contract.id, ContractAccount.status != "rejected"),
        )
        .where(or_(Contract.notice_pk == n.id, Contract.modified_by_notice_pk == n.id))
        .order_by(Contract.lot_id, Contract.id)
    ).all()
    seen: set[int] = set()
    contracts = []
    for row in _contract_rows(session, list(derived), day):
        if row["contract_id"] not in seen:  # one row per contract (not per account)
            seen.add(row["contract_id"])
            contracts.append(row)
    return {
        "id": n.id,
        "title": n.title,
        "description": n.description,
        "note": n.note,
        "contracts": contracts,
        "competition": competition_lots(session, n.id)
        if phase_of(n.subtype) in ("competition", "planning") or n.document_type == "ContractNotice"
        else [],
        "not_awarded": unawarded(session, n.id),
        "phase": phase_of(n.subtype),
        "doffin_url": doffin_url(n.source, n.source_id),
        # what the notice asks for before the competition (tracker.pretender), and fit
        "pretender": reading.as_dict() if reading else None,
        "fit": relevance(load_rules().profile(), item, stored_model(session)),
        "fields": [(label, key, getattr(n, key)) for key, label in NOTICE_FIELDS],
        "buyers": [
            {
                "name": b.name,
                "orgnr": b.orgnr,
                "orgnr_raw": b.orgnr_raw,
                "country": b.country,
                "legal_type": b.legal_type,
                "links": links_by_buyer.get(b.id, []),
            }
            for b in n.buyers
        ],
        "lots": [
            {
                "lot_id": lot.lot_id,
                "title": lot.title,
                "description": lot.description,
                "main_cpv": lot.main_cpv,
                "value": _num(lot.estimated_value),
                "currency": lot.currency,
                "framework_code": lot.framework_code,
                "duration": f"{lot.duration_value:g} {lot.duration_unit}"
                if lot.duration_value is not None
                else None,
                "start_date": lot.start_date,
                "end_date": lot.end_date,
                "max_renewals": lot.max_renewals,
                "renewal_description": lot.renewal_description,
                "options_description": lot.options_description,
                "submission_deadline": lot.submission_deadline,
                "request_deadline": lot.request_deadline,
                "documents_url": lot.documents_url,
                "selection_criteria": [
                    bids_module.labelled_criterion(c) for c in lot.selection_criteria or []
                ],
                "criteria": [
                    {"type": c.type, "name": c.name, "weight": c.weight} for c in lot.award_criteria
                ],
            }
            for lot in n.lots
        ],
        "results": [
            {
                "lot_id": r.lot_id,
                "winner_chosen": r.winner_chosen,
                "tender_value": _num(r.tender_value),
                "currency": r.currency,
                "conclusion_date": r.conclusion_date,
                "framework": r.framework,
                "contract_id": r.contract_id,
                "contract_title": r.contract_title,
                "tenders_received": r.tenders_received,
                "award_date": r.award_date,
                "tender_id": r.tender_id,
                "value_inferred": bool(r.value_inferred),
                "lot_mapped": r.lot_mapped,
                "parallel": r.parallel,
                "winners": [{"name": w.name, "orgnr": w.orgnr} for w in r.winners],
            }
            for r in n.results
        ],
        "versions": [
            {"id": i, "version": v, "source_id": s, "issue_date": d, "is_latest": latest}
            for i, v, s, d, latest in versions
        ],
        "changes": [
            {"id": i, "notice_id": nid, "version": v, "issue_date": d, "title": t}
            for i, nid, v, d, t in changes
        ],
        "procedure": [
            {"id": i, "subtype": s, "phase": phase_of(s), "issue_date": d, "title": t}
            for i, s, d, t in same_procedure
        ],
    }


def decide_suggested_link(session: Session, user: User, link_id: int, status: str) -> None:
    """Confirm or reject a suggested link (the account's KAM, director or admin)."""
    if status not in ("confirmed", "rejected"):
        raise UserError(f"status: {status!r} is not confirmed or rejected")
    link = session.get(NoticeLink, link_id)
    if link is None:
        raise NotFoundError(f"no link with id {link_id}")
    account = session.get(Account, link.account_id)
    if account is None or not can_edit_account(user, account.kam_email):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not decide links of this account"
        )
    decide_link(session, link_id, status, user.email)
    if status == "confirmed":  # a confirmed link is a weak sign of relevance
        train_model(session)


# --------------------------------------------------------------------------- calendar


def calendar_items(session: Session, user: User, today: dt.date) -> list[dict[str, Any]]:
    """What the user's calendar shows: opportunities of their accounts whose dates are not
    all past (at most 500) and the tender deadlines of open competitions (at most 200;
    a KAM's: those linked to their accounts)."""
    ids = account_ids_for(session, user)
    rows = opportunity_rows(session, today, account_ids=ids, limit=2000)
    keep = []
    for row in rows:
        dates = [row.get(k) for k in ("influence_opens", "expected_publication", "expiry")]
        if any(d and d >= today for d in dates):
            keep.append(row)
    show = "accounts" if ids is not None else "relevant"
    bids = bids_page(session, today, show=show, account_ids=ids, per_page=200)["items"]
    return keep[:500] + bids


def calendar_feed(
    session: Session, user: User, today: dt.date, base_url: str | None = None
) -> bytes:
    """The user's iCalendar feed, built by ``tracker.ical.build_calendar`` (in the user's
    language, events linking to their pages under ``base_url``)."""
    items = calendar_items(session, user, today)
    return build_calendar(
        items,
        name=f"Tender tracker ({user.email})",
        language=getattr(user, "language", None) or "nb",
        base_url=base_url,
    )
