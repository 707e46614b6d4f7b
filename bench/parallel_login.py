"""Benchmark: how many passwords a burst of simultaneous logins gets checked.

Migrates a fresh database (temporary SQLite, or ``--database-url``), adds one user, runs
``tracker serve`` (uvicorn, real argon2 cost) on a free loopback port, and sends
``--parallel`` simultaneous ``POST /login`` for that user (all wrong but the last),
each from its own session, released together by a barrier. Prints the answers (401
wrong password, 303 logged in, 429 refused before the password check), how many
passwords the server checked (``login_attempts`` rows) and the wall time. The limiter
allows at most 5 checks per e-mail and client before its progressive delay.

    .venv/bin/python bench/parallel_login.py --parallel 15 --parallel 40
    .venv/bin/python bench/parallel_login.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.db.engine import make_engine  # noqa: E402
from tracker.db.migrate import upgrade  # noqa: E402
from tracker.db.models import LoginAttempt  # noqa: E402
from tracker.users import create_user  # noqa: E402

PASSWORD = "the right password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def burst(base: str, email: str, n: int) -> Counter[int]:
    barrier = threading.Barrier(n)

    def one(password: str) -> int:
        with httpx.Client(base_url=base, timeout=120) as client:
            page = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            barrier.wait()
            data = {"email": email, "password": password, "next": "/", "csrf_token": token}
            return client.post("/login", data=data).status_code

    with ThreadPoolExecutor(n) as pool:
        return Counter(pool.map(one, ["wrong password"] * (n - 1) + [PASSWORD]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parallel", type=int, action="append", help="burst size (repeatable)")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    sizes = args.parallel or [15, 40]
    home = tempfile.mkdtemp(prefix="bench-login-")
    url = args.database_url or f"sqlite:///{home}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        for i in range(len(sizes)):
            create_user(s, f"user{i}@example.no", "kam", PASSWORD)
        s.commit()
    port = free_port()
    env = {**os.environ, "TRACKER_HOME": home, "TRACKER_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(f"backend {engine.dialect.name}")
        for i, n in enumerate(sizes):
            email = f"user{i}@example.no"
            t0 = time.perf_counter()
            answers = burst(base, email, n)
            seconds = time.perf_counter() - t0
            with Session(engine) as s:
                checked = s.scalar(
                    select(func.count())
                    .select_from(LoginAttempt)
                    .where(LoginAttempt.email == email)
                )
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
            print(f"{n:>3} at once: {shown}; passwords checked {checked}; {seconds:.2f} s wall")
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()


if __name__ == "__main__":
    main()
