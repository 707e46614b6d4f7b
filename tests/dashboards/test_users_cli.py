"""``tracker users add|list`` and the user functions (hashing, rate limit, tokens)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tracker.cli import main
from tracker.db.models import LoginAttempt, User
from tracker.errors import LoginRateLimitedError, UserError
from tracker.users import (
    MAX_FAILURES_PER_CLIENT,
    authenticate,
    create_user,
    ensure_user,
    issue_calendar_token,
    revoke_calendar_token,
    user_for_calendar_token,
)


def test_users_add_reads_password_from_stdin_and_list(tracker_env, session) -> None:
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["users", "add", "Kari@Example.no", "--role", "kam", "--name", "Kari"],
        input="long enough pw\n",
    )
    assert res.exit_code == 0, res.output
    assert "added kari@example.no (kam)" in res.output
    user = session.scalar(select(User).where(User.email == "kari@example.no"))
    assert (
        user.password_hash.startswith("$argon2id$") and "long enough pw" not in user.password_hash
    )
    assert authenticate(session, "kari@example.no", "long enough pw") is not None
    dup = runner.invoke(main, ["users", "add", "kari@example.no", "--role", "kam"], input="x" * 9)
    assert dup.exit_code == 2 and "already exists" in dup.output
    short = runner.invoke(main, ["users", "add", "b@example.no", "--role", "bid"], input="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output
    role = runner.invoke(main, ["users", "add", "c@example.no", "--role", "boss"], input="x" * 9)
    assert role.exit_code != 0 and "boss" in role.output
    listed = runner.invoke(main, ["users", "list"])
    assert listed.exit_code == 0 and "kari@example.no\tkam\tKari" in listed.output
    assert "long enough pw" not in listed.output


def test_ensure_user_updates_role_and_password(session) -> None:
    ensure_user(session, "demo@example.no", "kam", "first password")
    user = ensure_user(session, "demo@example.no", "director", "second password")
    assert user.role == "director"
    assert authenticate(session, "demo@example.no", "second password") is user
    with pytest.raises(UserError, match="email"):
        create_user(session, "not-an-email", "kam", "long enough")


def test_rate_limit_per_client_and_window(session) -> None:
    create_user(session, "victim@example.no", "kam", "right password")
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    for i in range(MAX_FAILURES_PER_CLIENT):
        assert authenticate(session, f"u{i}@example.no", "x", client="10.0.0.9", now=now) is None
    with pytest.raises(LoginRateLimitedError):
        authenticate(session, "victim@example.no", "right password", client="10.0.0.9", now=now)
    later = now + dt.timedelta(minutes=16)
    assert authenticate(session, "victim@example.no", "right password", "10.0.0.9", later)
    failures = session.scalar(
        select(LoginAttempt).where(
            LoginAttempt.success.is_(True), LoginAttempt.email == "victim@example.no"
        )
    )
    assert failures is not None


def test_calendar_token_is_stored_hashed_and_revocable(session) -> None:
    user = create_user(session, "cal@example.no", "kam", "long enough")
    token = issue_calendar_token(session, user)
    assert user.calendar_token_hash != token and token not in user.calendar_token_hash
    assert user_for_calendar_token(session, token) is user
    newer = issue_calendar_token(session, user)
    assert user_for_calendar_token(session, token) is None
    revoke_calendar_token(session, user)
    assert user_for_calendar_token(session, newer) is None


def test_web_commands_document_an_example() -> None:
    runner = CliRunner()
    for args in (["users"], ["users", "add"], ["users", "list"], ["serve"]):
        res = runner.invoke(main, [*args, "--help"])
        assert res.exit_code == 0, args
        assert "Example:" in res.output, args
