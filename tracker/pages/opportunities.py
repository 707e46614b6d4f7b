"""Coming procurements at the accounts: the opportunities question.

:func:`opportunities` (``tracker opportunities``, the alerts, the command line's
calendar) and :func:`opportunity_rows` (the KAM home, the account page, the calendar
feed, the opportunities export) return the same :class:`OpportunityRow` records
(``tracker.opportunities.reading``: the stored opportunity with the tracker's own values
for ``today``); :func:`budget_windows` the budget windows per account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from tracker.accounts.keyaccounts import get_account
from tracker.db.models import Account, Activity, Opportunity
from tracker.enums import Phase
from tracker.errors import NotFoundError, UserError
from tracker.opportunities.budget import budget_status
from tracker.opportunities.build import accounts_by_id
from tracker.opportunities.reading import OpportunityRow, phase_on, read_opportunity
from tracker.opportunities.relevance import stored_model
from tracker.opportunities.windows import INFLUENCE_PHASES, PHASES
from tracker.pages.base import in_scope, plain
from tracker.rules import Rules

OPEN_PHASES = tuple(p for p in PHASES if p in INFLUENCE_PHASES)  # influence_open, drafting
PHASE_ORDER = (
    PHASES  # the tracker's own order (tracker.opportunities.windows.PHASES), overdue included
)
RISK_PHASES = (Phase.OVERDUE,)  # contract ended, no competition seen: re-tender overdue/extended?
HOME_ROWS = 25  # rows per section of the KAM home; the full lists are in the exports


def account_names(session: Session, ids: list[int] | None = None) -> dict[int, str]:
    q = select(Account.id, Account.name)
    if ids is not None:
        q = q.where(Account.id.in_(ids))
    return dict(session.execute(q).all())


# --------------------------------------------------------------------------- opportunities


def account_info(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """``{id: {name, tier, buyer_type}}`` of the given accounts (what the rows and the
    window rules need)."""
    if not ids:
        return {}
    return {
        i: {"name": name, "tier": tier, "buyer_type": buyer_type}
        for i, name, tier, buyer_type in session.execute(
            select(Account.id, Account.name, Account.tier, Account.buyer_type).where(
                Account.id.in_(ids)
            )
        )
    }


def known_accounts(
    session: Session, ids: list[int], known: dict[int, dict[str, Any]] | None
) -> dict[int, dict[str, Any]]:
    """``account_info`` of ``ids``, from ``known`` (accounts the page already read) when
    it has them all (with their tier), else one query."""
    if known is not None and all(i in known and "tier" in known[i] for i in ids):
        return known
    return account_info(session, ids)


def activity_counts(session: Session, keys: list[str]) -> dict[str, int]:
    """The number of activities recorded on each opportunity of ``keys``."""
    out: dict[str, int] = {}
    for i in range(0, len(keys), 2000):
        for key, n in session.execute(
            select(Activity.opportunity_key, func.count())
            .where(Activity.opportunity_key.in_(keys[i : i + 2000]))
            .group_by(Activity.opportunity_key)
        ):
            if key is not None:
                out[key] = n
    return out


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
    Opportunity.expected_award,
    Opportunity.contract_start,
    Opportunity.phase,
    Opportunity.confidence,
    Opportunity.notice_pk,
    Opportunity.competition_notice_pk,
    Opportunity.id,
    Opportunity.contract_id,
    Opportunity.timeline,
)


def opportunities(
    session: Session,
    today: dt.date,
    *,
    rules: Rules,
    account_ids: list[int] | None = None,
    phase: str | None = None,
    open_now: bool = False,
) -> list[OpportunityRow]:
    """Every stored opportunity (of ``account_ids``; None: all) with its values for
    ``today``: in ``phase`` (one of ``tracker.opportunities.windows.PHASES``), or where
    influence is possible today (``open_now``). Sorted: open windows first (a market
    dialogue open now first of all) by days left, then by expected publication."""
    if phase is not None and phase not in PHASES:
        raise UserError(f"phase: {phase!r} is not one of {', '.join(PHASES)}")
    accounts = accounts_by_id(session)
    q = select(*_OPPORTUNITY_COLUMNS).where(in_scope(Opportunity.account_id, account_ids))
    rows = session.execute(q.order_by(Opportunity.id)).all()
    counts = dict(
        session.execute(
            select(Activity.opportunity_key, func.count())
            .where(Activity.opportunity_key.is_not(None))
            .group_by(Activity.opportunity_key)
        ).all()
    )
    model = stored_model(session)
    out = []
    for row in rows:
        account = accounts.get(row.account_id or -1, {})
        item = read_opportunity(row, account, today, rules, counts.get(row.key, 0), model)
        if phase is not None and item.phase != phase:
            continue
        if open_now and not item.can_influence:
            continue
        out.append(item)
    far = dt.date.max
    out.sort(
        key=lambda o: (
            not o.can_influence,
            o.phase != Phase.DIALOGUE_OPEN,  # a market dialogue open now comes first
            o.days_left if o.days_left is not None else 10**6,
            o.expected_publication or far,
            o.key,
        )
    )
    return out


def account_ids_of(session: Session, account: str | int | None) -> list[int] | None:
    """The ids an ``account`` filter means (id, name in any case, or alias, as
    ``tracker.accounts.keyaccounts.get_account``; ``NotFoundError`` if unknown)."""
    return None if account is None else [get_account(session, account).id]


def get_opportunity(session: Session, key: str, *, today: dt.date, rules: Rules) -> OpportunityRow:
    """One opportunity by key (``NotFoundError`` if absent)."""
    row = session.execute(select(*_OPPORTUNITY_COLUMNS).where(Opportunity.key == key)).first()
    if row is None:
        raise NotFoundError(f"no opportunity {key!r}")
    account = accounts_by_id(session).get(row.account_id or -1, {})
    n = session.scalar(select(func.count()).where(Activity.opportunity_key == key)) or 0
    return read_opportunity(row, account, today, rules, n, stored_model(session))


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


def merge_accounts(rows: list[OpportunityRow]) -> list[dict[str, Any]]:
    """One plain row per procurement (``group``) with every account it is at (a notice
    linked to Sykehusinnkjøp HF and Helse Sør-Øst RHF is listed once, not once per
    account)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        first = out.get(r.group)
        if first is None:
            out[r.group] = {**plain(r), "accounts": list(r.accounts)}
        elif r.accounts[0] not in first["accounts"]:
            first["accounts"].append(r.accounts[0])
    return list(out.values())


