"""Notices: search with filters and pagination, and one notice with every parsed field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, page_env, render, today
from tracker.db.models import User
from tracker.messages import N_, join
from tracker.notices.search import PHASES, parse_filters, parse_filters_checked, search_notices
from tracker.opportunities.relevance import mark_notice
from tracker.pages import notice as notice_pages
from tracker.pages.base import PageEnv, plain, to_json
from tracker.pages.notice import notice_page
from tracker.pages.opportunities import account_names

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["notices"])
NAV = [("Search", "/search", None)]


def _search(request: Request, session: Session, env: PageEnv) -> dict[str, Any]:
    params = dict(request.query_params)
    filters = parse_filters(params)
    try:
        page = max(1, int(params.get("page") or 1))
    except ValueError:
        page = 1
    return search_notices(session, filters, env.rules, page=page)


@router.get("/search")
def search(
    request: Request,
    session: Session = Depends(db_session),
    env: PageEnv = Depends(page_env),
) -> Response:
    """The search form and one page of results; a bad filter keeps the form as typed and
    shows its error beside the field (status 400, no results)."""
    params = dict(request.query_params)
    filters, errors = parse_filters_checked(params)
    if errors:
        data: dict[str, Any] = {
            "items": [],
            "total": 0,
            "page": 1,
            "pages": 1,
            "per_page": 50,
            "filters": {k: str(v) for k, v in params.items() if k != "page"},
        }
    else:
        data = _search(request, session, env)
    data.update(
        phases=PHASES,
        accounts=account_names(session),
        query=data["filters"],  # the links of the pager and the exports
        export="notices",
        errors=errors,
        # the form shows what was typed ("72000000-5" stays as typed, not its prefix 72)
        filters={k: str(v) for k, v in params.items() if k != "page"},
    )
    return render(request, "search.html", data, status_code=400 if errors else 200)


@api_router.get(
    "/notices",
    summary="Search notices",
    description="Filters: text, cpv (code or prefix), buyer (name or orgnr), account_id, "
    "date_from, date_to (YYYY-MM-DD, issue date), phase (planning|competition|award|"
    "modification), all_versions=1, page.",
)
def search_json(
    request: Request,
    session: Session = Depends(db_session),
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    return _search(request, session, env)


@router.get("/notices/{notice_pk}")
def notice(
    request: Request,
    notice_pk: int,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    data = plain(notice_page(session, notice_pk, day, env=env))
    for lot in data["lots"]:
        lot["criteria_chart"] = charts.criteria_bar(lot["criteria"])
    rows = notice_pages.PROCEDURE_ROWS
    return render(request, "notice.html", {"n": data, "procedure_rows": rows})


@api_router.get("/notices/{notice_pk}", summary="One notice: fields, buyers, lots, versions")
def notice_json(
    notice_pk: int,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    data = to_json(notice_page(session, notice_pk, day, env=env))
    data["fields"] = {key: value for _label, key, value in data["fields"]}
    return data


@router.post("/notices/{notice_pk}/mark")
def notice_mark(
    request: Request,
    notice_pk: int,
    mark: str = Form(""),
    next: str = Form("/"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    """Star (relevant to us) or dismiss (not for us) a notice: it trains the relevance model."""
    result = mark_notice(session, user, notice_pk, mark)
    session.commit()
    said = N_("Notice starred.") if mark == "star" else N_("Notice dismissed.")
    return done(request, join([said, result], " "), next)
