"""The period of a contract from what its notices say: start, base end, options, latest end.

Pure rules (values in, values out): :func:`compute_term` reads the lot's period, the
contract notice's and the facts of the texts in the order the module docstring of
:mod:`tracker.contracts.build` gives; :func:`next_end` is the next decision point on a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tracker.dates import add_months
from tracker.messages import N_, Message, Text
from tracker.notices.notice_text import Quote, TextFacts, _extension, _total

FRAMEWORK_DEFAULT_YEARS = 4
# end_source -> the category ``bench/derive.py`` counts (explicit, duration, text, default,
# unknown).
END_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "explicit": "explicit",
        "cn_explicit": "explicit",
        "modification": "explicit",
        "agreement_page": "explicit",
        "import": "explicit",
        "manual": "explicit",
        "text_duration": "text",
        "text_years": "text",
        "framework_default": "default",
        "unlimited": "unknown",
        "unknown": "unknown",
    }
)


def end_category(source: str | None) -> str:
    """explicit | duration | text | default | unknown: what kind of source an end has."""
    if not source:
        return "unknown"
    if source in END_CATEGORIES:
        return END_CATEGORIES[source]
    return "duration" if "duration" in source else "unknown"


@dataclass(frozen=True)
class Period:
    """What one notice says about the period of a lot."""

    start: dt.date | None = None
    end: dt.date | None = None
    duration_value: Decimal | float | None = None
    duration_unit: str | None = None  # DAY|WEEK|MONTH|YEAR, or UNLIMITED
    max_renewals: int | None = None
    renewal_text: str | None = None
    options_text: str | None = None

    @property
    def has_duration(self) -> bool:
        return (
            self.duration_value is not None
            and self.duration_unit is not None
            and self.duration_unit.upper() != "UNLIMITED"
        )

    @property
    def unlimited(self) -> bool:
        return (self.duration_unit or "").upper() == "UNLIMITED"


def months_end(start: dt.date, months: int) -> dt.date:
    """Last day of a period of ``months`` starting on ``start``."""
    return add_months(start, months) - dt.timedelta(days=1)


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


def _period_months(p: Period | None) -> int | None:
    if p is None or not p.has_duration:
        return None
    unit = (p.duration_unit or "").upper()
    v = Decimal(str(p.duration_value))
    if unit == "YEAR":
        return int(v * 12)
    if unit == "MONTH":
        return int(v)
    return None


def next_end(
    end: dt.date | None,
    option_ends: Sequence[dt.date | str] | None,
    latest: dt.date | None,
    today: dt.date,
) -> dt.date | None:
    """The next decision point on ``today``: the base end, else the next option's end, else
    the latest end, whichever comes first on or after ``today``; None when all have passed
    (or nothing is known)."""
    points: list[dt.date] = []
    for d in (end, *(option_ends or ()), latest):
        if isinstance(d, str):
            d = dt.date.fromisoformat(d)
        if d is not None:
            points.append(d)
    coming = sorted(d for d in points if d >= today)
    return coming[0] if coming else None


@dataclass
class Term:
    """The period of one contract: start, base end, each option's end, latest end."""

    start: dt.date | None = None
    start_source: str = "unknown"
    end: dt.date | None = None
    end_source: str = "unknown"
    option_ends: list[dt.date] = field(default_factory=list)
    latest: dt.date | None = None
    latest_source: str | None = None
    confidence: str = "low"
    options_text: str | None = None
    max_renewals: int | None = None  # BT-58
    evidence: list[dict[str, Any]] = field(default_factory=list)


_START_LABELS: dict[str, tuple[str, Message]] = {
    "explicit": ("start+duration", N_("BT-536 start date")),
    "text": ("text_start+duration", N_("start stated in the text")),
    "text_years": ("start+duration", N_("first year of the period in the text")),
    "cn_explicit": ("cn_start+duration", N_("start date in the contract notice")),
    "conclusion": ("conclusion+duration", N_("BT-145 contract conclusion date (assumed start)")),
    "award": ("award+duration", N_("BT-1451 winner decision date (assumed start)")),
    "notice": (
        "notice+duration",
        N_("notice date (assumed start: no conclusion or award date)"),
    ),
    "expected": ("expected+duration", N_("expected award + standstill (no award seen)")),
}


