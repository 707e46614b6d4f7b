"""Read agreement overviews from buyer web pages (pure: HTML text in, agreements out).

Each site is one config entry: where the agreement blocks are (a CSS selector: table
rows, list items, sections) and, inside a block, where the title, supplier, start and
end are (CSS selectors). What a selector does not give is looked for in the block's
free text: Norwegian dates such as "oppstart fra 01.04.2023", "frem til 31.08.2024",
"1. april 2023", "fra 1. april 2023 til 31. mars 2025", and options ("opsjon på
forlengelse 1 + 1 år"). The Scrapy spider (``spiders/sources/agreements.py``) fetches
the pages and calls ``extract_agreements``.

Config (YAML list under ``sites:``)::

    - name: oslo-avtaler
      url: https://.../avtaler
      buyer_name: Oslo kommune
      buyer_orgnr: null
      block: "table.avtaler tbody tr"
      title: "td:nth-of-type(1)"
      supplier: "td:nth-of-type(2)"
      start: "td:nth-of-type(3)"
      end: "td:nth-of-type(4)"
      framework: true
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup, Tag

from tracker.dates import add_months
from tracker.errors import ConfigError
from tracker.notices.notice_text import parse_extension
from tracker.notices.text import clean_name
from tracker.orgnr import clean_orgnr

MONTHS = {
    "januar": 1, "jan": 1, "februar": 2, "feb": 2, "mars": 3, "mar": 3, "april": 4, "apr": 4,
    "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "desember": 12, "des": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_PATTERN = re.compile(
    rf"\b(?:(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}}|\d{{2}})\b"
    rf"|(\d{{4}})-(\d{{2}})-(\d{{2}})\b"
    rf"|(\d{{1,2}})\.?\s+({_MONTH_NAMES})\.?\s+(\d{{4}})\b)",
    re.IGNORECASE,
)
_START_WORDS = re.compile(
    r"(?:oppstart|start\w*|fra og med|f\.o\.m\.?|fom|gjelder fra|gyldig fra|inngått|"
    r"iverksatt|løper fra|fra)\W*(?:fra\W*)?(?:den\s+)?$",
    re.IGNORECASE,
)
_END_WORDS = re.compile(
    r"(?:frem til|fram til|til og med|t\.o\.m\.?|tom|utløper|utløp|avsluttes|sluttdato|"
    r"opphører|varer til|gyldig til|løper til|slutt|til)\W*(?:den\s+)?$",
    re.IGNORECASE,
)
_SUPPLIER_TEXT = re.compile(
    r"(?:leverandør(?:en)?(?:\s+er)?|tildelt|inngått med|avtale med|avtalepart)\s*:?\s+"
    r"([A-ZÆØÅ0-9][\w&.'\- ]{1,80}?\b(?:ASA|AS|SA|AB|A/S|Ltd|GmbH)\b)",
)
_SUPPLIER_AFTER_LABEL = re.compile(
    r"leverandør(?:en)?\s*:\s*([^\n;|]{2,100}?)(?=\.\s|\.?$|\n|;|\|)", re.IGNORECASE
)


def parse_norwegian_date(text: str | None) -> dt.date | None:
    """The first date in ``text``: ``01.04.2023``, ``1.4.23``, ``2023-04-01``, ``1. april 2023``."""
    if not text:
        return None
    for m in DATE_PATTERN.finditer(text):
        d = _match_date(m)
        if d is not None:
            return d
    return None


def _match_date(m: re.Match[str]) -> dt.date | None:
    g = m.groups()
    try:
        if g[0]:
            year = int(g[2])
            year = year + 2000 if year < 100 else year
            return dt.date(year, int(g[1]), int(g[0]))
        if g[3]:
            return dt.date(int(g[3]), int(g[4]), int(g[5]))
        return dt.date(int(g[8]), MONTHS[g[7].lower()], int(g[6]))
    except ValueError:
        return None


def find_dates(text: str) -> tuple[dt.date | None, dt.date | None]:
    """(start, end) in free text by the words before each date; two bare dates = start, end."""
    start = end = None
    bare: list[dt.date] = []
    for m in DATE_PATTERN.finditer(text):
        d = _match_date(m)
        if d is None:
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        if _END_WORDS.search(before):
            end = end or d
        elif _START_WORDS.search(before):
            start = start or d
        else:
            bare.append(d)
    if start is None and end is None and len(bare) >= 2:
        start, end = bare[0], bare[1]
    elif end is None and start is not None and bare:
        end = bare[0]
    elif start is None and end is not None and bare and bare[0] < end:
        start = bare[0]
    return start, end


@dataclass
class SiteConfig:
    """Where one site's agreements are (CSS selectors, relative to each block)."""

    name: str
    url: str
    block: str
    buyer_name: str | None = None
    buyer_orgnr: str | None = None
    title: str | None = None
    supplier: str | None = None
    start: str | None = None
    end: str | None = None
    text: str | None = None
    framework: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> SiteConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
        for required in ("name", "url", "block"):
            if not data.get(required):
                raise ConfigError(f"{where}: '{required}' is required")
        if data.get("buyer_orgnr"):
            number, warning = clean_orgnr(str(data["buyer_orgnr"]))
            if number is None:
                raise ConfigError(f"{where}: buyer_orgnr: {warning}")
            data = {**data, "buyer_orgnr": number}
        return cls(**data)


