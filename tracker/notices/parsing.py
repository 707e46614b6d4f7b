"""One entry point for every notice format the tracker reads.

``parse_any(data, location=...)`` looks at the root element (without parsing the
document) and hands the bytes to the eForms parser (``tracker.notices.eforms``, UBL roots) or to
the TED XML reader of the notices published before eForms (``tracker.notices.ted_legacy``,
``TED_EXPORT``). Both return the same ``ParsedNotice``; both refuse DTDs and entities and
raise ``NoticeParseError`` for what is no notice. ``tracker parse``, ``tracker ingest``,
``tracker reparse`` and the spiders (through the ingest) use it.
"""

from __future__ import annotations

from tracker.notices.eforms import parse_notice
from tracker.notices.records import ParsedNotice
from tracker.notices.ted_legacy import is_ted_export, parse_ted_legacy

FORMATS = ("eforms", "ted-legacy")


def notice_format(data: bytes) -> str:
    """``ted-legacy`` when the root element is TED_EXPORT, else ``eforms`` (whose parser
    gives the error for anything that is neither)."""
    if isinstance(data, bytes | bytearray | memoryview):
        raw = data if isinstance(data, bytes) else bytes(data)
        if is_ted_export(raw):  # scans the prolog and the root start tag only
            return "ted-legacy"
    return "eforms"


def parse_any(data: bytes, *, location: str | None = None) -> ParsedNotice:
    """Parse an eForms or a TED XML notice (see the module docstring)."""
    if notice_format(data) == "ted-legacy":
        return parse_ted_legacy(data, location=location)
    return parse_notice(data, location=location)
