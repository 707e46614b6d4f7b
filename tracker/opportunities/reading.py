"""One stored opportunity as every list shows it: :class:`OpportunityRow`, its timeline
recomputed for the day asked from the inputs ``recompute`` stored (the pure
``tracker.opportunities.windows`` functions are re-run, so a row is right on any day).

The queries are :mod:`tracker.pages.opportunities` (the command line, the pages, the API,
the exports, the calendar and the alerts call them); ``dataclasses.asdict``
(``tracker.pages.base.plain``) turns a row into plain values at their edge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tracker.contracts.notes import readable_opportunity_note
from tracker.enums import Phase
from tracker.opportunities.budget import budget_windows_for
from tracker.opportunities.explain import explain
from tracker.opportunities.matching import as_date
from tracker.opportunities.profile import ItemText
from tracker.opportunities.relevance import LearnedModel, relevance
from tracker.opportunities.windows import Timeline, compute_timeline, year_end_window
from tracker.rules import Rules

URGENT_INFLUENCE_DAYS = 60  # an influence window closing sooner is flagged urgent
_INPUT_DATES = (
    "expiry",
    "planning_date",
    "planned_publication",
    "planned_publication_until",
    "published",
    "deadline",
    "awarded",
    "contract_start",
    "dialogue_until",
)


@dataclass(frozen=True)
class OpportunityRow:
    """A coming procurement at an account on one day.

    ``kind``: retender | dialogue | planning | competition; ``group``: the procurement
    (the key without the account: the same agreement at several accounts);
    ``accounts``: (id, name) of the accounts it is at; ``incumbent``: us | competitor |
    unknown, ``incumbents`` the supplier names; ``note``: e.g. "probably extended: ask
    the buyer". The timeline: ``influence_opens`` ... ``contract_start``, ``phase``
    (``tracker.opportunities.windows.PHASES``), ``can_influence`` and ``days_left`` (a
    market dialogue: days left to respond), ``overdue``, ``due`` (a publication period
    the buyer stated is now) until ``planned_until``, ``confidence``, the one-line
    ``reason`` and the ``sources`` of every date (``{field: {kind, basis, rule}}``, the
    basis a domain message). ``budget_window``: the primary funding window ({start, end,
    status, buyer_type, anchor, anchor_date, milestones: [{name, date}]} or None),
    ``budget_windows`` both by anchor; ``year_end_window`` ({start, end, active} or None).
    A market dialogue adds the notice's reading (``pretender``), ``response_deadline``
    ({label, day, at, text, source}), ``dialogue_date``, ``dialogue_until``,
    ``planned_publication`` and the note on the rules for suppliers who take part.
    ``fit``: the capability profile's verdict (``tracker.opportunities.relevance``).
    ``activities``: the number recorded on it. Dates are ``datetime.date``; a row not
    recomputed yet keeps its stored columns and has no reason, sources or days left."""

    key: str
    group: str
    id: int
    kind: str
    account_id: int | None
    account: str | None
    accounts: tuple[tuple[int | None, str | None], ...]
    tier: str | None
    link_status: str | None
    title: str | None
    buyer: str | None
    main_cpv: str | None
    value: float | None
    currency: str | None
    framework: bool | None
    incumbent: str
    incumbents: list[str]
    expiry: dt.date | None
    expiry_source: str | None
    latest_end: dt.date | None
    note: str | None
    procedure: str | None
    influence_opens: dt.date | None
    drafting_starts: dt.date | None
    expected_publication: dt.date | None
    expected_deadline: dt.date | None
    expected_award: dt.date | None
    contract_start: dt.date | None
    published: bool
    phase: str
    can_influence: bool
    days_left: int | None
    overdue: bool
    due: bool
    planned_until: dt.date | None
    urgent: bool
    budget_window: dict[str, Any] | None
    budget_windows: dict[str, dict[str, Any]]
    year_end_window: dict[str, Any] | None
    confidence: str | None
    reason: str | None
    sources: dict[str, dict[str, Any]]
    fit: dict[str, Any]
    contract_id: int | None
    notice_pk: int | None
    notice_id: str | None
    competition_notice_pk: int | None
    competition_notice_id: str | None
    procedure_id: str | None
    activities: int = 0
    dialogue: bool = False
    pretender: dict[str, Any] | None = None
    pretender_kind: str | None = None
    response_deadline: dict[str, Any] | None = None
    dialogue_date: Any = None
    dialogue_until: dt.date | None = None
    planned_publication: dict[str, Any] | None = None
    supplier_note: str | None = None
    supplier_note_source: str | None = None


def timeline_for(
    inputs: dict[str, Any], today: dt.date, rules: Rules, account: dict[str, Any]
) -> Timeline:
    """The timeline of stored ``inputs`` (ISO dates) on ``today`` with the account's rules."""
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    kwargs = {k: as_date(inputs.get(k)) for k in _INPUT_DATES}
    value = inputs.get("value_nok")
    return compute_timeline(
        today,
        wr,
        expiry_source=inputs.get("expiry_source") or "unknown",
        procedure=inputs.get("procedure"),
        value=float(value) if value is not None else None,
        planned_publication_basis=inputs.get("planned_publication_basis"),
        dialogue=bool(inputs.get("dialogue")),
        dialogue_basis=inputs.get("dialogue_basis"),
        **kwargs,
    )


