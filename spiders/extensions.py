"""Harvest state for the spiders through an extension: spiders open no database session.

``HarvestState`` is enabled in ``EXTENSIONS``; it puts itself on the crawler as
``crawler.harvest_state`` and answers the two questions a date-sliced spider asks
before and while it crawls: which days and open failures to take (``plan``), and which
listed ids are stored already (``stored_ids``). The writes (runs, days, failures,
notices) stay in the pipeline.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from spiders.pipelines import database_url
from tracker.db.engine import get_engine, session_scope
from tracker.notices import harvest

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_DAYS = 7


class HarvestState:
    def __init__(self, crawler: Crawler):
        self.db_url = database_url(crawler.settings)
        self._engine: Engine | None = None
        crawler.harvest_state = self  # type: ignore[attr-defined]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HarvestState:
        return cls(crawler)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine(self.db_url)
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
