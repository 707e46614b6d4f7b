"""Parallel preparation: parse, hash, compress and encode notices in worker processes.

:func:`prepare` is the part of ``Ingestor.add`` that needs no database: the notice is
parsed and its rows are built and encoded for the database's driver
(``tracker.notices.packed``); ``tracker ingest --workers N`` and ``bench/ingest.py
--workers N`` run it in N processes through :func:`prepare_parallel` and hand each
:class:`Prepared` to ``Ingestor.add_prepared`` in the order of the input, so the rows and
their primary keys are those of one process. What comes back is the encoded rows, not
the parsed notice: smaller to send, and the storing process (the one writer, the
bottleneck with several workers) has only the database's part left.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from tracker.errors import NoticeParseError
from tracker.notices.packed import Packed, pack
from tracker.notices.parsing import parse_any  # eForms, and TED XML before eForms
from tracker.ops.runtime import process_executor

try:  # ISA-L: the same zlib format (zlib.decompress reads it), 3-4x faster to write
    from isal.isal_zlib import compress as _compress
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    from zlib import compress as _compress

log = logging.getLogger(__name__)

COMPRESS_LEVEL = 1  # 5x smaller; ISA-L level 1 takes ~50 us for a 30 KiB notice (zlib: ~190)


def compress(data: bytes) -> bytes:
    """The stored form of a notice's bytes (``raw_xml``): zlib format, level 1."""
    return _compress(data, COMPRESS_LEVEL)


@dataclass(slots=True)
class Prepared:
    """A notice read away from the database: parsed, encoded as rows, hashed and
    compressed (``prepare``), or the reason it failed (``packed`` None). Small enough to
    send between processes."""

    location: str
    packed: Packed | None
    sha: str | None = None
    compressed: bytes | None = None  # zlib of the bytes (stored as raw_xml or with the error)
    reason: str | None = None


def prepare(data: bytes, location: str, dialect: tuple[str, str]) -> Prepared:
    """Parse, pack, hash and compress one notice: the part of ``Ingestor.add`` that needs
    no database, so that worker processes can do it (``Ingestor.add_prepared`` stores it).
    ``dialect``: (name, driver) of the database it goes to (``tracker.db.bulk.dialect_key``)."""
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
            pack(parsed, dialect),
            hashlib.sha256(data).hexdigest(),
            _compress(bytes(data), COMPRESS_LEVEL),
        )
    raw = None
    if isinstance(data, bytes | bytearray | memoryview):
        raw = _compress(bytes(data), COMPRESS_LEVEL)
    return Prepared(location, None, reason=reason, compressed=raw)


def prepare_file(path: str, dialect: tuple[str, str]) -> Prepared:
    """:func:`prepare` of a file (a file that cannot be read fails like in ``ingest_paths``)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Prepared(path, None, reason=f"cannot read file: {exc}")
    return prepare(data, path, dialect)


def _prepare_many(fn: Callable[[Any], Prepared], args: list[Any]) -> list[Prepared]:
    return [fn(a) for a in args]


# Notices per task: the first tasks are small so that the workers start at once, then
# each is twice the last up to ``chunk``. Few large tasks leave the storing process more
# of the CPU: bench/ingest.py --workers 2 (5,000 notices, 2 cores) went from 1.30x one
# process with tasks of 16 to 1.56x with 64, 1.61x with 256 and 1.59-1.66x growing to 256
# (1.74x at 20,000 notices, where the start and the end weigh less).
FIRST_CHUNK = 16
IN_FLIGHT = 4  # tasks per worker given out ahead


def prepare_parallel(
    fn: Callable[[Any], Prepared],
    args: Iterable[Any],
    workers: int,
    *,
    chunk: int = 256,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Prepared]:
    """``fn(a)`` for every ``a`` of ``args`` in ``workers`` processes, yielded in the order
    of ``args`` (so the notices are stored in the same order, with the same primary keys,
    as by one process). ``fn`` must be a module-level function (it is pickled by name).

    At most ``IN_FLIGHT * workers`` tasks are in flight, of ``FIRST_CHUNK`` notices growing
    to ``chunk``: the workers parse ahead while the caller stores and derives a batch, and
    memory stays flat (a few thousand notices at most). Leaving the iteration early (an
    error, the caller stops) starts no new task and ends the workers once the running
    ones are done; the workers end with a killed caller too
    (``tracker.ops.runtime.process_executor``). A worker that dies (killed, out of
    memory) raises ``BrokenProcessPool`` here: what was stored before stays, a rerun
    goes on from there.
    """
    it = iter(args)
    with process_executor(workers, initializer, initargs) as pool:
        pending: deque[Future[list[Prepared]]] = deque()
        size = min(FIRST_CHUNK, chunk)

        def submit() -> bool:
            nonlocal size
            part = list(islice(it, size))
            size = min(2 * size, chunk)
            if part:
                pending.append(pool.submit(_prepare_many, fn, part))
            return bool(part)

        try:
            for _ in range(IN_FLIGHT * workers):
                if not submit():
                    break
            while pending:
                done = pending.popleft().result()
                submit()
                yield from done
        finally:  # left early (an error, the caller stopped): no new task starts, and
            # the workers end before this returns
            pool.shutdown(wait=True, cancel_futures=True)