def sources_dict(tl: Timeline) -> dict[str, dict[str, Any]]:
    """Each date's source: ``{field: {kind, basis, rule}}`` (``basis``: a domain message
    or the notice's words; ``rule``: the key of the rule in ``rules.toml`` that made the
    date, None for dates read from a notice or contract)."""
    return {
        k: {"kind": v[0], "basis": v[1], "rule": tl.rule_keys.get(k)} for k, v in tl.sources.items()
    }


def stored_sources(tl: Timeline) -> dict[str, dict[str, str | None]]:
    """:func:`sources_dict` with each basis as English text (the stored timeline JSON)."""
    return {
        k: {"kind": v[0], "basis": str(v[1]), "rule": tl.rule_keys.get(k)}
        for k, v in tl.sources.items()
    }


def dialogue_fields(
    inputs: dict[str, Any], tl: Timeline, rules: Rules, account: dict[str, Any]
) -> dict[str, Any]:
    """What a market dialogue adds to an opportunity: the reading, the response deadline
    (``response_deadline``: label, day, text, source), the meeting day, the last day to
    respond (``dialogue_until``), and the note on the rules for suppliers who take part."""
    reading = inputs.get("pretender") or {}
    is_dialogue = bool(inputs.get("dialogue"))
    note = rules.effective(account.get("name")).get("dialogue.supplier_note")
    return {
        "pretender": reading or None,
        "pretender_kind": reading.get("kind"),
        "dialogue": is_dialogue,
        "response_deadline": reading.get("response_deadline") if is_dialogue else None,
        "dialogue_date": reading.get("dialogue_date") if is_dialogue else None,
        "dialogue_until": tl.dialogue_until,
        "planned_publication": reading.get("planned_publication"),
        "supplier_note": note.value if (is_dialogue and note) else None,
        "supplier_note_source": note.source if (is_dialogue and note) else None,
    }


def stored_budget_window(
    contract_start: dt.date | None,
    influence_opens: dt.date | None,
    today: dt.date,
    rules: Rules,
    account: dict[str, Any],
    publication: dt.date | None = None,
) -> dict[str, Any] | None:
    """The primary budget window of a stored opportunity on ``today``, from its stored
    ``contract_start``, ``influence_opens`` and ``expected_publication`` columns, exactly
    as ``recompute`` and :func:`read_opportunity` compute it
    (``tracker.opportunities.budget.budget_windows_for`` with the account's budget
    calendar): ``{start, end, status, buyer_type, anchor, anchor_date, milestones}`` with
    status open|upcoming|missed|closed, or None without a contract start. ``account``
    holds ``name`` and ``buyer_type`` (as the account rules need)."""
    if contract_start is None:
        return None
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    window, _ = budget_windows_for(
        contract_start, publication, wr.budget, today=today, influence_opens=influence_opens
    )
    return window.as_dict()


def opportunity_item(row: Any) -> ItemText:
    """What the capability profile reads of a stored opportunity (stored at recompute;
    title and main CPV for a row stored before that)."""
    extra = ((row.timeline or {}).get("extra") or {}) if row.timeline else {}
    stored = extra.get("profile_input")
    if stored:
        return ItemText.from_dict(stored)
    return ItemText([row.main_cpv] if row.main_cpv else [], row.main_cpv, row.title or "", "")


def phase_on(row: Any, account: dict[str, Any], today: dt.date, rules: Rules) -> str | None:
    """The phase :func:`read_opportunity` gives a stored row on ``today``, without the rest
    of the row (a list that keeps some phases tests them first)."""
    inputs = (row.timeline or {}).get("inputs") or {}
    if not inputs:
        return row.phase
    return timeline_for(inputs, today, rules, account).phase