def load_sites(path: str | Path) -> list[SiteConfig]:
    """Site configs from a YAML file (a list, or a mapping with ``sites:``)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read agreement page config: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("sites")
    if not isinstance(data, list):
        raise ConfigError(f"{p}: expected a list of sites (or 'sites:')")
    return [SiteConfig.from_dict(d, f"{p}: site {i}") for i, d in enumerate(data, start=1)]


@dataclass
class PageAgreement:
    """One agreement read from a page (plain values; ``as_item`` for Scrapy)."""

    site: str
    url: str
    buyer_name: str | None
    buyer_orgnr: str | None
    title: str | None
    supplier_name: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    latest_end: dt.date | None
    options_text: str | None
    framework: bool
    text: str
    warnings: list[str] = field(default_factory=list)

    def as_item(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("start_date", "end_date", "latest_end"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def _select_text(block: Tag, selector: str | None) -> str | None:
    if not selector:
        return None
    el = block.select_one(selector)
    if el is None:
        return None
    text = " ".join(el.get_text(" ", strip=True).split())
    return text or None


def extract_agreements(
    html: str | bytes, site: SiteConfig, url: str | None = None
) -> list[PageAgreement]:
    """Agreements in one page of ``site``: one per block that gives a start or end date."""
    soup = BeautifulSoup(html, "html.parser")
    out: list[PageAgreement] = []
    for block in soup.select(site.block):
        if block.find("th") is not None and block.find("td") is None:
            continue  # a header row
        text = _select_text(block, site.text) or " ".join(block.get_text(" ", strip=True).split())
        if not text:
            continue
        warnings: list[str] = []
        title = _select_text(block, site.title)
        if title is None:
            heading = block.find(["h1", "h2", "h3", "h4", "strong"])
            title = " ".join(heading.get_text(" ", strip=True).split()) if heading else None
        supplier = _select_text(block, site.supplier)
        if supplier is None:
            m = _SUPPLIER_AFTER_LABEL.search(text) or _SUPPLIER_TEXT.search(text)
            supplier = m.group(1).strip(" .,") if m else None
        free_start, free_end = find_dates(text)
        start = parse_norwegian_date(_select_text(block, site.start)) or free_start
        end = parse_norwegian_date(_select_text(block, site.end)) or free_end
        if site.end and end is None:
            warnings.append("no end date in the end column")
        if start is None and end is None:
            continue  # no dates: not an agreement (or not yet one: "under anskaffelse")
        options = None
        latest = end
        ext = parse_extension(text)
        if ext is not None and end is not None and ext[0] > 0:
            options = ext[1]
            latest = add_months(end, ext[0])
        out.append(
            PageAgreement(
                site=site.name,
                url=url or site.url,
                buyer_name=clean_name(site.buyer_name) or None,
                buyer_orgnr=site.buyer_orgnr,
                title=title,
                supplier_name=clean_name(supplier) or None,
                start_date=start,
                end_date=end,
                latest_end=latest,
                options_text=options,
                framework=site.framework or bool(title and "rammeavtale" in title.lower()),
                text=text[:2000],
                warnings=warnings,
            )
        )
    return out
