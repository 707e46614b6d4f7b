"""Contracts as the notices say them: one per awarded lot and winner group, with its ends.

A result notice gives one contract per awarded lot and winning tendering party (the
result's own structure: settled contract → lot tender → tendering party → tenderers;
``tracker.notices.records.ParsedResult``): parallel framework suppliers are one contract each,
with that tender's value. Every contract keeps:

- **value and its kind** (``value_kind``): ``tender`` (BT-720 of the winning tender),
  ``framework_max`` (the tender amount is the framework's ceiling: the text calls it the
  maximum, or it equals BT-709/BT-118; else BT-709/BT-118/BT-271 themselves) or
  ``estimated`` (BT-27). A maximum shared by parallel suppliers is ``value_shared``: it
  is the ceiling of them all, never to be summed or multiplied. The currency is kept.
- **framework** from the contracting-system code (BT-765), the contract's indicator
  (BT-768) or the text ("rammeavtale"; the text wins over a ``none`` code);
  **direct_award** for negotiated procedures without prior call (BT-105 ``neg-wo-call``),
  VEAT notices and intention notices ("intensjonskunngjøring"): no re-tender is assumed
  (``retender = not_assumed``); **regime** (classic, light, defence, utilities) from the
  regulatory domain, the notice type and the text (FOSA).
- **start**, first that applies: the lot's start (BT-536), a start stated in the text
  ("planlagt oppstartsdato 9. mars 2023"), the first year of a year-only period, the
  contract notice's start, the conclusion date (BT-145), the winner decision (BT-1451),
  the notice date (each after the first an assumption: medium confidence at most).
- **base end** (``end_date``, source in ``end_source``), first that applies:

  =======================  ================================================================
  ``explicit``             the lot's end date (BT-537)
  ``modification``         a modification notice's own new end
  ``*+duration``           start + the lot's duration (BT-36) − 1 day; the prefix names the
                           start (``start``, ``text_start``, ``conclusion``, ``award``,
                           ``notice``, ``expected``)
  ``cn_explicit``          the end date of the same lot in the contract notice
  ``cn_start+duration``    the contract notice's start + duration
  ``award+cn_duration``    start + the contract notice's duration
  ``text_duration``        the base term in the buyer's words ("varighet på 2 år"; or the
                           stated total less the options: "1 + 1 år ... total 4 år")
  ``text_years``           a year-only period ("for perioden 2023 - 2025"): 31 December
  ``framework_default``    a framework agreement with no stated term: no base end; the
                           latest end is the regime's maximum (4 years classic and light,
                           7 defence and security, 8 utilities; ``regimes`` rules)
  ``unlimited``            the notice says the duration is unlimited (BT-538 UNLIMITED)
  ``unknown``              none of the above
  =======================  ================================================================

- **options**: each option's end (``option_ends``) from BT-54/BT-57 or the text ("1 + 1
  år", "inntil ytterlegare 3 år, 1 år om gangen", "maksimal samlet avtaleperiode er 4
  år"), and the **latest end** (every option taken); a framework agreement never runs
  past its regime's maximum. The next decision point is the next option end
  (:func:`next_end`), not the last.
- **evidence**: one row per fact with its source (a field, a rule, or the text with its
  quote) and a confidence; ``end_confidence`` is ``high`` when start and term are stated,
  ``medium`` with one assumption (usually the start) or a year-only period, ``low`` when
  the end is a guess (legal maximum, a modification without content, no term at all).

Modification notices (subtypes 38-40, E6) update the contract they change (same
procedure, lot and supplier): their own new end or value replaces the old; one with an
empty modification section near or after the end (``extension_evidence_months``) is
evidence of an extension (``extension = probably_extended``: ask the buyer) and leaves
the latest end unknown. Without the original award stored, the modification notice gives
the contract itself.

A competition (contract notice) with no award seen seeds an **expected** contract from
its own lots (``expected``; ``expected_award`` = deadline + evaluation period): readers
show it once that date has passed. Derivation is idempotent: contracts are keyed by
``Contract.key`` and recomputed per procedure.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from tracker.contracts.modifications import apply_modification, find_base, modification_effects
from tracker.contracts.rows import Batch, Desired, build_awarded, build_expected
from tracker.contracts.values import ContractRules, contract_rules, not_awarded
from tracker.db.models import (
    Contract,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    ResultWinner,
    utcnow,
)
from tracker.notices.notice_text import read_facts
from tracker.notices.subtypes import MODIFICATION_SUBTYPES, RESULT_SUBTYPES, is_contract_notice
from tracker.rules import Rules

CHUNK = 2000
# One expanding parameter for the IN lists of a batch: the statement is built and cached
# once, not coerced element by element for every chunk.
_K: BindParameter[Any] = bindparam("k", expanding=True)
# Every column a derived row sets, so that one executemany statement fits all rows.
_CONTRACT_DEFAULTS: dict[str, Any] = {
    "external_ref": None,
    "url": None,
    "updated_at": None,
}


def unawarded(session: Session, notice_pk: int) -> dict[str, Any] | None:
    """For a result notice that awards nothing (every lot result without a winner, or no
    lot result at all, e.g. a cancelled competition): :func:`not_awarded` with the
    notice's texts; None for any other notice. A re-tender signal for the bid team."""
    n = session.get(Notice, notice_pk)
    if n is None or not _is_result(n) or (n.subtype or "") in MODIFICATION_SUBTYPES:
        return None
    results = list(session.scalars(select(LotResult).where(LotResult.notice_pk == n.id)))
    if any(r.winners for r in results):
        return None
    texts: list[tuple[str, str | None]] = [("note", n.note), ("description", n.description)]
    for lot in session.scalars(select(Lot).where(Lot.notice_pk == n.id).order_by(Lot.position)):
        texts += [("lot note", lot.note), ("lot description", lot.description)]
    texts.append(("title", n.title))
    info = not_awarded([r.result_code for r in results], read_facts(texts))
    info["notice_pk"] = n.id
    return info


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_NOTICE_COLS = (
    Notice.id,
    Notice.notice_id,
    Notice.procedure_id,
    Notice.subtype,
    Notice.notice_type,
    Notice.document_type,
    Notice.issue_date,
    Notice.title,
    Notice.description,
    Notice.note,
    Notice.main_cpv,
    Notice.previous_notice_ids,
    Notice.is_test,
    Notice.procedure_type,
    Notice.regulatory_domain,
    Notice.contract_nature,
    Notice.estimated_value,
    Notice.currency,
    Notice.framework_max_value,
    Notice.result_framework_max,
    Notice.modification_description,
)
_LOT_COLS = (
    Lot.notice_pk,
    Lot.lot_id,
    Lot.title,
    Lot.description,
    Lot.note,
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
    Lot.framework_max_value,
    Lot.submission_deadline,
    Lot.request_deadline,
)
_RESULT_COLS = (
    LotResult.id,
    LotResult.notice_pk,
    LotResult.result_id,
    LotResult.lot_id,
    LotResult.winner_chosen,
    LotResult.result_code,
    LotResult.tender_value,
    LotResult.currency,
    LotResult.conclusion_date,
    LotResult.award_date,
    LotResult.framework,
    LotResult.contract_id,
    LotResult.contract_title,
    LotResult.tender_id,
    LotResult.party_id,
    LotResult.framework_max_value,
    LotResult.value_inferred,
    LotResult.lot_mapped,
    LotResult.parallel,
)


