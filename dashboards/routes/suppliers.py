"""Supplier pages: a supplier's wins by buyer, CPV and year, agreements held now, where it
meets us (``tracker.market.supplier``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import market_charts
from dashboards.web import current_user, db_session, render, today
from tracker.db.models import User
from tracker.i18n import say
from tracker.market.common import spend
from tracker.market.supplier import PAGE_BUYERS, supplier_list, supplier_page
from tracker.messages import N_

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["market"])
NAV = [("Suppliers", "/suppliers", None)]
LIST_ROWS = 50


def ours(request: Request) -> list[str]:
    """Our orgnrs as the app is configured (setting our_orgnrs)."""
    return request.app.state.settings.our_orgnr_list


def year_chart(groups: Any, title: str) -> dict[str, Any] | None:
    """Awarded value (kind tender, own values) in NOK per year (groups with a year
    ``label``), the last ten years, oldest first."""
    rows = [
        (
            g.label,
            [(say(N_("awarded NOK")), float(v) if (v := spend(g.values, "NOK")) else None, "bar")],
        )
        for g in sorted(groups, key=lambda g: g.label)
        if g.label[:1].isdigit()
    ]
    return market_charts.grouped_bars(rows[-10:], title, unit="NOK")


@router.get("/suppliers")
def suppliers(
    request: Request,
    q: str = "",
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    rows = supplier_list(session, q[:200], LIST_ROWS, ours(request))
    return render(request, "suppliers.html", {"rows": rows, "q": q[:200], "limit": LIST_ROWS})


@api_router.get("/suppliers", summary="Suppliers with awarded contracts, most first")
def suppliers_json(
    request: Request, q: str = "", session: Session = Depends(db_session)
) -> list[dict[str, Any]]:
    return [
        dataclasses.asdict(r) for r in supplier_list(session, q[:200], LIST_ROWS, ours(request))
    ]


@router.get("/suppliers/{key:path}")
def supplier(
    request: Request,
    key: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    page = supplier_page(session, key, day, ours(request), buyer_rows=PAGE_BUYERS)
    chart = year_chart(page.by_year, say(N_("Awarded value per year: %(name)s", name=page.name)))
    return render(request, "supplier.html", {"p": page, "year_chart": chart})


@api_router.get(
    "/suppliers/{key:path}",
    summary="One supplier: wins by buyer, CPV and year, agreements held, where it meets us",
)
def supplier_json(
    request: Request,
    key: str,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> dict[str, Any]:
    return dataclasses.asdict(supplier_page(session, key, day, ours(request)))
