"""Influence windows, timelines and budget-cycle windows: pure functions, no clock, no session.

Everything here takes values and returns values; ``today`` is always a parameter.
``WindowRules`` holds the numbers (built once from ``tracker.rules``; the defaults
equal the shipped ``rules.toml``), so that computing 100,000 timelines never looks a
rule up per item.

The timeline of an opportunity, in order (each date carries its source and basis):

    influence_opens <= drafting_starts <= expected_publication <= expected_deadline
        <= expected_award <= contract_start

- influence opens ``influence_months`` (24) before expiry, or at a planning notice
  (whichever is earlier); it closes at publication.
- drafting (buyer's preparation of the specification) starts ``drafting_months`` (6)
  before publication.
- expected publication: the actual date when published; else the planned date BT-127 of a
  planning notice; else expiry minus the lead time of the expected procedure (open 6,
  restricted 8, negotiated 9, dialogue 12 months).
- expected deadline: BT-131 when published; else publication + minimum tender period.
- expected award: deadline + evaluation period.
- contract start: the day after the current contract ends, and never before award +
  standstill.

Phases (``PHASES``): watching, influence_open, drafting, overdue, published, evaluation,
awarded, running. While no competition notice is known, an opportunity whose expected
publication has passed stays in ``drafting`` (flag ``overdue``) until its contract start:
the buyer may simply be late, and influence is still possible until the notice is out.
From the contract start on (the current contract has ended) with still no competition
notice seen, the phase is ``overdue`` (flag ``overdue`` too): a risk to show, never
``running``, because nobody saw a new contract: the re-tender is late, was missed, or the
agreement was extended. ``running`` needs a published competition.

Budget windows (``budget_window_for``): the budget year ``t`` that funds a contract is
the calendar year of its start (the money is first spent in ``t`` and must be in budget
``t``). Milestones are dated relative to ``t`` (``year = -1``: prepared and adopted in
``t - 1``); a milestone on or after the contract start is left out. With the default
1 October – 31 March window, a contract starting April–December of ``t`` is funded in the
window 1 Oct ``t-1`` – 31 Mar ``t`` (it holds the proposal and the adoption of budget
``t``); one starting January–March of ``t`` in 1 Oct ``t-2`` – 31 Mar ``t-1`` (it holds the
initiatives and frames of budget ``t``; the adoption in December ``t-1`` follows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

PHASES: tuple[str, ...] = (
    "watching",
    "influence_open",
    "drafting",
    "overdue",
    "published",
    "evaluation",
    "awarded",
    "running",
)
INFLUENCE_PHASES = frozenset({"influence_open", "drafting"})
PROCEDURES: tuple[str, ...] = ("open", "restricted", "negotiated", "dialogue")
CONFIDENCES: tuple[str, ...] = ("high", "medium", "low", "unknown")
BUDGET_STATUSES: tuple[str, ...] = ("open", "upcoming", "closed", "missed")

# How the expiry was known (``Contract.end_source``) -> confidence of the timeline.
EXPIRY_CONFIDENCE: Mapping[str, str] = MappingProxyType(
    {
        "explicit": "high",
        "agreement_page": "high",
        "import": "high",
        "manual": "high",
        "start+duration": "high",
        "conclusion+duration": "medium",
        "cn_explicit": "medium",
        "cn_start+duration": "medium",
        "notice+duration": "medium",
        "latest_end": "medium",
        "award+duration": "medium",
        "award+cn_duration": "medium",
        "modification": "medium",
        "framework_default": "low",
        "text_duration": "low",  # the period stated in the notice text (contracts.py)
        "text_years": "low",  # a year range in the title or description
        "text_start+duration": "medium",  # a start stated in the text + the duration
        "option_end": "medium",  # the end of the next option (tracker.contracts.next_end)
        "expected+duration": "low",  # a contract expected from a competition, no award seen
        "estimate": "low",
        "unknown": "unknown",
    }
)

# eForms BT-105 procedure type -> expected procedure of the re-tender.
_PROCEDURE_MAP: Mapping[str, str] = MappingProxyType(
    {
        "open": "open",
        "restricted": "restricted",
        "neg-w-call": "negotiated",
        "neg-wo-call": "negotiated",
        "comp-tend": "negotiated",
        "comp-dial": "dialogue",
        "innovation": "dialogue",
    }
)

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=1 << 17)
def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` shifted by whole calendar months, the day clamped to the month's length.

    >>> add_months(dt.date(2027, 9, 30), -6)
    datetime.date(2027, 3, 30)
    >>> add_months(dt.date(2024, 3, 31), -1)
    datetime.date(2024, 2, 29)
    """
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    m += 1
    last = _MONTH_DAYS[m - 1]
    if m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        last = 29
    day = d.day if d.day <= last else last
    return dt.date(y, m, day)