def derive_contracts(
    session: Session, notice_pks: Iterable[int] | None = None, *, rules: Rules
) -> dict[str, Any]:
    """(Re)derive contracts for the procedures of the given notices (default: all); flushes.

    Every procedure touched is recomputed whole (its award, contract and modification
    notices together), so the order notices arrive in does not matter and running it
    twice changes nothing. Contract accounts are refreshed from the notices' links.
    ``rules`` are the rules in force (``tracker.rules.load_rules``). Returns counts:
    procedures, contracts, created, updated, removed, modified, expected; and
    ``contract_ids`` of every contract written.
    """
    session.flush()  # the reads below bypass the session's autoflush
    conn = session.connection()
    procedures, lone = _procedures(conn, notice_pks)
    notices: list[Any] = []
    for chunk in _chunks(procedures):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(
                    Notice.procedure_id.in_(_K), Notice.is_latest.is_(True)
                ),
                {"k": list(chunk)},
            ).all()
        )
    for chunk in _chunks(lone):
        notices.extend(
            conn.execute(
                select(*_NOTICE_COLS).where(Notice.id.in_(_K), Notice.is_latest.is_(True)),
                {"k": list(chunk)},
            ).all()
        )
    counts: dict[str, Any] = dict.fromkeys(
        ("procedures", "contracts", "created", "updated", "removed", "modified", "expected"), 0
    )
    counts["procedures"] = len(procedures) + len(lone)
    desired = _desired_contracts(session, notices, counts, contract_rules(rules))
    existing = _existing(session, procedures, lone, desired)
    stale = [c.id for k, c in existing.items() if k not in desired and c.source == "notice"]
    if stale:
        session.execute(delete(ContractParty).where(ContractParty.contract_id.in_(stale)))
        session.execute(delete(Contract).where(Contract.id.in_(stale)))
        counts["removed"] = len(stale)
    ids = _write_contracts(session, desired, existing, counts)
    counts["contracts"] = len(desired)
    all_ids = sorted(ids.values())
    kept = sorted(existing[k].id for k in desired if k in existing)  # new ones have no parties
    _write_parties(session, desired, ids, kept)
    session.flush()
    if all_ids:
        from tracker.linking.links import refresh_contract_accounts

        refresh_contract_accounts(session, all_ids)
    counts["contract_ids"] = all_ids
    return counts


