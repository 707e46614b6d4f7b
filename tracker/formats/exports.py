"""Lists (rows of plain dicts) to CSV and XLSX as Norwegian Excel users read them.

- **XLSX** (openpyxl): headers in Norwegian bokmål by default (English by choice), dates
  and numbers as typed cells (``dd.mm.yyyy``, ``# ##0``), times in Europe/Oslo, column
  widths from the content, the header row frozen, an autofilter, and hyperlinks (URL
  columns, and the title to the row's page in the tracker when the row has one).
- **CSV**, two dialects: ``excel`` (the default: what Excel in Norway opens with a
  double click: ``;`` separated, UTF-8 with a BOM, decimal comma, ``dd.mm.yyyy``, times
  in Oslo time) and ``plain`` (for machines: ``,`` separated, UTF-8, ISO dates and times,
  decimal point).

Both write the header row also when there are no rows, and never a Python value
(``True``, ``None``, ``30000000.0``): yes/no words, empty cells, whole numbers without
``.0``. Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with ``'``: notice text is untrusted
and an export must not become a formula injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
LANGUAGES = ("nb", "en")
DIALECTS = ("excel", "plain")
OSLO = ZoneInfo("Europe/Oslo")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_YES_NO = {"nb": ("Ja", "Nei"), "en": ("Yes", "No")}
_MAX_WIDTH = 60
_PAGE_COLUMN = "page"  # the row's page in the tracker (an absolute URL), see ``to_xlsx``
_URL_COLUMNS = {"url", "doffin_url", "documents_url", _PAGE_COLUMN}
_TITLE_COLUMNS = ("title", "name", "account")

# Column key -> (bokmål, English). Keys missing here get a readable form of the key.
HEADERS: dict[str, tuple[str, str]] = {
    "id": ("ID", "ID"),
    "notice_pk": ("Kunngjøring (ID)", "Notice (ID)"),
    "source": ("Kilde", "Source"),
    "source_id": ("Kunngjøringsnr.", "Notice no."),
    "notice_id": ("eForms-ID", "eForms ID"),
    "version": ("Versjon", "Version"),
    "subtype": ("Kunngjøringstype", "Notice type"),
    "phase": ("Fase", "Phase"),
    "issue_date": ("Publisert", "Published"),
    "title": ("Tittel", "Title"),
    "buyer": ("Oppdragsgiver", "Buyer"),
    "buyers": ("Oppdragsgivere", "Buyers"),
    "buyer_name": ("Oppdragsgiver", "Buyer"),
    "main_cpv": ("CPV-kode", "CPV code"),
    "cpv": ("CPV-kode", "CPV code"),
    "estimated_value": ("Anslått verdi", "Estimated value"),
    "value": ("Verdi", "Value"),
    "value_kind": ("Verditype", "Value kind"),
    "currency": ("Valuta", "Currency"),
    "procedure_type": ("Prosedyre", "Procedure"),
    "is_test": ("Testkunngjøring", "Test notice"),
    "fit": ("Treff i profilen", "Profile fit"),
    "account": ("Kunde", "Account"),
    "accounts": ("Kunder", "Accounts"),
    "account_id": ("Kunde (ID)", "Account (ID)"),
    "name": ("Navn", "Name"),
    "orgnr": ("Org.nr.", "Org. no."),
    "orgnrs": ("Org.nr.", "Org. no."),
    "tier": ("Nivå", "Tier"),
    "kam": ("Kundeansvarlig", "Key account manager"),
    "kam_email": ("Kundeansvarlig", "Key account manager"),
    "team": ("Team", "Team"),
    "buyer_type": ("Type oppdragsgiver", "Buyer type"),
    "notices": ("Kunngjøringer", "Notices"),
    "contracts": ("Kontrakter", "Contracts"),
    "suggested": ("Foreslåtte koblinger", "Suggested links"),
    "suggested_links": ("Foreslåtte koblinger", "Suggested links"),
    "kind": ("Type", "Kind"),
    "key": ("Nøkkel", "Key"),
    "expiry": ("Utløper", "Expires"),
    "expiry_source": ("Utløpsdato fra", "Expiry from"),
    "end_source": ("Sluttdato fra", "End date from"),
    "influence_opens": ("Påvirkning åpner", "Influence opens"),
    "drafting_starts": ("Spesifikasjon skrives fra", "Drafting starts"),
    "expected_publication": ("Forventet kunngjøring", "Expected publication"),
    "expected_deadline": ("Forventet tilbudsfrist", "Expected deadline"),
    "expected_award": ("Forventet tildeling", "Expected award"),
    "contract_start": ("Kontraktstart", "Contract start"),
    "can_influence": ("Kan påvirkes nå", "Can influence now"),
    "days_left": ("Dager igjen", "Days left"),
    "confidence": ("Sikkerhet", "Confidence"),
    "reason": ("Begrunnelse", "Reason"),
    "budget_start": ("Budsjettvindu fra", "Budget window from"),
    "budget_end": ("Budsjettvindu til", "Budget window to"),
    "budget_status": ("Budsjettvindu", "Budget window"),
    "start": ("Fra", "From"),
    "end": ("Til", "To"),
    "status": ("Status", "Status"),
    "deadline": ("Tilbudsfrist", "Deadline"),
    "deadline_at": ("Tilbudsfrist (tid)", "Deadline (time)"),
    "score": ("Poeng", "Score"),
    "total": ("Poeng", "Score"),
    "recommendation": ("Anbefaling", "Recommendation"),
    "lots": ("Delkontrakter", "Lots"),
    "criteria": ("Tildelingskriterier", "Award criteria"),
    "bid_status": ("Tilbudsstatus", "Bid status"),
    "decision": ("Beslutning", "Decision"),
    "doffin_url": ("Doffin", "Doffin"),
    "documents_url": ("Konkurransegrunnlag", "Tender documents"),
    "url": ("Lenke", "Link"),
    _PAGE_COLUMN: ("Side i trackeren", "Page in the tracker"),
    "supplier": ("Leverandør", "Supplier"),
    "suppliers": ("Leverandører", "Suppliers"),
    "incumbent": ("Nåværende leverandør", "Incumbent"),
    "us": ("Oss", "Us"),
    "competitors": ("Konkurrenter", "Competitors"),
    "count": ("Antall", "Count"),
    "email": ("E-post", "E-mail"),
    "phone": ("Telefon", "Phone"),
    "role": ("Rolle", "Role"),
    "notes": ("Notater", "Notes"),
    "note": ("Notat", "Note"),
    "date": ("Dato", "Date"),
    "when": ("Dato", "Date"),
    "summary": ("Sammendrag", "Summary"),
    "created_by": ("Registrert av", "Recorded by"),
    "created_at": ("Registrert", "Recorded"),
    "updated_at": ("Endret", "Changed"),
    "lot_id": ("Delkontrakt", "Lot"),
    "framework": ("Rammeavtale", "Framework agreement"),
    "link_status": ("Kobling", "Link"),
    "method": ("Koblingsmetode", "Link method"),
    "link_id": ("Kobling (ID)", "Link (ID)"),
    "open_windows": ("Åpne påvirkningsvinduer", "Open influence windows"),
    "days_to_start": ("Dager til start", "Days to start"),
    "opportunities": ("Muligheter", "Opportunities"),
    "buyer_orgnr": ("Oppdragsgivers org.nr.", "Buyer's org. no."),
    "account_orgnr": ("Kundens org.nr.", "Account's org. no."),
    "user_email": ("Registrert av", "Recorded by"),
    "opportunity_key": ("Mulighet", "Opportunity"),
    "next_end": ("Neste sluttdato", "Next end"),
    "end_date": ("Sluttdato", "End date"),
    "option_ends": ("Opsjoner til", "Options until"),
    "latest_end": ("Seneste sluttdato", "Latest end"),
    "latest_end_source": ("Seneste sluttdato fra", "Latest end from"),
    "end_confidence": ("Sikkerhet sluttdato", "End date confidence"),
    "start_date": ("Startdato", "Start date"),
    "start_source": ("Startdato fra", "Start date from"),
    "value_shared": ("Verdi delt", "Value shared"),
    "parallel_suppliers": ("Parallelle leverandører", "Parallel suppliers"),
    "direct_award": ("Direkte tildeling", "Direct award"),
    "regime": ("Regelverk", "Regime"),
    "retender": ("Ny konkurranse", "Re-tender"),
    "challenge_until": ("Karensperiode til", "Standstill until"),
    "evidence_text": ("Kilde i kunngjøringen", "Evidence"),
    "procedure_id": ("Prosedyre-ID", "Procedure ID"),
    "since": ("Siden", "Since"),
    "text": ("Tekst", "Text"),
}


def header(column: str, language: str = "nb") -> str:
    """The column's heading in ``language`` (nb or en); unknown keys read as words."""
    labels = HEADERS.get(column)
    if labels is not None:
        return labels[1] if language == "en" else labels[0]
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _defuse(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _oslo(value: dt.datetime) -> dt.datetime:
    """A naive Oslo wall-clock time (stored times are UTC; naive ones are taken as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(OSLO).replace(tzinfo=None)


def _number(value: Any) -> int | float | None:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def _text(value: Any, language: str, iso: bool = False) -> str:
    """Flatten a list or mapping to readable text (never its Python repr); ``iso``: ISO
    dates, decimal point and true/false (the plain dialect)."""
    if isinstance(value, Mapping):
        parts = [
            f"{header(str(k), language)}: {_plain_text(v, language, iso)}"
            for k, v in value.items()
            if v not in (None, "", [], {})
        ]
        return "; ".join(parts)
    return "; ".join(_plain_text(v, language, iso) for v in value if v not in (None, ""))


def _plain_text(value: Any, language: str, iso: bool = False) -> str:
    yes, no = ("true", "false") if iso else _YES_NO.get(language, _YES_NO["nb"])
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, dt.datetime):
        if iso:
            aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return aware.astimezone(OSLO).isoformat(timespec="minutes")
        return _oslo(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat() if iso else value.strftime("%d.%m.%Y")
    if isinstance(value, float | Decimal):
        n = _number(value)
        return "" if n is None else str(n) if iso else str(n).replace(".", ",")
    if isinstance(value, Mapping | list | tuple | set):
        return _text(value, language, iso)
    return str(value)


def _iso_date_or_time(value: str) -> dt.date | dt.datetime | None:
    """An ISO date or date-time string as a typed value (rows built for JSON carry them)."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    if 16 <= len(value) <= 32 and value[4] == "-" and value[10] == "T":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def typed(value: Any, language: str = "nb") -> Any:
    """The value as a spreadsheet cell: None, bool word, int, float, date, naive Oslo
    datetime or (defused) text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        yes, no = _YES_NO.get(language, _YES_NO["nb"])
        return yes if value else no
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, dt.datetime):
        return _oslo(value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        parsed = _iso_date_or_time(value)
        if parsed is not None:
            return typed(parsed, language)
        return _defuse(value)
    if isinstance(value, Mapping | list | tuple | set):
        return _defuse(_text(value, language)) or None
    return _defuse(str(value))


def columns_of(rows: list[dict[str, Any]], columns: list[str] | None) -> list[str]:
    """The given columns, else every key of the rows in first-seen order."""
    if columns is not None:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _csv_cell(value: Any, dialect: str, language: str) -> str:
    if dialect == "plain":  # ISO dates and times (Oslo offset), decimal point, true/false
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return aware.astimezone(OSLO).isoformat(timespec="minutes")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, int | float | Decimal):
            n = _number(value)
            return "" if n is None else str(n)
        if isinstance(value, Mapping | list | tuple | set):
            return _defuse(_text(value, "en", iso=True))
        return _defuse(str(value))
    v = typed(value, language)
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%d.%m.%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d.%m.%Y")
    if isinstance(v, float):
        return repr(v).replace(".", ",")
    return str(v)


def to_csv(
    rows: list[dict[str, Any]],
    columns: list[str] | None = None,
    *,
    dialect: str = "excel",
    language: str = "nb",
) -> bytes:
    """CSV with one header row (also with no rows); ``dialect`` excel (Norway) or plain."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect: {dialect!r} is not one of {', '.join(DIALECTS)}")
    cols = columns_of(rows, columns)
    buf = io.StringIO()
    if dialect == "excel":
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow([header(c, language) for c in cols])
    else:
        writer = csv.writer(buf, delimiter=",", lineterminator="\n")
        writer.writerow(cols)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c), dialect, language) for c in cols])
    text = buf.getvalue()
    return text.encode("utf-8-sig") if dialect == "excel" else text.encode("utf-8")


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    if isinstance(value, int | float):
        return len(f"{value:,.0f}") + 1
    return max((len(line) for line in str(value).splitlines()), default=0)


