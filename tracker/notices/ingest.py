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

import datetime as dt
import hashlib
import json
import logging
import multiprocessing as mp
import operator
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

try:  # ISA-L: the same zlib format (zlib.decompress reads it), 3-4x faster to write
    from isal.isal_zlib import compress as _compress
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    from zlib import compress as _compress
from sqlalchemy import Engine, String, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.orm import Session

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
    Run,
    utcnow,
)
from tracker.db.runs import close_dead_runs, process_args
from tracker.errors import NoticeParseError
from tracker.notices.eforms import PARSER_VERSION, ParsedNotice, ParsedParty
from tracker.notices.parsing import parse_any  # eForms, and TED XML before eForms
from tracker.notices.ted_legacy import follow_procedures
from tracker.notices.text import name_key
from tracker.ops import derive

log = logging.getLogger(__name__)

STATUSES = ("new", "updated", "unchanged", "failed")
COMPRESS_LEVEL = 1  # 5x smaller; ISA-L level 1 takes ~50 us for a 30 KiB notice (zlib: ~190)
SQLITE_CACHE_KIB = 64 * 1024  # page cache of the ingest connection (SQLite)
MAX_MONEY = Decimal(10) ** 16  # Numeric(18, 2)
MAX_DURATION = Decimal(10) ** 8  # Numeric(10, 2)

N = Notice.__table__
ORG = Organisation.__table__
BUYER = NoticeBuyer.__table__
LOT = Lot.__table__
CRIT = AwardCriterion.__table__
RES = LotResult.__table__
WIN = ResultWinner.__table__
ERR = IngestError.__table__
CONTRACT = Contract.__table__

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
    parsed: ParsedNotice
    data: bytes  # the original bytes
    sha: str
    location: str
    source_id: str | None
    meta: dict[str, Any] | None
    compressed: bytes | None = None  # zlib of ``data``, made only when it is stored

    @property
    def raw(self) -> bytes:
        if self.compressed is None:
            self.compressed = _compress(self.data, COMPRESS_LEVEL)
        return self.compressed


@dataclass(slots=True)
class _Failure:
    outcome: IngestOutcome
    location: str
    reason: str
    raw: bytes | None


@dataclass(slots=True)
class Prepared:
    """A notice read away from the database: parsed, hashed and compressed (``prepare``),
    or the reason it failed (``parsed`` None). Small enough to send between processes."""

    location: str
    parsed: ParsedNotice | None
    sha: str | None = None
    compressed: bytes | None = None  # zlib of the bytes (stored as raw_xml or with the error)
    reason: str | None = None


def prepare(data: bytes, location: str) -> Prepared:
    """Parse, hash and compress one notice: the part of ``Ingestor.add`` that needs no
    database, so that worker processes can do it (``Ingestor.add_prepared`` stores it)."""
    try:
        parsed = parse_any(data, location=location)
    except NoticeParseError as exc:
        reason = str(exc)
    except Exception as exc:  # a parser bug must not stop a run
        log.exception("parser crashed on %s", location)
        reason = f"parser error: {type(exc).__name__}: {exc}"
    else:
        return Prepared(
            location,
            parsed,
            hashlib.sha256(data).hexdigest(),
            _compress(bytes(data), COMPRESS_LEVEL),
        )
    raw = None
    if isinstance(data, bytes | bytearray | memoryview):
        raw = _compress(bytes(data), COMPRESS_LEVEL)
    return Prepared(location, None, reason=reason, compressed=raw)


