"""Contracts from result notices: one per awarded lot (and framework agreement), with end dates.

The end date always carries its source (``Contract.end_source``), first that applies:

=======================  ===================================================================
source                   rule
=======================  ===================================================================
``explicit``             the lot's end date (BT-537) in the result notice
``start+duration``       the lot's start date (BT-536) + duration (BT-36) − 1 day
``conclusion+duration``  contract conclusion date (BT-145) + the lot's duration − 1 day
``cn_explicit``          the end date of the same lot in the contract notice of the procedure
``cn_start+duration``    start + duration of that lot in the contract notice
``award+cn_duration``    conclusion date (else the award notice date) + the contract
                         notice's duration (matched by procedure id, BT-04)
``notice+duration``      award notice date + the result notice's own duration (no
                         conclusion date given)
``text_duration``        the duration stated in the title or description (BT-24), e.g.
                         "Avtalen gjeld for 3 år", "varighet på 2 år", counted from the
                         start, conclusion or award notice date (low confidence)
``text_years``           a year range in the title ("ViltHOP 2023-2027") or description
                         ("for perioden 2023 - 2025", "ut 2025"): 31 December of the last
                         year (low confidence)
``framework_default``    framework agreement: conclusion (else award notice) date + 4 years
                         (FOA § 11-1 (4), § 26-1 (4)); after the text, which says what
                         this agreement runs, where 4 years is only the legal maximum
``unknown``              none of the above
``modification``         a modification notice (38-40) gave the end (``notes`` says how)
=======================  ===================================================================

``latest_end`` adds options and renewals read from BT-54/BT-57 ("1 + 1 år", "Forlengelse 2
måneder", "maksimal samlet avtaleperiode er 4 år"), or for a text end the options the same
text states ("opsjon på forlengelse ... 1 + 1 år"); ``latest_end_source`` says which.
Modification notices (subtypes 38-40) update the contract they change (same procedure and
lot); when that contract is not stored, the modification notice gives the contract itself.
Derivation is idempotent: contracts are keyed by ``Contract.key`` and recomputed per
procedure.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tracker.models import (
    Contract,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    ResultWinner,
    utcnow,
)
from tracker.names import clean_name, is_valid_orgnr, match_key
from tracker.subtypes import MODIFICATION_SUBTYPES, is_contract_notice

FRAMEWORK_DEFAULT_YEARS = 4
FRAMEWORK_CODES = frozenset({"fa-wo-rc", "fa-w-rc", "fa-mix"})
TEXT_SOURCES = frozenset({"text_duration", "text_years"})
CHUNK = 2000
# Every column a derived row sets, so that one executemany statement fits all rows.
_CONTRACT_DEFAULTS: dict[str, Any] = {
    "external_ref": None,
    "url": None,
    "updated_at": None,
}


# --------------------------------------------------------------------------- pure date rules


@dataclass(frozen=True)
class Period:
    """What one notice says about the period of a lot."""

    start: dt.date | None = None
    end: dt.date | None = None
    duration_value: Decimal | float | None = None
    duration_unit: str | None = None  # DAY|WEEK|MONTH|YEAR
    max_renewals: int | None = None
    renewal_text: str | None = None
    options_text: str | None = None

    @property
    def has_duration(self) -> bool:
        return self.duration_value is not None and self.duration_unit is not None


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def add_duration(anchor: dt.date, value: Decimal | float, unit: str) -> dt.date | None:
    """Last day of a period of ``value`` ``unit`` starting on ``anchor`` (None if unknown unit)."""
    v = Decimal(str(value))
    unit = (unit or "").upper()
    if unit in {"YEAR", "ANN"}:
        months = v * 12
    elif unit in {"MONTH", "MON"}:
        months = v
    elif unit in {"WEEK", "WEE"}:
        return anchor + dt.timedelta(days=int(v * 7)) - dt.timedelta(days=1)
    elif unit in {"DAY", "DAYS"}:
        return anchor + dt.timedelta(days=int(v)) - dt.timedelta(days=1)
    else:
        return None
    whole = int(months)
    end = add_months(anchor, whole)
    frac = months - whole
    if frac:
        end += dt.timedelta(days=int(frac * 30))
    return end - dt.timedelta(days=1)


def compute_end(
    *,
    lot: Period | None,
    conclusion: dt.date | None,
    notice_date: dt.date | None,
    cn_lot: Period | None,
    framework: bool,
    text: TextTerm | None = None,
) -> tuple[dt.date | None, str]:
    """End date and its source for one awarded lot (see the module table). Pure.

    ``text`` is the period stated in the notice's words (:func:`parse_text_term`), used
    only when no structured field gives the end.
    """
    lot = lot or Period()
    if lot.end:
        return lot.end, "explicit"
    if lot.start and lot.has_duration:
        end = add_duration(lot.start, lot.duration_value, lot.duration_unit)  # type: ignore[arg-type]
        if end:
            return end, "start+duration"
    if conclusion and lot.has_duration:
        end = add_duration(conclusion, lot.duration_value, lot.duration_unit)  # type: ignore[arg-type]
        if end:
            return end, "conclusion+duration"
    if cn_lot is not None:
        if cn_lot.end:
            return cn_lot.end, "cn_explicit"
        if cn_lot.start and cn_lot.has_duration:
            end = add_duration(cn_lot.start, cn_lot.duration_value, cn_lot.duration_unit)  # type: ignore[arg-type]
            if end:
                return end, "cn_start+duration"
        anchor = conclusion or notice_date
        if anchor and cn_lot.has_duration:
            end = add_duration(anchor, cn_lot.duration_value, cn_lot.duration_unit)  # type: ignore[arg-type]
            if end:
                return end, "award+cn_duration"
    if notice_date and lot.has_duration:
        end = add_duration(notice_date, lot.duration_value, lot.duration_unit)  # type: ignore[arg-type]
        if end:
            return end, "notice+duration"
    # The free text comes before the framework default: the 4 years of FOA § 26-1 (4) are
    # only the longest a framework agreement may run, while "varighet på 2 år" is what the
    # buyer says this one runs (its options then give ``latest_end``, capped at 4 years).
    if text is not None:
        anchor = lot.start or conclusion or (cn_lot.start if cn_lot else None) or notice_date
        end, _latest = text_end(text, anchor)
        if end is not None:
            return end, "text_duration" if text.base_months is not None else "text_years"
    if framework:
        anchor = lot.start or conclusion or notice_date
        if anchor:
            return add_months(anchor, 12 * FRAMEWORK_DEFAULT_YEARS) - dt.timedelta(days=1), (
                "framework_default"
            )
    return None, "unknown"


_WORD_NUMBERS = {
    "en": 1, "ett": 1, "ei": 1, "one": 1, "to": 2, "two": 2, "tre": 3, "three": 3,
    "fire": 4, "four": 4, "fem": 5, "five": 5, "seks": 6, "six": 6,
}  # fmt: skip
_NUM = r"(\d+(?:[.,]\d+)?|en|ett|ei|one|to|two|tre|three|fire|four|fem|five|seks|six)"
_UNIT = r"(år|års|year|years|måned|måneder|måneders|månad|månader|månadar|mnd|month|months)\b"
_PAREN_NUM = re.compile(r"\b[a-zæøå]+\s*\((\d+)\)", re.IGNORECASE)
_SEQUENCE = re.compile(rf"(\d+(?:\s*\+\s*\d+)+)\s*{_UNIT}", re.IGNORECASE)
_EXTENSION_WORDS = (
    r"(?:forleng\w*|opsjon\w*|option\w*|extension\w*|extend\w*|renewal\w*|fornye\w*|fornying\w*)"
)
_SINGLE = re.compile(
    rf"{_EXTENSION_WORDS}[^.\d]{{0,60}}?(?:inntil|med|i|up to|for|ytterligere)?\s*{_NUM}\s*{_UNIT}",
    re.IGNORECASE,
)
_TOTAL = re.compile(
    rf"(?:maksimal|maks\.?|samlet|total|totalt|maximum)[^.\d]{{0,50}}?{_NUM}\s*{_UNIT}",
    re.IGNORECASE,
)
_EXT_BEFORE = re.compile(_EXTENSION_WORDS, re.IGNORECASE)


def _months(number: str, unit: str) -> int:
    n = _WORD_NUMBERS.get(number.lower())
    value = Decimal(n) if n is not None else Decimal(number.replace(",", "."))
    factor = 12 if unit.lower().startswith(("år", "year")) else 1
    return int(value * factor)


def parse_extension(text: str | None, base_months: int | None = None) -> tuple[int, str] | None:
    """Months of options/renewals in a Norwegian or English text, with what was read.

    ``"opsjon på å forlenge ... med 1 + 1 år"`` → 24; ``"Forlengelse 2 måneder"`` → 2;
    ``"2+1+1 år"`` for a two-year base → 24 (the first term is the base period).
    Returns None when the text says nothing measurable.
    """
    if not text:
        return None
    text = _PAREN_NUM.sub(r"\1", text)  # "to (2) år" → "2 år"
    m = _SEQUENCE.search(text)
    if m:
        terms = [int(t) for t in re.split(r"\s*\+\s*", m.group(1))]
        factor = 12 if m.group(2).lower().startswith(("år", "year")) else 1
        before = text[max(0, m.start() - 80) : m.start()]
        if base_months is not None and terms[0] * factor == base_months:
            ext = terms[1:]
        elif _EXT_BEFORE.search(before):
            ext = terms
        else:
            ext = terms[1:]
        return sum(ext) * factor, m.group(0).strip()
    m = _SINGLE.search(text)
    if m:
        return _months(m.group(1), m.group(2)), m.group(0).strip()
    return None


def parse_total(text: str | None) -> int | None:
    """Months of a stated maximum total period ("maksimal samlet avtaleperiode er 4 år")."""
    if not text:
        return None
    m = _TOTAL.search(_PAREN_NUM.sub(r"\1", text))
    return _months(m.group(1), m.group(2)) if m else None


def _period_months(p: Period) -> int | None:
    if not p.has_duration:
        return None
    unit = (p.duration_unit or "").upper()
    v = Decimal(str(p.duration_value))
    if unit == "YEAR":
        return int(v * 12)
    if unit == "MONTH":
        return int(v)
    return None


def compute_latest_end(
    *,
    end: dt.date | None,
    start: dt.date | None,
    lot: Period | None,
    framework: bool,
) -> tuple[dt.date | None, str | None]:
    """Latest possible end after options and renewals, and where it came from. Pure.

    Options text first (BT-54, then BT-57); a stated maximum total period counts from the
    start; renewals without a readable length leave the end as it is
    (``renewals_unknown_length``); a framework agreement never runs past 4 years from its
    start (FOA) when that is known.
    """
    if end is None:
        return None, None
    lot = lot or Period()
    cap = (
        add_months(start, 12 * FRAMEWORK_DEFAULT_YEARS) - dt.timedelta(days=1)
        if framework and start
        else None
    )
    base = _period_months(lot)
    for text, label in ((lot.options_text, "options"), (lot.renewal_text, "renewals")):
        total = parse_total(text)
        if total is not None and start is not None:
            latest = max(end, add_months(start, total) - dt.timedelta(days=1))
            return latest, f"{label}: total {total} months"
        ext = parse_extension(text, base)
        if ext is not None and ext[0] > 0:
            latest = add_months(end, ext[0])
            if cap is not None and latest > cap:
                return max(end, cap), f"{label}: {ext[1]} (capped at 4 years)"
            return latest, f"{label}: {ext[1]}"[:64]
    if lot.max_renewals:
        return end, "renewals_unknown_length"
    return end, "no_options"


# --------------------------------------------------------------------------- free text


@dataclass(frozen=True)
class TextTerm:
    """A contract period stated in the notice's free text (title, BT-24 description)."""

    base_months: int | None = None  # "varighet på 2 år" → 24
    option_months: int | None = None  # "opsjon på forlengelse ... 1 + 1 år" → 24
    last_year: int | None = None  # "ViltHOP 2023-2027" → 2027
    evidence: str = ""


