"""The drafts of the opportunities: the four sources (re-tenders, market dialogues,
planning notices, competitions; described in ``tracker.opportunities.build``) read from
the database and folded together.

:func:`build_drafts` reads them from the database into drafts with their timeline
inputs (the rules of folding: :mod:`tracker.opportunities.matching`);
``tracker.opportunities.build.recompute`` stores them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from functools import partial
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.contracts.notes import opportunity_note
from tracker.contracts.terms import next_end
from tracker.db.models import (
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    Notice,
    NoticeBuyer,
    NoticeLink,
)
from tracker.notices.pretender import CALL_SUBTYPES, Reading, read_pretender
from tracker.notices.subtypes import COMPETITION_SUBTYPES, PLACEHOLDER_YEAR, PLANNING_SUBTYPES
from tracker.opportunities.matching import (
    Candidates,
    Draft,
    apply_reading,
    as_date,
    best_match,
    iso,
    plausible_for_competition,
    plausible_for_planning,
    title_tokens,
)
from tracker.opportunities.profile import contract_item, notice_texts

CHUNK = 2000
PRETENDER_READ_SUBTYPES = PLANNING_SUBTYPES | CALL_SUBTYPES
# A PIN used as a call for competition whose content is one of these is not a competition.
NOT_A_CALL = frozenset({"market_dialogue", "planned_competition"})


def _deadline(values: Iterable[dt.datetime | None]) -> dt.date | None:
    days = sorted(v.date() for v in values if v is not None and v.year < PLACEHOLDER_YEAR)
    return days[0] if days else None


def _retenders(
    session: Session, today: dt.date, our: set[str], account_ids: list[int] | None = None
) -> list[Draft]:
    """One re-tender per account and awarded lot (parallel suppliers of a lot share it).

    Its expiry is the contract's next decision point on ``today``
    (``tracker.contracts.terms.next_end``: the base end, else the next option's end, else the
    latest end). Not a re-tender: a direct award (no competition is assumed to follow), a
    contract without end (unlimited), an expected contract before its expected award. A
    contract probably extended (a modification notice near or after its end) has no
    known expiry: it is watched, with the note to ask the buyer, never called overdue.
    """
    rows = _retender_rows(session, today, account_ids)
    parties = _parties(session, sorted({r.id for r in rows}))
    out: dict[tuple[int, str], Draft] = {}
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
        d = Draft(
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
                "expiry": iso(expiry),
                "expiry_source": source if expiry is not None else "unknown",
                "procedure": procedure_type,
            },
        )
        note = opportunity_note(c.notes, c.extension, bool(c.expected))
        if note is not None:
            d.note = note
        out[group] = d
    return list(out.values())


_RETENDER_COLUMNS = (
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


def _retender_rows(
    session: Session, today: dt.date, account_ids: list[int] | None = None
) -> list[Any]:
    """The contracts that may be re-tendered, once per account they are linked to (of
    ``account_ids`` only, when given)."""
    scope = [] if account_ids is None else [ContractAccount.account_id.in_(account_ids)]
    rows = session.execute(
        select(
            *_RETENDER_COLUMNS,
            ContractAccount.account_id,
            ContractAccount.status,
            Notice.procedure_type,
        )
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            ContractAccount.status != "rejected",
            *scope,
            _known_on(today),
            or_(Contract.retender.is_(None), Contract.retender == "expected"),
            or_(Contract.expected.is_not(True), Contract.expected_award <= today),
        )
        .order_by(Contract.id, ContractAccount.account_id)
    ).all()
    return list(rows)


def _parties(
    session: Session, ids: list[int]
) -> dict[int, list[tuple[str, str | None, str | None]]]:
    """(role, name, orgnr) of the parties of each contract."""
    parties: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
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
    return parties


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
    session: Session,
    subtypes: frozenset[str],
    today: dt.date,
    account_ids: list[int] | None = None,
) -> list[tuple[Any, int, str]]:
    """Latest non-test notices of the subtypes issued by ``today`` with each linked account
    (not rejected; of ``account_ids`` only, when given) and the best link status
    (confirmed before suggested), oldest first."""
    scope = [] if account_ids is None else [NoticeLink.account_id.in_(account_ids)]
    rows = session.execute(
        select(*_NOTICE_COLUMNS, NoticeLink.account_id, NoticeLink.status)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .where(
            Notice.subtype.in_(sorted(subtypes)),
            Notice.is_latest.is_(True),
            Notice.is_test.is_(False),
            NoticeLink.status != "rejected",
            *scope,
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
            if proc is None:  # matched by the IN list: never None
                continue
            award = concluded or issued
            prev = out.get(proc)
            if prev is None or (award and (prev[0] is None or award < prev[0])):
                out[proc] = (award, start)
    return out


def _notice_draft(kind: str, n: Any, account_id: int, status: str, buyer: str | None) -> Draft:
    ident = n.procedure_id or n.notice_id
    return Draft(
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
    own: dict[str, Draft],
    drafts: list[Draft],
    kind: str,
    n: Any,
    account_id: int,
    status: str,
    buyer: str | None,
) -> Draft:
    """The opportunity of its own of a notice (one per procedure and account)."""
    key = f"{kind}:{n.procedure_id or n.notice_id}:{account_id}"
    draft = own.get(key)
    if draft is None:
        draft = own[key] = _notice_draft(kind, n, account_id, status, buyer)
        drafts.append(draft)
    return draft


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


def build_drafts(
    session: Session,
    today: dt.date,
    ours: Iterable[str],
    account_ids: Collection[int] | None = None,
) -> list[Draft]:
    """All opportunities as drafts (not stored), with their timeline inputs; ``ours``: our
    own organisation numbers (a contract of ours is marked ``incumbent = us``).

    ``account_ids``: the drafts of these accounts only. An account's drafts are folded
    from its own contracts and linked notices alone (what other accounts have does not
    change them), so they are the same drafts a build of every account gives it."""
    ids = None if account_ids is None else sorted(set(account_ids))
    by_account: dict[int, list[Draft]] = defaultdict(list)
    for d in _retenders(session, today, set(ours), ids):
        by_account[d.account_id].append(d)
    pre = _linked_notices(session, PRETENDER_READ_SUBTYPES, today, ids)
    readings = pretender_readings(session, {n.id: n for n, _, _ in pre}.values())
    # Planning notices and PINs-as-call whose content is a dialogue or an announcement are
    # planning opportunities; a direct-award intention or test published as a PIN is none.
    planning = [
        (n, acc, st) for n, acc, st in pre if n.id in readings and readings[n.id].kind in NOT_A_CALL
    ]
    not_calls = {n.id for n, _, _ in planning}
    competitions = [
        row
        for row in _linked_notices(session, COMPETITION_SUBTYPES, today, ids)
        if row[0].id not in not_calls
    ]
    pks = sorted({n.id for n, _, _ in planning} | {n.id for n, _, _ in competitions})
    buyers = _first_buyer(session, pks)
    own: dict[str, Draft] = {}
    _fold_planning(planning, readings, by_account, own, buyers)
    _fold_competitions(
        competitions,
        by_account,
        own,
        buyers,
        _lot_dates(session, sorted({n.id for n, _, _ in competitions})),
        _awards_by_procedure(
            session, sorted({n.procedure_id for n, _, _ in competitions if n.procedure_id}), today
        ),
    )
    drafts = [d for drafts in by_account.values() for d in drafts]
    _finish(session, drafts, today)
    return drafts


def _fold_planning(
    planning: list[tuple[Any, int, str]],
    readings: dict[int, Reading],
    by_account: dict[int, list[Draft]],
    own: dict[str, Draft],
    buyers: dict[int, str],
) -> None:
    """Each planning notice into the re-tender it belongs to, else its own opportunity."""
    candidates: dict[int, Candidates] = {}
    for n, acc, status in planning:
        issued = n.issue_date or n.publication_date
        if issued is None:
            continue
        reading = readings[n.id]
        kind = "dialogue" if reading.kind == "market_dialogue" else "planning"
        if acc not in candidates:
            candidates[acc] = Candidates(by_account[acc])
        target = best_match(
            candidates[acc].for_planning(issued),
            title_tokens(n.title),
            n.main_cpv,
            partial(plausible_for_planning, n=n, issued=issued),
        )
        if target is None:
            target = _own_draft(own, by_account[acc], kind, n, acc, status, buyers.get(n.id))
        prev = as_date(target.inputs.get("planning_date"))
        if prev is None or issued < prev:
            target.inputs["planning_date"] = issued.isoformat()
        apply_reading(target, reading, issued)
        if target.notice_pk is None or target.kind == "retender":
            target.notice_pk, target.notice_id = n.id, n.notice_id
        if n.procedure_type and target.kind in ("planning", "dialogue"):
            target.inputs["procedure"] = n.procedure_type


def _fold_competitions(
    competitions: list[tuple[Any, int, str]],
    by_account: dict[int, list[Draft]],
    own: dict[str, Draft],
    buyers: dict[int, str],
    lot_dates: dict[int, tuple[dt.date | None, dt.date | None]],
    awards: dict[str, tuple[dt.date | None, dt.date | None]],
) -> None:
    """Each competition into the planning opportunity of its procedure, else the re-tender
    or planning opportunity it plausibly closes, else its own opportunity."""
    candidates: dict[int, Candidates] = {}
    # the first planning or dialogue draft of each account and procedure (the competitions
    # add no such drafts and change no procedure id)
    planned: dict[tuple[int, str], Draft] = {}
    for acc, drafts in by_account.items():
        for d in drafts:
            if d.kind in ("planning", "dialogue") and d.procedure_id:
                planned.setdefault((acc, d.procedure_id), d)
    for n, acc, status in competitions:
        issued = n.issue_date or n.publication_date
        if issued is None:
            continue
        if acc not in candidates:
            candidates[acc] = Candidates(by_account[acc])
        target = (planned.get((acc, n.procedure_id)) if n.procedure_id else None) or best_match(
            candidates[acc].for_competition(issued),
            title_tokens(n.title),
            n.main_cpv,
            partial(plausible_for_competition, n=n, issued=issued),
        )
        if target is None:
            target = _own_draft(
                own, by_account[acc], "competition", n, acc, status, buyers.get(n.id)
            )
        prev = as_date(target.inputs.get("published"))
        if prev is not None and prev > issued:
            continue  # keep the latest competition notice of the procedure
        deadline, start = lot_dates.get(n.id, (None, None))
        award, award_start = awards.get(n.procedure_id or "", (None, None))
        target.inputs.update(
            published=issued.isoformat(),
            deadline=iso(deadline),
            awarded=iso(award),
            contract_start=iso(award_start or start),
        )
        if n.procedure_type:
            target.inputs["procedure"] = n.procedure_type
        target.competition_notice_pk = n.id
        target.competition_notice_id = n.notice_id
        target.competition_procedure_id = n.procedure_id
        if target.value is None:
            target.value, target.currency = n.estimated_value, n.currency


def _finish(session: Session, drafts: list[Draft], today: dt.date) -> None:
    """The value band and the note of a competition that awarded nothing (a re-tender
    signal); what the capability profile reads is added by :func:`attach_items` to the
    drafts that are kept."""
    for d in drafts:
        if d.value is not None and (d.currency or "NOK") == "NOK":
            d.inputs["value_nok"] = float(d.value)  # the value band decides the drafting time
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


def attach_items(session: Session, drafts: list[Draft]) -> None:
    """What the capability profile reads of each draft (``Draft.item``;
    ``tracker.opportunities.relevance``): its title and CPV with its notice's text."""
    texts = notice_texts(session, [d.source_notice_pk for d in drafts if d.source_notice_pk])
    for d in drafts:
        item = contract_item(d.title, d.main_cpv, texts.get(d.source_notice_pk or -1))
        d.item = item.as_dict()


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
            if proc is None:  # matched by the IN list: never None
                continue
            info = unawarded(session, pk)
            if info is None:
                out.pop(proc, None)
            else:
                out[proc] = info
    return out
