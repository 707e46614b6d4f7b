"""Lists (rows of plain dicts) to CSV and XLSX with pandas and openpyxl.

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'``: notice text is untrusted and an
export must not become a formula injection.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pandas as pd

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, list | tuple | set):
        return _cell("; ".join(str(v) for v in value))
    if isinstance(value, dict):
        return _cell("; ".join(f"{k}={v}" for k, v in value.items()))
    return value


def to_frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame of ``rows`` with safe cell values, columns in the given order."""
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    data = [{c: _cell(r.get(c)) for c in columns} for r in rows]
    return pd.DataFrame(data, columns=columns)


def to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    """CSV in UTF-8 with a BOM (so Excel shows æøå), one header row."""
    return to_frame(rows, columns).to_csv(index=False).encode("utf-8-sig")


def to_xlsx(
    rows: list[dict[str, Any]], columns: list[str] | None = None, sheet: str = "export"
) -> bytes:
    """An XLSX workbook with one sheet (name cut to Excel's 31 characters)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        to_frame(rows, columns).to_excel(writer, index=False, sheet_name=sheet[:31] or "export")
    return buf.getvalue()


def export(
    rows: list[dict[str, Any]], fmt: str, columns: list[str] | None = None, sheet: str = "export"
) -> tuple[bytes, str]:
    """``(content, media type)`` of ``rows`` as ``fmt`` (csv or xlsx)."""
    if fmt == "csv":
        return to_csv(rows, columns), FORMATS["csv"]
    if fmt == "xlsx":
        return to_xlsx(rows, columns, sheet), FORMATS["xlsx"]
    raise ValueError(f"unknown export format {fmt!r} (csv or xlsx)")
