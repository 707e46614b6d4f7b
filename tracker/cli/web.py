"""Users and the web app: ``tracker users add|list|disable|enable|reset-password|set-role|
revoke-tokens`` and ``tracker serve``."""

from __future__ import annotations

import sys

import click

from tracker.cli import main
from tracker.config import load_settings
from tracker.db.engine import session_scope
from tracker.errors import ConfigError, UserError
from tracker.users import ROLES, create_user, list_users


def _read_password() -> str:
    """From standard input when it is not a terminal (first line), else prompted twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@main.group()
def users() -> None:
    """Users of the dashboards (roles kam, bid, director, admin).

    Example: echo 's3cret-pass' | tracker users add kari@example.no --role kam --name "Kari"
    """


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="kam, bid, director, admin")
@click.option("--name", default=None, help="Display name.")
def users_add(email: str, role: str, name: str | None) -> None:
    """Add a user; the password is read from stdin (or prompted twice on a terminal).

    Example: echo 's3cret-pass' | tracker users add kari@example.no --role kam --name "Kari"
    """
    password = _read_password()
    if not password:
        raise UserError("password: empty (give it on standard input or at the prompt)")
    with session_scope() as session:
        user = create_user(session, email, role, password, name=name)
        click.echo(f"added {user.email} ({user.role})")


@users.command("list")
def users_list() -> None:
    """List users with role and last login.

    Example: tracker users list
    """
    with session_scope() as session:
        for u in list_users(session):
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
            state = "" if u.active else " (inactive)"
            click.echo(f"{u.email}\t{u.role}\t{u.name or ''}\tlast login {last}{state}")


def _change(email: str, action: str) -> None:
    """Apply ``action`` (a tracker.users function name) to the user and say what happened."""
    from tracker import users as users_mod

    with session_scope() as session:
        user = users_mod.require_user(session, email)
        getattr(users_mod, action)(session, user)
        state = "active" if user.active else "disabled"
        click.echo(f"{user.email} ({user.role}, {state}): {action.replace('_', ' ')} done")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable a user at once: login refused, every session ended, API token and calendar
    URL revoked. The last active admin cannot be disabled.

    Example: tracker users disable kari@example.no
    """
    _change(email, "disable_user")


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled user log in again (API token and calendar URL must be made anew).

    Example: tracker users enable kari@example.no
    """
    _change(email, "enable_user")


@users.command("revoke-tokens")
@click.argument("email")
def users_revoke_tokens(email: str) -> None:
    """Revoke a user's API token and calendar URL (the user can make new ones).

    Example: tracker users revoke-tokens kari@example.no
    """
    _change(email, "revoke_tokens")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(email: str, role: str) -> None:
    """Change a user's role (kam, bid, director, admin); effective on their next request.

    Example: tracker users set-role kari@example.no director
    """
    from tracker.users import require_user, set_role

    with session_scope() as session:
        user = require_user(session, email)
        set_role(session, user, role)
        click.echo(f"{user.email}: role {user.role}")


@users.command("reset-password")
@click.argument("email")
@click.option("--generate", is_flag=True, help="Make a random password and print it once.")
def users_reset_password(email: str, generate: bool) -> None:
    """Set a new password (from stdin, the prompt, or --generate); every session of the
    user ends.

    Example: echo 'n3w-s3cret-pass' | tracker users reset-password kari@example.no
    """
    from tracker.users import generate_password, require_user, set_password

    password = generate_password() if generate else _read_password()
    if not password:
        raise UserError("password: empty (give it on standard input or at the prompt)")
    with session_scope() as session:
        user = require_user(session, email)
        set_password(session, user, password)
        click.echo(f"{user.email}: password changed, sessions ended")
    if generate:
        click.echo(f"new password (shown once): {password}")


WORKER_HEALTHCHECK_SECONDS = 60


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--trusted-proxies",
    default=None,
    metavar="IPS",
    help="Reverse proxies (IPs or networks, comma separated) whose X-Forwarded-For is "
    "believed; default: the trusted_proxies setting (none).",
)
def serve(host: str, port: int, workers: int, trusted_proxies: str | None) -> None:
    """Run the dashboards web app with uvicorn.

    Checks first (one line and exit code 2 if not): the configuration, the session
    secret (created here once, before the workers start) and that the database is
    migrated. Behind a reverse proxy, name it with --trusted-proxies so that the login
    limit counts each client, not the proxy.

    Example: tracker serve --host 127.0.0.1 --port 8000 --trusted-proxies 127.0.0.1
    """
    import os

    import uvicorn

    from tracker.config import session_secret
    from tracker.db.engine import get_engine
    from tracker.db.migrate import current_revision, head_revision

    if trusted_proxies is not None:
        os.environ["TRACKER_TRUSTED_PROXIES"] = trusted_proxies  # read by every worker
    settings = load_settings()
    settings.today()  # a bad TRACKER_TODAY: ConfigError, one line
    engine = get_engine(settings=settings)
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise ConfigError(
            f"the database {engine.url.render_as_string(hide_password=True)} is "
            f"{'not initialised' if current is None else f'at revision {current}'} "
            f"(code at {head}); run 'tracker db upgrade' first"
        )
    engine.dispose()
    session_secret(settings)  # made once here, before the workers start
    click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        "dashboards.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        log_level="info",
        # uvicorn's supervisor kills a worker that does not answer its health check within
        # 5 s; a cold director page on millions of notices can hold the interpreter longer
        # (bench/dashboard.py at 2 M notices lost a worker mid-request)
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