def _procedures(conn: Connection, notice_pks: Iterable[int] | None) -> tuple[list[str], list[int]]:
    """The procedures of the given notices (default: all), and the notices without one."""
    if notice_pks is None:
        given = list(conn.execute(select(Notice.id, Notice.procedure_id, Notice.notice_id)).all())
    else:
        pks = sorted(set(notice_pks))
        given = []
        for chunk in _chunks(pks):
            given.extend(
                conn.execute(
                    select(Notice.id, Notice.procedure_id, Notice.notice_id).where(
                        Notice.id.in_(_K)
                    ),
                    {"k": list(chunk)},
                ).all()
            )
    procedures = sorted({p for _, p, _ in given if p})
    lone = sorted({pk for pk, p, _ in given if not p})
    return procedures, lone


def _existing(
    session: Session, procedures: list[str], lone: list[int], desired: dict[str, Desired]
) -> dict[str, Contract]:
    """The contracts that exist now for these procedures (or lone notices), by key."""
    existing: dict[str, Contract] = {}
    for chunk in _chunks(procedures):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.procedure_id.in_(_K)),
            {"k": list(chunk)},
        ):
            existing[c.key] = c
    for chunk in _chunks(lone):
        for c in session.scalars(
            select(Contract).where(Contract.source == "notice", Contract.notice_pk.in_(_K)),
            {"k": list(chunk)},
        ):
            existing[c.key] = c
    for chunk in _chunks(sorted(desired)):
        for c in session.scalars(select(Contract).where(Contract.key.in_(_K)), {"k": list(chunk)}):
            existing[c.key] = c
    return existing


def _write_contracts(
    session: Session,
    desired: dict[str, Desired],
    existing: dict[str, Contract],
    counts: dict[str, Any],
) -> dict[str, int]:
    """Update the existing contracts in place, insert the new ones; their ids by key."""
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
        # One executemany through the driver (tracker.db.bulk.bulk_insert: no per-row
        # parameter handling), then the ids by key.
        from tracker.db.bulk import bulk_insert

        now = utcnow()
        bulk_insert(
            session,
            Contract.__table__,
            [{**_CONTRACT_DEFAULTS, "created_at": now, **row} for row in new_rows],
        )
        new_keys = [row["key"] for row in new_rows]
        for chunk in _chunks(new_keys):
            for cid, key in session.execute(
                select(Contract.id, Contract.key).where(Contract.key.in_(_K)), {"k": list(chunk)}
            ):
                ids[key] = cid
        counts["created"] = len(new_rows)
    return ids


def _write_parties(
    session: Session, desired: dict[str, Desired], ids: dict[str, int], kept: list[int]
) -> None:
    """Replace the buyers and suppliers of the contracts written (once per role and key)."""
    for chunk in _chunks(kept):
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
        from tracker.db.bulk import bulk_insert

        bulk_insert(session, ContractParty.__table__, parties)


