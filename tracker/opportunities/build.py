"""Opportunities: every coming procurement at an account, with its timeline (stored, recomputed).

Sources, per account (links with status ``rejected`` are ignored):

- ``retender``: a contract or framework agreement of the account that expires
  (``contracts`` + ``contract_accounts``). The expiry is the contract's end date; once
  that has passed while options run (``latest_end`` later), the latest end.
- ``dialogue``: a market dialogue linked to the account: a planning notice, or a PIN used
  as a call for competition, whose content asks the market for input before the
  competition (``tracker.notices.pretender``: hearing, RFI, dialogue meeting, "før endelig
  utlysning"). Its phase is ``dialogue_open`` until its response deadline, then it goes
  on as a planning opportunity. Folded into a re-tender like a planning notice.
- ``planning``: a planning notice (PIN subtypes 1–9, national N4, pre-market consultation
  E1, national PIN E2) linked to the account, read by ``tracker.notices.pretender`` (a
  direct-award intention or test published as a PIN is no opportunity; the planned
  publication comes from BT-127 or the text). A planning notice that belongs to a
  re-tender (same procedure id, or same account + similar CPV and title, published in
  the 36 months before expiry) is folded into it: it opens the influence window and its
  BT-127 gives the expected publication.
- ``competition``: a published competition (subtypes 10–24, N16, E3, CEI). It closes the
  influence window of the opportunity it belongs to (same procedure id as a planning
  notice, or same account + similar CPV and title and published between 24 months before
  and 6 months after the expiry, after the old contract was concluded); otherwise it is
  an opportunity of its own.

``recompute(session, today)`` rebuilds the ``opportunities`` table (stable ``key`` per
opportunity, so activities recorded on it survive); ``list_opportunities`` returns plain
dicts recomputed for the ``today`` asked (the pure ``tracker.opportunities.windows`` functions are
re-run on the stored inputs, so a list is right on any day).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from tracker.accounts.keyaccounts import get_account
from tracker.config import Settings, load_settings
from tracker.contracts.terms import next_end
from tracker.db.models import (
    Account,
    Activity,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Opportunity,
    utcnow,
)
from tracker.errors import NotFoundError, UserError
from tracker.notices.pretender import CALL_SUBTYPES, Reading, read_pretender
from tracker.notices.subtypes import COMPETITION_SUBTYPES, PLACEHOLDER_YEAR, PLANNING_SUBTYPES
from tracker.opportunities.relevance import (
    ItemText,
    LearnedModel,
    contract_item,
    notice_texts,
    relevance,
    stored_model,
)
from tracker.opportunities.windows import (
    PHASES,
    Timeline,
    add_months,
    budget_windows_for,
    compute_timeline,
    explain,
    year_end_window,
)
from tracker.rules import Rules, load_rules

log = logging.getLogger(__name__)

KEEP_RUNNING_DAYS = 365  # opportunities whose new contract runs longer than this are dropped
# Expired with no competition seen (phase "overdue") stays listed as a risk this long after
# the expected contract start: about one extension option, time to find out what happened.
KEEP_OVERDUE_DAYS = 365
KINDS = ("retender", "dialogue", "planning", "competition")
CHUNK = 2000

# Words that say nothing about what is bought (words under 3 letters are dropped anyway).
_STOP = frozenset(
    {
        "for",
        "til",
        "med",
        "fra",
        "ved",
        "inkl",
        "the",
        "and",
        "rammeavtale",
        "rammeavtaler",
        "avtale",
        "kontrakt",
        "kjøp",
        "anskaffelse",
        "anskaffelser",
        "konkurranse",
        "kunngjøring",
        "veiledende",
        "forhåndskunngjøring",
        "levering",
        "leveranse",
        "tjenester",
        "tjeneste",
        "innkjøp",
        "framework",
        "agreement",
        "contract",
        "supply",
        "services",
        "service",
        "purchase",
        "procurement",
        "notice",
        "lot",
        "del",
        "delkontrakt",
    }
)
_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


# --------------------------------------------------------------------------- matching (pure)


def title_tokens(title: str | None) -> frozenset[str]:
    """Significant lower-case words of a title (stop words and short words dropped)."""
    if not title:
        return frozenset()
    return frozenset(t for t in _TOKEN.findall(title.lower()) if t not in _STOP)


def cpv_similarity(a: str | None, b: str | None) -> float:
    """1.0 for the same CPV class (5 digits), 0.6 same group (3), 0.3 same division (2)."""
    if not a or not b:
        return 0.0
    a, b = a[:8], b[:8]
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return 1.0 if common >= 5 else 0.6 if common >= 3 else 0.3 if common >= 2 else 0.0


def similarity(
    a_title: frozenset[str], a_cpv: str | None, b_title: frozenset[str], b_cpv: str | None
) -> float:
    """Match score of two procurements of the same buyer; 0 when they do not match.

    A match needs a similar CPV (same group) and some shared title words (Jaccard ≥ 0.2),
    or clearly shared title words (Jaccard ≥ 0.6) whatever the CPV.
    """
    union = a_title | b_title
    jac = len(a_title & b_title) / len(union) if union else 0.0
    cpv = cpv_similarity(a_cpv, b_cpv)
    if (cpv >= 0.6 and jac >= 0.2) or jac >= 0.6:
        return jac + 0.5 * cpv
    return 0.0


# --------------------------------------------------------------------------- building


@dataclass
class _Draft:
    key: str
    kind: str
    account_id: int
    link_status: str
    title: str | None
    buyer: str | None
    main_cpv: str | None
    tokens: frozenset[str]
    value: Decimal | None = None
    currency: str | None = None
    contract_id: int | None = None
    notice_pk: int | None = None  # planning notice
    notice_id: str | None = None
    procedure_id: str | None = None
    competition_notice_pk: int | None = None
    competition_notice_id: str | None = None
    competition_procedure_id: str | None = None
    framework: bool = True
    concluded: dt.date | None = None  # old contract concluded / started (excludes its own CN)
    incumbent: str = "unknown"
    incumbents: list[str] = field(default_factory=list)
    latest_end: dt.date | None = None
    note: str | None = None  # shown beside the reason: "probably extended: ask the buyer"
    inputs: dict[str, Any] = field(default_factory=dict)
    source_notice_pk: int | None = None  # the notice the profile reads (its text and CPVs)
    item: dict[str, Any] | None = None  # tracker.opportunities.relevance.ItemText as a dict


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _date(s: Any) -> dt.date | None:
    if s is None or s == "":
        return None
    if isinstance(s, dt.date):
        return s
    return dt.date.fromisoformat(str(s))


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


def timeline_for(
    inputs: dict[str, Any], today: dt.date, rules: Rules, account: dict[str, Any]
) -> Timeline:
    """The timeline of stored ``inputs`` (ISO dates) on ``today`` with the account's rules."""
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    kwargs = {k: _date(inputs.get(k)) for k in _INPUT_DATES}
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