_DUR_LEAD = (
    r"(?:varighet|varigheit|løpetid|avtaleperiode\w*|kontraktsperiode\w*|avtaletid\w*"
    r"|periode|gjeld(?:er)?(?:\s+for)?|varer|inngås|inngåast|inngåes|duration|term)"
)
_DURATION = re.compile(
    rf"\b{_DUR_LEAD}\b(?:[^.\d]{{0,25}}?)(?:på|er|for|i|:|of)?\s*{_NUM}\s*{_UNIT}",
    re.IGNORECASE,
)
_YEAR_RANGE = re.compile(r"(?<!\d)(20\d\d)\s*[-–—]\s*(20\d\d)(?!\d)")
_PERIOD_RANGE = re.compile(
    r"\b(?:perioden|periode|avtaleperioden|for|fra|frå)\s+(20\d\d)\s*[-–—]\s*(20\d\d)(?!\d)",
    re.IGNORECASE,
)
_OUT_YEAR = re.compile(r"\b(?:og\s+ut|ut|til\s+og\s+med|tom\.?)\s+(20\d\d)(?!\d)", re.IGNORECASE)
# A number before a unit of time, or a year: without one, a text states no period.
_MAYBE_PERIOD = re.compile(
    rf"(?:\d|\)|\b(?:{_NUM[1:-1]}))\s*(?:år|mån|mnd|year|month)|20\d\d", re.IGNORECASE
)
MAX_TEXT_YEARS = 15  # a longer stated period is more likely a strategy span than a contract


