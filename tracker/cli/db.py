"""Database and configuration commands."""

from __future__ import annotations

import json

import click

from tracker.cli import main
from tracker.config import SETTINGS, load_settings
from tracker.db import get_engine
from tracker.migrate import current_revision, upgrade


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
def config_cmd(markdown: bool) -> None:
    """Show the configuration in force (secrets redacted) and where each value comes from.

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
