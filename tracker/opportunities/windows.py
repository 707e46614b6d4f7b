"""Influence windows, timelines and budget-cycle windows: pure functions, no clock, no session.

Everything here takes values and returns values; ``today`` is always a parameter.
``WindowRules`` holds the numbers (built once from ``tracker.rules``; the defaults
equal the shipped ``rules.toml``, where each names its source), so that computing
100,000 timelines never looks a rule up per item.

The timeline of an opportunity, in order (each date carries its source and basis, and
``rule_keys`` names the rule of ``rules.toml`` that made it):

    influence_opens <= drafting_starts <= expected_publication <= expected_deadline
        <= expected_award <= contract_start

- influence opens ``influence_months`` (12: the source interviews, "avtalen går ut om et
  år") before expiry, at a planning notice or market dialogue, or when the buyer starts
  drafting (whichever is earliest); it closes at publication.
- drafting (the buyer's preparation of the specification) starts ``drafting_months``
  before publication, by value band (``drafting_bands``: about 3 months for small
  contracts up to 18 months for the largest frameworks; 6 when the value is unknown).
- expected publication: the actual date when published; else the planned date of a
  planning notice (BT-127, or a period its text states: "utlyses i januar 2023"); else
  expiry minus the lead time of the expected procedure (open 6, restricted 8, negotiated
  9, dialogue 12 months); else 6 months after the planning notice.
- expected deadline: BT-131 when published; else publication + minimum tender period.
- expected award: deadline + evaluation period.
- contract start: the day after the current contract ends, and never before award +
  standstill.

Phases (``PHASES``): watching, dialogue_open, influence_open, drafting, overdue,
published, evaluation, awarded, running.

- ``dialogue_open``: a market dialogue (the buyer asks the market for input before the
  competition) is open today: from its notice to its response deadline (else its meeting
  day, else ``dialogue_days`` after the notice). Influence is possible *now*, with days
  left to respond.
- While no competition notice is known, an opportunity whose *estimated* publication has
  passed stays in ``drafting`` (flag ``overdue``) until its contract start: the buyer may
  simply be late. A publication date the *buyer stated* (BT-127 or the text) is due during
  its stated period (flag ``due``); once that period has passed with no competition seen,
  the phase is ``overdue``: influence is no longer assumed (the competition may be out).
- From the contract start on (the current contract has ended) with still no competition
  notice seen, the phase is ``overdue`` too: a risk to show, never ``running``.

Budget windows (``budget_windows_for``): the window of the buyer type's budget calendar
(default 1 October – 31 March) that funds an opportunity, anchored two ways, both shown:
to the *decision to procure* (the last window that ends before the expected publication)
and to the *contract start* (the last window that ends before it: the money is first spent
in the budget year of the start). The calendar's ``anchor`` says which one is primary.
A window lists only the milestones of the calendar that fall inside it, each with the
budget year it prepares (``t`` = the year the milestone's offset is relative to).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from tracker.dates import add_months

PHASES: tuple[str, ...] = (
    "watching",
    "dialogue_open",
    "influence_open",
    "drafting",
    "overdue",
    "published",
    "evaluation",
    "awarded",
    "running",
)
INFLUENCE_PHASES = frozenset({"dialogue_open", "influence_open", "drafting"})
PROCEDURES: tuple[str, ...] = ("open", "restricted", "negotiated", "dialogue")
CONFIDENCES: tuple[str, ...] = ("high", "medium", "low", "unknown")
BUDGET_STATUSES: tuple[str, ...] = ("open", "upcoming", "closed", "missed")
BUDGET_ANCHORS: tuple[str, ...] = ("publication", "contract_start")

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
        "option_end": "medium",  # the end of the next option (tracker.contracts.build.next_end)
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


def expected_procedure(procedure_type: str | None, default: str = "open") -> str:
    """The procedure a re-tender is expected to use, from an eForms BT-105 code or a name."""
    if not procedure_type:
        return default
    code = procedure_type.strip().lower()
    if code in PROCEDURES:
        return code
    return _PROCEDURE_MAP.get(code, default)


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: one cached window per year
class BudgetCalendar:
    """A budget-cycle window (month, day) to (month, day), possibly crossing the new year.

    ``milestones`` are (name, month, day, year offset relative to the budget year ``t``
    the milestone prepares: ``-1`` = prepared in ``t - 1``). ``anchor``: which window is
    primary, the one before the decision to procure (``publication``) or the one before
    the contract start (``contract_start``); both are always computed.
    """

    buyer_type: str = "default"
    start: tuple[int, int] = (10, 1)
    end: tuple[int, int] = (3, 31)
    milestones: tuple[tuple[str, int, int, int], ...] = ()
    source: str = "the source interviews"
    anchor: str = "contract_start"


def _default_mapping(values: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(values)


# Rule keys of rules.toml named by the dates they make (``Timeline.rule_keys``).
RULE_INFLUENCE = "windows.influence_months_before_expiry"
RULE_DRAFTING = "windows.drafting_months_by_value"
RULE_DRAFTING_DEFAULT = "windows.drafting_months_before_publication"
RULE_LEAD = "windows.publish_before_expiry_months"
RULE_PIN = "windows.pin_expected_months_to_notice"
RULE_DIALOGUE = "windows.dialogue_days_without_deadline"
RULE_TENDER_OPEN = "durations.min_tender_days_open"
RULE_TENDER_REQUEST = "durations.min_request_days"
RULE_EVALUATION = "durations.evaluation_days"
RULE_STANDSTILL = "durations.standstill_days"


@dataclass(frozen=True, slots=True)
class WindowRules:
    """The numbers the timeline needs, resolved once (see ``tracker.rules.Rules.window_rules``)."""

    influence_months: int = 12
    drafting_months: int = 6  # value unknown
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
    # Drafting months by value band: ((from NOK, months, band name), ...), ascending.
    drafting_bands: tuple[tuple[float, int, str], ...] = (
        (0, 3, "small"),
        (2_300_000, 6, "medium"),
        (10_000_000, 12, "large"),
        (100_000_000, 18, "largest"),
    )
    dialogue_days: int = 30  # a market dialogue with no deadline stated is open this long
    # Derived once: source tuples and periods, so that a timeline builds no strings.
    pre: dict[str, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tender_rule = {p: RULE_TENDER_REQUEST for p in PROCEDURES}
        tender_rule["open"] = RULE_TENDER_OPEN
        tender = {
            p: (
                dt.timedelta(days=self.tender_days.get(p, 30)),
                ("estimate", f"{self.tender_days.get(p, 30)} days minimum tender period ({p})"),
            )
            for p in PROCEDURES
        }
        bands = tuple(sorted(self.drafting_bands))
        drafting = {
            name: (months, f"{months} months before publication ({name} value band)")
            for _, months, name in bands
        }
        drafting[None] = (  # type: ignore[index]
            self.drafting_months,
            f"{self.drafting_months} months before publication (value unknown)",
        )
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
            "bands": bands,
            "drafting": drafting,
            "tender": tender,
            "tender_rule": tender_rule,
            "evaluation": dt.timedelta(days=self.evaluation_days),
            "award_est": ("estimate", f"{self.evaluation_days} days evaluation"),
            "standstill": dt.timedelta(days=self.standstill_days),
            "start_est": ("estimate", f"award + {self.standstill_days} days standstill"),
            "dialogue_default": (
                "estimate",
                f"{self.dialogue_days} days after the notice: no response deadline stated",
            ),
        }
        object.__setattr__(self, "pre", pre)

    def drafting_band(self, value: float | None) -> tuple[int, str | None]:
        """(months of drafting, band name) for an estimated value (None: unknown)."""
        if value is None:
            return self.drafting_months, None
        months, name = self.drafting_months, None
        for start, m, n in self.pre["bands"]:  # type: ignore[attr-defined]
            if value >= start:
                months, name = m, n
        return months, name


DEFAULT_RULES = WindowRules()


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class BudgetWindow:
    """The budget-cycle window that funds an opportunity; ``status`` in ``BUDGET_STATUSES``.

    ``missed``: the window ended before influence could start (a risk to show);
    ``closed``: it ended after influence had opened; ``open``/``upcoming`` relative to today.
    ``anchor``: ``publication`` (the window before the decision to procure) or
    ``contract_start``; ``milestones``: (name, date) of the calendar inside the window, the
    name saying which budget year it prepares.
    """

    start: dt.date
    end: dt.date
    status: str
    buyer_type: str
    milestones: tuple[tuple[str, dt.date], ...]
    anchor: str = "contract_start"
    anchor_date: dt.date | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "buyer_type": self.buyer_type,
            "anchor": self.anchor,
            "anchor_date": self.anchor_date,
            "milestones": [{"name": n, "date": d} for n, d in self.milestones],
        }


@dataclass(slots=True)
class Timeline:
    """The computed timeline of one opportunity on one day.

    ``sources`` maps each date field to ``(kind, basis)`` where kind is ``notice``
    (a notice field or its text), ``contract`` (the stored contract), ``rule`` (a rule
    applied to a known date) or ``estimate`` (a rule applied to an estimated date);
    ``rule_keys`` maps a date field to the key of the rule in ``rules.toml`` that made it.
    ``budget`` is the primary budget window, ``budget_windows`` both (by anchor).
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
    rule_keys: dict[str, str] = field(default_factory=dict)
    budget_windows: dict[str, BudgetWindow] = field(default_factory=dict)
    dialogue_until: dt.date | None = None  # a market dialogue's last day to respond
    planned_until: dt.date | None = None  # last day of a publication period the buyer stated
    due: bool = False  # the stated publication period is now

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
    anchor_date: dt.date,
    calendar: BudgetCalendar,
    *,
    today: dt.date,
    influence_opens: dt.date | None = None,
    anchor: str = "contract_start",
) -> BudgetWindow:
    """The last budget window that ends before ``anchor_date`` (the contract start, or the
    expected publication for ``anchor="publication"``), with its status today and the
    calendar's milestones that fall inside it.

    >>> w = budget_window_for(dt.date(2027, 9, 30), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2026, 10, 1), datetime.date(2027, 3, 31), 'open')
    >>> w = budget_window_for(dt.date(2027, 2, 1), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2025, 10, 1), datetime.date(2026, 3, 31), 'closed')
    """
    start, end, milestones = _budget_bounds(anchor_date, calendar)
    status = budget_status(start, end, influence_opens, today)
    return BudgetWindow(start, end, status, calendar.buyer_type, milestones, anchor, anchor_date)


