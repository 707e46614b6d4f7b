"""Backfill across two local Scrapyd daemons into PostgreSQL; one daemon dies mid-run.

The daemons are the project's own ``scrapyd`` (``python -m scrapyd``) on 127.0.0.1 at
random ports, each in its own temporary directory, with the environment of a node
(the test's PostgreSQL database, the replay server's archive URL). The stand-in server
is the replay server with replicas of the real notices. ``TRACKER_SCRAPYD_NOTICES``
sets how many (default a few hundred; 20,000 under ``TRACKER_SLOW_TESTS=1``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.replay import synthetic_days
from tracker.db.models import HarvestDay, Notice
from tracker.ops.crawl import backfill_on_scrapyd, build_egg

SLOW = os.environ.get("TRACKER_SLOW_TESTS") == "1"
FIRST_DAY = dt.date(2021, 3, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One Scrapyd daemon in its own directory and process group."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.dir = root
        self.dir.mkdir(parents=True)
        self.port = free_port()
        (self.dir / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            "max_proc = 2\n"
            "poll_interval = 0.5\n"
            f"eggs_dir = {self.dir / 'eggs'}\n"
            f"logs_dir = {self.dir / 'logs'}\n"
            f"dbs_dir = {self.dir / 'dbs'}\n"
            "items_dir =\n"
            "jobs_to_keep = 50\n",
            encoding="utf-8",
        )
        self.log = (self.dir / "daemon.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"],
            cwd=self.dir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killing it kills its jobs
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/daemonstatus.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"scrapyd did not start: {(self.dir / 'daemon.log').read_text()}"
                )
            time.sleep(0.3)

    def running(self) -> int:
        try:
            r = httpx.get(f"{self.url}/listjobs.json", params={"project": "tracker"}, timeout=20)
        except httpx.HTTPError:  # a busy daemon on a loaded machine: ask again
            return 0
        return len(r.json().get("running", []))

    def kill(self) -> None:
        """The node dies: the daemon and the crawls it started, at once."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def diagnose(nodes: list[Node], outcome: dict[str, object]) -> str:
    """The coordinator's log and the end of each node's logs (for a failed assertion)."""
    parts = [repr(outcome.get("error")), "\n".join(outcome.get("log", []))]  # type: ignore[arg-type]
    for n in nodes:
        parts.append((n.dir / "daemon.log").read_text(errors="replace")[-2000:])
        for log in sorted((n.dir / "logs").rglob("*.log"))[-2:]:
            parts.append(f"{log}:\n" + log.read_text(errors="replace")[-3000:])
    return "\n----\n".join(parts)


def notices_wanted() -> int:
    default = 20000 if SLOW else 240
    return int(os.environ.get("TRACKER_SCRAPYD_NOTICES", default))


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("Scrapyd backfill needs PostgreSQL (TRACKER_TEST_DATABASE_URL)")
    return db_url


