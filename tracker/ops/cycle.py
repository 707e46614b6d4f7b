"""The daily cycle: harvest, enrich, relink, recompute, alert — each step recorded.

A cycle is a ``runs`` row (kind ``cycle``, name ``daily``); each step is a ``runs`` row
(kind ``step``, ``parent_id`` = the cycle) with its counts, attempts and outcome. A
failed step is retried with exponential backoff (``step_retries``,
``step_backoff_seconds``) and, if it still fails, the cycle goes on with the next
step: one source being down never stops the others. The cycle's outcome is ``ok``
(every step ok), ``partial`` or ``failed`` (every step failed).

Steps are plain :class:`Step` objects, so tests and the soak benchmark pass their own
list (for example one step replaced by a failing one). The default steps call the
other areas' public functions, imported when the step runs:

* ``doffin``, ``ted``, ``brreg``: ``tracker.ops.crawl.run_crawl(name, args)`` (a ``scrapy
  crawl`` subprocess resuming from the harvest state; a non-zero exit code is a failure);
* ``link``: ``tracker.linking.links.link_notices(session)``;
* ``opportunities``: ``tracker.opportunities.build.recompute(session, today, rules=...)``;
* ``alerts``: :func:`tracker.alerts.delivery.run_alerts`.

The caller holds the scheduler lock (see :mod:`tracker.ops.scheduler`); a cycle started
while an earlier process was killed marks that process's unfinished runs ``failed``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update

from tracker.config import SETTINGS, Settings
from tracker.db import runs
from tracker.db.engine import get_engine, session_scope
from tracker.db.models import Run, utcnow
from tracker.errors import TrackerError
from tracker.linking.links import link_notices
from tracker.opportunities.build import recompute
from tracker.ops import crawl
from tracker.rules import load_rules

log = logging.getLogger(__name__)


class StepFailed(TrackerError):
    """A cycle step reported failure (raised by the steps in tracker.ops.cycle)."""


@dataclass(frozen=True)
class StepContext:
    """What a step gets: where the data is, the settings, the cycle's day and run."""

    engine: Engine
    settings: Settings
    today: dt.date
    cycle_run_id: int


StepFunc = Callable[[StepContext], Any]


@dataclass(frozen=True)
class Step:
    name: str
    func: StepFunc
    help: str = ""


@dataclass
class StepResult:
    name: str
    outcome: str  # ok|failed|skipped
    attempts: int
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    run_id: int | None = None


@dataclass
class CycleResult:
    run_id: int
    outcome: str  # ok|partial|failed
    steps: list[StepResult]
    interrupted_runs: int = 0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


# --------------------------------------------------------------------------- default steps


def _as_counts(value: Any) -> dict[str, Any]:
    """Counts to record from whatever a step function returned."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if isinstance(v, (int, float, str, bool))}
    if isinstance(value, bool):
        return {"result": value}
    if isinstance(value, int):
        return {"count": value}
    counts = getattr(value, "counts", None)
    if callable(counts):
        return _as_counts(counts())
    if isinstance(counts, dict):
        return _as_counts(counts)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _as_counts(dataclasses.asdict(value))
    return {}


def spider_step(spider: str, args: dict[str, str] | None = None) -> StepFunc:
    """A step that runs ``scrapy crawl <spider>`` through ``tracker.ops.crawl.run_crawl``."""

    def run(ctx: StepContext) -> dict[str, Any]:
        result = crawl.run_crawl(spider, dict(args or {}))
        counts: dict[str, Any] = {"exit_code": result.exit_code}
        if result.run_id is not None:
            counts["crawl_run_id"] = result.run_id
            with session_scope(ctx.engine) as s:
                crawl_run = s.get(Run, result.run_id)
                if crawl_run is not None:
                    counts |= _as_counts(crawl_run.counts)
        if result.exit_code != 0:
            raise StepFailed(
                f"scrapy crawl {spider} exited with {result.exit_code} (crawl run {result.run_id})"
            )
        if result.outcome == "failed":  # nothing usable came back: retried like a crash
            raise StepFailed(f"crawl {spider} failed (crawl run {result.run_id})")
        return counts

    return run


def _link(ctx: StepContext) -> Any:
    with session_scope(ctx.engine) as s:
        return link_notices(s)


def _opportunities(ctx: StepContext) -> Any:
    with session_scope(ctx.engine) as s:
        rules = load_rules(settings=ctx.settings)
        return recompute(
            s,
            ctx.today,
            rules=rules,
            ours=ctx.settings.our_orgnr_list,
            workers=int(ctx.settings.workers),  # TRACKER_WORKERS
        )


def _alerts(ctx: StepContext) -> Any:
    from tracker.alerts.delivery import run_alerts

    with session_scope(ctx.engine) as s:
        report = run_alerts(s, ctx.today, ctx.settings)
    if report.delivery.failed:
        # Failed deliveries stay pending (retried next cycle); the step itself did its work.
        log.warning("%d alert(s) could not be delivered yet", report.delivery.failed)
    return report.counts()


def default_steps() -> list[Step]:
    """The daily cycle, in order."""
    return [
        Step("doffin", spider_step("doffin"), "incremental Doffin harvest"),
        Step("ted", spider_step("ted"), "TED harvest (Norwegian buyers)"),
        Step("brreg", spider_step("brreg"), "business-register enrichment of new organisations"),
        Step("link", _link, "relink notices to accounts"),
        Step("opportunities", _opportunities, "recompute opportunities and windows"),
        Step("alerts", _alerts, "generate and send alerts"),
    ]


# --------------------------------------------------------------------------- running


def redact_settings(text: str, settings: Settings) -> str:
    """``text`` with every secret setting's value replaced by ``***``."""
    for s in SETTINGS:
        value = settings.values.get(s.key)
        if s.secret and value:
            text = text.replace(str(value), "***")
    return text


