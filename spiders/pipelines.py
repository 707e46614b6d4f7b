"""The one pipeline: stores items through ``tracker`` and records the crawl run.

- ``NoticeItem`` → ``tracker.notices.ingest.Ingestor.add`` (the same parser and store as
  ``tracker ingest``); the ingestor is opened in ``open_spider``, flushed at every
  day boundary (``HarvestDayItem``) and closed in ``close_spider``.
- ``HarvestDayItem`` → flush, then ``tracker.notices.harvest.record_day``: a day is complete
  only once every listed notice is stored (committed).
- ``FetchFailureItem`` → ``tracker.notices.harvest.record_failure`` (retried next run);
  failures of notices stored now are resolved after the flush that stored them.
- ``RegisterItem`` → ``tracker.accounts.registry.apply_register_record``.

Items of other spiders (for example ``agreements``) pass through untouched.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy import Spider, signals

from spiders.items import FetchFailureItem, HarvestDayItem, NoticeItem, RegisterItem
from spiders.secret import Secret
from tracker.accounts import registry
from tracker.db.engine import get_engine, session_scope
from tracker.notices import harvest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

STORED = ("new", "updated", "unchanged")


def crawl_today(value: str | None) -> dt.date:
    """The date the crawl treats as today (TRACKER_TODAY, else the UTC date)."""
    return dt.date.fromisoformat(value) if value else dt.datetime.now(dt.UTC).date()


def database_url(settings: Any) -> str:
    value = settings.get("TRACKER_DATABASE_URL")
    return value.reveal() if isinstance(value, Secret) else str(value)


class TrackerPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.db_url = database_url(crawler.settings)
        self.run_id_file = crawler.settings.get("TRACKER_RUN_ID_FILE")
        self.today = crawl_today(crawler.settings.get("TRACKER_TODAY"))
        self.source: str | None = None
        self.run_id: int | None = None
        self.ing: Any = None
        self.outcomes: dict[str, str] = {}
        self.to_resolve: list[str] = []
        self.pending: list[tuple[Any, str, str, str, dt.date | None, dict[str, Any]]] = []
        # days_open: every listed notice stored, but the day is not over (today).
        self.counts: dict[str, int] = {
            "failures": 0,
            "days_complete": 0,
            "days_incomplete": 0,
            "days_open": 0,
        }
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TrackerPipeline:
        return cls(crawler)

    # ------------------------------------------------------------------ lifecycle

    def open_spider(self) -> None:
        spider = self.crawler.spider
        assert spider is not None
        self.source = getattr(spider, "tracker_source", None)
        if self.source is None:
            return
        self.engine = get_engine(self.db_url)
        run_args = spider.run_args() if hasattr(spider, "run_args") else {}
        with session_scope(self.engine) as session:
            self.run_id = harvest.start_run(session, spider.name, run_args)
        spider.run_id = self.run_id  # type: ignore[attr-defined]
        if self.run_id_file:
            Path(self.run_id_file).write_text(str(self.run_id), encoding="utf-8")
        if self.source in ("doffin", "ted"):
            from tracker.notices.ingest import Ingestor

            self.ing = Ingestor(self.engine, source=self.source, run_id=self.run_id)
            self.ing.__enter__()

    def close_spider(self) -> None:
        if self.ing is not None:
            try:
                self._flush()
                self.ing.derive_pending()  # notices whose derivation failed earlier
            finally:
                self.ing.__exit__(None, None, None)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats
        assert stats is not None
        counts: dict[str, Any] = {
            "requests": stats.get_value("downloader/request_count", 0),
            "rate_limited": stats.get_value("pacing/429", 0),
            **self.counts,
        }
        problems = []
        if self.ing is not None:
            ing_counts = dict(self.ing.counts)
            counts.update({k: ing_counts.get(k, 0) for k in ("new", "updated", "unchanged")})
            counts["ingest_failed"] = ing_counts.get("failed", 0)
            if self.ing.derive_errors:
                counts["derive_errors"] = len(self.ing.derive_errors)
                problems.append(self.ing.derive_errors[0])
        if getattr(spider, "counts_responses", False):
            counts["ok_responses"] = stats.get_value("tracker/ok_responses", 0)
            counts["relisted"] = stats.get_value("listing/relisted", 0)
            counts["short_listings"] = stats.get_value("listing/short_slices", 0)
        outcome = harvest.crawl_outcome(
            reason,
            self.counts["failures"] + counts.get("derive_errors", 0),
            days_incomplete=self.counts["days_incomplete"],
            requests=counts["requests"],
            ok_responses=counts.get("ok_responses"),
        )
        error = None if reason == "finished" else f"crawl ended: {reason}"
        if reason == "finished" and outcome == "failed":
            error = f"no request got a usable answer ({counts['requests']} made)"
        if self.counts["days_incomplete"]:
            problems.append(f"{self.counts['days_incomplete']} day(s) incomplete")
        if problems and error is None:
            error = "; ".join(problems)
        with session_scope(self.engine) as session:
            harvest.finish_run(session, self.run_id, counts, outcome, error)
        logger.info("crawl run %s: %s %s", self.run_id, outcome, counts)

    # ------------------------------------------------------------------ items

    def process_item(self, item: Any) -> Any:
        if self.source is None:
            return item
        adapter = ItemAdapter(item)
        if isinstance(item, NoticeItem):
            self._notice(adapter)
        elif isinstance(item, FetchFailureItem):
            self._failure(
                adapter["source"],
                adapter["source_id"],
                adapter["reason"],
                adapter["day"],
                adapter["meta"],
            )
        elif isinstance(item, HarvestDayItem):
            self._day(adapter)
        elif isinstance(item, RegisterItem):
            with session_scope(self.engine) as session:
                registry.apply_register_record(
                    session, adapter["orgnr"], adapter["kind"], adapter["record"]
                )
                harvest.resolve_failures(session, "brreg", [adapter["orgnr"]], self.today)
            self.counts[f"register_{adapter['kind']}"] = (
                self.counts.get(f"register_{adapter['kind']}", 0) + 1
            )
        return item

    def _notice(self, adapter: ItemAdapter) -> None:
        outcome = self.ing.add(
            adapter["xml"],
            location=adapter["url"],
            source_id=adapter["source_id"],
            source_meta=adapter["meta"],
        )
        # Outcomes are final once the ingestor has flushed (see _flush).
        self.pending.append(
            (
                outcome,
                adapter["source"],
                adapter["source_id"],
                adapter["url"],
                adapter["day"],
                adapter["meta"],
            )
        )

    def _failure(
        self, source: str, source_id: str, reason: str, day: dt.date | None, meta: dict[str, Any]
    ) -> None:
        meta = dict(meta or {})
        if day is not None:
            meta["day"] = day.isoformat()
        with session_scope(self.engine) as session:
            harvest.record_failure(session, source, source_id, reason, meta)
        self.outcomes[source_id] = "failed"
        self.counts["failures"] += 1
        logger.warning("%s %s failed: %s", source, source_id, reason)

    def _flush(self) -> None:
        self.ing.flush()
        pending, self.pending = self.pending, []
        for outcome, source, source_id, url, day, meta in pending:
            self.outcomes[source_id] = outcome.status
            if outcome.status in STORED:
                self.to_resolve.append(source_id)
            else:
                reason = f"not stored: {outcome.reason or outcome.status}"
                self._failure(source, source_id, reason, day, {**meta, "url": url})
        if self.to_resolve:
            with session_scope(self.engine) as session:
                harvest.resolve_failures(session, self.source or "", self.to_resolve, self.today)
            self.to_resolve.clear()

    def _day(self, adapter: ItemAdapter) -> None:
        self._flush()
        day: dt.date = adapter["day"]
        ids: tuple[str, ...] = adapter["ids"]
        if not adapter["listed"]:
            self.counts["days_incomplete"] += 1
            logger.warning("%s %s: listing incomplete, left for the next run", self.source, day)
            return
        done = {i for i in ids if self.outcomes.get(i) in STORED} | set(adapter["skipped"])
        rest = [i for i in ids if i not in done and self.outcomes.get(i) != "failed"]
        with session_scope(self.engine) as session:
            stored = len(done) + len(harvest.stored_source_ids(session, self.source or "", rest))
            complete = harvest.record_day(
                session, self.source or "", day, len(ids), stored, self.today
            )
        if complete:
            self.counts["days_complete"] += 1
        elif stored >= len(ids) and day >= self.today:
            self.counts["days_open"] += 1  # nothing missing; the day is not over yet
        else:
            self.counts["days_incomplete"] += 1
