"""TED (Tenders Electronic Daily) API v3 spider for Norwegian buyers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from spiders.base import EFORMS_ROOTS, DateSlicedSpider

FIELDS = ["publication-number", "publication-date", "notice-type", "buyer-country", "links"]


class TedSpider(DateSlicedSpider):
    """TED: notices of Norwegian buyers published in the EU's Official Journal.

    Domain
      TED API v3 (``TED_API_URL``, default https://api.ted.europa.eu), no key:
      ``POST /v3/notices/search`` with an expert query, then each notice's XML
      (``links.xml.MUL``, https://ted.europa.eu/en/notice/{publication-number}/xml).
    Caveats
      One publication day at a time, ``paginationMode: ITERATION`` with
      ``iterationNextToken`` (no result cap). A notice also harvested from Doffin is
      stored once (the ingest deduplicates by eForms notice-id + version). Notices
      published before eForms (TED_EXPORT XML, 2014-2023) are harvested too: the API
      serves their TED XML, which the ingest reads with ``tracker.notices.ted_legacy`` (identity:
      the OJ S number ``2019/S 177-431038``).
    Spider arguments
      since, until: publication days YYYY-MM-DD (default: resume from harvest state).
      refresh: 1 to download publication numbers already stored.
      query: expert query replacing ``buyer-country IN (NOR)`` (dates are added).
    """

    name = "ted"
    # DateSlicedSpider
    tracker_source = "ted"
    notice_roots = EFORMS_ROOTS | {"TED_EXPORT"}

    page_size = 250

    def __init__(self, *args: Any, query: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.query = query or "buyer-country IN (NOR)"

    def run_args(self) -> dict[str, Any]:
        return {**super().run_args(), "query": self.query}

    @property
    def base_url(self) -> str:
        return str(self.settings.get("TED_API_URL")).rstrip("/")

    def download_url(self, source_id: str, meta: dict[str, Any]) -> str:
        return f"https://ted.europa.eu/en/notice/{source_id}/xml"

    def search_request(self, day: dt.date, token: str | None = None) -> scrapy.Request:
        d = day.strftime("%Y%m%d")
        body: dict[str, Any] = {
            "query": f"({self.query}) AND publication-date>={d} AND publication-date<={d}",
            "fields": FIELDS,
            "limit": self.page_size,
            "paginationMode": "ITERATION",
        }
        if token:
            body["iterationNextToken"] = token
        return scrapy.Request(
            f"{self.base_url}/v3/notices/search",
            method="POST",
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            callback=self.parse_search,
            errback=self.listing_failed,
            dont_filter=True,
            meta={"expect": "json"},
        )

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        return [self.search_request(day)]

    def parse_search(self, response: Response) -> Iterator[Any]:
        day: dt.date = response.meta["day"]
        data = json.loads(response.text, strict=False)
        self.crawler.stats.inc_value("tracker/ok_responses")  # type: ignore[union-attr]
        state = self.days[day]
        if state.total is None:
            state.total = int(data.get("totalNoticeCount") or 0)
        entries = []
        for notice in data.get("notices") or []:
            pubno = notice.get("publication-number")
            if not pubno:
                continue
            xml = ((notice.get("links") or {}).get("xml") or {}).get("MUL")
            meta = {
                "publicationNumber": pubno,
                "publicationDate": str(notice.get("publication-date") or "")[:10] or None,
                "noticeType": notice.get("notice-type"),
            }
            entries.append((pubno, xml or self.download_url(pubno, meta), meta))
        token = data.get("iterationNextToken")
        if token and entries:
            yield self.track(day, self.search_request(day, token))
        stored = self.stored_ids([e[0] for e in entries]) if entries else set()
        yield from self.listed(day, entries, stored)
        yield from self.settle(day)
