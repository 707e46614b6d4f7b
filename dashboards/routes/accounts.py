"""Accounts: the list and one account (profile, contracts, timeline, notices, work)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.radar import MONTHS as RADAR_MONTHS
from dashboards.radar import renewal_radar
from dashboards.web import current_user, db_session, done, page_env, render, today
from tracker.accounts import work as accountwork
from tracker.db.models import User
from tracker.errors import UserError
from tracker.market.bidders import for_opportunities
from tracker.messages import N_, Message
from tracker.pages.account import account_page
from tracker.pages.accounts import accounts as accounts_of
from tracker.pages.base import PageEnv, account_scope, plain_rows
from tracker.pages.expiries import expiries

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["accounts"])
NAV = [("Accounts", "/accounts", None)]


@router.get("/accounts")
def accounts(
    request: Request,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    rows = accounts_of(session, account_scope(session, user))
    return render(request, "accounts.html", {"accounts": rows, "export": "accounts", "query": {}})


@api_router.get("/accounts", summary="Accounts (a KAM's own; all for other roles)")
def accounts_json(
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> list[dict[str, Any]]:
    return plain_rows(accounts_of(session, account_scope(session, user)))


@router.get("/accounts/{account_id}")
def account(
    request: Request,
    account_id: int,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    data = account_page(session, account_id, user, day, env=env)
    data["timeline"] = charts.timeline(data["opportunities"], day)
    data["radar"] = renewal_radar(
        expiries(
            session,
            day,
            ours=env.ours,
            rules=env.rules,
            account_ids=[account_id],
            within_months=RADAR_MONTHS,
            fit=False,
        ),
        day,
    )
    data["likely_bidders"] = for_opportunities(
        session, data["opportunities"], request.app.state.settings.our_orgnr_list
    )
    data["contact_roles"] = accountwork.CONTACT_ROLE_LABELS
    data["activity_kinds"] = accountwork.ACTIVITY_KINDS
    return render(request, "account.html", data)


@api_router.get("/accounts/{account_id}", summary="One account with contracts, windows, work")
def account_json(
    account_id: int,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> dict[str, Any]:
    return account_page(session, account_id, user, day, env=env)


@api_router.get(
    "/expiries",
    summary="Contracts at the accounts by their next end (a KAM's own accounts)",
    description="months: next end within this many months (default 24); account_id: one account.",
)
def expiries_json(
    months: int = 24,
    account_id: int | None = None,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> list[dict[str, Any]]:
    scope = account_scope(session, user)
    if account_id is not None:
        scope = [account_id] if scope is None or account_id in scope else []
    rows = expiries(
        session, day, ours=env.ours, rules=env.rules, account_ids=scope, within_months=months
    )
    return plain_rows(rows)


def _back(request: Request, account_id: int, message: Message) -> Response:
    return done(request, message, f"/accounts/{account_id}")


@router.post("/accounts/{account_id}/plan")
def save_plan(
    request: Request,
    account_id: int,
    plan_notes: str = Form(""),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    accountwork.set_plan_notes(session, user, account_id, plan_notes)
    session.commit()
    return _back(request, account_id, N_("Plan notes saved."))


@router.post("/accounts/{account_id}/contacts")
def add_contact(
    request: Request,
    account_id: int,
    name: str = Form(""),
    role: str = Form(""),
    title: str = Form(""),
    email: str = Form(""),
    phone: str = Form(""),
    notes: str = Form(""),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    accountwork.add_contact(
        session,
        user,
        account_id,
        name=name,
        role=role,
        title=title,
        email=email,
        phone=phone,
        notes=notes,
    )
    session.commit()
    return _back(request, account_id, N_("Contact %(name)s added.", name=name))


@router.post("/accounts/{account_id}/contacts/{contact_id}/delete")
def delete_contact(
    request: Request,
    account_id: int,
    contact_id: int,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    accountwork.delete_contact(session, user, contact_id)
    session.commit()
    return _back(request, account_id, N_("Contact removed."))


@router.post("/accounts/{account_id}/activities")
def add_activity(
    request: Request,
    account_id: int,
    kind: str = Form(""),
    text: str = Form(""),
    happened_on: str = Form(""),
    opportunity_key: str = Form(""),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    try:
        when = dt.date.fromisoformat(happened_on) if happened_on else day
    except ValueError as exc:
        raise UserError(f"happened_on: {happened_on!r} is not a date YYYY-MM-DD") from exc
    accountwork.add_activity(
        session,
        user,
        account_id,
        kind=kind,
        text=text,
        happened_on=when,
        opportunity_key=opportunity_key or None,
    )
    session.commit()
    return _back(request, account_id, N_("Activity recorded."))