def expected_procedure(procedure_type: str | None, default: str = "open") -> str:
    """The procedure a re-tender is expected to use, from an eForms BT-105 code or a name."""
    if not procedure_type:
        return default
    code = procedure_type.strip().lower()
    if code in PROCEDURES:
        return code
    return _PROCEDURE_MAP.get(code, default)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class BudgetCalendar:
    """A budget-cycle window (month, day) to (month, day), possibly crossing the new year.

    ``milestones`` are (name, month, day, year offset relative to the budget year ``t``,
    the calendar year of the contract start; see the module docstring).
    """

    buyer_type: str = "default"
    start: tuple[int, int] = (10, 1)
    end: tuple[int, int] = (3, 31)
    milestones: tuple[tuple[str, int, int, int], ...] = ()
    source: str = "the source interviews"


def _default_mapping(values: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class WindowRules:
    """The numbers the timeline needs, resolved once (see ``tracker.rules.Rules.window_rules``)."""

    influence_months: int = 24
    drafting_months: int = 6
    lead_months: Mapping[str, int] = field(
        default_factory=lambda: _default_mapping(
            {"open": 6, "restricted": 8, "negotiated": 9, "dialogue": 12}
        )
    )
    tender_days: Mapping[str, int] = field(
        default_factory=lambda: _default_mapping(
            {"open": 30, "restricted": 55, "negotiated": 55, "dialogue": 55}
        )
    )
    evaluation_days: int = 75
    standstill_days: int = 10
    pin_expected_months: int = 6
    default_procedure: str = "open"
    budget: BudgetCalendar = field(default_factory=BudgetCalendar)
    year_end: tuple[tuple[int, int], tuple[int, int]] | None = None
    # Derived once: source tuples and periods, so that a timeline builds no strings.
    pre: dict[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tender = {
            p: (
                dt.timedelta(days=self.tender_days.get(p, 30)),
                ("estimate", f"{self.tender_days.get(p, 30)} days minimum tender period ({p})"),
            )
            for p in PROCEDURES
        }
        pre = {
            "lead": {p: self.lead_months.get(p, 6) for p in PROCEDURES},
            "pub_rule": {
                p: ("rule", f"{p} procedure, {self.lead_months.get(p, 6)} months before expiry")
                for p in PROCEDURES
            },
            "pub_pin": ("estimate", f"{self.pin_expected_months} months after the planning notice"),
            "opens_rule": ("rule", f"{self.influence_months} months before expiry"),
            "opens_est": (
                "estimate",
                f"{self.influence_months} months before the estimated expiry",
            ),
            "draft_rule": ("rule", f"{self.drafting_months} months before publication"),
            "draft_est": ("estimate", f"{self.drafting_months} months before publication"),
            "tender": tender,
            "evaluation": dt.timedelta(days=self.evaluation_days),
            "award_est": ("estimate", f"{self.evaluation_days} days evaluation"),
            "standstill": dt.timedelta(days=self.standstill_days),
            "start_est": ("estimate", f"award + {self.standstill_days} days standstill"),
        }
        object.__setattr__(self, "pre", pre)


DEFAULT_RULES = WindowRules()


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class BudgetWindow:
    """The budget-cycle window that funds an opportunity; ``status`` in ``BUDGET_STATUSES``.

    ``missed``: the window ended before influence could start (a risk to show);
    ``closed``: it ended after influence had opened; ``open``/``upcoming`` relative to today.
    """

    start: dt.date
    end: dt.date
    status: str
    buyer_type: str
    milestones: tuple[tuple[str, dt.date], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "buyer_type": self.buyer_type,
            "milestones": [{"name": n, "date": d} for n, d in self.milestones],
        }


@dataclass(slots=True)
class Timeline:
    """The computed timeline of one opportunity on one day.

    ``sources`` maps each date field to ``(kind, basis)`` where kind is ``notice``
    (a notice field), ``contract`` (the stored contract), ``rule`` (a rule applied to a
    known date) or ``estimate`` (a rule applied to an estimated date).
    """

    expiry: dt.date | None
    expiry_source: str
    procedure: str
    influence_opens: dt.date | None
    drafting_starts: dt.date | None
    expected_publication: dt.date | None
    expected_deadline: dt.date | None
    expected_award: dt.date | None
    contract_start: dt.date | None
    published: bool
    phase: str
    confidence: str
    can_influence: bool
    days_left: int | None
    overdue: bool
    budget: BudgetWindow | None
    sources: dict[str, tuple[str, str]]

    def dates(self) -> list[tuple[str, dt.date | None]]:
        """The six ordered dates as (name, date)."""
        return [
            ("influence_opens", self.influence_opens),
            ("drafting_starts", self.drafting_starts),
            ("expected_publication", self.expected_publication),
            ("expected_deadline", self.expected_deadline),
            ("expected_award", self.expected_award),
            ("contract_start", self.contract_start),
        ]


# --------------------------------------------------------------------------- budget windows


def budget_window_for(
    contract_start: dt.date,
    calendar: BudgetCalendar,
    *,
    today: dt.date,
    influence_opens: dt.date | None = None,
) -> BudgetWindow:
    """The last budget window that ends before ``contract_start``, with its status today.

    >>> w = budget_window_for(dt.date(2027, 9, 30), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2026, 10, 1), datetime.date(2027, 3, 31), 'open')
    >>> w = budget_window_for(dt.date(2027, 2, 1), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2025, 10, 1), datetime.date(2026, 3, 31), 'closed')
    """
    start, end, milestones = _budget_bounds(contract_start, calendar)
    if influence_opens is not None and end < influence_opens:
        status = "missed"
    elif today < start:
        status = "upcoming"
    elif today <= end:
        status = "open"
    else:
        status = "closed"
    return BudgetWindow(start, end, status, calendar.buyer_type, milestones)


@lru_cache(maxsize=1 << 16)
def _budget_bounds(
    contract_start: dt.date, calendar: BudgetCalendar
) -> tuple[dt.date, dt.date, tuple[tuple[str, dt.date], ...]]:
    (sm, sd), (em, ed) = calendar.start, calendar.end
    end = _safe_date(contract_start.year, em, ed)
    if end >= contract_start:
        end = _safe_date(contract_start.year - 1, em, ed)
    crosses = (sm, sd) > (em, ed)
    start = _safe_date(end.year - 1 if crosses else end.year, sm, sd)
    t = budget_year(contract_start)
    dated = ((name, _safe_date(t + off, m, d)) for name, m, d, off in calendar.milestones)
    milestones = tuple(sorted((x for x in dated if x[1] < contract_start), key=lambda x: x[1]))
    return start, end, milestones


def budget_year(contract_start: dt.date) -> int:
    """The budget year ``t`` that funds a contract: the calendar year of its start.

    The money is first spent in ``t``, so it must be in budget ``t``, prepared and adopted
    in ``t - 1`` (state: initiatives January, frames March, proposal October, adopted by
    15 December of ``t - 1``). Milestone offsets in the rules are relative to ``t``.

    >>> budget_year(dt.date(2023, 4, 1)), budget_year(dt.date(2027, 1, 1))
    (2023, 2027)
    """
    return contract_start.year


def year_end_window(today: dt.date, rules: WindowRules = DEFAULT_RULES) -> dict[str, object] | None:
    """The optional year-end spending window of ``today``'s year, or None when disabled."""
    if rules.year_end is None:
        return None
    (sm, sd), (em, ed) = rules.year_end
    start, end = _safe_date(today.year, sm, sd), _safe_date(today.year, em, ed)
    return {"start": start, "end": end, "active": start <= today <= end}


def _safe_date(year: int, month: int, day: int) -> dt.date:
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return dt.date(year, month, day)


# --------------------------------------------------------------------------- timeline

_DAY = dt.timedelta(days=1)


def compute_timeline(
    today: dt.date,
    rules: WindowRules = DEFAULT_RULES,
    *,
    expiry: dt.date | None = None,
    expiry_source: str = "unknown",
    procedure: str | None = None,
    planning_date: dt.date | None = None,
    planned_publication: dt.date | None = None,
    published: dt.date | None = None,
    deadline: dt.date | None = None,
    awarded: dt.date | None = None,
    contract_start: dt.date | None = None,
) -> Timeline:
    """The timeline of one opportunity on ``today`` (pure; see the module docstring).

    Inputs: ``expiry`` of the current contract (with ``expiry_source``, the
    ``Contract.end_source``), ``procedure`` (BT-105 code or open/restricted/negotiated/
    dialogue), ``planning_date`` (issue date of a planning notice), ``planned_publication``
    (its BT-127), ``published`` (issue date of the competition notice), ``deadline``
    (BT-131), ``awarded`` (conclusion or award date) and a known ``contract_start``
    (BT-536 of the competition). Dates that contradict each other are put in order and
    the basis says so; an opportunity with no date at all is ``watching`` with
    confidence ``unknown``.
    """
    proc = expected_procedure(procedure, rules.default_procedure)
    pre: dict[str, Any] = rules.pre  # type: ignore[assignment]
    lead = pre["lead"][proc]
    src: dict[str, tuple[str, str]] = {}
    if expiry is not None:
        src["expiry"] = ("contract", f"end date ({expiry_source})")

    # Publication anchor.
    if (
        planned_publication is not None
        and planning_date is not None
        and planned_publication < planning_date
    ):
        planned_publication = None  # a planned date before the notice itself is noise
    if published is not None:
        pub: dt.date | None = published
        src["expected_publication"] = _SRC_PUBLISHED
    elif planned_publication is not None:
        pub = planned_publication
        src["expected_publication"] = _SRC_PLANNED
    elif expiry is not None:
        pub = add_months(expiry, -lead)
        src["expected_publication"] = pre["pub_rule"][proc]
    elif planning_date is not None:
        pub = add_months(planning_date, rules.pin_expected_months)
        src["expected_publication"] = pre["pub_pin"]
    else:
        pub = None

    if pub is None:
        phase = "running" if contract_start is not None and today >= contract_start else "watching"
        return Timeline(
            expiry, expiry_source, proc, None, None, None, None, None, contract_start,
            False, phase, "unknown", False, None, False, None, src,
        )  # fmt: skip
    pub_kind = src["expected_publication"][0]

    # Influence opens: 24 months before expiry, or at a planning notice (the earlier).
    if expiry is not None:
        opens = add_months(expiry, -rules.influence_months)
        src["influence_opens"] = pre["opens_rule"]
        if planning_date is not None and planning_date < opens:
            opens = planning_date
            src["influence_opens"] = _SRC_PLANNING
    elif planning_date is not None:
        opens = planning_date
        src["influence_opens"] = _SRC_PLANNING
    else:
        opens = add_months(pub, lead - rules.influence_months)
        src["influence_opens"] = pre["opens_est"]
    if opens > pub:
        opens = pub
        src["influence_opens"] = (pub_kind, "no later than publication")

    drafting = add_months(pub, -rules.drafting_months)
    src["drafting_starts"] = pre["draft_est"] if pub_kind == "estimate" else pre["draft_rule"]
    if drafting < opens:
        drafting = opens
        src["drafting_starts"] = (src["influence_opens"][0], "no earlier than influence opens")

    # Deadline, award, contract start.
    if deadline is not None and deadline >= pub:
        dl = deadline
        src["expected_deadline"] = _SRC_DEADLINE
    else:
        period, src["expected_deadline"] = pre["tender"][proc]
        dl = pub + period
    if awarded is not None and awarded >= dl:
        award = awarded
        src["expected_award"] = _SRC_AWARD
    else:
        award = dl + pre["evaluation"]
        src["expected_award"] = pre["award_est"]
        if contract_start is not None and dl <= contract_start < award:
            award = contract_start
            src["expected_award"] = _SRC_AWARD_CLAMPED
    earliest_start = award + pre["standstill"]
    if contract_start is not None and contract_start >= award:
        start = contract_start
        src["contract_start"] = _SRC_START
    elif expiry is not None and expiry + _DAY >= earliest_start:
        start = expiry + _DAY
        src["contract_start"] = _SRC_AFTER_EXPIRY
    else:
        start = earliest_start
        src["contract_start"] = pre["start_est"]

    # Phase on today.
    is_published = published is not None
    overdue = False
    if today < opens:
        phase = "watching"
    elif today < drafting:
        phase = "influence_open"
    elif today < pub:
        phase = "drafting"
    elif not is_published:
        # Publication overdue: still drafting until the contract start, then ``overdue``
        # (the contract ended and no competition was seen), never ``running``.
        phase, overdue = ("drafting" if today < start else "overdue"), True
    elif today <= dl:
        phase = "published"
    elif today < award:
        phase = "evaluation"
    elif today < start:
        phase = "awarded"
    else:
        phase = "running"
    can = phase == "influence_open" or phase == "drafting"
    days_left = ((pub - today).days if not overdue else 0) if can else None

    if is_published:
        confidence = "high"
    elif expiry is not None:
        confidence = EXPIRY_CONFIDENCE.get(expiry_source, "medium")
        if confidence == "unknown":
            confidence = "low"
    elif planned_publication is not None:
        confidence = "medium"
    else:
        confidence = "low"

    budget = budget_window_for(start, rules.budget, today=today, influence_opens=opens)
    return Timeline(
        expiry, expiry_source, proc, opens, drafting, pub, dl, award, start, is_published,
        phase, confidence, can, days_left, overdue, budget, src,
    )  # fmt: skip


_SRC_PUBLISHED = ("notice", "issue date of the competition notice")
_SRC_PLANNED = ("notice", "planned date of the contract notice (BT-127)")
_SRC_PLANNING = ("notice", "issue date of the planning notice")
_SRC_DEADLINE = ("notice", "tender deadline (BT-131)")
_SRC_AWARD = ("notice", "award date")
_SRC_AWARD_CLAMPED = ("estimate", "no later than the contract start")
_SRC_START = ("notice", "contract start (BT-536)")
_SRC_AFTER_EXPIRY = ("rule", "the day after the current contract ends")


# --------------------------------------------------------------------------- explanation


def explain(
    tl: Timeline,
    today: dt.date,
    *,
    kind: str = "retender",
    title: str | None = None,
    buyer: str | None = None,
    framework: bool = True,
) -> str:
    """The one-line reason shown next to ``can_influence``.

    Example (the issue's): "Agreement X at Sykehusinnkjøp HF ends 2027-09-30; re-tender
    expected ~2027-03-30 (open procedure, 6 months before expiry); specification drafting
    since ~2026-09-30; on 2026-11-28 influence is still possible for 122 days, until
    publication".
    """
    name = title or "(untitled)"
    at = f" at {buyer}" if buyer else ""
    parts: list[str] = []
    if kind == "retender":
        noun = "Agreement" if framework else "Contract"
        verb = "ended" if tl.expiry is not None and tl.expiry < today else "ends"
        ends = f" {verb} {tl.expiry.isoformat()}" if tl.expiry is not None else ""
        parts.append(f"{noun} {name}{at}{ends}")
    elif kind == "planning":
        parts.append(f"Planning notice {name}{at}")
    else:
        parts.append(f"Competition {name}{at}")
    pub = tl.expected_publication
    if pub is None:
        parts.append("end date unknown: no timeline can be computed")
        return "; ".join(parts)
    psrc = tl.sources.get("expected_publication", ("", ""))
    if tl.published:
        parts.append(f"competition published {pub.isoformat()}")
    else:
        what = "re-tender" if kind == "retender" else "competition"
        was = " was" if pub < today else ""
        parts.append(f"{what}{was} expected ~{pub.isoformat()} ({psrc[1]})")
    d = tl.drafting_starts
    t = today.isoformat()
    if tl.phase == "watching":
        assert tl.influence_opens is not None
        n = (tl.influence_opens - today).days
        parts.append(
            f"on {t} influence is not yet open: it opens ~{tl.influence_opens.isoformat()} "
            f"(in {n} days)"
        )
    elif tl.phase == "influence_open":
        assert d is not None
        parts.append(f"specification drafting from ~{d.isoformat()}")
        parts.append(f"on {t} influence is possible for {tl.days_left} days, until publication")
    elif tl.phase == "overdue":
        if kind == "retender":
            noun = "agreement" if framework else "contract"
            parts.append(
                f"on {t} no competition notice has been seen: re-tender overdue or the "
                f"{noun} was extended"
            )
        else:
            parts.append(
                f"on {t} no competition notice has been seen although the contract was "
                f"expected to start ~{tl.contract_start}: competition overdue, not found "
                "or dropped"
            )
    elif tl.phase == "drafting" and tl.overdue:
        parts.append(
            f"on {t} publication is overdue and no competition notice is known: "
            "influence may still be possible until it is published"
        )
    elif tl.phase == "drafting":
        assert d is not None
        parts.append(f"specification drafting since ~{d.isoformat()}")
        parts.append(
            f"on {t} influence is still possible for {tl.days_left} days, until publication"
        )
    elif tl.phase == "published":
        assert tl.expected_deadline is not None
        parts.append(
            f"on {t} influence is closed; questions only until the deadline "
            f"{tl.expected_deadline.isoformat()}"
        )
    elif tl.phase == "evaluation":
        assert tl.expected_award is not None
        parts.append(f"on {t} tenders are being evaluated; award expected ~{tl.expected_award}")
    elif tl.phase == "awarded":
        parts.append(f"on {t} awarded; the new contract starts ~{tl.contract_start}")
    else:
        parts.append(f"on {t} the new contract is running (since ~{tl.contract_start})")
    return "; ".join(parts)
