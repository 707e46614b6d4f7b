"""The ``tracker`` command line: a thin layer over the library.

Each area has its own module in this package (``tracker/cli/<area>.py``) that defines
click commands and registers them on ``main`` with ``@main.command()`` or
``main.add_command``; every module here is imported on start, so adding a file is
enough to add commands. Each command's docstring is its ``--help`` with an example.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tracker.errors import TrackerError


def _missing_schema(exc: DBAPIError) -> bool:
    """True when the database has not been migrated (a table does not exist)."""
    text = str(exc.orig).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _database_shown() -> str:
    """The configured database URL without its password (or a placeholder)."""
    from tracker.config import load_settings

    try:
        return make_url(load_settings().db_url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL or config: never echo it back raw
        return "(the configured database)"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class TrackerGroup(click.Group):
    """Turns TrackerError, an unreachable or unmigrated database into one line, exit code 2
    (the traceback only with -vv)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (OperationalError, InterfaceError, DBAPIError) as exc:
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                raise
            orig = getattr(exc, "orig", None) or exc
            if _missing_schema(exc):
                click.echo(
                    f"error: the database {_database_shown()} is not initialised "
                    f"({_first_line(orig)}); run 'tracker db upgrade' first",
                    err=True,
                )
            elif isinstance(exc, OperationalError | InterfaceError):
                click.echo(
                    f"error: cannot use the database {_database_shown()}: {_first_line(orig)}",
                    err=True,
                )
            else:
                raise
            sys.exit(2)


@click.group(cls=TrackerGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Public-tender intelligence and influence tracker.

    Example: tracker ingest tests/fixtures/notices/doffin-real
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )


def _load_command_modules() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_load_command_modules()
