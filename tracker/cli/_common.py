"""Helpers shared by the command modules (not a command module itself)."""

from __future__ import annotations

import datetime as dt

import click

from tracker.config import Settings, load_settings


def resolve_today(value: str | None, settings: Settings | None = None) -> dt.date:
    """``--today`` if given, else the configured ``today`` (TRACKER_TODAY) of ``settings``
    (the command's; else read now), else the real date: ``Settings.today`` is the one
    "today" of the tracker."""
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(
                f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--today"
            ) from exc
    return (settings or load_settings()).today()
