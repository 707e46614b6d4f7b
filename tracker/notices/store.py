"""The database side of the ingest: the set-based writes of one batch of notices.

Called by ``tracker.notices.ingest.Ingestor`` inside its open transaction; a handful of
queries per batch (chunked ``IN`` lists, ``tracker.db.bulk``), never one per notice:

- :func:`stored_versions` and :func:`new_notice_pks`: what is stored of these notice-ids;
- :func:`update_notices`, :func:`delete_children`, :func:`insert_children`: notice rows
  updated in place, and their buyers, lots, criteria, results and winners replaced;
- :func:`upsert_organisations`: buyers and winners by ``Organisation.key``;
- :func:`supersede` and :func:`link_changes`: the newest version of a notice-id is the
  latest, and change notices (BT-758) point at the notice they change;
- :func:`set_derive_pending` and :func:`update_meta`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from tracker.db import bulk
from tracker.db.bulk import chunked, fit, select_in, table_of
from tracker.db.models import (
    AwardCriterion,
    Contract,
    IngestError,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    Organisation,
    ResultWinner,
    utcnow,
)
from tracker.notices.records import ParsedNotice, ParsedParty
from tracker.notices.rows import (
    buyer_row,
    criterion_row,
    lot_row,
    result_row,
    version_key,
    winner_row,
)
from tracker.notices.ted_legacy import follow_procedures

N = table_of(Notice)
ORG = table_of(Organisation)
BUYER = table_of(NoticeBuyer)
LOT = table_of(Lot)
CRIT = table_of(AwardCriterion)
RES = table_of(LotResult)
WIN = table_of(ResultWinner)
ERR = table_of(IngestError)
CONTRACT = table_of(Contract)

# notice_id → version → the stored row's id, version, latest flags and search metadata
Versions = dict[str, dict[str, dict[str, Any]]]

_STORED = (
    N.c.id,
    N.c.notice_id,
    N.c.version,
    N.c.raw_sha256,
    N.c.source,
    N.c.is_latest,
    N.c.superseded_by_id,
    N.c.source_id,
    N.c.publication_date,
    N.c.status,
    N.c.source_meta,
)


def stored_versions(session: Session, notice_ids: Iterable[str]) -> Versions:
    """Every stored version of ``notice_ids``: notice_id → version → row (as a dict)."""
    versions: Versions = {}
    for row in select_in(session, _STORED, N.c.notice_id, notice_ids):
        versions.setdefault(row.notice_id, {})[row.version] = dict(row._mapping)
    return versions


def new_notice_pks(session: Session, notice_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """(notice_id, version) → pk of every stored version of ``notice_ids``."""
    cols = (N.c.id, N.c.notice_id, N.c.version)
    return {
        (nid, version): pk
        for pk, nid, version in select_in(session, cols, N.c.notice_id, notice_ids)
    }


def follow_stored_procedures(session: Session, parsed: list[ParsedNotice]) -> None:
    """TED XML notices before eForms name the notice before them, not a procedure id
    (``tracker.notices.ted_legacy.follow_procedures``); eForms notices are left as they are."""

    def stored(ids: list[str]) -> dict[str, str | None]:
        cols = (N.c.notice_id, N.c.procedure_id)
        return {nid: proc for nid, proc in select_in(session, cols, N.c.notice_id, ids)}

    follow_procedures(parsed, stored)


def update_meta(session: Session, changes: list[dict[str, Any]]) -> None:
    """Refresh search-hit metadata: rows of ``_id`` and the changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in changes:
        groups.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    for cols, rows in groups.items():
        stmt = (
            update(N)
            .where(N.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in cols} | {"updated_at": utcnow()})
        )
        session.connection().execute(stmt, rows)


def update_notices(session: Session, rows: list[dict[str, Any]]) -> None:
    """Overwrite stored notices in place: rows of ``_id`` and the same columns each."""
    cols = [c for c in rows[0] if c != "_id"]
    stmt = update(N).where(N.c.id == bindparam("_id")).values({c: bindparam(c) for c in cols})
    session.connection().execute(stmt, rows)


