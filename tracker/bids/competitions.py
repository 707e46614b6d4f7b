"""Competitions as their notices say them: per lot the deadline, framework, value, term,
options and award criteria, structured or read from the buyer's words.

``competition_lots(session, notice_pk)`` is the one read model the notice page, the bid
pages and the golden test use. Every fact carries its source; facts read from text carry
their quote (``tracker.notices.notice_text``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.bids.context import LoadedLot, LoadedNotice
from tracker.bids.scoring import price_weight_percent
from tracker.contracts.values import FRAMEWORK_CODES
from tracker.dates import add_months
from tracker.db.models import AwardCriterion, Lot, Notice
from tracker.messages import N_, Message
from tracker.notices.notice_text import TextFacts, read_facts
from tracker.notices.pretender import OSLO, QUALIFICATION_SUBTYPES
from tracker.notices.subtypes import PLACEHOLDER_YEAR


def _whole_months(start: dt.date, end: dt.date) -> int | None:
    """Whole months from ``start`` to ``end`` inclusive (2022-10-01..2026-09-30 → 48), or
    None when the period is not a whole number of months."""
    months = (end.year - start.year) * 12 + end.month - start.month
    for m in (months, months + 1):
        if m > 0 and add_months(start, m) - dt.timedelta(days=1) == end:
            return m
    return None


def duration_of(lot: Any) -> tuple[str | None, str | None]:
    """("24 MONTH", source) of a lot: BT-36, else the whole months between BT-536 and
    BT-537; (None, None) when neither is given."""
    if lot.duration_value is not None and lot.duration_unit:
        value = Decimal(str(lot.duration_value))
        shown = f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"
        return f"{shown} {lot.duration_unit}", "BT-36 duration"
    if lot.start_date and lot.end_date:
        months = _whole_months(lot.start_date, lot.end_date)
        if months:
            return f"{months} MONTH", "derived from BT-536 start and BT-537 end"
    if (lot.duration_unit or "").upper() == "UNLIMITED":
        return "UNLIMITED", "BT-538 duration"
    return None, None


def _lot_value(n: Any, lot: Any, single: bool) -> tuple[Decimal | None, str | None, str | None]:
    """(value, its kind, its source) of a lot: its estimate, else its framework maximum;
    the procedure's when the competition has a single lot."""
    if lot.estimated_value is not None:
        return lot.estimated_value, "estimated", "BT-27 of the lot"
    if lot.framework_max_value is not None:
        return lot.framework_max_value, "framework_max", "BT-271 of the lot"
    if single and n.framework_max_value is not None:
        return n.framework_max_value, "framework_max", "BT-271 of the procedure"
    if single and n.estimated_value is not None:
        return n.estimated_value, "estimated", "BT-27 of the procedure"
    return None, None, None


def lot_facts(n: Any, lot: Any, criteria: list[Any], single: bool) -> dict[str, Any]:
    """One lot of a competition: deadline, framework, value, term, options, criteria."""
    texts = [
        ("lot note", lot.note),
        ("options", lot.options_description),
        ("renewals", lot.renewal_description),
        ("lot description", lot.description),
        ("lot title", lot.title),
        ("note", n.note),
        ("description", n.description),
        ("title", n.title),
    ]
    facts: TextFacts = read_facts(texts)
    evidence: list[dict[str, Any]] = []
    if lot.submission_deadline is not None:
        deadline, kind = lot.submission_deadline, "tender submission"
    elif lot.request_deadline is not None:
        deadline, kind = lot.request_deadline, "request to participate"
    else:
        deadline, kind = None, None
    if lot.framework_code in FRAMEWORK_CODES:
        framework = True
        evidence.append(
            {"fact": "framework", "value": True, "source": f"BT-765 {lot.framework_code}"}
        )
    elif facts.framework is not None:
        framework = bool(facts.framework.value)
        evidence.append(facts.framework.as_dict("framework"))
    else:
        framework = False
    value, kind_of_value, value_source = _lot_value(n, lot, single)
    for name in ("value_per_year", "max_value", "estimated_value"):
        quote = facts.facts.get(name)
        if quote is not None:
            evidence.append(quote.as_dict(name))
    duration, duration_source = duration_of(lot)
    weighted = [c for c in criteria if c.weight is not None]
    if facts.procedure is not None:
        evidence.append(facts.procedure.as_dict("procedure"))
    for name in ("base_months", "option_months", "total_months", "start"):
        quote = facts.facts.get(name)
        if quote is not None:
            evidence.append(quote.as_dict(name))
    return {
        "lot_id": lot.lot_id,
        "title": lot.title,
        "deadline": deadline,
        "deadline_kind": kind,
        "framework": framework,
        "value": value,
        "currency": lot.currency or n.currency,
        "value_kind": kind_of_value,
        "value_source": value_source,
        "value_per_year": facts.value_per_year.value if facts.value_per_year else None,
        "duration": duration,
        "duration_source": duration_source,
        "start_date": lot.start_date,
        "end_date": lot.end_date,
        "options": lot.options_description or lot.renewal_description,
        "award_criteria": [
            {
                "name": c.name,
                "type": c.type,
                "weight": c.weight,
                "weight_code": c.weight_code,
                "source": c.source or "structured",
                "quote": c.quote,
            }
            for c in weighted
        ],
        "procedure_stated": facts.procedure.value if facts.procedure is not None else None,
        "evidence": evidence,
    }


