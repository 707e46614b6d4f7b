"""Soak test of unattended operation: the full daily cycle, again and again, with faults.

Runs ``tracker run-once`` as a real subprocess once per simulated day against the local
replay server (``tests/replay.py``: Doffin, TED and Brønnøysund from the real
fixtures) and a local SMTP server (aiosmtpd), all on 127.0.0.1, with injected faults:

* API errors: Doffin search 500s on some days, downloads that fail more often than the
  spider retries (recorded, fetched again next cycle), a burst of 429s, truncated and
  cut bodies;
* SMTP down for two cycles (alerts must wait, then go out once);
* the process killed mid-cycle (SIGKILL to the ``run-once`` process group while a crawl
  runs; the next cycle must take over the stale lock);
* a concurrent second scheduler (two ``run-once`` started together, and a ``tracker
  schedule`` started while a cycle runs: exactly one cycle may run).

Then it checks and reports: cycles run, notices served vs stored (each exactly once,
none missing), alerts logged vs e-mails received (each exactly once, none pending).
Exit code 0 when every invariant holds, 1 otherwise. Bounded: ``--cycles`` (default 6)
and ``--max-seconds`` (default 900); every subprocess has a timeout.

    .venv/bin/python bench/soak.py                  # SQLite in a temporary directory
    .venv/bin/python bench/soak.py --cycles 4 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.replay import Faults, serve_in_thread, synthetic_days  # noqa: E402
from tracker.db.engine import make_engine  # noqa: E402
from tracker.db.migrate import upgrade  # noqa: E402
from tracker.db.models import (  # noqa: E402
    Account,
    AccountOrgnr,
    AlertLog,
    FetchFailure,
    Lock,
    Notice,
    Run,
    User,
)
from tracker.orgnr import is_valid_orgnr  # noqa: E402

TRACKER = [str(Path(sys.executable).parent / "tracker")]  # the console script of this venv
NOTICE_ID = re.compile(rb'<cbc:ID schemeName="notice-id">([^<]+)</cbc:ID>')
VERSION = re.compile(rb"<cbc:VersionID>([^<]+)</cbc:VersionID>")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


class SMTP:
    def __init__(self, port: int) -> None:
        self.port = port
        self.box = Mailbox()
        self.ctl: Controller | None = None

    def up(self) -> None:
        if self.ctl is None:
            self.ctl = Controller(self.box, hostname="127.0.0.1", port=self.port)
            self.ctl.start()

    def down(self) -> None:
        if self.ctl is not None:
            self.ctl.stop()
            self.ctl = None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- setup


def scratch_database(url: str | None, work: Path) -> tuple[str, Any]:
    """A fresh database: SQLite file in ``work``, or a new database on the given server."""
    if url is None:
        return f"sqlite:///{work / 'tracker.db'}", None
    base = make_url(url)
    name = f"soak_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def seed_accounts(db_url: str, records: list[Any]) -> list[str]:
    """Three accounts for the most frequent buyers, each with a KAM; a bid user, a director."""
    counts: collections.Counter[str] = collections.Counter()
    for r in records:
        for b in r.hit.get("buyer", []):
            orgnr = (b.get("organizationId") or "").replace(" ", "")
            if is_valid_orgnr(orgnr):
                counts[orgnr] += 1
    engine = make_engine(db_url)
    kams = []
    with Session(engine) as s:
        for i, (orgnr, _) in enumerate(counts.most_common(3)):
            email = f"kam{i}@example.test"
            kams.append(email)
            s.add(User(email=email, role="kam", password_hash="x", active=True))
            acct = Account(name=f"Account {orgnr}", kam_email=email)
            acct.orgnrs.append(AccountOrgnr(orgnr=orgnr))
            s.add(acct)
        s.add(User(email="bid@example.test", role="bid", password_hash="x", active=True))
        s.add(User(email="director@example.test", role="director", password_hash="x", active=True))
        s.commit()
    engine.dispose()
    return kams


# --------------------------------------------------------------------------- processes


def start(cmd: list[str], env: dict[str, str], logfile: Path) -> subprocess.Popen:
    fh = logfile.open("ab")
    return subprocess.Popen(
        cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9


def running_crawl(engine: Any) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                select(func.count()).where(Run.kind == "crawl", Run.outcome == "running")
            ).scalar()
        )


# --------------------------------------------------------------------------- the soak


def soak(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="tracker-soak-"))
    db_url, drop_db = scratch_database(args.db, work)
    engine = make_engine(db_url)
    upgrade(engine)
    start_day = dt.date.fromisoformat(args.start)
    days = {start_day + dt.timedelta(days=i): args.per_day for i in range(-7, args.cycles + 2)}
    records = synthetic_days(days)
    by_day: dict[dt.date, list[Any]] = collections.defaultdict(list)
    for r in records:
        by_day[r.day].append(r)
    # Faults: see the module docstring.
    ids = [r.doffin_id for r in records]
    faults = Faults(
        search_500={(start_day + dt.timedelta(days=1)).isoformat(): 2},
        fail_500={ids[3]: 12, ids[len(ids) // 2]: 3},
        truncate={ids[5]: 1},
        cut={ids[7]: 1},
        burst_429_after=60,
        burst_429_count=4,
        retry_after=1,
    )
    server, base_url = serve_in_thread(port=0, faults=faults, notices=records)
    smtp = SMTP(free_port())
    smtp.up()
    kams = seed_accounts(db_url, records)
    env = {
        **os.environ,
        "TRACKER_HOME": str(work),
        "TRACKER_DATABASE_URL": db_url,
        "DOFFIN_API_KEY": "soak-key",
        "DOFFIN_API_URL": f"{base_url}/doffin",
        "TED_API_URL": f"{base_url}/ted",
        "BRREG_API_URL": f"{base_url}/brreg",
        "TRACKER_SMTP_HOST": "127.0.0.1",
        "TRACKER_SMTP_PORT": str(smtp.port),
        "TRACKER_SMTP_TLS": "none",
        "TRACKER_STEP_RETRIES": "1",
        "TRACKER_STEP_BACKOFF_SECONDS": "1",
        "TRACKER_LOCK_STALE_SECONDS": "6",
        "TRACKER_HEARTBEAT_SECONDS": "1",
        "TRACKER_ALERT_BACKOFF_SECONDS": "1",
        "TRACKER_ALERT_TIMEOUT_SECONDS": "5",
    }
    env.pop("TRACKER_CONFIG", None)
    logs = work / "cycles.log"
    events: list[str] = []
    exits: list[int] = []
    kill_at = min(3, args.cycles - 1)
    race_at = min(5, args.cycles - 1)
    if race_at == kill_at:
        race_at = max(kill_at - 1, 0)
    smtp_down = {1, 2} if args.cycles > 3 else {1}
    final_day = start_day
    try:
        for i in range(args.cycles):
            if time.monotonic() - t0 > args.max_seconds:
                events.append(f"stopped after {i} cycles: --max-seconds reached")
                break
            day = start_day + dt.timedelta(days=i)
            final_day = day
            cenv = {**env, "TRACKER_TODAY": day.isoformat()}
            if i in smtp_down:
                smtp.down()
            else:
                smtp.up()
            cmd = [*TRACKER, "run-once"]
            if i == kill_at:
                proc = start(cmd, cenv, logs)
                deadline = time.monotonic() + 120
                while not running_crawl(engine) and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1.0)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                events.append(f"cycle {i} ({day}): SIGKILL mid-crawl")
                # The next run-once finds the dead holder's lock; it is stale after 6 s.
                waited = 0
                while True:
                    code = finish(start(cmd, cenv, logs), args.cycle_timeout)
                    if code != 3 or waited > 60:
                        break
                    waited += 2
                    time.sleep(2)
                events.append(f"cycle {i} ({day}): rerun after {waited} s waiting, exit {code}")
                exits.append(code)
            elif i == race_at:
                a = start(cmd, cenv, logs)
                b = start(cmd, cenv, logs)
                time.sleep(3)
                sched = start([*TRACKER, "schedule"], cenv, logs)
                codes = sorted([finish(a, args.cycle_timeout), finish(b, args.cycle_timeout)])
                sched_code = finish(sched, 30)
                events.append(
                    f"cycle {i} ({day}): two run-once together exit {codes}, "
                    f"second scheduler exit {sched_code}"
                )
                if codes.count(3) != 1 or sched_code != 3:
                    events.append("VIOLATION: more or fewer than one cycle ran concurrently")
                exits.append([c for c in codes if c != 3][0] if 3 in codes else codes[0])
            else:
                code = finish(start(cmd, cenv, logs), args.cycle_timeout)
                exits.append(code)
                events.append(
                    f"cycle {i} ({day}): exit {code}" + (" (SMTP down)" if i in smtp_down else "")
                )
            log(events[-1])
        # Drain: SMTP up, one more alert run so that anything waiting goes out.
        smtp.up()
        time.sleep(1.5)
        drain_env = {**env, "TRACKER_TODAY": final_day.isoformat()}
        drain = finish(start([*TRACKER, "alerts", "send"], drain_env, logs), 120)
        events.append(f"final alert send: exit {drain}")
        return check(engine, records, final_day, smtp, events, exits, kams, t0, work, db_url)
    finally:
        smtp.down()
        server.shutdown()
        server.server_close()
        engine.dispose()
        if drop_db:
            drop_db()


def check(
    engine: Any,
    records: list[Any],
    final_day: dt.date,
    smtp: SMTP,
    events: list[str],
    exits: list[int],
    kams: list[str],
    t0: float,
    work: Path,
    db_url: str,
) -> dict[str, Any]:
    first_day = min(r.day for r in records)
    served = set()
    for r in records:
        if first_day <= r.day <= final_day:
            nid, ver = NOTICE_ID.search(r.xml), VERSION.search(r.xml)
            served.add((nid.group(1).decode().strip(), ver.group(1).decode().strip()))
    with Session(engine) as s:
        stored_rows = s.execute(
            select(Notice.notice_id, Notice.version).where(Notice.source == "doffin")
        ).all()
        stored = {(a, b) for a, b in stored_rows}
        runs = collections.Counter(
            f"{k}:{o}" for k, o in s.execute(select(Run.kind, Run.outcome)).all()
        )
        open_failures = s.scalar(
            select(func.count()).select_from(FetchFailure).where(FetchFailure.resolved.is_(False))
        )
        alerts = s.scalars(select(AlertLog)).all()
        lock_left = s.scalar(select(func.count()).select_from(Lock))
    email_rows = [a for a in alerts if a.channel == "email"]
    digest_rows = [a for a in alerts if a.channel == "digest"]
    mids = collections.Counter(m["Message-ID"] for m in smtp.box.messages)
    expected_mids = {
        f"<{hashlib.sha256(a.dedup_key.encode()).hexdigest()[:32]}@tender-tracker>"
        for a in email_rows
    }
    digest_items = 0
    for m in smtp.box.messages:
        hit = re.match(r"Tender tracker digest: (\d+) alert", m["Subject"] or "")
        if hit:
            digest_items += int(hit.group(1))
    report = {
        "database": make_url(db_url).get_backend_name(),
        "seconds": round(time.monotonic() - t0, 1),
        "cycles_started": len(exits),
        "cycle_exit_codes": exits,
        "runs": dict(sorted(runs.items())),
        "notices_served": len(served),
        "notices_stored": len(stored_rows),
        "notices_stored_distinct": len(stored),
        "notices_missing": len(served - stored),
        "notices_unexpected": len(stored - served),
        "fetch_failures_open": open_failures,
        "alerts_logged": len(alerts),
        "alerts_by_status": dict(collections.Counter(a.status for a in alerts)),
        "alerts_retried": sum(1 for a in alerts if a.attempts > 1),
        "emails_received": len(smtp.box.messages),
        "immediate_alerts_received": sum(1 for m in expected_mids if mids.get(m)),
        "immediate_alerts_expected": len(expected_mids),
        "duplicate_emails": sum(n - 1 for n in mids.values() if n > 1),
        "digest_items_received": digest_items,
        "digest_items_logged": len(digest_rows),
        "lock_rows_left": lock_left,
        "events": events,
        "workdir": str(work),
        "kam_users": kams,
    }
    problems = []
    if report["notices_missing"]:
        problems.append(f"{report['notices_missing']} served notice(s) never stored")
    if report["notices_stored"] != report["notices_stored_distinct"]:
        problems.append("a notice version is stored twice")
    if report["duplicate_emails"]:
        problems.append(f"{report['duplicate_emails']} e-mail(s) sent twice")
    if report["immediate_alerts_received"] != report["immediate_alerts_expected"]:
        problems.append("an immediate alert was not received")
    if report["digest_items_received"] != report["digest_items_logged"]:
        problems.append("digest items received differ from digest alerts logged")
    if any(s != "sent" for s in report["alerts_by_status"]):
        problems.append(f"alerts not sent: {report['alerts_by_status']}")
    if not report["alerts_logged"]:
        problems.append("no alert was generated: the soak proves nothing about alerts")
    if lock_left:
        problems.append("the scheduler lock was left behind")
    problems += [e for e in events if e.startswith("VIOLATION")]
    report["problems"] = problems
    report["ok"] = not problems
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=6, help="simulated days (default 6, max 30)")
    ap.add_argument("--per-day", type=int, default=4, help="Doffin notices per day (default 4)")
    ap.add_argument("--start", default="2026-11-02", help="first simulated day")
    ap.add_argument("--db", help="PostgreSQL server URL (a scratch database is created)")
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--cycle-timeout", type=float, default=240)
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    ap.add_argument("--keep", action="store_true", help="keep the work directory when ok")
    args = ap.parse_args(argv)
    args.cycles = max(2, min(args.cycles, 30))
    report = soak(args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for key, value in report.items():
            if key != "events":
                print(f"{key:>28}: {value}")
        print("events:")
        for e in report["events"]:
            print(f"  {e}")
        print("RESULT:", "ok" if report["ok"] else "PROBLEMS")
    if report["ok"] and not args.keep:  # a failed run keeps its logs (cycles.log) to look at
        shutil.rmtree(report["workdir"], ignore_errors=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
