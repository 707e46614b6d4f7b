"""Agreement-page spider: agreement overviews that buyers publish as HTML.

The extraction is ``tracker.contracts.agreement_pages.extract_agreements`` (pure, tested without
Scrapy); this file fetches the configured pages and yields an ``AgreementItem`` per
agreement found, which the ``StoreAgreements`` pipeline stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from spiders.exceptions import SpiderArgumentError
from spiders.items import AgreementItem
from tracker.contracts.agreement_pages import SiteConfig, extract_agreements, load_sites
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

    def parse_page(self, response: Response, site: SiteConfig) -> Iterator[AgreementItem]:
        found = extract_agreements(response.text, site, url=response.url)
        if not found:
            self.logger.warning("%s: no agreements found with block %r", site.name, site.block)
        for agreement in found:
            yield AgreementItem(**agreement.as_item())
