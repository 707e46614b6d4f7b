"""The replay fixture of the spider tests (tests/support/crawls.py has the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.crawls import Replay


@pytest.fixture
def replay(tracker_env: dict[str, str]) -> Iterator[Replay]:
    r = Replay(tracker_env)
    yield r
    r.stop()