def set_derive_pending(session: Session, notice_pks: list[int], value: bool | None) -> None:
    """Mark notices as waiting for derivation (True) or derived (None)."""
    conn = session.connection()
    for chunk in chunked(notice_pks):
        conn.execute(
            update(N)
            .where(N.c.id.in_(chunk), N.c.derive_pending.is_not(value))
            .values(derive_pending=value)
        )


def write_failures(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record notices that failed (``ingest_errors`` rows)."""
    if rows:
        session.execute(ERR.insert(), [fit(ERR, row) for row in rows])


def upsert_organisations(
    session: Session,
    wanted: dict[str, ParsedParty],
    known: dict[str, int],
    upsert: Callable[[Any], Any],
) -> None:
    """Add the id of every organisation of ``wanted`` (key → party) to ``known``, inserting
    those not stored yet (``upsert``: the dialect's ``insert`` with ON CONFLICT)."""
    keys = list(wanted)
    _lookup_orgs(session, keys, known)
    missing = [k for k in keys if k not in known]
    if not missing:
        return
    rows = [
        fit(
            ORG,
            {
                "key": k,
                "orgnr": wanted[k].orgnr,
                "orgnr_raw": wanted[k].orgnr_raw,
                "name": wanted[k].name or k,
                "country": wanted[k].country,
                "created_at": utcnow(),
            },
        )
        for k in missing
    ]
    session.execute(upsert(ORG).on_conflict_do_nothing(), rows)
    _lookup_orgs(session, missing, known)
    lost = [k for k in missing if k not in known]
    if lost:  # an orgnr stored under another key (by hand or by the register)
        by_orgnr = {wanted[k].orgnr: k for k in lost if wanted[k].orgnr}
        for oid, orgnr in select_in(session, (ORG.c.id, ORG.c.orgnr), ORG.c.orgnr, by_orgnr):
            known[by_orgnr[orgnr]] = oid


def _lookup_orgs(session: Session, keys: list[str], known: dict[str, int]) -> None:
    for oid, key in select_in(session, (ORG.c.id, ORG.c.key), ORG.c.key, keys):
        known[key] = oid


def delete_children(session: Session, notice_pks: list[int]) -> None:
    """Remove buyers, lots and results of notices about to be rewritten."""
    conn = session.connection()
    for chunk in chunked(notice_pks):
        lot_pks = select(LOT.c.id).where(LOT.c.notice_pk.in_(chunk))
        res_pks = select(RES.c.id).where(RES.c.notice_pk.in_(chunk))
        # Derived contracts point at results: detach them; derive re-attaches.
        conn.execute(
            update(CONTRACT).where(CONTRACT.c.result_pk.in_(res_pks)).values(result_pk=None)
        )
        conn.execute(delete(CRIT).where(CRIT.c.lot_pk.in_(lot_pks)))
        conn.execute(delete(WIN).where(WIN.c.result_pk.in_(res_pks)))
        conn.execute(delete(LOT).where(LOT.c.notice_pk.in_(chunk)))
        conn.execute(delete(RES).where(RES.c.notice_pk.in_(chunk)))
        conn.execute(delete(BUYER).where(BUYER.c.notice_pk.in_(chunk)))


def insert_children(
    session: Session, notices: list[tuple[int | None, ParsedNotice]], org_ids: dict[str, int]
) -> None:
    """Insert the buyers, lots (with award criteria) and results (with winners) of
    ``notices`` (pk, parsed) in a few bulk inserts."""
    buyers: list[dict[str, Any]] = []
    lots: list[dict[str, Any]] = []
    lot_criteria: list[list[Any]] = []
    results: list[dict[str, Any]] = []
    result_winners: list[list[ParsedParty]] = []
    for pk, p in notices:
        buyers.extend(buyer_row(pk, i, b, org_ids) for i, b in enumerate(p.buyers))
        for i, lot in enumerate(p.lots):
            lots.append(lot_row(pk, i, lot))
            lot_criteria.append(lot.award_criteria)
        for i, r in enumerate(p.results):
            results.append(result_row(pk, i, r))
            result_winners.append(r.winners)
    if buyers:
        bulk.bulk_insert(session, BUYER, buyers)
    if lots:
        bulk.bulk_insert(session, LOT, lots)
        lot_pks = child_pks(session, LOT, lots)
        criteria = [
            criterion_row(lot_pk, i, c)
            for lot_pk, crits in zip(lot_pks, lot_criteria, strict=True)
            for i, c in enumerate(crits)
        ]
        if criteria:
            bulk.bulk_insert(session, CRIT, criteria)
    if results:
        bulk.bulk_insert(session, RES, results)
        res_pks = child_pks(session, RES, results)
        winners = [
            winner_row(res_pk, i, w, org_ids)
            for res_pk, ws in zip(res_pks, result_winners, strict=True)
            for i, w in enumerate(ws)
        ]
        if winners:
            bulk.bulk_insert(session, WIN, winners)


def child_pks(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Pks of just-inserted child rows, in the order of ``rows`` (by notice_pk, position)."""
    found: dict[tuple[int, int], int] = {}
    cols = (table.c.id, table.c.notice_pk, table.c.position)
    for pk, notice_pk, position in select_in(
        session, cols, table.c.notice_pk, {r["notice_pk"] for r in rows}
    ):
        found[(notice_pk, position)] = pk
    return [found[(r["notice_pk"], r["position"])] for r in rows]


def supersede(session: Session, notice_ids: set[str], versions: Versions) -> None:
    """Mark the newest version of each notice-id latest; older ones point to it."""
    changes: list[dict[str, Any]] = []
    for notice_id in notice_ids:
        rows = versions.get(notice_id, {})
        if len(rows) < 2:
            continue
        newest = max(rows.values(), key=lambda r: version_key(r["version"]))
        for row in rows.values():
            latest = row["id"] == newest["id"]
            target = None if latest else newest["id"]
            if bool(row["is_latest"]) != latest or row["superseded_by_id"] != target:
                changes.append({"_id": row["id"], "is_latest": latest, "superseded_by_id": target})
                row["is_latest"], row["superseded_by_id"] = latest, target
    if changes:
        stmt = (
            update(N)
            .where(N.c.id == bindparam("_id"))
            .values(
                is_latest=bindparam("is_latest"), superseded_by_id=bindparam("superseded_by_id")
            )
        )
        session.connection().execute(stmt, changes)


def link_changes(session: Session, stored: list[tuple[int, str, ParsedNotice]]) -> None:
    """Point change notices (BT-758) at the notice they change, in both arrival orders.

    ``stored``: (pk, outcome status, parsed) of the notices just written.
    """
    conn = session.connection()
    links = _changes_of(conn, stored)
    # Change notices stored before the notice they change arrived.
    own = {p.notice_id: pk for pk, status, p in stored if status == "new"}
    cols = (N.c.id, N.c.changed_notice_id)
    for pk, changed in select_in(
        conn, cols, N.c.changed_notice_id, own, N.c.changes_notice_pk.is_(None)
    ):
        if pk != own[changed]:
            links.append({"_id": pk, "target": own[changed]})
    if links:
        stmt = (
            update(N)
            .where(N.c.id == bindparam("_id"))
            .values(changes_notice_pk=bindparam("target"))
        )
        conn.execute(stmt, links)


def _changes_of(conn: Any, stored: list[tuple[int, str, ParsedNotice]]) -> list[dict[str, Any]]:
    """Links from the change notices of ``stored`` to the notices they change."""
    targets = {p.changed_notice_id for _, _, p in stored if p.changed_notice_id}
    found: dict[str, list[tuple[int, str, bool]]] = {}
    cols = (N.c.id, N.c.notice_id, N.c.version, N.c.is_latest)
    for pk, nid, version, latest in select_in(conn, cols, N.c.notice_id, targets):
        found.setdefault(nid, []).append((pk, version, bool(latest)))
    links: list[dict[str, Any]] = []
    for own_pk, _, p in stored:
        rows = found.get(p.changed_notice_id or "")
        if not rows:
            continue
        exact = [pk for pk, v, _ in rows if v == p.changed_notice_version]
        latest = [pk for pk, _, is_latest in rows if is_latest]
        target = (exact or latest or [rows[0][0]])[0]
        if target != own_pk:
            links.append({"_id": own_pk, "target": target})
    return links