def fact_row(
    fact: str, value: Any, source: str | Message, confidence: str, quote: str | None = None
) -> dict[str, Any]:
    """One row of evidence (stored as JSON): ``source`` is English text; a domain message
    is kept beside it (``source_message``: msgid and values) so that readers can show it
    translated (:func:`readable_evidence`)."""
    if isinstance(value, dt.date):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = float(value)
    row = {"fact": fact, "value": value, "source": str(source), "confidence": confidence}
    if quote:
        row["quote"] = quote
    if isinstance(source, Message):
        row["source_message"] = {"msgid": source.msgid, "values": dict(source.values)}
    return row


def readable_evidence(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Stored evidence rows as readers show them: a source kept as a domain message is a
    ``tracker.messages.Text`` (English, translated where it is shown)."""
    out = []
    for row in rows or []:
        kept = row.get("source_message")
        if kept is None:
            out.append(row)
            continue
        message = Message(kept["msgid"], kept.get("values") or {})
        out.append(
            {k: v for k, v in row.items() if k != "source_message"} | {"source": Text(message)}
        )
    return out


def compute_term(
    *,
    lot: Period | None,
    cn_lot: Period | None = None,
    conclusion: dt.date | None = None,
    award: dt.date | None = None,
    notice_date: dt.date | None = None,
    framework: bool = False,
    facts: TextFacts | None = None,
    max_years: int = FRAMEWORK_DEFAULT_YEARS,
    expected_start: dt.date | None = None,
) -> Term:
    """Start, base end, option ends and latest end of one contract, with evidence. Pure.

    ``lot`` is what the result (or modification) notice says, ``cn_lot`` what the contract
    notice of the procedure says about the same lot, ``facts`` what the texts say
    (:func:`tracker.notices.notice_text.read_facts`). See the module docstring
    (tracker.contracts.build) for the order.
    """
    lot = lot or Period()
    facts = facts or TextFacts()
    t = Term(max_renewals=lot.max_renewals or (cn_lot.max_renewals if cn_lot else None))
    unlimited = lot.unlimited or (
        not lot.has_duration and lot.end is None and cn_lot is not None and cn_lot.unlimited
    )
    start_confidence = _start(
        t, lot, cn_lot, facts, (conclusion, award, expected_start, notice_date)
    )
    months = _base_end(t, lot, cn_lot, facts, unlimited, framework)
    if t.end is not None:
        t.evidence.append(fact_row("base_end", t.end, t.end_source, "high"))
    # Options and the latest end.
    if t.end is not None:
        _options(t, lot, cn_lot, facts, months, t.start, framework, max_years)
    elif t.end_source == "framework_default" and t.start is not None:
        t.latest = months_end(t.start, 12 * max_years)
        t.latest_source = f"framework_default ({max_years} years)"
        t.evidence.append(
            fact_row(
                "latest_end",
                t.latest,
                N_(
                    "rule: a framework agreement runs at most %(years)s years (regime)",
                    years=max_years,
                ),  # fmt: skip
                "low",
            )
        )
    t.confidence = _confidence(t, unlimited, start_confidence)
    return t


def _start(
    t: Term,
    lot: Period,
    cn_lot: Period | None,
    facts: TextFacts,
    assumed: tuple[dt.date | None, dt.date | None, dt.date | None, dt.date | None],
) -> str:
    """Set the start of ``t`` and its evidence; the confidence of the start. ``assumed``
    are the conclusion, award, expected start and notice dates, tried in that order."""
    ev = t.evidence
    period = facts.period.value if facts.period is not None else None
    if lot.start:
        t.start, t.start_source = lot.start, "explicit"
        ev.append(fact_row("start", lot.start, N_("BT-536 start date"), "high"))
        return "high"
    if facts.start is not None:
        q = facts.start
        t.start, t.start_source = q.value, "text"
        ev.append(q.as_dict("start"))
        return q.confidence
    if period is not None and period[0] is not None and facts.period is not None:
        t.start, t.start_source = dt.date(period[0], 1, 1), "text_years"
        ev.append(facts.period.as_dict("period"))
        return "medium"
    if cn_lot is not None and cn_lot.start:
        t.start, t.start_source = cn_lot.start, "cn_explicit"
        ev.append(fact_row("start", cn_lot.start, N_("start date in the contract notice"), "high"))
        return "high"
    for day, source in zip(assumed, ("conclusion", "award", "expected", "notice"), strict=True):
        if day is not None:
            t.start, t.start_source = day, source
            ev.append(fact_row("start", day, _START_LABELS[source][1], "medium"))
            break
    return "low" if t.start_source == "expected" else "medium"


def _text_base(facts: TextFacts) -> Quote | None:
    """The base term in the text: stated, or the stated total less the options."""
    if facts.base_months is not None:
        return facts.base_months
    if facts.total_months is not None and facts.option_months is not None:
        total, options = facts.total_months.value, facts.option_months.value
        if total > options:
            quote = f"{facts.option_months.quote} … {facts.total_months.quote}"
            return Quote(total - options, quote, facts.total_months.where)
    return None


def _duration_end(p: Period, start: dt.date) -> dt.date | None:
    assert p.duration_value is not None and p.duration_unit is not None
    return add_duration(start, p.duration_value, p.duration_unit)


def _base_end(
    t: Term,
    lot: Period,
    cn_lot: Period | None,
    facts: TextFacts,
    unlimited: bool,
    framework: bool,
) -> int | None:
    """Set the base end of ``t`` (and its source and evidence) in the order of the module
    docstring; the base term in months when known (for the options)."""
    ev, start = t.evidence, t.start
    text_base = _text_base(facts)
    period = facts.period.value if facts.period is not None else None
    if unlimited:
        t.end_source = "unlimited"
        ev.append(fact_row("duration", "unlimited", N_("BT-538 duration: UNLIMITED"), "high"))
    elif lot.end:
        t.end, t.end_source = lot.end, "explicit"
        ev.append(fact_row("base_end", lot.end, N_("BT-537 end date"), "high"))
    elif facts.new_end is not None:
        t.end, t.end_source = facts.new_end.value, "modification"
        ev.append(facts.new_end.as_dict("new_end"))
    elif lot.has_duration and start is not None:
        t.end = _duration_end(lot, start)
        t.end_source = _START_LABELS.get(t.start_source, ("start+duration", ""))[0]
        ev.append(
            fact_row(
                "duration",
                f"{lot.duration_value:g} {lot.duration_unit}",
                N_("BT-36 duration"),
                "high",
            )
        )
        return _period_months(lot)
    elif cn_lot is not None and cn_lot.end:
        t.end, t.end_source = cn_lot.end, "cn_explicit"
        ev.append(fact_row("base_end", cn_lot.end, N_("end date in the contract notice"), "high"))
    elif cn_lot is not None and cn_lot.has_duration and start is not None:
        t.end = _duration_end(cn_lot, start)
        own_start = t.start_source in ("explicit", "cn_explicit", "text")
        t.end_source = "cn_start+duration" if own_start else "award+cn_duration"
        what = f"{cn_lot.duration_value:g} {cn_lot.duration_unit}"
        ev.append(fact_row("duration", what, N_("BT-36 duration in the contract notice"), "high"))
        return _period_months(cn_lot)
    elif text_base is not None and start is not None:
        months = int(text_base.value)
        t.end, t.end_source = months_end(start, months), "text_duration"
        ev.append(text_base.as_dict("base_term_months"))
        return months
    elif (
        facts.total_months is not None
        and facts.option_months is None
        and start is not None
        and not lot.max_renewals
    ):
        months = int(facts.total_months.value)
        t.end, t.end_source = months_end(start, months), "text_duration"
        ev.append(facts.total_months.as_dict("total_months"))
        return months
    elif period is not None and facts.period is not None:
        t.end, t.end_source = dt.date(period[1], 12, 31), "text_years"
        if t.start_source != "text_years":
            ev.append(facts.period.as_dict("period"))
    elif framework and start is not None:
        t.end_source = "framework_default"
    return None


def _confidence(t: Term, unlimited: bool, start_confidence: str) -> str:
    """How sure the ends are: see the module docstring (tracker.contracts.build)."""
    if unlimited:
        return "high" if t.start_source in ("explicit", "cn_explicit") else "medium"
    if t.end is None:
        return "low"
    if t.end_source == "text_years" or t.start_source == "text_years":
        return "medium"
    if t.start_source in ("explicit", "cn_explicit") or t.end_source in (
        "explicit",
        "cn_explicit",
    ):
        return "high"
    if t.start_source == "text":
        return start_confidence
    return "low" if t.start_source == "expected" else "medium"


def _options(
    t: Term,
    lot: Period,
    cn_lot: Period | None,
    facts: TextFacts,
    months: int | None,
    start: dt.date | None,
    framework: bool,
    max_years: int,
) -> None:
    """Each option's end and the latest end of a term with a known base end."""
    assert t.end is not None
    steps: list[int] = []
    total: int | None = None
    label = ""
    texts = [(lot.options_text, "options"), (lot.renewal_text, "renewals")]
    if cn_lot is not None and not (lot.options_text or lot.renewal_text):
        texts += [(cn_lot.options_text, "options"), (cn_lot.renewal_text, "renewals")]
    for text, what in texts:
        ext = _extension(text, months)
        tot = _total(text)
        if ext is None and tot is None:
            continue
        if ext is not None and ext[0] > 0:
            steps, label = list(ext[2]), f"{what}: {ext[1]}"
        if tot is not None:
            total = tot[0]
            label = label or f"{what}: {tot[1]}"
        t.options_text = text
        t.evidence.append(
            fact_row(
                "options",
                text,
                N_("BT-54 options") if what == "options" else N_("BT-57 renewals"),
                "high",
            )
        )
        break
    if not steps and total is None:
        if facts.option_months is not None:
            steps = list(facts.option_steps) or [int(facts.option_months.value)]
            label = f"text: {facts.option_months.quote}"
            t.options_text = facts.option_months.quote
            t.evidence.append(facts.option_months.as_dict("options_months"))
        if facts.total_months is not None:
            total = int(facts.total_months.value)
            t.evidence.append(facts.total_months.as_dict("total_months"))
            label = label or f"text: {facts.total_months.quote}"
    if total is not None and months is not None and total > months:
        remaining = total - months
        size = steps[0] if steps and steps[0] <= remaining else remaining
        steps = [size] * (remaining // size) + ([remaining % size] if remaining % size else [])
    elif total is not None and start is not None and not steps:
        latest = months_end(start, total)
        if latest > t.end:
            steps = []
            t.option_ends = [latest]
    ends: list[dt.date] = list(t.option_ends)
    day = t.end
    for step in steps:
        day = months_end(day + dt.timedelta(days=1), step)
        ends.append(day)
    latest = ends[-1] if ends else t.end
    source = (
        label[:64] if ends else ("renewals_unknown_length" if lot.max_renewals else "no_options")
    )
    if framework and start is not None and ends:
        cap = months_end(start, 12 * max_years)
        if latest > cap:
            ends = [d for d in ends if d <= cap]
            if (not ends or ends[-1] < cap) and cap > t.end:
                ends.append(cap)
            latest = max(cap, t.end)
            source = f"{label[:40]} (capped at {max_years} years)"
    t.option_ends = ends
    t.latest, t.latest_source = latest, source
    if ends:
        t.evidence.append(fact_row("latest_end", latest, source, "high"))
