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
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.db.models import Account, LoginAttempt, LoginThrottle, User, utcnow
from tracker.enums import Role
from tracker.errors import LoginRateLimitedError, NotFoundError, UserError

ROLES: tuple[str, ...] = tuple(r.value for r in Role)  # kam, bid, director, admin
MIN_PASSWORD_LENGTH = 8
# Login throttling (see ``authenticate``): failures are forgotten after RATE_WINDOW
# without one. Each key allows ``free`` failures, then every further attempt must wait
# ``first`` seconds, doubling per failure, at most ``cap``.
RATE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_PAIR = 5  # one e-mail from one client
MAX_FAILURES_PER_CLIENT = 20  # one client, any e-mail
MAX_FAILURES_PER_EMAIL = 20  # one e-mail from any client
DEFAULT_FIRST_DELAY = 2.0  # seconds (setting login_delay_seconds)


@dataclass(frozen=True)
class Throttle:
    free: int
    first: dt.timedelta
    cap: dt.timedelta

    def delay(self, failures: int, scale: float = 1.0) -> dt.timedelta:
        """Wait before the next attempt after ``failures`` failures (``scale`` multiplies
        the first wait: the setting ``login_delay_seconds`` over its default 2 s)."""
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.cap, self.first * scale * 2 ** min(failures - self.free, 30))


THROTTLES = {
    # A guesser at one account from one address slows down to nothing...
    "pair": Throttle(
        MAX_FAILURES_PER_PAIR, dt.timedelta(seconds=DEFAULT_FIRST_DELAY), dt.timedelta(minutes=15)
    ),
    # ...and so does one address guessing at many accounts...
    "client": Throttle(
        MAX_FAILURES_PER_CLIENT, dt.timedelta(seconds=DEFAULT_FIRST_DELAY), dt.timedelta(minutes=15)
    ),
    # ...while an account attacked from many addresses waits at most a minute between tries,
    # so nobody can lock its owner out for long (the owner's own address has its own key).
    "email": Throttle(MAX_FAILURES_PER_EMAIL, dt.timedelta(seconds=1), dt.timedelta(minutes=1)),
}
RESERVE_SECONDS = 5.0  # compare-and-set retries under contention, at most this long

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


# --------------------------------------------------------------------------- administration


def require_user(session: Session, email: str) -> User:
    """The user with this e-mail, or ``NotFoundError``."""
    user = get_user(session, email or "")
    if user is None:
        raise NotFoundError(f"no user with e-mail {email!r} (see 'tracker users list')")
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(User.id).where(User.role == "admin", User.active.is_(True), User.id != user.id)
        ).all()
    )


def revoke_tokens(session: Session, user: User) -> None:
    """Revoke the user's API token and calendar URL at once. Flushes."""
    user.api_token_hash = None
    user.calendar_token_hash = None
    session.flush()


def disable_user(session: Session, user: User) -> None:
    """Disable a user at once: no login, every session ended, API token and calendar URL
    revoked (enabling again does not bring them back). The last active admin cannot be
    disabled. Flushes."""
    if user.role == "admin" and user.active and not _other_active_admins(session, user):
        raise UserError(f"{user.email} is the last active admin; make another admin first")
    user.active = False
    revoke_tokens(session, user)
    end_sessions(session, user)


def enable_user(session: Session, user: User) -> None:
    """Allow the user to log in again (with their password; tokens must be made anew)."""
    user.active = True
    session.flush()


def set_role(session: Session, user: User, role: str) -> None:
    """Change the role (takes effect on the user's next request); the last active admin
    keeps the admin role. Flushes."""
    role = _check_role(role)
    last_admin = user.role == "admin" and user.active and not _other_active_admins(session, user)
    if role != "admin" and last_admin:
        raise UserError(f"{user.email} is the last active admin; make another admin first")
    user.role = role
    session.flush()


