"""Brønnøysund Enhetsregisteret spider (register enrichment of buyers and winners)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.base import failure_reason, truthy
from spiders.exceptions import SpiderArgumentError
from spiders.extensions import harvest_state
from spiders.items import FetchFailureItem, RegisterItem
from tracker.orgnr import is_valid_orgnr

GONE = (404, 410)


class BrregSpider(scrapy.Spider):
    """Brreg: name, org form, sector code and parent of every buyer and winner.

    Domain
      Enhetsregisteret API (``BRREG_API_URL``, default
      https://data.brreg.no/enhetsregisteret/api): ``GET /enheter/{orgnr}``, and
      ``GET /underenheter/{orgnr}`` when that answers 404 (sub-units).
    Caveats
      Parents (``overordnetEnhet``) are followed up to the top, each looked up once.
      A number unknown to both endpoints is recorded as ``register_status='unknown'``.
      Other errors are recorded as fetch failures (source ``brreg``).
    Spider arguments
      orgnrs: comma-separated numbers to look up (default: buyers and winners not yet
      enriched). refresh: 1 to look up enriched ones again.
    """

    name = "brreg"
    tracker_source = "brreg"

    def __init__(
        self, orgnrs: str | None = None, refresh: str | None = None, *args: Any, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.refresh = truthy(refresh)
        self.orgnrs_arg = [o.strip() for o in (orgnrs or "").split(",") if o.strip()]
        bad = [o for o in self.orgnrs_arg if not is_valid_orgnr(o)]
        if bad:
            raise SpiderArgumentError(f"-a orgnrs: not valid organisation numbers: {bad}")
        self.seen: set[str] = set()

    def run_args(self) -> dict[str, Any]:
        return {"orgnrs": self.orgnrs_arg or None, "refresh": self.refresh}

    @property
    def base_url(self) -> str:
        return str(self.settings.get("BRREG_API_URL")).rstrip("/")

    async def start(self) -> AsyncIterator[Any]:
        # The HarvestState extension reads the database: the spider opens no session.
        state = harvest_state(self.crawler)
        orgnrs, enriched = state.orgnrs_to_look_up(self.orgnrs_arg, self.refresh)
        self.seen |= enriched
        self.logger.info("brreg: %d organisation number(s) to look up", len(orgnrs))
        for orgnr in orgnrs:
            self.seen.add(orgnr)
            yield self.lookup(orgnr, "enheter")

    def lookup(self, orgnr: str, kind: str) -> scrapy.Request:
        return scrapy.Request(
            f"{self.base_url}/{kind}/{orgnr}",
            callback=self.parse_unit,
            errback=self.lookup_failed,
            dont_filter=True,
            headers={"Accept": "application/json"},
            meta={"orgnr": orgnr, "kind": kind, "expect": "json", "handle_httpstatus_list": GONE},
        )

    def parse_unit(self, response: Response) -> Iterator[Any]:
        orgnr, kind = response.meta["orgnr"], response.meta["kind"]
        if response.status in GONE:
            if kind == "enheter":
                yield self.lookup(orgnr, "underenheter")
            else:
                yield RegisterItem(orgnr=orgnr, kind="unknown")
            return
        record = json.loads(response.text, strict=False)
        yield RegisterItem(
            orgnr=orgnr, kind="enhet" if kind == "enheter" else "underenhet", record=record
        )
        parent = str(record.get("overordnetEnhet") or "").strip()
        if parent and is_valid_orgnr(parent) and parent not in self.seen:
            self.seen.add(parent)
            yield self.lookup(parent, "enheter")

    def lookup_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        yield FetchFailureItem(
            source="brreg",
            source_id=request.meta["orgnr"],
            reason=failure_reason(failure),
            meta={"url": request.url},
        )
