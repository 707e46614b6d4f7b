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

Budget windows: :mod:`tracker.opportunities.budget`; the one-line reason:
:mod:`tracker.opportunities.explain`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tracker.dates import add_months
from tracker.messages import N_, Text
from tracker.opportunities.bases import read_basis
from tracker.opportunities.budget import (
    BudgetWindow,
    budget_windows_for,
    safe_date,
)
from tracker.opportunities.window_rules import (
    DEFAULT_RULES,
    PROCEDURES,
    RULE_DIALOGUE,
    RULE_DRAFTING,
    RULE_DRAFTING_DEFAULT,
    RULE_EVALUATION,
    RULE_INFLUENCE,
    RULE_LEAD,
    RULE_PIN,
    RULE_STANDSTILL,
    WindowRules,
)

# The basis of a date: a domain message's text (``tracker.messages.Text``: English, translated
# where it is shown), or the words of a notice.
Basis = str

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
CONFIDENCES: tuple[str, ...] = ("high", "medium", "low", "unknown")

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


_PROCEDURE_SET = frozenset(PROCEDURES)


def expected_procedure(procedure_type: str | None, default: str = "open") -> str:
    """The procedure a re-tender is expected to use, from an eForms BT-105 code or a name."""
    if not procedure_type:
        return default
    if procedure_type in _PROCEDURE_SET:  # the common case: no string work
        return procedure_type
    code = procedure_type.strip().lower()
    if code in PROCEDURES:
        return code
    return _PROCEDURE_MAP.get(code, default)


# --------------------------------------------------------------------------- results


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
    sources: dict[str, tuple[str, Basis]]
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


def year_end_window(today: dt.date, rules: WindowRules = DEFAULT_RULES) -> dict[str, object] | None:
    """The optional year-end spending window of ``today``'s year, or None when disabled."""
    if rules.year_end is None:
        return None
    (sm, sd), (em, ed) = rules.year_end
    start, end = safe_date(today.year, sm, sd), safe_date(today.year, em, ed)
    return {"start": start, "end": end, "active": start <= today <= end}


# --------------------------------------------------------------------------- timeline

_DAY = dt.timedelta(days=1)
_SRC_PUBLISHED = ("notice", Text(N_("issue date of the competition notice")))
_SRC_PLANNED = ("notice", Text(N_("planned date of the contract notice (BT-127)")))
_SRC_PLANNING = ("notice", Text(N_("issue date of the planning notice")))
_SRC_DIALOGUE = ("notice", Text(N_("issue date of the market-dialogue notice")))
_DRAFTING_OPENS = Text(N_("when the buyer starts drafting (earlier than the months before expiry)"))
_SRC_DEADLINE = ("notice", Text(N_("tender deadline (BT-131)")))
_SRC_AWARD = ("notice", Text(N_("award date")))
_SRC_AWARD_CLAMPED = ("estimate", Text(N_("no later than the contract start")))
_SRC_START = ("notice", Text(N_("contract start (BT-536)")))
_SRC_AFTER_EXPIRY = ("rule", Text(N_("the day after the current contract ends")))
_NO_LATER_THAN_PUBLICATION = Text(N_("no later than publication"))
_NO_EARLIER_THAN_INFLUENCE = Text(N_("no earlier than influence opens"))
_RESPONSE_DEADLINE = Text(N_("response deadline"))

