"""``tracker crawl doffin|ted|brreg``: harvest a source (runs the Scrapy spider)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import TextIO

import click
from sqlalchemy import Engine, func, select

from tracker.cli import main
from tracker.db.engine import get_engine, session_scope
from tracker.db.models import HarvestDay, Notice, Run
from tracker.enums import RunState
from tracker.ops.crawl import SPIDERS, run_crawl

log = logging.getLogger(__name__)
EXIT_CODES: dict[str, int] = {RunState.OK: 0, RunState.PARTIAL: 4, RunState.FAILED: 1}


class CrawlProgress:
    """Prints the progress of a crawl running in another process, read from the database
    every ``every`` seconds: days of the range harvested (day n of N) and notices stored
    since the start. A line is printed only when something changed."""

    def __init__(
        self,
        source: str,
        since: dt.date | None,
        until: dt.date | None,
        *,
        every: float = 5.0,
        out: TextIO | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.source, self.since, self.until, self.every = source, since, until, every
        self.out = out or sys.stderr
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[int, int] | None = None
        self._started = dt.datetime.now(dt.UTC)
        self._first_id = 0

    def _counts(self) -> tuple[int, int]:
        with session_scope(self.engine or get_engine()) as session:
            q = (
                select(func.count())
                .select_from(HarvestDay)
                .where(HarvestDay.source == self.source, HarvestDay.updated_at >= self._started)
            )
            if self.since:
                q = q.where(HarvestDay.day >= self.since)
            if self.until:
                q = q.where(HarvestDay.day <= self.until)
            days = session.scalar(q) or 0
            stored = (
                session.scalar(
                    select(func.count())
                    .select_from(Notice)
                    .where(Notice.source == self.source, Notice.id > self._first_id)
                )
                or 0
            )
        return days, stored

    def line(self) -> str | None:
        """The progress line, or None when nothing changed since the last one."""
        days, stored = self._counts()
        if (days, stored) == self._last:
            return None
        self._last = (days, stored)
        total = (self.until - self.since).days + 1 if self.since and self.until else None
        of = f"day {days} of {total}" if total else f"{days} day(s) done"
        return f"crawl {self.source}: {of}, {stored} notice(s) stored"

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                text = self.line()
            except Exception as exc:  # the database is busy or not there yet: next time
                log.debug("crawl progress not read: %s", exc)
                continue
            if text:
                print(text, file=self.out, flush=True)

    def __enter__(self) -> CrawlProgress:
        if self.source in ("doffin", "ted"):
            try:
                with session_scope(self.engine or get_engine()) as session:
                    self._first_id = session.scalar(select(func.max(Notice.id))) or 0
                self._last = (0, 0)
            except Exception:  # no schema yet: the crawl itself reports that
                return self
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


@main.command()
@click.argument("source", type=click.Choice(SPIDERS))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: resume).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: today).")
@click.option("--refresh", is_flag=True, help="Download notices / look up orgnrs already stored.")
@click.option(
    "--config",
    "sites_config",
    type=click.Path(exists=True, dir_okay=False),
    help="agreements only: YAML file of agreement pages (one entry per site).",
)
@click.option(
    "-s",
    "--setting",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Scrapy setting override (repeatable), e.g. -s DOWNLOAD_DELAY=1.",
)
@click.option(
    "--scrapyd",
    "scrapyd_nodes",
    metavar="URL[,URL...]",
    help="Backfill --since..--until in day slices across these Scrapyd nodes.",
)
@click.option("--slice-days", default=1, show_default=True, help="Days per Scrapyd job.")
@click.option("--per-node", default=2, show_default=True, help="Jobs at a time per Scrapyd node.")
@click.option(
    "--deploy/--no-deploy",
    default=True,
    show_default=True,
    help="Upload the spiders (an egg) to every node first.",
)
def crawl(
    source: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    refresh: bool,
    sites_config: str | None,
    settings: tuple[str, ...],
    scrapyd_nodes: str | None,
    slice_days: int,
    per_node: int,
    deploy: bool,
) -> None:
    """Harvest SOURCE (doffin, ted, brreg or agreements) into the database.

    Without --since the harvest resumes from the last fully harvested day minus two
    days; failed notices of earlier runs are retried. brreg enriches every buyer and
    winner not yet looked up. The run is recorded with its counts.

    agreements reads the agreement overview pages listed in --config FILE.

    Exit code: 0 ok; 4 partial (notices that could not be fetched, or days whose listing
    stayed incomplete: the next run takes them again); 1 failed (no request got a usable
    answer, or the crawl stopped); 2 not started (e.g. no DOFFIN_API_KEY).

    With --scrapyd URL[,URL...] the days --since..--until are cut into slices of
    --slice-days and scheduled across the Scrapyd nodes (schedule.json, followed with
    listjobs.json); every node stores into the same database (its own
    TRACKER_DATABASE_URL). A slice whose job ends with days incomplete, or whose node
    stops answering, is scheduled again on another node (at most 3 times). Exit code:
    0 every slice complete, 4 some given up. See docs/deploy.md.

    Example: tracker crawl doffin --since 2024-01-01 --until 2024-01-31

    Example: tracker crawl doffin_archive --since 2024-01-01 --until 2024-12-31
    --scrapyd http://10.0.0.11:6800,http://10.0.0.12:6800
    """
    overrides = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="-s")
        overrides[name] = value
    if scrapyd_nodes:
        _scrapyd(source, since, until, scrapyd_nodes, slice_days, per_node, deploy, overrides)
        return
    args: dict[str, str | None] = {"refresh": "1" if refresh else None}
    if source == "agreements":
        if not sites_config:
            raise click.UsageError("tracker crawl agreements needs --config FILE (YAML of sites)")
        args = {"config": str(Path(sites_config).resolve())}
    elif source != "brreg":
        args["since"] = since.date().isoformat() if since else None
        args["until"] = until.date().isoformat() if until else None
    with CrawlProgress(
        source,
        since.date() if since else None,
        (until.date() if until else dt.date.today()) if since else None,
    ):
        result = run_crawl(source, args, overrides)
    summary = f"crawl {source}: exit {result.exit_code}"
    error = None
    if result.run_id is not None:
        with session_scope(get_engine()) as session:
            run = session.get(Run, result.run_id)
            if run is not None:
                counts = " ".join(f"{k}={v}" for k, v in sorted((run.counts or {}).items()))
                summary += f", run {run.id} {run.outcome}: {counts}"
                error = (run.error or "").strip().splitlines()[-1:] or None
    click.echo(summary)
    if error and result.outcome != RunState.OK:
        click.echo(f"{result.outcome}: {error[0]}", err=True)
    if result.exit_code:
        sys.exit(result.exit_code)
    sys.exit(EXIT_CODES.get(result.outcome or RunState.FAILED, 1))


def _scrapyd(
    source: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    nodes_arg: str,
    slice_days: int,
    per_node: int,
    deploy: bool,
    overrides: dict[str, str],
) -> None:
    import tempfile

    from tracker.ops.crawl import SPIDER_SOURCES, CrawlError, backfill_on_scrapyd, build_egg

    if source not in SPIDER_SOURCES:
        raise click.UsageError(f"--scrapyd: only {', '.join(SPIDER_SOURCES)} run on Scrapyd")
    if since is None or until is None:
        raise click.UsageError("--scrapyd backfills a period: give --since and --until")
    nodes = [u.strip() for u in nodes_arg.split(",") if u.strip()]
    bad = [u for u in nodes if not u.startswith(("http://", "https://"))]
    if bad or not nodes:
        raise click.BadParameter(
            f"{', '.join(bad) or nodes_arg!r}: expected http(s) URLs", param_hint="--scrapyd"
        )
    version = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    with tempfile.TemporaryDirectory(prefix="tracker-egg-") as tmp:
        egg = build_egg(Path(tmp), version) if deploy else None
        try:
            result = backfill_on_scrapyd(
                nodes,
                source,
                since.date(),
                until.date(),
                engine=get_engine(),
                slice_days=slice_days,
                per_node=per_node,
                settings=overrides,
                egg=egg,
                version=version,
                log=click.echo,
            )
        except CrawlError as exc:
            click.echo(f"failed: {exc}", err=True)
            sys.exit(1)
    done = sum(1 for s in result.slices if s.done)
    click.echo(
        f"crawl {source} on {len(nodes)} Scrapyd node(s): {done} of {len(result.slices)} "
        f"slice(s) complete, {result.rescheduled} scheduled again"
        + (f", nodes lost: {', '.join(result.dead_nodes)}" if result.dead_nodes else "")
    )
    sys.exit(0 if result.ok else 4)


@main.command("crawl-failures")
@click.argument("source", required=False, type=click.Choice(SPIDERS))
def crawl_failures(source: str | None) -> None:
    """List notices and register lookups that could not be fetched (retried next crawl).

    Example: tracker crawl-failures doffin
    """
    from tracker.notices.harvest import failure_list

    with session_scope(get_engine()) as session:
        rows = failure_list(session, source)
    for row in rows:
        day = f" (issue day {row['day']})" if row["day"] else ""
        click.echo(
            f"{row['source']} {row['source_id']}{day}: {row['reason']} "
            f"[{row['attempts']} attempt(s)]"
        )
    click.echo(f"{len(rows)} open failure(s)")
