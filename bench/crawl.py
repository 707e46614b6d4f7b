"""Benchmark: harvest speed against a rate-limited server, and nothing lost.

Starts the replay server limiting to R requests/s (429 + Retry-After above it),
serving N notices (replicas of the real ones with new notice-ids and Doffin ids;
the first day holds more than 1,000 so the split at the hit cap is part of the run),
crawls them with the real Doffin spider into a fresh database, and reports:

- achieved requests/s (answered, not 429) as a share of R (target at least 90 %),
- notices/s, 429s received, and lost notices (served but not stored; must be 0).

Run: ``.venv/bin/python bench/crawl.py --rate 20 --notices 2100``
(``--database-url postgresql+psycopg://...`` for PostgreSQL; default a temporary SQLite).
The spider starts at its polite default pace and has to find R itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.replay import Faults, replay_env, serve_in_thread, synthetic_days  # noqa: E402
from tracker.db.engine import make_engine  # noqa: E402
from tracker.db.migrate import upgrade  # noqa: E402
from tracker.db.models import Notice, Run  # noqa: E402
from tracker.ops.crawl import run_crawl  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="server limit R (requests/s)")
    ap.add_argument("--notices", type=int, default=2100)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    first = dt.date(2025, 3, 3)
    big = min(args.notices, 1050)
    rest = args.notices - big
    per_day = {first: big}
    for i in range(1, args.days):
        per_day[first + dt.timedelta(days=i)] = rest // (args.days - 1) + (
            1 if i <= rest % (args.days - 1) else 0
        )
    notices = synthetic_days(per_day)
    served = {r.doffin_id for r in notices}

    tmp = tempfile.mkdtemp(prefix="bench-crawl-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)

    faults = Faults(rate_limit=args.rate, rate_burst=args.rate, retry_after=args.retry_after)
    server, base = serve_in_thread(0, faults, notices)
    env = dict(os.environ)
    env.update(replay_env(base))
    env.update({"TRACKER_DATABASE_URL": url, "TRACKER_HOME": tmp})
    env.pop("DOFFIN_API_KEY", None)
    # Let the pacing go as fast as the server allows (the shipped floor is 5/s).
    settings = {"PACING_MIN_DELAY": "0.001", "LOG_LEVEL": "INFO", "LOGSTATS_INTERVAL": "30"}
    since, until = min(per_day).isoformat(), max(per_day).isoformat()
    t0 = time.monotonic()
    result = run_crawl("doffin", {"since": since, "until": until}, settings, env=env)
    elapsed = time.monotonic() - t0
    snap = server.state.snapshot()
    server.shutdown()
    server.server_close()

    with Session(engine) as s:
        stored = set(s.scalars(select(Notice.source_id).where(Notice.source == "doffin")))
        run = s.get(Run, result.run_id) if result.run_id else None
    answered = snap["requests"] - snap["counts"].get("rate_limited", 0)
    span = snap["span_seconds"] or elapsed
    achieved = answered / span
    lost = served - stored
    print()
    print(
        f"server limit R          {args.rate:.1f} requests/s (burst {args.rate:.0f}, "
        f"Retry-After {args.retry_after} s)"
    )
    print(
        f"notices served          {len(served)} over {len(per_day)} days "
        f"(first day {big} hits: split at the 1,000 cap)"
    )
    print(f"requests answered       {answered} (+{snap['counts'].get('rate_limited', 0)} x 429)")
    print(f"crawl span at server    {span:.1f} s (process {elapsed:.1f} s)")
    share = 100 * achieved / args.rate
    print(f"achieved                {achieved:.2f} requests/s = {share:.1f} % of R")
    print(f"notices/s               {len(stored & served) / span:.2f}")
    print(f"stored / lost           {len(stored & served)} / {len(lost)}")
    print(
        f"crawl exit / run        {result.exit_code} / "
        f"{run.outcome if run else '?'} {run.counts if run else ''}"
    )
    if lost or result.exit_code:
        sys.exit(1)


if __name__ == "__main__":
    main()
