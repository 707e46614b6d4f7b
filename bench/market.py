"""Market pages benchmark: seed years of history, measure the supplier, buyer and director
market pages.

Seeds ``--years`` of history at ``--scale`` (1.0 = the issue's 10 years: 500,000 notices,
100,000 contracts, 5,000 suppliers; bulk inserts of the rows, no parsing) into a fresh
SQLite file and/or a fresh PostgreSQL database (``tracker_market_bench``), then asks the
app in-process (FastAPI TestClient: routing, login cookie, queries, rendering; no network)
for each page ``--requests`` times after two warm-up requests and reports p50/p95/max, the
p95 of the read model alone (``model p95``: the tracker.market call, no HTTP, no template),
the median CPU time of this process per request (``cpu p50``: what the load average does
not change; PostgreSQL's own work runs in the server and is not in it), on PostgreSQL the
mean CPU time of the server processes of the bench's database per request (``db cpu
avg``, read from /proc in clock ticks of 10 ms, hence the mean; the server must run on
this machine) and the load
average; ``baseline (/me)`` is a small page, to show what the machine's load
costs any request. Target: p95 under 300 ms.

    .venv/bin/python bench/market.py                         # scale 0.1, both backends
    .venv/bin/python bench/market.py --scale 1 --years 10    # the issue's full size
    .venv/bin/python bench/market.py --backend sqlite --scale 0.05 --requests 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.db.engine import make_engine  # noqa: E402
from tracker.db.migrate import upgrade  # noqa: E402
from tracker.db.models import (  # noqa: E402
    Account,
    AccountOrgnr,
    Activity,
    AwardCriterion,
    BidStatus,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    Opportunity,
    User,
)
from tracker.market.facts import rebuild  # noqa: E402
from tracker.users import hash_password  # noqa: E402

TODAY = dt.date(2026, 11, 28)
PASSWORD = "bench password"
DIRECTOR = "director@bench.example"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/"
CPVS = [
    "72000000",
    "72200000",
    "48000000",
    "30200000",
    "30213000",
    "79400000",
    "33100000",
    "45000000",
    "90900000",
    "50300000",
    "32400000",
    "64200000",
]
PROCEDURES = ["open"] * 6 + ["restricted", "neg-w-call", "neg-wo-call", "comp-dial"]
CHUNK = 5000


def _orgnr(n: int) -> str:
    return f"{800000000 + n:09d}"


def _bulk(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for i in range(0, len(rows), CHUNK):
            conn.execute(insert(table.__table__), rows[i : i + CHUNK])


def _zipf(rnd: random.Random, weights: list[float], total: float) -> int:
    x = rnd.random() * total
    lo, hi = 0, len(weights) - 1
    while lo < hi:  # weights are cumulative
        mid = (lo + hi) // 2
        if weights[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _cumulative(n: int, power: float) -> tuple[list[float], float]:
    acc, out = 0.0, []
    for i in range(n):
        acc += 1 / (i + 1) ** power
        out.append(acc)
    return out, acc


class _Seed:
    """The bench's history: rows in the shape the contract derivation writes, drawn from
    one random sequence (the same seed gives the same rows)."""

    def __init__(self, scale: float, years: int, seed_: int) -> None:
        self.rnd = random.Random(seed_)
        self.now = dt.datetime.now(dt.UTC)
        self.n_notices = int(500_000 * scale)
        self.n_contracts = int(100_000 * scale)
        self.n_suppliers = max(50, int(5_000 * scale))
        self.n_buyers = max(120, int(2_000 * scale))
        self.n_accounts = 100
        self.us = _orgnr(1_000_000)  # supplier 0
        self.suppliers = [self.us] + [_orgnr(1_000_001 + i) for i in range(self.n_suppliers - 1)]
        self.buyer_w, self.buyer_t = _cumulative(self.n_buyers, 0.9)
        self.supp_w, self.supp_t = _cumulative(self.n_suppliers, 0.9)
        self.first_day = TODAY - dt.timedelta(days=365 * years)
        self.span = (TODAY - self.first_day).days
        self.notices: list[dict[str, Any]] = []
        self.buyers: list[dict[str, Any]] = []
        self.lots: list[dict[str, Any]] = []
        self.criteria: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.result_notices: list[tuple[int, int, dt.date, str]] = []
        self.competition_pks: list[int] = []
        self.contracts: list[dict[str, Any]] = []
        self.parties: list[dict[str, Any]] = []
        self.caccounts: list[dict[str, Any]] = []
        self.opps: list[dict[str, Any]] = []

    def notice(self, i: int) -> None:
        rnd, pk = self.rnd, i + 1
        issue = self.first_day + dt.timedelta(days=rnd.randrange(self.span))
        r = rnd.random()
        subtype = (
            "16"
            if r < 0.35
            else "29"
            if r < 0.70
            else "4"
            if r < 0.90
            else "38"
            if r < 0.95
            else "E3"
        )
        buyer = _zipf(rnd, self.buyer_w, self.buyer_t)
        cpv = rnd.choice(CPVS)
        proc = f"proc-{i}"
        self.notices.append(
            {
                "id": pk,
                "source": "ted" if issue.year < 2023 else "doffin",
                "source_id": f"{issue.year}-{i:07d}",
                "notice_id": f"mb-{i}",
                "version": "01",
                "procedure_id": proc,
                "subtype": subtype,
                "issue_date": issue,
                "publication_date": issue,
                "title": f"Anskaffelse {i} {cpv}",
                "procedure_type": rnd.choice(PROCEDURES),
                "main_cpv": cpv,
                "cpv_codes": [cpv],
                "currency": "NOK",
                "previous_notice_ids": [],
                "is_test": False,
                "warnings": [],
                "is_latest": True,
                "raw_xml": b"",
                "raw_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "parser_version": "bench",
                "source_meta": {},
                "created_at": self.now,
            }
        )
        self.buyers.append(
            {
                "id": pk,
                "notice_pk": pk,
                "position": 0,
                "name": f"Kjøper {buyer}",
                "orgnr": _orgnr(buyer),
                "country": "NOR",
            }
        )
        self._lot_or_result(pk, subtype, buyer, issue, cpv)

    def _lot_or_result(self, pk: int, subtype: str, buyer: int, issue: dt.date, cpv: str) -> None:
        """A competition's lot and award criteria, or an award notice's result."""
        rnd = self.rnd
        if subtype in ("16", "E3"):
            self.competition_pks.append(pk)
            self.lots.append(
                {"id": pk, "notice_pk": pk, "position": 0, "lot_id": "LOT-0001", "cpv_codes": [cpv]}
            )
            price = rnd.choice([20, 30, 40, 50, 60, 70, 100])
            self.criteria.append(
                {
                    "lot_pk": pk,
                    "position": 0,
                    "type": "price",
                    "name": "Pris",
                    "weight": price,
                    "weight_code": "per-exa",
                }
            )
            if price < 100:
                self.criteria.append(
                    {
                        "lot_pk": pk,
                        "position": 1,
                        "type": "quality",
                        "name": "Kvalitet",
                        "weight": 100 - price,
                        "weight_code": "per-exa",
                    }
                )
        elif subtype == "29":
            self.result_notices.append((pk, buyer, issue, cpv))
            self.results.append(
                {
                    "notice_pk": pk,
                    "position": 0,
                    "lot_id": "LOT-0001",
                    "winner_chosen": True,
                    "tenders_received": rnd.choice([1, 2, 2, 3, 3, 4, 5, 6, 8]),
                    "conclusion_date": issue,
                    "currency": "NOK",
                }
            )

    def contract(self, c: int) -> None:
        rnd, cid = self.rnd, c + 1
        npk, buyer, issue, cpv = self.result_notices[c % len(self.result_notices)]
        supplier = 0 if rnd.random() < 0.02 else _zipf(rnd, self.supp_w, self.supp_t)
        r = rnd.random()
        kind = "tender" if r < 0.6 else "framework_max" if r < 0.9 else "estimated"
        shared = kind == "framework_max" and rnd.random() < 0.5
        start = issue + dt.timedelta(days=30)
        end = start + dt.timedelta(days=365 * rnd.choice([1, 2, 3, 4]))
        latest = end + dt.timedelta(days=365 * rnd.choice([0, 1, 2]))
        self.contracts.append(
            {
                "id": cid,
                "key": f"mb-contract-{c}",
                "source": "notice",
                "notice_pk": npk,
                "procedure_id": f"proc-{npk - 1}",
                "lot_id": "LOT-0001",
                "title": f"Kontrakt {c}",
                "main_cpv": cpv,
                "value": rnd.randint(200, 200_000) * 1000,
                "currency": "EUR" if rnd.random() < 0.05 else "NOK",
                "framework": kind == "framework_max",
                "start_date": start,
                "end_date": end,
                "end_source": "explicit",
                "latest_end": latest,
                "conclusion_date": issue,
                "value_kind": kind,
                "value_shared": shared,
                "parallel_suppliers": 3 if shared else 1,
                "procedure_type": rnd.choice(PROCEDURES),
                "extension": "probably_extended" if rnd.random() < 0.1 else None,
                "expected": False,
                "created_at": self.now,
            }
        )
        self.parties.append(
            {
                "contract_id": cid,
                "role": "buyer",
                "party_key": _orgnr(buyer),
                "name": f"Kjøper {buyer}",
                "orgnr": _orgnr(buyer),
            }
        )
        self.parties.append(
            {
                "contract_id": cid,
                "role": "supplier",
                "party_key": self.suppliers[supplier],
                "name": f"Leverandør {supplier}",
                "orgnr": self.suppliers[supplier],
            }
        )
        if buyer < self.n_accounts:
            self.caccounts.append(
                {
                    "contract_id": cid,
                    "account_id": buyer + 1,
                    "method": "orgnr",
                    "confidence": 1.0,
                    "status": "confirmed",
                }
            )
            if latest > TODAY and rnd.random() < 0.3:
                self.opps.append(
                    {
                        "key": f"mb-opp-{c}",
                        "kind": "retender",
                        "account_id": buyer + 1,
                        "contract_id": cid,
                        "expiry": latest,
                        "in_profile": True,
                        "phase": rnd.choice(["influence_open", "drafting", "watch"]),
                        "timeline": {},
                    }
                )


def _accounts(engine: Engine, n_accounts: int) -> None:
    kams = [f"kam{k:02d}@bench.example" for k in range(10)]
    _bulk(
        engine,
        Account,
        [
            {
                "id": a + 1,
                "name": f"Kunde {a:03d}",
                "kam_email": kams[a % len(kams)],
                "tier": "strategic",
                "buyer_type": "state",
                "include_children": False,
            }
            for a in range(n_accounts)
        ],
    )
    _bulk(
        engine, AccountOrgnr, [{"account_id": a + 1, "orgnr": _orgnr(a)} for a in range(n_accounts)]
    )


def _people(engine: Engine, sd: _Seed, scale: float) -> None:
    """Activities at the accounts, bid statuses, the director who logs in."""
    rnd, now = sd.rnd, sd.now
    _bulk(
        engine,
        Activity,
        [
            {
                "account_id": rnd.randrange(sd.n_accounts) + 1,
                "kind": "meeting",
                "text": "Møte",
                "happened_on": TODAY - dt.timedelta(days=rnd.randint(0, 300)),
                "created_at": now,
            }
            for _ in range(sd.n_accounts * 2)
        ],
    )
    pks = sd.competition_pks
    picked = rnd.sample(pks, min(len(pks), max(100, int(5000 * scale))))
    _bulk(
        engine,
        BidStatus,
        [
            {"notice_pk": pk, "status": rnd.choice(["submitted", "won", "lost"]), "updated_at": now}
            for pk in picked
        ],
    )
    _bulk(
        engine,
        User,
        [
            {
                "email": DIRECTOR,
                "role": "director",
                "active": True,
                "password_hash": hash_password(PASSWORD),
                "created_at": now,
            }
        ],
    )


def seed(engine: Engine, scale: float, years: int, seed_: int) -> dict[str, Any]:
    """Bulk rows in the shape the contract derivation writes; returns keys to measure."""
    sd = _Seed(scale, years, seed_)
    _accounts(engine, sd.n_accounts)
    for i in range(sd.n_notices):
        sd.notice(i)
    for table, rows in (
        (Notice, sd.notices), (NoticeBuyer, sd.buyers), (Lot, sd.lots),
        (AwardCriterion, sd.criteria), (LotResult, sd.results),
    ):  # fmt: skip
        _bulk(engine, table, rows)
    sd.notices, sd.buyers, sd.lots, sd.criteria, sd.results = [], [], [], [], []
    for c in range(sd.n_contracts):
        sd.contract(c)
    for table, rows in (
        (Contract, sd.contracts), (ContractParty, sd.parties),
        (ContractAccount, sd.caccounts), (Opportunity, sd.opps),
    ):  # fmt: skip
        _bulk(engine, table, rows)
    _people(engine, sd, scale)
    with Session(engine) as session:  # the market summaries, as ``tracker derive`` counts them
        rebuild(session)
        session.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {
        "us": sd.us,
        "top_competitor": sd.suppliers[1],
        "typical_supplier": sd.suppliers[sd.n_suppliers // 2],
        "busiest_buyer": _orgnr(0),
        "typical_buyer": _orgnr(sd.n_buyers // 3),
        "counts": (sd.n_notices, sd.n_contracts, sd.n_suppliers),
    }


def _database(backend: str, workdir: Path, pg_name: str, fresh: bool = True) -> str:
    if backend == "sqlite":
        path = workdir / "market-bench.db"
        if fresh:
            path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if fresh:
        admin = create_engine(PG_BASE + "postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{pg_name}"'))
        admin.dispose()
    return make_url(PG_BASE + pg_name).render_as_string(hide_password=False)


def _seeded(backend: str, args: argparse.Namespace, workdir: Path) -> tuple[str, dict[str, Any]]:
    """The database to measure and its keys: seeded afresh, or with ``--reuse`` the one a
    run with the same workdir left (its keys in ``keys-<backend>.json``; upgraded, so a
    newer summary version is counted again)."""
    saved = workdir / f"keys-{backend}.json"
    if args.reuse and saved.exists():
        url = _database(backend, workdir, args.pg_database, fresh=False)
        engine = make_engine(url)
        t0 = time.perf_counter()
        upgrade(engine)
        engine.dispose()
        keys = json.loads(saved.read_text())
        print(f"\n{backend}: reusing {saved.parent}; upgraded in {time.perf_counter() - t0:.0f} s")
        return url, keys
    url = _database(backend, workdir, args.pg_database)
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    keys = seed(engine, args.scale, args.years, args.seed)
    seeded = time.perf_counter() - t0
    engine.dispose()
    saved.write_text(json.dumps(keys))
    n, c, s = keys["counts"]
    print(
        f"\n{backend}: scale {args.scale} over {args.years} years: {n} notices, {c} contracts, "
        f"{s} suppliers; seeded in {seeded:.0f} s"
    )
    return url, keys


def _p95(times: list[float]) -> float:
    return times[max(0, int(round(0.95 * len(times))) - 1)]


class _ServerCpu:
    """CPU time of the PostgreSQL server processes serving the bench's database, read from
    /proc (the server runs on this machine): with ``cpu p50`` the work of a request on
    PostgreSQL, which the load average of a shared machine does not change. None on
    SQLite (its work is in this process) or when /proc cannot be read."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_size=1) if url.startswith("postgres") else None
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float | None:
        if self.engine is None:
            return None
        with self.engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            total = 0
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    return None
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.tick


