"""Every route of the app, with NUL bytes, long strings and huge ids: never a 500.

The routes are enumerated from the app itself (a route added later is fuzzed too).
Each path parameter gets garbage (NUL, ids of 2^31, 2^63 and 30 digits, a long
string), logged out and logged in as an admin; logged in, each GET route also gets its
query parameters (declared ones and those the pages read: page, account_id, text...)
as long strings and NUL (and the numeric ones huge, zero and negative), and each POST
route its form fields as NUL, a string longer than any column, a huge number and
empty, on a real record (a fuzz account made here, a notice that is not a
competition) so the handler's own checks run. The login form is fuzzed logged out.
Runs on SQLite and PostgreSQL (the ``world``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tests.dashboards.conftest import PASSWORD, csrf_from, login
from tests.support.web import api_routes
from tracker.db.engine import session_scope
from tracker.db.models import Account, Notice
from tracker.users import ensure_user

NUL = "a\x00b"
LONG = "x" * 5000
HUGE = ["2147483648", str(2**63), "9" * 30]
PATH_VALUES = ["%00", *HUGE, "y" * 3000]
INT_QUERY = {"page", "account_id"}
QUERY_NAMES = {
    "page", "account_id", "text", "cpv", "buyer", "date_from", "date_to", "phase",
    "all_versions", "show", "next", "status",
}  # fmt: skip
SKIP_POST = {"/logout"}  # ends the fuzzing session; covered by the security tests


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _form_fields(route: APIRoute) -> list[str]:
    return [p.alias for p in route.dependant.body_params]


def _query_fields(route: APIRoute) -> set[str]:
    return {p.alias for p in route.dependant.query_params} | QUERY_NAMES


def _csrf(client: TestClient) -> str:
    return csrf_from(client.get("/me").text)


def _check(problems: list[str], method: str, url: str, res: Any, data: Any = None) -> None:
    if res.status_code >= 500 or "Traceback" in res.text:
        shown = {k: (v[:20] + "...") if isinstance(v, str) else v for k, v in (data or {}).items()}
        problems.append(f"{method} {url[:120]} {shown}: {res.status_code} {res.text[:200]}")


def fuzz(client: TestClient, app: Any, real: dict[str, str], logged_in: bool) -> list[str]:
    problems: list[str] = []
    token = _csrf(client) if logged_in else None
    for route in api_routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            if method == "POST" and route.path in SKIP_POST:
                continue
            fields = _form_fields(route)
            for value in PATH_VALUES:
                url = _fill(route.path, value)
                if method == "GET":
                    res = client.get(url, follow_redirects=False)
                    _check(problems, method, url, res)
                else:
                    data = {f: "1" for f in fields}
                    if token:
                        data["csrf_token"] = token
                    res = client.post(url, data=data, follow_redirects=False)
                    _check(problems, method, url, res, data)
            if not logged_in:
                continue  # what follows reaches the handlers only with a session
            base = route.path
            for name, value in real.items():
                base = base.replace("{" + name + "}", value)
            base = _fill(base, "1")
            if method == "GET":
                for name in sorted(_query_fields(route)):
                    values = (LONG, *HUGE, "0", "-5") if name in INT_QUERY else (LONG,)
                    for value in values:
                        url = f"{base}?{name}={quote(value)}"
                        _check(problems, method, url, client.get(url, follow_redirects=False))
                url = base + "?" + "&".join(f"{n}={quote(NUL)}" for n in QUERY_NAMES)
                _check(problems, method, url, client.get(url, follow_redirects=False))
                continue
            for field in fields:
                for value in (NUL, "z" * 20_000, HUGE[1], ""):
                    data = {f: "1" for f in fields}
                    data[field] = value
                    if token:
                        data["csrf_token"] = token
                    res = client.post(base, data=data, follow_redirects=False)
                    _check(problems, method, base, res, data)
    return problems


@pytest.mark.pg_slow
def test_every_route_survives_garbage_input(app: Any, world: dict[str, Any]) -> None:
    engine = world["engine"]
    with session_scope(engine) as s:
        ensure_user(s, "fuzz-admin@example.no", "admin", PASSWORD)
        account = Account(name="Fuzz account", kam_email="fuzz-admin@example.no")
        s.add(account)
        s.flush()
        not_competition = s.scalar(
            select(Notice.id).where(Notice.subtype == "4").order_by(Notice.id).limit(1)
        )
        real = {"account_id": str(account.id), "notice_pk": str(not_competition)}
    try:
        # Its own peer address: its failed logins do not slow down other tests' logins.
        anonymous = TestClient(app, raise_server_exceptions=False, client=("192.0.2.9", 1))
        problems = fuzz(anonymous, app, real, logged_in=False)
        # The login form itself, before any session exists.
        token = csrf_from(anonymous.get("/login").text)
        for field in ("email", "password", "next"):
            for value in (NUL, "z" * 100_000, *HUGE):
                data = {"email": "a@b.no", "password": "x", "next": "/", "csrf_token": token}
                data[field] = value
                res = anonymous.post("/login", data=data, follow_redirects=False)
                _check(problems, "POST", "/login", res, data)
        admin = TestClient(app, raise_server_exceptions=False, client=("192.0.2.10", 1))
        assert login(admin, "fuzz-admin@example.no").status_code == 303
        problems += fuzz(admin, app, real, logged_in=True)
        assert not problems, "\n".join(problems[:30])
        # A NUL byte is refused with a clear message, on both backends.
        res = admin.get("/search?text=" + quote(NUL))
        assert res.status_code == 400 and "NUL" in res.text
        res = admin.get(f"/accounts/{2**31}")
        assert res.status_code == 404 and "no record" in res.text
        res = admin.get("/bids?page=" + "9" * 20)
        assert res.status_code == 400 and "page" in res.text
        res = admin.post(
            f"/accounts/{account.id}/activities",
            data={"kind": "meeting", "text": "t", "opportunity_key": "k" * 301}
            | {"csrf_token": _csrf(admin)},
        )
        assert res.status_code == 400 and "at most 300 characters" in res.text
    finally:
        with session_scope(engine) as s:
            s.execute(delete(Account).where(Account.name == "Fuzz account"))
