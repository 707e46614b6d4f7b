"""What tests expect of outputs: the keys of JSON records, and how a reading compares
with the hand-checked golden values."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tracker.notices.eforms import oslo_wall_clock
from tracker.notices.pretender import OSLO

# The keys of one notice in `tracker parse --json`.
KEYS = {
    "file", "notice_id", "version", "procedure_id", "subtype", "notice_type", "issue_date",
    "title", "procedure_type", "main_cpv", "cpv_codes", "estimated_value", "buyers", "lots",
    "results", "changed_notice_id", "warnings",
}  # fmt: skip

# The keys of one opportunity in `tracker opportunities --json`.
ISSUE_KEYS = {
    "account",
    "title",
    "buyer",
    "expiry",
    "expiry_source",
    "influence_opens",
    "drafting_starts",
    "expected_publication",
    "phase",
    "can_influence",
    "days_left",
    "budget_window",
    "confidence",
    "reason",
}


def same_moment(golden: str | None, got: Any) -> bool:
    """A golden deadline ('2023-10-16T12:00' Oslo time, '2023-03-08T12:00:00+02:00' with its
    offset, or a day '2023-12-15') against a reading's ``Deadline``."""
    if golden is None or got is None:
        return golden is None and got is None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", golden):
        return got.day.isoformat() == golden and got.at is None
    want = dt.datetime.fromisoformat(golden)
    if want.tzinfo is None:
        want = want.replace(tzinfo=OSLO)
    # the golden file keeps a summer offset written in winter; the tracker reads it as the
    # buyer's Oslo time (2022-976327's text: "onsdag 8. mars 2023 kl. 12.00")
    return got.at is not None and got.at == oslo_wall_clock(want)
