"""Archive backfills: Doffin's daily archive (API fallback) and TED's daily packages."""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spiders.archive import ArchiveTruncated, iter_members
from spiders.sources.ted_packages import ojs_issue, publication_number
from tests.replay import Faults, load_real_notices
from tests.support.crawls import days, open_failures, run_row, source_ids
from tracker.db.models import Notice

REAL = load_real_notices()
# Three days with real notices (one of them a Sunday); the 2022 ones are on weekdays.
SINCE, UNTIL = "2022-07-05", "2022-07-21"


def served(since: str = SINCE, until: str = UNTIL) -> list[str]:
    lo, hi = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
    return sorted(r.doffin_id for r in REAL if lo <= r.day <= hi)


# --------------------------------------------------------------------------- units


def test_members_of_zip_and_tar_streams_and_a_cut_tar_keeps_what_came_before(tmp_path: Path):
    xml = [r.xml for r in REAL[:3]]
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, data in enumerate(xml):
            zf.writestr(f"2024-00000{i}.xml", data)
    assert [(n, d) for n, d in iter_members(str(z))] == [
        (f"2024-00000{i}.xml", data) for i, data in enumerate(xml)
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i, data in enumerate(xml):
            info = tarfile.TarInfo(f"202400001/0000000{i}_2024.xml")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    t = tmp_path / "a.tar.gz"
    t.write_bytes(buf.getvalue())
    assert [d for _, d in iter_members(str(t))] == xml
    # Too big a member is a failed member, not a crash.
    big = list(iter_members(str(t), member_maxsize=10))
    assert all(isinstance(d, ValueError) for _, d in big) and len(big) == 3
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    got = []
    with pytest.raises(ArchiveTruncated):
        for name, data in iter_members(str(cut)):
            got.append(name)
    assert len(got) < 3
    junk = tmp_path / "junk"
    junk.write_bytes(b"<html>not an archive</html>")
    with pytest.raises(ValueError, match="not a zip or tar"):
        list(iter_members(str(junk)))


def test_ojs_issue_numbers_count_publication_weekdays():
    weekdays = frozenset(range(5))
    assert ojs_issue(dt.date(2024, 1, 1), weekdays, frozenset()) == 1  # a Monday
    assert ojs_issue(dt.date(2024, 1, 6), weekdays, frozenset()) is None  # Saturday
    assert ojs_issue(dt.date(2024, 1, 8), weekdays, frozenset()) == 6
    holiday = frozenset({dt.date(2024, 1, 1)})
    assert ojs_issue(dt.date(2024, 1, 1), weekdays, holiday) is None
    assert ojs_issue(dt.date(2024, 1, 8), weekdays, holiday) == 5
    assert publication_number("202400005/00123456_2024.xml") == "123456-2024"
    assert publication_number("readme.txt") is None


# --------------------------------------------------------------------------- crawls


def test_doffin_archive_stores_every_notice_with_one_request_per_day(replay, engine):
    replay.start()
    expected = served()
    result = replay.crawl("doffin_archive", since=SINCE, until=UNTIL)
    assert result.exit_code == 0, result
    assert source_ids(engine) == expected
    stats = replay.stats
    n_days = (dt.date.fromisoformat(UNTIL) - dt.date.fromisoformat(SINCE)).days + 1
    assert stats["requests"] == n_days  # one archive per day, no search, no download
    assert "doffin_search" not in stats["counts"]
    harvested = days(engine)
    assert len(harvested) == n_days and all(d.complete for d in harvested.values())
    run = run_row(engine, result.run_id)
    assert (run.name, run.outcome, run.counts["new"]) == ("doffin_archive", "ok", len(expected))
    # Same source as the API spider: a Doffin API crawl of the days downloads nothing.
    again = replay.crawl("doffin", since=SINCE, until=UNTIL)
    assert again.exit_code == 0 and "doffin_download" not in replay.stats["counts"]


def test_doffin_archive_falls_back_to_the_api_and_a_damaged_day_is_taken_again(
    replay, engine, db_url
):
    sqlite_only(db_url)
    by_day = sorted({r.day for r in REAL if r.doffin_id in served()})
    missing, cut = by_day[0].isoformat(), by_day[1].isoformat()
    bad = next(r.doffin_id for r in REAL if r.day == by_day[2])
    replay.start(
        Faults(
            archive_missing=[missing],
            archive_truncate={cut: 1},
            archive_bad_member=[bad],
            archive_auth="kunde:hemmelig",
        )
    )
    auth = {"DOFFIN_ARCHIVE_USER": "kunde", "DOFFIN_ARCHIVE_PASSWORD": "hemmelig"}
    first = replay.crawl("doffin_archive", env=auth, since=SINCE, until=UNTIL)
    assert first.outcome == "partial"  # a cut archive, a broken member
    counts = replay.stats["counts"]
    assert counts["doffin_search"] >= 1 and counts["doffin_download"] >= 1  # the fallback day
    harvested = days(engine)
    assert harvested[missing].complete  # through the API
    assert not harvested[cut].complete  # archive cut short: left for the next run
    assert bad in open_failures(engine)  # the broken member is recorded, not lost
    assert bad not in source_ids(engine)
    # The next run takes the cut day again and retries the broken member (through the
    # API, where the notice is whole): every notice stored once, every day complete.
    second = replay.crawl("doffin_archive", env=auth, since=SINCE, until=UNTIL)
    assert second.outcome == "ok", second
    assert source_ids(engine) == served()
    assert open_failures(engine) == {}
    assert all(d.complete for d in days(engine).values())
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == len(served())


def test_doffin_archive_without_credentials_uses_the_api(replay, engine, db_url):
    sqlite_only(db_url)
    replay.start(Faults(archive_auth="kunde:hemmelig"))
    result = replay.crawl("doffin_archive", since=SINCE, until=UNTIL)
    assert result.exit_code == 0
    assert source_ids(engine) == served()
    assert replay.stats["counts"]["status:401"] >= 1


def test_ted_packages_store_each_issue_and_days_without_issue_complete(replay, engine, db_url):
    sqlite_only(db_url)
    replay.start()
    result = replay.crawl("ted_packages", since=SINCE, until=UNTIL)
    assert result.exit_code == 0, result
    weekday_ids = sorted(
        f"{int(r.doffin_id.split('-')[1])}-{r.doffin_id.split('-')[0]}"
        for r in REAL
        if r.doffin_id in served() and r.day.weekday() < 5
    )
    assert weekday_ids and source_ids(engine, "ted") == weekday_ids
    harvested = days(engine, "ted")
    assert all(d.complete for d in harvested.values())
    n_issues = sum(
        1 for i in range(17) if (dt.date.fromisoformat(SINCE) + dt.timedelta(days=i)).weekday() < 5
    )
    assert replay.stats["requests"] == n_issues


def sqlite_only(db_url: str) -> None:
    """The archive crawls are backend-independent past the store (each costs seconds): the
    exactly-once store on PostgreSQL is covered by the first crawl test and the crawl tests."""
    if not db_url.startswith("sqlite"):
        pytest.skip("backend-independent: runs on SQLite only")
