"""Agreements a KAM knows from the CRM (CSV/XLSX) and agreements read from buyer web pages.

Import columns (header names, any case; only ``buyer`` or ``buyer_orgnr``, ``supplier``
and ``end_date`` are required)::

    buyer, buyer_orgnr, supplier, supplier_orgnr, title, start_date, end_date,
    latest_end, value, currency, framework, cpv, reference, notes

Dates as ``2024-08-31``, ``31.08.2024`` or ``31. august 2024``. Rows are numbered as a
spreadsheet shows them (header row 1); a CSV may be comma or semicolon separated (what
Excel saves in a Norwegian locale), with or without a BOM. Any invalid row stops the
import and nothing is stored, unless ``skip_invalid``. Agreements are stored as
``contracts`` (source ``import``; key ``import:<reference>`` or derived from buyer,
supplier, title and start), so a re-import updates them in place; a column left out
of the file leaves that field as stored, and agreements that do not change are
counted ``unchanged``. They reach accounts like notice contracts do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tracker.accounts.csvfile import sniff_delimiter
from tracker.contracts.agreement_pages import parse_norwegian_date
from tracker.db.models import Contract, ContractParty
from tracker.errors import ImportValidationError
from tracker.linking.links import refresh_contract_accounts
from tracker.linking.names import match_key
from tracker.notices.text import clean_name
from tracker.orgnr import clean_orgnr

COLUMNS = (
    "buyer",
    "buyer_orgnr",
    "supplier",
    "supplier_orgnr",
    "title",
    "start_date",
    "end_date",
    "latest_end",
    "value",
    "currency",
    "framework",
    "cpv",
    "reference",
    "notes",
)
# Plausibility limits: amounts fit the Numeric(18, 2) columns; far-future years are the
# placeholders seen in real data (2099-01-01), not agreement dates.
MAX_VALUE = Decimal(10) ** 16
MIN_YEAR, MAX_YEAR = 1990, 2089
_TRUE = {"true", "yes", "ja", "1", "y", "x"}
_FALSE = {"false", "no", "nei", "0", "n", ""}


@dataclass
class AgreementRecord:
    """One agreement, from an import row or an agreement page (source says which)."""

    buyer_name: str | None
    buyer_orgnr: str | None
    supplier_name: str | None
    supplier_orgnr: str | None = None
    title: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    latest_end: dt.date | None = None
    value: Decimal | None = None
    currency: str | None = None
    framework: bool = False
    cpv: str | None = None
    reference: str | None = None
    notes: str | None = None
    url: str | None = None
    end_source: str = "import"
    extra: dict[str, Any] = field(default_factory=dict)
    # Import columns the file has (None: every field, e.g. from an agreement page); a
    # stored agreement keeps the fields of the columns a re-import leaves out.
    given: frozenset[str] | None = None

    def key(self, source: str) -> str:
        if self.reference:
            return f"{source}:{self.reference}"[:300]
        ident = "|".join(
            [
                self.buyer_orgnr or match_key(self.buyer_name),
                self.supplier_orgnr or match_key(self.supplier_name),
                match_key(self.title),
                self.start_date.isoformat() if self.start_date else "",
                self.url or "",
            ]
        )
        return f"{source}:{hashlib.sha256(ident.encode()).hexdigest()[:20]}"


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    s = str(value).strip()
    return s or None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _cell(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        pass
    parsed = parse_norwegian_date(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not a date (use 2024-08-31 or 31.08.2024)")
    return parsed


def _read_frame(path: Path) -> pd.DataFrame:
    source = str(path)
    if not path.is_file():
        raise ImportValidationError(source, [(None, "file", "does not exist")])
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            text = path.read_text(encoding="utf-8-sig")
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                sep=sniff_delimiter(text, COLUMNS),
            )
        elif suffix in {".xlsx", ".xlsm"}:
            frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        else:
            raise ImportValidationError(
                source, [(None, "file", f"unknown file type {suffix!r} (use .csv or .xlsx)")]
            )
    except ImportValidationError:
        raise
    except Exception as exc:  # pandas raises many kinds for unreadable files
        raise ImportValidationError(source, [(None, "file", f"cannot read: {exc}")]) from exc
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    return frame


def read_agreements_file(
    path: str | Path,
) -> tuple[list[tuple[int, AgreementRecord]], list[tuple[int | None, str, str]]]:
    """Parse and validate an agreements file: ((row, record) list, problems). No database."""
    path = Path(path)
    frame = _read_frame(path)
    problems = _column_problems(list(frame.columns))
    if problems:
        return [], problems
    given = frozenset(c for c in frame.columns if c in COLUMNS)
    records: list[tuple[int, AgreementRecord]] = []
    for i, rec in enumerate(frame.to_dict(orient="records"), start=2):
        if not any(_cell(v) for v in rec.values()):
            continue
        record, errs = _record(i, rec, given)
        if errs or record is None:
            problems.extend(errs)
            continue
        records.append((i, record))
    return records, problems


def _column_problems(columns: list[str]) -> list[tuple[int | None, str, str]]:
    """Unknown and missing columns (row 1: the header)."""
    problems: list[tuple[int | None, str, str]] = []
    for c in columns:
        if c not in COLUMNS:
            problems.append((1, c, f"unknown column (known: {', '.join(COLUMNS)})"))
    for required in ("supplier", "end_date"):
        if required not in columns:
            problems.append((1, required, "column is missing"))
    if "buyer" not in columns and "buyer_orgnr" not in columns:
        problems.append((1, "buyer", "column 'buyer' or 'buyer_orgnr' is missing"))
    return problems


def _record(
    i: int, rec: dict[str, Any], given: frozenset[str]
) -> tuple[AgreementRecord | None, list[tuple[int | None, str, str]]]:
    """One row as a record, or the problems of the row (row number ``i``)."""
    errs: list[tuple[int | None, str, str]] = []
    values: dict[str, Any] = {}
    for col in ("buyer_orgnr", "supplier_orgnr"):
        raw = _cell(rec.get(col))
        number, warning = clean_orgnr(raw)
        if raw and number is None:
            errs.append((i, col, warning or f"{raw!r} is not an orgnr"))
        values[col] = number
    for col in ("start_date", "end_date", "latest_end"):
        try:
            values[col] = _date(rec.get(col))
        except ValueError as exc:
            errs.append((i, col, str(exc)))
    buyer = clean_name(_cell(rec.get("buyer"))) or None
    supplier = clean_name(_cell(rec.get("supplier"))) or None
    if not buyer and not values.get("buyer_orgnr"):
        errs.append((i, "buyer", "buyer or buyer_orgnr is required"))
    if not supplier and not values.get("supplier_orgnr"):
        errs.append((i, "supplier", "is required"))
    if values.get("end_date") is None and not any(e[1] == "end_date" for e in errs):
        errs.append((i, "end_date", "is required"))
    start, end, latest = values.get("start_date"), values.get("end_date"), values.get("latest_end")
    if start and end and end < start:
        errs.append((i, "end_date", f"{end} is before start_date {start}"))
    if latest and end and latest < end:
        errs.append((i, "latest_end", f"{latest} is before end_date {end}"))
    value = _value(i, _cell(rec.get("value")), errs)
    for col, day in (("start_date", start), ("end_date", end), ("latest_end", latest)):
        if day is not None and not (MIN_YEAR <= day.year <= MAX_YEAR):
            errs.append((i, col, f"{day} is outside {MIN_YEAR}-{MAX_YEAR} (a placeholder?)"))
    raw_fw = (_cell(rec.get("framework")) or "").lower()
    if raw_fw not in _TRUE | _FALSE:
        errs.append((i, "framework", f"{raw_fw!r} is not true or false"))
    if errs:
        return None, errs
    record = AgreementRecord(
        buyer_name=buyer,
        buyer_orgnr=values["buyer_orgnr"],
        supplier_name=supplier,
        supplier_orgnr=values["supplier_orgnr"],
        title=_cell(rec.get("title")),
        start_date=start,
        end_date=end,
        latest_end=latest,
        value=value,
        currency=(_cell(rec.get("currency")) or ("NOK" if value is not None else None)),
        framework=raw_fw in _TRUE,
        cpv=_cell(rec.get("cpv")),
        reference=_cell(rec.get("reference")),
        notes=_cell(rec.get("notes")),
        given=given,
    )
    return record, []


def _value(
    i: int, raw_value: str | None, errs: list[tuple[int | None, str, str]]
) -> Decimal | None:
    """The amount of the ``value`` cell (a problem in ``errs`` when it is not one)."""
    if not raw_value:
        return None
    try:
        value = Decimal(raw_value.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        errs.append((i, "value", f"{raw_value!r} is not a number"))
        return None
    if not value.is_finite() or value < 0 or value >= MAX_VALUE:
        errs.append((i, "value", f"{raw_value!r} is not an amount from 0 to 10^16"))
        return None
    return value


def _contract_state(c: Contract, parties: list[tuple[str, str, str | None, str | None]]) -> Any:
    fields = (
        c.title, c.main_cpv, c.value, c.currency, c.framework, c.start_date, c.end_date,
        c.end_source, c.latest_end, c.latest_end_source, c.external_ref, c.url, c.notes,
    )  # fmt: skip
    return (*fields, tuple(sorted(parties, key=lambda p: (p[0], p[1]))))


def _apply_record(c: Contract, r: AgreementRecord, source: str, new: bool) -> None:
    """Set the contract's fields from ``r``: all of them for a new one, else only those
    whose column the file has (``r.given``)."""

    def has(*columns: str) -> bool:
        return new or r.given is None or any(col in r.given for col in columns)

    if has("title"):
        c.title = r.title
    if has("cpv"):
        c.main_cpv = r.cpv
    if has("value"):
        c.value = r.value
    if has("currency"):
        c.currency = r.currency
    elif r.value is not None and c.currency is None:
        c.currency = "NOK"
    if has("framework"):
        c.framework = r.framework
    if has("start_date"):
        c.start_date = r.start_date
    end_changed = has("end_date")
    if end_changed:
        c.end_date = r.end_date
        c.end_source = r.end_source if r.end_date else "unknown"
    if has("latest_end"):
        c.latest_end = r.latest_end or r.end_date
        c.latest_end_source = (
            f"{source}: stated" if r.latest_end else ("no_options" if r.end_date else None)
        )
    elif end_changed and c.latest_end_source in ("no_options", None):
        c.latest_end = c.end_date
        c.latest_end_source = "no_options" if c.end_date else None
    if has("reference"):
        c.external_ref = r.reference
    if new or r.given is None:
        c.url = r.url
    if has("notes"):
        c.notes = r.notes


def _party_rows(
    r: AgreementRecord, old: list[tuple[str, str, str | None, str | None]]
) -> list[tuple[str, str, str | None, str | None]]:
    """(role, party_key, name, orgnr) of the buyer and supplier; a name or orgnr column
    the file leaves out keeps the stored value of that role."""
    out = []
    for role, orgnr, name in (
        ("buyer", r.buyer_orgnr, r.buyer_name),
        ("supplier", r.supplier_orgnr, r.supplier_name),
    ):
        stored = next((p for p in old if p[0] == role), None)
        if stored is not None and r.given is not None:
            if f"{role}_orgnr" not in r.given:
                orgnr = stored[3]
            if role not in r.given:
                name = stored[2]
        if orgnr or name:
            out.append((role, orgnr or ("name:" + match_key(name))[:600], name, orgnr))
    return out


def store_agreements(
    session: Session, records: list[AgreementRecord], source: str
) -> dict[str, Any]:
    """Upsert agreements as contracts (source ``import`` or ``agreement_page``); flushes.

    Returns {"created", "updated", "unchanged", "contract_ids"}; contract accounts are
    refreshed for the contracts created or changed.
    """
    keys = [r.key(source) for r in records]
    existing = (
        {c.key: c for c in session.scalars(select(Contract).where(Contract.key.in_(keys)))}
        if keys
        else {}
    )
    stored_parties: dict[int, list[tuple[str, str, str | None, str | None]]] = {}
    if existing:
        for p in session.scalars(
            select(ContractParty).where(
                ContractParty.contract_id.in_([c.id for c in existing.values()])
            )
        ):
            stored_parties.setdefault(p.contract_id, []).append(
                (p.role, p.party_key, p.name, p.orgnr)
            )
    from tracker.market import changes  # the market summaries (downstream of contracts)

    change = changes.start(session, [c.id for c in existing.values()])
    created = updated = unchanged = 0
    changed: list[tuple[Contract, list[tuple[str, str, str | None, str | None]]]] = []
    all_contracts: list[Contract] = []
    for key, r in zip(keys, records, strict=True):
        c = existing.get(key)
        new = c is None
        if c is None:
            c = Contract(key=key, source=source)
            session.add(c)
            existing[key] = c
            old_parties: list[tuple[str, str, str | None, str | None]] = []
            before = None
        else:
            old_parties = stored_parties.get(c.id, [])
            before = _contract_state(c, old_parties)
        _apply_record(c, r, source, new)
        parties = _party_rows(r, old_parties)
        all_contracts.append(c)
        if new:
            created += 1
        elif _contract_state(c, parties) == before:
            unchanged += 1
            continue
        else:
            updated += 1
        changed.append((c, parties))
    session.flush()
    ids = [c.id for c, _ in changed]
    if ids:
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(ids)))
    for c, parties in changed:
        for role, party_key, name, orgnr in parties:
            session.add(
                ContractParty(
                    contract_id=c.id, role=role, party_key=party_key, name=name, orgnr=orgnr
                )
            )
    session.flush()
    refresh_contract_accounts(session, ids)
    change.also(ids)
    changes.finish(session, change)
    return {
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "contract_ids": [c.id for c in all_contracts],
    }


def import_agreements(
    session: Session, path: str | Path, skip_invalid: bool = False
) -> dict[str, Any]:
    """Import a CSV/XLSX file of agreements; commits. Errors name the row and column.

    Returns {"created", "updated", "skipped": [{"row", "field", "message"}]}.
    """
    rows, problems = read_agreements_file(path)
    if problems and (not skip_invalid or any(r == 1 for r, _, _ in problems)):
        raise ImportValidationError(str(path), problems)
    try:
        result = store_agreements(session, [r for _, r in rows], "import")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    result.pop("contract_ids", None)
    result["skipped"] = [{"row": r, "field": f, "message": m} for r, f, m in problems]
    return result


def _iso_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def store_page_agreements(session: Session, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Store agreements read from buyer pages (``PageAgreement.as_item()`` dicts); flushes.

    Keyed by site URL, buyer, supplier, title and start, so a re-crawl updates in place.
    """
    records = [
        AgreementRecord(
            buyer_name=item.get("buyer_name"),
            buyer_orgnr=item.get("buyer_orgnr"),
            supplier_name=item.get("supplier_name"),
            title=item.get("title"),
            start_date=_iso_date(item.get("start_date")),
            end_date=_iso_date(item.get("end_date")),
            latest_end=_iso_date(item.get("latest_end")),
            framework=bool(item.get("framework")),
            notes=item.get("options_text"),
            url=item.get("url"),
            end_source="agreement_page",
        )
        for item in items
    ]
    return store_agreements(session, records, "agreement_page")
