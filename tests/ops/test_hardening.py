"""Operations that must fail fast with one line, keep secrets out of logs and files
private: webhook URLs at -v/-vv, file modes, doctor's checks, backup to a bad path,
the session secret under parallel workers, serve and the CLI without a database."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.factories import add_account, add_opportunity, add_user
from tests.ops.conftest import WebhookReceiver, free_port
from tracker.alerts import subscriptions
from tracker.cli import main
from tracker.config import load_settings, session_secret
from tracker.db.engine import make_engine
from tracker.db.migrate import upgrade
from tracker.ops.crawl import PROJECT_ROOT
from tracker.ops.doctor import run_checks

TODAY = dt.date(2026, 11, 28)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_webhook_url_is_never_logged_at_any_verbosity(
    session: Session, webhook: WebhookReceiver, tracker_env: dict[str, str]
) -> None:
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_opportunity(
        session, "opp", nav, main_cpv="72000000", expected_publication=TODAY + dt.timedelta(days=5)
    )
    secret_url = f"{webhook.url}/services/T000/B000/SECRETWEBHOOKTOKEN"
    subscriptions.subscribe(session, kam.email, "window_closing", "webhook", target=secret_url)
    session.commit()
    for flag in ("-v", "-vv"):
        webhook.status = 500 if flag == "-v" else 200  # a failure, then a delivery
        env = {**tracker_env, "TRACKER_ALERT_BACKOFF_SECONDS": "0"}  # retried at once
        res = _cli([flag, "alerts", "send", "--today", TODAY.isoformat()], env)
        assert res.returncode == 0, res.stderr
        logged = res.stdout + res.stderr
        assert "HTTP Request: POST http://127.0.0.1" in logged  # httpx did log the request
        assert "SECRETWEBHOOKTOKEN" not in logged and "/services/" not in logged, logged
    assert len(webhook.posts) == 1


def test_database_wal_and_backups_are_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"  # nothing exists yet
    env = {"TRACKER_HOME": str(home), "TRACKER_DATABASE_URL": ""}
    res = _cli(["db", "upgrade"], env)
    assert res.returncode == 0, res.stderr
    db = home / "tracker.db"
    assert _mode(home) == 0o700 and _mode(db) == 0o600
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # WAL and shared-memory files exist while connected
        conn.execute(text("INSERT INTO kv (key, value) VALUES ('x', '{}')"))
        for suffix in ("-wal", "-shm"):
            assert _mode(Path(f"{db}{suffix}")) == 0o600, suffix
    engine.dispose()
    res = _cli(["backup"], env)
    assert res.returncode == 0, res.stderr
    [copy] = (home / "backups").iterdir()
    assert _mode(home / "backups") == 0o700 and _mode(copy) == 0o600
    checks = {c.name: c for c in run_checks(load_settings(env))}
    assert checks["file permissions"].status == "ok"
    db.chmod(0o644)
    checks = {c.name: c for c in run_checks(load_settings(env))}
    assert checks["file permissions"].status == "warn" and "tracker.db (0644)" in (
        checks["file permissions"].message
    )


def test_backup_to_an_unwritable_path_is_one_line(engine: Engine, tracker_env) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("pg_dump is not installed here; the check before it is the same")
    blocker = Path(tracker_env["TRACKER_HOME"]) / "a-file"
    blocker.write_text("x")
    res = CliRunner().invoke(main, ["backup", "--out", str(blocker / "tracker.db")])
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and len(res.output.splitlines()) == 1
    assert "cannot write there" in res.output and "Traceback" not in res.output


def test_doctor_checks_what_serve_and_run_once_check(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TRACKER_HOME": str(home)}
    # A missing database is reported, and neither the file nor its folder is created.
    checks = {c.name: c for c in run_checks(load_settings(env))}
    assert checks["database"].status == "fail"
    assert "not initialised" in checks["database"].message
    assert not home.exists()
    # A bad TRACKER_TODAY and a short session secret fail like serve and run-once do.
    bad = run_checks(
        load_settings({**env, "TRACKER_TODAY": "2026-13-01", "TRACKER_SESSION_SECRET": "short"})
    )
    config = next(c for c in bad if c.name == "configuration")
    assert config.status == "fail"
    assert "'2026-13-01' is not YYYY-MM-DD" in config.message
    assert "shorter than 32 characters" in config.message
    home.mkdir()
    (home / "session_secret").write_text("tiny\n")
    file_secret = next(c for c in run_checks(load_settings(env)) if c.name == "configuration")
    assert file_secret.status == "fail" and "session_secret" in file_secret.message
    # The database error says what went wrong, not only its class (and hides the password).
    url = f"postgresql+psycopg://u:topsecret@127.0.0.1:{free_port()}/x"
    db = next(
        c
        for c in run_checks(load_settings({**env, "TRACKER_DATABASE_URL": url}))
        if c.name == "database"
    )
    assert db.status == "fail" and "topsecret" not in db.message
    assert "refused" in db.message.lower() or "connection failed" in db.message.lower()


def _secret_worker(home: str, barrier, out, slow: bool) -> None:  # type: ignore[no-untyped-def]
    """One web worker starting: the slow one starts writing the secret first and takes
    0.3 s to make it (a loaded machine); the others look 0.1 s later."""
    import secrets
    import time

    if slow:
        make = secrets.token_urlsafe

        def slow_token(n: int) -> str:
            time.sleep(0.3)
            return make(n)

        secrets.token_urlsafe = slow_token
    settings = load_settings({"TRACKER_HOME": home})
    barrier.wait()
    if not slow:
        time.sleep(0.1)
    try:
        out.put(session_secret(settings))
    except Exception as exc:  # reported to the test
        out.put(f"error: {exc}")


def test_parallel_workers_on_a_fresh_home_read_the_same_complete_secret(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(2):
        home = tmp_path / f"home{round_}"
        barrier, out = ctx.Barrier(8), ctx.Queue()
        procs = [
            ctx.Process(target=_secret_worker, args=(str(home), barrier, out, i == 0))
            for i in range(8)
        ]
        for p in procs:
            p.start()
        secrets = [out.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(10)
        assert len(set(secrets)) == 1 and len(secrets[0]) >= 32, secrets
        assert _mode(home / "session_secret") == 0o600 and _mode(home) == 0o700
        assert [p.name for p in home.iterdir()] == ["session_secret"]  # no temporary left


def test_fail_fast_one_line_without_a_usable_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    base = {"TRACKER_HOME": str(home), "TRACKER_DATABASE_URL": ""}
    # serve on an uninitialised database: refused before it starts (no 500 on login).
    res = _cli(["serve", "--port", str(free_port())], base)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "not initialised" in res.stderr and "tracker db upgrade" in res.stderr
    assert not home.exists()  # and nothing was created
    # A malformed URL and an unreachable server: one line each, never the password.
    for url, expected in (
        ("not a url", "is not a database URL"),
        ("postgresql+psycopg://u:topsecret@127.0.0.1:{port}/x", "cannot use the database"),
        ("nosuchdb://u:topsecret@h/x", "cannot use"),
    ):
        res = _cli(
            ["accounts", "list"], {**base, "TRACKER_DATABASE_URL": url.format(port=free_port())}
        )
        assert res.returncode == 2 and res.stderr.count("\n") == 1, (url, res.stderr)
        assert expected in res.stderr and "topsecret" not in res.stderr
        assert "Traceback" not in res.stderr
    # serve with a database at head starts (and is stopped here).
    db = home / "tracker.db"
    upgrade(make_engine(f"sqlite:///{db}"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **base},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        import httpx

        for _ in range(100):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/login").status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("serve did not start")
    finally:
        proc.terminate()
        proc.wait(10)


def test_postgresql_sessions_do_not_jit_compile(engine: Engine) -> None:
    """PostgreSQL connections run with jit off (a JIT compile cost more than the query)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"


def test_serve_gives_busy_workers_time_before_they_are_replaced(
    tracker_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tracker serve --workers 2`` starts uvicorn with a worker health-check timeout long
    enough for a slow page (uvicorn's 5 s default killed a worker mid-request at 2 M
    notices), behind no trusted proxy unless told."""
    import uvicorn

    from tracker.cli.web import WORKER_HEALTHCHECK_SECONDS

    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(kw, app=app))
    result = CliRunner().invoke(main, ["serve", "--workers", "2", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started["workers"] == 2 and started["port"] == 8123
    assert started["timeout_worker_healthcheck"] == WORKER_HEALTHCHECK_SECONDS >= 60
    assert started["proxy_headers"] is False
