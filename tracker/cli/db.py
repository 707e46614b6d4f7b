"""Database and configuration commands."""

from __future__ import annotations

import json

import click

from tracker.cli import main
from tracker.config import SETTINGS, load_settings
from tracker.db.engine import get_engine
from tracker.db.migrate import current_revision, upgrade


@main.group()
def db() -> None:
    """Database maintenance.

    Example: tracker db upgrade
    """


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (Alembic upgrade head) to the configured database.

    Example: TRACKER_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/tracker tracker db upgrade
    """
    engine = get_engine()
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@main.command("config")
@click.option("--markdown", is_flag=True, help="Print the table of keys for the README.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
def config_cmd(markdown: bool, fmt: str) -> None:
    """Show the configuration in force (secrets redacted) and where each value comes from.

    A table of key, value and source (env VARIABLE, file PATH or default);
    --format json for scripts.

    Example: tracker config
    """
    if markdown:
        click.echo("| key | environment | default | meaning |\n|---|---|---|---|")
        for s in SETTINGS:
            click.echo(f"| `{s.key}` | `{s.env}` | `{s.default}` | {s.help} |")
        return
    settings = load_settings()
    shown = settings.redacted()
    shown["database_url"] = settings.db_url if not settings.values.get("database_url") else "***"
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "config_file": str(settings.config_file),
                    "values": shown,
                    "sources": settings.sources,
                },
                indent=2,
                default=str,
            )
        )
        return
    rows = [
        (key, "" if value is None else str(value), settings.sources.get(key, ""))
        for key, value in shown.items()
    ]
    if settings.sources.get("database_url") == "default":
        rows = [
            (k, v, f"default (home {settings.home_path})" if k == "database_url" else src)
            for k, v, src in rows
        ]
    head = ("key", "value", "source")
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(2)]
    click.echo(f"config file: {settings.config_file or '(none)'}")
    click.echo(f"{head[0]:<{widths[0]}}  {head[1]:<{widths[1]}}  {head[2]}")
    click.echo(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * len(head[2])}")
    for key, value, source in rows:
        click.echo(f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}".rstrip())
