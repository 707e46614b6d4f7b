"""Benchmark: compute the opportunity timelines of 100,000 contracts (target: under 2 s).

Times the pure part that every recompute and every list runs per opportunity: the
timeline (influence window, drafting, publication, deadline, award, contract start), the
phase on today, ``can_influence`` with days left, the budget window with its status, and
the one-line reason. Rules are resolved once per buyer type (as ``recompute`` does).

    .venv/bin/python bench/windows.py [--n 100000] [--seed 1] [--no-reason] [--repeat 3]

With ``--db N`` it also seeds N contracts at 500 accounts into a fresh SQLite database
(or ``--url``) and times ``tracker.opportunities.build.recompute`` and
``tracker.pages.opportunities.opportunities``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
from collections import Counter

from tracker.opportunities.explain import explain
from tracker.opportunities.windows import compute_timeline
from tracker.rules import BUYER_TYPES, default_rules

SOURCES = ["explicit", "start+duration", "conclusion+duration", "framework_default", "unknown"]
PROCEDURES = ["open", "restricted", "neg-w-call", "comp-dial", None]


def make_contracts(n: int, seed: int) -> list[tuple]:
    """Synthetic contracts: (expiry, source, procedure, buyer type, planning, published)."""
    rnd = random.Random(seed)
    base = dt.date(2024, 1, 1)
    out = []
    for i in range(n):
        expiry = base + dt.timedelta(days=rnd.randrange(0, 365 * 6))
        planning = expiry - dt.timedelta(days=rnd.randrange(200, 700)) if i % 7 == 0 else None
        published = expiry - dt.timedelta(days=rnd.randrange(120, 300)) if i % 5 == 0 else None
        out.append(
            (
                expiry if i % 50 else None,
                rnd.choice(SOURCES),
                rnd.choice(PROCEDURES),
                BUYER_TYPES[i % len(BUYER_TYPES)],
                planning,
                published,
            )
        )
    return out


def run(contracts: list[tuple], today: dt.date, with_reason: bool) -> Counter[str]:
    rules = default_rules()
    per_type = {bt: rules.window_rules(bt) for bt in BUYER_TYPES}
    phases: Counter[str] = Counter()
    for expiry, source, procedure, buyer_type, planning, published in contracts:
        tl = compute_timeline(
            today,
            per_type[buyer_type],
            expiry=expiry,
            expiry_source=source,
            procedure=procedure,
            planning_date=planning,
            published=published,
        )
        if with_reason:
            explain(tl, today, title="Agreement", buyer="Buyer")
        phases[tl.phase] += 1
    return phases


def bench_db(n: int, seed: int, url: str | None) -> None:
    """Seed ``n`` contracts at 500 accounts, then time recompute and list."""
    import tempfile

    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from tracker.config import load_settings
    from tracker.db.engine import make_engine
    from tracker.db.migrate import upgrade
    from tracker.db.models import Account, Contract, ContractAccount, ContractParty
    from tracker.opportunities.build import recompute
    from tracker.pages.opportunities import account_ids_of, opportunities
    from tracker.rules import load_rules

    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(url or f"sqlite:///{tmp.name}/bench.db")
    upgrade(engine)
    contracts = make_contracts(n, seed)
    tiers = ["star", "strategic", "status", "streamline"]
    with Session(engine) as s:
        s.execute(
            insert(Account),
            [
                {"id": i + 1, "name": f"Account {i}", "tier": tiers[i % 4],
                 "buyer_type": BUYER_TYPES[i % len(BUYER_TYPES)]}
                for i in range(500)
            ],
        )  # fmt: skip
        s.execute(
            insert(Contract),
            [
                {"id": i + 1, "key": f"bench:{i}", "source": "import", "title": f"Avtale {i}",
                 "main_cpv": "72000000", "end_date": c[0], "end_source": c[1],
                 "framework": i % 2 == 0}
                for i, c in enumerate(contracts)
            ],
        )  # fmt: skip
        s.execute(
            insert(ContractAccount),
            [
                {"contract_id": i + 1, "account_id": i % 500 + 1, "method": "import",
                 "confidence": 1.0, "status": "confirmed"}
                for i in range(n)
            ],
        )  # fmt: skip
        s.execute(
            insert(ContractParty),
            [
                {"contract_id": i + 1, "role": "supplier", "party_key": f"s{i % 40}",
                 "name": f"Supplier {i % 40}"}
                for i in range(n)
            ],
        )  # fmt: skip
        s.commit()
    settings = load_settings({"TRACKER_HOME": tmp.name})
    today = dt.date(2026, 11, 28)
    for label in ("first (inserts)", "again (updates)"):
        with Session(engine) as s:
            t0 = time.perf_counter()
            counts = recompute(
                s, today, rules=load_rules(settings=settings), ours=settings.our_orgnr_list
            )
            s.commit()
            print(f"recompute {label}: {time.perf_counter() - t0:.2f} s  {counts}")
    with Session(engine) as s:
        t0 = time.perf_counter()
        rules = load_rules(settings=settings)
        rows = opportunities(s, today, rules=rules)
        print(f"opportunities: {time.perf_counter() - t0:.2f} s  ({len(rows):,} rows)")
        t0 = time.perf_counter()
        rows = opportunities(s, today, rules=rules, account_ids=account_ids_of(s, "Account 7"))
        print(f"opportunities of one account: {time.perf_counter() - t0:.3f} s ({len(rows)})")
    engine.dispose()
    tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reason", action="store_true", help="Skip the one-line reasons.")
    ap.add_argument("--db", type=int, default=0, help="Also time recompute on N seeded contracts.")
    ap.add_argument("--url", help="Database URL for --db (default: a temporary SQLite file).")
    args = ap.parse_args()
    contracts = make_contracts(args.n, args.seed)
    today = dt.date(2026, 11, 28)
    times = []
    phases: Counter[str] = Counter()
    load_before = os.getloadavg()
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        phases = run(contracts, today, not args.no_reason)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"contracts: {args.n:,}  reasons: {not args.no_reason}")
    print(f"seconds: best {best:.3f}  runs {', '.join(f'{t:.3f}' for t in times)}")
    print(
        f"per contract: {best / args.n * 1e6:.1f} µs  target: < 2 s  {'OK' if best < 2 else 'SLOW'}"
    )
    print("phases:", dict(sorted(phases.items())))
    print(
        "load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}  after: {:.2f} {:.2f} {:.2f}  "
        "cores: {}".format(*load_before, *os.getloadavg(), os.cpu_count())
    )
    if args.db:
        bench_db(args.db, args.seed, args.url)


if __name__ == "__main__":
    main()