def _deadline(values: Iterable[dt.datetime | None]) -> dt.date | None:
    days = sorted(v.date() for v in values if v is not None and v.year < PLACEHOLDER_YEAR)
    return days[0] if days else None


def _accounts(session: Session) -> dict[int, dict[str, Any]]:
    return {
        a.id: {"name": a.name, "tier": a.tier, "buyer_type": a.buyer_type}
        for a in session.scalars(select(Account))
    }


def _retenders(session: Session, today: dt.date, our: set[str]) -> list[_Draft]:
    """One re-tender per account and awarded lot (parallel suppliers of a lot share it).

    Its expiry is the contract's next decision point on ``today``
    (``tracker.contracts.build.next_end``: the base end, else the next option's end, else the
    latest end). Not a re-tender: a direct award (no competition is assumed to follow), a
    contract without end (unlimited), an expected contract before its expected award. A
    contract probably extended (a modification notice near or after its end) has no
    known expiry: it is watched, with the note to ask the buyer, never called overdue.
    """
    cols = (
        Contract.id,
        Contract.key,
        Contract.title,
        Contract.main_cpv,
        Contract.value,
        Contract.currency,
        Contract.procedure_id,
        Contract.lot_id,
        Contract.framework,
        Contract.start_date,
        Contract.end_date,
        Contract.end_source,
        Contract.option_ends,
        Contract.latest_end,
        Contract.latest_end_source,
        Contract.conclusion_date,
        Contract.notice_pk,
        Contract.retender,
        Contract.extension,
        Contract.expected,
        Contract.expected_award,
        Contract.notes,
    )
    rows = session.execute(
        select(*cols, ContractAccount.account_id, ContractAccount.status, Notice.procedure_type)
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            ContractAccount.status != "rejected",
            _known_on(today),
            or_(Contract.retender.is_(None), Contract.retender == "expected"),
            or_(Contract.expected.is_not(True), Contract.expected_award <= today),
        )
        .order_by(Contract.id, ContractAccount.account_id)
    ).all()
    parties: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    ids = sorted({r.id for r in rows})
    for i in range(0, len(ids), 2000):
        for cid, role, name, orgnr in session.execute(
            select(
                ContractParty.contract_id,
                ContractParty.role,
                ContractParty.name,
                ContractParty.orgnr,
            )
            .where(ContractParty.contract_id.in_(ids[i : i + 2000]))
            .order_by(ContractParty.id)
        ):
            parties[cid].append((role, name, orgnr))
    out: dict[tuple[int, str], _Draft] = {}
    for c in rows:
        account_id, link_status, procedure_type = c.account_id, c.status, c.procedure_type
        suppliers = [(n, o) for role, n, o in parties[c.id] if role == "supplier"]
        group = (account_id, f"{c.procedure_id or c.key}|{c.lot_id or '-'}")
        d = out.get(group)
        if d is not None:  # another parallel supplier of the same lot: one re-tender
            d.incumbents.extend(n or o or "?" for n, o in suppliers)
            if any(o and o in our for _, o in suppliers):
                d.incumbent = "us"
            continue
        expiry, source = _expiry(c, today)
        buyers = [n for role, n, _ in parties[c.id] if role == "buyer" and n]
        incumbent = "unknown"
        if suppliers:
            incumbent = "us" if any(o and o in our for _, o in suppliers) else "competitor"
        d = _Draft(
            key=f"retender:{c.key}:{account_id}",
            kind="retender",
            account_id=account_id,
            link_status=link_status,
            title=c.title,
            buyer=buyers[0] if buyers else None,
            main_cpv=c.main_cpv,
            tokens=title_tokens(c.title),
            value=c.value,
            currency=c.currency,
            contract_id=c.id,
            procedure_id=c.procedure_id,
            framework=bool(c.framework),
            concluded=c.conclusion_date or c.start_date,
            incumbent=incumbent,
            incumbents=[n or o or "?" for n, o in suppliers],
            latest_end=c.latest_end,
            source_notice_pk=c.notice_pk,
            inputs={
                "expiry": _iso(expiry),
                "expiry_source": source if expiry is not None else "unknown",
                "procedure": procedure_type,
            },
        )
        if c.extension == "probably_extended":
            why = (c.notes or "").partition("probably extended: ")[2]
            d.note = "probably extended: ask the buyer" + (f" ({why})" if why else "")
        elif c.expected:
            d.note = "expected contract: the competition's award has not been seen"
        out[group] = d
    return list(out.values())


