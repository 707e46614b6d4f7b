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

``recompute(session, today, rules=..., ours=...)`` rebuilds the ``opportunities`` table
(stable ``key`` per opportunity, so activities recorded on it survive) from the drafts of
:mod:`tracker.opportunities.drafts`; :mod:`tracker.opportunities.reading` reads a stored
row back for the ``today`` asked (``tracker.pages.opportunities`` holds the queries).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing as mp
import time
from collections.abc import Collection, Iterable
from concurrent.futures import as_completed
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from tracker.db.engine import make_engine, sqlite_file
from tracker.db.models import Account, ContractAccount, NoticeLink, Opportunity, utcnow
from tracker.opportunities.drafts import CHUNK, attach_items, build_drafts
from tracker.opportunities.explain import explain
from tracker.opportunities.matching import Draft, iso
from tracker.opportunities.profile import ItemText
from tracker.opportunities.reading import stored_sources, timeline_for
from tracker.opportunities.relevance import relevance, stored_model
from tracker.opportunities.windows import Timeline
from tracker.ops.runtime import collection_paused, process_executor
from tracker.rules import Rules

log = logging.getLogger(__name__)

KEEP_RUNNING_DAYS = 365  # opportunities whose new contract runs longer than this are dropped
# Expired with no competition seen (phase "overdue") stays listed as a risk this long after
# the expected contract start: about one extension option, time to find out what happened.
KEEP_OVERDUE_DAYS = 365
KINDS = ("retender", "dialogue", "planning", "competition")


def accounts_by_id(session: Session) -> dict[int, dict[str, Any]]:
    """``{id: {name, tier, buyer_type}}`` of every account (what the rules need)."""
    return {
        a.id: {"name": a.name, "tier": a.tier, "buyer_type": a.buyer_type}
        for a in session.scalars(select(Account))
    }


PARTS_PER_WORKER = 4  # account groups per worker process: the slow ones even out


def recompute(
    session: Session,
    today: dt.date,
    *,
    rules: Rules,
    ours: Iterable[str] = (),
    account_ids: Collection[int] | None = None,
    workers: int = 1,
) -> dict[str, int]:
    """Rebuild the ``opportunities`` table for ``today``; flushes (the caller commits).

    ``account_ids``: rebuild the opportunities of these accounts only (a link decision
    changes one account's), leaving the others' rows as they are; an account's rows come
    out as a rebuild of every account makes them (``build_drafts``).

    ``workers`` > 1: the accounts are split into groups of about the same size (their
    contracts and linked notices) and each group's rows are built in one of ``workers``
    processes, each reading through a connection of its own; this process stores them
    all, in its transaction. Those connections see only what is committed: the caller
    must have committed what the rebuild is to read (the CLI and the daily cycle do). An
    in-memory SQLite database is rebuilt in this process.

    Notices issued after ``today`` (and contracts derived from them) are not used: they do
    not exist yet on that day. Opportunities whose new contract has been running for more
    than ``KEEP_RUNNING_DAYS``, or that are ``overdue`` (the contract ended, no competition
    seen) for more than ``KEEP_OVERDUE_DAYS`` after the expected start, are dropped.
    Returns counts: ``retender``, ``planning``, ``competition`` (stored per kind),
    ``new``, ``updated``, ``removed``, ``dropped`` (too old), ``open_now``. Each row's
    ``in_profile`` is the capability profile's fit of that day
    (``tracker.opportunities.relevance``). ``rules``: the rules in force; ``ours``: our
    own organisation numbers (settings ``our_orgnrs``). Runs with the cyclic garbage
    collector paused (``tracker.ops.runtime.collection_paused``: it held everything built
    to the end, and full collections took a quarter of the time at 2 M notices).
    """
    if workers < 1:
        raise ValueError(f"workers: {workers} is not a number of processes (1 or more)")
    with collection_paused():
        return _rebuild(session, today, rules, frozenset(ours), account_ids, workers)


