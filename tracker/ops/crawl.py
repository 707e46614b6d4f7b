"""Run a spider as a subprocess (``python -m scrapy crawl NAME -a k=v``).

``tracker`` never imports ``spiders``: the crawl runs in its own process with the
project root as working directory (where ``scrapy.cfg`` is). The spider's pipeline
records the run itself (``tracker.notices.harvest``); this module only learns its id.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tracker.config import load_settings
from tracker.errors import ConfigError, TrackerError
from tracker.rules import parse_rules, rules_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPIDERS = ("doffin", "ted", "brreg", "agreements", "doffin_archive", "ted_packages")


class CrawlError(TrackerError):
    """A crawl could not be started (raised by tracker.ops.crawl)."""


@dataclass(frozen=True)
class CrawlResult:
    exit_code: int  # of the scrapy process
    run_id: int | None
    outcome: str | None = None  # of the recorded run: ok|partial|failed (None: no run)


def crawl_command(
    spider: str, args: Mapping[str, str | None], settings: Mapping[str, str]
) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for key, value in args.items():
        if value not in (None, ""):
            cmd += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def run_crawl(
    spider: str,
    args: Mapping[str, str | None] | None = None,
    settings: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> CrawlResult:
    """Run ``spider`` to the end; returns its exit code and the recorded run id.

    Example: ``run_crawl("doffin", {"since": "2024-01-01", "until": "2024-01-31"})``.
    ``settings`` are Scrapy ``-s`` overrides; ``env`` replaces the environment.
    """
    if spider not in SPIDERS:
        raise CrawlError(f"unknown spider {spider!r}; choose one of {', '.join(SPIDERS)}")
    if spider == "doffin" and not load_settings(env).doffin_api_key:
        raise CrawlError(
            "DOFFIN_API_KEY is not set: the Doffin API refuses every request without a "
            "subscription key (free registration at doffin.no); set it in the environment "
            "or the config file"
        )
    if not (PROJECT_ROOT / "scrapy.cfg").is_file():
        raise CrawlError(f"{PROJECT_ROOT}: no scrapy.cfg (the spiders are not installed here)")
    with tempfile.TemporaryDirectory(prefix="tracker-crawl-") as tmp:
        id_file = Path(tmp) / "run_id"
        all_settings = {**(settings or {}), "TRACKER_RUN_ID_FILE": str(id_file)}
        cmd = crawl_command(spider, args or {}, all_settings)
        proc_env = dict(os.environ if env is None else env)
        proc_env.setdefault("SCRAPY_SETTINGS_MODULE", "spiders.settings")
        try:
            code = subprocess.run(cmd, cwd=PROJECT_ROOT, env=proc_env, timeout=timeout).returncode
        except subprocess.TimeoutExpired as exc:
            raise CrawlError(f"crawl {spider} did not finish within {timeout} s") from exc
        text = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() else ""
    run_id = int(text) if text.isdigit() else None
    return CrawlResult(code, run_id, run_outcome(run_id, proc_env))


def run_outcome(run_id: int | None, env: dict[str, str] | None = None) -> str | None:
    """The outcome the crawl recorded for its run (None without a run)."""
    if run_id is None:
        return None
    from tracker.db.engine import get_engine, session_scope
    from tracker.db.models import Run

    with session_scope(get_engine(settings=load_settings(env))) as session:
        run = session.get(Run, run_id)
        return run.outcome if run is not None else None


# --------------------------------------------------------------------------- Scrapyd

# The notices.source each notice spider harvests (harvest_days are kept per source).
SPIDER_SOURCES = {
    "doffin": "doffin",
    "doffin_archive": "doffin",
    "ted": "ted",
    "ted_packages": "ted",
}
SCRAPYD_PROJECT = "tracker"


def build_egg(out_dir: Path, version: str) -> Path:
    """An egg of the spiders for Scrapyd's ``addversion.json``: the ``spiders``
    package plus ``EGG-INFO`` whose ``[scrapy] settings`` entry point names
    ``spiders.settings``. ``tracker`` is not in it: a node runs the jobs with the
    project installed (the spiders store through ``tracker``)."""
    import zipfile

    path = out_dir / f"tender_tracker_spiders-{version}-py3.egg"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as egg:
        for file in sorted((PROJECT_ROOT / "spiders").rglob("*.py")):
            egg.write(file, file.relative_to(PROJECT_ROOT).as_posix())
        egg.writestr(
            "EGG-INFO/PKG-INFO",
            f"Metadata-Version: 2.1\nName: tender-tracker-spiders\nVersion: {version}\n",
        )
        egg.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = spiders.settings\n")
        egg.writestr("EGG-INFO/top_level.txt", "spiders\n")
        egg.writestr("EGG-INFO/zip-safe", "")
    return path


def day_slices(since: date, until: date, slice_days: int = 1) -> list[tuple[date, date]]:
    """``since..until`` cut into slices of ``slice_days`` days (the last may be shorter)."""
    if since > until:
        raise CrawlError(f"since {since} is after until {until}")
    if slice_days < 1:
        raise CrawlError(f"--slice-days {slice_days}: at least 1")
    out = []
    start = since
    while start <= until:
        end = min(start + timedelta(days=slice_days - 1), until)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


@dataclass
class SliceJob:
    since: date
    until: date
    attempts: int = 0
    node: str | None = None
    job: str | None = None
    done: bool = False
    history: list[str] = field(default_factory=list)  # "node job outcome" per attempt


@dataclass
class BackfillResult:
    slices: list[SliceJob]
    dead_nodes: list[str]
    rescheduled: int

    @property
    def ok(self) -> bool:
        return all(s.done for s in self.slices)


class Scrapyd:
    """The part of Scrapyd's JSON API the backfill uses (one node)."""

    def __init__(self, url: str, timeout: float = 10.0, auth: tuple[str, str] | None = None):
        import httpx

        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout, auth=auth)

    def _check(self, response: Any) -> dict[str, Any]:
        response.raise_for_status()
        data = response.json()
        if data.get("status") != "ok":
            raise CrawlError(f"{self.url}: {data.get('message') or data}")
        return dict(data)

    def add_version(self, project: str, version: str, egg: Path) -> None:
        with egg.open("rb") as fh:
            self._check(
                self.client.post(
                    f"{self.url}/addversion.json",
                    data={"project": project, "version": version},
                    files={"egg": (egg.name, fh, "application/octet-stream")},
                    # Scrapyd lists the egg's spiders in a new process before answering.
                    timeout=300,
                )
            )

    def schedule(
        self, project: str, spider: str, args: dict[str, str], settings: dict[str, str]
    ) -> str:
        data: dict[str, Any] = {"project": project, "spider": spider, **args}
        if settings:
            data["setting"] = [f"{k}={v}" for k, v in settings.items()]
        # The first schedule of a version lists its spiders in a new process: slow on a
        # busy node, so a long timeout rather than a second job for the same slice.
        response = self.client.post(f"{self.url}/schedule.json", data=data, timeout=300)
        return str(self._check(response)["jobid"])

    def jobs(self, project: str) -> dict[str, str]:
        """job id -> pending|running|finished."""
        data = self._check(
            self.client.get(f"{self.url}/listjobs.json", params={"project": project})
        )
        return {j["id"]: state for state in ("pending", "running", "finished") for j in data[state]}

    def close(self) -> None:
        self.client.close()


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _unreachable(exc: BaseException) -> bool:
    """The node is not there (refused, no route), as opposed to slow or in error."""
    import httpx

    return isinstance(exc, httpx.ConnectError | httpx.RemoteProtocolError)


