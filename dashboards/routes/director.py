"""Sales director: pipeline, bid/no-bid queue with explainable scores, incumbency, coverage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, render, today
from tracker.models import User
from tracker.users import can_decide_bids
from tracker.views import decide_bid, director_page

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["director"])
NAV = [("Director", "/director", None)]
PAGE_ROWS = 25  # rows of incumbency and of uncovered accounts on the page


@router.get("/director")
def director(
    request: Request,
    show: str = "relevant",
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    data = director_page(session, day, show=show)
    # The page shows the top rows of the long lists; the JSON API and the exports have all.
    for name in ("incumbency", "uncovered"):
        data[f"{name}_total"] = len(data[name])
        data[name] = data[name][:PAGE_ROWS]
    data["pipeline_chart"] = charts.pipeline_bars(data["pipeline"])
    data["can_decide"] = can_decide_bids(user)
    return render(request, "director.html", data)


@api_router.get(
    "/director",
    summary="Pipeline, bid/no-bid queue, incumbency and coverage",
    description="show: relevant (the queue of competitions in our capability profile), "
    "accounts, all.",
)
def director_json(
    show: str = "relevant",
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> dict[str, Any]:
    return director_page(session, day, show=show)


@router.post("/bids/{notice_pk}/decision")
def decision(
    request: Request,
    notice_pk: int,
    decision: str = Form(""),
    why: str = Form(""),
    next: str = Form("/director"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    decide_bid(session, user, notice_pk, decision, why, day)
    session.commit()
    return done(request, f"Decision recorded: {decision}.", next, "/director")
