"""The crawl's database side for the spiders: they open no database session themselves.

Two extensions, both enabled in ``EXTENSIONS`` (in the manner of kingfisher-collect's
``DatabaseStore``, which keeps storage and resume state out of the spiders):

- ``HarvestState`` (``crawler.harvest_state``) answers what a spider asks before and
  while it crawls: which days and open failures to take (``plan``), which listed ids are
  stored already (``stored_ids``), which organisation numbers to look up
  (``orgnrs_to_look_up``). It also keeps what became of each id in this crawl
  (``outcomes``), which the store pipelines write and the day check reads.
- ``CrawlRun`` (``crawler.crawl_run``) records the crawl as a run: started when the
  spider opens (or earlier, when a pipeline asks for ``run_id``), finished when it
  closes with the counts the pipelines left in the crawl stats under ``run/``.

The writes of items (notices, failures, days, register records, agreements) are the
pipelines' (``spiders.pipelines``).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals

from spiders.exceptions import MissingExtension
from spiders.secret import Secret
from tracker.accounts import registry
from tracker.db.engine import get_engine, session_scope
from tracker.notices import harvest
from tracker.rules import Rules, load_rules, parse_rules

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_DAYS = 7
# Counts every run of a source spider has, zero when nothing happened.
RUN_COUNTS = ("failures", "days_complete", "days_incomplete", "days_open")


def crawl_today(value: str | None) -> dt.date:
    """The date the crawl treats as today (TRACKER_TODAY, else the UTC date)."""
    return dt.date.fromisoformat(value) if value else dt.datetime.now(dt.UTC).date()


def database_url(settings: Any) -> str:
    """``TRACKER_DATABASE_URL`` of the crawl settings (a ``Secret``: it may hold a password)."""
    value = settings.get("TRACKER_DATABASE_URL")
    return str(value.reveal() or "") if isinstance(value, Secret) else str(value)


def crawl_rules(settings: Any) -> Rules:
    """The rules the crawl derives contracts with.

    ``TRACKER_RULES_TOML`` is a rules file's text, passed by ``tracker crawl --scrapyd``
    so that every node derives as the machine that scheduled it does (empty: the
    shipped defaults); without it, the rules file this machine's configuration names.
    """
    text = settings.get("TRACKER_RULES_TOML")
    if text is None:
        return load_rules()
    return parse_rules(str(text), "setting TRACKER_RULES_TOML (the crawl's rules)")


def enabled(crawler: Crawler, name: str) -> Any:
    """The extension a crawler carries as ``name`` (``harvest_state``, ``crawl_run``)."""
    extension = getattr(crawler, name, None)
    if extension is None:
        raise MissingExtension(f"crawler.{name}: its extension is not enabled (EXTENSIONS)")
    return extension


def harvest_state(crawler: Crawler) -> HarvestState:
    """The crawler's ``HarvestState`` (enabled in ``EXTENSIONS``)."""
    state: HarvestState = enabled(crawler, "harvest_state")
    return state


def crawl_engine(crawler: Crawler) -> Engine:
    """The crawl's engine (one per database URL in the process, ``tracker.db.engine``)."""
    return get_engine(database_url(crawler.settings))