def slice_complete(engine: Any, source: str, since: date, until: date) -> bool:
    """Every day of the slice harvested completely (``harvest_days.complete``)."""
    from sqlalchemy import func, select

    from tracker.db.engine import session_scope
    from tracker.db.models import HarvestDay

    with session_scope(engine) as session:
        complete = session.scalar(
            select(func.count())
            .select_from(HarvestDay)
            .where(
                HarvestDay.source == source,
                HarvestDay.day.between(since, until),
                HarvestDay.complete.is_(True),
            )
        )
    return int(complete or 0) == (until - since).days + 1


def backfill_on_scrapyd(
    nodes: list[str],
    spider: str,
    since: date,
    until: date,
    *,
    engine: Any,
    slice_days: int = 1,
    per_node: int = 2,
    settings: dict[str, str] | None = None,
    egg: Path | None = None,
    version: str | None = None,
    poll_seconds: float = 2.0,
    node_timeout: float = 20.0,
    max_attempts: int = 3,
    rules_toml: str | None = None,
    log: Callable[[str], None] = print,
) -> BackfillResult:
    """Split ``since..until`` into day slices and run them across Scrapyd ``nodes``.

    Each slice is one job (``schedule.json``: ``since``, ``until``, ``failures=window``
    so two slices never retry the same failure); at most ``per_node`` jobs run on a
    node. Jobs are followed with ``listjobs.json``. A finished job whose days are not
    all complete in ``harvest_days`` (read from ``engine``, the database every node
    stores into) is scheduled again; a node that does not answer for
    ``node_timeout`` seconds is dropped and its slices go to the others. A notice is
    stored once however often its slice runs: the ingest is keyed by notice-id and
    version (a unique constraint), and a rerun finds it unchanged. Every node derives
    contracts with ``rules_toml`` (a rules file's text; default: this machine's
    configured rules file, the shipped defaults without one), not with its own.
    """
    if spider not in SPIDER_SOURCES:
        raise CrawlError(
            f"{spider}: only the notice spiders run on Scrapyd ({', '.join(SPIDER_SOURCES)})"
        )
    if not nodes:
        raise CrawlError("no Scrapyd node given")
    source = SPIDER_SOURCES[spider]
    clients = {url: Scrapyd(url) for url in nodes}
    shown = {url: _without_password(url) for url in nodes}

    def say(message: str) -> None:  # node URLs may carry a password: never print it
        for url, safe in shown.items():
            message = message.replace(url, safe)
        log(message)

    settings = dict(settings or {})
    if rules_toml is None:
        rules_toml = settings.get("TRACKER_RULES_TOML")  # given as a setting of the crawl
    rules_name = "setting TRACKER_RULES_TOML"
    try:  # a bad rules file stops here, before a deploy, not in every job on every node
        if rules_toml is None:
            rules_toml, rules_name = rules_text()
        parse_rules(rules_toml, rules_name)
    except ConfigError as exc:
        raise CrawlError(str(exc)) from exc
    settings["TRACKER_RULES_TOML"] = rules_toml
    version = version or str(int(time.time()))
    if egg is not None:
        for url in nodes:
            clients[url].add_version(SCRAPYD_PROJECT, version, egg)
            say(f"{url}: project {SCRAPYD_PROJECT} version {version} deployed")
    slices = [SliceJob(a, b) for a, b in day_slices(since, until, slice_days)]
    run = _Backfill(
        engine=engine, spider=spider, source=source,
        settings=settings,
        per_node=per_node, node_timeout=node_timeout, max_attempts=max_attempts,
        clients=clients, say=say, alive=list(nodes), queue=list(slices),
    )  # fmt: skip
    try:
        while run.queue or run.running:
            if not run.alive:
                raise CrawlError(
                    "every Scrapyd node is gone; slices left: "
                    + ", ".join(f"{s.since}..{s.until}" for s in run.queue + run.running)
                )
            run.fill()
            time.sleep(poll_seconds)
            run.poll()
    finally:
        for c in clients.values():
            c.close()
    return BackfillResult(slices, [shown[u] for u in run.dead], run.rescheduled)