def _expiry(c: Any, today: dt.date) -> tuple[dt.date | None, str]:
    """The re-tender's expiry: the next decision point on ``today`` with its source (the
    base end, an option's end, the latest end); when every one has passed, the latest
    known end (the re-tender is overdue or the contract was extended); none for a
    contract probably extended (its new end is not known)."""
    if c.extension == "probably_extended":
        return None, "unknown"
    nxt = next_end(c.end_date, c.option_ends, c.latest_end, today)
    if nxt is None:
        last = c.latest_end or c.end_date
        if last is None:
            return None, "unknown"
        return last, "latest_end" if last != c.end_date else (c.end_source or "unknown")
    if nxt == c.end_date:
        return nxt, c.end_source or "unknown"
    if c.end_date is None and nxt == c.latest_end:
        return nxt, c.end_source or "unknown"  # framework_default: the legal maximum
    return nxt, "option_end" if nxt != c.latest_end else "latest_end"


_NOTICE_COLUMNS = (
    Notice.id,
    Notice.notice_id,
    Notice.procedure_id,
    Notice.subtype,
    Notice.description,
    Notice.is_test,
    Notice.title,
    Notice.main_cpv,
    Notice.estimated_value,
    Notice.currency,
    Notice.procedure_type,
    Notice.issue_date,
    Notice.publication_date,
    Notice.planned_date,
)


def _known_on(today: dt.date) -> Any:
    """Notices (outer-joined: or none) issued on or before ``today``: a later notice does
    not exist yet from that day's point of view."""
    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    return or_(Notice.id.is_(None), issued.is_(None), issued <= today)


def _linked_notices(
    session: Session, subtypes: frozenset[str], today: dt.date
) -> list[tuple[Any, int, str]]:
    """Latest non-test notices of the subtypes issued by ``today`` with each linked account
    (not rejected) and the best link status (confirmed before suggested), oldest first."""
    rows = session.execute(
        select(*_NOTICE_COLUMNS, NoticeLink.account_id, NoticeLink.status)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .where(
            Notice.subtype.in_(sorted(subtypes)),
            Notice.is_latest.is_(True),
            Notice.is_test.is_(False),
            NoticeLink.status != "rejected",
            func.coalesce(Notice.issue_date, Notice.publication_date) <= today,
        )
        .order_by(Notice.issue_date, Notice.id, NoticeLink.account_id)
    ).all()
    best: dict[tuple[int, int], tuple[Any, int, str]] = {}
    for r in rows:
        prev = best.get((r.id, r.account_id))
        if prev is None or r.status < prev[2]:  # "confirmed" < "suggested"
            best[(r.id, r.account_id)] = (r, r.account_id, r.status)
    return list(best.values())


def _first_buyer(session: Session, pks: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(pks), 2000):
        for pk, name in session.execute(
            select(NoticeBuyer.notice_pk, NoticeBuyer.name)
            .where(NoticeBuyer.notice_pk.in_(pks[i : i + 2000]))
            .order_by(NoticeBuyer.notice_pk, NoticeBuyer.position)
        ):
            if name and pk not in out:
                out[pk] = name
    return out


def _lot_dates(
    session: Session, pks: list[int]
) -> dict[int, tuple[dt.date | None, dt.date | None]]:
    """Per notice: earliest real tender deadline and earliest contract start of its lots."""
    deadlines: dict[int, list[dt.datetime | None]] = defaultdict(list)
    starts: dict[int, list[dt.date]] = defaultdict(list)
    for i in range(0, len(pks), 2000):
        for pk, deadline, start in session.execute(
            select(Lot.notice_pk, Lot.submission_deadline, Lot.start_date).where(
                Lot.notice_pk.in_(pks[i : i + 2000])
            )
        ):
            deadlines[pk].append(deadline)
            if start is not None:
                starts[pk].append(start)
    return {pk: (_deadline(deadlines[pk]), min(starts[pk]) if starts[pk] else None) for pk in pks}


