"""Reading notice XML safely and quickly: shared by the eForms and the TED XML readers.

- :func:`_load`: the bytes parsed with a safe parser (no DTD, no entities, no network;
  ``UnsafeXMLError`` otherwise), blank text and comments dropped;
- element helpers (``_child``, ``_kids``, ``_groups``, ``_path``, ``_ctext``...): plain
  loops over an element's children, no XPath (the parser's hot path: ``bench/ingest.py``);
- :class:`_Ctx`: the per-notice state (preferred languages, warnings) and the readers of
  texts, dates, amounts and deadlines that warn about what they cannot read;
- :func:`oslo_wall_clock`: deadlines written with Oslo's summer offset in winter.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from tracker.errors import NoticeParseError, UnsafeXMLError
from tracker.notices.subtypes import PLACEHOLDER_YEAR
from tracker.notices.text import has_mojibake, repair_mojibake

OSLO = ZoneInfo("Europe/Oslo")
NORWEGIAN = ("NOB", "NOR", "NNO")

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
CAC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2}"
EXT = "{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}"
EFEXT = "{http://data.europa.eu/p27/eforms-ubl-extensions/1}"
EFAC = "{http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1}"
EFBC = "{http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1}"

_XML_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,  # retroconverted notices carry a comment per field
    remove_pis=True,
    remove_blank_text=True,  # indentation-only text nodes: a third of the parse time
)
_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*(Z|[+-]\d{2}:\d{2})?\s*$")
_TIME = re.compile(r"^\s*(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:\d{2})?\s*$")
# 2000-01-01 stands for "no date" in converted notices (award dates of VEATs, CANs).
PLACEHOLDER_START = dt.date(2000, 1, 1)

# --------------------------------------------------------------------------- element helpers


def _child(el: Any, tag: str) -> Any:
    """First child of ``el`` with ``tag`` (Clark notation), or None.

    A plain loop: ``iterchildren(tag)`` costs ~1.7 us to set up, comparing the tags of
    the few children of a UBL element ~0.3 us each.
    """
    if el is None:
        return None
    for c in el:
        if c.tag == tag:
            return c
    return None


def _kids(el: Any) -> dict[str, Any]:
    """First child of ``el`` per tag: one pass instead of a search per field."""
    kids: dict[str, Any] = {}
    for c in el:
        kids.setdefault(c.tag, c)
    return kids


def _groups(el: Any) -> dict[str, list[Any]]:
    """Children of ``el`` by tag, in document order: one pass for elements read field by
    field (``iterchildren(tag)`` per field would walk them again each time)."""
    out: dict[str, list[Any]] = {}
    for c in el:
        tag = c.tag
        if tag in out:
            out[tag].append(c)
        else:
            out[tag] = [c]
    return out


def _first(groups: dict[str, list[Any]], tag: str) -> Any:
    found = groups.get(tag)
    return found[0] if found else None


def _path(el: Any, *tags: str) -> Any:
    """``el/tags[0]/tags[1]/...``: the first child at each step, or None."""
    for tag in tags:
        if el is None:
            return None
        for c in el:
            if c.tag == tag:
                el = c
                break
        else:
            return None
    return el


def _text(el: Any) -> str | None:
    if el is None:
        return None
    t = el.text
    if t is None:
        return None
    t = t.strip()
    return t or None


def _ctext(el: Any, *tags: str) -> str | None:
    """Stripped text of ``el/tags[0]/...`` (None when absent or blank); one call, no
    helper calls per step (the parser's hottest function)."""
    for tag in tags:
        if el is None:
            return None
        for c in el:
            if c.tag == tag:
                el = c
                break
        else:
            return None
    if el is None:
        return None
    t = el.text
    if t is None:
        return None
    t = t.strip()
    return t or None


def _eforms_in(exts: Any) -> Any:
    """``ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension``
    of an ext:UBLExtensions element (or None)."""
    if exts is None:
        return None
    for ext in exts:
        if ext.tag != EXT + "UBLExtension":
            continue
        found = _path(ext, EXT + "ExtensionContent", EFEXT + "EformsExtension")
        if found is not None:
            return found
    return None


class _Ctx:
    """Per-notice state: preferred languages and the warnings collected so far."""

    __slots__ = ("langs", "warnings", "repaired")

    def __init__(self) -> None:
        self.langs: tuple[str, ...] = NORWEGIAN
        self.warnings: list[str] = []
        self.repaired = 0

    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def clean(self, s: str | None, what: str | None = None) -> str | None:
        """Repair mojibake (and note it); ``what`` names the field in a specific warning."""
        if s is None or not has_mojibake(s):
            return s
        fixed = repair_mojibake(s)
        if fixed != s:
            self.repaired += 1
            if what:
                self.warn(f"repaired mojibake in {what}: {s!r} -> {fixed!r}")
        return fixed

    def lang_text(self, el: Any, tag: str, what: str | None = None) -> str | None:
        """The text of the ``tag`` children of ``el`` in the preferred language."""
        if el is None:
            return None
        return self.clean(self.pick_lang(el.iterchildren(tag)), what)

    def lang_of(self, elements: list[Any] | None, what: str | None = None) -> str | None:
        """Like ``lang_text`` for elements already picked out (a ``_groups`` entry)."""
        if not elements:
            return None
        return self.clean(self.pick_lang(elements), what)

    def pick_lang(self, elements: Any) -> str | None:
        """The non-empty text among ``elements`` in the preferred language (else the first)."""
        best: str | None = None
        best_rank = 1_000
        for c in elements:
            t = _text(c)
            if t is None:
                continue
            lang = (c.get("languageID") or "").upper()
            rank = self.langs.index(lang) if lang in self.langs else 100
            if rank < best_rank:
                best, best_rank = t, rank
        return best

    def date(self, el: Any, what: str) -> dt.date | None:
        raw = _text(el)
        if raw is None:
            return None
        parsed = _parse_date(raw)
        if parsed is None:
            self.warn(f"unparseable date in {what}: {raw!r}")
            return None
        day = parsed[0]
        if day.year >= PLACEHOLDER_YEAR or day == PLACEHOLDER_START:
            self.warn(f"placeholder date {day.isoformat()} in {what} ignored")
            return None
        return day

    def amount(self, el: Any, what: str) -> tuple[Decimal | None, str | None]:
        raw = _text(el)
        if raw is None:
            return None, None
        try:
            value = Decimal(raw.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            self.warn(f"unparseable amount in {what}: {raw!r}")
            return None, None
        if not value.is_finite():
            self.warn(f"unparseable amount in {what}: {raw!r}")
            return None, None
        return value, (el.get("currencyID") or None)

    def deadline(self, period: Any, what: str) -> tuple[dt.datetime | None, bool]:
        """EndDate + EndTime of a period as an aware datetime (Europe/Oslo when no offset).

        A date without a time becomes 23:59:59 that day and the flag is False.
        """
        if period is None:
            return None, False
        raw_date = _ctext(period, CBC + "EndDate")
        if raw_date is None:
            return None, False
        parsed = _parse_date(raw_date)
        if parsed is None:
            self.warn(f"unparseable date in {what}: {raw_date!r}")
            return None, False
        day, tz = parsed
        if day.year >= PLACEHOLDER_YEAR:
            self.warn(f"placeholder deadline {day.isoformat()} in {what} ignored")
            return None, False
        raw_time = _ctext(period, CBC + "EndTime")
        clock: tuple[int, int, int] | None = None
        if raw_time is not None:
            t = _TIME.match(raw_time)
            if t is None:
                self.warn(f"unparseable time in {what}: {raw_time!r}")
            else:
                clock = (int(t.group(1)), int(t.group(2)), int(t.group(3) or 0))
                if t.group(4):
                    tz = _tz(t.group(4))
        zone = tz or OSLO
        try:
            if clock is None:
                return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone), False
            hour, minute, second = clock
            if hour == 24:  # 24:00 is end of day in ISO 8601
                hour, minute, second = 23, 59, 59
            return oslo_wall_clock(
                dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)
            ), True
        except ValueError:
            self.warn(f"invalid time in {what}: {raw_time!r}")
            return None, False


