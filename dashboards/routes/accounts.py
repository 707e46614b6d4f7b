"""Accounts: the list and one account (profile, contracts, timeline, notices, work)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import charts
from dashboards.web import current_user, db_session, done, render, today
from tracker import accountwork
from tracker.errors import UserError
from tracker.market.bidders import for_opportunities
from tracker.models import User
from tracker.views import account_page, accounts_list

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
    rows = accounts_list(session, user if user.role == "kam" else None, day)
    return render(request, "accounts.html", {"accounts": rows, "export": "accounts", "query": {}})


@api_router.get("/accounts", summary="Accounts (a KAM's own; all for other roles)")
def accounts_json(
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> list[dict[str, Any]]:
    return accounts_list(session, user if user.role == "kam" else None, day)


@router.get("/accounts/{account_id}")
def account(
    request: Request,
    account_id: int,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    data = account_page(session, account_id, user, day)
    data["timeline"] = charts.timeline(data["opportunities"], day)
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
) -> dict[str, Any]:
    return account_page(session, account_id, user, day)


def _back(request: Request, account_id: int, message: str) -> Response:
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
    return _back(request, account_id, "Plan notes saved.")


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
    return _back(request, account_id, f"Contact {name} added.")


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
    return _back(request, account_id, "Contact removed.")


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
    return _back(request, account_id, "Activity recorded.")
