"""Run a spider as a subprocess (``python -m scrapy crawl NAME -a k=v``).

``tracker`` never imports ``spiders``: the crawl runs in its own process with the
project root as working directory (where ``scrapy.cfg`` is). The spider's pipeline
records the run itself (``tracker.harvest``); this module only learns its id.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tracker.config import load_settings
from tracker.errors import TrackerError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPIDERS = ("doffin", "ted", "brreg", "agreements", "doffin_archive", "ted_packages")


class CrawlError(TrackerError):
    """A crawl could not be started (raised by tracker.crawl)."""


@dataclass(frozen=True)
class CrawlResult:
    exit_code: int  # of the scrapy process
    run_id: int | None
    outcome: str | None = None  # of the recorded run: ok|partial|failed (None: no run)


def crawl_command(spider: str, args: dict[str, str | None], settings: dict[str, str]) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for key, value in args.items():
        if value not in (None, ""):
            cmd += ["-a", f"{key}={value}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def run_crawl(
    spider: str,
    args: dict[str, str | None] | None = None,
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
    from tracker.db import get_engine, session_scope
    from tracker.models import Run

    with session_scope(get_engine(settings=load_settings(env))) as session:
        run = session.get(Run, run_id)
        return run.outcome if run is not None else None
