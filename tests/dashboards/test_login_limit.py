"""The login limiter: attempts are reserved before the password check, per (e-mail,
client), client and e-mail, with a progressive delay instead of a fixed lock.

The parallel tests run ``tracker serve`` (uvicorn, real argon2 cost) as a subprocess on
a free loopback port and fire simultaneous ``POST /login`` from threads.
"""

from __future__ import annotations

import datetime as dt
import os
import select as io_select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dashboards.app import create_app
from tests.dashboards.conftest import PASSWORD, csrf_from, make_settings
from tracker.db.engine import session_scope
from tracker.db.models import LoginAttempt
from tracker.errors import LoginRateLimitedError
from tracker.ops.crawl import PROJECT_ROOT
from tracker.users import (
    MAX_FAILURES_PER_EMAIL,
    MAX_FAILURES_PER_PAIR,
    authenticate,
    create_user,
    ensure_user,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(engine: Engine, tracker_env: dict[str, str]) -> Iterator[str]:
    """``tracker serve`` on a free port, trusting 127.0.0.1 as reverse proxy. The first
    wait after the free failures is 10 minutes here (default 2 s), so that a burst that
    takes long on a loaded machine still gets no second chance while it lasts."""
    with Session(engine) as s:
        for who in ("para", "many", "proxied"):  # the real argon2 cost (~0.1-0.3 s)
            create_user(s, f"{who}@example.no", "kam", PASSWORD)
        s.commit()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)]
        + ["--trusted-proxies", "127.0.0.1"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TRACKER_LOGIN_DELAY_SECONDS": "600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "tracker serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def parallel_logins(
    base: str, email: str, passwords: list[str], headers: dict[str, str] | None = None
) -> Counter[int]:
    """Every password in its own session, all POSTed at the same moment; status counts."""
    barrier = threading.Barrier(len(passwords))

    def one(password: str) -> int:
        with httpx.Client(base_url=base, timeout=60, headers=headers or {}) as client:
            token = csrf_from(client.get("/login").text)
            barrier.wait()
            res = client.post(
                "/login",
                data={"email": email, "password": password, "next": "/", "csrf_token": token},
            )
            return res.status_code

    with ThreadPoolExecutor(len(passwords)) as pool:
        return Counter(pool.map(one, passwords))


def attempts(engine: Engine, email: str) -> int:
    with Session(engine) as s:
        return s.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.email == email)
        )


def test_parallel_logins_check_at_most_the_free_attempts(served: str, engine: Engine) -> None:
    # 14 wrong passwords and the right one at once: 5 wrong ones are checked at most (the
    # right one, when it gets through, is no failure), the rest refused before the hash.
    statuses = parallel_logins(served, "para@example.no", ["wrong password"] * 14 + [PASSWORD])
    checked = statuses[401] + statuses[303]
    assert statuses[401] <= MAX_FAILURES_PER_PAIR and statuses[303] <= 1, statuses
    assert MAX_FAILURES_PER_PAIR <= checked <= MAX_FAILURES_PER_PAIR + 1, statuses
    assert statuses[429] == 15 - checked and set(statuses) <= {401, 303, 429}, statuses
    assert attempts(engine, "para@example.no") == checked

    # 40 at once: still at most 5 checked; the others are refused before the hash.
    statuses = parallel_logins(served, "many@example.no", ["wrong password"] * 40)
    assert statuses[401] == MAX_FAILURES_PER_PAIR and statuses[429] == 40 - statuses[401]
    assert attempts(engine, "many@example.no") == statuses[401]
    res = httpx.get(f"{served}/login")
    token = csrf_from(res.text)
    refused = httpx.post(
        f"{served}/login",
        data={"email": "many@example.no", "password": "x", "csrf_token": token},
        cookies=res.cookies,
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "try again in" in refused.text

    # Behind the trusted proxy (one server start for both), someone guessing from
    # 10.0.0.1 is slowed down...
    attacker = {"X-Forwarded-For": "10.0.0.1"}
    statuses = parallel_logins(served, "proxied@example.no", ["guess"] * 12, attacker)
    assert statuses[401] == MAX_FAILURES_PER_PAIR and statuses[429] == 7, statuses
    # ...while the owner, from another address behind the same proxy, logs in at once.
    owner = {"X-Forwarded-For": "10.0.0.2"}
    assert parallel_logins(served, "proxied@example.no", [PASSWORD], owner) == {303: 1}
    with Session(engine) as s:
        clients = set(
            s.scalars(
                select(LoginAttempt.client).where(LoginAttempt.email == "proxied@example.no")
            ).all()
        )
    assert clients == {"10.0.0.1", "10.0.0.2"}


def _login(client: TestClient, email: str, password: str, xff: str) -> int:
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": xff},
        follow_redirects=False,
    ).status_code


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(world: dict[str, Any]) -> None:
    with session_scope(world["engine"]) as s:
        ensure_user(s, "spoof@example.no", "kam", PASSWORD)
    # Its own peer address, so that no other test's failed logins count here.
    peer = ("192.0.2.8", 40000)
    plain = TestClient(
        create_app(make_settings(world["home"]), engine=world["engine"]), client=peer
    )
    for i in range(MAX_FAILURES_PER_PAIR):  # a forged header per attempt changes nothing
        assert _login(plain, "spoof@example.no", "wrong", f"10.9.0.{i}") == 401
    assert _login(plain, "spoof@example.no", PASSWORD, "10.9.9.9") == 429
    trusting = TestClient(
        create_app(
            make_settings(world["home"], TRACKER_TRUSTED_PROXIES="192.0.2.8"),
            engine=world["engine"],
        ),
        client=peer,
    )
    assert _login(trusting, "spoof@example.no", PASSWORD, "10.9.9.9") == 303


