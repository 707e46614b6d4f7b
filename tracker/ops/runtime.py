"""The Python runtime as the tracker's processes use it: how often the cyclic garbage
collector runs.

CPython collects its youngest generation every 700 net allocations of container
objects, and every tenth of those the next generation too. A page that reads a thousand
contracts, or a recompute of twenty thousand, allocates hundreds of thousands of short-
lived dicts and rows that reference counting frees anyway; collecting every 700 of them
spent about a tenth of the KAM home's CPU (bench/dashboard.py at 200,000 notices: 80 ms
a call, 71 ms with the threshold below). Every 20,000 keeps the cyclic garbage a process
holds at a few MB.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Raise the youngest generation's threshold to ``YOUNG_THRESHOLD`` (never lower it:
    an embedding program may have set its own), keeping the older generations' ratios."""
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