def _range(m: re.Match[str] | None) -> tuple[int, str] | None:
    if m is None:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    return (last, m.group(0).strip()) if first <= last <= first + MAX_TEXT_YEARS else None


def parse_text_term(title: str | None, description: str | None) -> TextTerm | None:
    """The contract period a notice states in words, or None. Pure.

    Bokmål and nynorsk: "varighet på 2 år", "Avtalen gjeld for 3 år", "avtaleperiode 4 år",
    "2 + 1 + 1 år" (first term the base, the rest options), options from
    :func:`parse_extension` ("opsjon på forlengelse ... i inntil ytterlegare 3 år"); a year
    range in the title ("ViltHOP 2023-2027") or after "perioden"/"fra" in the description
    ("for perioden 2023 - 2025"); "ut 2025".
    """
    text = " ".join(t for t in (title, description) if t)
    if not _MAYBE_PERIOD.search(text):  # cheap test first: most texts name no period
        return None
    text = _PAREN_NUM.sub(r"\1", text)
    base: int | None = None
    evidence = ""
    m = _DURATION.search(text)
    if m:
        base, evidence = _months(m.group(1), m.group(2)), m.group(0).strip()
    seq = _SEQUENCE.search(text)
    if base is None and seq is not None and not _EXT_BEFORE.search(text[: seq.start()][-80:]):
        terms = [int(t) for t in re.split(r"\s*\+\s*", seq.group(1))]
        factor = 12 if seq.group(2).lower().startswith(("år", "year")) else 1
        base, evidence = terms[0] * factor, seq.group(0).strip()
    ext = parse_extension(text, base)
    options = ext[0] if ext and ext[0] > 0 else None
    last_year = None
    if base is None:
        found = _range(_YEAR_RANGE.search(title or "")) or _range(
            _PERIOD_RANGE.search(description or "")
        )
        if found is None:
            out = _OUT_YEAR.search(description or "")
            found = (int(out.group(1)), out.group(0).strip()) if out else None
        if found:
            last_year, evidence = found
    if base is None and last_year is None:
        return None
    if ext and options:
        evidence = f"{evidence}; {ext[1]}"
    return TextTerm(base, options, last_year, evidence[:120])


