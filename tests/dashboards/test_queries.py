"""Page queries of ``tracker.pages`` against the tracker's own functions on the seeded world.

One source of truth: the budget-window status the dashboards show is the one
``tracker.opportunities.build`` computes; the bid list's cached list of open competitions
equals the uncached one, and decisions leave the director's queue at once.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.dashboards.conftest import TODAY, USERS, account_id, make_settings
from tests.readmodels import list_opportunities
from tracker.db.engine import session_scope
from tracker.db.models import Account, BidDecision, Notice, NoticeLink, Opportunity, User
from tracker.opportunities.budget import BUDGET_STATUSES
from tracker.opportunities.reading import stored_budget_window
from tracker.pages.account import account_notices
from tracker.pages.base import PageCache, PageEnv, plain_rows
from tracker.pages.bids import bids_page
from tracker.pages.director import director_page
from tracker.pages.opportunities import budget_windows, opportunity_rows
from tracker.rules import load_rules

RULES = load_rules()  # the shipped rules (the world has no rules file)

LATER = TODAY + dt.timedelta(days=3 * 365)  # most budget windows of the world have ended


def test_opportunity_budget_window_is_the_trackers(world) -> None:
    """Same start, end and status (open|upcoming|missed|closed) as ``list_opportunities``,
    today and three years later, when the tracker calls an ended window closed or missed."""
    with session_scope(world["engine"]) as s:
        for day in (TODAY, LATER):
            rows = plain_rows(opportunity_rows(s, day, limit=10_000, rules=load_rules()))
            ours = {r["key"]: r["budget_window"] for r in rows}
            theirs = {o["key"]: o["budget_window"] for o in list_opportunities(s, today=day)}
            assert ours.keys() == theirs.keys() and ours
            with_window = [k for k, w in theirs.items() if w]
            assert with_window
            for key in with_window:
                for field in ("start", "end", "status"):
                    assert ours[key][field] == theirs[key][field], (day, key, field)
            statuses = {w["status"] for w in ours.values() if w}
            assert statuses <= set(BUDGET_STATUSES)
        assert statuses & {"closed", "missed"}  # on LATER: ended windows, never "past"


def test_stored_budget_window_statuses() -> None:
    rules, account = load_rules(), {"name": "x", "buyer_type": "municipality"}
    start = dt.date(2027, 9, 30)
    window = stored_budget_window(start, None, dt.date(2026, 11, 28), rules, account)
    assert window is not None
    assert window["start"] <= dt.date(2026, 11, 28) <= window["end"]
    assert window["status"] == "open"
    before = window["start"] - dt.timedelta(days=1)
    assert stored_budget_window(start, None, before, rules, account)["status"] == "upcoming"
    after = window["end"] + dt.timedelta(days=1)
    assert stored_budget_window(start, None, after, rules, account)["status"] == "closed"
    late = window["end"] + dt.timedelta(days=30)  # influence opens after the window ended
    assert stored_budget_window(start, late, before, rules, account)["status"] == "missed"
    assert stored_budget_window(None, None, before, rules, account) is None


def test_home_budget_windows_use_the_trackers_status(world) -> None:
    with session_scope(world["engine"]) as s:
        rows = budget_windows(s, TODAY, None, limit=500)
        assert rows
        opps = s.execute(
            select(
                Opportunity.account_id,
                Opportunity.budget_start,
                Opportunity.contract_start,
                Opportunity.influence_opens,
                Opportunity.expected_publication,
            )
        ).all()
        types = dict(s.execute(select(Account.id, Account.buyer_type)).all())
        rules = load_rules()
        for row in rows:
            assert row["status"] in ("open", "upcoming", "missed"), row
            assert row["end"] >= TODAY
            group = [o for o in opps if (o[0], o[1]) == (row["account_id"], row["start"])]
            assert len(group) == row["opportunities"]
            account = {"name": row["account"], "buyer_type": types[row["account_id"]]}
            statuses = {
                stored_budget_window(o[2], o[3], TODAY, rules, account, o[4])["status"]
                for o in group
            }
            # "missed" only when every opportunity of the window missed it.
            assert (row["status"] == "missed") == (statuses == {"missed"})


def test_cached_open_competitions_equal_the_query(world) -> None:
    with session_scope(world["engine"]) as s:
        cache, rules = PageCache(), load_rules()

        def ids(show: str, cache: PageCache | None) -> list[int]:
            page = bids_page(
                s, TODAY, show=show, per_page=200, cache=cache, rules=rules, ours=set()
            )
            return [b.id for b in page.items]

        for show in ("relevant", "accounts", "all"):
            fresh = ids(show, None)
            assert ids(show, cache) == fresh
            assert ids(show, cache) == fresh  # a hit
        assert ids("all", None)
        page = bids_page(s, TODAY, show="all", per_page=1, cache=cache, rules=rules, ours=set())
        assert page.fresh_within_s > 0 and page.total >= 1
        uncached = bids_page(s, TODAY, show="all", per_page=1, rules=rules, ours=set())
        assert uncached.fresh_within_s == 0


def test_decision_leaves_the_cached_queue_at_once(world) -> None:
    """Independent of other tests' decisions in the shared world: it decides on a
    competition that is in the queue now (other tests may have decided on others)."""
    engine = world["engine"]
    with session_scope(engine) as s:
        env = PageEnv.of(make_settings(world["home"]), PageCache())
        before = director_page(s, TODAY, show="accounts", env=env)
        assert before.queue, "the world has undecided open competitions"
        pk = before.queue[0].id
        director = s.scalar(select(User).where(User.email == USERS["director"]))
        s.add(BidDecision(notice_pk=pk, decision="bid", decided_by=director.email, why="test"))
    try:
        with session_scope(engine) as s:
            after = director_page(s, TODAY, show="accounts", env=env)
            assert pk not in [b.id for b in after.queue]
            assert after.queue_total == before.queue_total - 1
            assert pk in [b.id for b in after.decided]
    finally:
        with session_scope(engine) as s:
            for d in s.scalars(select(BidDecision).where(BidDecision.why == "test")):
                s.delete(d)


def test_account_notices_pages_and_total(world) -> None:
    engine = world["engine"]
    acc = account_id(engine, "Sykehusinnkjøp HF")
    with session_scope(engine) as s:
        linked = set(
            s.scalars(
                select(Notice.id)
                .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
                .where(
                    NoticeLink.account_id == acc,
                    NoticeLink.status != "rejected",
                    Notice.is_latest.is_(True),
                )
            )
        )
        assert len(linked) >= 3
        everything = account_notices(s, acc, RULES, limit=1000)
        assert everything["total"] == len(linked)
        assert [n["id"] for n in everything["items"]] and {
            n["id"] for n in everything["items"]
        } == linked
        dates = [n["issue_date"] or dt.date.min for n in everything["items"]]
        assert dates == sorted(dates, reverse=True)
        second = account_notices(s, acc, RULES, limit=2, offset=1)
        assert second["total"] == len(linked)
        assert [n["id"] for n in second["items"]] == [n["id"] for n in everything["items"][1:3]]
        past_the_end = account_notices(s, acc, RULES, limit=2, offset=len(linked) + 3)
        assert past_the_end == {"items": [], "total": len(linked)}


def test_director_page_shows_top_rows_api_keeps_all(client_for, monkeypatch) -> None:
    from dashboards.routes import director as director_routes

    client = client_for("director")
    data = client.get("/api/director?show=accounts").json()
    assert len(data["incumbency"]) >= 2, "the fixtures have running contracts of suppliers"
    monkeypatch.setattr(director_routes, "PAGE_ROWS", 1)
    html = client.get("/director?show=accounts").text
    incumbency = html.split('id="incumbency"')[1]
    assert incumbency.count("<tr><td data-label=") == 1
    assert "The top 1 are shown; the export has the full list." in incumbency
    assert "min old" not in html  # this app builds every list per request (NoCache)
    again = client.get("/api/director?show=accounts").json()
    assert len(again["incumbency"]) == len(data["incumbency"])


def test_a_stale_aggregate_is_shown_while_one_thread_rebuilds_it(world) -> None:
    import threading
    import time

    from sqlalchemy import create_engine, func
    from sqlalchemy.orm import Session

    clock = [0.0]
    cache = PageCache(stale_s=100, clock=lambda: clock[0])
    built: list[str] = []
    release = threading.Event()

    sessions: list[Session] = []

    def build(given: Session) -> tuple[int, int]:
        notices = given.scalar(select(func.count()).select_from(Notice))
        built.append(threading.current_thread().name)
        sessions.append(given)
        if len(built) == 2:
            assert release.wait(10)  # the background rebuild: held while the test looks
        return len(built), int(notices or 0)

    def get() -> tuple[int, int]:
        return cache.get(s, "aggregate", TODAY, build, ttl=60)

    with session_scope(world["engine"]) as s:
        first = get()
        assert first[0] == 1 and first[1] > 0
        clock[0] = 59.0
        assert get() is first  # fresh
        clock[0] = 90.0
        assert get() is first  # stale: shown at once, one rebuild started
        assert get() is first and cache.refreshing() == 1  # not a second one
        release.set()
        deadline = time.monotonic() + 10
        while cache.refreshing() and time.monotonic() < deadline:
            time.sleep(0.01)
        second = get()
        assert second == (2, first[1]) and built[1].startswith("page-cache")
        assert sessions[0] is s and sessions[1] is not s  # the rebuild has its own session
        assert cache.max_age(60) == 160
        clock[0] = 90.0 + 60 + 100  # older than ttl + stale_s: the request builds it
        assert get()[0] == 3 and built[2] == threading.current_thread().name
    # One connection for everything (in-memory SQLite): never a second thread on it.
    memory = create_engine("sqlite://")
    cache = PageCache(stale_s=100, clock=lambda: clock[0])
    with Session(memory) as s:
        clock[0] = 0.0
        cache.get(s, "one", TODAY, lambda s: object(), ttl=60)
        clock[0] = 90.0
        stale = cache.get(s, "one", TODAY, lambda s: "rebuilt in the request", ttl=60)
        assert stale == "rebuilt in the request" and cache.refreshing() == 0


def test_background_rebuilds_are_few_and_a_failed_one_waits(world) -> None:
    import threading
    import time

    from tracker.pages import base

    clock = [0.0]
    cache = PageCache(stale_s=100, clock=lambda: clock[0])
    release = threading.Event()
    calls: list[str] = []

    def wait_for_rebuilds() -> None:
        deadline = time.monotonic() + 10
        while cache.refreshing() and time.monotonic() < deadline:
            time.sleep(0.01)

    def slow(name: str):
        def build(given):
            calls.append(name)
            if len(calls) > 3:  # the rebuilds: held while the test counts them
                assert release.wait(10)
            return name

        return build

    with session_scope(world["engine"]) as s:
        names = ("a", "b", "c")
        for name in names:
            cache.get(s, name, TODAY, slow(name), ttl=60)
        clock[0] = 70.0
        assert [cache.get(s, n, TODAY, slow(n), ttl=60) for n in names] == list(names)
        assert cache.refreshing() == base.MAX_REBUILDS == 2  # "c" waits for a later request
        release.set()
        wait_for_rebuilds()
        assert len(calls) == 5

        def broken(given):
            calls.append("broken")
            raise RuntimeError("database gone")

        clock[0] = 140.0  # "c" is stale; its rebuild fails and it is still shown
        assert cache.get(s, "c", TODAY, broken, ttl=60) == "c"
        wait_for_rebuilds()
        assert calls[-1] == "broken"
        clock[0] = 150.0
        assert cache.get(s, "c", TODAY, broken, ttl=60) == "c"
        assert cache.refreshing() == 0 and calls.count("broken") == 1  # not again within ttl
        clock[0] = 201.0  # past ttl + stale_s: the request builds it and sees the error
        with pytest.raises(RuntimeError, match="database gone"):
            cache.get(s, "c", TODAY, broken, ttl=60)