def generate_password() -> str:
    """A random password to hand over once (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def _throttle_keys(email: str, client: str | None) -> list[tuple[str, Throttle]]:
    """The keys one attempt counts against, in one global order (no lock cycles)."""
    keys = [(f"a:pair:{email}|{client or '-'}", THROTTLES["pair"])]
    if client:
        keys.append((f"b:client:{client}", THROTTLES["client"]))
    keys.append((f"c:email:{email}", THROTTLES["email"]))
    return keys


def _reserve(
    session: Session, email: str, client: str | None, now: dt.datetime, scale: float = 1.0
) -> None:
    """Count this attempt as a failure on every key before the password is checked.

    Compare-and-set on each key's failure count in one transaction (committed here), so
    parallel requests cannot all read the same count: each reserved attempt is one more
    failure, and a key over its free failures refuses until its ``next_allowed_at``.
    Refused attempts count nothing (hammering does not extend the wait). Raises
    ``LoginRateLimitedError`` with the wait.
    """
    keys = _throttle_keys(email, client)
    since = now - RATE_WINDOW
    table = LoginThrottle
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    deadline = time.monotonic() + RESERVE_SECONDS
    while time.monotonic() < deadline:
        wait = dt.timedelta(0)
        plan = []
        for key, throttle in keys:
            row = session.execute(
                select(
                    LoginThrottle.failures,
                    LoginThrottle.last_failure_at,
                    LoginThrottle.next_allowed_at,
                ).where(LoginThrottle.key == key)
            ).first()
            if row is None:
                session.execute(
                    insert(table)
                    .values(key=key, failures=0, last_failure_at=None, next_allowed_at=None)
                    .on_conflict_do_nothing()
                )
                old = (0, None)
                failures = 0
                next_at = None
            else:
                old = (row.failures, row.last_failure_at)
                recent = row.last_failure_at is not None and row.last_failure_at >= since
                failures = row.failures if recent else 0
                next_at = row.next_allowed_at if recent else None
            if next_at is not None and now < next_at:
                wait = max(wait, next_at - now)
            delay = throttle.delay(failures + 1, scale)
            # No wait while the free failures last (a parallel request that read the
            # clock a moment earlier must not be refused by this one's timestamp).
            plan.append((key, old, failures + 1, now + delay if delay else next_at))
        if wait:
            session.commit()  # nothing counted; keeps the caller's earlier work
            seconds = max(1, int(wait.total_seconds() + 0.999))
            raise LoginRateLimitedError(
                f"too many failed logins; try again in {_duration(seconds)}", seconds
            )
        savepoint = session.begin_nested()
        for key, (old_failures, old_last), failures, next_at in plan:
            done = session.execute(  # type: ignore[attr-defined]  # an UPDATE's CursorResult
                update(LoginThrottle)
                .where(
                    LoginThrottle.key == key,
                    LoginThrottle.failures == old_failures,
                    LoginThrottle.last_failure_at.is_(None)
                    if old_last is None
                    else LoginThrottle.last_failure_at == old_last,
                )
                .values(failures=failures, last_failure_at=now, next_allowed_at=next_at)
            ).rowcount
            if done != 1:  # another request changed it first: read again
                savepoint.rollback()
                break
        else:
            savepoint.commit()
            session.commit()
            return
        session.commit()
        time.sleep(0.002)
    raise LoginRateLimitedError("too many logins at once; try again in a few seconds", 2)


def _settle(session: Session, email: str, client: str | None) -> None:
    """A successful login was no failure: every key gets its reserved failure back (no
    key starts over: guesses in flight beside it must not get fresh free tries; the
    count is forgotten RATE_WINDOW after the last failure)."""
    for key, _ in _throttle_keys(email, client):
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
        )


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{(seconds + 59) // 60} minutes"


def authenticate(
    session: Session,
    email: str,
    password: str,
    client: str | None = None,
    now: dt.datetime | None = None,
    first_delay: float | None = None,
) -> User | None:
    """Check a login; return the user or None. Commits (the reservation must be seen by
    parallel requests before the ~250 ms password check). ``first_delay``: seconds of
    the first wait after the free failures (setting ``login_delay_seconds``, default 2).

    The attempt is first reserved against three keys, (e-mail, client), client and
    e-mail (``THROTTLES``); ``LoginRateLimitedError`` (before the password is checked)
    when one of them is in its progressive delay. Every attempt is also logged in
    ``login_attempts``.
    """
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    client = (client or "")[:64] or None
    scale = (first_delay / DEFAULT_FIRST_DELAY) if first_delay else 1.0
    _reserve(session, email, client, now, scale)
    user = get_user(session, email) if email else None
    ok = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(email=email, client=client, success=ok, attempted_at=now))
    if ok and user is not None:
        _settle(session, email, client)
        user.last_login_at = now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        session.commit()
        return user
    session.commit()
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


def account_scope(session: Session, user: User | None) -> list[int] | None:
    """The accounts a user works: a KAM's own (``Account.kam_email`` is their e-mail, in
    any case); None (= every account) for the other roles and for the command line (no
    user). The one place the KAM scope rule is written (pages, exports, alerts, calendar)."""
    if user is None or user.role != Role.KAM:
        return None
    return list(
        session.scalars(
            select(Account.id).where(func.lower(Account.kam_email) == user.email.lower())
        )
    )


def can_edit_account(user: User, account_kam_email: str | None) -> bool:
    """A KAM edits only accounts whose KAM e-mail is theirs; director and admin edit all."""
    if user.role in (Role.DIRECTOR, Role.ADMIN):
        return True
    if user.role == Role.KAM:
        return bool(account_kam_email) and (account_kam_email or "").strip().lower() == (
            user.email.lower()
        )
    return False


def can_decide_bids(user: User) -> bool:
    return user.role in (Role.DIRECTOR, Role.ADMIN)


def can_set_bid_status(user: User) -> bool:
    return user.role in (Role.BID, Role.DIRECTOR, Role.ADMIN)


def mark_notices_seen(session: Session, user: User, now: dt.datetime | None = None) -> None:
    """'Mark all as seen': the KAM home then lists only notices stored after ``now``.
    Flushes; the caller commits."""
    user.last_seen_notices_at = now or utcnow()
    session.flush()
