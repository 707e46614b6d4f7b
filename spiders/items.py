"""Items: one small dataclass per kind, validated where it is built.

``__post_init__`` calls ``validate()``: a bad value raises ``InvalidItem`` naming the
field, in the callback that built the item, so nothing malformed reaches the pipelines
(the ``Validate`` pipeline calls ``validate()`` again, as kingfisher-collect does, for an
item changed after it was built). Dataclasses are one of Scrapy's item types, so
pipelines read them through ``ItemAdapter``. ``ITEM_KINDS`` lists every kind a spider
may yield; the pipelines in ``spiders.pipelines`` store one kind each.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from spiders.exceptions import InvalidItem

NOTICE_SOURCES = ("doffin", "ted")
REGISTER_KINDS = ("enhet", "underenhet", "unknown")
_ORGNR = re.compile(r"\d{9}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _require(cond: bool, item: str, fld: str, message: str) -> None:
    if not cond:
        raise InvalidItem(f"{item}.{fld}: {message}")


@dataclass
class NoticeItem:
    """One downloaded notice (eForms XML) plus the search metadata the XML lacks."""

    source: str
    source_id: str
    url: str
    xml: bytes
    day: dt.date | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _require(self.source in NOTICE_SOURCES, "NoticeItem", "source", repr(self.source))
        _require(bool(self.source_id), "NoticeItem", "source_id", "empty")
        _require(self.url.startswith(("http://", "https://")), "NoticeItem", "url", self.url)
        _require(
            isinstance(self.xml, bytes) and self.xml.lstrip()[:1] == b"<",
            "NoticeItem",
            "xml",
            f"{self.source_id}: not an XML document",
        )


@dataclass
class FetchFailureItem:
    """A notice (or register lookup) that failed after every retry."""

    source: str
    source_id: str
    reason: str
    day: dt.date | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _require(bool(self.source), "FetchFailureItem", "source", "empty")
        _require(bool(self.source_id), "FetchFailureItem", "source_id", "empty")
        _require(bool(self.reason), "FetchFailureItem", "reason", "empty")


@dataclass
class HarvestDayItem:
    """End of one issue day: every listed id was downloaded, skipped or failed.

    ``listed`` is False when the listing itself failed or stayed incomplete (the day
    is then left for the next run). ``ids`` are all unique ids listed for the day.
    """

    source: str
    day: dt.date
    ids: tuple[str, ...]
    listed: bool = True
    total: int | None = None  # what the search reported (numHitsTotal)
    skipped: tuple[str, ...] = ()  # listed but not eForms (old TED format): not stored, no gap

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _require(isinstance(self.day, dt.date), "HarvestDayItem", "day", repr(self.day))
        _require(len(set(self.ids)) == len(self.ids), "HarvestDayItem", "ids", "duplicates")


@dataclass
class RegisterItem:
    """A Brønnøysund lookup: an enhet, an underenhet, or unknown (404 on both)."""

    orgnr: str
    kind: str
    record: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _require(bool(_ORGNR.fullmatch(self.orgnr)), "RegisterItem", "orgnr", repr(self.orgnr))
        _require(self.kind in REGISTER_KINDS, "RegisterItem", "kind", repr(self.kind))
        _require(
            (self.record is None) == (self.kind == "unknown"),
            "RegisterItem",
            "record",
            "a record is required for enhet/underenhet and absent for unknown",
        )
        if self.record is not None:
            got = str(self.record.get("organisasjonsnummer", ""))
            _require(got == self.orgnr, "RegisterItem", "record", f"is for {got!r}")


@dataclass
class AgreementItem(Mapping[str, Any]):
    """An agreement read from a buyer's page (``PageAgreement.as_item()``, dates ISO).

    Readable as a mapping too (``item["end_date"]``), which is how
    ``tracker.contracts.agreements.store_page_agreements`` reads what it stores.
    """

    kind: ClassVar[str] = "agreement"

    site: str
    url: str
    buyer_name: str | None
    buyer_orgnr: str | None
    title: str | None
    supplier_name: str | None
    start_date: str | None
    end_date: str | None
    latest_end: str | None
    options_text: str | None
    framework: bool
    text: str
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _require(bool(self.site), "AgreementItem", "site", "empty")
        _require(bool(self.url), "AgreementItem", "url", "empty")
        _require(
            bool(self.start_date or self.end_date),
            "AgreementItem",
            "start_date",
            "an agreement needs a start or an end date",
        )
        for name in ("start_date", "end_date", "latest_end"):
            value = getattr(self, name)
            if value is not None:
                _require(_ISO_DATE.fullmatch(value) is not None, "AgreementItem", name, value)

    def __getitem__(self, key: str) -> Any:
        if key == "kind" or key in _AGREEMENT_FIELDS:
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("kind", *_AGREEMENT_FIELDS))

    def __len__(self) -> int:
        return 1 + len(_AGREEMENT_FIELDS)


_AGREEMENT_FIELDS = tuple(f.name for f in fields(AgreementItem))

ITEM_KINDS = (NoticeItem, FetchFailureItem, HarvestDayItem, RegisterItem, AgreementItem)
