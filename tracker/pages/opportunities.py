"""Coming procurements at the accounts (stored opportunities with the tracker's own
values for today): the rows of the KAM home, the account page, the calendar and the
opportunities export; and the budget windows per account.

Not yet typed: the rows are dicts (``tracker.opportunities.build.opportunity_dict`` plus the
account), see issue 13.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Account,
    Opportunity,
)
from tracker.enums import Phase
from tracker.opportunities.build import (
    opportunity_dict,
    opportunity_item,
    stored_budget_window,
)
from tracker.opportunities.relevance import (
    LearnedModel,
    relevance,
    stored_model,
)
from tracker.opportunities.windows import INFLUENCE_PHASES, PHASES, budget_status
from tracker.pages.base import in_scope, num
from tracker.rules import Rules

OPEN_PHASES = tuple(p for p in PHASES if p in INFLUENCE_PHASES)  # influence_open, drafting
PHASE_ORDER = (
    PHASES  # the tracker's own order (tracker.opportunities.windows.PHASES), overdue included
)
RISK_PHASES = (Phase.OVERDUE,)  # contract ended, no competition seen: re-tender overdue/extended?
URGENT_INFLUENCE_DAYS = 60  # an influence window closing sooner is flagged urgent
HOME_ROWS = 25  # rows per section of the KAM home; the full lists are in the exports


def account_names(session: Session, ids: list[int] | None = None) -> dict[int, str]:
    q = select(Account.id, Account.name)
    if ids is not None:
        q = q.where(Account.id.in_(ids))
    return dict(session.execute(q).all())


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


def known_accounts(
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
    (``tracker.opportunities.build.opportunity_dict``: phase, dates, ``days_left``, ``overdue``,
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
        "value": num(o.value),
        "expiry": o.expiry,
        "expiry_source": o.expiry_source,
        "influence_opens": o.influence_opens,
        "drafting_starts": o.drafting_starts,
        "expected_publication": o.expected_publication,
        "expected_deadline": o.expected_deadline,
        "phase": o.phase,
        "can_influence": False,
        "days_left": None,
        "overdue": o.phase == Phase.OVERDUE,
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
    rules: Rules,
    where: Any = None,
    in_profile: bool | None = None,
) -> list[dict[str, Any]]:
    """Stored opportunities (from ``tracker.opportunities.build.recompute``), soonest first;
    ``where``: an extra SQL condition (a cheap pre-selection); ``in_profile``: only those in
    (True) or outside (False) the capability profile as of the last recompute;
    ``phases``: stored in one of these phases and still in one of them on ``today``.
    ``accounts``: ``{id: {name, buyer_type}}`` the caller already has (saves a query);
    ``rules``: the rules the caller was given."""
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
    rules: Rules,
    in_profile: bool | None = None,
) -> list[dict[str, Any]]:
    """Opportunities in the tracker's ``overdue`` phase on ``today`` (the contract has
    ended and no competition notice was seen: re-tender overdue or the contract
    extended?), with their reason. Stored phases drafting/overdue are the candidates (an
    overdue publication stays in drafting until the contract start); the phase shown is
    the one ``tracker.opportunities.build`` computes for ``today``."""
    rows = opportunity_rows(
        session,
        today,
        account_ids=account_ids,
        phases=(Phase.DRAFTING, *RISK_PHASES),
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
            Opportunity.in_profile.is_not(False) if in_profile_only else True,
        )
        .group_by(Opportunity.account_id, Opportunity.budget_start, Opportunity.budget_end)
        .order_by(Opportunity.budget_start, Opportunity.account_id)
        .limit(limit)
    ).all()
    info = known_accounts(session, sorted({r[0] for r in rows if r[0]}), accounts)
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