@dataclass
class _Backfill:
    """The state of one backfill across Scrapyd nodes (:func:`backfill_on_scrapyd`): the
    slices waiting and running, the nodes alive and dropped."""

    engine: Any
    spider: str
    source: str
    settings: dict[str, str]
    per_node: int
    node_timeout: float
    max_attempts: int
    clients: dict[str, Any]
    say: Callable[[str], None]
    alive: list[str]
    queue: list[SliceJob]
    running: list[SliceJob] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    silent_since: dict[str, float] = field(default_factory=dict)
    rescheduled: int = 0

    def busy(self, url: str) -> int:
        return sum(1 for s in self.running if s.node == url)

    def requeue(self, s: SliceJob, why: str) -> None:
        s.history.append(f"{s.node} {s.job} {why}")
        s.node = s.job = None
        self.running.remove(s)
        if s.attempts >= self.max_attempts:
            self.say(f"slice {s.since}..{s.until}: given up after {s.attempts} attempt(s) ({why})")
            return
        self.queue.insert(0, s)
        self.rescheduled += 1
        self.say(f"slice {s.since}..{s.until}: {why}; scheduled again")

    def drop(self, url: str, why: str) -> None:
        if url in self.alive:
            self.alive.remove(url)
            self.dead.append(url)
            self.say(f"{url}: node dropped ({why})")
        for s in [s for s in self.running if s.node == url]:
            self.requeue(s, f"node {url} lost")

    def fill(self) -> None:
        """Schedule waiting slices on free places, least busy node first."""
        for url in sorted(self.alive, key=self.busy):
            while self.queue and self.busy(url) < self.per_node:
                s = self.queue.pop(0)
                args = {"since": s.since.isoformat(), "until": s.until.isoformat(),
                        "failures": "window"}  # fmt: skip
                try:
                    job = self.clients[url].schedule(
                        SCRAPYD_PROJECT, self.spider, args, self.settings
                    )
                except Exception as exc:  # refused, timed out, bad answer
                    self.queue.insert(0, s)
                    if _unreachable(exc):
                        self.drop(url, f"schedule failed: {type(exc).__name__}: {exc}")
                    else:
                        self.say(f"{url}: schedule failed ({type(exc).__name__}: {exc}); later")
                    break
                s.node, s.job = url, job
                s.attempts += 1
                self.running.append(s)

    def poll(self) -> None:
        """Follow the jobs: a finished slice is done when its days are complete, else
        scheduled again; a node silent for ``node_timeout`` seconds is dropped."""
        for url in list(self.alive):
            try:
                states = self.clients[url].jobs(SCRAPYD_PROJECT)
            except Exception as exc:
                first = self.silent_since.setdefault(url, time.monotonic())
                if time.monotonic() - first >= self.node_timeout:
                    self.drop(url, f"no answer for {self.node_timeout:.0f} s: {type(exc).__name__}")
                continue
            self.silent_since.pop(url, None)
            for s in [s for s in self.running if s.node == url]:
                if states.get(s.job or "") in ("pending", "running"):
                    continue
                # finished, or gone from the node's list (a restarted daemon)
                if slice_complete(self.engine, self.source, s.since, s.until):
                    s.done = True
                    s.history.append(f"{url} {s.job} complete")
                    self.running.remove(s)
                else:
                    self.requeue(s, f"job {s.job} on {url} ended with days incomplete")
