"""Doffin public API spider."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from spiders.base import DateSlicedSpider, failure_reason

# Doffin's search types: the three categories and the types under each (``allTypes``
# of a hit holds its category and its type).
TYPE_TREE: dict[str, tuple[str, ...]] = {
    "PLANNING": ("ADVISORY_NOTICE", "PRE_ANNOUNCEMENT", "NOTICE_ON_BUYER_PROFILE"),
    "COMPETITION": (
        "ANNOUNCEMENT_OF_COMPETITION",
        "DYNAMIC_PURCHASING_SCHEME",
        "QUALIFICATION_SCHEME",
    ),
    "RESULT": (
        "ANNOUNCEMENT_OF_INTENT",
        "ANNOUNCEMENT_OF_CONCLUSION_OF_CONTRACT",
        "CHANGE_OF_CONCLUSION_OF_CONTRACT",
        "CANCELLED_OR_MISSING_CONCLUSION_OF_CONTRACT",
    ),
}
STATUSES = ("ACTIVE", "EXPIRED", "AWARDED", "CANCELLED")
HIT_META = ("publicationDate", "status", "issueDate", "type", "deadline", "sentToTed")


def parse_search(body: bytes) -> tuple[int, int, list[dict[str, Any]]]:
    """(numHitsTotal, numHitsAccessible, hits) of a search page.

    Doffin sends raw control characters inside strings (``strict=False``) and gives
    ``hits`` as one object when there is a single hit.
    """
    data = json.loads(body.decode("utf-8", errors="replace"), strict=False)
    hits = data.get("hits") or []
    if isinstance(hits, dict):
        hits = [hits]
    total = int(data.get("numHitsTotal") or 0)
    accessible = int(data.get("numHitsAccessible", total) or 0)
    return total, accessible, [h for h in hits if isinstance(h, dict) and h.get("id")]


# Listing a slice again when its distinct hits fall short of its total (paging that
# shifted between pages, a page that failed): at most this many times per slice.
MAX_RELIST = 3


@dataclass
class SliceState:
    """One query of a day (its filters): what its pages gave so far."""

    total: int | None = None
    ids: set[str] = field(default_factory=set)
    pending: int = 0  # page requests not answered yet
    relists: int = 0
    split: bool = False  # handed over to finer slices
    failed: bool = False  # a page failed after its retries


def sub_slices(filters: dict[str, str]) -> list[dict[str, str]]:
    """The next finer slices of a day (by category, then type, then status)."""
    if "type" not in filters:
        return [{"type": c} for c in TYPE_TREE]
    if filters["type"] in TYPE_TREE:
        return [{"type": t} for t in TYPE_TREE[filters["type"]]]
    if "status" not in filters:
        return [{**filters, "status": s} for s in STATUSES]
    return []


class DoffinSpider(DateSlicedSpider):
    """Doffin: every notice published on doffin.no, as eForms XML.

    Domain
      Doffin public API (``DOFFIN_API_URL``, default https://api.doffin.no/public):
      ``GET /v2/search`` by issue day, then ``GET /v2/download/{doffinId}``.
      Key ``DOFFIN_API_KEY`` sent as ``Ocp-Apim-Subscription-Key`` (never logged).
    Caveats
      A query pages through at most 1,000 hits (``DOFFIN_HIT_CAP``): a day above it is
      split by category, type, then status. Ids repeat across pages (deduplicated), and
      offset paging can shift between two page requests (a hit shows twice, another
      slips out): a query whose distinct hits fall short of its ``numHitsTotal`` is
      listed again at once, narrowed to finer slices (category, type, status) until each
      fits on one page, and relisted as it is at most ``MAX_RELIST`` times; a day still
      short after that is left incomplete (the run is ``partial``). Doffin ids are per
      published version; ids already stored are not downloaded again (``refresh=1``
      forces). The search metadata the XML lacks (Doffin id, publication date, status)
      is kept with the notice.
    Spider arguments
      since, until: issue days YYYY-MM-DD (default: resume from the harvest state).
      refresh: 1 to download ids already stored.
    """

    name = "doffin"
    # DateSlicedSpider
    tracker_source = "doffin"

    @property
    def page_size(self) -> int:
        return self.settings.getint("DOFFIN_PAGE_SIZE", 100)

    @property
    def base_url(self) -> str:
        return str(self.settings.get("DOFFIN_API_URL")).rstrip("/")

    @property
    def hit_cap(self) -> int:
        return self.settings.getint("DOFFIN_HIT_CAP", 1000)

    def download_url(self, source_id: str, meta: dict[str, Any]) -> str:
        return f"{self.base_url}/v2/download/{source_id}"

    def search_request(
        self, day: dt.date, filters: dict[str, str], page: int = 1
    ) -> scrapy.Request:
        params = {
            "numHitsPerPage": self.page_size,
            "page": page,
            "issueDateFrom": day.isoformat(),
            "issueDateTo": day.isoformat(),
            "sortBy": "PUBLICATION_DATE_ASC",
            **filters,
        }
        return scrapy.Request(
            f"{self.base_url}/v2/search?{urlencode(params)}",
            callback=self.parse_search,
            errback=self.listing_failed,
            dont_filter=True,
            meta={"filters": filters, "page": page, "expect": "json"},
        )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.slices: dict[tuple[dt.date, tuple[tuple[str, str], ...]], SliceState] = {}

    async def start(self) -> Any:
        if not self.settings.get("DOFFIN_API_KEY"):
            # Every request would be refused (401): say so once instead.
            raise CloseSpider("no_api_key: DOFFIN_API_KEY is not set")
        async for item in super().start():
            yield item

    def slice_state(self, day: dt.date, filters: dict[str, str]) -> SliceState:
        return self.slices.setdefault((day, tuple(sorted(filters.items()))), SliceState())

    def slice_request(self, day: dt.date, filters: dict[str, str], page: int = 1) -> scrapy.Request:
        """A search page of one slice, counted as pending for that slice (not tracked)."""
        self.slice_state(day, filters).pending += 1
        return self.search_request(day, filters, page)

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        return [self.slice_request(day, {})]

    def parse_search(self, response: Response) -> Iterator[Any]:
        day: dt.date = response.meta["day"]
        filters: dict[str, str] = response.meta["filters"]
        page: int = response.meta["page"]
        state = self.days[day]
        piece = self.slice_state(day, filters)
        total, accessible, hits = parse_search(response.body)
        self.crawler.stats.inc_value("tracker/ok_responses")  # type: ignore[union-attr]
        if not filters and page == 1:
            state.total = total
        if page == 1:
            piece.total = total
            if total > self.hit_cap or accessible < total:
                finer = sub_slices(filters)
                if finer:
                    self.logger.info(
                        "doffin %s %s: %d hits over the cap, splitting into %d slices",
                        day,
                        filters or "all",
                        total,
                        len(finer),
                    )
                    piece.split = True
                    for f in finer:
                        yield self.track(day, self.slice_request(day, f))
                else:
                    self.logger.warning(
                        "doffin %s %s: %d hits, only %d reachable", day, filters, total, accessible
                    )
                    state.listed = False
                    yield from self._pages(day, filters, accessible)
            else:
                yield from self._pages(day, filters, accessible)
        entries = [
            (
                h["id"],
                self.download_url(h["id"], {}),
                {"doffinId": h["id"], **{k: h[k] for k in HIT_META if k in h}},
            )
            for h in hits
        ]
        piece.ids.update(e[0] for e in entries)
        stored = self.stored_ids([e[0] for e in entries]) if entries else set()
        yield from self.listed(day, entries, stored)
        piece.pending -= 1
        if piece.pending == 0:
            yield from self._slice_done(day, filters, piece)
        yield from self.settle(day)

    def listing_failed(self, failure: Any) -> Iterator[Any]:
        meta = failure.request.meta
        day, filters = meta.get("day"), meta.get("filters") or {}
        if day in self.days:
            piece = self.slice_state(day, filters)
            piece.failed = True
            piece.pending -= 1
            if piece.pending == 0:
                self.logger.warning(
                    "doffin %s %s page %s listing failed: %s",
                    day,
                    filters or "all",
                    meta.get("page"),
                    failure_reason(failure),
                )
                yield from self._slice_done(day, filters, piece)
        yield from self.settle(day, True)

    def _slice_done(
        self, day: dt.date, filters: dict[str, str], piece: SliceState
    ) -> Iterator[Any]:
        """Every page of a slice has answered: list it again (narrowed) if it fell short."""
        if piece.split:
            return
        reachable = min(piece.total, self.hit_cap) if piece.total is not None else None
        if reachable is not None and len(piece.ids) >= reachable and not piece.failed:
            return
        self.crawler.stats.inc_value("listing/short_slices")  # type: ignore[union-attr]
        if piece.relists >= MAX_RELIST:
            self.logger.warning(
                "doffin %s %s: %d of %s hits after %d listings; day left incomplete",
                day,
                filters or "all",
                len(piece.ids),
                piece.total,
                piece.relists + 1,
            )
            self.days[day].listed = False
            return
        piece.relists += 1
        piece.failed = False
        finer = sub_slices(filters)
        if finer and (piece.total is None or piece.total > self.page_size):
            # Narrow: slices that fit on one page cannot shift between pages.
            self.logger.info(
                "doffin %s %s: %d of %s hits listed; narrowing into %d slices",
                day,
                filters or "all",
                len(piece.ids),
                piece.total,
                len(finer),
            )
            piece.split = True
            for f in finer:
                yield self.track(day, self.slice_request(day, f))
            return
        self.logger.info(
            "doffin %s %s: %d of %s hits listed; listing again (%d)",
            day,
            filters or "all",
            len(piece.ids),
            piece.total,
            piece.relists,
        )
        self.crawler.stats.inc_value("listing/relisted")  # type: ignore[union-attr]
        yield self.track(day, self.slice_request(day, filters))

    def _pages(self, day: dt.date, filters: dict[str, str], accessible: int) -> Iterator[Any]:
        last = min(math.ceil(accessible / self.page_size), math.ceil(self.hit_cap / self.page_size))
        for page in range(2, last + 1):
            yield self.track(day, self.slice_request(day, filters, page))