def text_end(
    term: TextTerm | None, anchor: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """End and latest end (with the stated options) of a :class:`TextTerm`. Pure.

    A duration counts from ``anchor`` (start, else conclusion, else award notice date); a
    year range ends on 31 December of its last year whatever the anchor.
    """
    if term is None:
        return None, None
    if term.base_months is not None:
        if anchor is None:
            return None, None
        end = add_months(anchor, term.base_months) - dt.timedelta(days=1)
    elif term.last_year is not None:
        end = dt.date(term.last_year, 12, 31)
    else:
        return None, None
    return end, _plus_options(end, term.option_months)


def _plus_options(end: dt.date, months: int | None) -> dt.date:
    return add_months(end + dt.timedelta(days=1), months) - dt.timedelta(days=1) if months else end


def text_latest_end(
    term: TextTerm, end: dt.date | None, start: dt.date | None, framework: bool
) -> tuple[dt.date | None, str]:
    """Latest end after the options a text states, and its source label. Pure.

    A framework agreement never runs past 4 years from its start (FOA § 26-1 (4)).
    """
    if end is None:
        return None, "no_options"
    if not term.option_months:
        return end, "no_options"
    latest, label = _plus_options(end, term.option_months), f"text: {term.evidence}"[:64]
    if framework and start:
        cap = add_months(start, 12 * FRAMEWORK_DEFAULT_YEARS) - dt.timedelta(days=1)
        if latest > cap:
            return max(cap, end), "text (capped at 4 years)"
    return latest, label


# --------------------------------------------------------------------------- derivation


@dataclass
class _Desired:
    key: str
    values: dict[str, Any]
    buyers: list[dict[str, Any]]
    suppliers: list[dict[str, Any]]


def _party(
    role: str, orgnr: str | None, name: str | None, organisation_id: int | None
) -> dict[str, Any]:
    valid = orgnr if orgnr and is_valid_orgnr(orgnr) else None
    return {
        "role": role,
        "party_key": valid or ("name:" + match_key(name))[:600],
        "organisation_id": organisation_id,
        "name": clean_name(name)[:500] or None,
        "orgnr": valid,
    }


def _period_of(lot: Any) -> Period:
    return Period(
        start=lot.start_date,
        end=lot.end_date,
        duration_value=lot.duration_value,
        duration_unit=lot.duration_unit,
        max_renewals=lot.max_renewals,
        renewal_text=lot.renewal_description,
        options_text=lot.options_description,
    )


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_NOTICE_COLS = (
    Notice.id,
    Notice.notice_id,
    Notice.procedure_id,
    Notice.subtype,
    Notice.document_type,
    Notice.issue_date,
    Notice.title,
    Notice.description,
    Notice.main_cpv,
    Notice.previous_notice_ids,
    Notice.is_test,
)


def derive_contracts(session: Session, notice_pks: Iterable[int] | None = None) -> dict[str, Any]:
    """(Re)derive contracts for the procedures of the given notices (default: all); flushes.

    Every procedure touched is recomputed whole (its award, contract and modification
    notices together), so the order notices arrive in does not matter and running it
    twice changes nothing. Contract accounts are refreshed from the notices' links.
    Returns counts: procedures, contracts, created, updated, removed, modified; and
    ``contract_ids`` of every contract written.
    """
    session.flush()  # the reads below bypass the session's autoflush
    conn = session.connection()
    if notice_pks is None:
        given = conn.execute(select(Notice.id, Notice.procedure_id, Notice.notice_id)).all()
    else:
        pks = sorted(set(notice_pks))
        given = []
        for chunk in _chunks(pks):
            given.extend(
                conn.execute(
                    select(Notice.id, Notice.procedure_id, Notice.notice_id).where(
                        Notice.id.in_(chunk)
                    )
                ).all()
            )
    procedures = sorted({p for _, p, _ in given if p})
    lone = sorted({pk for pk, p, _ in given if not p})
    notices: list[Any] = []
    for chunk in _chunks(procedures):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(
                    Notice.procedure_id.in_(chunk), Notice.is_latest.is_(True)
                )
            ).all()
        )
    for chunk in _chunks(lone):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(Notice.id.in_(chunk), Notice.is_latest.is_(True))
            ).all()
        )
    counts: dict[str, Any] = dict.fromkeys(
        ("procedures", "contracts", "created", "updated", "removed", "modified"), 0
    )
    counts["procedures"] = len(procedures) + len(lone)
    desired = _desired_contracts(session, notices, counts)
    # The contracts that exist now for these procedures (or lone notices).
    existing: dict[str, Contract] = {}
    for chunk in _chunks(procedures):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.procedure_id.in_(chunk))
        ):
            existing[c.key] = c
    for chunk in _chunks(lone):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.notice_pk.in_(chunk))
        ):
            existing[c.key] = c
    for chunk in _chunks(sorted(desired)):
        for c in session.scalars(select(Contract).where(Contract.key.in_(chunk))):
            existing[c.key] = c
    stale = [c.id for k, c in existing.items() if k not in desired and c.source == "notice"]
    if stale:
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(stale)))
        session.execute(delete(Contract).where(Contract.id.in_(stale)))
        counts["removed"] = len(stale)
    ids: dict[str, int] = {}
    new_rows = []
    for key, d in desired.items():
        c = existing.get(key)
        if c is None:
            new_rows.append({"key": key, **d.values})
            continue
        changed = False
        for k, v in d.values.items():
            if getattr(c, k) != v:
                setattr(c, k, v)
                changed = True
        counts["updated"] += int(changed)
        ids[key] = c.id
    session.flush()
    if new_rows:
        # Core executemany (one statement for the batch), then the ids by key.
        now = utcnow()
        table = Contract.__table__
        session.execute(
            table.insert(),
            [{**_CONTRACT_DEFAULTS, "created_at": now, **row} for row in new_rows],
        )
        new_keys = [row["key"] for row in new_rows]
        for chunk in _chunks(new_keys):
            for cid, key in session.execute(
                select(Contract.id, Contract.key).where(Contract.key.in_(chunk))
            ):
                ids[key] = cid
        counts["created"] = len(new_rows)
    counts["contracts"] = len(desired)
    all_ids = sorted(ids.values())
    for chunk in _chunks(all_ids):
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(chunk)))
    parties = []
    for key, d in desired.items():
        seen: set[tuple[str, str]] = set()
        for p in d.buyers + d.suppliers:
            if (p["role"], p["party_key"]) in seen:
                continue
            seen.add((p["role"], p["party_key"]))
            parties.append({"contract_id": ids[key], **p})
    if parties:
        session.execute(ContractParty.__table__.insert(), parties)
    session.flush()
    if all_ids:
        from tracker.linking import refresh_contract_accounts

        refresh_contract_accounts(session, all_ids)
    counts["contract_ids"] = all_ids
    return counts