def budget_status(
    start: dt.date, end: dt.date, influence_opens: dt.date | None, today: dt.date
) -> str:
    """``missed`` (the window ended before influence could start), else ``upcoming``,
    ``open`` or ``closed`` relative to ``today``."""
    if influence_opens is not None and end < influence_opens:
        return "missed"
    if today < start:
        return "upcoming"
    if today <= end:
        return "open"
    return "closed"


def budget_windows_for(
    contract_start: dt.date,
    publication: dt.date | None,
    calendar: BudgetCalendar,
    *,
    today: dt.date,
    influence_opens: dt.date | None = None,
) -> tuple[BudgetWindow, dict[str, BudgetWindow]]:
    """(primary window, both windows by anchor): before the decision to procure (the
    expected publication) and before the contract start; the calendar's ``anchor`` picks
    the primary one (the contract start when there is no publication date)."""
    out = {
        "contract_start": budget_window_for(
            contract_start, calendar, today=today, influence_opens=influence_opens
        )
    }
    if publication is not None:
        out["publication"] = budget_window_for(
            publication,
            calendar,
            today=today,
            influence_opens=influence_opens,
            anchor="publication",
        )
    primary = out.get(calendar.anchor) or out["contract_start"]
    return primary, out


def _budget_bounds(
    anchor_date: dt.date, calendar: BudgetCalendar
) -> tuple[dt.date, dt.date, tuple[tuple[str, dt.date], ...]]:
    """The last window of ``calendar`` that ends before ``anchor_date``, with the
    milestones inside it (all before the anchor, since the window ends before it)."""
    # the window ending in the anchor's year if it ends before the anchor, else the one
    # ending a year earlier (a 29 February end is the 28th in other years: same order)
    before = (anchor_date.month, anchor_date.day) > calendar.end
    return _window_of(calendar, anchor_date.year if before else anchor_date.year - 1)


