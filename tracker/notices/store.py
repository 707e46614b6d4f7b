"""The database side of the ingest: the set-based writes of one batch of notices.

Called by ``tracker.notices.ingest.Ingestor`` inside its open transaction; a handful of
queries per batch (chunked ``IN`` lists, ``tracker.db.bulk``), never one per notice:

- :func:`stored_versions` and :func:`new_notice_pks`: what is stored of these notice-ids;
- :func:`delete_children`, :func:`insert_children`: the buyers, lots, criteria, results
  and winners of notices (their rows packed by ``tracker.notices.packed``) replaced;
- :func:`upsert_organisations`: buyers and winners by ``Organisation.key``;
- :func:`supersede` and :func:`link_changes`: the newest version of a notice-id is the
  latest, and change notices (BT-758) point at the notice they change;
- :func:`set_derive_pending` and :func:`update_meta`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from tracker.db import bulk
from tracker.db.bulk import chunked, fit, select_in, select_in_plain, table_of
from tracker.db.models import (
    Contract,
    IngestError,
    Organisation,
    utcnow,
)
from tracker.notices.packed import (  # the tables the workers pack rows for
    BUYER,
    BUYER_KEYS,
    CRIT,
    CRIT_KEYS,
    LOT,
    LOT_KEYS,
    RES,
    RES_KEYS,
    WIN,
    WIN_KEYS,
    N,
    Packed,
    Party,
)
from tracker.notices.records import ParsedNotice
from tracker.notices.rows import version_key
from tracker.notices.ted_legacy import follow_procedures

ORG = table_of(Organisation)
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
        for pk, nid, version in select_in_plain(session, cols, N.c.notice_id, notice_ids)
    }


def follow_stored_procedures(session: Session, packed: list[Packed]) -> None:
    """TED XML notices before eForms name the notice before them, not a procedure id
    (``tracker.notices.ted_legacy.follow_procedures``, given the notices' identity and
    procedure ids); eForms notices are left as they are."""
    if not any((p.customization_id or "").startswith("TED_EXPORT") for p in packed):
        return  # follow_procedures changes nothing without a TED XML notice

    def stored(ids: list[str]) -> dict[str, str | None]:
        cols = (N.c.notice_id, N.c.procedure_id)
        return {nid: proc for nid, proc in select_in_plain(session, cols, N.c.notice_id, ids)}

    heads = [
        ParsedNotice(
            notice_id=p.notice_id,
            version=p.version,
            procedure_id=p.procedure_id,
            customization_id=p.customization_id,
        )
        for p in packed
    ]
    follow_procedures(heads, stored)
    for p, head in zip(packed, heads, strict=True):
        p.procedure_id = head.procedure_id


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
    wanted: dict[str, Party],
    known: dict[str, int],
    upsert: Callable[[Any], Any],
) -> None:
    """Add the id of every organisation of ``wanted`` (key → (key, orgnr, orgnr_raw, name,
    country)) to ``known``, inserting those not stored yet (``upsert``: the dialect's
    ``insert`` with ON CONFLICT)."""
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
                "orgnr": wanted[k][1],
                "orgnr_raw": wanted[k][2],
                "name": wanted[k][3] or k,
                "country": wanted[k][4],
                "created_at": utcnow(),
            },
        )
        for k in missing
    ]
    session.execute(upsert(ORG).on_conflict_do_nothing(), rows)
    _lookup_orgs(session, missing, known)
    lost = [k for k in missing if k not in known]
    if lost:  # an orgnr stored under another key (by hand or by the register)
        by_orgnr = {wanted[k][1]: k for k in lost if wanted[k][1]}
        for oid, orgnr in select_in_plain(session, (ORG.c.id, ORG.c.orgnr), ORG.c.orgnr, by_orgnr):
            known[by_orgnr[orgnr]] = oid


def _lookup_orgs(session: Session, keys: list[str], known: dict[str, int]) -> None:
    for oid, key in select_in_plain(session, (ORG.c.id, ORG.c.key), ORG.c.key, keys):
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
    session: Session, notices: list[tuple[int | None, Packed]], org_ids: dict[str, int]
) -> None:
    """Insert the buyers, lots (with award criteria) and results (with winners) of
    ``notices`` (pk, packed rows) in a few bulk inserts; a value a column refused when the
    rows were packed is raised as the database error of that table."""
    buyers: list[tuple[Any, ...]] = []
    lots: list[tuple[Any, ...]] = []
    lot_keys: list[tuple[int | None, int]] = []
    lot_criteria: list[list[tuple[Any, ...]]] = []
    results: list[tuple[Any, ...]] = []
    res_keys: list[tuple[int | None, int]] = []
    result_winners: list[list[tuple[str, tuple[Any, ...]]]] = []
    errors = [p for _, p in notices if p.error is not None]
    for pk, p in notices:
        for key, values in p.buyers:
            buyers.append((pk, org_ids.get(key), *values))
        for i, (values, criteria) in enumerate(p.lots):
            lots.append((pk, *values))
            lot_keys.append((pk, i))
            lot_criteria.append(criteria)
        for i, (values, winners) in enumerate(p.results):
            results.append((pk, *values))
            res_keys.append((pk, i))
            result_winners.append(winners)

    def insert_rows(table: Any, keys: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        for p in errors:
            p.raise_error(table.name)
        bulk.execute_encoded(session, (table.name, "insert"), lambda: insert(table), keys, rows)

    insert_rows(BUYER, BUYER_KEYS, buyers)
    insert_rows(LOT, LOT_KEYS, lots)
    if lots:
        lot_pks = child_pks(session, LOT, lot_keys)
        criteria = [
            (lot_pk, *values)
            for lot_pk, crits in zip(lot_pks, lot_criteria, strict=True)
            for values in crits
        ]
        insert_rows(CRIT, CRIT_KEYS, criteria)
    insert_rows(RES, RES_KEYS, results)
    if results:
        res_pks = child_pks(session, RES, res_keys)
        winners = [
            (res_pk, org_ids.get(key), *values)
            for res_pk, ws in zip(res_pks, result_winners, strict=True)
            for key, values in ws
        ]
        insert_rows(WIN, WIN_KEYS, winners)


def child_pks(session: Session, table: Any, keys: list[tuple[int | None, int]]) -> list[int]:
    """Pks of just-inserted child rows, in the order of ``keys`` (notice_pk, position)."""
    found: dict[tuple[int, int], int] = {}
    cols = (table.c.id, table.c.notice_pk, table.c.position)
    for pk, notice_pk, position in select_in_plain(
        session, cols, table.c.notice_pk, {k[0] for k in keys}
    ):
        found[(notice_pk, position)] = pk
    return [found[k] for k in keys]  # type: ignore[index]


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


def link_changes(session: Session, stored: list[tuple[int, str, Packed]]) -> None:
    """Point change notices (BT-758) at the notice they change, in both arrival orders.

    ``stored``: (pk, outcome status, parsed) of the notices just written.
    """
    conn = session.connection()
    links = _changes_of(conn, stored)
    # Change notices stored before the notice they change arrived.
    own = {p.notice_id: pk for pk, status, p in stored if status == "new"}
    cols = (N.c.id, N.c.changed_notice_id)
    for pk, changed in select_in_plain(
        conn, cols, N.c.changed_notice_id, own, "notices.changes_notice_pk IS NULL"
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


def _changes_of(conn: Any, stored: list[tuple[int, str, Packed]]) -> list[dict[str, Any]]:
    """Links from the change notices of ``stored`` to the notices they change."""
    targets = {p.changed_notice_id for _, _, p in stored if p.changed_notice_id}
    found: dict[str, list[tuple[int, str, bool]]] = {}
    cols = (N.c.id, N.c.notice_id, N.c.version, N.c.is_latest)
    for pk, nid, version, latest in select_in_plain(conn, cols, N.c.notice_id, targets):
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
