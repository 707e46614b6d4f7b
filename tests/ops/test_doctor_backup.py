"""`tracker doctor` exit codes and lines; backup then restore round trip."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from tests.ops.conftest import SMTPServer, free_port
from tracker.cli import main
from tracker.config import load_settings
from tracker.db.locks import DatabaseLock
from tracker.db.models import Account, Run, utcnow
from tracker.errors import BackupError
from tracker.ops import backup as backup_mod
from tracker.ops.doctor import exit_code, run_checks


def _status(checks) -> dict[str, str]:
    return {c.name: c.status for c in checks}


def test_doctor_all_good_then_each_failure(
    engine: Engine, tracker_env, smtp_server: SMTPServer
) -> None:
    env = {
        **tracker_env,
        "DOFFIN_API_KEY": "key-123",
        "TRACKER_SMTP_HOST": "127.0.0.1",
        "TRACKER_SMTP_PORT": str(smtp_server.port),
        "TRACKER_SMTP_TLS": "none",
    }
    now = utcnow()
    with engine.begin() as conn:
        for name, age in (("doffin", 2), ("ted", 60)):
            conn.execute(
                Run.__table__.insert().values(
                    kind="crawl",
                    name=name,
                    outcome="ok",
                    args={},
                    counts={},
                    started_at=now - dt.timedelta(hours=age),
                    finished_at=now - dt.timedelta(hours=age),
                )
            )
    Path(tracker_env["TRACKER_HOME"]).chmod(0o700)
    checks = run_checks(load_settings(env), engine, now=now)
    assert _status(checks) == {
        "configuration": "ok",
        "database": "ok",
        "migrations": "ok",
        "last run doffin": "ok",
        "last run ted": "warn",
        "last run brreg": "warn",
        "alerts": "ok",
        "derivation": "ok",
        "runs": "ok",
        "file permissions": "ok",
        "doffin api key": "ok",
        "smtp": "ok",
    }
    assert exit_code(checks) == 0
    assert all(len(c.line().splitlines()) == 1 for c in checks)

    # A scheduler lock without heartbeat is reported (warning: the next cycle recovers it).
    from tracker.db.locks import DatabaseLock

    DatabaseLock(engine, "scheduler", holder="dead-host:1").acquire()
    later = run_checks(load_settings(env), engine, now=now + dt.timedelta(hours=1))
    lock_check = next(c for c in later if c.name == "scheduler lock")
    assert lock_check.status == "warn" and "dead-host:1" in lock_check.message
    assert "stale" in lock_check.message and exit_code(later) == 0

    # SMTP down, API key missing, bad TLS mode: each is a failure.
    dead = {**env, "TRACKER_SMTP_PORT": str(free_port())}
    assert _status(run_checks(load_settings(dead), engine))["smtp"] == "fail"
    nokey = {k: v for k, v in env.items() if k != "DOFFIN_API_KEY"}
    assert _status(run_checks(load_settings(nokey), engine))["doffin api key"] == "fail"
    bad = run_checks(load_settings({**env, "TRACKER_SMTP_TLS": "tls1.3"}), engine)
    assert exit_code(bad) == 1 and "smtp_tls='tls1.3'" in bad[0].message

    # Through the CLI: exit code 0 with everything fine, 1 when something fails.
    runner = CliRunner()
    res = runner.invoke(main, ["doctor"], env=env)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("ok    configuration")
    res = runner.invoke(main, ["doctor"], env=dead)
    assert res.exit_code == 1 and "fail  smtp" in res.output


def test_doctor_migrations_behind_and_database_unreachable(tmp_path: Path) -> None:
    empty = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    checks = run_checks(load_settings({"TRACKER_HOME": str(tmp_path)}), empty)
    mig = next(c for c in checks if c.name == "migrations")
    assert mig.status == "fail" and "run `tracker db upgrade`" in mig.message
    unreachable = create_engine(
        f"postgresql+psycopg://u:topsecret@127.0.0.1:{free_port()}/x",
        connect_args={"connect_timeout": 2},
    )
    db = next(
        c
        for c in run_checks(load_settings({"TRACKER_HOME": str(tmp_path)}), unreachable)
        if c.name == "database"
    )
    assert db.status == "fail" and "topsecret" not in db.message and "***" in db.message


def test_doctor_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('smtp_host = "x"\nnot_a_key = 1\n')
    res = CliRunner().invoke(
        main, ["doctor"], env={"TRACKER_CONFIG": str(cfg), "TRACKER_HOME": str(tmp_path)}
    )
    assert res.exit_code == 1
    assert "fail  configuration" in res.output and "unknown key(s): not_a_key" in res.output


def test_sqlite_backup_restore_round_trip(engine: Engine, tracker_env, tmp_path: Path) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite backup API; PostgreSQL is covered by test_pg_dump_round_trip")
    with engine.begin() as conn:
        conn.execute(
            Account.__table__.insert().values(
                name="NAV",
                tier="star",
                buyer_type="state",
                include_children=False,
                created_at=utcnow(),
            )
        )
    out = tmp_path / "b" / "tracker.db"
    res = CliRunner().invoke(main, ["backup", "--out", str(out)], env=tracker_env)
    assert res.exit_code == 0, res.output
    assert f"backup written: {out}" in res.output
    # Changes after the backup are undone by the restore.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM accounts"))
        conn.execute(
            Account.__table__.insert().values(
                name="Forsvaret",
                tier="star",
                buyer_type="state",
                include_children=False,
                created_at=utcnow(),
            )
        )
    res = CliRunner().invoke(main, ["restore", str(out), "--yes"], env=tracker_env)
    assert res.exit_code == 0, res.output
    fresh = create_engine(tracker_env["TRACKER_DATABASE_URL"])
    with fresh.connect() as conn:
        assert conn.execute(select(Account.name)).scalars().all() == ["NAV"]
    fresh.dispose()
    # A second backup to the same file is refused rather than overwritten.
    res = CliRunner().invoke(main, ["backup", "--out", str(out)], env=tracker_env)
    assert res.exit_code == 2 and "exists" in res.output


def test_restore_refuses_bad_files_and_running_scheduler(
    engine: Engine, tracker_env, tmp_path: Path
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite restore checks")
    settings = load_settings(tracker_env)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(BackupError, match="not an SQLite database"):
        backup_mod.restore(settings, junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(BackupError, match="not a tracker database"):
        backup_mod.restore(settings, other)
    good = backup_mod.backup(settings, tmp_path / "good.db").path
    lock = DatabaseLock(engine, "scheduler", holder="sched-1")
    lock.acquire()
    with pytest.raises(BackupError, match="scheduler is running \\(sched-1\\)"):
        backup_mod.restore(settings, good)
    lock.release()


def test_pg_dump_round_trip(engine: Engine, tracker_env, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_dump path")
    import shutil

    if not shutil.which("pg_dump"):
        pytest.skip("pg_dump not installed")
    settings = load_settings(tracker_env)
    with engine.begin() as conn:
        conn.execute(
            Account.__table__.insert().values(
                name="NAV",
                tier="star",
                buyer_type="state",
                include_children=False,
                created_at=utcnow(),
            )
        )
    result = backup_mod.backup(settings, tmp_path / "t.dump")
    assert result.size > 0 and "pg_dump --format=custom" in result.command
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM accounts"))
    engine.dispose()
    backup_mod.restore(settings, result.path)
    fresh = create_engine(tracker_env["TRACKER_DATABASE_URL"])
    with fresh.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Account)).scalar() == 1
    fresh.dispose()


def test_pg_commands_hide_the_password() -> None:
    dump, restore = backup_mod.pg_commands(
        "postgresql+psycopg://tracker:pw-very-secret@db.internal:5432/tracker", Path("/b/t.dump")
    )
    assert "pw-very-secret" not in dump + restore
    assert (
        dump
        == "pg_dump --format=custom --no-owner --file=/b/t.dump postgresql://tracker@db.internal:5432/tracker"
    )
    assert restore.startswith("pg_restore --clean --if-exists --no-owner --dbname=postgresql://")
