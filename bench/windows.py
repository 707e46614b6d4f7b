"""Benchmark: compute the opportunity timelines of 100,000 contracts (target: under 2 s).

Times the pure part that every recompute and every list runs per opportunity: the
timeline (influence window, drafting, publication, deadline, award, contract start), the
phase on today, ``can_influence`` with days left, the budget window with its status, and
the one-line reason. Rules are resolved once per buyer type (as ``recompute`` does).

    .venv/bin/python bench/windows.py [--n 100000] [--seed 1] [--no-reason] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter

from tracker.rules import BUYER_TYPES, default_rules
from tracker.windows import compute_timeline, explain

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reason", action="store_true", help="Skip the one-line reasons.")
    args = ap.parse_args()
    contracts = make_contracts(args.n, args.seed)
    today = dt.date(2026, 11, 28)
    times = []
    phases: Counter[str] = Counter()
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


if __name__ == "__main__":
    main()
