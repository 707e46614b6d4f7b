"""Dashboard latency benchmark: seed a big database, serve it, measure pages under load.

Seeds 200,000 notices, 20,000 contracts and 500 accounts (bulk inserts, no parsing) into
a fresh SQLite file and/or a fresh PostgreSQL database (``tracker_bench``), starts the app
with uvicorn on 127.0.0.1, logs concurrent clients in and reports p50/p95 latency of the
KAM home, an account page, the bid list and the director page. Target: p95 < 200 ms.
Then, with one client, the server's CPU time per request of each page (``cpu ms``: the
uvicorn processes' user+system time from /proc over 20 sequential requests; Linux only).

    .venv/bin/python bench/dashboard.py                      # both backends, defaults
    .venv/bin/python bench/dashboard.py --backend sqlite --clients 4 --requests 100
    .venv/bin/python bench/dashboard.py --notices 20000 --contracts 2000   # quick run
    .venv/bin/python bench/dashboard.py --scale 200000 --recompute   # PostgreSQL at scale
    .venv/bin/python bench/dashboard.py --scale 2000000 --recompute  # 2 M (~20 min to seed)
    .venv/bin/python bench/dashboard.py --scale 200000 --reuse  # measure it again, no seeding

``--scale N`` seeds N notices, N/10 contracts and N/1,000 accounts (2 M: 200,000 contracts,
2,000 accounts) into PostgreSQL only (database ``tracker_bench_scale``, its own, so
another engineer's ``tracker_bench`` is left alone); ``--recompute`` also times one bulk
``recompute`` of the opportunities on the seeded database (in ``--recompute-workers``
processes, default the machine's cores) and a recompute of the largest account alone
(what a link decision runs). Load average with each figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.db.engine import make_engine  # noqa: E402
from tracker.db.migrate import upgrade  # noqa: E402
from tracker.db.models import (  # noqa: E402
    Account,
    AccountOrgnr,
    Activity,
    AwardCriterion,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Opportunity,
    Organisation,
    User,
)
from tracker.opportunities.budget import budget_window_for  # noqa: E402
from tracker.opportunities.window_rules import DEFAULT_RULES  # noqa: E402
from tracker.opportunities.windows import compute_timeline  # noqa: E402
from tracker.users import hash_password  # noqa: E402

TODAY = dt.date(2026, 11, 28)
PASSWORD = "bench password"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/"
WORDS = [
    "drift",
    "forvaltning",
    "rammeavtale",
    "programvare",
    "lisenser",
    "nettverk",
    "skytjenester",
    "sikkerhet",
    "konsulent",
    "bistand",
    "utvikling",
    "servere",
    "lagring",
    "klienter",
    "PC",
    "skrivere",
    "support",
    "migrering",
    "integrasjon",
    "data",
    "analyse",
    "plattform",
    "tjenester",
    "helse",
    "kommune",
    "fylke",
    "skole",
    "renhold",
    "kantine",
    "vakt",
    "transport",
    "bygg",
    "vedlikehold",
    "medisinsk",
    "utstyr",
    "opplæring",
    "kurs",
    "rådgivning",
]
CPVS = ["72000000", "48000000", "30200000", "79400000", "33100000", "45000000", "90900000"]
SUBTYPES = ["16"] * 30 + ["29"] * 30 + ["4"] * 10 + ["1"] * 5 + ["20"] * 5 + ["38"] * 5 + ["E2"] * 5
SUBTYPES += ["25"] * 10
CHUNK = 5000


def _orgnr(n: int) -> str:
    return f"{900000000 + n:09d}"


def _chunks(rows: list[dict[str, Any]]) -> Any:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _bulk(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for chunk in _chunks(rows):
            conn.execute(insert(table.__table__), chunk)


def seed(engine: Engine, n_notices: int, n_contracts: int, n_accounts: int, seed_: int) -> dict:
    """Bulk-insert a realistic shape; returns ids the clients need."""
    rnd = random.Random(seed_)
    now = dt.datetime.now(dt.UTC)
    n_kams = max(1, n_accounts // 10)
    kams = [f"kam{k:03d}@bench.example" for k in range(n_kams)]
    # Organisations: one buyer per account plus other buyers and suppliers.
    n_orgs = n_accounts + 1000 + 300
    _bulk(
        engine,
        Organisation,
        [
            {
                "id": i + 1,
                "key": _orgnr(i),
                "orgnr": _orgnr(i),
                "name": f"Org {i}",
                "country": "NOR",
            }
            for i in range(n_orgs)
        ],
    )
    _bulk(
        engine,
        Account,
        [
            {
                "id": a + 1,
                "name": f"Account {a:03d}",
                "kam_email": kams[a % n_kams],
                "tier": rnd.choice(["star", "strategic", "status", "streamline"]),
                "buyer_type": rnd.choice(["state", "municipality", "health_trust"]),
                "include_children": False,
            }
            for a in range(n_accounts)
        ],
    )
    _bulk(
        engine,
        AccountOrgnr,
        [{"account_id": a + 1, "orgnr": _orgnr(a)} for a in range(n_accounts)],
    )
    # Notices, buyers, links, lots and criteria.
    notices, buyers, links, lots, criteria = [], [], [], [], []
    lot_id = 0
    for i in range(n_notices):
        pk = i + 1
        issue = TODAY - dt.timedelta(days=rnd.randint(0, 8 * 365))
        subtype = rnd.choice(SUBTYPES)
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 8))).capitalize()
        notices.append(
            {
                "id": pk,
                "source": "doffin",
                "source_id": f"{issue.year}-{100000 + i:06d}",
                "notice_id": f"bench-{i}",
                "version": "01",
                "procedure_id": f"proc-{i}",
                "subtype": subtype,
                "issue_date": issue,
                "publication_date": issue,
                "language": "NOR",
                "title": title,
                "description": title + " " + " ".join(rnd.choice(WORDS) for _ in range(20)),
                "procedure_type": "open",
                "main_cpv": rnd.choice(CPVS),
                "cpv_codes": [],
                "estimated_value": rnd.choice([None, rnd.randint(100, 50000) * 1000]),
                "currency": "NOK",
                "previous_notice_ids": [],
                "is_test": False,
                "warnings": [],
                "is_latest": True,
                "raw_xml": b"",
                "raw_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "parser_version": "bench",
                "source_meta": {},
                "created_at": now - dt.timedelta(days=rnd.randint(0, 60)),
            }
        )
        account = rnd.randrange(n_accounts) if rnd.random() < 0.6 else None
        org = account if account is not None else n_accounts + rnd.randrange(1000)
        buyers.append(
            {
                "id": pk,
                "notice_pk": pk,
                "organisation_id": org + 1,
                "position": 0,
                "name": f"Org {org}",
                "orgnr": _orgnr(org),
                "country": "NOR",
            }
        )
        if account is not None:
            links.append(
                {
                    "notice_pk": pk,
                    "buyer_pk": pk,
                    "account_id": account + 1,
                    "method": "orgnr",
                    "confidence": 1.0,
                    "status": "suggested" if rnd.random() < 0.03 else "confirmed",
                    "created_at": now,
                }
            )
        if subtype in ("16", "20"):
            lot_id += 1
            deadline = dt.datetime.combine(
                issue + dt.timedelta(days=rnd.randint(25, 60)), dt.time(12), tzinfo=dt.UTC
            )
            lots.append(
                {
                    "id": lot_id,
                    "notice_pk": pk,
                    "position": 0,
                    "lot_id": "LOT-0001",
                    "title": title,
                    "cpv_codes": [],
                    "submission_deadline": deadline,
                }
            )
            price = rnd.choice([30, 40, 50, 60, 70])
            criteria += [
                {"lot_pk": lot_id, "position": 0, "type": "price", "name": "Pris", "weight": price},
                {
                    "lot_pk": lot_id,
                    "position": 1,
                    "type": "quality",
                    "name": "Kvalitet",
                    "weight": 100 - price,
                },
            ]
    _bulk(engine, Notice, notices)
    _bulk(engine, NoticeBuyer, buyers)
    _bulk(engine, NoticeLink, links)
    _bulk(engine, Lot, lots)
    _bulk(engine, AwardCriterion, criteria)
    # Contracts with suppliers and accounts, and one opportunity per contract.
    contracts, parties, caccounts, opps = [], [], [], []
    for c in range(n_contracts):
        cid = c + 1
        account = rnd.randrange(n_accounts)
        end = TODAY + dt.timedelta(days=rnd.randint(-2 * 365, 5 * 365))
        value = rnd.randint(500, 80000) * 1000
        contracts.append(
            {
                "id": cid,
                "key": f"bench-contract-{c}",
                "source": "notice",
                "notice_pk": rnd.randint(1, n_notices),
                "title": " ".join(rnd.choice(WORDS) for _ in range(4)).capitalize(),
                "main_cpv": rnd.choice(CPVS),
                "value": value,
                "currency": "NOK",
                "framework": rnd.random() < 0.5,
                "start_date": end - dt.timedelta(days=4 * 365),
                "end_date": end,
                "end_source": rnd.choice(["explicit", "start+duration", "framework_default"]),
                "latest_end": end + dt.timedelta(days=365),
                "max_renewals": rnd.choice([None, 1, 2]),
                "created_at": now,
            }
        )
        supplier = n_accounts + 1000 + rnd.randrange(300)
        parties.append(
            {
                "contract_id": cid,
                "role": "supplier",
                "party_key": _orgnr(supplier),
                "organisation_id": supplier + 1,
                "name": f"Supplier {supplier}",
                "orgnr": _orgnr(supplier),
            }
        )
        caccounts.append(
            {
                "contract_id": cid,
                "account_id": account + 1,
                "method": "orgnr",
                "confidence": 1.0,
                "status": "confirmed",
            }
        )
        # The tracker's own timeline (phases of tracker.opportunities.windows.PHASES, overdue
        # included:
        # about one contract in ten has ended with no competition seen), stored with its
        # inputs as tracker.opportunities.build.recompute stores them, so the pages compute
        # days left, reason and sources as in production.
        published = None if c % 10 == 0 else end - dt.timedelta(days=270)
        inputs = {"expiry": end.isoformat(), "expiry_source": "contract", "procedure": "open"}
        if published is not None and published <= TODAY:
            inputs["published"] = published.isoformat()
        tl = compute_timeline(
            TODAY,
            DEFAULT_RULES,
            expiry=end,
            expiry_source="contract",
            procedure="open",
            published=published if published is not None and published <= TODAY else None,
        )
        opens = tl.influence_opens or end - dt.timedelta(days=730)
        drafting = tl.drafting_starts
        publication = tl.expected_publication
        phase = tl.phase
        start = tl.contract_start or end + dt.timedelta(days=1)
        budget = budget_window_for(start, DEFAULT_RULES.budget, today=TODAY, influence_opens=opens)
        opps.append(
            {
                "key": f"bench-opp-{c}",
                "kind": "retender",
                "account_id": account + 1,
                "contract_id": cid,
                "title": contracts[-1]["title"],
                "buyer_name": f"Org {account}",
                "main_cpv": contracts[-1]["main_cpv"],
                "value": value,
                "expiry": end,
                "expiry_source": "contract",
                "influence_opens": opens,
                "drafting_starts": drafting,
                "expected_publication": publication,
                "contract_start": start,
                "budget_start": budget.start,
                "budget_end": budget.end,
                "phase": phase,
                "confidence": "medium",
                "timeline": {
                    "inputs": inputs,
                    "extra": {"link_status": "confirmed", "currency": "NOK"},
                    "sources": {k: {"kind": v[0], "basis": v[1]} for k, v in tl.sources.items()},
                },
                "computed_for": TODAY,
                "computed_at": now,
            }
        )
    _bulk(engine, Contract, contracts)
    _bulk(engine, ContractParty, parties)
    _bulk(engine, ContractAccount, caccounts)
    _bulk(engine, Opportunity, opps)
    _bulk(
        engine,
        Activity,
        [
            {
                "account_id": rnd.randrange(n_accounts) + 1,
                "user_email": rnd.choice(kams),
                "kind": "meeting",
                "text": "Bench activity",
                "happened_on": TODAY - dt.timedelta(days=rnd.randint(0, 400)),
                "created_at": now,
            }
            for _ in range(n_accounts * 4)
        ],
    )
    pw = hash_password(PASSWORD)
    users = [{"email": k, "role": "kam", "password_hash": pw, "active": True} for k in kams]
    users += [
        {"email": "director@bench.example", "role": "director", "password_hash": pw},
        {"email": "bid@bench.example", "role": "bid", "password_hash": pw},
    ]
    for u in users:
        u.setdefault("active", True)
        u["created_at"] = now
    _bulk(engine, User, users)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("organisations", "accounts", "notices", "notice_buyers", "lots"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        # VACUUM as autovacuum would after a bulk load: index-only scans need the
        # visibility map (without it every probe reads the table too)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"kams": kams, "accounts": n_accounts}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _login(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=300)  # a cold 2 M database: slow at first
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    res = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"}
    )
    if res.status_code != 303:
        raise RuntimeError(f"login failed for {email}")
    return client


PAGES = ("KAM home", "account page", "bid list", "director page")


def _path(name: str, r: random.Random, accounts: int) -> tuple[str, str]:
    """(who, path) of a measured page: KAMs open home and accounts, the director the rest."""
    if name == "KAM home":
        return "kam", "/"
    if name == "account page":
        return "kam", f"/accounts/{r.randint(1, accounts)}"
    return "director", "/bids" if name == "bid list" else "/director"


def client_process(args: tuple[str, dict, int, int, int]) -> tuple[dict, list[str]]:
    """One client (its own process, like a user's browser): log in, warm up, loop."""
    base, info, n, requests, seed_ = args
    r = random.Random(seed_ + n)
    kam = _login(base, info["kams"][n % len(info["kams"])])
    director = _login(base, "director@bench.example")
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    errors: list[str] = []
    for name in PAGES:  # warm-up
        who, path = _path(name, r, info["accounts"])
        (kam if who == "kam" else director).get(path)
    for i in range(requests):
        name = PAGES[(i + n) % len(PAGES)]
        who, path = _path(name, r, info["accounts"])
        client = kam if who == "kam" else director
        t0 = time.perf_counter()
        res = client.get(path)
        times[name].append((time.perf_counter() - t0) * 1000)
        if res.status_code != 200:
            errors.append(f"{name}: HTTP {res.status_code}")
    return times, errors


def measure(base: str, info: dict, clients: int, requests: int, seed_: int) -> dict:
    """``clients`` concurrent client processes, ``requests`` each over the four pages."""
    t0 = time.perf_counter()
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(
            client_process, [(base, info, n, requests, seed_) for n in range(clients)]
        )
    wall = time.perf_counter() - t0
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    errors: list[str] = []
    for t, e in results:
        for name, values in t.items():
            times[name].extend(values)
        errors.extend(e)
    out = {}
    for name, values in times.items():
        values.sort()
        out[name] = {
            "n": len(values),
            "p50": statistics.median(values),
            "p95": values[max(0, int(round(0.95 * len(values))) - 1)],
            "max": values[-1],
        }
    return {"pages": out, "errors": errors, "wall_s": wall}


def _cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of a process and its children (Linux /proc), else None."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, pids = 0.0, [pid]
    try:
        while pids:
            p = pids.pop()
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError, IndexError):
        return None
    return total


