"""The Python runtime as the tracker's processes use it: how often the cyclic garbage
collector runs.

CPython collects its youngest generation every 700 net allocations of container
objects, and every tenth of those the next generation too. A page that reads a thousand
contracts, or a recompute of twenty thousand, allocates hundreds of thousands of short-
lived dicts and rows that reference counting frees anyway; collecting every 700 of them
spent about a tenth of the KAM home's CPU (bench/dashboard.py at 200,000 notices: 80 ms
a call, 71 ms with the threshold below). Every 20,000 keeps the cyclic garbage a process
holds at a few MB.

A bulk job that builds a large structure it keeps to its end (a recompute at 2 M notices
holds 700,000 drafts and their timelines) pays for the oldest generation instead: each
full collection walks everything held, and a recompute of 200,000 contracts spent 58 of
its 241 s in eight of them. :func:`collection_paused` switches the collector off for such
a job; reference counting still frees whatever is not held.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

YOUNG_THRESHOLD = 20_000
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def tune_gc() -> None:
    """Raise the youngest generation's threshold to ``YOUNG_THRESHOLD`` (never lower it:
    an embedding program may have set its own), keeping the older generations' ratios."""
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)


@contextmanager
def collection_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off, then switch it back on (as it
    was) and collect once: for a bulk job whose objects live to its end, where repeated
    full collections cost a quarter of the time and free nothing."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
            gc.collect()


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` ends (Linux: the kernel sends SIGKILL). The
    executor's workers would otherwise outlive a killed parent, blocked for ever on
    handing back a result nobody reads."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):  # a libc without prctl: no signal
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(1)


def _start_worker(
    parent: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    """A worker ends with ``parent``, and on SIGTERM whatever handler the process it was
    forked from had (``tracker schedule`` stops after the current step on SIGTERM: a
    worker that inherits that handler outlives the end of the pool and the job waits for
    it forever)."""
    _die_with(parent)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)


def process_executor(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes for the parallel jobs (``tracker ingest --workers``,
    ``tracker recompute --workers``); each ends on SIGTERM. A worker that dies (killed, out of
    memory) fails the job with ``BrokenProcessPool`` instead of leaving it waiting for
    an answer that never comes, and the workers end with the process that started them
    (a ``kill -9`` of ``tracker schedule`` leaves none behind). Forked where the
    platform can: ``initargs`` then reach the workers as they are, not pickled. Submit
    from the thread that lives as long as the executor (the parent-death signal follows
    the thread that started the worker)."""
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(), initializer, initargs),
    )