def competition_lots(session: Session, notice_pk: int) -> list[dict[str, Any]]:
    """The lots of a competition notice as :func:`lot_facts` dicts (position order)."""
    n = session.get(Notice, notice_pk)
    if n is None:
        return []
    lots = list(
        session.scalars(select(Lot).where(Lot.notice_pk == notice_pk).order_by(Lot.position))
    )
    criteria: dict[int, list[Any]] = {lot.id: [] for lot in lots}
    if lots:
        for c in session.scalars(
            select(AwardCriterion)
            .where(AwardCriterion.lot_pk.in_(list(criteria)))
            .order_by(AwardCriterion.lot_pk, AwardCriterion.position)
        ):
            criteria[c.lot_pk].append(c)
    return [lot_facts(n, lot, criteria[lot.id], len(lots) == 1) for lot in lots]


# --------------------------------------------------------------------------- one value

# The kinds of a competition's value, with the words the pages show (issue 14: a label
# for every code; the code stays in the API and the exports' machine columns).
VALUE_KINDS: dict[str, str] = {
    "estimated": "anslått verdi",
    "framework_max": "rammeavtalens maksimale verdi",
    "tender": "tilbudt verdi",
    "text_estimated": "anslått verdi (fra teksten)",
    "text_max": "maksimal verdi (fra teksten)",
}
_WORD_FACTS = ("estimated_value", "max_value", "value_per_year")


def _amount_of(obj: Any, name: str) -> Decimal | None:
    value = getattr(obj, name, None)
    return Decimal(str(value)) if value is not None else None


def _same_amount(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= abs(b) * Decimal("0.005")


def _lots_value(
    lots: Sequence[Any], field: str, currency: str | None
) -> tuple[Decimal | None, str | None, int]:
    """Sum of the lots' ``field`` (each lot is its own part of the purchase, so their
    estimates, and their maxima, add up), its currency and how many lots state it. Lots in
    several currencies are not added (None)."""
    amounts = [(lot, _amount_of(lot, field)) for lot in lots]
    known = [(lot, v) for lot, v in amounts if v is not None]
    if not known:
        return None, None, 0
    currencies = {getattr(lot, "currency", None) or currency for lot, _ in known}
    if len(currencies) > 1:
        return None, None, len(known)
    return sum((v for _, v in known), Decimal(0)), currencies.pop(), len(known)


_ABBREVIATIONS = frozenset({"ca.", "kr.", "nr.", "inkl.", "ekskl.", "eks.", "mill.", "f.eks.",
                            "bl.a.", "evt.", "jf.", "pkt.", "approx.", "no."})  # fmt: skip
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ0-9«\"(])")


def _sentence_at(text: str, pos: int) -> str:
    """The sentence of ``text`` around ``pos`` (a full stop followed by a capital ends a
    sentence, not after an abbreviation: "ca. NOK 7 500 000"), at most 300 characters."""
    start, end = 0, len(text)
    for m in _SENTENCE_END.finditer(text):
        word = text[: m.start()].rsplit(None, 1)[-1].lower()
        if word in _ABBREVIATIONS:
            continue
        if m.start() < pos:
            start = m.end()
        else:
            end = m.start()
            break
    return text[start:end].strip()[:300]


