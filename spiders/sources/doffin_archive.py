"""Doffin's daily notice archive, with the public API as the fallback."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider
from twisted.python.failure import Failure

from spiders.archive import ArchiveSpider
from spiders.base import DateSlicedSpider, failure_reason
from spiders.secret import Secret
from spiders.sources.doffin import DoffinSpider

_MEMBER = re.compile(r"(\d{4}-\d{6})\.xml$")


class DoffinArchiveSpider(ArchiveSpider, DoffinSpider):
    """Doffin by daily archive (for those who have access), else the public API.

    Domain
      ``DOFFIN_ARCHIVE_URL`` + ``/YYYY-MM-DD.zip``, HTTP Basic with
      ``DOFFIN_ARCHIVE_USER`` / ``DOFFIN_ARCHIVE_PASSWORD`` (never logged). Assumed
      format (Doffin documents no public archive; access is by agreement): a zip per
      issue day, one eForms XML per notice version, named ``{doffinId}.xml``.
    Caveats
      Without ``DOFFIN_ARCHIVE_URL``, or when a day's archive fails (401/403/404, a
      server error after the retries, a broken connection), that day is listed and
      downloaded through the public API (``DOFFIN_API_URL``, one request per notice,
      needs ``DOFFIN_API_KEY``). The archive lacks the search metadata (status,
      deadline) the API gives. A damaged archive keeps the notices read before the
      damage and leaves its day incomplete; a member that cannot be read is recorded
      as failed and retried next run through the API.
    Spider arguments
      since, until: issue days YYYY-MM-DD (default: resume from the harvest state).
      failures: all (default), window (only failures of the days listed), none.
    """

    name = "doffin_archive"
    # DateSlicedSpider
    tracker_source = "doffin"

    @property
    def archive_url(self) -> str:
        return str(self.settings.get("DOFFIN_ARCHIVE_URL") or "").rstrip("/")

    def _auth(self) -> dict[str, str]:
        user = str(self.settings.get("DOFFIN_ARCHIVE_USER") or "")
        secret = self.settings.get("DOFFIN_ARCHIVE_PASSWORD")
        password = secret.reveal() if isinstance(secret, Secret) else secret
        if not user:
            return {}
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def start(self) -> Any:
        if not self.archive_url and not self.settings.get("DOFFIN_API_KEY"):
            raise CloseSpider("no_archive_no_key: neither DOFFIN_ARCHIVE_URL nor DOFFIN_API_KEY")
        async for item in DateSlicedSpider.start(self):
            yield item

    def run_args(self) -> dict[str, Any]:
        return {**super().run_args(), "archive": bool(self.archive_url)}

    # ArchiveSpider
    def archive_request(self, day: dt.date) -> scrapy.Request | None:
        return scrapy.Request(f"{self.archive_url}/{day.isoformat()}.zip", headers=self._auth())

    def member_id(self, name: str) -> str | None:
        m = _MEMBER.search(os.path.basename(name))
        return m.group(1) if m else None

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        if not self.archive_url:
            self.crawler.stats.inc_value("archive/api_days")  # type: ignore[union-attr]
            return DoffinSpider.day_requests(self, day)
        return ArchiveSpider.day_requests(self, day)

    def archive_missing(self, day: dt.date, failure: Failure) -> Iterator[Any]:
        if not self.settings.get("DOFFIN_API_KEY"):
            yield from super().archive_missing(day, failure)
            return
        self.logger.info(
            "doffin %s: archive failed (%s); listing the day through the API",
            day,
            failure_reason(failure),
        )
        self.crawler.stats.inc_value("archive/api_days")  # type: ignore[union-attr]
        for request in DoffinSpider.day_requests(self, day):
            yield self.track(day, request)