class HarvestState:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self._engine: Engine | None = None
        # source id -> what became of it in this crawl: new, updated, unchanged or
        # failed (written by the store pipelines, read when a day is checked).
        self.outcomes: dict[str, str] = {}
        # Scrapy's Crawler declares no such attribute; spiders and pipelines read it.
        crawler.harvest_state = self  # type: ignore[attr-defined]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HarvestState:
        return cls(crawler)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = crawl_engine(self.crawler)
        return self._engine

    def plan(
        self,
        source: str,
        since: dt.date | None,
        until: dt.date | None,
        today: dt.date,
        failures: str = "all",
    ) -> tuple[list[dt.date], list[tuple[str, dict[str, Any]]]]:
        """Days to list (planned in ``harvest_days``) and open failures to retry.

        ``since`` None: resume from the harvest state (else the last week). ``failures``:
        ``all`` open failures of the source, ``window`` only those of the days listed
        (a day slice on a Scrapyd node retries its own days only, so two slices never
        fetch the same failure), ``none``.
        """
        with session_scope(self.engine) as session:
            start = since or harvest.resume_day(session, source)
            if start is None:
                start = today - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)
                logger.info("no harvest state for %s: starting %s", source, start)
            end = min(until or today, today)
            days = harvest.day_range(start, end) if start <= end else []
            harvest.plan_days(session, source, days)
            retry: list[tuple[str, dict[str, Any]]] = []
            if failures != "none":
                wanted = {d.isoformat() for d in days}
                for f in harvest.open_failures(session, source):
                    meta = dict(f.meta or {})
                    if failures == "all" or meta.get("day") in wanted:
                        retry.append((f.source_id, meta))
        return days, retry

    def stored_ids(self, source: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored as notices of ``source``."""
        with session_scope(self.engine) as session:
            return harvest.stored_source_ids(session, source, ids)

    def orgnrs_to_look_up(self, orgnrs: list[str], refresh: bool) -> tuple[list[str], set[str]]:
        """(numbers to look up, numbers already enriched) for the register spider.

        ``orgnrs`` given: those; else the buyers and winners not enriched yet (all of them
        with ``refresh``). The enriched set is empty with ``refresh`` (look them up again).
        """
        with session_scope(self.engine) as session:
            wanted = orgnrs or registry.orgnrs_to_enrich(session, refresh)
            enriched = set() if refresh else registry.enriched_orgnrs(session)
        return wanted, enriched


class CrawlRun:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.run_id_file = crawler.settings.get("TRACKER_RUN_ID_FILE")
        self._run_id: int | None = None
        # Scrapy's Crawler declares no such attribute; the pipelines read it.
        crawler.crawl_run = self  # type: ignore[attr-defined]
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRun:
        return cls(crawler)

    @property
    def recorded(self) -> bool:
        """Only the spiders of a source (``tracker_source``) are recorded as runs."""
        return bool(getattr(self.crawler.spider, "tracker_source", None))

    @property
    def run_id(self) -> int | None:
        """The run of this crawl, started on first use (None: not a source spider)."""
        if self._run_id is None and self.recorded:
            spider = self.crawler.spider
            assert spider is not None
            run_args = spider.run_args() if hasattr(spider, "run_args") else {}
            with session_scope(crawl_engine(self.crawler)) as session:
                self._run_id = harvest.start_run(session, spider.name, run_args)
            if self.run_id_file:
                Path(self.run_id_file).write_text(str(self._run_id), encoding="utf-8")
        return self._run_id

    def spider_opened(self, spider: Spider) -> None:
        self.run_id  # noqa: B018 - starts the run when no pipeline has yet

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self._run_id is None:
            return
        stats = self.crawler.stats
        assert stats is not None
        counts = run_counts(stats, getattr(spider, "counts_responses", False))
        outcome = harvest.crawl_outcome(
            reason,
            counts["failures"] + counts.get("derive_errors", 0),
            days_incomplete=counts["days_incomplete"],
            requests=counts["requests"],
            ok_responses=counts.get("ok_responses"),
        )
        error = run_error(reason, outcome, counts, stats.get_value("tracker/derive_error"))
        with session_scope(crawl_engine(self.crawler)) as session:
            harvest.finish_run(session, self._run_id, counts, outcome, error)
        logger.info("crawl run %s: %s %s", self._run_id, outcome, counts)


def run_counts(stats: StatsCollector, counts_responses: bool) -> dict[str, Any]:
    """The counts of a run: requests and 429s, then what the pipelines counted (``run/``),
    then the listing counts of the spiders that count their responses."""
    counts: dict[str, Any] = {
        "requests": stats.get_value("downloader/request_count", 0),
        "rate_limited": stats.get_value("pacing/429", 0),
    }
    counts.update({name: stats.get_value(f"run/{name}", 0) for name in RUN_COUNTS})
    for key, value in stats.get_stats().items():
        if key.startswith("run/") and key[4:] not in counts:
            counts[key[4:]] = value
    if counts_responses:
        counts["ok_responses"] = stats.get_value("tracker/ok_responses", 0)
        counts["relisted"] = stats.get_value("listing/relisted", 0)
        counts["short_listings"] = stats.get_value("listing/short_slices", 0)
    return counts


def run_error(
    reason: str, outcome: str, counts: dict[str, Any], derive_error: str | None
) -> str | None:
    """What went wrong in a run, in a sentence (None: nothing)."""
    error = None if reason == "finished" else f"crawl ended: {reason}"
    if reason == "finished" and outcome == "failed":
        error = f"no request got a usable answer ({counts['requests']} made)"
    problems = [derive_error] if derive_error else []
    if counts["days_incomplete"]:
        problems.append(f"{counts['days_incomplete']} day(s) incomplete")
    if problems and error is None:
        error = "; ".join(problems)
    return error