def test_backfill_across_two_scrapyd_nodes_one_killed_stores_each_notice_once(
    pg_url, engine, replay, tmp_path
):
    total = notices_wanted()
    n_days = 8 if total < 2000 else 40
    per_day = {FIRST_DAY + dt.timedelta(days=i): total // n_days for i in range(n_days)}
    per_day[FIRST_DAY] += total - sum(per_day.values())
    notices = synthetic_days(per_day)
    assert len(notices) == total
    replay.start(notices=notices)
    # The nodes' own configuration names a rules file they do not have: they derive
    # with the rules the coordinator passes (its defaults), never with their own.
    node_env = {"TRACKER_TODAY": "2026-01-01", "PYTHONPATH": str(Path.cwd()),
                "TRACKER_RULES": str(tmp_path / "absent-rules.toml")}  # fmt: skip
    env = replay.proc_env(node_env)
    nodes = [Node(tmp_path / f"node{i}", env) for i in (1, 2)]
    try:
        egg = build_egg(tmp_path, "1")
        outcome: dict[str, object] = {}

        def coordinate() -> None:
            try:
                outcome["result"] = backfill_on_scrapyd(
                    [n.url for n in nodes],
                    "doffin_archive",
                    FIRST_DAY,
                    FIRST_DAY + dt.timedelta(days=n_days - 1),
                    engine=engine,
                    per_node=2,
                    slice_days=1 if SLOW else 2,  # fewer process starts in the quick run
                    settings={"LOG_LEVEL": "INFO", "DOWNLOAD_DELAY": "0"},
                    egg=egg,
                    version="1",
                    poll_seconds=0.5,
                    node_timeout=20,
                    log=lambda m: outcome.setdefault("log", []).append(m),  # type: ignore[union-attr]
                )
            except Exception as exc:  # reported below
                outcome["error"] = exc

        worker = threading.Thread(target=coordinate, daemon=True)
        worker.start()
        # Kill node 1 while it runs a slice (mid-run: its notices partly stored).
        deadline = time.monotonic() + 120
        while nodes[0].running() == 0:
            assert time.monotonic() < deadline, (
                f"node 1 never ran a job: {diagnose(nodes, outcome)}"
            )
            time.sleep(0.2)
        time.sleep(1.0)
        nodes[0].kill()
        worker.join(timeout=1800 if SLOW else 300)
        assert not worker.is_alive(), "the backfill did not finish"
        assert "error" not in outcome, diagnose(nodes, outcome)
        result = outcome["result"]
        log = "\n".join(outcome.get("log", []))  # type: ignore[arg-type]
        assert result.ok, diagnose(nodes, outcome)  # type: ignore[attr-defined]
        assert nodes[0].url in result.dead_nodes  # type: ignore[attr-defined]
        assert result.rescheduled >= 1, log  # type: ignore[attr-defined]
        with Session(engine) as s:
            ids = list(s.scalars(select(Notice.source_id).where(Notice.source == "doffin")))
            days = list(s.scalars(select(HarvestDay).where(HarvestDay.source == "doffin")))
            underived = s.scalar(
                select(func.count()).select_from(Notice).where(Notice.derive_pending.is_(True))
            )
            versions = s.scalar(
                select(func.count()).select_from(
                    select(Notice.notice_id, Notice.version).distinct().subquery()
                )
            )
        assert len(ids) == total and len(set(ids)) == total  # every notice, once
        assert sorted(ids) == sorted(r.doffin_id for r in notices)
        assert versions == total
        assert underived == 0  # derived on the nodes, with the coordinator's rules
        assert len(days) == n_days and all(d.complete and d.hits == d.stored for d in days)
    finally:
        for n in nodes:
            n.stop()


class _Recorder:
    """A Scrapyd client that records what it is asked to schedule and fails no job."""

    def __init__(self) -> None:
        self.scheduled: list[dict[str, str]] = []

    def schedule(self, project, spider, args, settings):
        self.scheduled.append(settings)
        return f"job{len(self.scheduled)}"

    def jobs(self, project):
        return {}

    def close(self):
        pass


def test_every_node_gets_the_coordinators_rules(engine, tmp_path, monkeypatch):
    from tracker.ops import crawl

    rules = tmp_path / "rules.toml"
    rules.write_text('[profile]\ncpv_prefixes = ["33"]\n', encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(rules))
    recorder = _Recorder()
    monkeypatch.setattr(crawl, "Scrapyd", lambda url: recorder)
    kwargs = dict(engine=engine, poll_seconds=0, max_attempts=1, log=lambda m: None)
    day = FIRST_DAY
    backfill_on_scrapyd(["http://127.0.0.1:1"], "doffin", day, day, **kwargs)
    assert recorder.scheduled[0]["TRACKER_RULES_TOML"] == rules.read_text(encoding="utf-8")
    monkeypatch.delenv("TRACKER_RULES")
    backfill_on_scrapyd(["http://127.0.0.1:1"], "doffin", day, day, **kwargs)
    assert recorder.scheduled[1]["TRACKER_RULES_TOML"] == ""  # the shipped defaults
    rules.write_text("[profile\n", encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(rules))
    with pytest.raises(crawl.CrawlError, match=f"{rules}: not valid TOML"):
        backfill_on_scrapyd(["http://127.0.0.1:1"], "doffin", day, day, **kwargs)
    assert len(recorder.scheduled) == 2  # nothing scheduled with a bad rules file
    # Rules given as a setting of the crawl are those the nodes get.
    given = {"TRACKER_RULES_TOML": '[profile]\ncpv_prefixes = ["72"]\n'}
    backfill_on_scrapyd(["http://127.0.0.1:1"], "doffin", day, day, settings=given, **kwargs)
    assert recorder.scheduled[2]["TRACKER_RULES_TOML"] == given["TRACKER_RULES_TOML"]