def _desired_contracts(
    session: Session, notices: list[Any], counts: dict[str, Any]
) -> dict[str, _Desired]:
    pks = [n.id for n in notices]
    conn = session.connection()  # plain rows: no ORM result processing
    lots: dict[int, list[Any]] = defaultdict(list)
    results: dict[int, list[Any]] = defaultdict(list)
    winners: dict[int, list[Any]] = defaultdict(list)
    buyers: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(pks):
        for lot in conn.execute(
            select(
                Lot.notice_pk,
                Lot.lot_id,
                Lot.title,
                Lot.description,
                Lot.main_cpv,
                Lot.framework_code,
                Lot.duration_value,
                Lot.duration_unit,
                Lot.start_date,
                Lot.end_date,
                Lot.max_renewals,
                Lot.renewal_description,
                Lot.options_description,
                Lot.estimated_value,
                Lot.currency,
            )
            .where(Lot.notice_pk.in_(chunk))
            .order_by(Lot.notice_pk, Lot.position)
        ):
            lots[lot.notice_pk].append(lot)
        for r in conn.execute(
            select(
                LotResult.id,
                LotResult.notice_pk,
                LotResult.result_id,
                LotResult.lot_id,
                LotResult.winner_chosen,
                LotResult.tender_value,
                LotResult.currency,
                LotResult.conclusion_date,
                LotResult.framework,
                LotResult.contract_id,
                LotResult.contract_title,
            )
            .where(LotResult.notice_pk.in_(chunk))
            .order_by(LotResult.position)
        ):
            results[r.notice_pk].append(r)
        for b in conn.execute(
            select(
                NoticeBuyer.notice_pk,
                NoticeBuyer.orgnr,
                NoticeBuyer.name,
                NoticeBuyer.organisation_id,
            )
            .where(NoticeBuyer.notice_pk.in_(chunk))
            .order_by(NoticeBuyer.position)
        ):
            buyers[b.notice_pk].append(b)
    result_pks = [r.id for rs in results.values() for r in rs]
    for chunk in _chunks(result_pks):
        for w in conn.execute(
            select(
                ResultWinner.result_pk,
                ResultWinner.orgnr,
                ResultWinner.name,
                ResultWinner.organisation_id,
            )
            .where(ResultWinner.result_pk.in_(chunk))
            .order_by(ResultWinner.position)
        ):
            winners[w.result_pk].append(w)

    by_proc: dict[str, list[Any]] = defaultdict(list)
    for n in notices:
        by_proc[n.procedure_id or f"notice:{n.notice_id}"].append(n)
    desired: dict[str, _Desired] = {}
    for proc, group in by_proc.items():
        group.sort(key=lambda n: (n.issue_date or dt.date.min, n.id))
        cns = [
            n for n in group if is_contract_notice(n.subtype, n.document_type) and lots.get(n.id)
        ]
        cn = cns[-1] if cns else None
        awards = [
            n for n in group if results.get(n.id) and (n.subtype or "") not in MODIFICATION_SUBTYPES
        ]
        mods = [
            n for n in group if results.get(n.id) and (n.subtype or "") in MODIFICATION_SUBTYPES
        ]
        for n in awards + mods:
            is_mod = n in mods
            for r, lot in _awarded(results[n.id], lots.get(n.id, []), winners):
                lot_id = r.lot_id or (lot.lot_id if lot else "-")
                key = f"n:{proc}|{lot_id}|{r.contract_id or r.result_id or '-'}"[:300]
                if is_mod:
                    base = _find_base(desired, proc, r, lot)
                    if base is not None:
                        _apply_modification(base, n, r, lot, cn, lots, winners)
                        counts["modified"] += 1
                        continue
                desired[key] = _build(proc, n, r, lot, cn, lots, buyers, winners, is_mod)
                desired[key].key = key
    return desired