@lru_cache(maxsize=1 << 14)
def _window_of(
    calendar: BudgetCalendar, end_year: int
) -> tuple[dt.date, dt.date, tuple[tuple[str, dt.date], ...]]:
    (sm, sd), (em, ed) = calendar.start, calendar.end
    end = _safe_date(end_year, em, ed)
    crosses = (sm, sd) > (em, ed)
    start = _safe_date(end.year - 1 if crosses else end.year, sm, sd)
    # Every milestone of the calendar that falls inside the window, named with the budget
    # year it prepares (a window of October-March holds, for the state, the proposal and
    # adoption of next year's budget and the initiatives and frames of the one after).
    inside = []
    for name, m, d, off in calendar.milestones:
        for year in range(start.year, end.year + 1):
            day = _safe_date(year, m, d)
            if start <= day <= end:
                inside.append((f"{name} (budget {year - off})", day))
    return start, end, tuple(sorted(inside, key=lambda x: x[1]))


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
    value: float | None = None,
    planned_publication_until: dt.date | None = None,
    planned_publication_basis: str | None = None,
    dialogue_until: dt.date | None = None,
    dialogue_basis: str | None = None,
    dialogue: bool = False,
) -> Timeline:
    """The timeline of one opportunity on ``today`` (pure; see the module docstring).

    Inputs: ``expiry`` of the current contract (with ``expiry_source``, the
    ``Contract.end_source``), ``procedure`` (BT-105 code or open/restricted/negotiated/
    dialogue), ``planning_date`` (issue date of a planning notice), ``planned_publication``
    (the first day of the publication the buyer stated: BT-127, or a period in the text,
    with its last day ``planned_publication_until`` and ``planned_publication_basis``),
    ``published`` (issue date of the competition notice), ``deadline`` (BT-131),
    ``awarded`` (conclusion or award date), a known ``contract_start`` (BT-536 of the
    competition), ``value`` (estimated value: the drafting band), and a market
    ``dialogue`` (notice on ``planning_date``) with its last day ``dialogue_until`` and
    ``dialogue_basis`` (no deadline: ``dialogue_days`` after the notice). Dates that
    contradict each other are put in order and the basis says so; an opportunity with no
    date at all is ``watching`` with confidence ``unknown``.
    """
    proc = expected_procedure(procedure, rules.default_procedure)
    pre: dict[str, Any] = rules.pre  # type: ignore[assignment]
    lead = pre["lead"][proc]
    src: dict[str, tuple[str, str]] = {}
    keys: dict[str, str] = {}
    if expiry is not None:
        src["expiry"] = ("contract", f"end date ({expiry_source})")

    # A market dialogue: open from its notice to its last day to respond.
    if dialogue and planning_date is not None:
        if dialogue_until is None or dialogue_until < planning_date:
            dialogue_until = planning_date + dt.timedelta(days=rules.dialogue_days)
            src["dialogue_until"] = pre["dialogue_default"]
            keys["dialogue_until"] = RULE_DIALOGUE
        else:
            src["dialogue_until"] = ("notice", dialogue_basis or "response deadline")
    else:
        dialogue_until = None

    # Publication anchor.
    if (
        planned_publication is not None
        and planning_date is not None
        and (planned_publication_until or planned_publication) < planning_date
    ):
        planned_publication = None  # a planned date before the notice itself is noise
    planned_until = None
    if published is not None:
        pub: dt.date | None = published
        src["expected_publication"] = _SRC_PUBLISHED
    elif planned_publication is not None:
        pub = planned_publication
        planned_until = max(planned_publication_until or pub, pub)
        src["expected_publication"] = (
            ("notice", planned_publication_basis) if planned_publication_basis else _SRC_PLANNED
        )
    elif expiry is not None:
        pub = add_months(expiry, -lead)
        src["expected_publication"] = pre["pub_rule"][proc]
        keys["expected_publication"] = RULE_LEAD
    elif planning_date is not None:
        pub = add_months(planning_date, rules.pin_expected_months)
        src["expected_publication"] = pre["pub_pin"]
        keys["expected_publication"] = RULE_PIN
    else:
        pub = None

    if pub is None:
        phase = "running" if contract_start is not None and today >= contract_start else "watching"
        return Timeline(
            expiry, expiry_source, proc, None, None, None, None, None, contract_start,
            False, phase, "unknown", False, None, False, None, src, keys,
        )  # fmt: skip
    pub_kind = src["expected_publication"][0]

    # Drafting: by value band before publication.
    draft_months, band = rules.drafting_band(value)
    drafting = add_months(pub, -draft_months)
    basis = pre["drafting"][band][1]
    src["drafting_starts"] = ("estimate" if pub_kind == "estimate" else "rule", basis)
    keys["drafting_starts"] = RULE_DRAFTING if band else RULE_DRAFTING_DEFAULT

    # Influence opens: 12 months before expiry, at a planning notice or dialogue, or when
    # drafting starts (a large framework is prepared earlier): the earliest.
    candidates: list[tuple[dt.date, tuple[str, str], str | None]] = []
    if expiry is not None:
        candidates.append((add_months(expiry, -rules.influence_months), pre["opens_rule"], None))
    if planning_date is not None:
        candidates.append((planning_date, _SRC_DIALOGUE if dialogue else _SRC_PLANNING, ""))
    if expiry is None and planning_date is None:
        candidates.append((add_months(pub, lead - rules.influence_months), pre["opens_est"], None))
    opens, opens_src, opens_key = min(candidates, key=lambda c: c[0])
    if expiry is not None and drafting < opens:
        opens, opens_src, opens_key = drafting, (src["drafting_starts"][0], _DRAFTING_OPENS), ""
    src["influence_opens"] = opens_src
    if opens_key is None:
        keys["influence_opens"] = RULE_INFLUENCE
    elif opens_key == "" and opens_src[1] == _DRAFTING_OPENS:
        keys["influence_opens"] = keys["drafting_starts"]
    if opens > pub:
        opens = pub
        src["influence_opens"] = (pub_kind, "no later than publication")
        keys.pop("influence_opens", None)
    if drafting < opens:
        drafting = opens
        src["drafting_starts"] = (src["influence_opens"][0], "no earlier than influence opens")
        keys.pop("drafting_starts", None)

    # Deadline, award, contract start.
    if deadline is not None and deadline >= pub:
        dl = deadline
        src["expected_deadline"] = _SRC_DEADLINE
    else:
        period, src["expected_deadline"] = pre["tender"][proc]
        keys["expected_deadline"] = pre["tender_rule"][proc]
        dl = pub + period
    if awarded is not None and awarded >= dl:
        award = awarded
        src["expected_award"] = _SRC_AWARD
    else:
        award = dl + pre["evaluation"]
        src["expected_award"] = pre["award_est"]
        keys["expected_award"] = RULE_EVALUATION
        if contract_start is not None and dl <= contract_start < award:
            award = contract_start
            src["expected_award"] = _SRC_AWARD_CLAMPED
            keys.pop("expected_award")
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
        keys["contract_start"] = RULE_STANDSTILL

    # Phase on today.
    is_published = published is not None
    overdue = due = False
    days_left: int | None = None
    if not is_published and dialogue_until is not None and planning_date <= today <= dialogue_until:  # type: ignore[operator]
        phase = "dialogue_open"
        days_left = (dialogue_until - today).days
    elif today < opens:
        phase = "watching"
    elif today < drafting:
        phase = "influence_open"
    elif today < pub:
        phase = "drafting"
    elif not is_published:
        if planned_until is not None:
            # A publication the buyer stated: due within its period, then overdue.
            if today <= planned_until and today < start:
                phase, due = "drafting", True
            else:
                phase, overdue = "overdue", True
        else:
            # Estimated publication overdue: still drafting until the contract start, then
            # ``overdue`` (the contract ended and no competition was seen), never running.
            phase, overdue = ("drafting" if today < start else "overdue"), True
    elif today <= dl:
        phase = "published"
    elif today < award:
        phase = "evaluation"
    elif today < start:
        phase = "awarded"
    else:
        phase = "running"
    can = phase in INFLUENCE_PHASES
    if phase in ("influence_open", "drafting"):
        if due:
            days_left = (planned_until - today).days  # type: ignore[operator]
        elif overdue:
            days_left = 0
        else:
            days_left = (pub - today).days

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

    budget, windows = budget_windows_for(
        start, pub, rules.budget, today=today, influence_opens=opens
    )
    return Timeline(
        expiry, expiry_source, proc, opens, drafting, pub, dl, award, start, is_published,
        phase, confidence, can, days_left, overdue, budget, src, keys, windows,
        dialogue_until, planned_until, due,
    )  # fmt: skip


