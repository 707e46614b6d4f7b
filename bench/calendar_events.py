"""Measure: calendar events in the demo per user, duplicates, timed deadlines, links.

Builds the demo's world (``tests.test_demo.build_demo_world``: the example accounts, the
bundled real notices up to the demo's day, linked, derived, recomputed) in a temporary
SQLite database and, for every demo user, counts the events of their calendar feed, the
duplicates (events with the same summary and start as another), the deadlines as timed
events (Europe/Oslo) and the events with a link back to the tracker.

Run: ``.venv/bin/python bench/calendar_events.py``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRACKER_HOME"] = tmp
        from tests.test_demo import build_demo_world
        from tracker.config import load_settings
        from tracker.db.engine import get_engine
        from tracker.db.migrate import upgrade
        from tracker.db.models import User
        from tracker.ops import demo
        from tracker.pages.base import PageEnv
        from tracker.pages.calendar import calendar_feed, calendar_items

        engine = get_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        t0 = time.perf_counter()
        build_demo_world(engine, demo.DEMO_TODAY)
        print(f"demo world built in {time.perf_counter() - t0:.1f} s")
        with Session(engine) as s:
            for email, _, _ in demo.DEMO_USERS:
                user = s.scalars(select(User).where(User.email == email)).one()
                items = calendar_items(s, user, demo.DEMO_TODAY, PageEnv.of(load_settings()))
                cal = Calendar.from_ical(
                    calendar_feed(
                        s,
                        user,
                        demo.DEMO_TODAY,
                        PageEnv.of(load_settings()),
                        base_url="http://127.0.0.1:8000",
                    )
                )
                events = cal.walk("VEVENT")
                pairs = [(str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events]
                timed = sum(1 for e in events if e["DTSTART"].params.get("TZID"))
                linked = sum(1 for e in events if e.get("URL"))
                print(
                    f"{email:24} events {len(events):3} from {len(items)} items, "
                    f"duplicates {len(pairs) - len(set(pairs))}, timed deadlines {timed}, "
                    f"with link {linked}"
                )
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
