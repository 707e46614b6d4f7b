"""The notice page's read model (tracker.pages.notice) on rows made for the case."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tests.factories import add_notice
from tracker.config import load_settings
from tracker.pages import notice as notice_pages
from tracker.pages.base import PageEnv


def test_a_long_procedure_shows_its_newest_notices_oldest_first(
    session: Session, monkeypatch, tmp_path
) -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=30 * i) for i in range(5)]
    notices = [
        add_notice(session, issue_date=day, procedure_id="proc-lang", title=f"Runde {i}")
        for i, day in enumerate(days)
    ]
    monkeypatch.setattr(notice_pages, "PROCEDURE_ROWS", 2)
    env = PageEnv.of(load_settings({"TRACKER_HOME": str(tmp_path)}))
    page = notice_pages.notice_page(session, notices[0].id, days[-1], env=env)
    # the two newest of the four others, in the order they were issued
    assert [p.title for p in page.procedure] == ["Runde 3", "Runde 4"]
    monkeypatch.setattr(notice_pages, "PROCEDURE_ROWS", 50)
    whole = notice_pages.notice_page(session, notices[2].id, days[-1], env=env)
    assert [p.title for p in whole.procedure] == ["Runde 0", "Runde 1", "Runde 3", "Runde 4"]
