"""Bid team: open competitions with deadlines, lots, criteria, links and our bid status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, render, today
from tracker.market.bidders import for_competitions
from tracker.models import User
from tracker.users import can_set_bid_status
from tracker.views import BID_SHOWS, assess_bid, bids_page, set_bid_status

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["bids"])
NAV = [("Bids", "/bids", None)]


def bid_list(session: Session, day: dt.date, show: str, page: int) -> dict[str, Any]:
    return bids_page(session, day, show=show, page=page, per_page=25, cached=True)


@router.get("/bids")
def bids(
    request: Request,
    show: str = "relevant",
    page: int = 1,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    data = bid_list(session, day, show, page)
    for item in data["items"]:
        item["criteria_chart"] = charts.criteria_bar(item["criteria"])
    data["likely_bidders"] = for_competitions(
        session, [item["id"] for item in data["items"]], request.app.state.settings.our_orgnr_list
    )
    query = {"show": show} if show != "relevant" else {}
    data.update(
        shows=BID_SHOWS,
        query=query,
        export="bids",
        can_set_status=can_set_bid_status(user),
        page=data["page"],
    )
    return render(request, "bids.html", data)


@api_router.get(
    "/bids",
    summary="Open competitions, soonest deadline first",
    description="show: relevant (in our capability profile, flagged by the team's learned "
    "model, or tracked), accounts (linked to an account, in profile or not), all.",
)
def bids_json(
    show: str = "relevant",
    page: int = 1,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> dict[str, Any]:
    return bid_list(session, day, show, page)


@router.post("/bids/{notice_pk}/status")
def bid_status(
    request: Request,
    notice_pk: int,
    status: str = Form(""),
    next: str = Form("/bids"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    set_bid_status(session, user, notice_pk, status)
    session.commit()
    return done(request, f"Bid status set to {status}.", next, "/bids")


@router.post("/bids/{notice_pk}/assessment")
def bid_assessment(
    request: Request,
    notice_pk: int,
    capacity: str = Form(""),
    delivery_risk: str = Form(""),
    reason: str = Form(""),
    next: str = Form("/bids"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    """The bid team's capacity and delivery-risk assessment (counts in the score)."""
    assess_bid(session, user, notice_pk, capacity or None, delivery_risk or None, reason)
    session.commit()
    return done(request, "Assessment recorded: it counts in the score.", next, "/bids")
