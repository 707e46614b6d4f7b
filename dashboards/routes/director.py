"""Sales director: pipeline, bid/no-bid queue with explainable scores, incumbency, coverage."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, page_env, render, today
from tracker.bids.decisions import decide_bid_as
from tracker.db.models import User
from tracker.formats import labels
from tracker.messages import N_
from tracker.pages.base import PageEnv, fields_of, plain, plain_rows, to_json
from tracker.pages.director import director_page
from tracker.pages.incumbency import incumbency
from tracker.users import can_decide_bids

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
    env: PageEnv = Depends(page_env),
) -> Response:
    page = director_page(session, day, show=show, env=env)
    # The page shows the top rows of the long lists; the JSON API and the exports have all.
    data = fields_of(page)
    data.update(
        incumbency=plain(page.incumbency[:PAGE_ROWS]),
        uncovered=plain(page.uncovered[:PAGE_ROWS]),
        pipeline=plain(page.pipeline),
        incumbency_total=len(page.incumbency),
        uncovered_total=len(page.uncovered),
    )
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
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    page = director_page(session, day, show=show, env=env)
    # the long lists are records FastAPI serializes as they are; the bid records' reasons
    # are messages, given as their English text
    out = {f.name: getattr(page, f.name) for f in fields(page)}
    out.update(queue=to_json(page.queue), decided=to_json(page.decided))
    return out


@api_router.get(
    "/incumbency",
    summary="Who holds the running contracts at each account: us or a competitor",
    description="show: relevant (contracts whose re-tender is in our capability profile; "
    "the default), accounts or all (every running contract); account_id: one account.",
)
def incumbency_json(
    show: str = "relevant",
    account_id: int | None = None,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> list[dict[str, Any]]:
    rows = incumbency(
        session, day, ours=env.ours, account_id=account_id, in_profile_only=show == "relevant"
    )
    return plain_rows(rows)


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
    env: PageEnv = Depends(page_env),
) -> Response:
    decide_bid_as(session, user, notice_pk, decision, why, day, rules=env.rules)
    session.commit()
    return done(
        request,
        N_("Decision recorded: %(decision)s.", decision=labels.status(decision)),
        next,
        "/director",
    )
