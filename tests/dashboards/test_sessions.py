"""Sessions end for real on logout and password change; new tokens never travel in the
(signed, not encrypted) session cookie; the calendar URL uses the server's own URL unless
a public base URL is configured."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from sqlalchemy import select

from dashboards.app import create_app
from tests.dashboards.conftest import USERS, login, make_settings, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import User
from tracker.users import set_password


def _cookie_payload(client: TestClient) -> str:
    """The session cookie's JSON payload (readable by anyone holding the cookie)."""
    raw = client.cookies.get("tracker_session") or ""
    data = raw.split(".", 1)[0]
    return base64.b64decode(data + "=" * (-len(data) % 4)).decode()


def test_a_cookie_copied_before_logout_no_longer_works(app) -> None:
    client = TestClient(app)
    assert login(client, USERS["bid"]).status_code == 303
    stolen = client.cookies.get("tracker_session")
    copy = TestClient(app, cookies={"tracker_session": stolen})
    assert copy.get("/bids", follow_redirects=False).status_code == 200
    res = client.post("/logout", data={"csrf_token": page_csrf(client, "/bids")},
                      follow_redirects=False)  # fmt: skip
    assert res.status_code == 303 and res.headers["location"] == "/login"
    res = copy.get("/bids", follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"].startswith("/login")
    # logging in again works
    assert login(client, USERS["bid"]).status_code == 303
    assert client.get("/bids", follow_redirects=False).status_code == 200


def test_password_change_ends_sessions(app, world) -> None:
    client = TestClient(app)
    assert login(client, USERS["kam2"]).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200
    with session_scope(world["engine"]) as s:
        user = s.scalar(select(User).where(User.email == USERS["kam2"]))
        old_hash = user.password_hash
        set_password(s, user, "another long password")
        user.password_hash = old_hash  # keep the world's password for the other tests
    assert client.get("/", follow_redirects=False).status_code == 303


def test_new_tokens_are_shown_on_the_post_response_and_never_in_the_cookie(app) -> None:
    client = TestClient(app)
    assert login(client, USERS["director"]).status_code == 303
    res = client.post(
        "/me/api-token", data={"csrf_token": page_csrf(client)}, follow_redirects=False
    )
    assert res.status_code == 200 and "no-store" in res.headers["cache-control"]
    token = res.text.split('id="api-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert len(token) >= 32 and token not in _cookie_payload(client)
    assert token not in client.get("/me").text  # shown once
    res = client.post(
        "/me/calendar-token", data={"csrf_token": page_csrf(client)}, follow_redirects=False
    )
    url = res.text.split('id="calendar-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    cal = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert cal not in _cookie_payload(client)
    # the request's own URL (the test client's), not the default http://127.0.0.1:8000
    assert url.startswith("http://testserver/calendar/")
    client.post("/me/api-token/revoke", data={"csrf_token": page_csrf(client)})
    client.post("/me/calendar-token/revoke", data={"csrf_token": page_csrf(client)})


def test_calendar_url_uses_the_configured_base_url_when_set(world) -> None:
    settings = make_settings(world["home"], TRACKER_BASE_URL="https://tracker.example.no/")
    app = create_app(settings, engine=world["engine"])
    client = TestClient(app, base_url="https://testserver")
    assert login(client, USERS["admin"]).status_code == 303
    res = client.post("/me/calendar-token", data={"csrf_token": page_csrf(client)})
    url = res.text.split('id="calendar-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert url.startswith("https://tracker.example.no/calendar/")
    client.post("/me/calendar-token/revoke", data={"csrf_token": page_csrf(client)})
