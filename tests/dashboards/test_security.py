"""Security: login everywhere, cookies, session secret, CSRF, logout, rate limit, escaping."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from dashboards.app import RedactTokens, create_app, session_secret
from tests.dashboards.conftest import (
    PASSWORD,
    USERS,
    account_id,
    csrf_from,
    login,
    make_settings,
    page_csrf,
)
from tests.support.web import api_routes
from tracker.db.engine import session_scope
from tracker.db.models import Notice, NoticeBuyer, NoticeLink, Opportunity

PUBLIC = {"/login", "/calendar/{token}.ics"}


def _concrete(path: str) -> str:
    return path.replace("{token}", "x").replace("{name}", "notices").replace("{fmt}", "csv")


def test_every_route_requires_login_except_login_and_calendar(app) -> None:
    client = TestClient(app)
    checked = 0
    for route in api_routes(app):
        if not isinstance(route, APIRoute) or route.path in PUBLIC:
            continue
        path = _concrete(route.path)
        for key in ("{account_id}", "{notice_pk}", "{link_id}", "{contact_id}"):
            path = path.replace(key, "1")
        for method in route.methods:
            res = client.request(method, path, follow_redirects=False)
            if path.startswith("/api/"):
                assert res.status_code == 401, (method, path, res.status_code)
            else:
                assert res.status_code == 303, (method, path, res.status_code)
                assert res.headers["location"].startswith("/login?next=")
            checked += 1
    assert checked >= 25
    assert client.get("/login").status_code == 200
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_cookie_flags_and_secure_on_https(world) -> None:
    client = TestClient(create_app(make_settings(world["home"]), engine=world["engine"]))
    res = login(client, USERS["kam"])
    cookie = res.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    https = create_app(
        make_settings(world["home"], TRACKER_BASE_URL="https://tracker.example.no"),
        engine=world["engine"],
    )
    res = login(TestClient(https, base_url="https://testserver"), USERS["kam"])
    assert "; secure" in res.headers["set-cookie"].lower()


def test_session_secret_generated_once_with_mode_0600(tmp_path) -> None:
    settings = make_settings(tmp_path / "home")
    first = session_secret(settings)
    path = tmp_path / "home" / "session_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) >= 32 and session_secret(settings) == first
    configured = make_settings(tmp_path / "other", TRACKER_SESSION_SECRET="x" * 40)
    assert session_secret(configured) == "x" * 40
    assert not (tmp_path / "other" / "session_secret").exists()


def test_session_from_another_secret_is_not_accepted(world, client_for, tmp_path) -> None:
    client = client_for("kam")
    other = create_app(
        make_settings(world["home"], TRACKER_SESSION_SECRET="y" * 40), engine=world["engine"]
    )
    stranger = TestClient(other, cookies=client.cookies)
    assert stranger.get("/", follow_redirects=False).status_code == 303


def test_csrf_required_on_every_post(client_for, world) -> None:
    client = client_for("director")
    acc = account_id(world["engine"], "Tolletaten")
    assert client.post(f"/accounts/{acc}/plan", data={"plan_notes": "x"}).status_code == 403
    res = client.post(f"/accounts/{acc}/plan", data={"plan_notes": "x", "csrf_token": "wrong"})
    assert res.status_code == 403
    assert client.post("/logout").status_code == 403  # logout is a POST with a token too
    anon = TestClient(client.app)
    anon.get("/login")
    res = anon.post("/login", data={"email": USERS["kam"], "password": PASSWORD})
    assert res.status_code == 403
    ok = client.post(
        f"/accounts/{acc}/plan",
        data={"plan_notes": "csrf ok", "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_logout_ends_the_session(client_for) -> None:
    client = client_for("bid")
    assert client.get("/bids").status_code == 200
    res = client.post("/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/login"
    assert client.get("/bids", follow_redirects=False).status_code == 303


def test_wrong_password_and_rate_limit(app, world) -> None:
    from tracker.users import ensure_user

    with session_scope(world["engine"]) as s:
        ensure_user(s, "limited@example.no", "kam", PASSWORD)
    client = TestClient(app)
    for _ in range(5):
        res = login(client, "limited@example.no", "wrong password")
        assert res.status_code == 401
        assert "wrong e-mail or password" in res.text
    res = login(client, "limited@example.no", PASSWORD)
    assert res.status_code == 429 and "too many failed logins" in res.text
    assert login(client, USERS["bid"]).status_code == 303  # other users are not locked out


def test_login_redirect_stays_on_site(app) -> None:
    client = TestClient(app)
    page = client.get("/login?next=//evil.example/x")
    assert 'value="/"' in page.text
    res = client.post(
        "/login",
        data={
            "email": USERS["kam"],
            "password": PASSWORD,
            "next": "https://evil.example/",
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert res.headers["location"] == "/"


def test_security_headers(client_for) -> None:
    res = client_for("kam").get("/")
    assert "script-src 'self'" in res.headers["content-security-policy"]
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["cache-control"] == "no-store"


def test_untrusted_notice_text_is_escaped_everywhere(client_for, world) -> None:
    evil = "<script>alert('x')</script>"
    engine = world["engine"]
    acc = account_id(engine, "Sykehusinnkjøp HF")
    with session_scope(engine) as s:
        n = Notice(
            source="doffin",
            source_id="2099-000001",
            notice_id="evil-notice",
            version="01",
            subtype="16",
            issue_date=dt.date(2023, 2, 20),
            title=f"Evil {evil}",
            description=f"<img src=x onerror=alert(1)> {evil}",
            raw_xml=b"",
            raw_sha256="0" * 64,
            parser_version="test",
        )
        n.buyers.append(NoticeBuyer(name=f"Buyer {evil}", orgnr="916879067"))
        s.add(n)
        s.flush()
        s.add(
            NoticeLink(
                notice_pk=n.id,
                buyer_pk=n.buyers[0].id,
                account_id=acc,
                method="orgnr",
                confidence=1.0,
                status="confirmed",
            )
        )
        s.add(
            Opportunity(
                key="evil-opportunity",
                kind="planning",
                account_id=acc,
                title=f"Opportunity {evil}",
                influence_opens=dt.date(2022, 6, 1),
                drafting_starts=dt.date(2023, 1, 1),
                expected_publication=dt.date(2023, 6, 1),
                expiry=dt.date(2024, 1, 1),
                phase="drafting",
            )
        )
        pk = n.id
    try:
        client = client_for("kam")
        for path in (f"/notices/{pk}", "/search?text=Evil", f"/accounts/{acc}", "/?all=1"):
            html = client.get(path).text
            assert "<script>alert" not in html, path
            assert "&lt;script&gt;alert(" in html, path
        assert "<img src=x" not in client.get(f"/notices/{pk}").text
        assert "&lt;img src=x onerror=alert(1)&gt;" in client.get(f"/notices/{pk}").text
        account_html = client.get(f"/accounts/{acc}").text
        assert "<svg" in account_html and "Opportunity &lt;script&gt;" in account_html
    finally:  # the world is shared: leave no evil rows for the other tests
        with session_scope(engine) as s:
            s.execute(delete(Opportunity).where(Opportunity.key == "evil-opportunity"))
            s.execute(delete(Notice).where(Notice.id == pk))


def test_no_password_or_token_in_logs(app, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = TestClient(app)
    login(client, USERS["kam"], "a-wrong-secret-pw")
    login(client, USERS["kam"])
    token_page = client.post(
        "/me/calendar-token", data={"csrf_token": page_csrf(client)}, follow_redirects=True
    )
    url = token_page.text.split('id="calendar-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert client.get(f"/calendar/{token}.ics").status_code == 200
    # Everything the server side logged (httpx is the test's own client).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert caplog.records and PASSWORD not in logged and "a-wrong-secret-pw" not in logged
    assert token not in logged
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1", "GET", f"/calendar/{token}.ics", "1.1", 200),
        None,
    )
    RedactTokens().filter(record)
    assert token not in record.getMessage() and "/calendar/[redacted]" in record.getMessage()


def test_inactive_user_loses_access(world) -> None:
    from tracker.db.models import User
    from tracker.users import ensure_user

    with session_scope(world["engine"]) as s:
        ensure_user(s, "leaver@example.no", "director", PASSWORD)
    client = TestClient(create_app(make_settings(world["home"]), engine=world["engine"]))
    assert login(client, "leaver@example.no").status_code == 303
    assert client.get("/director").status_code == 200
    with session_scope(world["engine"]) as s:
        s.scalar(select(User).where(User.email == "leaver@example.no")).active = False
    assert client.get("/director", follow_redirects=False).status_code == 303
