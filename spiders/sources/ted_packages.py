"""TED daily packages: every notice of an Official Journal S issue in one tar.gz."""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

import scrapy

from spiders.archive import ArchiveSpider
from spiders.base import EFORMS_ROOTS
from spiders.exceptions import SpiderArgumentError

_MEMBER = re.compile(r"0*(\d+)[_-](\d{4})\.xml$", re.IGNORECASE)


def ojs_issue(day: dt.date, weekdays: frozenset[int], no_issue: frozenset[dt.date]) -> int | None:
    """The Official Journal S issue number of ``day`` (None: no issue that day).

    Issues are numbered from 1 each year, one per publication day: the days of the
    year up to ``day`` on a publication weekday, less the listed days without an issue.
    """
    if day.weekday() not in weekdays or day in no_issue:
        return None
    start = dt.date(day.year, 1, 1)
    n = 0
    for i in range((day - start).days + 1):
        d = start + dt.timedelta(days=i)
        if d.weekday() in weekdays and d not in no_issue:
            n += 1
    return n


def publication_number(member: str) -> str | None:
    """``00123456_2024.xml`` → ``123456-2024`` (TED's publication number)."""
    m = _MEMBER.search(os.path.basename(member))
    return f"{int(m.group(1))}-{m.group(2)}" if m else None


class TedPackagesSpider(ArchiveSpider):
    """TED daily packages: every notice published in one Official Journal S issue.

    Domain
      ``TED_PACKAGE_URL`` (default https://ted.europa.eu/packages/daily) +
      ``/YYYYNNNNN`` (year, issue number on 5 digits): one tar.gz per issue, one XML
      file per notice (``{number}_{year}.xml``; eForms or TED_EXPORT XML).
    Caveats
      The issue number of a day is counted from the publication weekdays
      (``TED_PACKAGE_WEEKDAYS``, Monday-Friday) less ``TED_PACKAGE_NO_ISSUE``
      (holidays without an issue); a day without an issue has no request and is
      complete when over. The package holds every notice of the EU (thousands a day);
      all are stored. One request per day instead of one per notice plus the search.
      A member that cannot be read is recorded as failed and retried next run from
      https://ted.europa.eu/en/notice/{publication-number}/xml.
    Spider arguments
      since, until: publication days YYYY-MM-DD (default: resume from harvest state).
      failures: all (default), window (only failures of the days listed), none.
    """

    name = "ted_packages"
    # DateSlicedSpider
    tracker_source = "ted"
    notice_roots = EFORMS_ROOTS | {"TED_EXPORT"}

    @property
    def base_url(self) -> str:
        return str(self.settings.get("TED_PACKAGE_URL")).rstrip("/")

    def _calendar(self) -> tuple[frozenset[int], frozenset[dt.date]]:
        try:
            weekdays = frozenset(
                int(x) for x in str(self.settings.get("TED_PACKAGE_WEEKDAYS")).split(",") if x
            )
            no_issue = frozenset(
                dt.date.fromisoformat(x.strip())
                for x in str(self.settings.get("TED_PACKAGE_NO_ISSUE") or "").split(",")
                if x.strip()
            )
        except ValueError as exc:
            raise SpiderArgumentError(
                f"TED_PACKAGE_WEEKDAYS / TED_PACKAGE_NO_ISSUE: {exc}"
            ) from exc
        return weekdays, no_issue

    def download_url(self, source_id: str, meta: dict[str, Any]) -> str:
        return f"https://ted.europa.eu/en/notice/{source_id}/xml"

    # ArchiveSpider
    def archive_request(self, day: dt.date) -> scrapy.Request | None:
        issue = ojs_issue(day, *self._calendar())
        if issue is None:
            return None
        return scrapy.Request(f"{self.base_url}/{day.year}{issue:05d}", meta={"issue": issue})

    def member_id(self, name: str) -> str | None:
        return publication_number(name)
