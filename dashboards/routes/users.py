"""Admin: the users, and disabling, enabling, password reset, role and token revocation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.web import db_session, done, render, require_role
from tracker import users as users_mod
from tracker.db.models import User
from tracker.enums import Role
from tracker.errors import NotFoundError
from tracker.formats import labels
from tracker.messages import N_

router = APIRouter()
NAV = [("Users", "/admin/users", (Role.ADMIN,))]

ACTIONS = {
    "disable": (
        users_mod.disable_user,
        N_("%(email)s: disabled: sessions ended, API token and calendar URL revoked."),
    ),
    "enable": (users_mod.enable_user, N_("%(email)s: enabled.")),
    "revoke-tokens": (
        users_mod.revoke_tokens,
        N_("%(email)s: API token and calendar URL revoked."),
    ),
}


def _users_page(request: Request, session: Session, **extra: object) -> Response:
    rows = [
        {
            "id": u.id,
            "email": u.email,
            "name": u.name,
            "role": u.role,
            "active": u.active,
            "last_login_at": u.last_login_at,
            "has_api_token": u.api_token_hash is not None,
            "has_calendar_token": u.calendar_token_hash is not None,
        }
        for u in users_mod.list_users(session)
    ]
    return render(request, "users.html", {"users": rows, "roles": users_mod.ROLES, **extra})


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user


@router.get("/admin/users")
def users_page(
    request: Request,
    admin: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> Response:
    return _users_page(request, session)


@router.post("/admin/users/{user_id}/reset-password")
def reset_password(
    request: Request,
    user_id: int,
    admin: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> Response:
    """A random password, shown once on this response; every session of the user ends."""
    user = _target(session, user_id)
    password = users_mod.generate_password()
    users_mod.set_password(session, user, password)
    session.commit()
    return _users_page(request, session, new_password={"email": user.email, "password": password})


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request,
    user_id: int,
    role: str = Form(""),
    admin: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> Response:
    user = _target(session, user_id)
    users_mod.set_role(session, user, role)
    session.commit()
    return done(
        request,
        N_("%(email)s: role %(role)s.", email=user.email, role=labels.role(user.role)),
        "/admin/users",
    )


@router.post("/admin/users/{user_id}/{action}")
def user_action(
    request: Request,
    user_id: int,
    action: str,
    admin: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> Response:
    if action not in ACTIONS:
        raise NotFoundError(f"no user action {action!r}; actions: {', '.join(ACTIONS)}")
    func, message = ACTIONS[action]
    user = _target(session, user_id)
    func(session, user)
    session.commit()
    return done(request, N_(message.msgid, email=user.email), "/admin/users")
