"""Item pipelines with one job each, in the order of ``ITEM_PIPELINES``.

As in kingfisher-collect: spiders only yield items (``spiders.items``); these check,
normalise and store them, one kind per store pipeline, through ``tracker``:

1. ``Validate``: drops what is not one of ``ITEM_KINDS`` or fails its checks.
2. ``Normalise``: a failure's issue day into its meta (where the next run reads it).
3. ``StoreFailures``: ``FetchFailureItem`` → ``tracker.notices.harvest.record_failure``
   (retried next run).
4. ``StoreNotices``: ``NoticeItem`` → ``tracker.notices.ingest.Ingestor.add`` (the same
   parser and store as ``tracker ingest``). The ingestor is opened with the spider,
   flushed when a ``HarvestDayItem`` passes (a day boundary) and closed with the
   spider; after each flush the failures of the notices stored are resolved and the
   notices not stored are recorded as failures.
5. ``CloseDays``: ``HarvestDayItem`` → ``tracker.notices.harvest.record_day``: a day is
   complete only once every listed notice is stored (committed).
6. ``StoreRegister``: ``RegisterItem`` → ``tracker.accounts.registry.apply_register_record``.
7. ``StoreAgreements``: ``AgreementItem`` → ``tracker.contracts.agreements`` (in batches).

The crawl's shared state comes from the extensions (``spiders.extensions``): the
engine and what became of each id (``HarvestState.outcomes``), the run id
(``CrawlRun``). Counts for the run go to the crawl stats under ``run/``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from spiders.exceptions import InvalidItem
from spiders.extensions import (
    crawl_engine,
    crawl_rules,
    crawl_today,
    database_url,
    enabled,
    harvest_state,
)
from spiders.items import (
    ITEM_KINDS,
    NOTICE_SOURCES,
    AgreementItem,
    FetchFailureItem,
    HarvestDayItem,
    NoticeItem,
    RegisterItem,
)
from tracker.accounts import registry
from tracker.db.engine import get_engine, session_scope
from tracker.notices import harvest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy import Engine

    from spiders.extensions import HarvestState
    from tracker.notices.ingest import Ingestor, IngestOutcome

logger = logging.getLogger(__name__)

STORED = ("new", "updated", "unchanged")


def failure_meta(day: dt.date | None, meta: dict[str, Any] | None) -> dict[str, Any]:
    """A failure's meta as stored: the item's meta plus its issue day (ISO)."""
    out = dict(meta or {})
    if day is not None:
        out["day"] = day.isoformat()
    return out


def record_failure(
    state: HarvestState,
    stats: StatsCollector,
    failure: tuple[str, str, str],
    meta: dict[str, Any],
) -> None:
    """Record ``(source, source_id, reason)`` as an open fetch failure of this crawl."""
    source, source_id, reason = failure
    with session_scope(state.engine) as session:
        harvest.record_failure(session, source, source_id, reason, meta)
    state.outcomes[source_id] = "failed"
    stats.inc_value("run/failures")
    logger.warning("%s %s failed: %s", source, source_id, reason)


class Validate:
    """Drops an item that is none of ``spiders.items.ITEM_KINDS`` or fails its checks
    (items validate where they are built; this catches one changed since)."""

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ITEM_KINDS):
            raise DropItem(f"not an item of spiders.items: {type(item).__name__}")
        try:
            item.validate()
        except InvalidItem as exc:
            raise DropItem(str(exc)) from exc
        return item


class Normalise:
    """Puts a failure's issue day into its meta (``failure_meta``), where the next run
    reads which day a failure belongs to (``-a failures=window``)."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchFailureItem):
            item.meta = failure_meta(item.day, item.meta)
        return item