def _awards_by_procedure(
    session: Session, procedure_ids: list[str], today: dt.date
) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Per procedure id: (award date, contract start) from its derived contracts known by
    ``today``."""
    out: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    for i in range(0, len(procedure_ids), 2000):
        for proc, concluded, start, issued in session.execute(
            select(
                Contract.procedure_id,
                Contract.conclusion_date,
                Contract.start_date,
                Notice.issue_date,
            )
            .outerjoin(Notice, Notice.id == Contract.notice_pk)
            .where(Contract.procedure_id.in_(procedure_ids[i : i + 2000]), _known_on(today))
        ):
            award = concluded or issued
            prev = out.get(proc)
            if prev is None or (award and (prev[0] is None or award < prev[0])):
                out[proc] = (award, start)
    return out


def _notice_draft(kind: str, n: Any, account_id: int, status: str, buyer: str | None) -> _Draft:
    ident = n.procedure_id or n.notice_id
    return _Draft(
        key=f"{kind}:{ident}:{account_id}",
        kind=kind,
        account_id=account_id,
        link_status=status,
        title=n.title,
        buyer=buyer,
        main_cpv=n.main_cpv,
        tokens=title_tokens(n.title),
        value=n.estimated_value,
        currency=n.currency,
        procedure_id=n.procedure_id,
        source_notice_pk=n.id,
        inputs={"expiry": None, "expiry_source": "unknown", "procedure": n.procedure_type},
    )


def _own_draft(
    own: dict[str, _Draft],
    drafts: list[_Draft],
    kind: str,
    n: Any,
    account_id: int,
    status: str,
    buyer: str | None,
) -> _Draft:
    """The opportunity of its own of a notice (one per procedure and account)."""
    key = f"{kind}:{n.procedure_id or n.notice_id}:{account_id}"
    draft = own.get(key)
    if draft is None:
        draft = own[key] = _notice_draft(kind, n, account_id, status, buyer)
        drafts.append(draft)
    return draft


def _best(drafts: list[_Draft], tokens: frozenset[str], cpv: str | None, ok: Any) -> _Draft | None:
    best, best_score = None, 0.0
    for d in drafts:
        if not ok(d):
            continue
        score = similarity(d.tokens, d.main_cpv, tokens, cpv)
        if score > best_score:
            best, best_score = d, score
    return best


def pretender_readings(session: Session, notices: Iterable[Any]) -> dict[int, Reading]:
    """``tracker.notices.pretender`` readings of notices (rows with id, subtype, issue_date,
    publication_date, title, description, planned_date, is_test), by primary key; notices
    that are not pre-tender subtypes are left out. Reads their lots' titles, descriptions
    and deadlines."""
    rows = [n for n in notices if (n.subtype or "") in PRETENDER_READ_SUBTYPES]
    lots: dict[int, list[Any]] = defaultdict(list)
    pks = [n.id for n in rows]
    for i in range(0, len(pks), CHUNK):
        for lot in session.execute(
            select(
                Lot.notice_pk,
                Lot.title,
                Lot.description,
                Lot.submission_deadline,
                Lot.request_deadline,
            )
            .where(Lot.notice_pk.in_(pks[i : i + CHUNK]))
            .order_by(Lot.notice_pk, Lot.position, Lot.id)
        ):
            lots[lot.notice_pk].append(lot)
    out: dict[int, Reading] = {}
    for n in rows:
        ls = lots[n.id]
        reading = read_pretender(
            subtype=n.subtype,
            issue_date=n.issue_date or n.publication_date,
            title=n.title,
            texts=[n.description, *(x for lot in ls for x in (lot.title, lot.description))],
            planned_date=n.planned_date,
            deadlines=[d for lot in ls for d in (lot.submission_deadline, lot.request_deadline)],
            is_test=bool(n.is_test),
        )
        if reading is not None:
            out[n.id] = reading
    return out


PRETENDER_READ_SUBTYPES = PLANNING_SUBTYPES | CALL_SUBTYPES
# A PIN used as a call for competition whose content is one of these is not a competition.
NOT_A_CALL = frozenset({"market_dialogue", "planned_competition"})


def _apply_reading(target: _Draft, reading: Reading, issued: dt.date) -> None:
    """Put what a planning notice says (dialogue, planned publication) into the inputs."""
    planned = reading.planned_publication
    if planned is not None:
        target.inputs["planned_publication"] = planned.first.isoformat()
        target.inputs["planned_publication_until"] = planned.last.isoformat()
        target.inputs["planned_publication_basis"] = (
            "planned date of the contract notice (BT-127)"
            if planned.source == "notice field BT-127"
            else f"notice text ({planned.precision}): '{planned.text}'"
        )
    if reading.kind == "market_dialogue":
        prev = _date(target.inputs.get("dialogue_notice_date"))
        if prev is not None and prev > issued:
            return  # keep the latest dialogue
        until = reading.response_deadline or reading.dialogue_date
        target.inputs.update(
            dialogue=True,
            dialogue_notice_date=issued.isoformat(),
            dialogue_until=until.day.isoformat() if until else None,
            dialogue_basis=(
                ("response deadline: " if until is reading.response_deadline else "dialogue day: ")
                + (until.text if until.source == "notice text" else until.source)
            )
            if until
            else None,
        )
    target.inputs["pretender"] = reading.as_dict()


def build_drafts(
    session: Session, today: dt.date, settings: Settings | None = None
) -> list[_Draft]:
    """All opportunities as drafts (not stored), with their timeline inputs."""
    settings = settings or load_settings()
    our = set(settings.our_orgnr_list)
    retenders = _retenders(session, today, our)
    by_account: dict[int, list[_Draft]] = defaultdict(list)
    for d in retenders:
        by_account[d.account_id].append(d)

    pre = _linked_notices(session, PRETENDER_READ_SUBTYPES, today)
    readings = pretender_readings(session, {n.id: n for n, _, _ in pre}.values())
    # Planning notices and PINs-as-call whose content is a dialogue or an announcement are
    # planning opportunities; a direct-award intention or test published as a PIN is none.
    planning = [
        (n, acc, st) for n, acc, st in pre if n.id in readings and readings[n.id].kind in NOT_A_CALL
    ]
    not_calls = {n.id for n, _, _ in planning}
    competitions = [
        row
        for row in _linked_notices(session, COMPETITION_SUBTYPES, today)
        if row[0].id not in not_calls
    ]
    pks = sorted({n.id for n, _, _ in planning} | {n.id for n, _, _ in competitions})
    buyers = _first_buyer(session, pks)
    lot_dates = _lot_dates(session, sorted({n.id for n, _, _ in competitions}))
    awards = _awards_by_procedure(
        session, sorted({n.procedure_id for n, _, _ in competitions if n.procedure_id}), today
    )

    own: dict[str, _Draft] = {}
    for n, acc, status in planning:
        issued = n.issue_date or n.publication_date
        if issued is None:
            continue
        reading = readings[n.id]
        kind = "dialogue" if reading.kind == "market_dialogue" else "planning"
        tokens = title_tokens(n.title)

        def plausible(d: _Draft, issued: dt.date = issued, n: Any = n) -> bool:
            if d.procedure_id and d.procedure_id == n.procedure_id:
                return False  # the original procedure of the old contract
            expiry = _date(d.inputs.get("expiry"))
            return expiry is not None and add_months(expiry, -36) <= issued <= expiry

        target = _best(by_account[acc], tokens, n.main_cpv, plausible)
        if target is None:
            target = _own_draft(own, by_account[acc], kind, n, acc, status, buyers.get(n.id))
        prev = _date(target.inputs.get("planning_date"))
        if prev is None or issued < prev:
            target.inputs["planning_date"] = issued.isoformat()
        _apply_reading(target, reading, issued)
        if target.notice_pk is None or target.kind == "retender":
            target.notice_pk, target.notice_id = n.id, n.notice_id
        if n.procedure_type and target.kind in ("planning", "dialogue"):
            target.inputs["procedure"] = n.procedure_type

    for n, acc, status in competitions:
        issued = n.issue_date or n.publication_date
        if issued is None:
            continue
        tokens = title_tokens(n.title)
        target = next(
            (
                d
                for d in by_account[acc]
                if d.kind in ("planning", "dialogue")
                and d.procedure_id
                and d.procedure_id == n.procedure_id
            ),
            None,
        )
        if target is None:

            def plausible(d: _Draft, issued: dt.date = issued, n: Any = n) -> bool:
                if d.kind == "competition":
                    return False
                if d.procedure_id and d.procedure_id == n.procedure_id and d.kind == "retender":
                    return False
                if d.concluded is not None and issued <= d.concluded:
                    return False
                expiry = _date(d.inputs.get("expiry"))
                if expiry is not None:
                    return add_months(expiry, -24) <= issued <= add_months(expiry, 6)
                planned = _date(d.inputs.get("planning_date"))
                return planned is not None and planned <= issued <= add_months(planned, 12)

            target = _best(by_account[acc], tokens, n.main_cpv, plausible)
        if target is None:
            target = _own_draft(
                own, by_account[acc], "competition", n, acc, status, buyers.get(n.id)
            )
        prev = _date(target.inputs.get("published"))
        if prev is not None and prev > issued:
            continue  # keep the latest competition notice of the procedure
        deadline, start = lot_dates.get(n.id, (None, None))
        award, award_start = awards.get(n.procedure_id or "", (None, None))
        target.inputs.update(
            published=issued.isoformat(),
            deadline=_iso(deadline),
            awarded=_iso(award),
            contract_start=_iso(award_start or start),
        )
        if n.procedure_type:
            target.inputs["procedure"] = n.procedure_type
        target.competition_notice_pk = n.id
        target.competition_notice_id = n.notice_id
        target.competition_procedure_id = n.procedure_id
        if target.value is None:
            target.value, target.currency = n.estimated_value, n.currency
    drafts = [d for drafts in by_account.values() for d in drafts]
    texts = notice_texts(session, [d.source_notice_pk for d in drafts if d.source_notice_pk])
    for d in drafts:
        if d.value is not None and (d.currency or "NOK") == "NOK":
            d.inputs["value_nok"] = float(d.value)  # the value band decides the drafting time
        # what the capability profile reads (tracker.opportunities.relevance)
        item = contract_item(d.title, d.main_cpv, texts.get(d.source_notice_pk or -1))
        d.item = item.as_dict()
    signals = _unawarded_by_procedure(
        session, sorted({d.competition_procedure_id for d in drafts if d.competition_procedure_id}),
        today,
    )  # fmt: skip
    for d in drafts:
        info = signals.get(d.competition_procedure_id or "")
        if info is not None:
            signal = info["retender_signal"]
            d.note = f"no award: {info['reason']}" + (
                f"; re-tender signal: «{signal}»" if signal else "; a new competition may follow"
            )
    return drafts


def _unawarded_by_procedure(
    session: Session, procedure_ids: list[str], today: dt.date
) -> dict[str, dict[str, Any]]:
    """Per procedure id: a result notice known by ``today`` that awarded nothing (cancelled,
    no winner) with the buyer's words about a new competition (``contracts.unawarded``)."""
    from tracker.contracts.build import unawarded

    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(procedure_ids), CHUNK):
        rows = session.execute(
            select(Notice.id, Notice.procedure_id)
            .where(
                Notice.procedure_id.in_(procedure_ids[i : i + CHUNK]),
                Notice.document_type == "ContractAwardNotice",
                Notice.is_latest.is_(True),
                _known_on(today),
            )
            .order_by(Notice.issue_date, Notice.id)
        ).all()
        for pk, proc in rows:  # oldest first: a later award makes it moot
            info = unawarded(session, pk)
            if info is None:
                out.pop(proc, None)
            else:
                out[proc] = info
    return out


