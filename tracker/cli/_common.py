"""Helpers shared by the command modules (not a command module itself)."""

from __future__ import annotations

import datetime as dt

import click

from tracker.config import load_settings


def resolve_today(value: str | None) -> dt.date:
    """``--today`` if given, else the configured ``today`` (TRACKER_TODAY), else the real date."""
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(
                f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--today"
            ) from exc
    return load_settings().today()
