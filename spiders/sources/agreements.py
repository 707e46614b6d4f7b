"""Agreement-page spider: agreement overviews that buyers publish as HTML.

The extraction is ``tracker.contracts.agreement_pages.extract_agreements`` (pure, tested without
Scrapy); this file fetches the configured pages and stores what they yield.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from itemadapter import ItemAdapter
from scrapy.http import Response

from spiders.exceptions import SpiderArgumentError
from spiders.pipelines import database_url
from tracker.contracts.agreement_pages import SiteConfig, extract_agreements, load_sites
from tracker.db.engine import get_engine, session_scope
from tracker.errors import ConfigError


class AgreementsSpider(scrapy.Spider):
    """Agreement overviews on buyer web pages, one config entry per site.

    Domain
      Any buyer page that lists agreements: a table (one row per agreement) or free
      text ("Delområde A har oppstart fra 01.04.2023 ... frem til 31.08.2024").
    Caveats
      What a page states is stored as a contract with source ``agreement_page`` and
      end source ``agreement_page``; a re-crawl updates it in place (keyed by page URL,
      buyer, supplier, title and start). Pages change layout: a site whose blocks
      yield nothing is logged as a warning.
    Spider arguments
      config: YAML file of sites (see ``tracker.contracts.agreement_pages``; required).
      site: only the site with this name.
    """

    name = "agreements"
    tracker_source = "agreements"
    custom_settings = {  # noqa: RUF012 - Scrapy reads this class attribute
        "ITEM_PIPELINES": {
            "spiders.pipelines.TrackerPipeline": 300,  # records the run; passes items on
            "spiders.sources.agreements.AgreementPipeline": 400,
        }
    }

    def __init__(
        self, config: str | None = None, site: str | None = None, *args: Any, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        if not config:
            raise SpiderArgumentError("-a config=FILE is required (a YAML list of sites)")
        try:
            sites = load_sites(config)
        except ConfigError as exc:
            raise SpiderArgumentError(str(exc)) from exc
        if site:
            sites = [s for s in sites if s.name == site]
            if not sites:
                raise SpiderArgumentError(f"-a site={site}: no such site in {config}")
        self.config_path = config
        self.sites: list[SiteConfig] = sites

    def run_args(self) -> dict[str, Any]:
        return {"config": self.config_path, "sites": [s.name for s in self.sites]}

    async def start(self) -> AsyncIterator[Any]:
        for s in self.sites:
            yield scrapy.Request(s.url, callback=self.parse_page, cb_kwargs={"site": s})

    def parse_page(self, response: Response, site: SiteConfig) -> Iterator[dict[str, Any]]:
        found = extract_agreements(response.text, site, url=response.url)
        if not found:
            self.logger.warning("%s: no agreements found with block %r", site.name, site.block)
        for agreement in found:
            yield {"kind": "agreement", **agreement.as_item()}


class AgreementPipeline:
    """Stores agreement items (``kind == "agreement"``) through ``tracker.contracts.agreements``."""

    def __init__(self, db_url: str):
        self.db_url = db_url
        self.items: list[dict[str, Any]] = []
        self.stored = 0

    @classmethod
    def from_crawler(cls, crawler: Any) -> AgreementPipeline:
        return cls(database_url(crawler.settings))

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if adapter.get("kind") == "agreement":
            self.items.append(dict(adapter))
            if len(self.items) >= 200:
                self._flush()
        return item

    def close_spider(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self.items:
            return
        from tracker.contracts.agreements import store_page_agreements

        with session_scope(get_engine(self.db_url)) as session:
            result = store_page_agreements(session, self.items)
        self.stored += result["created"] + result["updated"]
        self.items = []