def _awarded(
    results: list[Any], lots: list[Any], winners: dict[int, list[Any]]
) -> list[tuple[Any, Any]]:
    """Awarded results of one notice (merged per lot and contract) with their lot."""
    by_lot = {lot.lot_id: lot for lot in lots}
    out: dict[tuple[str | None, str | None], tuple[Any, Any]] = {}
    for r in results:
        if r.winner_chosen is False:
            continue
        if not winners.get(r.id) and not r.contract_id:
            continue
        lot = by_lot.get(r.lot_id or "") or (lots[0] if len(lots) == 1 else None)
        k = (r.lot_id, r.contract_id or r.result_id)
        if r.contract_id and (r.lot_id, r.contract_id) in out:
            continue  # several results naming one settled contract (multi-supplier framework)
        out[k] = (r, lot)
    return list(out.values())


def _find_base(desired: dict[str, _Desired], proc: str, r: Any, lot: Any) -> _Desired | None:
    lot_id = r.lot_id or (lot.lot_id if lot else None)
    candidates = [
        d
        for d in desired.values()
        if d.values["procedure_id"] == proc or d.key.startswith(f"n:{proc}|")
    ]
    same_lot = [d for d in candidates if d.values["lot_id"] == lot_id]
    exact = [d for d in same_lot if r.contract_id and d.key.endswith(f"|{r.contract_id}")]
    pick = exact or same_lot or (candidates if len(candidates) == 1 else [])
    return pick[-1] if pick else None