SUMMER_OFFSET = dt.timedelta(hours=2)


def oslo_wall_clock(value: dt.datetime) -> dt.datetime:
    """The buyer's time of a deadline written with Oslo's summer offset in winter.

    Notices of 2022 and early 2023 (Doffin's and the TED converter's tools) write
    ``+02:00`` all year: 2023-649037 says ``2023-03-17`` ``13:00:00+02:00``, 2022-902600
    ``2022-11-25`` ``00:00:00+02:00``, others ``12:00:00+02:00`` in December. Taken
    literally those are 12:00 and 23:00 the day before in Oslo, times no buyer sets;
    the time of day as written is the buyer's (later notices write ``+01:00`` in
    winter). So a ``+02:00`` time on a day when Oslo is at ``+01:00`` is read as Oslo
    time; every other offset is kept as written.
    """
    if value.utcoffset() != SUMMER_OFFSET:
        return value
    local = value.replace(tzinfo=OSLO)
    if local.utcoffset() == SUMMER_OFFSET:
        return value
    return local


@functools.lru_cache(maxsize=64)
def _tz(s: str) -> dt.tzinfo:
    if s == "Z":
        return dt.UTC
    sign = 1 if s[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=int(s[1:3]), minutes=int(s[4:6])))


def _parse_date(raw: str) -> tuple[dt.date, dt.tzinfo | None] | None:
    """``2024-07-04``, ``2024-07-04+02:00``, ``2024-07-04Z`` → (date, offset or None)."""
    m = _DATE.match(raw)
    if m is None:
        return None
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return day, (_tz(m.group(4)) if m.group(4) else None)


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(Decimal(raw))
    except (InvalidOperation, ValueError):
        return None


