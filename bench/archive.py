"""Benchmark: archive backfills against the per-notice API at the same server rate limit.

Starts the replay server (``tests.replay``) on 127.0.0.1 serving N notices (replicas
of the real ones with new notice-ids and Doffin ids) over D weekdays, three ways from
the same records, all behind one requests/s limit R (429 + Retry-After above it, like
the public Doffin API's 2-3 requests/s):

- ``doffin``: the public API, a search per day plus one download per notice;
- ``doffin_archive``: Doffin's daily archive (zip of the day's notices, one request);
- ``ted_packages``: TED's daily package (tar.gz per Official Journal issue).

Each way crawls into its own fresh database and reports requests per 1,000 notices,
notices/s (stored / crawl time) and notices lost (served but not stored; must be 0),
with the load average. R defaults to 2.5 (the public API's pace); N is small by
default so the per-notice way finishes in a couple of minutes.

Run: ``.venv/bin/python bench/archive.py --notices 300 --days 3 --rate 2.5``
(``--database-url postgresql+psycopg://.../NAME`` uses PostgreSQL: each way truncates
nothing, so give an empty database per run; default temporary SQLite files).
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
from tracker.db.models import Notice  # noqa: E402
from tracker.ops.crawl import run_crawl  # noqa: E402

SOURCES = {"doffin": "doffin", "doffin_archive": "doffin", "ted_packages": "ted"}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def weekdays(first: dt.date, n: int) -> list[dt.date]:
    out, day = [], first
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def run_way(
    way: str, notices: list, args: argparse.Namespace, since: str, until: str
) -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix=f"bench-archive-{way}-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    faults = Faults(rate_limit=args.rate, rate_burst=args.rate, retry_after=args.retry_after)
    server, base = serve_in_thread(0, faults, notices)
    env = dict(os.environ)
    env.update(replay_env(base))
    env.update({"TRACKER_DATABASE_URL": url, "TRACKER_HOME": tmp, "DOFFIN_API_KEY": "bench-key"})
    if way == "doffin":
        env.pop("DOFFIN_ARCHIVE_URL", None)
    settings = {"PACING_MIN_DELAY": "0.001", "LOG_LEVEL": "WARNING"}
    t0 = time.monotonic()
    result = run_crawl(way, {"since": since, "until": until}, settings, env=env)
    elapsed = time.monotonic() - t0
    snap = server.state.snapshot()
    server.shutdown()
    server.server_close()
    source = SOURCES[way]
    with Session(engine) as s:
        stored = len(set(s.scalars(select(Notice.source_id).where(Notice.source == source))))
    engine.dispose()
    served = len(notices)
    return {
        "requests": snap["requests"],
        "rate_limited": snap["counts"].get("rate_limited", 0),
        "stored": stored,
        "lost": served - stored,
        "seconds": elapsed,
        "exit": result.exit_code,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=2.5, help="server limit R (requests/s)")
    ap.add_argument("--notices", type=int, default=300)
    ap.add_argument("--days", type=int, default=3, help="weekdays the notices are spread on")
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--ways", default="doffin_archive,ted_packages,doffin")
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    days = weekdays(dt.date(2025, 3, 3), args.days)
    per_day = {d: args.notices // args.days for d in days}
    per_day[days[0]] += args.notices - sum(per_day.values())
    notices = synthetic_days(per_day)
    since, until = days[0].isoformat(), days[-1].isoformat()
    print(
        f"{len(notices)} notices over {len(days)} weekdays {since}..{until}, "
        f"server limit {args.rate:g} requests/s (429 above), load {load()}"
    )
    print(
        f"{'way':16} {'requests':>8} {'429s':>5} {'req/1000':>9} {'notices/s':>9} "
        f"{'stored':>7} {'lost':>5} {'seconds':>8}  load average"
    )
    failed = False
    for way in [w.strip() for w in args.ways.split(",") if w.strip()]:
        r = run_way(way, notices, args, since, until)
        answered = r["requests"] - r["rate_limited"]
        per_1000 = 1000 * answered / max(r["stored"], 1)
        print(
            f"{way:16} {answered:8.0f} {r['rate_limited']:5.0f} {per_1000:9.1f} "
            f"{r['stored'] / r['seconds']:9.2f} {r['stored']:7.0f} {r['lost']:5.0f} "
            f"{r['seconds']:8.1f}  {load()}",
            flush=True,
        )
        failed = failed or bool(r["lost"]) or bool(r["exit"])
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