def _rebuild(
    session: Session,
    today: dt.date,
    rules: Rules,
    ours: frozenset[str],
    account_ids: Collection[int] | None,
    workers: int,
) -> dict[str, int]:
    accounts = accounts_by_id(session)
    for name in rules.unknown_accounts(a["name"] for a in accounts.values()):
        log.warning('rules: [accounts."%s"]: no account has that name; ignored', name)
    ids = None if account_ids is None else sorted(set(account_ids))
    stored = select(Opportunity.key, Opportunity.id)
    if ids is not None:
        stored = stored.where(Opportunity.account_id.in_(ids))
    existing = dict(session.execute(stored).all())
    now = utcnow()
    started = time.perf_counter()
    counts = dict.fromkeys(
        (*KINDS, "new", "updated", "removed", "dropped", "open_now"),
        0,
    )
    keep: set[str] = set()
    session.flush()

    def store(rows: list[dict[str, Any]], part_counts: dict[str, int]) -> None:
        for name, n in part_counts.items():
            counts[name] += n
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for values in rows:
            keep.add(values["key"])
            pk = existing.get(values["key"])
            if pk is not None:
                values["id"] = pk
                updates.append(values)
            else:
                inserts.append(values)
        _write(session, [], updates, inserts)
        counts["new"] += len(inserts)
        counts["updated"] += len(updates)

    url = _worker_url(session) if workers > 1 else None
    processes = 1
    if url is None:
        store(*_opportunity_rows(session, today, rules, ours, ids, accounts, now))
    else:
        # each group's rows are stored as they come, while the workers build the others
        groups = _account_groups(session, ids, workers * PARTS_PER_WORKER)
        job = _Job(url, today, rules, ours, accounts, now)
        processes = min(workers, len(groups))
        with process_executor(processes, _start_job, (job,)) as pool:
            futures = [pool.submit(_part_rows, g) for g in groups]
            try:
                for done in as_completed(futures):
                    store(*done.result())
            except BaseException:
                pool.shutdown(cancel_futures=True)  # the groups not started are not built
                raise
    gone = [pk for key, pk in existing.items() if key not in keep]
    _write(session, gone, [], [])
    _forget(session, set(gone))
    counts["removed"] = len(gone)
    log.info(
        "opportunities for %s: %d stored in %.1f s (%d process%s)",
        today, len(keep), time.perf_counter() - started, processes,
        "" if processes == 1 else "es",
    )  # fmt: skip
    return counts