Sources = dict[str, tuple[str, Basis]]


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
    contradict each other are put in order and the basis says so.
    """
    proc = expected_procedure(procedure, rules.default_procedure)
    planned_publication_basis = read_basis(planned_publication_basis)
    dialogue_basis = read_basis(dialogue_basis)
    src: Sources = {}
    keys: dict[str, str] = {}
    if expiry is not None:
        src["expiry"] = _EXPIRY_SOURCES.get(expiry_source) or _expiry_source(expiry_source)
    dialogue_until = (
        _dialogue_until(planning_date, dialogue_until, dialogue_basis, rules, src, keys)
        if dialogue and planning_date is not None
        else None
    )
    if (
        planned_publication is not None
        and planning_date is not None
        and (planned_publication_until or planned_publication) < planning_date
    ):
        planned_publication = None  # a planned date before the notice itself is noise
    pub, planned_until = _publication(
        proc, rules, src, keys, expiry, planning_date, published, planned_publication,
        planned_publication_until, planned_publication_basis,
    )  # fmt: skip
    if pub is None:
        return _undated(today, expiry, expiry_source, proc, contract_start, src, keys)
    opens, drafting = _influence(
        pub, proc, rules, src, keys, expiry, planning_date, dialogue, value
    )
    dl, award, start = _after_publication(
        pub, proc, rules, src, keys, expiry, deadline, awarded, contract_start
    )
    is_published = published is not None
    phase, overdue, due, days_left = _phase(
        today, is_published, planning_date, dialogue_until, planned_until,
        opens, drafting, pub, dl, award, start,
    )  # fmt: skip
    budget, windows = budget_windows_for(
        start, pub, rules.budget, today=today, influence_opens=opens
    )
    return Timeline(
        expiry=expiry, expiry_source=expiry_source, procedure=proc, influence_opens=opens,
        drafting_starts=drafting, expected_publication=pub, expected_deadline=dl,
        expected_award=award, contract_start=start, published=is_published, phase=phase,
        confidence=_confidence(is_published, expiry, expiry_source, planned_publication),
        can_influence=phase in INFLUENCE_PHASES, days_left=days_left, overdue=overdue,
        budget=budget, sources=src, rule_keys=keys, budget_windows=windows,
        dialogue_until=dialogue_until, planned_until=planned_until, due=due,
    )  # fmt: skip


def _undated(
    today: dt.date,
    expiry: dt.date | None,
    expiry_source: str,
    proc: str,
    contract_start: dt.date | None,
    src: Sources,
    keys: dict[str, str],
) -> Timeline:
    """An opportunity with no date to anchor a publication on: watching (or running)."""
    phase = "running" if contract_start is not None and today >= contract_start else "watching"
    return Timeline(
        expiry=expiry, expiry_source=expiry_source, procedure=proc, influence_opens=None,
        drafting_starts=None, expected_publication=None, expected_deadline=None,
        expected_award=None, contract_start=contract_start, published=False, phase=phase,
        confidence="unknown", can_influence=False, days_left=None, overdue=False,
        budget=None, sources=src, rule_keys=keys,
    )  # fmt: skip


_EXPIRY_SOURCES: dict[str, tuple[str, Basis]] = {}


def _expiry_source(source: str) -> tuple[str, Basis]:
    """The source of the expiry (one message per end source, built once)."""
    found = _EXPIRY_SOURCES.get(source)
    if found is None:
        found = ("contract", Text(N_("end date (%(source)s)", source=source)))
        if len(_EXPIRY_SOURCES) < 256:  # end sources are a short list (Contract.end_source)
            _EXPIRY_SOURCES[source] = found
    return found


def _dialogue_until(
    planning_date: dt.date,
    dialogue_until: dt.date | None,
    dialogue_basis: str | None,
    rules: WindowRules,
    src: Sources,
    keys: dict[str, str],
) -> dt.date:
    """A market dialogue is open from its notice to its last day to respond (else
    ``dialogue_days`` after the notice)."""
    if dialogue_until is None or dialogue_until < planning_date:
        pre: dict[str, Any] = rules.pre  # type: ignore[assignment]  # values of several kinds
        src["dialogue_until"] = pre["dialogue_default"]
        keys["dialogue_until"] = RULE_DIALOGUE
        return planning_date + dt.timedelta(days=rules.dialogue_days)
    src["dialogue_until"] = ("notice", dialogue_basis or _RESPONSE_DEADLINE)
    return dialogue_until


def _publication(
    proc: str,
    rules: WindowRules,
    src: Sources,
    keys: dict[str, str],
    expiry: dt.date | None,
    planning_date: dt.date | None,
    published: dt.date | None,
    planned: dt.date | None,
    planned_until: dt.date | None,
    planned_basis: str | None,
) -> tuple[dt.date | None, dt.date | None]:
    """The (expected) publication and the last day of a period the buyer stated: the
    actual date, the planned one, expiry less the lead time, or after a planning notice."""
    pre: dict[str, Any] = rules.pre  # type: ignore[assignment]
    if published is not None:
        src["expected_publication"] = _SRC_PUBLISHED
        return published, None
    if planned is not None:
        src["expected_publication"] = ("notice", planned_basis) if planned_basis else _SRC_PLANNED
        return planned, max(planned_until or planned, planned)
    if expiry is not None:
        src["expected_publication"] = pre["pub_rule"][proc]
        keys["expected_publication"] = RULE_LEAD
        return add_months(expiry, -pre["lead"][proc]), None
    if planning_date is not None:
        src["expected_publication"] = pre["pub_pin"]
        keys["expected_publication"] = RULE_PIN
        return add_months(planning_date, rules.pin_expected_months), None
    return None, None


def _influence(
    pub: dt.date,
    proc: str,
    rules: WindowRules,
    src: Sources,
    keys: dict[str, str],
    expiry: dt.date | None,
    planning_date: dt.date | None,
    dialogue: bool,
    value: float | None,
) -> tuple[dt.date, dt.date]:
    """(influence opens, drafting starts). Drafting: by value band before publication.
    Influence opens 12 months before expiry, at a planning notice or dialogue, or when
    drafting starts (a large framework is prepared earlier): the earliest."""
    pre: dict[str, Any] = rules.pre  # type: ignore[assignment]
    pub_kind = src["expected_publication"][0]
    if value is None:  # the common case: no value band
        draft_months, band = rules.drafting_months, None
    else:
        draft_months, band = rules.drafting_band(value)
    drafting = add_months(pub, -draft_months)
    src["drafting_starts"] = (
        "estimate" if pub_kind == "estimate" else "rule",
        pre["drafting"][band][1],
    )
    keys["drafting_starts"] = RULE_DRAFTING if band else RULE_DRAFTING_DEFAULT
    # the earliest of these (the first one on a tie)
    opens: dt.date | None = None
    opens_src: tuple[str, Basis] = pre["opens_rule"]
    opens_key: str | None = None
    if expiry is not None:
        opens = add_months(expiry, -rules.influence_months)
    if planning_date is not None and (opens is None or planning_date < opens):
        opens, opens_src, opens_key = (
            planning_date, _SRC_DIALOGUE if dialogue else _SRC_PLANNING, ""
        )  # fmt: skip
    if opens is None:
        lead = pre["lead"][proc]
        opens, opens_src = add_months(pub, lead - rules.influence_months), pre["opens_est"]
    if expiry is not None and drafting < opens:
        opens, opens_src, opens_key = drafting, (src["drafting_starts"][0], _DRAFTING_OPENS), ""
    src["influence_opens"] = opens_src
    if opens_key is None:
        keys["influence_opens"] = RULE_INFLUENCE
    elif opens_key == "" and opens_src[1] is _DRAFTING_OPENS:
        keys["influence_opens"] = keys["drafting_starts"]
    if opens > pub:
        opens = pub
        src["influence_opens"] = (pub_kind, _NO_LATER_THAN_PUBLICATION)
        keys.pop("influence_opens", None)
    if drafting < opens:
        drafting = opens
        src["drafting_starts"] = (src["influence_opens"][0], _NO_EARLIER_THAN_INFLUENCE)
        keys.pop("drafting_starts", None)
    return opens, drafting


def _after_publication(
    pub: dt.date,
    proc: str,
    rules: WindowRules,
    src: Sources,
    keys: dict[str, str],
    expiry: dt.date | None,
    deadline: dt.date | None,
    awarded: dt.date | None,
    contract_start: dt.date | None,
) -> tuple[dt.date, dt.date, dt.date]:
    """(deadline, award, contract start): the known dates when they are in order, else
    the minimum tender period, the evaluation period and the standstill."""
    pre: dict[str, Any] = rules.pre  # type: ignore[assignment]
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
    return dl, award, start


def _phase(
    today: dt.date,
    is_published: bool,
    planning_date: dt.date | None,
    dialogue_until: dt.date | None,
    planned_until: dt.date | None,
    opens: dt.date,
    drafting: dt.date,
    pub: dt.date,
    dl: dt.date,
    award: dt.date,
    start: dt.date,
) -> tuple[str, bool, bool, int | None]:
    """(phase, overdue, due, days left) on ``today`` (see the module docstring)."""
    if (
        not is_published
        and dialogue_until is not None
        and planning_date is not None
        and planning_date <= today <= dialogue_until
    ):
        return "dialogue_open", False, False, (dialogue_until - today).days
    if today < opens:
        return "watching", False, False, None
    if today < drafting:
        return "influence_open", False, False, (pub - today).days
    if today < pub:
        return "drafting", False, False, (pub - today).days
    if not is_published:
        if planned_until is not None:
            # A publication the buyer stated: due within its period, then overdue.
            if today <= planned_until and today < start:
                return "drafting", False, True, (planned_until - today).days
            return "overdue", True, False, None
        # Estimated publication overdue: still drafting until the contract start, then
        # ``overdue`` (the contract ended and no competition was seen), never running.
        if today < start:
            return "drafting", True, False, 0
        return "overdue", True, False, None
    if today <= dl:
        return "published", False, False, None
    if today < award:
        return "evaluation", False, False, None
    if today < start:
        return "awarded", False, False, None
    return "running", False, False, None


def _confidence(
    is_published: bool,
    expiry: dt.date | None,
    expiry_source: str,
    planned_publication: dt.date | None,
) -> str:
    if is_published:
        return "high"
    if expiry is not None:
        confidence = EXPIRY_CONFIDENCE.get(expiry_source, "medium")
        return "low" if confidence == "unknown" else confidence
    if planned_publication is not None:
        return "medium"
    return "low"
