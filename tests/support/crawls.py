"""Crawls over HTTP on 127.0.0.1 for the spider tests: a replay server per test, Scrapy in
a subprocess, and what a crawl left in the database.

Each crawl runs ``python -m scrapy crawl`` through ``tracker.ops.crawl.run_crawl`` (a fresh
process, so the Twisted reactor is never reused), against the replay server of the
test and the test's database. Delays, timeouts and backoff are scaled down (``FAST``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.replay import DoffinRecord, Faults, ReplayServer, replay_env, serve_in_thread
from tracker.db.models import FetchFailure, HarvestDay, Notice, Run
from tracker.ops.crawl import CrawlResult, run_crawl

FAST = {
    "DOWNLOAD_DELAY": "0.01",
    "PACING_MIN_DELAY": "0.01",
    "PACING_PROBE_FACTOR": "0.9",
    "PACING_CEILING_PROBE_SECONDS": "0.5",
    "PACING_CEILING_STEP": "1.5",
    "DOWNLOAD_TIMEOUT": "1",
    "RETRY_TIMES": "3",
    "RETRY_BACKOFF_BASE": "0.05",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "4",
    "LOG_LEVEL": "INFO",
}


class Replay:
    """A replay server plus a crawl runner bound to the test's database."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.server: ReplayServer | None = None

    def start(self, faults: Faults | None = None, notices: list[DoffinRecord] | None = None) -> str:
        self.stop()
        self.server, base = serve_in_thread(0, faults, notices)
        return base

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def stats(self) -> dict[str, Any]:
        assert self.server is not None
        return self.server.state.snapshot()

    def proc_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        assert self.server is not None
        # A key of the test's own: the Doffin spider refuses to start without one (the
        # replay server checks it only when a test sets Faults.require_key).
        env = {**os.environ, "DOFFIN_API_KEY": "replay-test-key"}
        env.update(self.env)
        env.update(replay_env(self.server.base_url))
        env.update(extra or {})
        return env

    def crawl(
        self,
        spider: str,
        settings: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        **args: str | None,
    ) -> CrawlResult:
        return run_crawl(
            spider, args, {**FAST, **(settings or {})}, env=self.proc_env(env), timeout=120
        )


def source_ids(engine: Engine, source: str = "doffin") -> list[str]:
    with Session(engine) as s:
        return sorted(
            s.scalars(select(Notice.source_id).where(Notice.source == source)).all()  # type: ignore[arg-type]
        )


def open_failures(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        return {
            f.source_id: f.reason
            for f in s.scalars(select(FetchFailure).where(FetchFailure.resolved.is_(False)))
        }


def days(engine: Engine, source: str = "doffin") -> dict[str, HarvestDay]:
    with Session(engine, expire_on_commit=False) as s:
        return {
            d.day.isoformat(): d
            for d in s.scalars(select(HarvestDay).where(HarvestDay.source == source))
        }


def run_row(engine: Engine, run_id: int | None) -> Run:
    assert run_id is not None, "the crawl recorded no run"
    with Session(engine, expire_on_commit=False) as s:
        run = s.get(Run, run_id)
        assert run is not None
        return run


Check = Callable[..., None]


def sqlite_only(db_url: str) -> None:
    """Backend-independent crawl checks run once, on SQLite (each crawl costs seconds)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("backend-independent: runs on SQLite only")