def opportunity_rows(
    session: Session,
    today: dt.date,
    *,
    account_ids: list[int] | None = None,
    phases: tuple[str, ...] | None = None,
    limit: int = 200,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules,
    where: Any = None,
    in_profile: bool | None = None,
    phases_today: tuple[str, ...] | None = None,
    first: int | None = None,
) -> list[OpportunityRow]:
    """Stored opportunities (from ``tracker.opportunities.build.recompute``), soonest first;
    ``where``: an extra SQL condition (a cheap pre-selection); ``in_profile``: only those in
    (True) or outside (False) the capability profile as of the last recompute;
    ``phases``: stored in one of these phases and still in one of them on ``today`` (in
    one of ``phases_today`` when given); ``first``: at most that many of those.
    ``accounts``: ``{id: {name, buyer_type}}`` the caller already has (saves a query);
    ``rules``: the rules the caller was given. The phase on ``today`` is tested before a
    row is read in full."""
    q = select(*_OPPORTUNITY_COLUMNS).where(in_scope(Opportunity.account_id, account_ids))
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
    info = known_accounts(session, sorted({o.account_id for o in rows if o.account_id}), accounts)
    wanted = phases_today or phases
    if wanted:  # the phase on today (an overdue publication turns overdue at contract start)
        rows = [o for o in rows if phase_on(o, info.get(o.account_id or 0, {}), today, rules)
                in wanted]  # fmt: skip
    rows = rows[:first] if first is not None else rows
    model = stored_model(session)
    counts = activity_counts(session, [o.key for o in rows])
    return [
        read_opportunity(
            o, info.get(o.account_id or 0, {}), today, rules, counts.get(o.key, 0), model
        )
        for o in rows
    ]


def overdue_rows(
    session: Session,
    today: dt.date,
    account_ids: list[int] | None,
    *,
    limit: int = HOME_ROWS,
    accounts: dict[int, dict[str, Any]] | None = None,
    rules: Rules,
    in_profile: bool | None = None,
) -> list[OpportunityRow]:
    """Opportunities in the tracker's ``overdue`` phase on ``today`` (the contract has
    ended and no competition notice was seen: re-tender overdue or the contract
    extended?), with their reason. Stored phases drafting/overdue are the candidates (an
    overdue publication stays in drafting until the contract start); the phase shown is
    the one ``tracker.opportunities.build`` computes for ``today``."""
    return opportunity_rows(
        session,
        today,
        account_ids=account_ids,
        phases=(Phase.DRAFTING, *RISK_PHASES),
        phases_today=RISK_PHASES,
        first=limit,
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


def budget_windows(
    session: Session,
    today: dt.date,
    account_ids: list[int] | None,
    limit: int = 50,
    accounts: dict[int, dict[str, Any]] | None = None,
    in_profile_only: bool = False,
) -> list[dict[str, Any]]:
    """Primary budget windows (``tracker.opportunities.build.stored_budget_window``) not yet
    ended, per account (one row per account and window), with their status: open,
    upcoming, or missed when the window ends before influence opens on any of its
    opportunities (``tracker.opportunities.windows.budget_window_for``). ``in_profile_only``: count
    only
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
            in_scope(Opportunity.account_id, account_ids),
            Opportunity.budget_end.is_not(None),
            Opportunity.budget_end >= today,
            Opportunity.in_profile.is_not(False) if in_profile_only else true(),
        )
        .group_by(Opportunity.account_id, Opportunity.budget_start, Opportunity.budget_end)
        .order_by(Opportunity.budget_start, Opportunity.account_id)
        .limit(limit)
    ).all()
    info = known_accounts(session, sorted({r[0] for r in rows if r[0]}), accounts)
    out = []
    for acc, start, end, count, _contract_start, opens in rows:
        if start is None or end is None:  # budget_end is not None; a window has both
            continue
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
