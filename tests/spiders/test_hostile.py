"""One harvest against a hostile stand-in Doffin stores every served notice exactly once.

The stand-in (``tests.replay``) answers with 429 bursts, 500s on searches and
downloads, truncated JSON and XML bodies, a connection cut short, raw control
characters, hits repeated across pages, offset paging that shifts between pages (a hit
of page N shows again on page N+1 and another slips out of the listing) and a day over
the per-query hit cap (scaled down: 2 hits a page, 4 a query). A listing that falls
short of its total is listed again at once, narrowed until it fits on one page; a day
that stays short makes the run ``partial`` with exit code 4. A crawl in which no
request got an answer is ``failed`` (exit 1); one without an API key does not start.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.replay import Faults, load_real_notices, replicate, synthetic_days
from tests.support.crawls import FAST, days, open_failures, run_row, source_ids, sqlite_only
from tracker.cli import main
from tracker.db.models import Notice, Run
from tracker.ops.crawl import PROJECT_ROOT, crawl_command

SMALL = {"DOFFIN_PAGE_SIZE": "2", "DOFFIN_HIT_CAP": "4"}
NOVEMBER = [r for r in load_real_notices() if r.day.year == 2022 and r.day.month == 11]
BIG_DAY, PAGED_DAY = dt.date(2022, 11, 15), dt.date(2022, 11, 22)
HOSTILE = Faults(
    burst_429_after=4,
    burst_429_count=6,
    retry_after=1,
    fail_500={"2022-945801": 2, "2022-900003": 1},
    search_500={"2022-11-09": 1, "2022-11-15": 1},
    truncate={"2022-963627": 1, "2022-900001": 1},
    truncate_search={"2022-11-22": 1},
    cut={"2022-697882": 1},
    duplicate_hits=1,
    shift_pages=5,
    hit_cap=4,
    control_chars=True,
)


def _crawl_cli(replay, monkeypatch, *args: str) -> object:
    for key, value in replay.proc_env().items():
        monkeypatch.setenv(key, value)
    cli = ["crawl", *args]
    for name, value in {**FAST, **SMALL}.items():
        cli += ["-s", f"{name}={value}"]
    return CliRunner().invoke(main, cli)


@pytest.mark.pg_slow
def test_one_run_against_a_hostile_doffin_stores_every_notice_once(
    replay, engine, db_url, monkeypatch
) -> None:
    notices = NOVEMBER + synthetic_days({BIG_DAY: 7, PAGED_DAY: 5})
    replay.start(HOSTILE, notices)
    expected = sorted(r.doffin_id for r in notices)
    assert len(expected) == 18
    out = _crawl_cli(
        replay, monkeypatch, "doffin", "--since", "2022-11-01", "--until", "2022-11-30"
    )
    assert out.exit_code == 0, out.output
    counts = replay.stats["counts"]
    # Every fault was served (else this test proves nothing)...
    for fault in (
        "burst_429", "fail_500", "search_500", "truncate", "truncate_search", "cut",
        "shift_pages",
    ):  # fmt: skip
        assert counts.get(f"fault:{fault}", 0) >= 1, fault
    # ...and in this one run every served notice is stored, once.
    assert source_ids(engine) == expected
    with Session(engine) as s:
        per_identity = s.execute(
            select(Notice.notice_id, Notice.version, func.count()).group_by(
                Notice.notice_id, Notice.version
            )
        ).all()
        run = s.scalars(select(Run).order_by(Run.id.desc())).first()
    assert len(per_identity) == 18 and all(n == 1 for _, _, n in per_identity)
    assert run.outcome == "ok", (run.counts, run.error)
    # Listings fell short (shifted pages, a failed search) and were listed again.
    assert run.counts["days_incomplete"] == 0 and run.counts["short_listings"] >= 1
    assert run.counts["failures"] == 0 and open_failures(engine) == {}
    assert all(d.complete for d in days(engine).values())
    assert days(engine)[BIG_DAY.isoformat()].hits == 7


def test_a_listing_that_stays_short_is_a_partial_run_with_exit_code_4(
    replay, engine, db_url, monkeypatch
) -> None:
    sqlite_only(db_url)  # outcome and exit code do not depend on the backend
    template = next(r for r in NOVEMBER if r.doffin_id == "2022-963627")
    # Four notices of one type and status (no finer slice), and every page after the
    # first shifts: the fourth never shows.
    notices = replicate(template, PAGED_DAY, 4)
    replay.start(Faults(shift_pages=10**6, control_chars=True), notices)
    out = _crawl_cli(
        replay, monkeypatch, "doffin", "--since", "2022-11-22", "--until", "2022-11-22"
    )
    assert out.exit_code == 4, out.output
    assert "partial: 1 day(s) incomplete" in out.output
    run_id = int(out.output.split(", run ")[1].split()[0])
    run = run_row(engine, run_id)
    assert run.outcome == "partial" and run.counts["days_incomplete"] == 1
    assert run.counts["relisted"] == 3  # bounded: then the day is left for the next run
    assert days(engine)[PAGED_DAY.isoformat()].complete is False
    assert replay.stats["counts"]["doffin_search"] < 40


def test_every_request_refused_is_a_failed_run(replay, engine, db_url, monkeypatch) -> None:
    sqlite_only(db_url)  # outcome and exit code do not depend on the backend
    replay.start()
    for key, value in replay.proc_env().items():
        monkeypatch.setenv(key, value)
    from tests.ops.conftest import free_port

    monkeypatch.setenv("TED_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    cli = ["crawl", "ted", "--since", "2023-01-02", "--until", "2023-01-03"]
    for name, value in FAST.items():
        cli += ["-s", f"{name}={value}"]
    out = CliRunner().invoke(main, cli)
    assert out.exit_code == 1, out.output
    assert " failed: " in out.output and "no request got a usable answer" in out.output
    with Session(engine) as s:
        run = s.scalars(select(Run).order_by(Run.id.desc())).first()
    assert run.outcome == "failed" and run.counts["ok_responses"] == 0


def test_doffin_without_an_api_key_does_not_start(replay, engine, db_url, monkeypatch) -> None:
    sqlite_only(db_url)  # outcome and exit code do not depend on the backend
    replay.start()
    for key, value in replay.proc_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOFFIN_API_KEY")
    out = CliRunner().invoke(main, ["crawl", "doffin", "--since", "2022-11-01"])
    assert out.exit_code == 2 and len(out.output.splitlines()) == 1
    assert "DOFFIN_API_KEY is not set" in out.output and "Traceback" not in out.output
    assert replay.stats["requests"] == 0
    # Started directly (scrapy crawl doffin), the spider closes at once and says why.
    env = {k: v for k, v in replay.proc_env().items() if k != "DOFFIN_API_KEY"}
    cmd = crawl_command("doffin", {"since": "2022-11-01", "until": "2022-11-02"}, FAST)
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=120)
    with Session(engine) as s:
        run = s.scalars(select(Run).order_by(Run.id.desc())).first()
    assert run.outcome == "failed" and "DOFFIN_API_KEY is not set" in (run.error or "")
    assert replay.stats["requests"] == 0
