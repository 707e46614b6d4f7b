"""Real crawls of the Doffin, TED and brreg spiders against the replay server."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.replay import Faults, load_real_notices, synthetic_days
from tests.support.crawls import FAST, days, open_failures, run_row, source_ids, sqlite_only
from tracker.accounts.registry import is_public_body, orgnrs_to_enrich
from tracker.cli import main
from tracker.db.models import Notice, Organisation, Run
from tracker.ops.crawl import PROJECT_ROOT, crawl_command

REAL = load_real_notices()


def served(since: str, until: str, notices=REAL) -> list[str]:
    lo, hi = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
    return sorted(r.doffin_id for r in notices if lo <= r.day <= hi)


@pytest.mark.pg_slow
def test_crawl_stores_exactly_the_served_notices_once_across_sources(replay, engine, monkeypatch):
    replay.start()
    expected = served("2022-07-05", "2022-07-21")
    assert len(expected) == 5
    result = replay.crawl("doffin", since="2022-07-05", until="2022-07-21")
    assert result.exit_code == 0
    assert source_ids(engine) == expected
    run = run_row(engine, result.run_id)
    assert (run.kind, run.name, run.outcome) == ("crawl", "doffin", "ok")
    assert run.counts["new"] == 5 and run.counts["failures"] == 0
    assert run.args["since"] == "2022-07-05"
    harvested = days(engine)
    assert len(harvested) == 17 and all(d.complete for d in harvested.values())
    assert harvested["2022-07-05"].hits == 1 and harvested["2022-07-06"].stored == 1
    # The search-hit metadata the XML lacks is kept with the notice.
    with Session(engine) as s:
        n = s.scalar(select(Notice).where(Notice.source_id == "2022-352534"))
        assert n is not None and n.status == "EXPIRED"
        assert n.source_meta["doffinId"] == "2022-352534"

    # TED serves the EU notices again under publication numbers: each is stored once.
    ted = replay.crawl("ted", since="2022-07-05", until="2022-07-21")
    assert ted.exit_code == 0 and replay.stats["counts"]["ted_search"] >= 17
    ted_run = run_row(engine, ted.run_id)
    assert ted_run.counts["new"] == 0 and ted_run.counts["unchanged"] == 5
    assert all(d.complete for d in days(engine, "ted").values())
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 5

    # A rerun (through the CLI) lists the days again but downloads nothing already stored.
    before = replay.stats["counts"].get("doffin_download", 0)
    for key, value in replay.proc_env().items():
        monkeypatch.setenv(key, value)
    args = ["crawl", "doffin", "--since", "2022-07-05", "--until", "2022-07-21"]
    for name, value in FAST.items():
        args += ["-s", f"{name}={value}"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "crawl doffin: exit 0, run 3 ok:" in out.output and " new=0 " in out.output
    assert replay.stats["counts"].get("doffin_download", 0) == before
    assert source_ids(engine) == expected


FAULTS = Faults(
    burst_429_after=3,
    burst_429_count=3,
    retry_after=1,
    fail_500={"2022-945801": 2, "2022-976327": 4},  # the second outlasts 4 tries
    search_500={"2022-11-20": 1},
    stall={"2022-902600": 1},
    stall_seconds=1.6,
    truncate={"2022-963627": 1},
    cut={"2022-697882": 1},
    missing=["2022-642893"],
    duplicate_hits=1,
    hit_cap=4,
)
BIG_DAY = dt.date(2022, 11, 15)


@pytest.mark.pg_slow
def test_faults_then_rerun_store_every_retrievable_notice_once(replay, engine):
    notices = REAL + synthetic_days({BIG_DAY: 6})
    replay.start(FAULTS, notices)
    small = {"DOFFIN_PAGE_SIZE": "2", "DOFFIN_HIT_CAP": "4"}
    expected = served("2022-11-01", "2022-11-30", notices)
    assert len(expected) == 12
    first = replay.crawl("doffin", small, since="2022-11-01", until="2022-11-30")
    assert first.exit_code == 0
    counts = replay.stats["counts"]
    # Every fault was really served (otherwise this test proves nothing).
    for fault in ("burst_429", "fail_500", "search_500", "stall", "truncate", "cut"):
        assert counts.get(f"fault:{fault}", 0) >= 1, fault
    assert counts["status:404"] >= 1
    stored_first = source_ids(engine)
    assert stored_first == sorted(set(expected) - {"2022-642893", "2022-976327"})
    failures = open_failures(engine)
    assert failures == {"2022-642893": "HTTP 404", "2022-976327": "HTTP 500"}
    run = run_row(engine, first.run_id)
    assert run.outcome == "partial" and run.counts["failures"] == 2
    assert run.counts["rate_limited"] >= 3
    harvested = days(engine)
    assert harvested[BIG_DAY.isoformat()].complete and harvested[BIG_DAY.isoformat()].hits == 6
    assert not harvested["2022-11-04"].complete  # 2022-976327 failed
    assert harvested["2022-11-20"].complete  # search 500 retried

    with Session(engine) as s:
        pks_first = dict(s.execute(select(Notice.source_id, Notice.id)).all())

    second = replay.crawl("doffin", small, until="2022-11-30")
    assert second.exit_code == 0
    stored = source_ids(engine)
    assert stored == sorted(set(expected) - {"2022-642893"})
    assert len(stored) == len(set(stored))  # once each
    with Session(engine) as s:
        pks = dict(s.execute(select(Notice.source_id, Notice.id)).all())
        per_identity = s.execute(
            select(Notice.notice_id, Notice.version, func.count()).group_by(
                Notice.notice_id, Notice.version
            )
        ).all()
    assert all(n == 1 for _, _, n in per_identity)
    assert all(pks[k] == v for k, v in pks_first.items())  # nothing stored before is lost
    assert open_failures(engine) == {"2022-642893": "HTTP 404"}
    listing = CliRunner().invoke(main, ["crawl-failures", "doffin"])
    assert "doffin 2022-642893 (issue day 2022-11-29): HTTP 404 [2 attempt(s)]" in listing.output
    assert "1 open failure(s)" in listing.output
    assert days(engine)["2022-11-04"].complete
    assert run_row(engine, second.run_id).outcome == "partial"


@pytest.mark.pg_slow
def test_killed_crawl_restarts_without_gaps_or_duplicates(replay, engine, tracker_env):
    notices = synthetic_days({dt.date(2024, 3, d): 4 for d in range(1, 11)})
    replay.start(Faults(), notices)
    settings = {**FAST, "DOWNLOAD_DELAY": "0.05", "PACING_MIN_DELAY": "0.05"}
    cmd = crawl_command("doffin", {"since": "2024-03-01", "until": "2024-03-10"}, settings)
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=replay.proc_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if sum(d.complete for d in days(engine).values()) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the crawl ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = source_ids(engine)
    assert 0 < len(partial) < 40
    # Restart without --since: resumes from the harvest state.
    result = replay.crawl("doffin", until="2024-03-10")
    assert result.exit_code == 0
    stored = source_ids(engine)
    assert stored == sorted(r.doffin_id for r in notices)
    assert all(d.complete for d in days(engine).values())
    with Session(engine) as s:
        runs = s.scalars(select(Run).order_by(Run.id)).all()
    assert [r.outcome for r in runs] == ["failed", "ok"]
    assert "interrupted" in (runs[0].error or "")


BRREG_NOTICES = [
    "ContractAwardNotice_can-modif_2022-627512.xml",  # Oslo kommune v/Vann- og avløpsetaten
    "PriorInformationNotice_pin-cfc-standard_2022-976327.xml",  # Oslo kommune v/ Sykehjemsetaten
    "ContractNotice_qu-sy_2023-102500.xml",  # Elmea AS: not in the replay register
    "ContractNotice_cn-standard_2022-963627.xml",  # Tolletaten
]


def test_brreg_follows_parents_and_survives_404s(replay, engine):
    from tests.conftest import REAL as REAL_DIR
    from tracker.notices.ingest import Ingestor

    with Ingestor(engine, source="file") as ing:
        for name in BRREG_NOTICES:
            ing.add((REAL_DIR / name).read_bytes(), location=name)
    with Session(engine) as s:
        todo = orgnrs_to_enrich(s)
    assert {"971185589", "990612498", "986347801"} <= set(todo)
    replay.start(Faults(fail_500={}))
    result = replay.crawl("brreg")
    assert result.exit_code == 0
    with Session(engine) as s:
        orgs = {o.orgnr: o for o in s.scalars(select(Organisation)) if o.orgnr}
        assert orgnrs_to_enrich(s) == []
    vav, home, oslo = orgs["971185589"], orgs["990612498"], orgs["958935420"]
    assert (vav.register_status, vav.org_form, vav.parent_orgnr) == ("enhet", "ORGL", "958935420")
    assert (home.register_status, home.parent_orgnr) == ("underenhet", "958935420")
    assert (oslo.register_status, oslo.org_form, oslo.parent_orgnr) == ("enhet", "KOMM", None)
    assert oslo.register_name == "OSLO KOMMUNE" and oslo.sector_code == "6500"
    assert orgs["986347801"].register_status == "unknown"
    assert is_public_body(vav) and is_public_body(oslo) and not is_public_body(orgs["986347801"])
    counts = replay.stats["counts"]
    assert counts["brreg_underenheter"] >= 2  # 404 on /enheter fell back to /underenheter
    run = run_row(engine, result.run_id)
    assert run.outcome == "ok" and run.counts["register_unknown"] >= 1


@pytest.mark.parametrize("spider", ["doffin", "ted", "brreg"])
def test_every_spider_starts(replay, engine, db_url, spider):
    sqlite_only(db_url)
    replay.start()
    args = {} if spider == "brreg" else {"since": "2021-01-01", "until": "2021-01-02"}
    result = replay.crawl(spider, **args)
    assert result.exit_code == 0
    run = run_row(engine, result.run_id)
    assert run.name == spider and run.outcome == "ok" and run.finished_at is not None


def test_api_key_is_sent_and_never_logged(replay, engine, db_url):
    sqlite_only(db_url)
    key = "replay-secret-key-8f3a"
    replay.start(Faults(require_key=key))
    settings = {**FAST, "LOG_LEVEL": "DEBUG"}
    cmd = crawl_command("doffin", {"since": "2023-07-06", "until": "2023-07-07"}, settings)
    out = subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        env=replay.proc_env({"DOFFIN_API_KEY": key}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert source_ids(engine) == served("2023-07-06", "2023-07-07")  # no 401s
    assert key not in out.stdout + out.stderr
    with Session(engine) as s:
        assert all(key not in str(r.args) for r in s.scalars(select(Run)))


@pytest.mark.slow  # 1,005 notices: skipped unless TRACKER_SLOW_TESTS=1 (tests/conftest.py)
def test_a_day_over_the_real_1000_hit_cap_is_split(replay, engine):
    notices = synthetic_days({dt.date(2024, 5, 2): 1005})
    replay.start(Faults(), notices)
    result = replay.crawl("doffin", since="2024-05-02", until="2024-05-02")
    assert result.exit_code == 0
    assert len(source_ids(engine)) == 1005
    assert days(engine)["2024-05-02"].complete