def prepare_file(path: str) -> Prepared:
    """:func:`prepare` of a file (a file that cannot be read fails like in ``ingest_paths``)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Prepared(path, None, reason=f"cannot read file: {exc}")
    return prepare(data, path)


def _prepare_many(fn: Callable[[Any], Prepared], args: list[Any]) -> list[Prepared]:
    return [fn(a) for a in args]


def prepare_parallel(
    fn: Callable[[Any], Prepared],
    args: Iterable[Any],
    workers: int,
    *,
    chunk: int = 16,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Prepared]:
    """``fn(a)`` for every ``a`` of ``args`` in ``workers`` processes, yielded in the order
    of ``args`` (so the notices are stored in the same order, with the same primary keys,
    as by one process). ``fn`` must be a module-level function (it is pickled by name).

    At most ``4 * workers`` chunks of ``chunk`` notices are in flight: the workers parse
    ahead while the caller stores and derives a batch, and memory stays flat. Leaving the
    iteration early (an error, a kill of the caller) ends the workers.
    """
    methods = mp.get_all_start_methods()
    context = mp.get_context("fork" if "fork" in methods else "spawn")
    it = iter(args)
    with context.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        pending: deque[Any] = deque()

        def submit() -> bool:
            part = list(islice(it, chunk))
            if part:
                pending.append(pool.apply_async(_prepare_many, (fn, part)))
            return bool(part)

        for _ in range(4 * workers):
            if not submit():
                break
        while pending:
            done = pending.popleft().get()
            submit()
            yield from done


def _lengths(table: Any) -> dict[str, int]:
    return {
        c.name: c.type.length
        for c in table.columns
        if isinstance(c.type, String) and c.type.length is not None
    }


_LENGTHS = {t.name: _lengths(t) for t in (N, ORG, BUYER, LOT, CRIT, RES, WIN, ERR)}


def _fit(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Cut strings to their column length (PostgreSQL refuses longer values)."""
    for name, length in _LENGTHS[table.name].items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            row[name] = value[:length]
    return row


def _money(value: Decimal | None, limit: Decimal = MAX_MONEY) -> Decimal | None:
    if value is None or abs(value) >= limit:
        return None
    return value


def _version_key(version: str) -> tuple[int, int | str]:
    return (1, int(version)) if version.isdigit() else (0, version)


def _jsonable(meta: dict[str, Any] | None) -> dict[str, Any]:
    if not meta:
        return {}
    return json.loads(json.dumps(meta, default=str))


def _meta_date(meta: dict[str, Any] | None) -> dt.date | None:
    if not meta:
        return None
    for key in ("publicationDate", "publication_date", "publication-date"):
        raw = meta.get(key)
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str) and len(raw) >= 8:
            text = raw.strip()
            try:
                if len(text) >= 10 and text[4] == "-":
                    return dt.date.fromisoformat(text[:10])
                if text[:8].isdigit():
                    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            except ValueError:
                return None
    return None


def _meta_status(meta: dict[str, Any] | None) -> str | None:
    if not meta:
        return None
    raw = meta.get("status")
    return str(raw)[:32] if raw is not None else None