def test_progressive_delay_instead_of_a_fixed_lock(session: Session) -> None:
    create_user(session, "slow@example.no", "kam", "right password")
    t0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    for _ in range(MAX_FAILURES_PER_PAIR):
        assert authenticate(session, "slow@example.no", "x", client="10.0.0.1", now=t0) is None
    # Then 2 s, 4 s, 8 s... between tries from that client; refusals count nothing.
    waits = []
    now = t0
    for _ in range(4):
        with pytest.raises(LoginRateLimitedError) as refused:
            authenticate(session, "slow@example.no", "x", client="10.0.0.1", now=now)
        waits.append(refused.value.retry_after)
        now += dt.timedelta(seconds=refused.value.retry_after)
        assert authenticate(session, "slow@example.no", "x", client="10.0.0.1", now=now) is None
    assert waits == [2, 4, 8, 16]
    # Hammering from one address never locks the owner out of another one...
    for _ in range(50):
        with pytest.raises(LoginRateLimitedError):
            authenticate(session, "slow@example.no", "x", client="10.0.0.1", now=now)
    assert authenticate(session, "slow@example.no", "right password", "10.0.0.2", now=now)
    # ...and after 15 quiet minutes the first address starts over.
    later = now + dt.timedelta(minutes=16)
    assert authenticate(session, "slow@example.no", "right password", "10.0.0.1", later)


def test_a_request_that_read_the_clock_earlier_is_not_refused(session: Session) -> None:
    """Parallel requests reserve in any order: while free failures last, none waits."""
    create_user(session, "race@example.no", "kam", "right password")
    t0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    later, earlier = t0 + dt.timedelta(milliseconds=300), t0
    assert authenticate(session, "race@example.no", "x", client="10.0.0.1", now=later) is None
    assert authenticate(session, "race@example.no", "x", client="10.0.0.1", now=earlier) is None
    assert authenticate(session, "race@example.no", "right password", "10.0.0.1", earlier)


def test_many_addresses_slow_an_account_down_for_a_minute_at_most(session: Session) -> None:
    create_user(session, "target@example.no", "kam", "right password")
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    for i in range(MAX_FAILURES_PER_EMAIL + 12):  # a botnet: one guess per address
        try:
            authenticate(session, "target@example.no", "x", client=f"10.1.{i}.1", now=now)
        except LoginRateLimitedError as exc:
            assert exc.retry_after <= 60
        now += dt.timedelta(seconds=1)
    with pytest.raises(LoginRateLimitedError) as refused:
        authenticate(session, "target@example.no", "right password", "10.2.0.1", now=now)
    assert refused.value.retry_after <= 60
    later = now + dt.timedelta(seconds=refused.value.retry_after)
    assert authenticate(session, "target@example.no", "right password", "10.2.0.1", later)


def _status_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def test_an_oversized_body_is_refused_before_it_is_read(
    db_url: str, request: pytest.FixtureRequest
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("backend-independent (refused before any database access): SQLite only")
    served: str = request.getfixturevalue("served")
    host, port = served.removeprefix("http://").split(":")
    head = (
        "POST /accounts/1/plan HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
    )
    # 180 MB announced, without a session: 413 from the header alone.
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((head + "Content-Length: 188743680\r\n\r\n").encode() + b"x" * 65536)
        assert b" 413 " in _status_line(sock) + b" "
    # Streamed without a length: refused once past the limit, long before the end.
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        try:
            while sent < 180 * 1024 * 1024:
                sock.sendall(chunk)
                sent += 65536
                readable, _, _ = io_select.select([sock], [], [], 0)
                if readable:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert b" 413 " in _status_line(sock) + b" "
    assert sent < 16 * 1024 * 1024, sent
