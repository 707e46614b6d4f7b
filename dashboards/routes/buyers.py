"""Buyer pages: purchases by CPV and year, procedures, terms and options, extension habit,
competition intensity and price weight (``tracker.market.buyer``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.routes.suppliers import year_chart
from dashboards.web import current_user, db_session, render, today
from tracker.db.models import User
from tracker.i18n import say
from tracker.market.buyer import buyer_list, buyer_page
from tracker.messages import N_

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["market"])
NAV = [("Buyers", "/buyers", None)]
LIST_ROWS = 50
PAGE_ROWS = 30  # rows of the long lists on the page; the JSON API and exports have all


@router.get("/buyers")
def buyers(
    request: Request,
    q: str = "",
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    rows = buyer_list(session, q[:200], LIST_ROWS)
    return render(request, "buyers.html", {"rows": rows, "q": q[:200], "limit": LIST_ROWS})


@api_router.get("/buyers", summary="Buyers with awarded contracts, most first")
def buyers_json(q: str = "", session: Session = Depends(db_session)) -> list[dict[str, Any]]:
    return [dataclasses.asdict(r) for r in buyer_list(session, q[:200], LIST_ROWS)]


@router.get("/buyers/{key:path}")
def buyer(
    request: Request,
    key: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    page = buyer_page(session, key, day)
    chart = year_chart(page.by_year, say(N_("Awarded value per year: %(name)s", name=page.name)))
    return render(request, "buyer.html", {"p": page, "year_chart": chart, "rows": PAGE_ROWS})


@api_router.get(
    "/buyers/{key:path}",
    summary="One buyer: purchases, procedures, terms, extension habit, competition, price weight",
)
def buyer_json(
    key: str, session: Session = Depends(db_session), day: dt.date = Depends(today)
) -> dict[str, Any]:
    page = buyer_page(session, key, day)
    out = dataclasses.asdict(page)
    out["extension"]["share"] = page.extension.share
    return out
