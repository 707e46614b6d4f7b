"""Doffin public API spider."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from spiders.base import DateSlicedSpider

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
      split by category, type, then status. Ids repeat across pages (deduplicated);
      a day whose listing yields fewer unique ids than ``numHitsTotal`` is left
      incomplete for the next run. Doffin ids are per published version; ids already
      stored are not downloaded again (``refresh=1`` forces). The search metadata the
      XML lacks (Doffin id, publication date, status) is kept with the notice.
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

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        return [self.search_request(day, {})]

    def parse_search(self, response: Response) -> Iterator[Any]:
        day: dt.date = response.meta["day"]
        filters: dict[str, str] = response.meta["filters"]
        page: int = response.meta["page"]
        state = self.days[day]
        total, accessible, hits = parse_search(response.body)
        if not filters and page == 1:
            state.total = total
        if page == 1:
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
                    for f in finer:
                        yield self.track(day, self.search_request(day, f))
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
        stored = self.stored_ids([e[0] for e in entries]) if entries else set()
        yield from self.listed(day, entries, stored)
        yield from self.settle(day)

    def _pages(self, day: dt.date, filters: dict[str, str], accessible: int) -> Iterator[Any]:
        last = min(math.ceil(accessible / self.page_size), math.ceil(self.hit_cap / self.page_size))
        for page in range(2, last + 1):
            yield self.track(day, self.search_request(day, filters, page))
