"""Exports of every list as CSV or XLSX: ``/export/<list>.<csv|xlsx>?<same filters>``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.web import current_user, db_session, page_env, today
from tracker import accountwork
from tracker.errors import NotFoundError, UserError
from tracker.exports import export
from tracker.models import User
from tracker.pages.account import account_contract_rows
from tracker.pages.accounts import accounts as accounts_of
from tracker.pages.base import PageEnv, account_scope, plain_rows
from tracker.pages.bids import bids_page
from tracker.pages.director import pipeline, uncovered_accounts
from tracker.pages.expiries import EXPORT_COLUMNS as CONTRACT_COLUMNS
from tracker.pages.expiries import ContractRow, expiries
from tracker.pages.incumbency import incumbency
from tracker.pages.opportunities import budget_windows, opportunity_rows
from tracker.pages.suggested_links import suggested_links
from tracker.search import export_notices, parse_filters

router = APIRouter()
EXPORT_LIMIT = 10_000

Builder = Callable[[Session, User, dt.date, dict[str, str], PageEnv], list[dict[str, Any]]]


def _account_id(params: dict[str, str]) -> int:
    value = params.get("account_id", "")
    if not value.isdigit():
        raise UserError("account_id: required (a number)")
    return int(value)


def _flatten_opportunity(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "budget_window"}
    bw = row.get("budget_window") or {}
    out["budget_start"], out["budget_end"] = bw.get("start"), bw.get("end")
    out["budget_status"] = bw.get("status")
    return out


def _bids(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    show = params.get("show") or "relevant"
    items = bids_page(session, day, show=show, per_page=200, rules=env.rules, ours=env.ours)[
        "items"
    ]
    rows = []
    for b in items:
        rows.append(
            {
                "title": b["title"],
                "buyers": b["buyers"],
                "accounts": b["accounts"],
                "deadline": b["deadline"],
                "days_left": b["days_left"],
                "estimated_value": b["estimated_value"],  # the one value (any kind)
                "value_kind": b["value_kind"],  # estimated | framework_max | text_*
                "score": b["total"],
                "recommendation": b["recommendation"],
                "currency": b["currency"],
                "lots": len(b["lots"]),
                "criteria": [f"{c['name'] or c['type']}: {c['weight']}" for c in b["criteria"]],
                "bid_status": b["bid_status"],
                "decision": (b["decision"] or {}).get("decision"),
                "doffin_url": b["doffin_url"],
                "documents_url": b["documents_url"],
            }
        )
    return rows


def _incumbency(
    session: Session, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict[str, Any]]:
    rows = incumbency(session, day, ours=env.ours, in_profile_only=_mine(params))
    return plain_rows(rows[:EXPORT_LIMIT])


def _months(params: dict[str, str]) -> int:
    """``months``: the expiries' horizon in months (default 24, as the KAM home)."""
    value = (params.get("months") or "24").strip()
    if not value.isdigit() or not 0 < int(value) <= 600:
        raise UserError(f"months: {value[:12]!r} is not a whole number of months from 1 to 600")
    return int(value)


def _contracts(rows: list[ContractRow]) -> list[dict[str, Any]]:
    """Contract rows flattened for CSV/XLSX: one cell per fact, the evidence as quotes."""
    return [{k: getattr(r, k) for k in CONTRACT_COLUMNS} for r in rows]


def _mine(params: dict[str, str]) -> bool:
    """The director's aggregates count our capability profile only, unless show=accounts|all."""
    return (params.get("show") or "relevant") == "relevant"


EXPORTS: dict[str, Builder] = {
    "notices": lambda s, u, d, p, e: export_notices(s, parse_filters(p), limit=EXPORT_LIMIT),
    "accounts": lambda s, u, d, p, e: plain_rows(accounts_of(s, account_scope(s, u))),
    "opportunities": lambda s, u, d, p, e: [
        _flatten_opportunity(r)
        for r in opportunity_rows(
            s, d, account_ids=account_scope(s, u), limit=EXPORT_LIMIT, rules=e.rules
        )
    ],
    "expiries": lambda s, u, d, p, e: _contracts(
        expiries(
            s,
            d,
            ours=e.ours,
            rules=e.rules,
            account_ids=account_scope(s, u),
            within_months=_months(p),
            limit=EXPORT_LIMIT,
        )
    ),
    "budget-windows": lambda s, u, d, p, e: budget_windows(s, d, account_scope(s, u), EXPORT_LIMIT),
    "suggested-links": lambda s, u, d, p, e: plain_rows(
        suggested_links(s, account_scope(s, u), limit=EXPORT_LIMIT)
    ),
    "bids": _bids,
    "pipeline": lambda s, u, d, p, e: pipeline(s, _mine(p)),
    "incumbency": lambda s, u, d, p, e: _incumbency(s, d, p, e),
    "uncovered": lambda s, u, d, p, e: uncovered_accounts(
        s, d, limit=EXPORT_LIMIT, in_profile_only=_mine(p)
    ),
    "contracts": lambda s, u, d, p, e: _contracts(
        account_contract_rows(s, _account_id(p), d, EXPORT_LIMIT, ours=e.ours)
    ),
    "contacts": lambda s, u, d, p, e: accountwork.list_contacts(s, _account_id(p)),
    "activities": lambda s, u, d, p, e: accountwork.list_activities(
        s, _account_id(p), EXPORT_LIMIT
    ),
}


@router.get("/export/{name}.{fmt}")
def export_list(
    request: Request,
    name: str,
    fmt: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    builder = EXPORTS.get(name)
    if builder is None or fmt not in ("csv", "xlsx"):
        raise NotFoundError(f"no export {name}.{fmt}; lists: {', '.join(sorted(EXPORTS))}")
    rows = builder(session, user, day, dict(request.query_params), env)
    content, media_type = export(rows, fmt, sheet=name)
    filename = f"{name}-{day.isoformat()}.{fmt}"
    return Response(
        content,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
