"""The demo answers each role on its demo day, on data derived from the real notices.

The world is what ``make demo`` builds: the example accounts, the bundled real notices
issued up to ``DEMO_TODAY`` (the demo harvests up to that day, no hindsight), linked,
contracts derived, opportunities recomputed (``tracker.ops.demo.finish``), the demo users.
Nothing is hard-coded: the rows come from the derivation, so the test keeps its meaning
when contracts or windows are derived differently.

- every demo KAM sees at least one in-profile market dialogue, influence window, expiry
  or overdue re-tender at their accounts;
- the Oslo water and sewerage agency's contract (2022-627512: a modification notice
  shortly before its computed end) is shown as the tracker derives it, probably extended
  (ask the buyer), never as an overdue re-tender or one to act on now;
- the demo's KAM sees the in-profile competition of one of his accounts among his news;
- the bid team sees at least one in-profile open competition;
- nothing out of profile leads any list (KAM lists, bids, director queue and pipeline,
  alerts), in the default view (only in-profile rows) and in "show all" (in profile first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support.worlds import build_demo_world
from tracker.alerts.generation import alerts_for
from tracker.alerts.subscriptions import default_subscriptions
from tracker.config import load_settings
from tracker.db.models import User
from tracker.ops import demo
from tracker.pages.base import PageEnv, plain, to_json
from tracker.pages.bids import bids_page
from tracker.pages.director import director_page
from tracker.pages.home import kam_home
from tracker.rules import load_rules

HOME_LISTS = ("dialogues", "influence_open", "overdue", "expiries", "new_notices")
KAMS = [email for email, role, _ in demo.DEMO_USERS if role == "kam"]

# The settings and rules the pages are given (no environment, the shipped rules).
ENV = PageEnv.of(load_settings(env={"TRACKER_HOME": "/nonexistent"}))


@pytest.fixture
def demo_world(engine: Engine, tracker_env: dict[str, str]) -> Iterator[Session]:
    build_demo_world(engine, demo.DEMO_TODAY)
    with Session(engine) as s:
        yield s


def _user(s: Session, email: str) -> User:
    return s.scalars(select(User).where(User.email == email)).one()


def _shown(row: dict[str, Any]) -> bool:
    return bool((row.get("fit") or {}).get("shown"))


def _in_profile_first(rows: list[dict[str, Any]]) -> bool:
    flags = [_shown(r) for r in rows]
    return flags == sorted(flags, reverse=True)


def test_every_demo_kam_sees_in_profile_work_at_their_accounts(demo_world: Session) -> None:
    today = demo.DEMO_TODAY
    assert KAMS
    for email in KAMS:
        home = plain(kam_home(demo_world, _user(demo_world, email), today, env=ENV))
        work = [r for name in HOME_LISTS[:4] for r in home[name]]
        assert work, f"{email} sees no in-profile window or expiry on {today}"
        mine = {a["name"] for a in home["accounts"]}
        for name in HOME_LISTS:
            assert all(_shown(r) for r in home[name]), (email, name)  # default: profile only
        for r in work:
            if "contract_id" in r:  # an expiry: at one of the KAM's accounts
                assert r["account_id"] in {a["id"] for a in home["accounts"]}
            else:
                assert {acc for _, acc in r["accounts"]} <= mine
        print(email, [(r["title"], r.get("phase", "expiry")) for r in work])
        everything = plain(
            kam_home(demo_world, _user(demo_world, email), today, env=ENV, show_all=True)
        )
        for name in HOME_LISTS:
            assert _in_profile_first(everything[name]), (email, name)


def test_the_home_reads_its_contracts_once_with_the_same_lists(demo_world: Session) -> None:
    """The page's renewal radar reads the KAM's contracts (36 months); the home takes its
    expiries list from them: the same page as when it reads the list itself."""
    from tracker.pages.base import account_scope
    from tracker.pages.expiries import expiries

    today = demo.DEMO_TODAY
    for email in KAMS:
        user = _user(demo_world, email)
        contracts = expiries(demo_world, today, ours=ENV.ours, rules=ENV.rules,
                             account_ids=account_scope(demo_world, user), within_months=36,
                             fit=False)  # fmt: skip
        for show_all in (False, True):
            alone = plain(kam_home(demo_world, user, today, env=ENV, show_all=show_all))
            given = plain(kam_home(demo_world, user, today, env=ENV, show_all=show_all,
                                   contracts=contracts))  # fmt: skip
            assert given == alone


def test_the_kam_hears_of_the_competition_at_his_account(demo_world: Session) -> None:
    [email] = KAMS
    home = plain(kam_home(demo_world, _user(demo_world, email), demo.DEMO_TODAY, env=ENV))
    news = [n for n in home["new_notices"] if n["fit"]["shown"]]
    assert any("Toppsystem VMS" in (n["title"] or "") for n in news)


def test_the_bid_team_sees_an_in_profile_competition(demo_world: Session) -> None:
    today = demo.DEMO_TODAY
    page = to_json(bids_page(demo_world, today, rules=ENV.rules, ours=ENV.ours))
    assert page["items"], f"no open competition in the profile on {today}"
    assert all(b["fit"]["shown"] or b["status"] or b["decision"] for b in page["items"])
    for b in page["items"]:
        assert b["deadline"] is not None and b["deadline"] >= today
        assert b["fit"]["reason"].startswith("in profile")
    vms = next(b for b in page["items"] if "Toppsystem VMS" in b["title"])
    assert vms["deadline"] == dt.date(2023, 6, 5)  # the qualification system ends (BT-537)
    assert "qualification system ends" in vms["deadline_source"]
    for show in ("accounts", "all"):
        page = plain(bids_page(demo_world, today, show=show, rules=ENV.rules, ours=ENV.ours))
        assert _in_profile_first(page["items"]), show


def test_nothing_out_of_profile_leads_the_director_or_the_alerts(demo_world: Session) -> None:
    today = demo.DEMO_TODAY
    director = plain(director_page(demo_world, today, env=ENV))
    assert director["queue"] and all(b["fit"]["shown"] for b in director["queue"])
    assert _in_profile_first(plain(director_page(demo_world, today, show="all", env=ENV).queue))
    for email in KAMS:
        user = _user(demo_world, email)
        for kind, _channel, params in default_subscriptions("kam"):
            for alert in alerts_for(
                demo_world, user, kind, params, today, "http://x", rules=load_rules()
            ):
                assert "out of profile" not in alert.body, (email, kind, alert.subject)
    bid = _user(demo_world, "bid@example.no")
    deadline_alerts = alerts_for(
        demo_world, bid, "tender_deadline", {"days": 60}, today, "", rules=load_rules()
    )
    assert deadline_alerts and all("Toppsystem VMS" in a.subject for a in deadline_alerts)


def test_demo_day_comes_before_the_notices_it_must_not_know(demo_world: Session) -> None:
    """No hindsight: nothing issued after the demo day is stored in the demo world."""
    from tracker.db.models import Notice

    latest = demo_world.scalar(select(Notice.issue_date).order_by(Notice.issue_date.desc()))
    assert latest is not None and latest <= demo.DEMO_TODAY


def test_the_modified_oslo_contract_is_probably_extended_not_overdue(demo_world: Session) -> None:
    """2022-627512 was modified 3.5 months before its computed end (2023-03-31): on the demo
    day the KAM sees it among his expiries as probably extended, with the note to ask the
    buyer; it is not an overdue re-tender, nor an opportunity open now (``tracker
    opportunities --open-now``)."""
    from tests.readmodels import list_opportunities

    today = demo.DEMO_TODAY
    [email] = KAMS
    home = plain(
        kam_home(
            demo_world,
            _user(demo_world, email),
            today,
            env=PageEnv.of(load_settings()),
            show_all=True,
        )
    )
    modified = [r for r in home["expiries"] if r.get("extension") == "probably_extended"]
    assert modified, "no probably-extended contract among the demo KAM's expiries"
    for r in modified:
        assert r["status"].startswith("probably extended: ask the buyer")
        assert r["next_end"] is None and r["days_left"] is None  # its new end is not known
    titles = {r["title"] for r in modified}
    assert not titles & {r["title"] for r in home["overdue"] + home["influence_open"]}
    open_now = list_opportunities(demo_world, today=today, open_now=True)
    assert not titles & {r["title"] for r in open_now}
    print("probably extended:", sorted(titles))