def recompute(
    session: Session,
    today: dt.date,
    *,
    rules: Rules | None = None,
    settings: Settings | None = None,
) -> dict[str, int]:
    """Rebuild the ``opportunities`` table for ``today``; flushes (the caller commits).

    Notices issued after ``today`` (and contracts derived from them) are not used: they do
    not exist yet on that day. Opportunities whose new contract has been running for more
    than ``KEEP_RUNNING_DAYS``, or that are ``overdue`` (the contract ended, no competition
    seen) for more than ``KEEP_OVERDUE_DAYS`` after the expected start, are dropped.
    Returns counts: ``retender``, ``planning``, ``competition`` (stored per kind),
    ``new``, ``updated``, ``removed``, ``dropped`` (too old), ``open_now``. Each row's
    ``in_profile`` is the capability profile's fit of that day
    (``tracker.opportunities.relevance``).
    """
    settings = settings or load_settings()
    rules = rules or load_rules(settings=settings)
    accounts = _accounts(session)
    for name in rules.unknown_accounts(a["name"] for a in accounts.values()):
        log.warning('rules: [accounts."%s"]: no account has that name; ignored', name)
    drafts = build_drafts(session, today, settings)
    model = stored_model(session)
    existing = dict(session.execute(select(Opportunity.key, Opportunity.id)).all())
    counts = dict.fromkeys(
        (*KINDS, "new", "updated", "removed", "dropped", "open_now"),
        0,
    )
    horizons = {
        "running": today - dt.timedelta(days=KEEP_RUNNING_DAYS),
        "overdue": today - dt.timedelta(days=KEEP_OVERDUE_DAYS),
    }
    now = utcnow()
    keep: set[str] = set()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for d in drafts:
        account = accounts.get(d.account_id, {})
        tl = timeline_for(d.inputs, today, rules, account)
        horizon = horizons.get(tl.phase)
        if horizon is not None and (tl.contract_start is None or tl.contract_start < horizon):
            counts["dropped"] += 1
            continue
        if d.key in keep:
            continue
        keep.add(d.key)
        counts[d.kind] += 1
        counts["open_now"] += int(tl.can_influence)
        values = _values(d, tl, today, now)
        profile = rules.profile(account.get("name"))
        item = ItemText.from_dict(d.item)
        values["in_profile"] = bool(relevance(profile, item, model)["shown"])
        if d.key in existing:
            values["id"] = existing[d.key]
            updates.append(values)
        else:
            inserts.append(values)
    gone = [pk for key, pk in existing.items() if key not in keep]
    session.flush()
    for i in range(0, len(gone), CHUNK):
        session.execute(
            delete(Opportunity).where(Opportunity.id.in_(gone[i : i + CHUNK])),
            execution_options={"synchronize_session": False},
        )
    for i in range(0, len(updates), CHUNK):
        session.execute(update(Opportunity), updates[i : i + CHUNK])
    for i in range(0, len(inserts), CHUNK):
        session.execute(insert(Opportunity), inserts[i : i + CHUNK])
    gone_ids = set(gone)
    for obj in list(session.identity_map.values()):  # bulk statements bypass loaded objects
        if isinstance(obj, Opportunity):
            if obj.id in gone_ids:
                session.expunge(obj)
            else:
                session.expire(obj)
    counts["new"], counts["updated"], counts["removed"] = len(inserts), len(updates), len(gone)
    return counts


