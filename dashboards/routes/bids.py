"""Bid team: open competitions with deadlines, lots, criteria, links and our bid status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, page_env, render, today
from tracker.bids.decisions import (
    BID_STATUSES,
    CAPACITIES,
    DECISIONS,
    RISKS,
    assess_bid_as,
    set_bid_status_as,
)
from tracker.bids.selection import bid_detail
from tracker.db.models import User
from tracker.formats import labels
from tracker.market.bidders import for_competitions
from tracker.messages import N_
from tracker.pages.base import PageEnv, fields_of, plain, to_json
from tracker.pages.bids import BID_SHOWS, BidsPage, bids_page
from tracker.users import can_decide_bids, can_set_bid_status

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["bids"])
NAV = [("Bids", "/bids", None)]


def bid_list(session: Session, day: dt.date, show: str, page: int, env: PageEnv) -> BidsPage:
    return bids_page(
        session, day, show=show, page=page, per_page=25, cache=env.cache, rules=env.rules,
        ours=env.ours,
    )  # fmt: skip


@router.get("/bids")
def bids(
    request: Request,
    show: str = "relevant",
    page: int = 1,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    found = bid_list(session, day, show, page, env)
    data = fields_of(found)
    data["criteria_charts"] = {b.id: charts.criteria_bar(b.criteria) for b in found.items}
    data["likely_bidders"] = for_competitions(
        session, [b.id for b in found.items], request.app.state.settings.our_orgnr_list
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
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    return to_json(bid_list(session, day, show, page, env))


@router.post("/bids/{notice_pk}/status")
def bid_status(
    request: Request,
    notice_pk: int,
    status: str = Form(""),
    next: str = Form("/bids"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    set_bid_status_as(session, user, notice_pk, status)
    session.commit()
    return done(
        request, N_("Bid status set to %(status)s.", status=labels.status(status)), next, "/bids"
    )


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
    assess_bid_as(session, user, notice_pk, capacity or None, delivery_risk or None, reason)
    session.commit()
    return done(request, N_("Assessment recorded: it counts in the score."), next, "/bids")


@router.get("/bids/{notice_pk}")
def bid_page(
    request: Request,
    notice_pk: int,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    """One competition: its value with its kind and the buyer's words, the score and its
    recommendation, the decision in force and every earlier one (who, when, what, why)."""
    data = plain(bid_detail(session, notice_pk, day, rules=env.rules))
    data["criteria_chart"] = charts.criteria_bar(
        next((lot["criteria"] for lot in data["lots"] if lot["criteria"]), [])
    )
    data["id"] = data["notice_pk"]
    context = {
        "b": data,
        "can_decide": can_decide_bids(user),
        "can_set_status": can_set_bid_status(user),
        "decisions_allowed": DECISIONS,
        "statuses": BID_STATUSES,
        "capacities": CAPACITIES,
        "risks": RISKS,
    }
    return render(request, "bid.html", context)


@api_router.get(
    "/bids/{notice_pk}",
    summary="One competition: value and its kind, score, recommendation, decision history",
)
def bid_json(
    notice_pk: int,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    return to_json(bid_detail(session, notice_pk, day, rules=env.rules))