def cpu_per_page(base: str, info: dict, pid: int, seed_: int, n: int = 20) -> dict:
    """Server CPU ms per request of each page: ``n`` sequential requests, one client."""
    r = random.Random(seed_)
    kam = _login(base, info["kams"][0])
    director = _login(base, "director@bench.example")
    out: dict[str, float | None] = {}
    for name in PAGES:
        requests = [_path(name, r, info["accounts"]) for _ in range(n)]
        before = _cpu_seconds(pid)
        for who, path in requests:
            (kam if who == "kam" else director).get(path)
        after = _cpu_seconds(pid)
        out[name] = (after - before) * 1000 / n if before is not None and after else None
    return out


def prepare(backend: str, workdir: Path, reuse: bool, pg_name: str = "tracker_bench") -> str:
    if reuse:
        return f"sqlite:///{workdir / 'bench.db'}" if backend == "sqlite" else PG_BASE + pg_name
    if backend == "sqlite":
        path = workdir / "bench.db"
        for p in workdir.glob("bench.db*"):
            p.unlink()
        return f"sqlite:///{path}"
    admin = create_engine(PG_BASE + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
    admin.dispose()
    return PG_BASE + pg_name


def _rules_in_force() -> tuple[Any, Any]:
    """(settings, rules) as ``tracker recompute`` reads them on the bench's day."""
    from tracker.config import load_settings
    from tracker.rules import load_rules

    settings = load_settings({**os.environ, "TRACKER_TODAY": TODAY.isoformat()})
    return settings, load_rules(settings=settings)


def time_recompute(engine: Engine, workers: int = 1) -> tuple[float, dict[str, int], str]:
    """Seconds of one bulk ``recompute`` of the opportunities (committed) in ``workers``
    processes, its counts and the load average at its end."""
    from sqlalchemy.orm import Session

    from tracker.opportunities.build import recompute
    from tracker.ops.runtime import tune_gc

    tune_gc()  # as in `tracker recompute` and the daily cycle (tracker.cli)
    settings, rules = _rules_in_force()
    t0 = time.perf_counter()
    with Session(engine) as session:
        counts = recompute(
            session, TODAY, rules=rules, ours=settings.our_orgnr_list, workers=workers
        )
        session.commit()
    took = time.perf_counter() - t0
    if engine.dialect.name == "postgresql":
        # a recompute rewrites every row: VACUUM as autovacuum would (the pages measured
        # next, and the next run's recompute, would read the dead rows too)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) opportunities"))
    return took, counts, ", ".join(f"{x:.1f}" for x in os.getloadavg())


def time_account_recompute(engine: Engine, times: int = 3) -> tuple[float, int, str]:
    """Slowest of ``times`` recomputes of the opportunities of the account with the most
    of them (what a link decision runs, ``tracker.linking.links.decide_link``), committed:
    seconds, that account's opportunities and the load average at its end."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from tracker.db.models import Opportunity
    from tracker.opportunities.build import recompute

    settings, rules = _rules_in_force()
    slowest = 0.0
    with Session(engine) as session:
        account_id, rows = session.execute(
            select(Opportunity.account_id, func.count())
            .group_by(Opportunity.account_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        for _ in range(times):
            t0 = time.perf_counter()
            recompute(session, TODAY, rules=rules, ours=settings.our_orgnr_list,
                      account_ids=[account_id])  # fmt: skip
            session.commit()
            slowest = max(slowest, time.perf_counter() - t0)
    return slowest, int(rows), ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _opportunities(counts: dict[str, int]) -> int:
    return sum(counts.get(k, 0) for k in ("retender", "dialogue", "planning", "competition"))


def run(backend: str, args: argparse.Namespace, workdir: Path) -> dict:
    url = prepare(backend, workdir, args.reuse, args.pg_database)
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    if args.reuse:
        n_kams = max(1, args.accounts // 10)
        info = {"kams": [f"kam{k:03d}@bench.example" for k in range(n_kams)]}
        info["accounts"] = args.accounts
    else:
        info = seed(engine, args.notices, args.contracts, args.accounts, args.seed)
    seeded = time.perf_counter() - t0
    seed_load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    if not args.reuse:
        print(f"seeded in {seeded:.0f} s; load average {seed_load}", flush=True)
    recompute_s = None
    if args.recompute:
        recompute_s = time_recompute(engine, args.recompute_workers)
        took, counts, rload = recompute_s[:3]
        print(
            f"recompute in {args.recompute_workers} process(es): {took:.1f} s for "
            f"{args.contracts} contracts ({_opportunities(counts)} opportunities); "
            f"load average {rload}",
            flush=True,
        )
        one = time_account_recompute(engine)
        recompute_s = (*recompute_s, one)
        print(
            f"recompute of one account (a link decision): {one[0]:.2f} s for its {one[1]} "
            f"opportunities, slowest of 3; load average {one[2]}",
            flush=True,
        )
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": url,
        "TRACKER_HOME": str(workdir),
        "TRACKER_TODAY": TODAY.isoformat(),
        "TRACKER_SESSION_SECRET": "bench-" + "s" * 40,
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "dashboards.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        # a client's connection can idle for seconds while the others' 2 M pages run: a
        # server closing it (uvicorn's 5 s default) races the client's next request
        "--timeout-keep-alive",
        "300",
        # a cold 2 M director page holds the GIL for seconds: uvicorn's supervisor would
        # kill the worker after its 5 s health check (the client sees a dropped connection)
        "--timeout-worker-healthcheck",
        "120",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.3)
        result = measure(base, info, args.clients, args.requests, args.seed)
        result["cpu_ms"] = cpu_per_page(base, info, server.pid, args.seed)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result["seed_s"] = seeded
    result["seed_load"] = seed_load
    result["recompute"] = recompute_s
    result["url"] = make_url(url).render_as_string(hide_password=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--notices", type=int, default=200_000)
    parser.add_argument("--contracts", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=100, help="requests per client")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="where the SQLite file goes")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database seeded by an earlier run"
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="N notices, N/10 contracts, N/1000 accounts on PostgreSQL (tracker_bench_scale)",
    )
    parser.add_argument("--recompute", action="store_true", help="time a bulk recompute too")
    parser.add_argument(
        "--recompute-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the timed recompute (default: the machine's cores)",
    )
    parser.add_argument("--pg-database", default="tracker_bench", help="PostgreSQL database")
    args = parser.parse_args()
    if args.scale:
        args.notices = args.scale
        args.contracts = max(1, args.scale // 10)
        args.accounts = max(1, args.scale // 1000)
        args.backend = "postgresql"
        if args.pg_database == "tracker_bench":
            args.pg_database = "tracker_bench_scale"
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.notices} notices, {args.contracts} contracts, {args.accounts} accounts; "
        f"{args.clients} clients x {args.requests} requests; {args.workers} uvicorn workers"
    )
    for backend in backends:
        res = run(backend, args, workdir)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\n{backend} ({res['url']}): seeded in {res['seed_s']:.0f} s (load average "
            f"{res['seed_load']}), measured in {res['wall_s']:.1f} s; load average {load} on "
            f"{os.cpu_count()} cores"
        )
        print(f"{'page':<15}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'cpu ms':>8}")
        for name, s in res["pages"].items():
            flag = "" if s["p95"] < 200 else "  (over 200 ms)"
            cpu = res["cpu_ms"].get(name)
            cpu_s = f"{cpu:>8.1f}" if cpu is not None else f"{'?':>8}"
            print(
                f"{name:<15}{s['n']:>6}{s['p50']:>10.0f}{s['p95']:>10.0f}{s['max']:>10.0f}"
                f"{cpu_s}{flag}"
            )
        if res.get("recompute"):
            took, counts, rload, one = res["recompute"]
            print(
                f"recompute in {args.recompute_workers} process(es): {took:.1f} s for "
                f"{args.contracts} contracts ({_opportunities(counts)} opportunities); "
                f"load average {rload}"
            )
            print(
                f"recompute of one account (a link decision): {one[0]:.2f} s for its "
                f"{one[1]} opportunities; load average {one[2]}"
            )
        if res["errors"]:
            print(f"errors: {len(res['errors'])}, first: {res['errors'][0]}")


if __name__ == "__main__":
    main()
