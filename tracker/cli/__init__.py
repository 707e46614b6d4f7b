"""The ``tracker`` command line: a thin layer over the library.

Each area has its own module in this package (``tracker/cli/<area>.py``) that defines
click commands and registers them on ``main`` with ``@main.command()`` or
``main.add_command``; every module here is imported on start, so adding a file is
enough to add commands. Each command's docstring is its ``--help`` with an example.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import re
import sys

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tracker.errors import TrackerError
from tracker.ops.runtime import tune_gc


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


class RedactURLs(logging.Filter):
    """Keeps URL paths and queries of HTTP client logs out of every log line: httpx logs
    each request's URL at INFO (-v), and a webhook URL is a secret (its path is the key)."""

    _url = re.compile(r"(https?://[^/\s\"'<>]+)[^\s\"'<>]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in ("httpx", "httpcore", "urllib3"):
            record.msg = self._url.sub(r"\1/***", record.getMessage())
            record.args = ()
        return True


@click.group(cls=TrackerGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Public-tender intelligence and influence tracker.

    Example: tracker ingest tests/fixtures/notices/doffin-real
    """
    # Everything the command (and a crawl it starts) creates is private to its owner:
    # database, WAL, backups, secrets (0600 files, 0700 folders); restored afterwards.
    previous = os.umask(0o077)
    ctx.call_on_close(lambda: os.umask(previous))
    tune_gc()  # ingest, derive and recompute allocate millions of short-lived objects
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactURLs) for f in handler.filters):
            handler.addFilter(RedactURLs())


def _load_command_modules() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_load_command_modules()