def _cn_period(cn: Any, lot_id: str | None, lots: dict[int, list[Any]]) -> Period | None:
    if cn is None:
        return None
    cn_lots = lots.get(cn.id, [])
    match = [x for x in cn_lots if x.lot_id == lot_id]
    if match:
        return _period_of(match[0])
    if len(cn_lots) == 1:
        return _period_of(cn_lots[0])
    return None


def _dates(
    n: Any, r: Any, lot: Any, cn: Any, lots: dict[int, list[Any]], framework: bool
) -> dict[str, Any]:
    period = _period_of(lot) if lot is not None else None
    cn_period = _cn_period(cn, r.lot_id or (lot.lot_id if lot else None), lots)
    args = {
        "lot": period,
        "conclusion": r.conclusion_date,
        "notice_date": n.issue_date,
        "cn_lot": cn_period,
        "framework": framework,
    }
    end, source = compute_end(**args)
    term = None
    if source in {"framework_default", "unknown"}:  # the text is read only when it can count
        term = _text_term(n, lot, cn, lots)
        if term is not None:
            end, source = compute_end(**args, text=term)
    start = (period.start if period else None) or r.conclusion_date
    if start is None and source == "framework_default":
        start = n.issue_date
    ext_period = period
    if cn_period and not (
        period and (period.options_text or period.renewal_text or period.max_renewals)
    ):
        ext_period = cn_period
    if source in TEXT_SOURCES and term is not None:
        ext_period = None
        latest, latest_source = text_latest_end(term, end, start, framework)
        options_text: str | None = term.evidence
    else:
        latest, latest_source = compute_latest_end(
            end=end, start=start, lot=ext_period, framework=framework
        )
        options_text = (ext_period.options_text or ext_period.renewal_text) if ext_period else None
    return {
        "start_date": start,
        "end_date": end,
        "end_source": source,
        "latest_end": latest,
        "latest_end_source": latest_source,
        "max_renewals": ext_period.max_renewals if ext_period else None,
        "options_text": options_text,
    }