class StoreFailures:
    """Records a ``FetchFailureItem`` as an open fetch failure (retried next run)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreFailures:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchFailureItem):
            assert self.crawler.stats is not None
            failure = (item.source, item.source_id, item.reason)
            record_failure(harvest_state(self.crawler), self.crawler.stats, failure, item.meta)
        return item


class StoreNotices:
    """Ingests ``NoticeItem``s of a notice source; a ``HarvestDayItem`` is a flush point.

    Outcomes are final once the ingestor has flushed: then the failures of the notices
    stored are resolved, and a notice not stored becomes a failure of its own.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.today = crawl_today(crawler.settings.get("TRACKER_TODAY"))
        self.source = ""
        self.ing: Ingestor | None = None
        self.pending: list[tuple[IngestOutcome, NoticeItem]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreNotices:
        return cls(crawler)

    def open_spider(self) -> None:
        self.source = getattr(self.crawler.spider, "tracker_source", "") or ""
        if self.source not in NOTICE_SOURCES:
            return
        from tracker.notices.ingest import Ingestor

        run_id = enabled(self.crawler, "crawl_run").run_id
        rules = crawl_rules(self.crawler.settings)
        self.ing = Ingestor(
            crawl_engine(self.crawler), source=self.source, run_id=run_id, rules=rules
        )
        self.ing.__enter__()

    def close_spider(self) -> None:
        if self.ing is None:
            return
        try:
            self.flush()
            self.ing.derive_pending()  # notices whose derivation failed earlier
        finally:
            self.ing.__exit__(None, None, None)
        self._count(self.ing)

    def process_item(self, item: Any) -> Any:
        if self.ing is None:
            return item
        if isinstance(item, NoticeItem):
            outcome = self.ing.add(
                item.xml, location=item.url, source_id=item.source_id, source_meta=item.meta
            )
            self.pending.append((outcome, item))
        elif isinstance(item, HarvestDayItem):
            self.flush()
        return item

    def flush(self) -> None:
        assert self.ing is not None and self.crawler.stats is not None
        self.ing.flush()
        state = harvest_state(self.crawler)
        pending, self.pending = self.pending, []
        stored: list[str] = []
        for outcome, item in pending:
            state.outcomes[item.source_id] = outcome.status
            if outcome.status in STORED:
                stored.append(item.source_id)
                continue
            reason = f"not stored: {outcome.reason or outcome.status}"
            meta = failure_meta(item.day, {**item.meta, "url": item.url})
            record_failure(state, self.crawler.stats, (item.source, item.source_id, reason), meta)
        if stored:
            with session_scope(state.engine) as session:
                harvest.resolve_failures(session, self.source, stored, self.today)

    def _count(self, ing: Ingestor) -> None:
        stats = self.crawler.stats
        assert stats is not None
        counts = dict(ing.counts)
        for name in STORED:
            stats.set_value(f"run/{name}", counts.get(name, 0))
        stats.set_value("run/ingest_failed", counts.get("failed", 0))
        if ing.derive_errors:
            stats.set_value("run/derive_errors", len(ing.derive_errors))
            stats.set_value("tracker/derive_error", ing.derive_errors[0])


class CloseDays:
    """Decides whether the day of a ``HarvestDayItem`` is complete and records it.

    Runs after ``StoreNotices`` has flushed for the same item, so the notices of the
    day are committed and their outcomes known.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.today = crawl_today(crawler.settings.get("TRACKER_TODAY"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CloseDays:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, HarvestDayItem):
            self._close(item)
        return item

    def _close(self, item: HarvestDayItem) -> None:
        stats = self.crawler.stats
        assert stats is not None
        if not item.listed:
            stats.inc_value("run/days_incomplete")
            logger.warning(
                "%s %s: listing incomplete, left for the next run", item.source, item.day
            )
            return
        state = harvest_state(self.crawler)
        outcomes = state.outcomes
        done = {i for i in item.ids if outcomes.get(i) in STORED} | set(item.skipped)
        rest = [i for i in item.ids if i not in done and outcomes.get(i) != "failed"]
        with session_scope(state.engine) as session:
            stored = len(done) + len(harvest.stored_source_ids(session, item.source, rest))
            complete = harvest.record_day(
                session, item.source, item.day, len(item.ids), stored, self.today
            )
        if complete:
            stats.inc_value("run/days_complete")
        elif stored >= len(item.ids) and item.day >= self.today:
            stats.inc_value("run/days_open")  # nothing missing; the day is not over yet
        else:
            stats.inc_value("run/days_incomplete")


class StoreRegister:
    """Applies a ``RegisterItem`` (a Brønnøysund record, or unknown) to its organisation
    and resolves the register failures of that number."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.today = crawl_today(crawler.settings.get("TRACKER_TODAY"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreRegister:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, RegisterItem):
            with session_scope(harvest_state(self.crawler).engine) as session:
                registry.apply_register_record(session, item.orgnr, item.kind, item.record)
                harvest.resolve_failures(session, "brreg", [item.orgnr], self.today)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"run/register_{item.kind}")
        return item


class StoreAgreements:
    """Stores ``AgreementItem``s through ``tracker.contracts.agreements``, 200 at a time
    (a re-crawl updates in place)."""

    BATCH = 200

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.items: list[dict[str, Any]] = []
        self.stored = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoreAgreements:
        return cls(database_url(crawler.settings))

    @property
    def engine(self) -> Engine:
        return get_engine(self.db_url)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, AgreementItem):
            self.items.append(ItemAdapter(item).asdict())
            if len(self.items) >= self.BATCH:
                self._flush()
        return item

    def close_spider(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self.items:
            return
        from tracker.contracts.agreements import store_page_agreements

        with session_scope(self.engine) as session:
            result = store_page_agreements(session, self.items)
        self.stored += result["created"] + result["updated"]
        self.items = []
