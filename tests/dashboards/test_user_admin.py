"""Disabling a user, resetting a password, changing a role, revoking tokens: by the CLI
(``tracker users ...``) and on the admin page; a disabled user's session, API token and
calendar URL stop working at once."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dashboards.app import create_app
from tests.dashboards.conftest import PASSWORD, csrf_from, login, page_csrf
from tracker.cli import main
from tracker.config import load_settings
from tracker.db.models import User
from tracker.users import create_user, issue_api_token, issue_calendar_token

NEW = "a new long password"


@pytest.fixture
def setup(engine: Engine, tracker_env: dict[str, str]) -> dict[str, Any]:
    with Session(engine) as s:
        create_user(s, "boss@example.no", "admin", PASSWORD)
        kari = create_user(s, "kari@example.no", "kam", PASSWORD)
        tokens = {"api": issue_api_token(s, kari), "calendar": issue_calendar_token(s, kari)}
        s.commit()
    settings = load_settings({**tracker_env, "TRACKER_TODAY": "2023-02-22"})
    app = create_app(settings, engine=engine)
    return {"app": app, "engine": engine, "tokens": tokens}


def _access(client: TestClient, tokens: dict[str, str]) -> dict[str, int]:
    """What each way in answers: session page, API token, calendar URL."""
    return {
        "session": client.get("/me", follow_redirects=False).status_code,
        "api": client.get(
            "/api/home", headers={"Authorization": f"Bearer {tokens['api']}"}
        ).status_code,
        "calendar": client.get(f"/calendar/{tokens['calendar']}.ics").status_code,
    }


def _cli(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, ["users", *args], input=input)


def test_cli_disable_enable_reset_role_and_tokens(setup: dict[str, Any]) -> None:
    app, tokens = setup["app"], setup["tokens"]
    client = TestClient(app)
    assert login(client, "kari@example.no").status_code == 303
    assert _access(client, tokens) == {"session": 200, "api": 200, "calendar": 200}

    res = _cli("disable", "kari@example.no")
    assert res.exit_code == 0 and "disable user done" in res.output
    # At once: the open session, the API token and the calendar URL all stop working.
    assert _access(TestClient(app, cookies=client.cookies), tokens) == {
        "session": 303,
        "api": 401,
        "calendar": 404,
    }
    assert login(TestClient(app), "kari@example.no").status_code == 401

    assert _cli("enable", "kari@example.no").exit_code == 0
    again = TestClient(app)
    assert login(again, "kari@example.no").status_code == 303
    assert _access(again, tokens) == {"session": 200, "api": 401, "calendar": 404}

    res = _cli("reset-password", "kari@example.no", input=NEW + "\n")
    assert res.exit_code == 0 and "sessions ended" in res.output and NEW not in res.output
    assert again.get("/me", follow_redirects=False).status_code == 303
    assert login(TestClient(app), "kari@example.no", PASSWORD).status_code == 401
    assert login(TestClient(app), "kari@example.no", NEW).status_code == 303
    res = _cli("reset-password", "kari@example.no", "--generate")
    generated = res.output.rsplit("(shown once): ", 1)[1].strip()
    assert (
        len(generated) >= 12
        and login(TestClient(app), "kari@example.no", generated).status_code == 303
    )

    role_client = TestClient(app)
    login(role_client, "kari@example.no", generated)
    assert role_client.get("/health").status_code == 403
    assert _cli("set-role", "kari@example.no", "admin").exit_code == 0
    assert role_client.get("/health").status_code == 200  # the next request has the new role

    with Session(setup["engine"]) as s:
        kari = s.scalar(select(User).where(User.email == "kari@example.no"))
        fresh = {"api": issue_api_token(s, kari), "calendar": issue_calendar_token(s, kari)}
        s.commit()
    assert _cli("revoke-tokens", "kari@example.no").exit_code == 0
    assert _access(role_client, fresh) == {"session": 200, "api": 401, "calendar": 404}

    # The last active admin can be neither disabled nor demoted; unknown users are named.
    assert _cli("set-role", "kari@example.no", "kam").exit_code == 0
    res = _cli("disable", "boss@example.no")
    assert res.exit_code == 2 and "last active admin" in res.output
    res = _cli("set-role", "boss@example.no", "kam")
    assert res.exit_code == 2 and "last active admin" in res.output
    res = _cli("disable", "nobody@example.no")
    assert res.exit_code == 2 and "no user with e-mail 'nobody@example.no'" in res.output
    assert len(res.output.splitlines()) == 1


def test_admin_page_manages_users_admin_only_with_csrf(setup: dict[str, Any]) -> None:
    app, tokens, engine = setup["app"], setup["tokens"], setup["engine"]
    with Session(engine) as s:
        kari_id = s.scalar(select(User.id).where(User.email == "kari@example.no"))
    kari = TestClient(app)
    login(kari, "kari@example.no")
    assert kari.get("/admin/users").status_code == 403
    res = kari.post(f"/admin/users/{kari_id}/revoke-tokens", data={"csrf_token": page_csrf(kari)})
    assert res.status_code == 403
    assert _access(kari, tokens)["api"] == 200  # nothing changed

    admin = TestClient(app)
    assert login(admin, "boss@example.no").status_code == 303
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "kari@example.no" in page.text and "Users" in page.text
    no_csrf = admin.post(f"/admin/users/{kari_id}/disable", follow_redirects=False)
    assert no_csrf.status_code == 403
    assert _access(kari, tokens) == {"session": 200, "api": 200, "calendar": 200}

    token = csrf_from(page.text)
    res = admin.post(f"/admin/users/{kari_id}/disable", data={"csrf_token": token})
    assert res.status_code == 200 and "kari@example.no: disabled" in res.text
    assert _access(kari, tokens) == {"session": 303, "api": 401, "calendar": 404}
    admin.post(f"/admin/users/{kari_id}/enable", data={"csrf_token": token})

    res = admin.post(f"/admin/users/{kari_id}/reset-password", data={"csrf_token": token})
    password = res.text.split('id="new-password"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert login(TestClient(app), "kari@example.no", password).status_code == 303
    assert password not in admin.get("/admin/users").text  # shown once

    res = admin.post(f"/admin/users/{kari_id}/role", data={"csrf_token": token, "role": "director"})
    assert "kari@example.no: role sales director" in res.text
    res = admin.post(f"/admin/users/{kari_id}/role", data={"csrf_token": token, "role": "boss"})
    assert res.status_code == 400 and "not one of" in res.text
    with Session(engine) as s:
        boss_id = s.scalar(select(User.id).where(User.email == "boss@example.no"))
    res = admin.post(f"/admin/users/{boss_id}/disable", data={"csrf_token": token})
    assert res.status_code == 400 and "last active admin" in res.text
    assert admin.post("/admin/users/999999/disable", data={"csrf_token": token}).status_code == 404