_SRC_PUBLISHED = ("notice", "issue date of the competition notice")
_SRC_PLANNED = ("notice", "planned date of the contract notice (BT-127)")
_SRC_PLANNING = ("notice", "issue date of the planning notice")
_SRC_DIALOGUE = ("notice", "issue date of the market-dialogue notice")
_DRAFTING_OPENS = "when the buyer starts drafting (earlier than the months before expiry)"
_SRC_DEADLINE = ("notice", "tender deadline (BT-131)")
_SRC_AWARD = ("notice", "award date")
_SRC_AWARD_CLAMPED = ("estimate", "no later than the contract start")
_SRC_START = ("notice", "contract start (BT-536)")
_SRC_AFTER_EXPIRY = ("rule", "the day after the current contract ends")


# --------------------------------------------------------------------------- explanation


def _period_text(tl: Timeline, basis: str) -> str:
    pub, until = tl.expected_publication, tl.planned_until
    if pub is None:
        return ""
    if until is None or until == pub:
        return f"~{pub.isoformat()} ({basis})"
    return f"between {pub.isoformat()} and {until.isoformat()} ({basis})"


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
    elif kind == "dialogue":
        parts.append(f"Market dialogue {name}{at}")
    elif kind == "planning":
        parts.append(f"Planning notice {name}{at}")
    else:
        parts.append(f"Competition {name}{at}")
    pub = tl.expected_publication
    if pub is None:
        parts.append("end date unknown: no timeline can be computed")
        return "; ".join(parts)
    psrc = tl.sources.get("expected_publication", ("", ""))
    t = today.isoformat()
    if tl.phase == "dialogue_open":
        assert tl.dialogue_until is not None
        dsrc = tl.sources.get("dialogue_until", ("", ""))
        parts.append(
            f"the buyer asks the market for input until {tl.dialogue_until.isoformat()} ({dsrc[1]})"
        )
        parts.append(
            f"on {t} influence is possible now: {tl.days_left} days left to respond; "
            f"competition expected {_period_text(tl, psrc[1])}"
        )
        return "; ".join(parts)
    if tl.published:
        parts.append(f"competition published {pub.isoformat()}")
    else:
        what = "re-tender" if kind == "retender" else "competition"
        was = " was" if pub < today else ""
        parts.append(f"{what}{was} expected {_period_text(tl, psrc[1])}")
    d = tl.drafting_starts
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
    elif tl.phase == "overdue" and tl.planned_until is not None and tl.planned_until < today:
        parts.append(
            f"on {t} the stated publication date has passed and no competition notice has "
            "been seen: it may be out (check Doffin), delayed or dropped; influence is no "
            "longer assumed"
        )
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
    elif tl.phase == "drafting" and tl.due:
        parts.append(
            f"on {t} publication is due (stated period): influence only until it is "
            f"published, at the latest {tl.days_left} days"
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