def _values(d: _Draft, tl: Timeline, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The column values of one opportunity row."""
    return {
        "key": d.key,
        "kind": d.kind,
        "account_id": d.account_id,
        "contract_id": d.contract_id,
        "notice_pk": d.notice_pk,
        "competition_notice_pk": d.competition_notice_pk,
        "title": (d.title or "")[:10_000] or None,
        "buyer_name": (d.buyer or "")[:500] or None,
        "main_cpv": d.main_cpv,
        "value": d.value,
        "expiry": tl.expiry,
        "expiry_source": tl.expiry_source if tl.expiry else "unknown",
        "influence_opens": tl.influence_opens,
        "drafting_starts": tl.drafting_starts,
        "expected_publication": tl.expected_publication,
        "expected_deadline": tl.expected_deadline,
        "expected_award": tl.expected_award,
        "contract_start": tl.contract_start,
        "budget_start": tl.budget.start if tl.budget else None,
        "budget_end": tl.budget.end if tl.budget else None,
        "phase": tl.phase,
        "confidence": tl.confidence,
        "computed_for": today,
        "computed_at": now,
        "timeline": {
            "inputs": d.inputs,
            "extra": {
                "link_status": d.link_status,
                "framework": d.framework,
                "currency": d.currency,
                "incumbent": d.incumbent,
                "incumbents": d.incumbents,
                "latest_end": _iso(d.latest_end),
                "note": d.note,
                "notice_id": d.notice_id,
                "competition_notice_id": d.competition_notice_id,
                "procedure_id": d.competition_procedure_id or d.procedure_id,
                "profile_input": d.item,
            },
            "reason": explain(
                tl, today, kind=d.kind, title=d.title, buyer=d.buyer, framework=d.framework
            ),
            "sources": sources_dict(tl),
        },
    }


# --------------------------------------------------------------------------- reading


def _budget_dict(tl: Timeline) -> dict[str, Any] | None:
    return tl.budget.as_dict() if tl.budget else None


def sources_dict(tl: Timeline) -> dict[str, dict[str, str | None]]:
    """Each date's source: ``{field: {kind, basis, rule}}`` (``rule``: the key of the rule
    in ``rules.toml`` that made the date, None for dates read from a notice or contract)."""
    return {
        k: {"kind": v[0], "basis": v[1], "rule": tl.rule_keys.get(k)} for k, v in tl.sources.items()
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
    as ``recompute`` and ``list_opportunities`` compute it
    (``tracker.opportunities.windows.budget_windows_for`` with the account's budget calendar):
    ``{start,
    end, status, buyer_type, anchor, anchor_date, milestones}`` with status
    open|upcoming|missed|closed, or None without a contract start. ``account`` holds
    ``name`` and ``buyer_type`` (as the account rules need)."""
    if contract_start is None:
        return None
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    window, _ = budget_windows_for(
        contract_start, publication, wr.budget, today=today, influence_opens=influence_opens
    )
    return window.as_dict()


