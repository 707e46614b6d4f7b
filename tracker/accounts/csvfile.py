"""CSV files as spreadsheets save them: comma or semicolon separated, maybe with a BOM.

Excel in a Norwegian (or any comma-decimal) locale saves "CSV" with ``;`` between
fields; others save ``,``. The separator is the one that splits the header row into
the most known column names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

DELIMITERS = (",", ";", "\t")


def header_line(text: str) -> str:
    """The first non-empty line of ``text`` (a BOM already removed by ``utf-8-sig``)."""
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff_delimiter(text: str, known: Iterable[str]) -> str:
    """``,``, ``;`` or tab: whichever finds most of the ``known`` column names in the
    header; ``,`` when none finds more (a one-column file, an unknown header)."""
    names = {k.lower() for k in known}
    line = header_line(text)
    best, score = ",", 0
    for delimiter in DELIMITERS:
        fields = next(csv.reader([line], delimiter=delimiter), [])
        found = sum(f.strip().lower().replace(" ", "_") in names for f in fields)
        if found > score:
            best, score = delimiter, found
    return best