def measure(url: str, keys: dict[str, Any], home: Path, requests: int) -> dict[str, dict]:
    from fastapi.testclient import TestClient

    from dashboards.app import create_app
    from tracker.config import load_settings

    settings = load_settings(
        env={
            "TRACKER_HOME": str(home),
            "TRACKER_DATABASE_URL": url,
            "TRACKER_TODAY": TODAY.isoformat(),
            "TRACKER_OUR_ORGNRS": keys["us"],
        }
    )
    engine = make_engine(url)
    app = create_app(settings, engine=engine)
    pages = {
        "baseline (/me)": "/me",  # a small page: what the machine's load costs any request
        "supplier (us)": f"/suppliers/{keys['us']}",
        "supplier (top)": f"/suppliers/{keys['top_competitor']}",
        "supplier (typ.)": f"/suppliers/{keys['typical_supplier']}",
        "buyer (busiest)": f"/buyers/{keys['busiest_buyer']}",
        "buyer (typical)": f"/buyers/{keys['typical_buyer']}",
        "director market": "/director/market",
        "director (all)": "/director/market?scope=all",
    }
    out = {}
    server = _ServerCpu(url)
    with TestClient(app) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        res = client.post(
            "/login",
            data={"email": DIRECTOR, "password": PASSWORD, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        if res.status_code != 303:
            raise RuntimeError("login failed")
        for name, path in pages.items():
            times, cpu, db_cpu = [], [], []
            for i in range(requests + 2):
                s0 = server.seconds()
                t0, c0 = time.perf_counter(), time.process_time()
                res = client.get(path)
                elapsed = (time.perf_counter() - t0) * 1000
                if res.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {res.status_code}: {res.text[:300]}")
                if i >= 2:
                    times.append(elapsed)
                    cpu.append((time.process_time() - c0) * 1000)
                    s1 = server.seconds()
                    if s0 is not None and s1 is not None:
                        db_cpu.append((s1 - s0) * 1000)
            times.sort()
            out[name] = {
                "n": len(times),
                "cpu_p50": statistics.median(cpu),
                "db_cpu": statistics.mean(db_cpu) if db_cpu else None,
                "p50": statistics.median(times),
                "p95": _p95(times),
                "max": times[-1],
                "bytes": len(res.content),
            }
    _model_times(engine, keys, requests, out)
    engine.dispose()
    return out


def _model_times(engine: Engine, keys: dict[str, Any], requests: int, out: dict) -> None:
    """The read model alone (tracker.market: SQL and folding, no HTTP, no template)."""
    from tracker.market.buyer import buyer_page
    from tracker.market.director import director_market
    from tracker.market.supplier import supplier_page

    ours = [keys["us"]]
    models = {
        "supplier (us)": lambda s: supplier_page(s, keys["us"], TODAY, ours, buyer_rows=30),
        "supplier (top)": lambda s: supplier_page(
            s, keys["top_competitor"], TODAY, ours, buyer_rows=30
        ),
        "supplier (typ.)": lambda s: supplier_page(
            s, keys["typical_supplier"], TODAY, ours, buyer_rows=30
        ),
        "buyer (busiest)": lambda s: buyer_page(s, keys["busiest_buyer"], TODAY),
        "buyer (typical)": lambda s: buyer_page(s, keys["typical_buyer"], TODAY),
        "director market": lambda s: director_market(s, TODAY, ours=ours),
        "director (all)": lambda s: director_market(s, TODAY, "all", ours=ours),
    }
    with Session(engine) as session:
        for name, call in models.items():
            times = []
            for _ in range(max(5, requests // 2)):
                t0 = time.perf_counter()
                call(session)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out[name]["model_p95"] = _p95(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--scale", type=float, default=0.1, help="1.0 = 500k notices, 100k contracts, 5k suppliers"
    )
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the databases a run with --workdir left"
    )
    parser.add_argument("--pg-database", default="tracker_market_bench")
    parser.add_argument("--seed-only", action="store_true", help="seed, do not measure")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tracker-market-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        url, keys = _seeded(backend, args, workdir)
        if args.seed_only:
            continue
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        res = measure(url, keys, workdir, args.requests)
        load1 = os.getloadavg()
        print(
            f"measured in {time.perf_counter() - t0:.1f} s; load average before "
            f"{load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}, after {load1[0]:.1f} {load1[1]:.1f} "
            f"{load1[2]:.1f} on {os.cpu_count()} cores"
        )
        print(
            f"{'page':<18}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'KB':>7}{'model p95':>11}"
            f"{'cpu p50':>9}{'db cpu avg':>12}"
        )
        for name, r in res.items():
            flag = "" if r["p95"] < 300 else "  (over 300 ms)"
            model = f"{r['model_p95']:>11.0f}" if "model_p95" in r else f"{'':>11}"
            db = r["db_cpu"]
            db_cpu = f"{db:>12.0f}" if db is not None else f"{'':>12}"
            print(
                f"{name:<18}{r['n']:>4}{r['p50']:>9.0f}{r['p95']:>9.0f}{r['max']:>9.0f}"
                f"{r['bytes'] / 1024:>7.0f}{model}{r['cpu_p50']:>9.0f}{db_cpu}{flag}"
            )


if __name__ == "__main__":
    main()
