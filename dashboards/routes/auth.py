"""Login, logout and the profile page (calendar subscription URL, API token)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dashboards.web import current_user, db_session, done, render, safe_next
from tracker import i18n
from tracker.db.models import User
from tracker.errors import LoginRateLimitedError, UserError
from tracker.i18n import LANGUAGES
from tracker.messages import N_, Message
from tracker.users import (
    authenticate,
    end_sessions,
    issue_api_token,
    issue_calendar_token,
    revoke_api_token,
    revoke_calendar_token,
)

router = APIRouter()
NAV = [("Profile", "/me", None)]


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if request.session.get("user_id"):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    session: Session = Depends(db_session),
) -> Response:
    # The peer address; behind a reverse proxy listed in ``trusted_proxies`` the client
    # it forwarded for (dashboards.app), so each user is limited, not the proxy.
    client = request.client.host if request.client else None
    try:
        user = authenticate(
            session,
            email,
            password,
            client=client,
            first_delay=float(request.app.state.settings.login_delay_seconds),
        )
    except LoginRateLimitedError as exc:
        ctx = {"next": safe_next(next), "email": email, "error": str(exc)}
        response = render(request, "login.html", ctx, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        ctx = {"next": safe_next(next), "email": email, "error": "wrong e-mail or password"}
        return render(request, "login.html", ctx, status_code=401)
    request.session.clear()  # no session fixation: a fresh session and CSRF token
    request.session["user_id"] = user.id
    request.session["sv"] = user.session_version or 0
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    end_sessions(session, user)  # a copy of this session cookie stops working too
    session.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _profile(
    request: Request,
    user: User,
    *,
    calendar_token: str | None = None,
    api_token: str | None = None,
    message: Message | None = None,
) -> Response:
    """The profile page; a new token is shown once, on the response to the POST that made
    it (never stored in the session cookie, which is signed, not encrypted)."""
    base = request.app.state.base_url or str(request.base_url).rstrip("/")
    return render(  # pages are sent with Cache-Control: no-store (dashboards.app)
        request,
        "me.html",
        {
            "calendar_url": f"{base}/calendar/{calendar_token}.ics" if calendar_token else None,
            "has_calendar_token": user.calendar_token_hash is not None,
            "api_token": api_token,
            "has_api_token": user.api_token_hash is not None,
            "message": message,
        },
    )


@router.get("/me")
def profile(request: Request, user: User = Depends(current_user)) -> Response:
    return _profile(request, user)


TOKEN_ACTIONS = {
    ("calendar", "new"): (
        issue_calendar_token,
        N_("New calendar URL created; any older URL stopped working."),
    ),
    ("calendar", "revoke"): (revoke_calendar_token, N_("Calendar URL revoked.")),
    ("api", "new"): (
        issue_api_token,
        N_("New API token created; any older token stopped working."),
    ),
    ("api", "revoke"): (revoke_api_token, N_("API token revoked.")),
}


def _token_action(
    request: Request, user: User, session: Session, kind: str, action: str
) -> Response:
    func, message = TOKEN_ACTIONS[(kind, action)]
    token = func(session, user)
    session.commit()
    if token:  # shown once, on this response only (kept server-side: not in the cookie)
        return _profile(request, user, **{f"{kind}_token": token}, message=message)
    return done(request, message, "/me")


@router.post("/me/language")
def set_language(
    request: Request,
    language: str = Form(...),
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
) -> Response:
    """The user's page language (tracker.i18n.LANGUAGES), kept on the user."""
    if language not in LANGUAGES:
        raise UserError(f"language: {language[:16]!r} is not one of {', '.join(LANGUAGES)}")
    db_user = session.get(User, user.id)
    if db_user is None:  # pragma: no cover - the session's user was just loaded
        raise UserError("no such user")
    db_user.language = language
    session.commit()
    user.language = language
    i18n.set_language(language)  # the confirmation is in the language just chosen
    return done(request, N_("Language saved."), "/me")


@router.post("/me/calendar-token")
def new_calendar_token(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    return _token_action(request, user, session, "calendar", "new")


@router.post("/me/calendar-token/revoke")
def revoke_calendar(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    return _token_action(request, user, session, "calendar", "revoke")


@router.post("/me/api-token")
def new_api_token(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    return _token_action(request, user, session, "api", "new")


@router.post("/me/api-token/revoke")
def revoke_api(
    request: Request, user: User = Depends(current_user), session: Session = Depends(db_session)
) -> Response:
    return _token_action(request, user, session, "api", "revoke")
