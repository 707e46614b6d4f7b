"""Benchmark: ``tracker.derive.after_ingest`` (account links + contracts) per ingest batch.

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
from sqlalchemy.orm import Session

from tracker.accounts import import_accounts
from tracker.db import make_engine
from tracker.derive import after_ingest
from tracker.ingest import Ingestor
from tracker.migrate import upgrade
from tracker.models import Contract, ContractAccount, Notice, NoticeLink

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "fixtures" / "notices" / "doffin-real"
NOTICE_ID = re.compile(rb'(<cbc:ID schemeName="notice-id">)([^<]*)(</cbc:ID>)')
FOLDER = re.compile(rb"(<cbc:ContractFolderID>)([^<]*)(</cbc:ContractFolderID>)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--same-procedures", action="store_true", help="keep procedure ids")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    base = [f.read_bytes() for f in sorted(REAL.glob("*.xml"))]
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
    profiler = cProfile.Profile() if args.profile else None
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
