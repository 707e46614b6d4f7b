"""Login, logout and the profile page (calendar subscription URL, API token)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dashboards.web import current_user, db_session, flash, render
from tracker.errors import LoginRateLimitedError
from tracker.models import User
from tracker.users import (
    authenticate,
    issue_api_token,
    issue_calendar_token,
    revoke_api_token,
    revoke_calendar_token,
)

router = APIRouter()
NAV = [("Profile", "/me", None)]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative '//'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if request.session.get("user_id"):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "email": "", "error": None})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    session: Session = Depends(db_session),
) -> Response:
    client = request.client.host if request.client else None
    try:
        user = authenticate(session, email, password, client=client)
    except LoginRateLimitedError as exc:
        session.rollback()
        ctx = {"next": _safe_next(next), "email": email, "error": str(exc)}
        return render(request, "login.html", ctx, status_code=429)
    session.commit()
    if user is None:
        ctx = {"next": _safe_next(next), "email": email, "error": "wrong e-mail or password"}
        return render(request, "login.html", ctx, status_code=401)
    request.session.clear()  # no session fixation: a fresh session and CSRF token
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/me")
def profile(request: Request, user: User = Depends(current_user)) -> Response:
    base = request.app.state.base_url or str(request.base_url).rstrip("/")
    new_token = request.session.pop("new_calendar_token", None)
    new_api = request.session.pop("new_api_token", None)
    return render(
        request,
        "me.html",
        {
            "calendar_url": f"{base}/calendar/{new_token}.ics" if new_token else None,
            "has_calendar_token": user.calendar_token_hash is not None,
            "api_token": new_api,
            "has_api_token": user.api_token_hash is not None,
        },
    )


@router.post("/me/calendar-token")
def new_calendar_token(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    token = issue_calendar_token(session, session.merge(user))
    session.commit()
    request.session["new_calendar_token"] = token
    flash(request, "New calendar URL created; any older URL stopped working.")
    return RedirectResponse("/me", status_code=303)


@router.post("/me/calendar-token/revoke")
def revoke_calendar(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    revoke_calendar_token(session, session.merge(user))
    session.commit()
    flash(request, "Calendar URL revoked.")
    return RedirectResponse("/me", status_code=303)


@router.post("/me/api-token")
def new_api_token(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    token = issue_api_token(session, session.merge(user))
    session.commit()
    request.session["new_api_token"] = token
    flash(request, "New API token created; any older token stopped working.")
    return RedirectResponse("/me", status_code=303)


@router.post("/me/api-token/revoke")
def revoke_api(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    revoke_api_token(session, session.merge(user))
    session.commit()
    flash(request, "API token revoked.")
    return RedirectResponse("/me", status_code=303)
