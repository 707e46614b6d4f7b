"""Run the ``tracker`` CLI and SIGKILL this very process at a chosen point (kill tests).

    python -m tests.killpoint MODULE:FUNCTION N -- ingest --batch-size 40 DIR

On the N-th call of ``MODULE.FUNCTION`` the process sends itself ``SIGKILL`` (no
cleanup, no ``finally``, no atexit: what ``kill -9`` does), so a test can stop an
ingest exactly in the middle of a unit of work, for example inside derivation after
the batch's notices were written. ``tracker.notices.ingest:Ingestor.flush``-style targets
name an attribute path under the module. ``N`` counts from 1.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from typing import Any


def arm(target: str, n: int) -> None:
    """Patch ``module:attr.path`` so that its ``n``-th call kills the process."""
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = {"n": 0}

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def main(argv: list[str]) -> None:
    target, n, sep, *cli_args = argv
    if sep != "--":
        raise SystemExit("usage: python -m tests.killpoint MODULE:FUNCTION N -- tracker args")
    arm(target, int(n))
    from tracker.cli import main as tracker_main

    tracker_main(cli_args, prog_name="tracker")


if __name__ == "__main__":
    main(sys.argv[1:])
