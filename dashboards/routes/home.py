"""KAM home: my accounts, open influence windows, expiries, budget windows, new notices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.radar import MONTHS as RADAR_MONTHS
from dashboards.radar import renewal_radar
from dashboards.web import current_user, db_session, done, page_env, render, today
from tracker.db.models import User
from tracker.enums import LinkStatus, Role
from tracker.linking.links import decide_link_as
from tracker.messages import N_, Message
from tracker.pages.base import PageEnv, account_scope, plain, plain_rows, to_json
from tracker.pages.expiries import ContractRow, expiries
from tracker.pages.home import EXPIRY_MONTHS, KamHome, kam_home
from tracker.pages.suggested_links import suggested_links
from tracker.users import mark_notices_seen

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["home"])
NAV = [("Home", "/", (Role.KAM, Role.DIRECTOR, Role.ADMIN))]


def home_data(
    session: Session,
    user: User,
    day: dt.date,
    env: PageEnv,
    show_all: bool = False,
    contracts: list[ContractRow] | None = None,
) -> KamHome:
    # a GET changes nothing
    return kam_home(session, user, day, env=env, show_all=show_all, contracts=contracts)


@router.post("/notices/seen")
def notices_seen(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    """'Mark all as seen' (CSRF-checked like every POST)."""
    mark_notices_seen(session, user)
    session.commit()
    return done(request, N_("New notices marked as seen."), "/")


@router.get("/")
def home(
    request: Request,
    all: int = 0,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    if user.role == Role.BID:
        return RedirectResponse("/bids", status_code=303)
    # the contracts are read once: for the renewal radar and the expiries list
    contracts = expiries(
        session,
        day,
        ours=env.ours,
        rules=env.rules,
        account_ids=account_scope(session, user),
        within_months=max(RADAR_MONTHS, EXPIRY_MONTHS),
        fit=False,
    )
    data = plain(home_data(session, user, day, env, show_all=bool(all), contracts=contracts))
    data["timeline"] = charts.timeline(data["dialogues"] + data["influence_open"], day)
    data["radar"] = renewal_radar(contracts, day, months=RADAR_MONTHS)
    return render(request, "home.html", data)


@api_router.get(
    "/home",
    summary="The KAM home page data for the logged-in user",
    description="all=1: also the items outside the capability profile (after the others).",
)
def home_json(
    all: int = 0,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    return to_json(home_data(session, user, day, env, show_all=bool(all)))


@api_router.get(
    "/suggested-links",
    summary="Suggested buyer links waiting for a decision, one per buyer and account",
)
def suggested_links_json(
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> list[dict[str, Any]]:
    return plain_rows(suggested_links(session, account_scope(session, user)))


LINK_DONE: dict[LinkStatus, Message] = {
    LinkStatus.CONFIRMED: N_("Link confirmed."),
    LinkStatus.REJECTED: N_("Link rejected."),
}


@router.post("/links/{link_id}/decide")
def decide_link(
    request: Request,
    link_id: int,
    status: str = Form(...),
    next: str = Form("/"),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    env: PageEnv = Depends(page_env),
) -> Response:
    decide_link_as(session, user, link_id, status, rules=env.rules, ours=env.ours)
    session.commit()
    return done(request, LINK_DONE.get(LinkStatus(status), N_("Link saved.")), next)