def mark_interrupted(engine: Engine) -> int:
    """Close cycle and step runs left ``running`` by a killed process (caller holds the lock)."""
    with engine.begin() as conn:
        return conn.execute(
            update(Run)
            .where(Run.outcome == "running", Run.kind.in_(("cycle", "step")))
            .values(
                outcome="failed",
                finished_at=utcnow(),
                error="interrupted: the process ended before the run finished",
            )
        ).rowcount


def _start_run(engine: Engine, kind: str, name: str, args: dict[str, Any], **kw: Any) -> int:
    with session_scope(engine) as s:
        return runs.start_run(s, kind, name, args, track_process=False, **kw)


def _finish_run(
    engine: Engine, run_id: int, outcome: str, counts: dict[str, Any], error: str | None
) -> None:
    with session_scope(engine) as s:
        runs.finish_run(s, run_id, counts, outcome, error)


def _run_step(
    step: Step,
    ctx: StepContext,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> StepResult:
    run_id = _start_run(ctx.engine, "step", step.name, {}, parent_id=ctx.cycle_run_id)
    errors: list[str] = []
    for attempt in range(1, retries + 2):
        try:
            counts = _as_counts(step.func(ctx))
        except Exception as exc:
            msg = redact_settings(f"{type(exc).__name__}: {exc}", ctx.settings)[:2000]
            errors.append(f"attempt {attempt}: {msg}")
            log.warning("step %s attempt %d failed: %s", step.name, attempt, msg)
            if attempt <= retries:
                sleep(backoff * 2 ** (attempt - 1))
            continue
        counts["attempts"] = attempt
        _finish_run(
            ctx.engine, run_id, outcome="ok", counts=counts, error="\n".join(errors) or None
        )
        return StepResult(step.name, "ok", attempt, counts, None, run_id)
    error = "\n".join(errors)
    _finish_run(ctx.engine, run_id, outcome="failed", counts={"attempts": retries + 1}, error=error)
    return StepResult(step.name, "failed", retries + 1, {}, error, run_id)


def run_cycle(
    engine: Engine | None,
    settings: Settings,
    *,
    today: dt.date | None = None,
    steps: Sequence[Step] | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    should_stop: Callable[[], bool] = lambda: False,
) -> CycleResult:
    """Run every step once (with retries), record it all in ``runs``; the caller holds the lock.

    ``should_stop`` is checked before each step (the scheduler passes "lock lost"); the
    remaining steps are then recorded as ``skipped``.
    """
    engine = engine or get_engine(settings=settings)
    if today is None:
        today = settings.today()
    steps = list(default_steps() if steps is None else steps)
    retries = int(settings.step_retries) if retries is None else retries
    backoff = float(settings.step_backoff_seconds) if backoff is None else backoff
    interrupted = mark_interrupted(engine)
    if interrupted:
        log.warning("marked %d run(s) of an interrupted cycle as failed", interrupted)
    cycle_id = _start_run(engine, "cycle", "daily", {"today": today.isoformat()})
    ctx = StepContext(engine, settings, today, cycle_id)
    results: list[StepResult] = []
    for step in steps:
        if should_stop():
            results.append(
                StepResult(step.name, "skipped", 0, error="cycle stopped (shutdown or lock lost)")
            )
            continue
        results.append(_run_step(step, ctx, retries, backoff, sleep))
    ok = sum(r.outcome == "ok" for r in results)
    outcome = "ok" if ok == len(results) else ("failed" if ok == 0 else "partial")
    failed = [r.name for r in results if r.outcome != "ok"]
    _finish_run(
        engine,
        cycle_id,
        outcome=outcome,
        counts={"steps": len(results), "ok": ok, "failed": len(failed)},
        error=("steps not ok: " + ", ".join(failed)) if failed else None,
    )
    return CycleResult(cycle_id, outcome, results, interrupted)
