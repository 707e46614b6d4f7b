"""Operations commands: schedule, run-once, doctor, backup, restore, alerts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import select

from tracker.cli import main
from tracker.cli._common import resolve_today
from tracker.config import load_settings
from tracker.db.engine import get_engine, session_scope
from tracker.enums import AlertState, RunState
from tracker.errors import ConfigError, LockHeldError

EXIT_LOCKED = 3


@main.command("run-once")
@click.option("--today", help="Run the cycle as of this date (YYYY-MM-DD).")
def run_once_cmd(today: str | None) -> None:
    """Run the daily cycle once (for cron or a systemd timer) and print each step.

    Exit code: 0 all steps ok, 1 some step failed, 3 another cycle holds the lock.

    Example: tracker run-once
    """
    from tracker.ops.scheduler import run_once

    try:
        result = run_once(load_settings(), today=resolve_today(today))
    except LockHeldError as exc:
        click.echo(f"not started: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    for step in result.steps:
        if step.outcome == RunState.OK:
            detail = json.dumps(step.counts, sort_keys=True)
        else:
            detail = (step.error or "").splitlines()[-1] if step.error else ""
        click.echo(f"{step.outcome:<7} {step.name:<14} attempts={step.attempts} {detail}")
    click.echo(f"cycle run {result.run_id}: {result.outcome}")
    sys.exit(0 if result.ok else 1)


@main.command("schedule")
@click.option("--now", "run_now", is_flag=True, help="Also run one cycle right away.")
def schedule_cmd(run_now: bool) -> None:
    """Run the daily cycle at schedule_time (TRACKER_SCHEDULE_TIME) until stopped.

    Only one scheduler runs per database: a second one exits with code 3 and names the
    holder. Stop with Ctrl-C or SIGTERM (the current step finishes first).

    Example: TRACKER_SCHEDULE_TIME=05:30 tracker schedule
    """
    from tracker.ops.scheduler import serve

    settings = load_settings()
    click.echo(f"scheduler: daily cycle at {settings.schedule_time} (Ctrl-C to stop)")
    try:
        serve(settings, run_now=run_now)
    except LockHeldError as exc:
        click.echo(f"not started: {exc}", err=True)
        sys.exit(EXIT_LOCKED)


@main.command("doctor")
def doctor_cmd() -> None:
    """Check configuration, database, migrations, last runs, API key and SMTP.

    One line per check (ok, warn or fail); exit code 1 if any check fails.

    Example: tracker doctor
    """
    from tracker.ops.doctor import exit_code, run_checks

    checks = run_checks()
    for c in checks:
        click.echo(c.line())
    sys.exit(exit_code(checks))


@main.command("backup")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Backup file.")
def backup_cmd(out: Path | None) -> None:
    """Back up the database (SQLite online backup; PostgreSQL with pg_dump).

    Default file: $TRACKER_HOME/backups/tracker-YYYYmmdd-HHMMSS.db (.dump for PostgreSQL).

    Example: tracker backup --out /srv/backups/tracker.db
    """
    from tracker.ops.backup import backup

    result = backup(load_settings(), out=out)
    click.echo(f"backup written: {result.path} ({result.size} bytes, {result.backend})")
    if result.command:
        click.echo(f"command: {result.command}")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_cmd(file: Path, yes: bool) -> None:
    """Replace the configured database with a backup (stop the scheduler first).

    Example: tracker restore var/backups/tracker-20261128-060000.db --yes
    """
    from tracker.ops.backup import restore

    if not yes:
        click.confirm("This overwrites the current database. Continue?", abort=True)
    target = restore(load_settings(), file=file)
    click.echo(f"restored {file} into {target}")


@main.group("alerts")
def alerts_group() -> None:
    """Alert subscriptions, the alert log, and sending.

    Example: tracker alerts send
    """


@alerts_group.command("send")
@click.option("--today", help="Find alerts as of this date (YYYY-MM-DD).")
def alerts_send(today: str | None) -> None:
    """Find new alerts and send every due one (what the cycle's alert step does).

    Example: tracker alerts send
    """
    from tracker.alerts.delivery import run_alerts

    settings = load_settings()
    day = resolve_today(today)
    with session_scope(get_engine(settings=settings)) as s:
        report = run_alerts(s, day, settings)
    click.echo(" ".join(f"{k}={v}" for k, v in report.counts().items()))
    for err in report.delivery.errors:
        click.echo(f"  {err}", err=True)


@alerts_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in AlertState]))
@click.option("--limit", default=50, show_default=True)
def alerts_list(status: str | None, limit: int) -> None:
    """List the alert log, newest first.

    Example: tracker alerts list --status pending
    """
    from tracker.db.models import AlertLog, User

    with session_scope() as s:
        q = (
            select(AlertLog, User.email)
            .outerjoin(User, User.id == AlertLog.user_id)
            .order_by(AlertLog.id.desc())
            .limit(limit)
        )
        if status:
            q = q.where(AlertLog.status == status)
        for row, email in s.execute(q):
            click.echo(
                f"{row.id:>6} {row.status:<8} {row.channel:<8} {row.kind:<16} "
                f"{email or '-':<30} tries={row.attempts} {row.subject[:80]}"
            )
            if row.last_error and row.status != AlertState.SENT:
                click.echo(f"       last error: {row.last_error}")


@alerts_group.command("retry")
@click.argument("alert_ids", nargs=-1, type=click.IntRange(1, 2**31 - 1))
@click.option("--all-failed", is_flag=True, help="Every alert marked failed.")
def alerts_retry(alert_ids: tuple[int, ...], all_failed: bool) -> None:
    """Send alerts marked failed again (after fixing the cause: address, webhook URL).

    Example: tracker alerts retry --all-failed
    """
    from sqlalchemy import update

    from tracker.db.models import AlertLog

    if not alert_ids and not all_failed:
        raise click.UsageError("give alert ids (see 'tracker alerts list --status failed')")
    with session_scope() as s:
        q = update(AlertLog).where(AlertLog.status == AlertState.FAILED)
        if alert_ids:
            q = q.where(AlertLog.id.in_(alert_ids))
        result = s.execute(
            q.values(status=AlertState.PENDING, permanent_failures=0, next_attempt_at=None)
        )
        n = getattr(result, "rowcount", 0)  # a CursorResult for an UPDATE
    click.echo(f"{n} alert(s) queued again; 'tracker alerts send' delivers them")


@alerts_group.command("subscribe")
@click.option("--user", "email", required=True, help="User e-mail.")
@click.option("--kind", help="Alert kind (see --defaults to list them).")
@click.option(
    "--channel",
    type=click.Choice(["email", "digest", "webhook"]),
    default="email",
    show_default=True,
)
@click.option("--target", help="Webhook URL (channel webhook).")
@click.option("--param", "params", multiple=True, help="name=value, e.g. days=14 or format=teams.")
@click.option("--off", is_flag=True, help="Disable this subscription.")
@click.option("--defaults", is_flag=True, help="Give the user their role's defaults, list kinds.")
def alerts_subscribe(
    email: str,
    kind: str | None,
    channel: str,
    target: str | None,
    params: tuple[str, ...],
    off: bool,
    defaults: bool,
) -> None:
    """Subscribe a user to an alert kind on a channel (or give the role defaults).

    Kinds: new_notice, window_opening, window_closing, drafting_start, expiry,
    budget_window, tender_deadline, bid_decision.

    Example: tracker alerts subscribe --user kari@example.no --kind window_closing
    --channel webhook --target https://hooks.slack.com/services/... --param days=21
    """
    from tracker.alerts.subscriptions import KINDS, ensure_default_subscriptions, subscribe
    from tracker.db.models import User

    parsed: dict[str, object] = {}
    for p in params:
        name, sep, value = p.partition("=")
        if not sep:
            raise ConfigError(f"--param {p!r}: expected name=value")
        parsed[name.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value.strip()
    with session_scope() as s:
        if defaults:
            user = s.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None:
                raise ConfigError(f"no user with e-mail {email!r}")
            n = ensure_default_subscriptions(s, user)
            click.echo(f"{n} default subscription(s) added for {user.email} ({user.role})")
            for k, spec in KINDS.items():
                click.echo(f"  {k:<16} {spec.help} (default {spec.params or '-'})")
            return
        if not kind:
            raise ConfigError("--kind is required (or use --defaults)")
        sub = subscribe(s, email, kind, channel, params=parsed, target=target, enabled=not off)
        state = "off" if off else "on"
        click.echo(f"{email}: {sub.kind} via {sub.channel} {state} {json.dumps(sub.params)}")
