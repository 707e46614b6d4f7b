"""Benchmark: raw lxml vs tracker parsing vs parse + ingest into a fresh SQLite file.

The 57 real Doffin notices are replicated to ``--count`` distinct notices (each copy gets a
new notice-id, so every one is stored as a new notice). Copies are generated on the fly so
that memory stays flat. Reports notices/s for each phase, the ratios and peak RSS. Rates are
CPU time of this process (what "one core" means, and steadier than wall time when other
jobs share the machine); wall time is printed too. Expect a few per cent of run-to-run
spread on a shared machine.

    .venv/bin/python bench/ingest.py                 # 20,000 notices
    .venv/bin/python bench/ingest.py --count 5000 --with-derive
"""

from __future__ import annotations

import argparse
import re
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from tracker.db import make_engine
from tracker.eforms import parse_notice
from tracker.ingest import Ingestor
from tracker.migrate import upgrade

REAL = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "notices" / "doffin-real"
NOTICE_ID = re.compile(rb'(<cbc:ID schemeName="notice-id">)([^<]*)(</cbc:ID>)')


def originals() -> list[bytes]:
    files = sorted(REAL.glob("*.xml"))
    if not files:
        raise SystemExit(f"no notices in {REAL}")
    return [f.read_bytes() for f in files]


def copies(base: list[bytes], count: int, seed: int) -> Iterator[tuple[int, bytes]]:
    """``count`` notices with distinct notice-ids (deterministic for a seed)."""
    for i in range(count):
        data = base[i % len(base)]
        new_id = str(uuid.UUID(int=(seed << 64) + i)).encode()
        yield i, NOTICE_ID.sub(lambda m, n=new_id: m.group(1) + n + m.group(3), data, count=1)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, count: int, fn) -> float:  # type: ignore[no-untyped-def]
    """Run ``fn``; print wall and CPU rates; return the CPU seconds (stable on a shared box)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<30} cpu {cpu:7.2f} s {count / cpu:7.0f}/s | wall {wall:7.2f} s "
        f"{count / wall:7.0f}/s | peak RSS {rss_mb():4.0f} MB"
    )
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--with-derive", action="store_true", help="run derive.after_ingest too")
    ap.add_argument("--db", help="SQLite file (default: a fresh temporary file)")
    args = ap.parse_args()
    base = originals()
    n = args.count
    print(f"{n} notices from {len(base)} real Doffin notices "
          f"({sum(map(len, base)) / len(base) / 1024:.1f} KiB average)")  # fmt: skip

    def generate() -> None:
        for _ in copies(base, n, 1):
            pass

    def raw() -> None:
        for _, data in copies(base, n, 1):
            etree.fromstring(data)

    def parse() -> None:
        for i, data in copies(base, n, 1):
            parse_notice(data, location=f"copy-{i}")

    tmp = tempfile.TemporaryDirectory()
    db = Path(args.db) if args.db else Path(tmp.name) / "bench.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    counts: dict[str, int] = {}

    def ingest() -> None:
        with Ingestor(
            engine, source="bench", batch_size=args.batch_size, run_derive=args.with_derive
        ) as ing:
            for i, data in copies(base, n, 2):
                ing.add(data, location=f"copy-{i}")
        counts.update(ing.counts)

    t_gen = timed("generate copies (overhead)", n, generate)
    t_raw = timed("raw lxml.etree.fromstring", n, raw) - t_gen
    t_parse = timed("tracker parse_notice", n, parse) - t_gen
    t_ingest = timed("parse + ingest (fresh SQLite)", n, ingest) - t_gen
    engine.dispose()
    print(f"ingest counts: {counts}; database {db.stat().st_size / 2**20:.0f} MiB")
    print("net of the copy generation, CPU time of this process (one core):")
    for label, t in (("raw lxml", t_raw), ("parse", t_parse), ("parse + ingest", t_ingest)):
        print(f"  {label:<16} {n / t:9.0f} notices/s")
    print(f"  parse / raw lxml          {t_raw / t_parse:6.1%}")
    print(f"  parse+ingest / raw lxml   {t_raw / t_ingest:6.1%}")
    print(f"  peak RSS                  {rss_mb():6.0f} MB")
    target = n / t_ingest >= 1000 and t_raw / t_ingest >= 0.25 and rss_mb() < 500
    print("targets (>= 1000/s, >= 25 % of raw, < 500 MB):", "met" if target else "NOT met")
    tmp.cleanup()


if __name__ == "__main__":
    main()
