"""Request plumbing shared by every router: database session, login, roles, CSRF, rendering.

A route module uses it like this::

    from fastapi import APIRouter, Depends, Request
    from dashboards.web import current_user, db_session, render, require_role

    router = APIRouter()

    @router.get("/health")
    def health(request: Request, user=Depends(require_role("admin")), db=Depends(db_session)):
        return render(request, "health.html", {"checks": ...})

Every route of the app already requires a logged-in user (``authenticate`` runs as an
app-wide dependency) except the paths in ``PUBLIC_PATHS`` / ``PUBLIC_PREFIXES``; every
POST is checked for the session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from tracker.db.models import User
from tracker.errors import NotFoundError, PermissionDeniedError, UserError
from tracker.i18n import gettext, set_language
from tracker.messages import Message
from tracker.pages.base import PageEnv
from tracker.users import user_for_api_token

PUBLIC_PATHS = {"/login"}
PUBLIC_PREFIXES = ("/calendar/", "/static/")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Ids are 32-bit on PostgreSQL (INTEGER) and 64-bit on SQLite: anything above the smaller
# is no record on either, whatever the backend.
MAX_ID = 2**31 - 1
MAX_PAGE = 100_000
# Query parameters that hold a whole number (ids and page numbers), wherever they appear.
INT_QUERY = {"page": MAX_PAGE, "account_id": MAX_ID}


class LoginRequired(Exception):  # noqa: N818 - control flow, handled by the app
    """No valid session or API token; HTML gets a redirect to /login, the API a 401."""


class CSRFError(Exception):
    """A state-changing request without the session's CSRF token."""


def db_session(request: Request) -> Iterator[Session]:
    """One SQLAlchemy session per request; committed by the route when it changes data."""
    session = Session(bind=request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def today(request: Request) -> dt.date:
    """The date pages treat as today: ``Settings.today`` of the app's settings (setting
    ``today``/TRACKER_TODAY, else the real date), the one "today" of the tracker."""
    return request.app.state.settings.today()


def page_env(request: Request) -> PageEnv:
    """The settings the app was created with, the rules of the current version of its
    rules file (parsed once per version) and the app's cache of aggregates."""
    state = request.app.state
    return PageEnv.of(state.settings, state.cache)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def authenticate(request: Request, session: Session = Depends(db_session)) -> User | None:
    """App-wide: load the user from the signed session cookie or a Bearer API token."""
    request.state.user = None
    if _is_public(request.url.path):
        return None
    user: User | None = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and request.url.path.startswith("/api/"):
        user = user_for_api_token(session, auth[7:].strip())
    else:
        user_id = request.session.get("user_id")
        if isinstance(user_id, int):
            user = session.get(User, user_id)
            if user is not None and (
                not user.active or request.session.get("sv") != (user.session_version or 0)
            ):
                # inactive, or the session ended (logout, password change): a copied
                # cookie of an ended session no longer works
                request.session.clear()
                user = None
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


async def user_language(user: User | None = Depends(authenticate)) -> None:
    """App-wide: what the request formats (labels, amounts, charts, the message after a
    change) is in the user's language. Async on purpose: it runs in the request's own
    context, which the route's worker thread copies (a sync dependency's change is lost)."""
    set_language(getattr(user, "language", None))


async def csrf_protect(request: Request) -> None:
    """App-wide: every non-GET request must carry the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if not sent:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), str(sent)):
        raise CSRFError()


def validate_input(request: Request) -> None:
    """App-wide, before any route reads its parameters: a numeric path parameter beyond
    ``MAX_ID`` is no record (404), a page or id query parameter must be a whole number in
    range (400); the same answer on SQLite and PostgreSQL. (NUL bytes and oversized
    bodies are refused earlier, by ``dashboards.app.RequestGuard``.)"""
    for name, value in request.path_params.items():
        text = str(value)
        if text.lstrip("-").isdigit() and (len(text) > 12 or abs(int(text)) > MAX_ID):
            raise NotFoundError(f"no record with {name} {text[:24]}")
    for name, limit in INT_QUERY.items():
        raw = request.query_params.get(name)
        if raw is None or raw.strip() == "":
            continue
        text = raw.strip()
        if not text.isdigit() or len(text) > 12 or int(text) > limit:
            raise UserError(f"{name}: {text[:24]!r} is not a whole number from 0 to {limit}")


def current_user(request: Request) -> User:
    user = getattr(request.state, "user", None)
    if user is None:
        raise LoginRequired()
    return user


def require_role(*roles: str) -> Callable[[Request], User]:
    """Dependency: the logged-in user, or 403 unless their role is one of ``roles``."""

    def dependency(request: Request) -> User:
        user = current_user(request)
        if user.role not in roles:
            raise PermissionDeniedError(f"this needs the role {' or '.join(roles)}")
        return user

    return dependency


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: no scheme, no host, no protocol-relative '//'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def done(
    request: Request, message: Message, target: str | None, default: str = "/"
) -> RedirectResponse:
    """After a change: flash ``message`` and redirect (303) to a same-site ``target``."""
    flash(request, message)
    return RedirectResponse(safe_next(target, default), status_code=303)


def flash(request: Request, message: Message, kind: str = "ok") -> None:
    """A one-time message shown on the next page, in the language of the user who acted
    (set for the request by ``user_language``; the session cookie keeps the text)."""
    text = message.render(gettext)
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [kind, text]][-5:]


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` with plain values plus user, CSRF token, today and flashes."""
    ctx = dict(context)
    ctx.setdefault("user", getattr(request.state, "user", None))
    ctx["csrf_token"] = csrf_token(request)
    ctx.setdefault("today", today(request))
    ctx["flashes"] = request.session.pop("flash", [])
    ctx["nav"] = request.app.state.nav
    set_language(getattr(ctx["user"], "language", None))  # the user's language (i18n)
    return request.app.state.templates.TemplateResponse(
        request, template, ctx, status_code=status_code
    )
