"""Exports of every list as CSV or XLSX: ``/export/<list>.<csv|xlsx>?<same filters>``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.web import current_user, db_session, today
from tracker import accountwork
from tracker.errors import NotFoundError, UserError
from tracker.exports import export
from tracker.models import User
from tracker.search import export_notices, parse_filters
from tracker.views import (
    account_contract_rows,
    account_ids_for,
    accounts_list,
    bids_page,
    budget_windows,
    expiry_rows,
    export_contract,
    incumbency_rows,
    opportunity_rows,
    pipeline,
    suggested_link_rows,
    uncovered_accounts,
)

router = APIRouter()
EXPORT_LIMIT = 10_000

Builder = Callable[[Session, User, dt.date, dict[str, str]], list[dict[str, Any]]]


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


def _bids(session: Session, user: User, day: dt.date, params: dict[str, str]) -> list[dict]:
    items = bids_page(session, day, show=params.get("show") or "relevant", per_page=200)["items"]
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


def _mine(params: dict[str, str]) -> bool:
    """The director's aggregates count our capability profile only, unless show=accounts|all."""
    return (params.get("show") or "relevant") == "relevant"


EXPORTS: dict[str, Builder] = {
    "notices": lambda s, u, d, p: export_notices(s, parse_filters(p), limit=EXPORT_LIMIT),
    "accounts": lambda s, u, d, p: accounts_list(s, u if u.role == "kam" else None, d),
    "opportunities": lambda s, u, d, p: [
        _flatten_opportunity(r)
        for r in opportunity_rows(s, d, account_ids=account_ids_for(s, u), limit=EXPORT_LIMIT)
    ],
    "expiries": lambda s, u, d, p: [
        export_contract(r)
        for r in expiry_rows(s, d, account_ids=account_ids_for(s, u), months=24, limit=EXPORT_LIMIT)
    ],
    "budget-windows": lambda s, u, d, p: budget_windows(s, d, account_ids_for(s, u), EXPORT_LIMIT),
    "suggested-links": lambda s, u, d, p: suggested_link_rows(s, account_ids_for(s, u), 1000),
    "bids": _bids,
    "pipeline": lambda s, u, d, p: pipeline(s, _mine(p)),
    "incumbency": lambda s, u, d, p: incumbency_rows(
        s, d, limit=EXPORT_LIMIT, in_profile_only=_mine(p)
    ),
    "uncovered": lambda s, u, d, p: uncovered_accounts(
        s, d, limit=EXPORT_LIMIT, in_profile_only=_mine(p)
    ),
    "contracts": lambda s, u, d, p: [
        export_contract(r) for r in account_contract_rows(s, _account_id(p), d, EXPORT_LIMIT)
    ],
    "contacts": lambda s, u, d, p: accountwork.list_contacts(s, _account_id(p)),
    "activities": lambda s, u, d, p: accountwork.list_activities(s, _account_id(p), EXPORT_LIMIT),
}


@router.get("/export/{name}.{fmt}")
def export_list(
    request: Request,
    name: str,
    fmt: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    builder = EXPORTS.get(name)
    if builder is None or fmt not in ("csv", "xlsx"):
        raise NotFoundError(f"no export {name}.{fmt}; lists: {', '.join(sorted(EXPORTS))}")
    rows = builder(session, user, day, dict(request.query_params))
    content, media_type = export(rows, fmt, sheet=name)
    filename = f"{name}-{day.isoformat()}.{fmt}"
    return Response(
        content,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