def to_xlsx(
    rows: list[dict[str, Any]],
    columns: list[str] | None = None,
    sheet: str = "export",
    *,
    language: str = "nb",
    link: Callable[[dict[str, Any]], str | None] | None = None,
    note: tuple[str, str] | None = None,
) -> bytes:
    """An XLSX workbook with the rows on one sheet (name cut to Excel's 31 characters):
    typed cells, widths, frozen header, autofilter; URL columns as hyperlinks and, when
    ``link(row)`` gives the row's page, its title (or name) linked to that page.
    ``note``: (sheet name, text) of a sheet put before it and opened first, for what the
    reader must see (a cut list)."""
    cols = columns_of(rows, columns)
    wb = Workbook()
    ws = wb.active
    ws.title = (sheet[:31] or "export").replace("/", "-")
    ws.append([header(c, language) for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [len(header(c, language)) + 2 for c in cols]
    title_col = next((c for c in _TITLE_COLUMNS if c in cols), None)
    link_font = Font(color="0563C1", underline="single")
    for r, row in enumerate(rows, start=2):
        page = link(row) if link else None
        for i, col in enumerate(cols, start=1):
            value = typed(row.get(col), language)
            cell = ws.cell(row=r, column=i, value=value)
            if isinstance(value, dt.datetime):
                cell.number_format = "dd.mm.yyyy hh:mm"
            elif isinstance(value, dt.date):
                cell.number_format = "dd.mm.yyyy"
            elif isinstance(value, int):
                cell.number_format = "#,##0"
            elif isinstance(value, float):
                cell.number_format = "#,##0.00"
            target = None
            if col in _URL_COLUMNS and isinstance(value, str) and value.startswith("http"):
                target = value
            elif col == title_col and page:
                target = page
            if target:
                cell.hyperlink = target
                cell.font = link_font
            widths[i - 1] = max(widths[i - 1], _width(value) + 2)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(w, _MAX_WIDTH)
    if cols:
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(len(rows) + 1, 1)}"
    if note is not None:
        info = wb.create_sheet((note[0][:31] or "note").replace("/", "-"), 0)
        info["A1"] = _defuse(note[1])
        info["A1"].font = Font(bold=True)
        info.column_dimensions["A"].width = min(len(note[1]) + 2, 120)
        wb.active = 0
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export(
    rows: list[dict[str, Any]],
    fmt: str,
    columns: list[str] | None = None,
    sheet: str = "export",
    *,
    language: str = "nb",
    dialect: str = "excel",
    link: Callable[[dict[str, Any]], str | None] | None = None,
    note: tuple[str, str] | None = None,
) -> tuple[bytes, str]:
    """``(content, media type)`` of ``rows`` as ``fmt`` (csv or xlsx); ``note``: a sheet
    of its own in XLSX (a CSV has only its rows)."""
    if language not in LANGUAGES:
        raise ValueError(f"lang: {language!r} is not one of {', '.join(LANGUAGES)}")
    if fmt == "csv":
        return to_csv(rows, columns, dialect=dialect, language=language), FORMATS["csv"]
    if fmt == "xlsx":
        return (
            to_xlsx(rows, columns, sheet, language=language, link=link, note=note),
            FORMATS["xlsx"],
        )
    raise ValueError(f"unknown export format {fmt!r} (csv or xlsx)")
