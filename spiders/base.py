"""Base class for date-sliced notice harvests (Doffin, TED).

A subclass sets, under "# DateSlicedSpider":

- ``name`` and ``tracker_source`` (the ``notices.source`` value),
- ``day_requests(day)``: the first listing request(s) of one issue day,
- ``download_request(source_id, url, day, meta)``: one notice download.

Listing callbacks register the ids of a day with ``self.listed(...)`` and every
request that belongs to a day goes through ``self.track(day, request)``; when the
last one of a day has answered (downloaded, skipped or failed) the spider yields a
``HarvestDayItem`` so the pipelines can flush and decide whether the day is complete.

Arguments common to these spiders: ``since``/``until`` (YYYY-MM-DD; default: resume
from the harvest state, until today), ``refresh`` (1: download ids already stored).
Unresolved fetch failures of the source are retried first (``failures``: ``all``, the
default; ``window``: only those of the days listed; ``none``). The harvest state is read
through the ``HarvestState`` extension (``spiders.extensions``), never by the spider.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import scrapy
from lxml import etree
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.exceptions import SpiderArgumentError
from spiders.extensions import HarvestState, crawl_today, harvest_state
from spiders.items import FetchFailureItem, HarvestDayItem, NoticeItem

logger = logging.getLogger(__name__)


def parse_date_arg(name: str, value: str | None) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise SpiderArgumentError(f"-a {name}={value!r}: expected a date YYYY-MM-DD") from exc


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class DayState:
    pending: int = 0
    ids: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    listed: bool = True
    total: int | None = None
    closed: bool = False
    skipped: list[str] = field(default_factory=list)


EFORMS_ROOTS = frozenset({"ContractNotice", "PriorInformationNotice", "ContractAwardNotice"})


def root_name(body: bytes) -> str | None:
    """Local name of the XML root element (None when there is none)."""
    try:
        for _, element in etree.iterparse(
            io.BytesIO(body), events=("start",), resolve_entities=False, no_network=True
        ):
            return etree.QName(element).localname
    except etree.XMLSyntaxError:
        return None
    return None


def failure_reason(failure: Failure) -> str:
    exc = failure.value
    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    return f"{type(exc).__name__}: {exc}".strip()


class DateSlicedSpider(scrapy.Spider):
    tracker_source = ""
    # The CrawlRun extension calls a run "failed" when requests were made and none gave a usable
    # answer (stat ``tracker/ok_responses``, counted by the parse callbacks).
    counts_responses = True
    # Root elements of the notices the tracker reads from this source (others are skipped).
    notice_roots: frozenset[str] = EFORMS_ROOTS

    def __init__(
        self,
        since: str | None = None,
        until: str | None = None,
        refresh: str | None = None,
        failures: str | None = None,
        *args: Any,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.since_arg = parse_date_arg("since", since)
        self.until_arg = parse_date_arg("until", until)
        if self.since_arg and self.until_arg and self.since_arg > self.until_arg:
            raise SpiderArgumentError(f"since {self.since_arg} is after until {self.until_arg}")
        self.refresh = truthy(refresh)
        self.failures = failures or "all"
        if self.failures not in ("all", "window", "none"):
            raise SpiderArgumentError(
                f"-a failures={failures!r}: expected all, window (the days listed) or none"
            )
        self.days: dict[dt.date, DayState] = {}
        self.queued: set[str] = set()

    def run_args(self) -> dict[str, Any]:
        """Arguments recorded with the crawl run (no secrets)."""
        return {
            "since": self.since_arg.isoformat() if self.since_arg else None,
            "until": self.until_arg.isoformat() if self.until_arg else None,
            "refresh": self.refresh,
            "failures": self.failures,
        }

    # ------------------------------------------------------------------ plan

    def plan(self) -> tuple[list[dt.date], list[Any]]:
        """Days to list and open failures to retry (the ``HarvestState`` extension reads
        the harvest state: the spider opens no database session)."""
        today = crawl_today(self.settings.get("TRACKER_TODAY"))
        days, failures = self.state.plan(
            self.tracker_source, self.since_arg, self.until_arg, today, self.failures
        )
        self.logger.info(
            "%s: %d day(s) %s..%s, %d failure(s) to retry",
            self.tracker_source,
            len(days),
            days[0] if days else "-",
            days[-1] if days else "-",
            len(failures),
        )
        return days, failures

    @property
    def state(self) -> HarvestState:
        """The crawler's ``HarvestState`` (enabled in ``EXTENSIONS``)."""
        return harvest_state(self.crawler)

    async def start(self) -> AsyncIterator[Any]:
        days, failures = self.plan()
        for source_id, meta in failures:
            day = parse_date_arg("day", meta.get("day"))
            # An archive member is retried on its own (download_url), not by its archive.
            url = meta.get("download_url") or meta.get("url") or self.download_url(source_id, meta)
            self.queued.add(source_id)
            yield self.download_request(source_id, url, day, meta)
        for day in days:
            self.days[day] = DayState()
            requests = self.day_requests(day)
            if not requests:  # nothing published that day (e.g. no TED issue)
                self.days[day].pending = 1
                for item in self.settle(day):
                    yield item
            for request in requests:
                yield self.track(day, request)

    # ------------------------------------------------------------------ bookkeeping

    def track(self, day: dt.date, request: scrapy.Request) -> scrapy.Request:
        self.days[day].pending += 1
        request.meta["day"] = day
        request.meta["tracked"] = True
        return request

    def settle(self, day: dt.date | None, tracked: bool = True) -> Iterator[HarvestDayItem]:
        """One request of ``day`` has answered; yields the day item after the last."""
        if day is None or not tracked or day not in self.days:
            return
        state = self.days[day]
        state.pending -= 1
        if state.pending == 0 and not state.closed:
            state.closed = True
            listed = state.listed and (state.total is None or len(state.ids) >= state.total)
            if state.listed and not listed:
                self.logger.warning(
                    "%s %s: %d of %d hits listed",
                    self.tracker_source,
                    day,
                    len(state.ids),
                    state.total,
                )
            yield HarvestDayItem(
                source=self.tracker_source,
                day=day,
                ids=tuple(state.ids),
                listed=listed,
                total=state.total,
                skipped=tuple(state.skipped),
            )

    def listed(
        self, day: dt.date, entries: list[tuple[str, str, dict[str, Any]]], stored: set[str]
    ) -> Iterator[scrapy.Request]:
        """Register listed (id, url, meta) of ``day``; yield downloads for new ids."""
        state = self.days[day]
        for source_id, url, meta in entries:
            if source_id in state.seen:
                self.crawler.stats.inc_value("listing/duplicate_hits")  # type: ignore[union-attr]
                continue
            state.seen.add(source_id)
            state.ids.append(source_id)
            if source_id in self.queued or (source_id in stored and not self.refresh):
                continue
            self.queued.add(source_id)
            yield self.track(day, self.download_request(source_id, url, day, meta))

    def stored_ids(self, ids: list[str]) -> set[str]:
        return set(self.state.stored_ids(self.tracker_source, ids))

    # ------------------------------------------------------------------ downloads

    def download_url(self, source_id: str, meta: dict[str, Any]) -> str:
        raise NotImplementedError

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        raise NotImplementedError

    def download_request(
        self,
        source_id: str,
        url: str,
        day: dt.date | None,
        meta: dict[str, Any],
    ) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=self.parse_notice,
            errback=self.notice_failed,
            dont_filter=True,
            meta={
                "source_id": source_id,
                "day": day,
                "hit": meta,
                "expect": "xml",
                "tracked": False,
            },
        )

    def parse_notice(self, response: Response) -> Iterator[Any]:
        m = response.meta
        self.crawler.stats.inc_value("tracker/ok_responses")  # type: ignore[union-attr]
        root = root_name(response.body)
        if root not in self.notice_roots:
            # A document the tracker does not read (not a notice): skipped, not a gap.
            self.crawler.stats.inc_value("notices/skipped_not_eforms")  # type: ignore[union-attr]
            self.logger.info(
                "%s %s: not a notice the tracker reads (%s), skipped",
                self.tracker_source,
                m["source_id"],
                root,
            )
            day = m.get("day")
            if day in self.days:
                self.days[day].skipped.append(m["source_id"])
            yield from self.settle(day, m.get("tracked", False))
            return
        yield NoticeItem(
            source=self.tracker_source,
            source_id=m["source_id"],
            url=response.url,
            xml=response.body,
            day=m.get("day"),
            meta=m.get("hit") or {},
        )
        yield from self.settle(m.get("day"), m.get("tracked", False))

    def notice_failed(self, failure: Failure) -> Iterator[Any]:
        m = failure.request.meta  # type: ignore[attr-defined]
        yield FetchFailureItem(
            source=self.tracker_source,
            source_id=m["source_id"],
            reason=failure_reason(failure),
            day=m.get("day"),
            meta={**(m.get("hit") or {}), "url": failure.request.url},  # type: ignore[attr-defined]
        )
        yield from self.settle(m.get("day"), m.get("tracked", False))

    def listing_failed(self, failure: Failure) -> Iterator[Any]:
        day = failure.request.meta.get("day")  # type: ignore[attr-defined]
        self.logger.warning(
            "%s %s listing failed: %s", self.tracker_source, day, failure_reason(failure)
        )
        if day in self.days:
            self.days[day].listed = False
        yield from self.settle(day, True)