def _text_term(n: Any, lot: Any, cn: Any, lots: dict[int, list[Any]]) -> TextTerm | None:
    """The period stated in words: the awarded lot, the notice, then the contract notice."""
    candidates = []
    if lot is not None:
        candidates.append((lot.title, lot.description))
    candidates.append((n.title, n.description))
    if cn is not None:
        cn_lots = lots.get(cn.id, [])
        lot_id = lot.lot_id if lot is not None else None
        candidates.extend((x.title, x.description) for x in cn_lots if x.lot_id == lot_id)
        candidates.append((cn.title, cn.description))
    for title, description in dict.fromkeys(candidates):  # the lot often repeats the notice
        term = parse_text_term(title, description)
        if term is not None:
            return term
    return None


def _build(
    proc: str,
    n: Any,
    r: Any,
    lot: Any,
    cn: Any,
    lots: dict[int, list[Any]],
    buyers: dict[int, list[Any]],
    winners: dict[int, list[Any]],
    is_mod: bool,
) -> _Desired:
    framework = bool(r.framework) or bool(lot is not None and lot.framework_code in FRAMEWORK_CODES)
    title = r.contract_title or (lot.title if lot is not None else None) or n.title
    values = {
        "source": "notice",
        "notice_pk": n.id,
        "result_pk": r.id,
        "procedure_id": n.procedure_id,
        "lot_id": r.lot_id or (lot.lot_id if lot is not None else None),
        "title": title,
        "main_cpv": (lot.main_cpv if lot is not None else None) or n.main_cpv,
        "value": r.tender_value
        if r.tender_value is not None
        else (lot.estimated_value if lot is not None else None),
        "currency": r.currency or (lot.currency if lot is not None else None),
        "framework": framework,
        "conclusion_date": r.conclusion_date,
        "modified_by_notice_pk": n.id if is_mod else None,
        "notes": "from a modification notice; the original award notice is not stored"
        if is_mod
        else None,
        **_dates(n, r, lot, cn, lots, framework),
    }
    return _Desired(
        key="",
        values=values,
        buyers=[_party("buyer", b.orgnr, b.name, b.organisation_id) for b in buyers.get(n.id, [])],
        suppliers=[
            _party("supplier", w.orgnr, w.name, w.organisation_id) for w in winners.get(r.id, [])
        ],
    )


def _apply_modification(
    base: _Desired,
    n: Any,
    r: Any,
    lot: Any,
    cn: Any,
    lots: dict[int, list[Any]],
    winners: dict[int, list[Any]],
) -> None:
    """A modification notice changes value, dates and suppliers of the contract it modifies."""
    v = base.values
    v["modified_by_notice_pk"] = n.id
    if r.tender_value is not None:
        v["value"] = r.tender_value
        v["currency"] = r.currency or v["currency"]
    period = _period_of(lot) if lot is not None else None
    how = "value, suppliers"
    if period is not None and (period.end or period.has_duration):
        anchor_conclusion = r.conclusion_date or v["conclusion_date"]
        end, source = compute_end(
            lot=period, conclusion=anchor_conclusion, notice_date=None, cn_lot=None, framework=False
        )
        if end is not None:
            start = period.start or v["start_date"]
            latest, latest_source = compute_latest_end(
                end=end, start=start, lot=period, framework=v["framework"]
            )
            v.update(
                end_date=end,
                end_source="modification",
                latest_end=latest,
                latest_end_source=latest_source,
            )
            how = f"end from {source}"
    new_suppliers = [
        _party("supplier", w.orgnr, w.name, w.organisation_id) for w in winners.get(r.id, [])
    ]
    if new_suppliers:
        base.suppliers = new_suppliers
    v["notes"] = f"modified by notice {n.notice_id} ({n.issue_date}): {how}"