def _buyers_words(facts: TextFacts, texts: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """The amounts the texts state (estimate, maximum, per year), each with its whole
    sentence as the quote; one row per sentence (one sentence often states the yearly and
    the total amount: ``facts`` has every amount read from it by name), the first text
    that says it first."""
    by_where = {where: " ".join(text.split()) for where, text in reversed(texts) if text}
    out: dict[str, dict[str, Any]] = {}
    for name in _WORD_FACTS:
        q = facts.facts.get(name)
        if q is None:
            continue
        text = by_where.get(q.where, "")
        pos = text.find(q.quote)
        quote = _sentence_at(text, pos + len(q.quote) // 2) if pos >= 0 else q.quote
        if quote in out:
            out[quote]["facts"][name] = float(q.value)
        else:
            row = {**q.as_dict(name), "quote": quote, "where": q.where}
            out[quote] = {**row, "facts": {name: float(q.value)}}
    return list(out.values())


def _structured_value(
    n: Any, lots: Sequence[Any]
) -> tuple[Decimal | None, str | None, str | None, str | None, int]:
    """(amount, kind, source, currency, lots with a value) from the structured fields: the
    procedure's estimate, the lots' estimates added up, the procedure's framework maximum,
    the lots' maxima added up (one ceiling when every lot states the same)."""
    currency = getattr(n, "currency", None)
    amount: Decimal | None = None
    kind: str | None = None
    source: str | None = None
    with_value = 0
    est = _amount_of(n, "estimated_value")
    fmax = _amount_of(n, "framework_max_value")
    if est is not None:
        amount, kind, source = est, "estimated", "BT-27 of the procedure"
        with_value = len(lots)
    if amount is None:
        amount, cur, with_value = _lots_value(lots, "estimated_value", currency)
        if amount is not None:
            kind, currency = "estimated", cur
            source = "BT-27 of the lot" if len(lots) == 1 else "BT-27 of the lots, added up"
    if amount is None and fmax is not None:
        amount, kind, source = fmax, "framework_max", "BT-271 of the procedure"
        with_value = len(lots)
    if amount is None:
        maxima = {_amount_of(lot, "framework_max_value") for lot in lots} - {None}
        amount, cur, with_value = _lots_value(lots, "framework_max_value", currency)
        if amount is not None:
            kind, currency = "framework_max", cur
            source = "BT-271 of the lot" if len(lots) == 1 else "BT-271 of the lots, added up"
            if with_value > 1 and len(maxima) == 1:
                # the same ceiling written on every lot is one ceiling, never multiplied
                amount, source = maxima.pop(), "BT-271, the same on every lot: one ceiling"
    return amount, kind, source, currency, with_value


def competition_value(n: Any, lots: Sequence[Any]) -> dict[str, Any]:
    """THE value of a competition, one per competition, with its kind and the buyer's own
    words: the bid list, the bid score, the bid page, the API and the exports all show it.

    In order: the procedure's estimated value (BT-27); else the lots' estimated values
    added up (each lot is a part of the purchase); else the procedure's framework maximum
    (BT-271); else the lots' maxima added up; else an estimate or a maximum the text
    states. A framework maximum stays a maximum (``kind`` ``framework_max``: a ceiling,
    not what the buyer expects to spend) and is never multiplied by the number of
    suppliers. A sum over only some lots says so (``lots_with_value`` of ``lots``,
    ``partial``).

    ``words`` are the amounts the buyer writes in the notice's texts (additional
    information, descriptions, titles, options; ``tracker.notices.notice_text``) with their quotes,
    e.g. 2023-649037: BT-27 says 30 MNOK, the description "ca. NOK 7 500 000,- per år,
    totalt NOK 30 000 000,- over 4 år". ``words_differ`` is true when the words name an
    amount other than ``amount`` (the page shows them beside the value).

    Returns ``{amount, currency, kind, label, source, lots, lots_with_value, partial,
    per_year, words, words_differ}`` (``amount`` a float or None).
    """
    texts: list[tuple[str, str | None]] = []
    for lot in lots:
        texts += [
            ("lot note", getattr(lot, "note", None)),
            ("lot description", getattr(lot, "description", None)),
            ("options", getattr(lot, "options_description", None)),
        ]
    texts += [
        ("note", getattr(n, "note", None)),
        ("description", getattr(n, "description", None)),
        ("title", getattr(n, "title", None)),
    ]
    facts = read_facts(texts)
    amount, kind, source, currency, with_value = _structured_value(n, lots)
    if amount is None:
        for name, text_kind in (("estimated_value", "text_estimated"), ("max_value", "text_max")):
            quote = facts.facts.get(name)
            if quote is not None:
                amount, kind = Decimal(quote.value), text_kind
                source, currency, with_value = f"text ({quote.where})", "NOK", len(lots)
                break
    words = _buyers_words(facts, texts)
    stated = [facts.facts[name].value for name in _WORD_FACTS if name in facts.facts]
    differ = amount is not None and any(not _same_amount(Decimal(v), amount) for v in stated)
    per_year = facts.value_per_year.value if facts.value_per_year is not None else None
    return {
        "amount": float(amount) if amount is not None else None,
        "currency": currency if amount is not None else None,
        "kind": kind,
        "label": VALUE_KINDS.get(kind or "", "verdi ikke oppgitt"),
        "source": source,
        "lots": len(lots),
        "lots_with_value": with_value if amount is not None else 0,
        "partial": amount is not None and 0 < with_value < len(lots),
        "per_year": float(per_year) if per_year is not None else None,
        "words": words,
        "words_differ": differ,
    }


# --------------------------------------------------------------------------- bid rows
# What a scored bid row (tracker.bids.selection) shows of the lots: deadlines, values,
# price weights, award and selection criteria.

SELECTION_TYPES = {
    "sui-act": "Egnethet (registrering, autorisasjon)",
    "ef-stand": "Økonomisk og finansiell kapasitet",
    "tp-abil": "Tekniske og faglige kvalifikasjoner",
    "other": "Andre krav",
}


def _lot_criteria(lot: Lot | LoadedLot) -> list[tuple[str | None, float | None]]:
    out = []
    for c in lot.award_criteria:
        weight = c.weight
        if (c.weight_code or "").startswith("ord"):
            weight = None  # order of importance, not a weight
        out.append((c.type, weight))
    return out


def _criterion(c: Any) -> dict[str, Any]:
    return {
        "type": c.type,
        "name": c.name,
        "weight": c.weight,
        "weight_code": c.weight_code,
    }


def labelled_criterion(c: dict[str, Any]) -> dict[str, Any]:
    """A selection criterion with a ``label``: its name, else the name of its type."""
    return {**c, "label": c.get("name") or SELECTION_TYPES.get(c.get("type") or "", c.get("type"))}


def earliest_deadline(
    lots: Sequence[Lot | LoadedLot], today: dt.date, subtype: str | None = None
) -> tuple[dt.datetime | None, bool]:
    """Earliest deadline today or later over the lots (else the latest past one) and
    whether a placeholder deadline (year 2090+) was seen. A qualification system
    (subtype 15) with no submission deadline takes applications until the end of its
    duration (BT-537): that day is its deadline."""
    placeholder = False
    real: list[dt.datetime] = []
    for lot in lots:
        d = lot.submission_deadline
        if d is None:
            continue
        if d.year >= PLACEHOLDER_YEAR:
            placeholder = True
            continue
        real.append(d)
    if not real and subtype in QUALIFICATION_SUBTYPES:
        ends = [e for e in (getattr(lot, "end_date", None) for lot in lots) if e is not None]
        if ends and max(ends).year < PLACEHOLDER_YEAR:
            last = max(ends)
            real.append(dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=OSLO))
    future = [d for d in real if d.date() >= today]
    if future:
        return min(future), placeholder
    return (max(real) if real else None), placeholder


def deadline_facts(
    n: Notice | LoadedNotice, lots: Sequence[Lot | LoadedLot], today: dt.date
) -> tuple[dt.datetime | None, bool, Message | None]:
    """(deadline, placeholder seen, where the deadline comes from)."""
    deadline_at, placeholder = earliest_deadline(lots, today, n.subtype)
    real_deadline = any(
        lot.submission_deadline and lot.submission_deadline.year < PLACEHOLDER_YEAR for lot in lots
    )
    source = (
        None
        if deadline_at is None
        else N_("tender deadline (BT-131)")
        if real_deadline
        else N_("the qualification system ends (BT-537): applications until then")
    )
    return deadline_at, placeholder, source


def _lot_row(n: Notice | LoadedNotice, lot: Lot | LoadedLot, share: float | None) -> dict[str, Any]:
    """One lot of a bid row: deadline, value and its kind, price weight, criteria."""
    lot_deadline = lot.submission_deadline
    if lot.estimated_value is not None:
        value, kind = float(lot.estimated_value), "estimated"
    elif lot.framework_max_value is not None:
        value, kind = float(lot.framework_max_value), "framework_max"
    else:
        value, kind = None, None
    return {
        "lot_id": lot.lot_id,
        "title": lot.title,
        "deadline": lot_deadline.date()
        if lot_deadline and lot_deadline.year < PLACEHOLDER_YEAR
        else None,
        "value": value,
        "value_kind": kind,
        "currency": lot.currency or n.currency,
        "price_weight": share,
        "criteria": [_criterion(c) for c in lot.award_criteria],
        "documents_url": lot.documents_url,
    }


def lot_rows(
    n: Notice | LoadedNotice, lots: Sequence[Lot | LoadedLot]
) -> tuple[list[dict[str, Any]], float | None]:
    """The lots as rows and the highest price weight over them (percent, or None)."""
    rows, shares = [], []
    for lot in lots:
        share = price_weight_percent(_lot_criteria(lot))
        if share is not None:
            shares.append(share)
        rows.append(_lot_row(n, lot, share))
    return rows, (max(shares) if shares else None)


def selection_criteria(lots: Sequence[Lot | LoadedLot]) -> list[dict[str, Any]]:
    """The selection requirements (BT-747/750) over the lots, each once, with a label."""
    criteria = [
        labelled_criterion(c)
        for lot in lots
        for c in (getattr(lot, "selection_criteria", None) or [])
    ]
    return list(
        {(c.get("type"), c.get("name"), c.get("description")): c for c in criteria}.values()
    )