def _load(session: Session, pks: list[int]) -> tuple[dict, dict, dict, dict]:
    """Lots, results, winners and buyers of the notices ``pks`` (plain rows)."""
    conn = session.connection()  # plain rows: no ORM result processing
    lots: dict[int, list[Any]] = defaultdict(list)
    results: dict[int, list[Any]] = defaultdict(list)
    winners: dict[int, list[Any]] = defaultdict(list)
    buyers: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(pks):
        for lot in conn.execute(
            select(*_LOT_COLS).where(Lot.notice_pk.in_(_K)).order_by(Lot.notice_pk, Lot.position),
            {"k": list(chunk)},
        ):
            lots[lot.notice_pk].append(lot)
        for r in conn.execute(
            select(*_RESULT_COLS).where(LotResult.notice_pk.in_(_K)).order_by(LotResult.position),
            {"k": list(chunk)},
        ):
            results[r.notice_pk].append(r)
        for b in conn.execute(
            select(
                NoticeBuyer.notice_pk,
                NoticeBuyer.orgnr,
                NoticeBuyer.name,
                NoticeBuyer.organisation_id,
                NoticeBuyer.legal_type,
            )
            .where(NoticeBuyer.notice_pk.in_(_K))
            .order_by(NoticeBuyer.position),
            {"k": list(chunk)},
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
            .where(ResultWinner.result_pk.in_(_K))
            .order_by(ResultWinner.position),
            {"k": list(chunk)},
        ):
            winners[w.result_pk].append(w)
    return lots, results, winners, buyers


def _is_result(n: Any) -> bool:
    return (n.document_type or "") == "ContractAwardNotice" or (n.subtype or "") in (
        RESULT_SUBTYPES | MODIFICATION_SUBTYPES
    )


def _seeds_expected(n: Any) -> bool:
    """A competition whose award is worth expecting: a contract notice (cn-*, national
    N16/E3), not a PIN used as a call, a qualification system, a change notice or a test."""
    if n.is_test:
        return False
    kind = (n.notice_type or "").lower()
    return kind.startswith("cn-") or (n.subtype or "").upper() in ("N16", "E3")


def _desired_contracts(
    session: Session, notices: list[Any], counts: dict[str, Any], rules: ContractRules
) -> dict[str, Desired]:
    # Only result and contract notices give contracts: planning notices' lots stay unread.
    wanted = [
        n.id for n in notices if _is_result(n) or is_contract_notice(n.subtype, n.document_type)
    ]
    lots, results, winners, buyers = _load(session, wanted)
    by_proc: dict[str, list[Any]] = defaultdict(list)
    for n in notices:
        by_proc[n.procedure_id or f"notice:{n.notice_id}"].append(n)
    desired: dict[str, Desired] = {}
    ctx = Batch(lots, results, winners, buyers, rules)
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
            awarded = [
                r for r in results[n.id] if r.winner_chosen is not False and winners.get(r.id)
            ]
            same: dict[str | None, set[Decimal | None]] = defaultdict(set)
            for r in awarded:
                same[r.lot_id].add(r.tender_value)
            single = len({r.lot_id for r in awarded}) == 1
            for r in awarded:
                lot = ctx.lot_of(n, r.lot_id)
                key = f"n:{proc}|{r.lot_id or '-'}|{r.contract_id or r.result_id or '-'}"
                key = f"{key}|{r.party_id or r.tender_id or '-'}"[:300]
                facts = ctx.facts(n, lot, r.contract_title, cn, is_mod)
                if is_mod:
                    base = find_base(desired, proc, r, lot, ctx)
                    if base is not None:
                        apply_modification(base, n, r, lot, facts, ctx)
                        counts["modified"] += 1
                        continue
                d = build_awarded(
                    n, r, lot, cn, facts, ctx, is_mod, single, len(same[r.lot_id]) == 1
                )
                d.key = key
                if is_mod:
                    modification_effects(d.values, n, lot, facts, ctx, own=True)
                desired[key] = d
        if cn is not None and not any(_is_result(n) for n in group) and _seeds_expected(cn):
            for lot in lots.get(cn.id, []):
                x = build_expected(proc, cn, lot, ctx)
                if x is not None:
                    desired[x.key] = x
                    counts["expected"] += 1
    return desired
