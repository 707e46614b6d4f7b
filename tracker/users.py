"""Users, roles, password hashing, login rate limiting and per-user tokens.

Roles: ``kam`` (key account manager: edits own accounts), ``bid`` (bid team: bid
statuses), ``director`` (bid decisions, every account), ``admin`` (everything).

Passwords are hashed with argon2id (argon2-cffi). Calendar and API tokens are random
strings shown once; only their SHA-256 is stored, so a leaked database reveals no
token, and revoking sets the hash to NULL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.errors import LoginRateLimitedError, UserError
from tracker.models import LoginAttempt, User, utcnow

ROLES = ("kam", "bid", "director", "admin")
MIN_PASSWORD_LENGTH = 8
# Rate limit: failed attempts within the window, per e-mail and per client address.
RATE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so response time does not reveal users
    (made on first use with the hasher in force, so its cost equals a real check)."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash("not-a-real-password")
    return _dummy_hashes[key]


def normalise_email(email: str) -> str:
    """Lower-case and strip an e-mail address; raise ``UserError`` if it is not one."""
    value = (email or "").strip().lower()
    if not _EMAIL_RE.match(value):
        raise UserError(f"email: {email!r} is not an e-mail address")
    return value


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_role(role: str) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise UserError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def get_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session, email: str, role: str, password: str, name: str | None = None
) -> User:
    """Add a user; raise ``UserError`` if the e-mail exists or a field is invalid."""
    email = normalise_email(email)
    role = _check_role(role)
    if get_user(session, email) is not None:
        raise UserError(f"email: user {email} already exists")
    user = User(email=email, role=role, name=name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def ensure_user(
    session: Session, email: str, role: str, password: str, name: str | None = None
) -> User:
    """Create the user, or update role and password of an existing one (for demos)."""
    user = get_user(session, normalise_email(email))
    if user is None:
        return create_user(session, email, role, password, name=name)
    user.role = _check_role(role)
    if not verify_password(user.password_hash, password):
        user.password_hash = hash_password(password)
    if name:
        user.name = name
    user.active = True
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def set_password(session: Session, user: User, password: str) -> None:
    """Set a new password; every session of the user ends (``end_sessions``)."""
    user.password_hash = hash_password(password)
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> int:
    """End every dashboard session of ``user`` (logout, password change): the session
    version is bumped, so a session cookie carrying the old one (even a copy taken
    before the logout) no longer logs in. Returns the new version. Flushes."""
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    return user.session_version


def _failures_since(session: Session, since: dt.datetime, **where: str) -> int:
    q = select(func.count(LoginAttempt.id)).where(
        LoginAttempt.success.is_(False), LoginAttempt.attempted_at >= since
    )
    for col, value in where.items():
        q = q.where(getattr(LoginAttempt, col) == value)
    return session.scalar(q) or 0


def authenticate(
    session: Session,
    email: str,
    password: str,
    client: str | None = None,
    now: dt.datetime | None = None,
) -> User | None:
    """Check a login; record the attempt; return the user or None.

    Raises ``LoginRateLimitedError`` (before checking the password) when the e-mail had
    ``MAX_FAILURES_PER_EMAIL`` or the client ``MAX_FAILURES_PER_CLIENT`` failed attempts
    within ``RATE_WINDOW``. The caller commits.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    client = (client or "")[:64] or None
    since = now - RATE_WINDOW
    if _failures_since(session, since, email=email) >= MAX_FAILURES_PER_EMAIL or (
        client and _failures_since(session, since, client=client) >= MAX_FAILURES_PER_CLIENT
    ):
        raise LoginRateLimitedError(
            f"too many failed logins; try again in {int(RATE_WINDOW.total_seconds() // 60)} minutes"
        )
    user = get_user(session, email) if email else None
    ok = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(email=email, client=client, success=ok, attempted_at=now))
    if ok and user is not None:
        user.last_login_at = now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return user
    return None


# --------------------------------------------------------------------------- tokens


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_calendar_token(session: Session, user: User) -> str:
    """Create a new calendar token for ``user`` (the old one stops working); return it."""
    token = secrets.token_urlsafe(32)
    user.calendar_token_hash = token_hash(token)
    session.flush()
    return token


def revoke_calendar_token(session: Session, user: User) -> None:
    user.calendar_token_hash = None
    session.flush()


def user_for_calendar_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    user = session.scalar(select(User).where(User.calendar_token_hash == token_hash(token)))
    return user if user is not None and user.active else None


def issue_api_token(session: Session, user: User) -> str:
    """Create a new API token (``Authorization: Bearer <token>``); return it once."""
    token = secrets.token_urlsafe(32)
    user.api_token_hash = token_hash(token)
    session.flush()
    return token


def revoke_api_token(session: Session, user: User) -> None:
    user.api_token_hash = None
    session.flush()


def user_for_api_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    user = session.scalar(select(User).where(User.api_token_hash == token_hash(token)))
    return user if user is not None and user.active else None


# --------------------------------------------------------------------------- permissions


def can_edit_account(user: User, account_kam_email: str | None) -> bool:
    """A KAM edits only accounts whose KAM e-mail is theirs; director and admin edit all."""
    if user.role in ("director", "admin"):
        return True
    if user.role == "kam":
        return bool(account_kam_email) and account_kam_email.strip().lower() == user.email
    return False


def can_decide_bids(user: User) -> bool:
    return user.role in ("director", "admin")


def can_set_bid_status(user: User) -> bool:
    return user.role in ("bid", "director", "admin")