def _opportunity_rows(
    session: Session,
    today: dt.date,
    rules: Rules,
    ours: frozenset[str],
    account_ids: list[int] | None,
    accounts: dict[int, dict[str, Any]],
    now: dt.datetime,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The column values of the opportunities of ``account_ids`` (all: None), in the
    order of their drafts, and the counts per kind, ``open_now`` and ``dropped``."""
    drafts = build_drafts(session, today, ours, account_ids)
    model = stored_model(session)
    counts = dict.fromkeys((*KINDS, "dropped", "open_now"), 0)
    horizons = {
        "running": today - dt.timedelta(days=KEEP_RUNNING_DAYS),
        "overdue": today - dt.timedelta(days=KEEP_OVERDUE_DAYS),
    }
    keep: set[str] = set()
    kept: list[tuple[Draft, Timeline]] = []
    for d in drafts:
        tl = timeline_for(d.inputs, today, rules, accounts.get(d.account_id, {}))
        horizon = horizons.get(tl.phase)
        if horizon is not None and (tl.contract_start is None or tl.contract_start < horizon):
            counts["dropped"] += 1
            continue
        if d.key in keep:
            continue
        keep.add(d.key)
        kept.append((d, tl))
    attach_items(session, [d for d, _ in kept])  # only the kept drafts: the texts are read
    rows: list[dict[str, Any]] = []
    for d, tl in kept:
        account = accounts.get(d.account_id, {})
        counts[d.kind] += 1
        counts["open_now"] += int(tl.can_influence)
        values = _values(d, tl, today, now)
        profile = rules.profile(account.get("name"))
        item = ItemText.from_dict(d.item)
        values["in_profile"] = bool(relevance(profile, item, model)["shown"])
        rows.append(values)
    return rows, counts


def _worker_url(session: Session) -> str | None:
    """The URL worker processes connect with (password included); None for an in-memory
    SQLite database, which only this process can read, and where processes cannot be
    forked (the rules in force go to the workers as they are, not pickled)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and sqlite_file(url) is None:
        return None
    if "fork" not in mp.get_all_start_methods():
        return None
    return url.render_as_string(hide_password=False)


def _account_groups(session: Session, ids: list[int] | None, parts: int) -> list[list[int]]:
    """``ids`` (every account: None) in at most ``parts`` groups of about the same work:
    the largest account first into the group with the least so far, weighed by its
    contract and notice links."""
    weight: dict[int, int] = dict.fromkeys(
        ids if ids is not None else session.scalars(select(Account.id)), 1
    )
    for table in (ContractAccount, NoticeLink):
        for account_id, n in session.execute(
            select(table.account_id, func.count()).group_by(table.account_id)
        ):
            if account_id in weight:
                weight[account_id] += n
    groups: list[list[int]] = [[] for _ in range(max(1, min(parts, len(weight))))]
    load = [0] * len(groups)
    for account_id in sorted(weight, key=lambda a: (-weight[a], a)):
        i = load.index(min(load))
        groups[i].append(account_id)
        load[i] += weight[account_id]
    return [sorted(g) for g in groups if g]


@dataclass(frozen=True)
class _Job:
    """What every worker of one recompute shares (given at fork, not pickled)."""

    url: str
    today: dt.date
    rules: Rules
    ours: frozenset[str]
    accounts: dict[int, dict[str, Any]]
    now: dt.datetime


_job: _Job | None = None  # the recompute a worker process works for


def _start_job(job: _Job) -> None:
    global _job
    _job = job


def _part_rows(ids: list[int]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """:func:`_opportunity_rows` of one group of accounts, in a worker process with an
    engine of its own. The reasons go back as plain text (what is stored of them)."""
    job = _job
    assert job is not None, "a worker of recompute(workers=...) only"
    engine = make_engine(job.url)
    try:
        with collection_paused(), Session(engine) as session:
            rows, counts = _opportunity_rows(
                session, job.today, job.rules, job.ours, ids, job.accounts, job.now
            )
    finally:
        engine.dispose()
    for values in rows:
        timeline = values["timeline"]
        timeline["reason"] = str(timeline["reason"])
    return rows, counts


def _write(
    session: Session,
    gone: list[int],
    updates: list[dict[str, Any]],
    inserts: list[dict[str, Any]],
) -> None:
    """Delete, update and insert rows (bulk statements, in chunks)."""
    for i in range(0, len(gone), CHUNK):
        session.execute(
            delete(Opportunity).where(Opportunity.id.in_(gone[i : i + CHUNK])),
            execution_options={"synchronize_session": False},
        )
    for i in range(0, len(updates), CHUNK):
        session.execute(update(Opportunity), updates[i : i + CHUNK])
    for i in range(0, len(inserts), CHUNK):
        session.execute(insert(Opportunity), inserts[i : i + CHUNK])


def _forget(session: Session, gone: set[int]) -> None:
    """Forget what the session had loaded of the rows: the bulk statements bypass it."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Opportunity):
            if obj.id in gone:
                session.expunge(obj)
            else:
                session.expire(obj)


def _values(d: Draft, tl: Timeline, today: dt.date, now: dt.datetime) -> dict[str, Any]:
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
                "latest_end": iso(d.latest_end),
                "note": d.note,
                "notice_id": d.notice_id,
                "competition_notice_id": d.competition_notice_id,
                "procedure_id": d.competition_procedure_id or d.procedure_id,
                "profile_input": d.item,
            },
            "reason": explain(
                tl, today, kind=d.kind, title=d.title, buyer=d.buyer, framework=d.framework
            ),
            "sources": stored_sources(tl),
        },
    }


def clear(session: Session) -> int:
    """Delete every stored opportunity (they are rebuilt by ``recompute``)."""
    result = session.execute(delete(Opportunity))
    return int(getattr(result, "rowcount", 0) or 0)