def read_opportunity(
    row: Any,
    account: dict[str, Any],
    today: dt.date,
    rules: Rules,
    activities: int = 0,
    model: LearnedModel | None = None,
) -> OpportunityRow:
    """One stored opportunity (a row of ``tracker.db.models.Opportunity``'s columns) with
    its timeline for ``today``; ``account`` holds the account's name, tier, buyer type."""
    stored = row.timeline or {}
    inputs = stored.get("inputs") or {}
    extra = stored.get("extra") or {}
    fit = relevance(rules.profile(account.get("name")), opportunity_item(row), model)
    common = _common(row, account, extra, fit, activities)
    if not inputs:
        return _not_recomputed(row, account, today, rules, common)
    tl = timeline_for(inputs, today, rules, account)
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    reason = explain(
        tl,
        today,
        kind=row.kind,
        title=row.title,
        buyer=row.buyer_name,
        framework=bool(extra.get("framework", True)),
    )
    days = tl.days_left
    return OpportunityRow(
        **common,
        expiry=tl.expiry,
        expiry_source=tl.expiry_source if tl.expiry else "unknown",
        procedure=tl.procedure,
        influence_opens=tl.influence_opens,
        drafting_starts=tl.drafting_starts,
        expected_publication=tl.expected_publication,
        expected_deadline=tl.expected_deadline,
        expected_award=tl.expected_award,
        contract_start=tl.contract_start,
        published=tl.published,
        phase=tl.phase,
        can_influence=tl.can_influence,
        days_left=tl.days_left,
        overdue=tl.overdue,
        due=tl.due,
        planned_until=tl.planned_until,
        urgent=bool(tl.can_influence and days is not None and days < URGENT_INFLUENCE_DAYS),
        budget_window=tl.budget.as_dict() if tl.budget else None,
        budget_windows={k: w.as_dict() for k, w in tl.budget_windows.items()},
        year_end_window=year_end_window(today, wr),
        confidence=tl.confidence,
        reason=reason,
        sources=sources_dict(tl),
        **dialogue_fields(inputs, tl, rules, account),
    )


def _common(
    row: Any, account: dict[str, Any], extra: dict[str, Any], fit: dict[str, Any], n: int
) -> dict[str, Any]:
    """The fields that do not depend on the day."""
    return {
        "key": row.key,
        "group": row.key.rsplit(":", 1)[0],  # the same procurement at several accounts
        "id": row.id,
        "kind": row.kind,
        "account_id": row.account_id,
        "account": account.get("name"),
        "accounts": ((row.account_id, account.get("name")),),
        "tier": account.get("tier"),
        "link_status": extra.get("link_status"),
        "title": row.title,
        "buyer": row.buyer_name,
        "main_cpv": row.main_cpv,
        "value": float(row.value) if row.value is not None else None,
        "currency": extra.get("currency"),
        "framework": extra.get("framework") if row.kind == "retender" else None,
        "incumbent": extra.get("incumbent", "unknown"),
        "incumbents": list(extra.get("incumbents") or ()),
        "latest_end": as_date(extra.get("latest_end")),
        "note": readable_opportunity_note(extra.get("note")),
        "fit": fit,
        "contract_id": row.contract_id,
        "notice_pk": row.notice_pk,
        "notice_id": extra.get("notice_id"),
        "competition_notice_pk": row.competition_notice_pk,
        "competition_notice_id": extra.get("competition_notice_id"),
        "procedure_id": extra.get("procedure_id"),
        "activities": n,
    }


def _not_recomputed(
    row: Any, account: dict[str, Any], today: dt.date, rules: Rules, common: dict[str, Any]
) -> OpportunityRow:
    """A row stored without timeline inputs (not recomputed yet): its stored columns."""
    return OpportunityRow(
        **{**common, "note": None},
        expiry=row.expiry,
        expiry_source=row.expiry_source,
        procedure=None,
        influence_opens=row.influence_opens,
        drafting_starts=row.drafting_starts,
        expected_publication=row.expected_publication,
        expected_deadline=row.expected_deadline,
        expected_award=row.expected_award,
        contract_start=row.contract_start,
        published=row.phase in (Phase.PUBLISHED, Phase.EVALUATION, Phase.AWARDED, Phase.RUNNING),
        phase=row.phase,
        can_influence=False,
        days_left=None,
        overdue=row.phase == Phase.OVERDUE,
        due=False,
        planned_until=None,
        urgent=False,
        budget_window=stored_budget_window(
            row.contract_start, row.influence_opens, today, rules, account,
            row.expected_publication,
        ),
        budget_windows={},
        year_end_window=None,
        confidence=row.confidence,
        reason=None,
        sources={},
    )  # fmt: skip