# --------------------------------------------------------------------------- loading


def _has_doctype(data: bytes) -> bool:
    """True when a declaration (``<!DOCTYPE``, the only place for entities) precedes the root.

    Only the prolog is scanned (XML declaration, processing instructions, comments): a
    search of the whole document cost a sixth of the parse time. Anything the scan misses
    (other encodings) is caught after parsing by the docinfo check in ``_load``.
    """
    i = prolog_end(data)
    return i >= 0 and data.startswith(b"<!", i)  # else the root element: the prolog is over


def prolog_end(data: bytes) -> int:
    """Offset of the first ``<`` after the XML declaration, processing instructions and
    comments (a ``<!DOCTYPE`` or the root element), -1 when there is none or the prolog
    is unterminated (the parser reports it)."""
    i = 0
    while True:
        i = data.find(b"<", i)
        if i < 0:
            return -1
        if data.startswith(b"<?", i):
            end = data.find(b"?>", i + 2)
        elif data.startswith(b"<!--", i):
            end = data.find(b"-->", i + 4)
        else:
            return i
        if end < 0:
            return -1
        i = end + 2


def _load(
    data: bytes, location: str | None, prepare: Callable[[bytes, str], bytes] | None = None
) -> Any:
    """The root element of ``data``, parsed safely (no DTD, no entities, no network).
    ``prepare`` may replace the bytes that are parsed once the checks passed (the TED XML
    reader keeps only the parts it reads)."""
    where = location or "<notice>"
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NoticeParseError(f"{where}: expected bytes, got {type(data).__name__}")
    if not isinstance(data, bytes):
        data = bytes(data)
    if not data or data.isspace():
        raise NoticeParseError(f"{where}: empty file")
    if _has_doctype(data):
        raise UnsafeXMLError(f"{where}: DTDs and entity declarations are refused (XML bomb guard)")
    if prepare is not None:
        data = prepare(data, where)
    try:
        root = etree.fromstring(data, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise NoticeParseError(f"{where}: not well-formed XML: {exc}") from None
    if root is None:
        raise NoticeParseError(f"{where}: no XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXMLError(f"{where}: DTDs and entity declarations are refused")
    return root
