"""The admin health page: runs, failures, chart, ingest errors; escaped; admin only."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dashboards.app import create_app
from tests.factories import add_notice
from tracker.config import load_settings
from tracker.db.models import IngestError, Run, utcnow
from tracker.users import create_user

TODAY = dt.date(2026, 11, 28)


def _login(client: TestClient, email: str, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    res = client.post(
        "/login",
        data={"email": email, "password": password, "next": "/", "csrf_token": token},
        follow_redirects=False,
    )
    assert res.status_code == 303, res.text


def test_health_page_for_admin_only(engine: Engine, session: Session, tracker_env) -> None:
    create_user(session, "admin@example.test", "admin", "correct horse 1")
    create_user(session, "kari@example.test", "kam", "correct horse 2")
    now = utcnow()
    cycle = Run(
        kind="cycle",
        name="daily",
        outcome="partial",
        started_at=now,
        finished_at=now,
        error="steps not ok: ted",
    )
    session.add(cycle)
    session.flush()
    session.add_all(
        [
            Run(
                kind="step",
                name="ted",
                parent_id=cycle.id,
                outcome="failed",
                started_at=now,
                finished_at=now,
                error="attempt 1: x\nattempt 3: ConnectError: TED down",
            ),
            Run(
                kind="step",
                name="doffin",
                parent_id=cycle.id,
                outcome="ok",
                started_at=now,
                finished_at=now + dt.timedelta(seconds=12),
                counts={"new": 41},
            ),
            IngestError(
                source="doffin", location="2026-123456", reason="<script>alert(1)</script> bad XML"
            ),
        ]
    )
    for i in range(3):
        add_notice(session, f"n{i}", issue_date=TODAY - dt.timedelta(days=i % 2))
    session.commit()
    settings = load_settings(
        {**tracker_env, "TRACKER_TODAY": TODAY.isoformat(), "TRACKER_SESSION_SECRET": "x" * 40}
    )
    app = create_app(settings, engine)
    with TestClient(app) as client:
        _login(client, "kari@example.test", "correct horse 2")
        assert client.get("/health").status_code == 403
    with TestClient(app) as client:
        _login(client, "admin@example.test", "correct horse 1")
        res = client.get("/health")
        assert res.status_code == 200
        html = res.text
        assert "attempt 3: ConnectError: TED down" in html  # last line of the step's error
        assert "new=41" in html and "12.0" in html
        assert (
            "&lt;script&gt;alert(1)&lt;/script&gt; bad XML" in html and "<script>alert" not in html
        )
        # The chart: 30 bars, today's bar holds 2 notices (the highest), yesterday 1.
        bars = re.findall(r"<rect [^>]*><title>(\d\d\.\d\d\.\d{4}): (\d+)</title>", html)
        assert (
            len(bars) == 30 and bars[-1] == ("28.11.2026", "2") and bars[-2] == ("27.11.2026", "1")
        )
        assert 'href="/health"' in html  # in the admin's menu
        data = client.get("/api/health").json()
        assert data["chart"][-1] == {"day": "2026-11-28", "notices": 2}
        assert data["ingest_error_total"] == 1 and data["failures"][0]["name"] in ("ted", "daily")