_LIST_COLUMNS = (
    Opportunity.id,
    Opportunity.key,
    Opportunity.kind,
    Opportunity.account_id,
    Opportunity.title,
    Opportunity.buyer_name,
    Opportunity.main_cpv,
    Opportunity.value,
    Opportunity.timeline,
    Opportunity.contract_id,
    Opportunity.notice_pk,
    Opportunity.competition_notice_pk,
)


def opportunity_item(row: Any) -> ItemText:
    """What the capability profile reads of a stored opportunity (stored at recompute;
    title and main CPV for a row stored before that)."""
    extra = ((row.timeline or {}).get("extra") or {}) if row.timeline else {}
    stored = extra.get("profile_input")
    if stored:
        return ItemText.from_dict(stored)
    return ItemText([row.main_cpv] if row.main_cpv else [], row.main_cpv, row.title or "", "")


def opportunity_dict(
    row: Any,
    account: dict[str, Any],
    today: dt.date,
    rules: Rules,
    activities: int = 0,
    model: LearnedModel | None = None,
) -> dict[str, Any]:
    """One opportunity as a plain dict, its timeline recomputed for ``today`` (see
    ``list_opportunities`` for the keys)."""
    stored = row.timeline or {}
    inputs = stored.get("inputs") or {}
    extra = stored.get("extra") or {}
    tl = timeline_for(inputs, today, rules, account)
    fit = relevance(rules.profile(account.get("name")), opportunity_item(row), model)
    wr = rules.window_rules(account.get("buyer_type"), account.get("name"))
    return {
        "key": row.key,
        "id": row.id,
        "kind": row.kind,
        "account": account.get("name"),
        "account_id": row.account_id,
        "tier": account.get("tier"),
        "link_status": extra.get("link_status"),
        "title": row.title,
        "buyer": row.buyer_name,
        "main_cpv": row.main_cpv,
        "value": float(row.value) if row.value is not None else None,
        "currency": extra.get("currency"),
        "framework": extra.get("framework") if row.kind == "retender" else None,
        "incumbent": extra.get("incumbent", "unknown"),
        "incumbents": list(extra.get("incumbents") or []),
        "expiry": tl.expiry,
        "expiry_source": tl.expiry_source if tl.expiry else "unknown",
        "latest_end": _date(extra.get("latest_end")),
        "note": extra.get("note"),
        "procedure": tl.procedure,
        "influence_opens": tl.influence_opens,
        "drafting_starts": tl.drafting_starts,
        "expected_publication": tl.expected_publication,
        "expected_deadline": tl.expected_deadline,
        "expected_award": tl.expected_award,
        "contract_start": tl.contract_start,
        "published": tl.published,
        "phase": tl.phase,
        "can_influence": tl.can_influence,
        "days_left": tl.days_left,
        "overdue": tl.overdue,
        "budget_window": _budget_dict(tl),
        "budget_windows": {k: w.as_dict() for k, w in tl.budget_windows.items()},
        "due": tl.due,
        "planned_until": tl.planned_until,
        "year_end_window": year_end_window(today, wr),
        "confidence": tl.confidence,
        "reason": explain(
            tl,
            today,
            kind=row.kind,
            title=row.title,
            buyer=row.buyer_name,
            framework=bool(extra.get("framework", True)),
        ),
        "sources": sources_dict(tl),
        **dialogue_fields(inputs, tl, rules, account),
        "fit": fit,
        "contract_id": row.contract_id,
        "notice_pk": row.notice_pk,
        "notice_id": extra.get("notice_id"),
        "competition_notice_pk": row.competition_notice_pk,
        "competition_notice_id": extra.get("competition_notice_id"),
        "procedure_id": extra.get("procedure_id"),
        "activities": activities,
    }


