"""Ingest: parse notices and store them idempotently (the one path every source uses).

API contract (used by ``tracker ingest``, the Scrapy pipeline and the scheduler):

    with Ingestor(engine, source="doffin", run_id=run.id) as ing:
        outcome = ing.add(xml_bytes, location="https://.../download/2024-110489",
                          source_id="2024-110489", source_meta={"publicationDate": ...})
        ...                      # outcomes are final once flush() has returned
        ing.flush()              # commit the pending batch (also done every ``batch_size``)
    ing.counts                   # {"read", "new", "updated", "unchanged", "failed"}

``IngestOutcome.status`` is one of new|updated|unchanged|failed. A failed notice is
recorded in ``ingest_errors`` with its reason and nothing stored before is touched.

Each batch is one unit of work: its notices and what ``tracker.ops.derive.after_ingest``
derives from them (account links, contracts) are committed together, so a process
killed at any point leaves either the whole batch or nothing. When derivation fails
(a bug, a database error) the notices are kept with ``derive_pending`` set; every
ingest ends by deriving the pending ones (``Ingestor.derive_pending``), and
``tracker doctor`` reports those left.

Rules:

- identity is eForms notice-id + version (TED XML before eForms: the OJ S number
  ``2018/S 123-456789``, version 01; ``tracker.notices.parsing.parse_any`` reads both).
  Same bytes (sha256) again: ``unchanged`` (the search-hit metadata ``source_id``,
  ``publication_date``, ``status``, ``source_meta`` is refreshed; a real change there
  counts as ``updated``). Same identity, other bytes:
  ``updated`` in place (children replaced). A new version: ``new``; the newest version of
  a notice-id has ``is_latest``, older ones point to it with ``superseded_by_id``.
- within one run, a later copy of the same notice-id + version with other bytes loses to
  the first (``unchanged``, with a reason): the SDK examples reuse ids, and a rerun over
  the same files must change nothing.
- a change notice (BT-758) gets ``changes_notice_pk`` to the notice it changes, whichever
  of the two arrives first.
- organisations are upserted by ``Organisation.key`` (valid orgnr, else
  ``name:<name_key>|<country>``).
- writes are batched (one lookup query per batch, bulk inserts of child rows); when a
  batch hits a database error it is retried notice by notice in savepoints, so one bad
  notice never loses the others.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tracker.db import bulk
from tracker.db.bulk import Encoder, dialect_for, dialect_key, fit, table_of
from tracker.db.models import Notice, utcnow
from tracker.errors import NoticeParseError
from tracker.notices import store
from tracker.notices.packed import NOTICE_KEYS, Packed, Party, encoders, pack
from tracker.notices.parallel import Prepared, compress
from tracker.notices.parsing import parse_any  # eForms, and TED XML before eForms
from tracker.notices.rows import jsonable, meta_date, meta_status
from tracker.ops import derive
from tracker.rules import Rules

log = logging.getLogger(__name__)

STATUSES = ("new", "updated", "unchanged", "failed")
SQLITE_CACHE_KIB = 64 * 1024  # page cache of the ingest connection (SQLite)

N = table_of(Notice)

# Columns refreshed from a search hit (source metadata) without re-parsing.
META_COLUMNS = ("source_id", "publication_date", "status", "source_meta")


@dataclass(slots=True)
class IngestOutcome:
    """What happened to one notice; final once ``Ingestor.flush()`` has returned."""

    status: str  # new|updated|unchanged|failed ("pending" until flushed)
    notice_pk: int | None = None
    notice_id: str | None = None
    version: str | None = None
    reason: str | None = None
    location: str | None = None


@dataclass(slots=True)
class _Item:
    outcome: IngestOutcome
    packed: Packed  # the rows, encoded (``tracker.notices.packed``)
    data: bytes  # the original bytes
    sha: str
    location: str
    source_id: str | None
    meta: dict[str, Any] | None
    compressed: bytes | None = None  # zlib of ``data``, made only when it is stored

    @property
    def raw(self) -> bytes:
        if self.compressed is None:
            self.compressed = compress(self.data)
        return self.compressed


@dataclass(slots=True)
class _Failure:
    outcome: IngestOutcome
    location: str
    reason: str
    raw: bytes | None


class Ingestor:
    """Batched, idempotent notice storage. Use as a context manager (flushes on exit)."""

    def __init__(
        self,
        engine: Engine,
        *,
        source: str,
        run_id: int | None = None,
        batch_size: int = 500,
        run_derive: bool = True,
        rules: Rules | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.run_id = run_id
        self.batch_size = max(1, batch_size)
        self.run_derive = run_derive
        self.rules = rules  # for derive.after_ingest (the configured rules when None)
        self._counts = {"read": 0, "new": 0, "updated": 0, "unchanged": 0, "failed": 0}
        self._items: list[_Item] = []
        self._keys: set[tuple[str, str]] = set()
        self._failures: list[_Failure] = []
        self._org_ids: dict[str, int] = {}
        # (notice-id, version) → (sha256, outcome) of the first copy read in this run.
        self._seen: dict[tuple[str, str], tuple[str, IngestOutcome]] = {}
        self._conflicts: list[tuple[IngestOutcome, IngestOutcome]] = []
        self._session: Session | None = None
        self.derive_errors: list[str] = []
        self._upsert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self.dialect = dialect_key(engine)  # what the rows are encoded for
        self._encoders = encoders(self.dialect)
        self._updated_at = Encoder(N, ("updated_at",), dialect_for(self.dialect))
        # derive_pending → the encoded run columns of a notice without a search hit
        self._plain_heads: dict[bool | None, tuple[Any, ...]] = {}

    # ------------------------------------------------------------------ public API

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None or issubclass(exc_type, Exception):
                self.flush()
        finally:
            self.close()

    @property
    def counts(self) -> dict[str, int]:
        """{"read", "new", "updated", "unchanged", "failed"} so far (final after flush)."""
        return dict(self._counts)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def add(
        self,
        data: bytes,
        *,
        location: str,
        source_id: str | None = None,
        source_meta: dict[str, Any] | None = None,
    ) -> IngestOutcome:
        """Parse ``data`` and queue it for the next batch; returns its (pending) outcome."""
        self._counts["read"] += 1
        outcome = IngestOutcome(status="pending", location=location)
        try:
            parsed = parse_any(data, location=location)
        except NoticeParseError as exc:
            self._fail_parse(outcome, location, str(exc), data)
            return outcome
        except Exception as exc:  # a parser bug must not stop a run
            log.exception("parser crashed on %s", location)
            self._fail_parse(outcome, location, f"parser error: {type(exc).__name__}: {exc}", data)
            return outcome
        sha = hashlib.sha256(data).hexdigest()
        packed = pack(parsed, self.dialect)
        return self._queue(outcome, packed, bytes(data), sha, None, source_id, source_meta)

    def add_prepared(
        self,
        prepared: Prepared,
        *,
        source_id: str | None = None,
        source_meta: dict[str, Any] | None = None,
    ) -> IngestOutcome:
        """Queue a notice parsed, packed, hashed and compressed by :func:`prepare` (in a
        worker process, see :func:`prepare_parallel`); the same outcome as ``add`` of its
        bytes. It must have been prepared for this database's dialect (``self.dialect``)."""
        self._counts["read"] += 1
        location = prepared.location
        outcome = IngestOutcome(status="pending", location=location)
        if prepared.packed is not None and prepared.packed.dialect != self.dialect:
            raise ValueError(
                f"{location}: prepared for {prepared.packed.dialect}, stored into {self.dialect}"
            )
        if prepared.packed is None:
            outcome.status = "failed"
            outcome.reason = prepared.reason
            self._failures.append(
                _Failure(outcome, location, prepared.reason or "", prepared.compressed)
            )
            if len(self._failures) >= self.batch_size:
                self.flush()
            return outcome
        return self._queue(
            outcome,
            prepared.packed,
            b"",
            prepared.sha or "",
            prepared.compressed,
            source_id,
            source_meta,
        )

    def _queue(
        self,
        outcome: IngestOutcome,
        packed: Packed,
        data: bytes,
        sha: str,
        compressed: bytes | None,
        source_id: str | None,
        source_meta: dict[str, Any] | None,
    ) -> IngestOutcome:
        location = outcome.location or ""
        outcome.notice_id, outcome.version = packed.notice_id, packed.version
        key = (packed.notice_id, packed.version)
        first = self._seen.get(key)
        if first is not None and first[0] != sha:
            # Another copy of this notice-id + version with other bytes came earlier in this
            # run (the SDK examples reuse ids): the first one stays, so runs are repeatable.
            outcome.reason = (
                f"{location}: notice {key[0]} version {key[1]} already read from "
                f"{first[1].location} with other content in this run; kept that one"
            )
            self._conflicts.append((outcome, first[1]))
            return outcome
        if first is None:
            self._seen[key] = (sha, outcome)
        if key in self._keys:  # same identity twice in one batch: store the first one first
            self.flush()
        self._keys.add(key)
        self._items.append(
            _Item(
                outcome=outcome,
                packed=packed,
                data=data,
                sha=sha,
                location=location,
                source_id=source_id,
                meta=source_meta,
                compressed=compressed,
            )
        )
        if len(self._items) >= self.batch_size:
            self.flush()
        return outcome

    def add_failure(self, location: str, reason: str, data: bytes | None = None) -> IngestOutcome:
        """Record a notice that could not even be fetched or read (counted as read, failed)."""
        self._counts["read"] += 1
        outcome = IngestOutcome(status="pending", location=location)
        self._fail_parse(outcome, location, reason, data)
        return outcome

    def flush(self) -> None:
        """Write the pending batch and derive from it, committed as one transaction."""
        if not self._items and not self._failures:
            self._settle_conflicts()
            return
        items, failures = self._items, self._failures
        self._items, self._keys, self._failures = [], set(), []
        session = self._get_session()
        try:
            changed = self._write(session, items)
            self._write_failures(session, failures)
            session.flush()
        except SQLAlchemyError as exc:
            session.rollback()
            self._org_ids.clear()  # ids from the rolled-back transaction are gone
            log.warning("batch of %d failed (%s); retrying one by one", len(items), exc)
            changed = self._write_one_by_one(session, items)
            self._write_failures(session, failures)
        if changed and self.run_derive:
            self._derive(session, changed)
        try:
            session.commit()
        except BaseException:
            self._org_ids.clear()
            raise
        for item in items:
            self._counts[item.outcome.status] += 1
        self._counts["failed"] += len(failures)
        self._settle_conflicts()

    def derive_pending(self, batch_size: int | None = None) -> int:
        """Derive every stored notice marked ``derive_pending`` (a failed or skipped
        derivation), one committed batch at a time; returns how many were derived."""
        session = self._get_session()
        size = batch_size or self.batch_size
        done = 0
        last = 0
        while True:
            pks = list(
                session.scalars(
                    select(N.c.id)
                    .where(N.c.derive_pending.is_(True), N.c.id > last)
                    .order_by(N.c.id)
                    .limit(size)
                )
            )
            if not pks:
                break
            last = pks[-1]
            if self._derive(session, pks):
                done += len(pks)
            session.commit()
        return done

    # ------------------------------------------------------------------ internals

    def _settle_conflicts(self) -> None:
        """Conflicting later copies are ``unchanged``, pointing at the copy that was kept."""
        pending = []
        for outcome, first in self._conflicts:
            if first.status == "pending":
                pending.append((outcome, first))
                continue
            if first.status == "failed":
                outcome.status = "failed"
                outcome.reason = f"{outcome.reason} (which failed: {first.reason})"
                self._counts["failed"] += 1
                continue
            outcome.status = "unchanged"
            outcome.notice_pk = first.notice_pk
            self._counts["unchanged"] += 1
        self._conflicts = pending

    def _get_session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.engine, expire_on_commit=False)
            if self.engine.dialect.name == "sqlite":
                # SQLite's default page cache is 2 MB; index pages of a growing notices
                # table then get re-read for every batch. This connection's cache only.
                self._session.connection().exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        return self._session

    def _fail_parse(self, outcome: IngestOutcome, location: str, reason: str, data: Any) -> None:
        outcome.status = "failed"
        outcome.reason = reason
        raw = None
        if isinstance(data, bytes | bytearray | memoryview):
            raw = compress(bytes(data))
        self._failures.append(_Failure(outcome, location, reason, raw))
        if len(self._failures) >= self.batch_size:
            self.flush()

    def _write_failures(self, session: Session, failures: list[_Failure]) -> None:
        rows = [
            {
                "source": self.source,
                "location": f.location,
                "reason": f.reason,
                "raw_xml": f.raw,
                "run_id": self.run_id,
                "created_at": utcnow(),
            }
            for f in failures
        ]
        store.write_failures(session, rows)

    def _write_one_by_one(self, session: Session, items: list[_Item]) -> list[int]:
        changed: list[int] = []
        for item in items:
            item.outcome.status = "pending"
            item.outcome.notice_pk = None
            try:
                with session.begin_nested():
                    changed.extend(self._write(session, [item]))
            except SQLAlchemyError as exc:
                self._org_ids.clear()
                reason = f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}"
                item.outcome.status = "failed"
                item.outcome.reason = reason
                item.outcome.notice_pk = None
                self._write_failures(
                    session, [_Failure(item.outcome, item.location, reason, item.raw)]
                )
        return changed

    def _derive(self, session: Session, notice_pks: list[int]) -> bool:
        """Derive from ``notice_pks`` in a savepoint of the open transaction (the caller
        commits); on failure the notices are marked ``derive_pending``. True if derived."""
        try:
            with session.begin_nested():
                derive.after_ingest(session, notice_pks, self.rules)
                store.set_derive_pending(session, notice_pks, None)
            return True
        except Exception as exc:
            msg = f"derive.after_ingest failed for {len(notice_pks)} notices: {exc}"
            log.exception(msg)
            self.derive_errors.append(msg)
            store.set_derive_pending(session, notice_pks, True)
            return False

    def _write(self, session: Session, items: list[_Item]) -> list[int]:
        """Store ``items`` in the open transaction; returns pks of new and updated notices."""
        store.follow_stored_procedures(session, [item.packed for item in items])
        versions = store.stored_versions(session, {item.packed.notice_id for item in items})
        to_insert, to_update, meta_updates = self._sort(items, versions)
        if meta_updates:
            store.update_meta(session, meta_updates)
        stored = to_insert + [item for item, _ in to_update]
        if not stored:
            return [m["_id"] for m in meta_updates]
        org_ids = self._organisation_ids(session, stored)
        if to_insert:
            self._insert_notices(session, to_insert, versions)
        if to_update:
            self._rewrite_rows(session, to_update, keep=())
            for item, _ in to_update:
                item.outcome.status = "updated"
        self._insert_children(session, stored, org_ids)
        store.supersede(session, {item.packed.notice_id for item in to_insert}, versions)
        self._link_changes(session, stored)
        return [item.outcome.notice_pk for item in stored if item.outcome.notice_pk] + [
            m["_id"] for m in meta_updates
        ]

    def _sort(
        self, items: list[_Item], versions: store.Versions
    ) -> tuple[list[_Item], list[tuple[_Item, int]], list[dict[str, Any]]]:
        """Items to insert, to rewrite in place (with their pk), and search metadata to
        refresh; the outcome of the others (``unchanged``, ``updated``) is settled here."""
        to_insert: list[_Item] = []
        to_update: list[tuple[_Item, int]] = []
        meta_updates: list[dict[str, Any]] = []
        for item in items:
            p = item.packed
            existing = versions.get(p.notice_id, {}).get(p.version)
            if existing is None:
                to_insert.append(item)
                continue
            item.outcome.notice_pk = existing["id"]
            if existing["source"] != self.source:
                # Already stored from another source (Doffin and TED serve the same notice):
                # the first copy stays.
                item.outcome.status = "unchanged"
            elif existing["raw_sha256"] == item.sha:
                refreshed = self._meta_changes(existing, item)
                if refreshed:
                    meta_updates.append({"_id": existing["id"], **refreshed})
                    item.outcome.status = "updated"
                else:
                    item.outcome.status = "unchanged"
            else:
                to_update.append((item, existing["id"]))
        return to_insert, to_update, meta_updates

    def _insert_notices(
        self, session: Session, items: list[_Item], versions: store.Versions
    ) -> None:
        """Insert new notices; their pks come back in ``versions`` and their outcomes."""
        # Plain executemany, then one query for the new pks (RETURNING with ordered
        # results runs row by row on SQLite).
        for item in items:
            item.packed.raise_error(N.name)
        rows = [self._notice_row(item) for item in items]
        bulk.execute_encoded(session, "notices.insert", lambda: insert(N), NOTICE_KEYS, rows)
        new_pks = store.new_notice_pks(session, {item.packed.notice_id for item in items})
        for item in items:
            pk = new_pks[(item.packed.notice_id, item.packed.version)]
            item.outcome.notice_pk = pk
            item.outcome.status = "new"
            versions.setdefault(item.packed.notice_id, {})[item.packed.version] = {
                "id": pk,
                "version": item.packed.version,
                "is_latest": True,
                "superseded_by_id": None,
            }

    def _rewrite_rows(
        self, session: Session, pairs: list[tuple[_Item, int]], keep: tuple[str, ...]
    ) -> None:
        """Overwrite stored notices in place (same pk) and drop their children.

        ``keep`` names columns left as stored (reparse keeps source and search metadata).
        """
        for item, _ in pairs:
            item.packed.raise_error(N.name)
        store.delete_children(session, [pk for _, pk in pairs])
        skip = {"created_at", "is_latest", "superseded_by_id", *keep}
        picked = [i for i, k in enumerate(NOTICE_KEYS) if k not in skip]
        keys = (*(NOTICE_KEYS[i] for i in picked), "updated_at", "_id")
        rows = []
        for item, pk in pairs:
            values = self._notice_row(item)
            updated_at = self._updated_at.values((utcnow(),))
            rows.append((*(values[i] for i in picked), *updated_at, pk))

        def statement() -> Any:
            cols = keys[:-1]
            return (
                update(N).where(N.c.id == bindparam("_id")).values({c: bindparam(c) for c in cols})
            )

        bulk.execute_encoded(session, ("notices.update", keys), statement, keys, rows)

    def reparse_rows(self, rows: list[Any]) -> None:
        """Re-run the parser over stored notices (rows of id, raw_xml, notice_id) in place."""
        session = self._get_session()
        pairs: list[tuple[_Item, int]] = []
        failures: list[_Failure] = []
        for pk, raw, notice_id in rows:
            self._counts["read"] += 1
            location = f"notice {pk} ({notice_id})"
            outcome = IngestOutcome(status="pending", location=location, notice_pk=pk)
            try:
                data = zlib.decompress(raw)
                parsed = parse_any(data, location=location)
            except Exception as exc:  # keep the stored row; record why
                outcome.status, outcome.reason = "failed", f"reparse failed: {exc}"
                failures.append(_Failure(outcome, location, outcome.reason, raw))
                continue
            outcome.notice_id, outcome.version = parsed.notice_id, parsed.version
            if parsed.notice_id != notice_id:
                outcome.status = "failed"
                outcome.reason = f"reparse gives notice-id {parsed.notice_id}, stored {notice_id}"
                failures.append(_Failure(outcome, location, outcome.reason, None))
                continue
            packed = pack(parsed, self.dialect)
            item = _Item(
                outcome, packed, data, hashlib.sha256(data).hexdigest(), location, None, None, raw
            )
            pairs.append((item, pk))
        keep = ("source", "source_id", "publication_date", "status", "source_meta", "version")
        store.follow_stored_procedures(session, [item.packed for item, _ in pairs])
        if pairs:
            org_ids = self._organisation_ids(session, [item for item, _ in pairs])
            self._rewrite_rows(session, pairs, keep=keep)
            items = [item for item, _ in pairs]
            self._insert_children(session, items, org_ids)
            self._link_changes(session, items)
        self._write_failures(session, failures)
        if pairs and self.run_derive:
            self._derive(session, [pk for _, pk in pairs])
        session.commit()
        self._counts["updated"] += len(pairs)
        self._counts["failed"] += len(failures)
        self._settle_conflicts()

    def _meta_changes(self, existing: dict[str, Any], item: _Item) -> dict[str, Any]:
        new: dict[str, Any] = {}
        if item.source_id and item.source_id != existing["source_id"]:
            new["source_id"] = item.source_id
        if item.meta:
            pub = meta_date(item.meta)
            if pub and pub != existing["publication_date"]:
                new["publication_date"] = pub
            status = meta_status(item.meta)
            if status and status != existing["status"]:
                new["status"] = status
            meta = jsonable(item.meta)
            if meta != (existing["source_meta"] or {}):
                new["source_meta"] = meta
        return fit(N, new) if new else new

    def _notice_row(self, item: _Item) -> tuple[Any, ...]:
        """The encoded ``notices`` row of ``item``, in the order of ``NOTICE_KEYS``: the
        columns of this run and of the search hit, then the packed ones."""
        meta = item.meta
        p = item.packed
        # Derived in the same transaction (``flush``); set when derivation is skipped
        # (``run_derive=False``) or fails (``_derive``).
        pending = None if self.run_derive else True
        enc = self._encoders
        if meta is None and item.source_id is None:  # files: the same for every notice
            head = self._plain_heads.get(pending)
            if head is None:
                head = enc.notice_head.values((self.source, None, None, None, {}, pending))
                self._plain_heads[pending] = head
        else:
            head = enc.notice_head.values(
                (
                    self.source,
                    item.source_id,
                    meta_date(meta),
                    meta_status(meta),
                    jsonable(meta),
                    pending,
                )
            )
        tail = enc.notice_tail.values((utcnow(), p.procedure_id, item.raw, item.sha))
        return head + tail + p.notice

    def _organisation_ids(self, session: Session, items: list[_Item]) -> dict[str, int]:
        """Upsert every buyer and winner organisation of ``items``; returns key → id."""
        wanted: dict[str, Party] = {}
        known = self._org_ids
        for item in items:
            for party in item.packed.parties:
                key = party[0]
                if key not in known and key not in wanted:
                    wanted[key] = party
        if wanted:
            store.upsert_organisations(session, wanted, self._org_ids, self._upsert)
        return self._org_ids

    def _insert_children(
        self, session: Session, items: list[_Item], org_ids: dict[str, int]
    ) -> None:
        notices = [(item.outcome.notice_pk, item.packed) for item in items]
        store.insert_children(session, notices, org_ids)

    def _link_changes(self, session: Session, items: list[_Item]) -> None:
        stored = [
            (item.outcome.notice_pk, item.outcome.status, item.packed)
            for item in items
            if item.outcome.notice_pk
        ]
        store.link_changes(session, stored)
