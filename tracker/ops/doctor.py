"""``tracker doctor``: is this installation able to run unattended?

Each check gives one line with ``ok``, ``warn`` or ``fail``; any ``fail`` makes the
command exit non-zero (1). Checks never print a secret: a password or key is reported
as set or missing only.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tracker.config import Settings, load_settings, session_secret_problem
from tracker.db.models import AlertLog, IngestError, Lock, Notice, Run, User, utcnow
from tracker.db.runs import dead_runs
from tracker.errors import ConfigError, TrackerError

SOURCES = ("doffin", "ted", "brreg")
# A source without a successful run for longer than this is a warning.
STALE_RUN = dt.timedelta(hours=36)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok|warn|fail
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<16} {self.message}"


def _config_check(settings: Settings) -> Check:
    """What ``serve``, ``run-once`` and the alerts refuse to start with."""
    problems = []
    try:
        settings.today()
    except ConfigError as exc:
        problems.append(str(exc))
    secret = session_secret_problem(settings)
    if secret:
        problems.append(secret)
    if str(settings.smtp_tls).lower() not in ("none", "starttls", "ssl"):
        problems.append(f"smtp_tls={settings.smtp_tls!r} (expected none, starttls or ssl)")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", str(settings.schedule_time)):
        problems.append(f"schedule_time={settings.schedule_time!r} (expected HH:MM)")
    if int(settings.heartbeat_seconds) * 2 > int(settings.lock_stale_seconds):
        problems.append("heartbeat_seconds must be at most half of lock_stale_seconds")
    if problems:
        return Check("configuration", "fail", "; ".join(problems))
    where = str(settings.config_file) if settings.config_file else "environment and defaults"
    return Check("configuration", "ok", f"loaded from {where}")


def _error_text(exc: BaseException, limit: int = 200) -> str:
    """The first line of a (database) error's own message, not only its class."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return f"{type(orig).__name__}: {lines[0][:limit]}" if lines else type(orig).__name__


