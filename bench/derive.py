"""Benchmark: ``tracker.ops.derive.after_ingest`` (account links + contracts) per ingest batch,
and how the contracts of the real notices know their end.

First the 57 real Doffin notices are ingested once as they are and the derived contracts
are counted by the source of their end (``explicit``: an end date in a notice or a
modification; ``duration``: a start plus a structured duration; ``text``: the buyer's
words; ``default``: the legal maximum of a framework agreement; ``unknown``), with the
contracts expected from competitions without award apart. The counting uses only the
``contracts`` table, so the same script measures another checkout (the "before"):

    cd /work/main && .venv/bin/python /path/to/this/bench/derive.py --sources-only

The 57 real Doffin notices are replicated to ``--count`` notices with distinct notice-ids
and, unless ``--same-procedures``, distinct procedure ids (copies of one notice are then
separate procedures, as real notices are). They are ingested without derive, the example
accounts are imported, and ``after_ingest`` is timed over batches of ``--batch-size``
primary keys, as the Ingestor calls it. Reports notices/s (CPU time of this process).

    .venv/bin/python bench/derive.py                   # 20,000 notices
    .venv/bin/python bench/derive.py --count 5000 --same-procedures
    .venv/bin/python bench/derive.py --profile         # top functions by cumulative time
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from tracker.accounts.keyaccounts import import_accounts
from tracker.db.engine import make_engine
from tracker.db.migrate import upgrade
from tracker.db.models import Contract, ContractAccount, Notice, NoticeLink
from tracker.notices.ingest import Ingestor
from tracker.ops.derive import after_ingest

ROOT = Path.cwd() if (Path.cwd() / "tracker").is_dir() else Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "notices" / "doffin-real"
NOTICE_ID = re.compile(rb'(<cbc:ID schemeName="notice-id">)([^<]*)(</cbc:ID>)')
FOLDER = re.compile(rb"(<cbc:ContractFolderID>)([^<]*)(</cbc:ContractFolderID>)")


CATEGORIES = ("explicit", "duration", "text", "default", "unknown")


def category(source: str | None) -> str:
    """The category of an ``end_source`` of any version of tracker.contracts.build."""
    s = (source or "unknown").lower()
    if s in ("explicit", "cn_explicit", "modification", "agreement_page", "import", "manual"):
        return "explicit"
    if s.startswith("text"):
        return "text"
    if "default" in s:
        return "default"
    if "duration" in s:
        return "duration"
    return "unknown"


def end_sources(notices: Path) -> None:
    """Ingest the real notices once (no copies) and count contracts by end source."""
    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(f"sqlite:///{tmp.name}/sources.db")
    upgrade(engine)
    with Ingestor(engine, source="bench") as ing:
        for f in sorted(notices.glob("*.xml")):
            ing.add(f.read_bytes(), location=str(f))
    counts = dict.fromkeys(CATEGORIES, 0)
    detail: dict[str, int] = {}
    expected = 0
    with engine.connect() as conn:
        cols = {c["name"] for c in sa_inspect(conn).get_columns("contracts")}
        has_expected = "expected" in cols
        query = "SELECT end_source, " + ("expected" if has_expected else "0") + " FROM contracts"
        for source, is_expected in conn.exec_driver_sql(query):
            if is_expected:
                expected += 1
                continue
            counts[category(source)] += 1
            detail[source or "unknown"] = detail.get(source or "unknown", 0) + 1
    total = sum(counts.values())
    extra = f", {expected} expected from competitions without award" if has_expected else ""
    print(f"contracts from {len(list(notices.glob('*.xml')))} real notices: {total} awarded{extra}")
    print("  end by source: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("  end_source values: " + ", ".join(f"{k} {v}" for k, v in sorted(detail.items())))
    engine.dispose()
    tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--same-procedures", action="store_true", help="keep procedure ids")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--sources-only", action="store_true", help="only the end-source counts")
    ap.add_argument("--notices", type=Path, default=REAL, help="directory of real notices")
    args = ap.parse_args()
    end_sources(args.notices)
    if args.sources_only:
        return
    base = [f.read_bytes() for f in sorted(args.notices.glob("*.xml"))]
    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(f"sqlite:///{tmp.name}/bench.db")
    upgrade(engine)
    with Ingestor(engine, source="bench", run_derive=False) as ing:
        for i in range(args.count):
            data = base[i % len(base)]
            new_id = str(uuid.UUID(int=(7 << 64) + i)).encode()
            data = NOTICE_ID.sub(lambda m, n=new_id: m.group(1) + n + m.group(3), data, count=1)
            if not args.same_procedures:
                data = FOLDER.sub(
                    lambda m, i=i: m.group(1) + m.group(2) + f"-{i}".encode() + m.group(3),
                    data,
                    count=1,
                )
            ing.add(data, location=f"copy-{i}")
    with Session(engine) as s:
        import_accounts(s, ROOT / "examples" / "accounts.yaml")
        pks = list(s.scalars(select(Notice.id).order_by(Notice.id)))
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    with Session(engine) as s:
        for i in range(0, len(pks), args.batch_size):
            after_ingest(s, pks[i : i + args.batch_size])
            s.commit()
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with Session(engine) as s:
        links = s.scalar(select(func.count()).select_from(NoticeLink))
        contracts = s.scalar(select(func.count()).select_from(Contract))
        accounts = s.scalar(select(func.count()).select_from(ContractAccount))
    n = len(pks)
    print(f"{n} notices, batches of {args.batch_size}: {links} links, {contracts} contracts, "
          f"{accounts} contract accounts")  # fmt: skip
    print(f"after_ingest: cpu {cpu:.2f} s = {n / cpu:.0f} notices/s | wall {wall:.2f} s = "
          f"{n / wall:.0f} notices/s")  # fmt: skip
    if profiler:
        st = pstats.Stats(profiler).sort_stats("cumulative")
        st.print_stats(25)
        st.sort_stats("tottime").print_stats(20)
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
