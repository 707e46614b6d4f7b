"""``tracker doctor``: is this installation able to run unattended?

Each check gives one line with ``ok``, ``warn`` or ``fail``; any ``fail`` makes the
command exit non-zero (1). Checks never print a secret: a password or key is reported
as set or missing only.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from tracker.config import Settings, load_settings
from tracker.errors import TrackerError
from tracker.models import AlertLog, Run, utcnow

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
    problems = []
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


def _db_checks(engine: Engine, now: dt.datetime) -> list[Check]:
    from tracker.migrate import current_revision, head_revision

    url = make_url(str(engine.url)).render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return [Check("database", "fail", f"{url} unreachable: {type(exc).__name__}")]
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
        for source in SOURCES:
            last = conn.execute(
                select(func.max(Run.finished_at)).where(Run.name == source, Run.outcome == "ok")
            ).scalar()
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            if last is None:
                checks.append(Check(f"last run {source}", "warn", "no successful run yet"))
            else:
                age = now - last
                status = "ok" if age <= STALE_RUN else "warn"
                hours = age.total_seconds() / 3600
                checks.append(
                    Check(
                        f"last run {source}",
                        status,
                        f"succeeded {last.isoformat(timespec='minutes')} ({hours:.0f} h ago)",
                    )
                )
        stuck = conn.execute(
            select(func.count())
            .select_from(AlertLog)
            .where(AlertLog.status.in_(("pending", "sending")), AlertLog.attempts >= 3)
        ).scalar()
        if stuck:
            checks.append(
                Check("alerts", "warn", f"{stuck} alert(s) failed 3+ times, still pending")
            )
        else:
            checks.append(Check("alerts", "ok", "no alert stuck"))
    return checks


def smtp_probe(settings: Settings) -> None:
    """Connect, say EHLO (and STARTTLS/login when configured), then quit."""
    timeout = float(settings.alert_timeout_seconds)
    context = ssl.create_default_context()
    tls = str(settings.smtp_tls).lower()
    smtp: smtplib.SMTP
    if tls == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, int(settings.smtp_port), timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, int(settings.smtp_port), timeout=timeout)
    with smtp:
        smtp.ehlo()
        if tls == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
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
        from tracker.db import get_engine

        try:
            engine = get_engine(settings=settings)
        except Exception as exc:
            checks.append(Check("database", "fail", f"cannot open: {type(exc).__name__}"))
            engine = None
    if engine is not None:
        checks += _db_checks(engine, now)
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