def list_opportunities(
    session: Session,
    *,
    today: dt.date,
    account: str | int | None = None,
    phase: str | None = None,
    open_now: bool = False,
    rules: Rules | None = None,
) -> list[dict[str, Any]]:
    """Stored opportunities as plain dicts, phase and windows computed for ``today``.

    Filters: ``account`` (id, name in any case, or alias, as
    ``tracker.accounts.keyaccounts.get_account``;
    ``NotFoundError`` if unknown),
    ``phase`` (one of ``tracker.opportunities.windows.PHASES``), ``open_now`` (influence possible
    today).
    Sorted: open windows first by days left, then by expected publication.

    Keys: key, id, kind (retender|dialogue|planning|competition), account, account_id, tier,
    link_status, title, buyer, main_cpv, value (float), currency, framework, incumbent
    (us|competitor|unknown), incumbents (supplier names), expiry, expiry_source,
    latest_end, note (e.g. "probably extended: ask the buyer"), procedure, influence_opens,
    drafting_starts, expected_publication,
    expected_deadline, expected_award, contract_start, published, phase, can_influence,
    days_left (a market dialogue: days left to respond), overdue, due (a publication
    period the buyer stated is now), planned_until, budget_window (the primary funding
    window: {start, end, status, buyer_type, anchor, anchor_date, milestones: [{name,
    date}]} or None), budget_windows (both, by anchor: publication and contract_start),
    year_end_window ({start, end, active} or None), confidence (high|medium|low|unknown),
    reason, sources ({field: {kind, basis, rule}}), pretender (the notice's reading:
    kind, reason, evidence, response_deadline, dialogue_date, planned_publication),
    pretender_kind, dialogue (bool), response_deadline ({label, day, at, text, source} or
    None), dialogue_date, dialogue_until, planned_publication ({label, first, last,
    precision, text, source} or None), supplier_note and supplier_note_source (a
    dialogue: the rules for suppliers who take part), contract_id, notice_pk, notice_id,
    competition_notice_pk, competition_notice_id, procedure_id, activities (count
    recorded on it), fit (``tracker.opportunities.relevance.relevance``: fit, strength, reason,
    cpvs,
    keywords, learned, flagged, shown). Dates are ``datetime.date``.
    """
    if phase is not None and phase not in PHASES:
        raise UserError(f"phase: {phase!r} is not one of {', '.join(PHASES)}")
    rules = rules or load_rules()
    accounts = _accounts(session)
    q = select(*_LIST_COLUMNS)
    if account is not None:
        q = q.where(Opportunity.account_id == get_account(session, account).id)
    rows = session.execute(q.order_by(Opportunity.id)).all()
    counts = dict(
        session.execute(
            select(Activity.opportunity_key, func.count())
            .where(Activity.opportunity_key.is_not(None))
            .group_by(Activity.opportunity_key)
        ).all()
    )
    out = []
    model = stored_model(session)
    for row in rows:
        item = opportunity_dict(
            row,
            accounts.get(row.account_id or -1, {}),
            today,
            rules,
            counts.get(row.key, 0),
            model,
        )
        if phase is not None and item["phase"] != phase:
            continue
        if open_now and not item["can_influence"]:
            continue
        out.append(item)
    far = dt.date.max
    out.sort(
        key=lambda o: (
            not o["can_influence"],
            o["phase"] != "dialogue_open",  # a market dialogue open now comes first
            o["days_left"] if o["days_left"] is not None else 10**6,
            o["expected_publication"] or far,
            o["key"],
        )
    )
    return out


def get_opportunity(session: Session, key: str, *, today: dt.date) -> dict[str, Any]:
    """One opportunity by key (``NotFoundError`` if absent)."""
    row = session.scalars(select(Opportunity).where(Opportunity.key == key)).first()
    if row is None:
        raise NotFoundError(f"no opportunity {key!r}")
    accounts = _accounts(session)
    n = session.scalar(select(func.count()).where(Activity.opportunity_key == key)) or 0
    return opportunity_dict(
        row, accounts.get(row.account_id or -1, {}), today, load_rules(), n, stored_model(session)
    )


def clear(session: Session) -> int:
    """Delete every stored opportunity (they are rebuilt by ``recompute``)."""
    return session.execute(delete(Opportunity)).rowcount or 0