def org_key(party: ParsedParty) -> str | None:
    """The ``Organisation.key`` of a party: its valid orgnr, else ``name:<name key>|<country>``."""
    if party.orgnr:
        return party.orgnr
    if party.name:
        return f"name:{name_key(party.name)}|{party.country or ''}"
    return None


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
    ) -> None:
        self.engine = engine
        self.source = source
        self.run_id = run_id
        self.batch_size = max(1, batch_size)
        self.run_derive = run_derive
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
        return self._queue(outcome, parsed, bytes(data), sha, None, source_id, source_meta)

    def add_prepared(
        self,
        prepared: Prepared,
        *,
        source_id: str | None = None,
        source_meta: dict[str, Any] | None = None,
    ) -> IngestOutcome:
        """Queue a notice parsed, hashed and compressed by :func:`prepare` (in a worker
        process, see :func:`prepare_parallel`); the same outcome as ``add`` of its bytes."""
        self._counts["read"] += 1
        location = prepared.location
        outcome = IngestOutcome(status="pending", location=location)
        if prepared.parsed is None:
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
            prepared.parsed,
            b"",
            prepared.sha or "",
            prepared.compressed,
            source_id,
            source_meta,
        )

    def _queue(
        self,
        outcome: IngestOutcome,
        parsed: ParsedNotice,
        data: bytes,
        sha: str,
        compressed: bytes | None,
        source_id: str | None,
        source_meta: dict[str, Any] | None,
    ) -> IngestOutcome:
        location = outcome.location or ""
        outcome.notice_id, outcome.version = parsed.notice_id, parsed.version
        key = (parsed.notice_id, parsed.version)
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
                parsed=parsed,
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
            raw = _compress(bytes(data), COMPRESS_LEVEL)
        self._failures.append(_Failure(outcome, location, reason, raw))
        if len(self._failures) >= self.batch_size:
            self.flush()

    def _write_failures(self, session: Session, failures: list[_Failure]) -> None:
        if not failures:
            return
        session.execute(
            insert(ERR),
            [
                _fit(
                    ERR,
                    {
                        "source": self.source,
                        "location": f.location,
                        "reason": f.reason,
                        "raw_xml": f.raw,
                        "run_id": self.run_id,
                        "created_at": utcnow(),
                    },
                )
                for f in failures
            ],
        )

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
                derive.after_ingest(session, notice_pks)
                self._set_pending(session, notice_pks, None)
            return True
        except Exception as exc:
            msg = f"derive.after_ingest failed for {len(notice_pks)} notices: {exc}"
            log.exception(msg)
            self.derive_errors.append(msg)
            self._set_pending(session, notice_pks, True)
            return False

    @staticmethod
    def _set_pending(session: Session, notice_pks: list[int], value: bool | None) -> None:
        conn = session.connection()
        for chunk in _chunks(notice_pks, 500):
            conn.execute(
                update(N)
                .where(N.c.id.in_(chunk), N.c.derive_pending.is_not(value))
                .values(derive_pending=value)
            )

    def _write(self, session: Session, items: list[_Item]) -> list[int]:
        """Store ``items`` in the open transaction; returns pks of new and updated notices."""
        self._follow_procedures(session, items)
        ids = list({item.parsed.notice_id for item in items})
        versions: dict[str, dict[str, dict[str, Any]]] = {}  # notice_id → version → row
        for chunk in _chunks(ids, 500):
            for row in session.execute(
                select(
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
                ).where(N.c.notice_id.in_(chunk))
            ).mappings():
                versions.setdefault(row["notice_id"], {})[row["version"]] = dict(row)

        to_insert: list[_Item] = []
        to_update: list[tuple[_Item, int]] = []
        meta_updates: list[dict[str, Any]] = []
        for item in items:
            p = item.parsed
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

        if meta_updates:
            for cols, rows in _group_by_columns(meta_updates).items():
                stmt = (
                    update(N)
                    .where(N.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in cols} | {"updated_at": utcnow()})
                )
                session.connection().execute(stmt, rows)

        stored = to_insert + [item for item, _ in to_update]
        if not stored:
            return [m["_id"] for m in meta_updates]
        org_ids = self._organisation_ids(session, stored)

        # Notices: insert new ones (pks back in order), update changed ones in place.
        if to_insert:
            # Plain executemany, then one query for the new pks (RETURNING with ordered
            # results runs row by row on SQLite).
            _bulk_insert(session, N, [self._notice_row(item) for item in to_insert])
            new_pks: dict[tuple[str, str], int] = {}
            for chunk in _chunks(list({item.parsed.notice_id for item in to_insert}), 500):
                for pk, nid, version in session.execute(
                    select(N.c.id, N.c.notice_id, N.c.version).where(N.c.notice_id.in_(chunk))
                ):
                    new_pks[(nid, version)] = pk
            for item in to_insert:
                pk = new_pks[(item.parsed.notice_id, item.parsed.version)]
                item.outcome.notice_pk = pk
                item.outcome.status = "new"
                versions.setdefault(item.parsed.notice_id, {})[item.parsed.version] = {
                    "id": pk,
                    "version": item.parsed.version,
                    "is_latest": True,
                    "superseded_by_id": None,
                }
        if to_update:
            self._rewrite_rows(session, to_update, keep=())
            for item, _ in to_update:
                item.outcome.status = "updated"

        self._insert_children(session, stored, org_ids)
        self._supersede(session, {item.parsed.notice_id for item in to_insert}, versions)
        self._link_changes(session, stored)
        return [item.outcome.notice_pk for item in stored if item.outcome.notice_pk] + [
            m["_id"] for m in meta_updates
        ]

    def _follow_procedures(self, session: Session, items: list[_Item]) -> None:
        """TED XML notices before eForms name the notice before them, not a procedure id
        (``tracker.notices.ted_legacy.follow_procedures``); eForms notices are left as they are."""

        def stored(ids: list[str]) -> dict[str, str | None]:
            rows = session.execute(
                select(N.c.notice_id, N.c.procedure_id).where(N.c.notice_id.in_(ids))
            )
            return {nid: proc for nid, proc in rows}

        follow_procedures([item.parsed for item in items], stored)

    def _rewrite_rows(
        self, session: Session, pairs: list[tuple[_Item, int]], keep: tuple[str, ...]
    ) -> None:
        """Overwrite stored notices in place (same pk) and drop their children.

        ``keep`` names columns left as stored (reparse keeps source and search metadata).
        """
        self._delete_children(session, [pk for _, pk in pairs])
        rows = []
        for item, pk in pairs:
            row = _fit(N, self._notice_row(item))
            for col in ("created_at", "is_latest", "superseded_by_id", *keep):
                row.pop(col, None)
            row["_id"] = pk
            row["updated_at"] = utcnow()
            rows.append(row)
        cols = [c for c in rows[0] if c != "_id"]
        stmt = update(N).where(N.c.id == bindparam("_id")).values({c: bindparam(c) for c in cols})
        session.connection().execute(stmt, rows)

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
            item = _Item(
                outcome, parsed, data, hashlib.sha256(data).hexdigest(), location, None, None, raw
            )
            pairs.append((item, pk))
        keep = ("source", "source_id", "publication_date", "status", "source_meta", "version")
        self._follow_procedures(session, [item for item, _ in pairs])
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
            pub = _meta_date(item.meta)
            if pub and pub != existing["publication_date"]:
                new["publication_date"] = pub
            status = _meta_status(item.meta)
            if status and status != existing["status"]:
                new["status"] = status
            meta = _jsonable(item.meta)
            if meta != (existing["source_meta"] or {}):
                new["source_meta"] = meta
        return _fit(N, new) if new else new

    def _notice_row(self, item: _Item) -> dict[str, Any]:
        p = item.parsed
        return {
            "source": self.source,
            "source_id": item.source_id,
            "notice_id": p.notice_id,
            "version": p.version,
            "procedure_id": p.procedure_id,
            "subtype": p.subtype,
            "notice_type": p.notice_type,
            "form_type": p.form_type,
            "document_type": p.document_type,
            "customization_id": p.customization_id,
            "issue_date": p.issue_date,
            "publication_date": _meta_date(item.meta),
            "status": _meta_status(item.meta),
            "language": p.language,
            "title": p.title,
            "description": p.description,
            "procedure_type": p.procedure_type,
            "main_cpv": p.main_cpv,
            "cpv_codes": p.cpv_codes,
            "estimated_value": _money(p.estimated_value),
            "currency": p.currency,
            "changed_notice_id": p.changed_notice_id,
            "previous_notice_ids": p.previous_notice_ids,
            "planned_date": p.planned_date,
            "regulatory_domain": p.regulatory_domain,
            "contract_nature": p.contract_nature,
            "note": p.note,
            "framework_max_value": _money(p.framework_max_value),
            "result_total": _money(p.result_total),
            "result_framework_max": _money(p.result_framework_max),
            "modification_reason": p.modification_reason,
            "modification_description": p.modification_description,
            "documents_url": p.documents_url,
            "is_test": p.is_test,
            "warnings": p.warnings,
            "is_latest": True,
            "superseded_by_id": None,
            "changes_notice_pk": None,
            "raw_xml": item.raw,
            "raw_sha256": item.sha,
            "parser_version": PARSER_VERSION,
            "source_meta": _jsonable(item.meta),
            # Derived in the same transaction (``flush``); set when derivation is skipped
            # (``run_derive=False``) or fails (``_derive``).
            "derive_pending": None if self.run_derive else True,
            "created_at": utcnow(),
        }

    def _organisation_ids(self, session: Session, items: Iterable[_Item]) -> dict[str, int]:
        """Upsert every buyer and winner organisation of ``items``; returns key → id."""
        wanted: dict[str, ParsedParty] = {}
        for item in items:
            for party in _parties(item.parsed):
                key = org_key(party)
                if key and key not in self._org_ids and key not in wanted:
                    wanted[key] = party
        if wanted:
            keys = list(wanted)
            self._lookup_orgs(session, keys)
            missing = [k for k in keys if k not in self._org_ids]
            if missing:
                rows = [
                    _fit(
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
                session.execute(self._upsert(ORG).on_conflict_do_nothing(), rows)
                self._lookup_orgs(session, missing)
                lost = [k for k in missing if k not in self._org_ids]
                if lost:  # an orgnr stored under another key (by hand or by the register)
                    by_orgnr = {wanted[k].orgnr: k for k in lost if wanted[k].orgnr}
                    for chunk in _chunks(list(by_orgnr), 500):
                        for oid, orgnr in session.execute(
                            select(ORG.c.id, ORG.c.orgnr).where(ORG.c.orgnr.in_(chunk))
                        ):
                            self._org_ids[by_orgnr[orgnr]] = oid
        return self._org_ids

    def _lookup_orgs(self, session: Session, keys: list[str]) -> None:
        for chunk in _chunks(keys, 500):
            for oid, key in session.execute(
                select(ORG.c.id, ORG.c.key).where(ORG.c.key.in_(chunk))
            ):
                self._org_ids[key] = oid

    def _delete_children(self, session: Session, notice_pks: list[int]) -> None:
        """Remove buyers, lots and results of notices about to be rewritten."""
        conn = session.connection()
        for chunk in _chunks(notice_pks, 500):
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

    def _insert_children(
        self, session: Session, items: list[_Item], org_ids: dict[str, int]
    ) -> None:
        buyers: list[dict[str, Any]] = []
        lots: list[dict[str, Any]] = []
        lot_criteria: list[list[Any]] = []
        results: list[dict[str, Any]] = []
        result_winners: list[list[ParsedParty]] = []
        for item in items:
            pk = item.outcome.notice_pk
            p = item.parsed
            for i, b in enumerate(p.buyers):
                buyers.append(
                    {
                        "notice_pk": pk,
                        "organisation_id": org_ids.get(org_key(b) or ""),
                        "position": i,
                        "name": b.name,
                        "orgnr": b.orgnr,
                        "orgnr_raw": b.orgnr_raw,
                        "country": b.country,
                        "legal_type": b.legal_type,
                    }
                )
            for i, lot in enumerate(p.lots):
                lots.append(
                    {
                        "notice_pk": pk,
                        "position": i,
                        "lot_id": lot.lot_id,
                        "title": lot.title,
                        "description": lot.description,
                        "main_cpv": lot.main_cpv,
                        "cpv_codes": lot.cpv_codes,
                        "estimated_value": _money(lot.estimated_value),
                        "currency": lot.currency,
                        "framework_code": lot.framework_code,
                        "duration_value": _money(lot.duration_value, MAX_DURATION),
                        "duration_unit": lot.duration_unit,
                        "start_date": lot.start_date,
                        "end_date": lot.end_date,
                        "max_renewals": lot.max_renewals,
                        "renewal_description": lot.renewal_description,
                        "options_description": lot.options_description,
                        "note": lot.note,
                        "framework_max_value": _money(lot.framework_max_value),
                        "submission_deadline": lot.submission_deadline,
                        "request_deadline": lot.request_deadline,
                        "documents_url": lot.documents_url,
                        "selection_criteria": lot.selection_criteria or None,
                    }
                )
                lot_criteria.append(lot.award_criteria)
            for i, r in enumerate(p.results):
                results.append(
                    {
                        "notice_pk": pk,
                        "position": i,
                        "result_id": r.result_id,
                        "lot_id": r.lot_id,
                        "winner_chosen": r.winner_chosen,
                        "result_code": r.result_code,
                        "tender_value": _money(r.tender_value),
                        "currency": r.currency,
                        "conclusion_date": r.conclusion_date,
                        "framework": r.framework,
                        "contract_id": r.contract_id,
                        "contract_title": r.contract_title,
                        "tenders_received": r.tenders_received,
                        "award_date": r.award_date,
                        "tender_id": r.tender_id,
                        "party_id": r.party_id,
                        "framework_max_value": _money(r.framework_max_value),
                        "value_inferred": r.value_inferred,
                        "lot_mapped": r.lot_mapped,
                        "parallel": r.parallel,
                    }
                )
                result_winners.append(r.winners)
        if buyers:
            _bulk_insert(session, BUYER, buyers)
        if lots:
            _bulk_insert(session, LOT, lots)
            lot_pks = _child_pks(session, LOT, lots)
            criteria = [
                {
                    "lot_pk": lot_pk,
                    "position": i,
                    "type": c.type,
                    "name": c.name,
                    "weight": c.weight,
                    "weight_code": c.weight_code,
                    "source": c.source,
                    "quote": c.quote,
                }
                for lot_pk, crits in zip(lot_pks, lot_criteria, strict=True)
                for i, c in enumerate(crits)
            ]
            if criteria:
                _bulk_insert(session, CRIT, criteria)
        if results:
            _bulk_insert(session, RES, results)
            res_pks = _child_pks(session, RES, results)
            winners = [
                {
                    "result_pk": res_pk,
                    "organisation_id": org_ids.get(org_key(w) or ""),
                    "position": i,
                    "name": w.name,
                    "orgnr": w.orgnr,
                    "orgnr_raw": w.orgnr_raw,
                    "country": w.country,
                }
                for res_pk, ws in zip(res_pks, result_winners, strict=True)
                for i, w in enumerate(ws)
            ]
            if winners:
                _bulk_insert(session, WIN, winners)

    def _supersede(
        self, session: Session, notice_ids: set[str], versions: dict[str, dict[str, dict[str, Any]]]
    ) -> None:
        """Mark the newest version of each notice-id latest; older ones point to it."""
        changes: list[dict[str, Any]] = []
        for notice_id in notice_ids:
            rows = versions.get(notice_id, {})
            if len(rows) < 2:
                continue
            newest = max(rows.values(), key=lambda r: _version_key(r["version"]))
            for row in rows.values():
                latest = row["id"] == newest["id"]
                target = None if latest else newest["id"]
                if bool(row["is_latest"]) != latest or row["superseded_by_id"] != target:
                    changes.append(
                        {"_id": row["id"], "is_latest": latest, "superseded_by_id": target}
                    )
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

    def _link_changes(self, session: Session, items: list[_Item]) -> None:
        """Point change notices (BT-758) at the notice they change, in both arrival orders."""
        conn = session.connection()
        targets = {
            item.parsed.changed_notice_id
            for item in items
            if item.parsed.changed_notice_id and item.outcome.notice_pk
        }
        links: list[dict[str, Any]] = []
        if targets:
            found: dict[str, list[tuple[int, str, bool]]] = {}
            for chunk in _chunks(list(targets), 500):
                for pk, nid, version, latest in conn.execute(
                    select(N.c.id, N.c.notice_id, N.c.version, N.c.is_latest).where(
                        N.c.notice_id.in_(chunk)
                    )
                ):
                    found.setdefault(nid, []).append((pk, version, bool(latest)))
            for item in items:
                p = item.parsed
                rows = found.get(p.changed_notice_id or "")
                if not rows:
                    continue
                exact = [pk for pk, v, _ in rows if v == p.changed_notice_version]
                latest = [pk for pk, _, is_latest in rows if is_latest]
                target = (exact or latest or [rows[0][0]])[0]
                if target != item.outcome.notice_pk:
                    links.append({"_id": item.outcome.notice_pk, "target": target})
        # Change notices stored before the notice they change arrived.
        own = {
            item.parsed.notice_id: item.outcome.notice_pk
            for item in items
            if item.outcome.notice_pk and item.outcome.status == "new"
        }
        if own:
            for chunk in _chunks(list(own), 500):
                for pk, changed in conn.execute(
                    select(N.c.id, N.c.changed_notice_id).where(
                        N.c.changed_notice_id.in_(chunk), N.c.changes_notice_pk.is_(None)
                    )
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


# (table, column keys, dialect) → (SQL, column names in bind order, [(index, bind
# processor)], [(index, max length)], positional paramstyle)
_INSERTS: dict[
    tuple[str, tuple[str, ...], str],
    tuple[str, list[str], list[tuple[int, Any]], list[tuple[int, int]], bool],
] = {}


def _bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """``INSERT`` many uniform rows through the driver's executemany.

    The statement and the columns' bind processors (JSON, UTC datetimes, numerics) come
    from SQLAlchemy, compiled once per table and column set; only the per-row parameter
    handling of ``Session.execute`` is skipped (a third of the ingest time). Strings are
    cut to their column length here (PostgreSQL refuses longer values), so callers need
    not ``_fit`` the rows.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    keys = tuple(rows[0])
    cache_key = (table.name, keys, dialect.name)
    entry = _INSERTS.get(cache_key)
    if entry is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or []) if compiled.positional else list(keys)
        procs = [
            (i, proc)
            for i, name in enumerate(names)
            if (proc := table.c[name].type._cached_bind_processor(dialect)) is not None
        ]
        lengths = _LENGTHS.get(table.name) or _lengths(table)
        cuts = [(i, lengths[name]) for i, name in enumerate(names) if name in lengths]
        entry = (str(compiled), names, procs, cuts, bool(compiled.positional))
        _INSERTS[cache_key] = entry
    sql, names, procs, cuts, positional = entry
    if len(names) == 1:
        name = names[0]

        def get(row: dict[str, Any]) -> tuple[Any, ...]:
            return (row[name],)
    else:
        get = operator.itemgetter(*names)
    params: list[Any] = []
    try:
        for row in rows:
            values = list(get(row))
            for i, length in cuts:
                value = values[i]
                if isinstance(value, str) and len(value) > length:
                    values[i] = value[:length]
            for i, proc in procs:
                value = values[i]
                if value is not None:
                    values[i] = proc(value)
            params.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
    except (TypeError, ValueError) as exc:  # a value the column type refuses
        raise StatementError(f"{table.name}: {exc}", sql, None, exc) from exc
    conn.exec_driver_sql(sql, params)


def _child_pks(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Pks of just-inserted child rows, in the order of ``rows`` (by notice_pk, position)."""
    found: dict[tuple[int, int], int] = {}
    for chunk in _chunks(list({r["notice_pk"] for r in rows}), 500):
        for pk, notice_pk, position in session.execute(
            select(table.c.id, table.c.notice_pk, table.c.position).where(
                table.c.notice_pk.in_(chunk)
            )
        ):
            found[(notice_pk, position)] = pk
    return [found[(r["notice_pk"], r["position"])] for r in rows]


def _parties(p: ParsedNotice) -> Iterator[ParsedParty]:
    yield from p.buyers
    for r in p.results:
        yield from r.winners


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _group_by_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
    return groups


# --------------------------------------------------------------------------- files and runs


def iter_xml_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given, and ``*.xml`` under folders (recursively, sorted)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.xml") if p.is_file())
        else:
            yield path


def start_run(engine: Engine, kind: str, name: str, args: dict[str, Any]) -> int:
    """Record the start of a run in ``runs``; returns its id. Runs left ``running`` by a
    process that died are closed as interrupted first (``tracker.db.runs``)."""
    with Session(bind=engine) as session:
        close_dead_runs(session)
        run = Run(
            kind=kind, name=name, args={**_jsonable(args), **process_args()}, outcome="running"
        )
        session.add(run)
        session.commit()
        return run.id


def finish_run(
    engine: Engine, run_id: int, counts: dict[str, Any], outcome: str, error: str | None = None
) -> None:
    with Session(bind=engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return
        run.counts = dict(counts)
        run.outcome = outcome
        run.error = error
        run.finished_at = utcnow()
        session.commit()


def ingest_paths(
    engine: Engine,
    paths: Iterable[str | Path],
    *,
    source: str = "file",
    progress: bool = False,
    batch_size: int = 500,
    workers: int = 1,
) -> dict[str, Any]:
    """Ingest notice files (folders: every ``*.xml`` below) as one recorded run.

    Returns the counts ({"read", "new", "updated", "unchanged", "failed"}) plus ``run_id``
    and ``failures`` (list of (file, reason)). A file that cannot be read or parsed is
    recorded in ``ingest_errors``; the run goes on.

    ``workers`` > 1: the files are read, parsed, hashed and compressed in that many
    processes (:func:`prepare_parallel`, in file order) and this process stores and
    derives them batch by batch as with one worker: the same rows, the same units of
    work (a kill loses at most the open batch).
    """
    import click

    paths = list(paths)
    files = list(iter_xml_files(paths))
    args: dict[str, Any] = {"paths": [str(p) for p in paths]}
    if workers > 1:
        args["workers"] = workers
    run_id = start_run(engine, "ingest", source, args)
    outcomes: list[IngestOutcome] = []
    ing = Ingestor(engine, source=source, run_id=run_id, batch_size=batch_size)
    try:
        with (
            ing,
            click.progressbar(
                files, label="ingest", show_pos=True, file=sys.stderr if progress else _NullFile()
            ) as bar,
        ):
            if workers > 1:
                for prepared in prepare_parallel(prepare_file, [str(p) for p in files], workers):
                    outcomes.append(ing.add_prepared(prepared))
                    bar.update(1)
            else:
                for path in bar:
                    try:
                        data = path.read_bytes()
                    except OSError as exc:
                        outcomes.append(ing.add_failure(str(path), f"cannot read file: {exc}"))
                        continue
                    outcomes.append(ing.add(data, location=str(path)))
            ing.flush()
            derived_late = ing.derive_pending()
    except Exception as exc:
        finish_run(engine, run_id, ing.counts, "failed", f"{type(exc).__name__}: {exc}")
        raise
    counts: dict[str, Any] = ing.counts
    if derived_late:
        counts["derived_pending"] = derived_late
    failures = [(o.location or "", o.reason or "") for o in outcomes if o.status == "failed"]
    outcome_name = "partial" if counts["failed"] or ing.derive_errors else "ok"
    finish_run(
        engine,
        run_id,
        counts,
        outcome_name,
        "; ".join(ing.derive_errors) or None,
    )
    return {
        **counts,
        "run_id": run_id,
        "failures": failures,
        "derive_errors": list(ing.derive_errors),
    }


def reparse(
    engine: Engine, *, outdated_only: bool = False, batch_size: int = 200, progress: bool = False
) -> dict[str, Any]:
    """Re-run the parser over the stored raw XML and update the rows in place (a recorded run).

    ``outdated_only`` limits it to rows parsed by an older ``PARSER_VERSION``. Returns counts
    {"read", "updated", "failed", ...} and ``run_id``; a notice that no longer parses keeps
    its stored values and is recorded in ``ingest_errors``.
    """
    import click

    run_id = start_run(engine, "ingest", "reparse", {"outdated_only": outdated_only})
    where = [N.c.parser_version != PARSER_VERSION] if outdated_only else []
    with Session(bind=engine) as session:
        total = session.execute(select(func.count()).select_from(N).where(*where)).scalar() or 0
    ing = Ingestor(engine, source="reparse", run_id=run_id, batch_size=batch_size)
    last = 0
    try:
        with (
            ing,
            click.progressbar(
                length=total,
                label="reparse",
                show_pos=True,
                file=sys.stderr if progress else _NullFile(),
            ) as bar,
        ):
            while True:
                with Session(bind=engine) as session:
                    rows = session.execute(
                        select(N.c.id, N.c.raw_xml, N.c.notice_id)
                        .where(N.c.id > last, *where)
                        .order_by(N.c.id)
                        .limit(batch_size)
                    ).all()
                if not rows:
                    break
                last = rows[-1][0]
                ing.reparse_rows([tuple(r) for r in rows])
                bar.update(len(rows))
            ing.derive_pending()
    except Exception as exc:
        finish_run(engine, run_id, ing.counts, "failed", f"{type(exc).__name__}: {exc}")
        raise
    counts = ing.counts
    outcome = "partial" if counts["failed"] or ing.derive_errors else "ok"
    finish_run(engine, run_id, counts, outcome, "; ".join(ing.derive_errors) or None)
    return {**counts, "run_id": run_id}


class _NullFile:
    """A sink for the progress bar when it is not wanted."""

    def write(self, _s: str) -> int:
        return 0

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False