def _permission_check(settings: Settings, engine: Engine) -> Check | None:
    """Home folder 0700 and SQLite files 0600: sales data and secrets are not for other users."""
    from tracker.db.engine import sqlite_file

    loose = []
    home = settings.home_path
    paths = [home] if home.exists() else []
    db = sqlite_file(engine.url)
    if db is not None:
        paths += [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
    if home.is_dir():
        paths += [p for p in (home / "session_secret",) if p.exists()]
        backups = home / "backups"
        if backups.is_dir():
            paths += [backups, *sorted(backups.iterdir())]
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            loose.append(f"{path} ({mode:04o})")
    if not loose:
        return Check("file permissions", "ok", "home, database and backups private to the owner")
    return Check(
        "file permissions",
        "warn",
        f"readable by other users: {', '.join(loose[:4])}"
        + (f" and {len(loose) - 4} more" if len(loose) > 4 else "")
        + " (chmod 700 the home folder, 600 the files)",
    )


def _db_checks(engine: Engine, now: dt.datetime, stale_seconds: int) -> list[Check]:
    from tracker.db.migrate import current_revision, head_revision

    url = make_url(str(engine.url)).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except TrackerError as exc:  # e.g. the SQLite file does not exist (never created here)
        return [Check("database", "fail", str(exc))]
    except Exception as exc:
        return [Check("database", "fail", f"{url} unreachable: {_error_text(exc)}")]
    checks = [Check("database", "ok", f"{engine.dialect.name} reachable")]
    current, head = current_revision(engine), head_revision()
    if current != head:
        checks.append(
            Check(
                "migrations",
                "fail",
                f"database at {current or 'no revision'}, code at {head}: run `tracker db upgrade`",
            )
        )
        return checks
    checks.append(Check("migrations", "ok", f"at head {head}"))
    with engine.connect() as conn:
        checks += _run_checks(conn, now)
        lock = _lock_check(conn, now, stale_seconds)
        if lock is not None:
            checks.append(lock)
        checks.append(_alert_check(conn))
        pending = conn.execute(
            select(func.count()).select_from(Notice).where(Notice.derive_pending.is_(True))
        ).scalar()
        checks.append(
            Check(
                "derivation",
                "warn",
                f"{pending} notice(s) stored but not derived (no contracts or account links "
                "yet): run `tracker ingest --derive-pending`",
            )
            if pending
            else Check("derivation", "ok", "every stored notice is derived")
        )
    with Session(engine) as session:
        dead = dead_runs(session)
    if dead:
        names = ", ".join(f"{r.kind} {r.name} #{r.id}" for r in dead[:3])
        checks.append(
            Check(
                "runs",
                "warn",
                f"{len(dead)} run(s) left running by a process that died ({names}); "
                "closed as interrupted when the next run starts",
            )
        )
    else:
        checks.append(Check("runs", "ok", "no run left running by a dead process"))
    return checks


def _run_checks(conn: Any, now: dt.datetime) -> list[Check]:
    """The last successful run of each source, and how long ago."""
    checks = []
    for source in SOURCES:
        last = conn.execute(
            select(func.max(Run.finished_at)).where(Run.name == source, Run.outcome == "ok")
        ).scalar()
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        if last is None:
            checks.append(Check(f"last run {source}", "warn", "no successful run yet"))
            continue
        age = now - last
        checks.append(
            Check(
                f"last run {source}",
                "ok" if age <= STALE_RUN else "warn",
                f"succeeded {last.isoformat(timespec='minutes')} "
                f"({age.total_seconds() / 3600:.0f} h ago)",
            )
        )
    return checks


def _lock_check(conn: Any, now: dt.datetime, stale_seconds: int) -> Check | None:
    """Who holds the scheduler lock and how fresh its heartbeat is (None: nobody)."""
    lock = conn.execute(select(Lock).where(Lock.name == "scheduler")).first()
    if lock is None:
        return None
    beat_age = int((now - lock.heartbeat_at).total_seconds())
    fresh = beat_age <= stale_seconds
    return Check(
        "scheduler lock",
        "ok" if fresh else "warn",
        f"held by {lock.holder}, heartbeat {beat_age} s ago"
        + ("" if fresh else " (stale: the next cycle takes it over)"),
    )


def _alert_check(conn: Any) -> Check:
    """Alerts marked failed (a cause that will not change) and alerts that keep failing."""
    failed = conn.execute(
        select(AlertLog.id, AlertLog.last_error)
        .where(AlertLog.status == "failed")
        .order_by(AlertLog.id.desc())
    ).all()
    retrying = conn.execute(
        select(func.count())
        .select_from(AlertLog)
        .where(AlertLog.status.in_(("pending", "sending")), AlertLog.attempts >= 3)
    ).scalar()
    problems = []
    if failed:
        alert_id, reason = failed[0]
        problems.append(
            f"{len(failed)} alert(s) failed for good (latest #{alert_id}: "
            f"{_first_line(reason, 120)}); see `tracker alerts list --status failed`"
        )
    if retrying:
        problems.append(f"{retrying} alert(s) failed 3+ times, still retried")
    if problems:
        return Check("alerts", "warn", "; ".join(problems))
    return Check("alerts", "ok", "no alert failing")


def smtp_probe(settings: Settings) -> None:
    """Connect, say EHLO (and STARTTLS/login when configured), NOOP, then quit."""
    from tracker.alerts.channels import smtp_connection

    with smtp_connection(settings) as smtp:
        smtp.noop()


def _smtp_check(settings: Settings, probe: Callable[[Settings], None]) -> Check:
    if not settings.smtp_host:
        return Check("smtp", "warn", "smtp_host not set: e-mail alerts stay pending")
    where = f"{settings.smtp_host}:{settings.smtp_port} ({settings.smtp_tls})"
    try:
        probe(settings)
    except Exception as exc:
        msg = str(exc)
        if settings.smtp_password:
            msg = msg.replace(settings.smtp_password, "***")
        return Check("smtp", "fail", f"{where}: {type(exc).__name__}: {msg[:200]}")
    return Check("smtp", "ok", f"{where} reachable")


def run_checks(
    settings: Settings | None = None,
    engine: Engine | None = None,
    *,
    now: dt.datetime | None = None,
    probe: Callable[[Settings], None] = smtp_probe,
) -> list[Check]:
    """Run every check; never raises (a check that cannot run is a ``fail``)."""
    now = now or utcnow()
    try:
        settings = settings or load_settings()
    except TrackerError as exc:
        return [Check("configuration", "fail", str(exc))]
    checks = [_config_check(settings)]
    if engine is None:
        from tracker.db.engine import get_engine

        try:
            engine = get_engine(settings=settings)
        except Exception as exc:
            checks.append(Check("database", "fail", f"cannot open: {_error_text(exc)}"))
            engine = None
    if engine is not None:
        checks += _db_checks(engine, now, int(settings.lock_stale_seconds))
        perms = _permission_check(settings, engine)
        if perms is not None:
            checks.append(perms)
    checks.append(
        Check("doffin api key", "ok", "set")
        if settings.doffin_api_key
        else Check(
            "doffin api key", "fail", "DOFFIN_API_KEY missing: the Doffin harvest cannot run"
        )
    )
    checks.append(_smtp_check(settings, probe))
    return checks


def exit_code(checks: list[Check]) -> int:
    """1 if any check failed, else 0 (warnings do not fail)."""
    return 1 if any(c.status == "fail" for c in checks) else 0


# --------------------------------------------------------------------------- health page


def _first_line(text: str | None, limit: int = 200) -> str:
    return (text or "").strip().splitlines()[-1][:limit] if text and text.strip() else ""


def _run_dict(r: Run) -> dict[str, Any]:
    seconds = (r.finished_at - r.started_at).total_seconds() if r.finished_at else None
    return {
        "id": r.id,
        "kind": r.kind,
        "name": r.name,
        "parent_id": r.parent_id,
        "started_at": r.started_at,
        "seconds": round(seconds, 1) if seconds is not None else None,
        "outcome": r.outcome,
        "counts": ", ".join(f"{k}={v}" for k, v in sorted((r.counts or {}).items())),
        "error": _first_line(r.error),
    }


def notices_per_day(session: Session, today: dt.date, days: int = 30) -> list[tuple[dt.date, int]]:
    """Stored notices (every version) per issue date, for the ``days`` days up to ``today``."""
    start = today - dt.timedelta(days=days - 1)
    rows = session.execute(
        select(Notice.issue_date, func.count())
        .where(Notice.issue_date >= start, Notice.issue_date <= today)
        .group_by(Notice.issue_date)
    ).all()
    counts = {d: n for d, n in rows}
    return [
        (start + dt.timedelta(days=i), counts.get(start + dt.timedelta(days=i), 0))
        for i in range(days)
    ]


def bar_chart(series: list[tuple[dt.date, int]], width: int = 720, height: int = 160) -> dict:
    """Coordinates for an inline SVG bar chart (the template only draws them)."""
    top = max((n for _, n in series), default=0) or 1
    pad_left, pad_bottom = 36, 18
    slot = (width - pad_left) / max(len(series), 1)
    bars = []
    for i, (day, n) in enumerate(series):
        h = (height - pad_bottom - 8) * n / top
        bars.append(
            {
                "x": round(pad_left + i * slot + 1, 1),
                "y": round(height - pad_bottom - h, 1),
                "w": round(max(slot - 2, 1), 1),
                "h": round(h, 1),
                "day": day,
                "n": n,
                "label": day.strftime("%d.%m") if i % 5 == 0 or i == len(series) - 1 else "",
                "anchor": "end" if i == len(series) - 1 else "start",
                "lx": round(pad_left + (i + 1) * slot, 1) if i == len(series) - 1 else None,
            }
        )
    return {
        "width": width,
        "height": height,
        "max": top,
        "bars": bars,
        "base_y": height - pad_bottom,
        "left": pad_left,
    }


def health_report(session: Session, today: dt.date, *, now: dt.datetime | None = None) -> dict:
    """Plain values for the admin health page: runs, failures, chart, ingest errors, alerts."""
    now = now or utcnow()
    since = now - dt.timedelta(days=14)
    last_runs = session.scalars(select(Run).order_by(Run.id.desc()).limit(30)).all()
    failures = session.scalars(
        select(Run)
        .where(Run.outcome.in_(("failed", "partial")), Run.started_at >= since)
        .order_by(Run.id.desc())
        .limit(30)
    ).all()
    last_ok = {}
    for source in (*SOURCES, "daily"):
        last_ok[source] = session.scalar(
            select(func.max(Run.finished_at)).where(Run.name == source, Run.outcome == "ok")
        )
    errors = session.scalars(select(IngestError).order_by(IngestError.id.desc()).limit(20)).all()
    error_total = session.scalar(select(func.count()).select_from(IngestError)) or 0
    alert_counts = dict(
        session.execute(select(AlertLog.status, func.count()).group_by(AlertLog.status)).all()
    )
    lock = session.get(Lock, "scheduler")
    failed_alerts = session.execute(
        select(AlertLog, User.email)
        .outerjoin(User, User.id == AlertLog.user_id)
        .where(AlertLog.status == "failed")
        .order_by(AlertLog.id.desc())
        .limit(10)
    ).all()
    derive_pending = session.scalar(
        select(func.count()).select_from(Notice).where(Notice.derive_pending.is_(True))
    )
    return {
        "last_runs": [_run_dict(r) for r in last_runs],
        "failures": [_run_dict(r) for r in failures],
        "last_ok": last_ok,
        "chart": bar_chart(notices_per_day(session, today)),
        "ingest_errors": [
            {
                "id": e.id,
                "source": e.source,
                "location": e.location,
                "reason": _first_line(e.reason, 300),
                "created_at": e.created_at,
            }
            for e in errors
        ],
        "ingest_error_total": error_total,
        "alerts": {
            k: alert_counts.get(k, 0) for k in ("pending", "sending", "sent", "dropped", "failed")
        },
        "failed_alerts": [
            {
                "id": a.id,
                "channel": a.channel,
                "user": email,
                "subject": a.subject[:200],
                "attempts": a.attempts,
                "reason": _first_line(a.last_error, 300),
            }
            for a, email in failed_alerts
        ],
        "derive_pending": derive_pending or 0,
        "lock": None
        if lock is None
        else {
            "holder": lock.holder,
            "acquired_at": lock.acquired_at,
            "heartbeat_age": int((now - lock.heartbeat_at).total_seconds()),
        },
    }
