"""Every page for every role, with the content each role comes for; JSON API; calendar."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dashboards import routes as routes_pkg
from dashboards.app import create_app
from tests.dashboards.conftest import (
    DIATERMI,
    TODAY,
    USERS,
    account_id,
    csrf_from,
    login,
    make_settings,
    notice_pk,
    page_csrf,
)
from tracker.db.engine import session_scope
from tracker.db.models import Notice, User
from tracker.users import token_hash

MAIN_PAGES = ["/", "/accounts", "/bids", "/director", "/search", "/me"]
# the header names the role in words (tracker.formats.labels.ROLES)
ROLE_WORDS = {"kam": "key account manager", "bid": "bid manager", "director": "sales director"}
ROLE_WORDS["admin"] = "administrator"


@pytest.mark.parametrize("who", ["kam", "bid", "director", "admin"])
def test_every_main_page_for_every_role(client_for, world, who) -> None:
    client = client_for(who)
    acc = account_id(world["engine"], "Sykehusinnkjøp HF")
    pk = notice_pk(world["engine"], DIATERMI)
    for path in [*MAIN_PAGES, f"/accounts/{acc}", f"/notices/{pk}"]:
        res = client.get(path)
        assert res.status_code == 200, (who, path, res.text[:300])
        assert "<h1>" in res.text and f"<small>({ROLE_WORDS[who]})</small>" in res.text
    if who == "bid":  # the bid team's start page is the bid list
        assert client.get("/", follow_redirects=False).headers["location"] == "/bids"


def test_app_includes_every_routes_module(app) -> None:
    paths = {getattr(r, "path", None) for r in app.routes}
    for r in app.routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            paths.update(x.path for x in inner.routes)
    for info in pkgutil.iter_modules(routes_pkg.__path__):
        mod = importlib.import_module(f"dashboards.routes.{info.name}")
        for router in (getattr(mod, "router", None), getattr(mod, "api_router", None)):
            if router is not None:
                assert {r.path for r in router.routes} <= paths, info.name


def test_kam_home_shows_own_accounts_windows_and_new_notices(client_for, world) -> None:
    engine = world["engine"]
    kari = client_for("kam2")
    html = kari.get("/").text
    accounts = html.split('id="accounts"')[1]
    assert "Forsvaret" in accounts and "Sykehusinnkjøp HF" not in accounts
    with session_scope(engine) as s:
        s.scalar(select(User).where(User.email == USERS["kam"])).last_seen_notices_at = None
    ingrid = client_for("kam")
    try:
        # both new notices of Ingrid's accounts are outside the IT profile: one click away
        mine = ingrid.get("/").text.split('id="new-notices"')[1].split("</section>")[0]
        assert DIATERMI not in mine and "2 more outside our capability profile not shown" in mine
        html = ingrid.get("/?all=1").text
        new = html.split('id="new-notices"')[1].split("</section>")[0]
        # first visit: the notices issued in the 14 days up to TODAY, not later ones
        assert "Notices of the last 14 days (since 09.02.2023)" in new
        assert DIATERMI in new and "Drift av kiosk" in new  # issued 2023-02-16 and -21
        assert "out of profile: &#39;kiosk&#39; in the title" in new
        assert "Angio" not in new  # issued 2023-12-06, after TODAY
        # opening the page changes nothing (a GET never commits)
        again = ingrid.get("/?all=1").text.split('id="new-notices"')[1].split("</section>")[0]
        assert again == new
        with session_scope(engine) as s:
            user = s.scalar(select(User).where(User.email == USERS["kam"]))
            assert user.last_seen_notices_at is None
        # "Mark all as seen" is an explicit POST (with the CSRF token)
        assert ingrid.post("/notices/seen", follow_redirects=False).status_code == 403
        res = ingrid.post(
            "/notices/seen", data={"csrf_token": csrf_from(html)}, follow_redirects=False
        )
        assert res.status_code == 303
        after = ingrid.get("/?all=1").text.split('id="new-notices"')[1].split("</section>")[0]
        assert DIATERMI not in after and "No notices." in after and "New notices since" in after
        with session_scope(engine) as s:
            seen = s.scalar(select(User).where(User.email == USERS["kam"])).last_seen_notices_at
            assert seen is not None and seen > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    finally:
        with session_scope(engine) as s:
            s.scalar(select(User).where(User.email == USERS["kam"])).last_seen_notices_at = None
    data = kari.get("/api/home").json()
    assert "Forsvaret" in {a["name"] for a in data["accounts"]}
    assert {a["kam"] for a in data["accounts"]} == {USERS["kam2"]}
    assert set(data) >= {"influence_open", "expiries", "budget_windows", "suggested_links"}


def test_kam_home_expiries_within_24_months(client_for, world) -> None:
    data = client_for("director").get("/api/home").json()
    limit = dt.date(TODAY.year + 2, TODAY.month, TODAY.day)
    ends = [dt.date.fromisoformat(e["end_date"]) for e in data["expiries"]]
    assert ends == sorted(ends)
    assert all(TODAY <= d <= limit for d in ends)


def test_account_page_profile_contracts_and_timeline(client_for, world) -> None:
    engine = world["engine"]
    acc = account_id(engine, "Forsvaret")
    kari = client_for("kam2")
    html = kari.get(f"/accounts/{acc}").text
    profile = html.split('id="profile"')[1].split("</section>")[0]
    assert "988517860" in profile and "star" in profile and "kari.nordmann@example.no" in profile
    contracts = html.split('id="contracts"')[1].split("</section>")[0]
    assert "Night Vision Systems" in contracts
    assert 'id="contact-form"' in html and 'id="activity-form"' in html
    data = kari.get(f"/api/accounts/{acc}").json()
    assert data["can_edit"] is True
    assert any(c["end_source"] for c in data["contracts"])
    assert data["notices"]["total"] >= 1


def test_bids_page_lists_open_competitions_with_countdown_and_links(client_for, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    with session_scope(world["engine"]) as s:
        source_id = s.get(Notice, pk).source_id
    client = client_for("bid")
    # by default only what is in our IT profile, or tracked (another test of this shared
    # world may have set a bid status on the diathermy pens)
    default = client.get("/api/bids").json()["items"]
    assert all(b["fit"]["shown"] or b["status"] or b["decision"] for b in default)
    html = client.get("/bids?show=accounts").text
    row = html.split(f'id="bid-{pk}"')[1].split("</tr>")[0]
    assert "17.03.2023" in row and "23 d left" in row  # deadline and countdown from TODAY
    assert f'href="https://doffin.no/notices/{source_id}"' in row
    assert "Sykehusinnkjøp HF" in row
    data = client.get("/api/bids?show=accounts").json()
    deadlines = [b["deadline"] for b in data["items"]]
    dated = [d for d in deadlines if d is not None]  # no usable deadline: listed last
    assert deadlines == dated + [None] * (len(deadlines) - len(dated))
    assert dated == sorted(dated) and data["total"] == len(data["items"])
    everything = client.get("/api/bids?show=all").json()
    assert everything["total"] > data["total"]
    assert all(b["days_left"] is None or b["days_left"] >= 0 for b in everything["items"])


def test_director_page_sections(client_for, world) -> None:
    director = client_for("director")
    # on 2023-02-22 no open competition is in the IT profile: the queue holds only what
    # is (or what we track); the ones at our accounts are one click away
    queue = director.get("/api/director").json()["queue"]
    assert all(b["fit"]["shown"] or b["status"] for b in queue)
    html = director.get("/director?show=accounts").text
    for section in ("pipeline", "queue", "incumbency", "uncovered"):
        assert f'id="{section}"' in html
    assert 'class="stack decision-form"' in html
    assert "decision-form" not in client_for("kam").get("/director?show=accounts").text
    data = director.get("/api/director?show=accounts").json()
    assert {"pipeline", "queue", "incumbency", "uncovered"} <= set(data)
    assert data["queue"], "no open competition waits for a decision"
    for item in data["queue"]:
        assert item["decision"] is None and 0 <= item["score"]["total"] <= 100
        assert all(c["reason"] and c["points"] <= c["max"] for c in item["score"]["components"])
    queue = html.split('id="queue"')[1].split("</section>")[0]
    assert 'class="score-components"' in queue and "Account tier" in queue
    for row in data["incumbency"]:
        assert row["contracts"] >= 1 and isinstance(row["us"], bool)


def test_notice_page_every_field_buyers_versions(client_for, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    client = client_for("kam")
    html = client.get(f"/notices/{pk}").text
    for label in ("Notice id (BT-701)", "Procedure id (BT-04)", "Main CPV (BT-262)"):
        assert label in html
    buyers = html.split('id="buyers"')[1].split("</section>")[0]
    assert "916879067" in buyers and "Sykehusinnkjøp HF" in buyers
    data = client.get(f"/api/notices/{pk}").json()
    assert data["fields"]["main_cpv"] == "33100000"
    assert data["versions"] and data["lots"][0]["lot_id"] == "LOT-1-8"
    assert client.get("/notices/999999").status_code == 404


def test_search_filters_and_pagination(client_for, world) -> None:
    client = client_for("kam")
    everything = client.get("/api/notices").json()
    assert everything["total"] > 50 and everything["pages"] >= 2
    second = client.get("/api/notices?page=2").json()
    first_ids = {n["id"] for n in everything["items"]}
    assert first_ids.isdisjoint(n["id"] for n in second["items"])
    html = client.get("/search?page=2").text
    assert "page 2 of" in html and 'rel="prev"' in html
    by_text = client.get("/api/notices?text=Diatermipenner").json()
    assert [n["title"][:25] for n in by_text["items"]] == [DIATERMI]
    by_cpv = client.get("/api/notices?cpv=33100000-1").json()
    assert by_cpv["total"] >= 1 and all(n["main_cpv"].startswith("331") for n in by_cpv["items"])
    by_buyer = client.get("/api/notices?buyer=916879067").json()
    by_name = client.get("/api/notices?buyer=sykehusinnkj").json()
    assert by_buyer["total"] >= 1 and by_name["total"] >= by_buyer["total"]
    acc = account_id(world["engine"], "Forsvaret")
    by_account = client.get(f"/api/notices?account_id={acc}").json()
    assert by_account["total"] >= 1
    dated = client.get("/api/notices?date_from=2023-01-01&date_to=2023-03-31").json()
    assert all("2023-01-01" <= n["issue_date"] <= "2023-03-31" for n in dated["items"])
    planning = client.get("/api/notices?phase=planning").json()
    assert planning["total"] >= 1 and {n["phase"] for n in planning["items"]} == {"planning"}
    combined = client.get("/api/notices?phase=competition&buyer=916879067").json()
    assert combined["total"] <= by_buyer["total"]
    bad_page = client.get("/bids?page=two")
    assert bad_page.status_code == 400 and "page" in bad_page.text
    for bad, field in (("date_from=01.01.2023", "date_from"), ("phase=late", "phase")):
        res = client.get(f"/search?{bad}")
        assert res.status_code == 400 and field in res.text


def test_calendar_feed_with_revocable_hashed_token(client_for, world, app) -> None:
    client = client_for("kam")
    page = client.post(
        "/me/calendar-token", data={"csrf_token": page_csrf(client)}, follow_redirects=True
    ).text
    url = page.split('id="calendar-url"')[0].rsplit('value="', 1)[1].split('"')[0]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert url.startswith("http") and len(token) >= 40
    with session_scope(world["engine"]) as s:
        user = s.scalar(select(User).where(User.email == USERS["kam"]))
        assert user.calendar_token_hash == token_hash(token) != token
    anon = TestClient(app)
    feed = anon.get(f"/calendar/{token}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert feed.text.startswith("BEGIN:VCALENDAR")
    unfolded = feed.text.replace("\r\n ", "")
    # the open competition of her account, at its time in Oslo (a timed event)
    deadline = re.search(r"SUMMARY:Tilbudsfrist kl\. (\d\d)\.(\d\d): Diatermipenner", unfolded)
    assert deadline, "no timed deadline of Diatermipenner"
    assert f"DTEND;TZID=Europe/Oslo:20230317T{deadline[1]}{deadline[2]}00" in unfolded
    assert "BEGIN:VTIMEZONE" in unfolded and "URL:http" in unfolded
    client.post("/me/calendar-token/revoke", data={"csrf_token": page_csrf(client)})
    assert anon.get(f"/calendar/{token}.ics").status_code == 404


def test_api_token_and_openapi(client_for, app) -> None:
    client = client_for("director")
    spec = client.get("/api/openapi.json").json()
    assert {"/api/notices", "/api/bids", "/api/director", "/api/accounts"} <= set(spec["paths"])
    assert not any(p.startswith(("/login", "/accounts")) for p in spec["paths"])
    page = client.post(
        "/me/api-token", data={"csrf_token": page_csrf(client)}, follow_redirects=True
    ).text
    token = page.split('id="api-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    api = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/accounts").status_code == 200
    assert api.get("/director", follow_redirects=False).status_code == 303  # API only
    assert (
        TestClient(app, headers={"Authorization": "Bearer nope"}).get("/api/accounts").status_code
        == 401
    )
    client.post("/me/api-token/revoke", data={"csrf_token": page_csrf(client)})
    assert api.get("/api/accounts").status_code == 401


def test_uncovered_accounts_leave_the_list_when_worked(world) -> None:
    """The director's whole-database aggregates are kept 60 s in the app's own cache
    (``app.state.cache``, created with the app): an activity shows once it is cleared."""
    app = create_app(make_settings(world["home"]), engine=world["engine"])
    with TestClient(app) as director:
        assert login(director, USERS["director"]).status_code == 303
        # (show=all: the seeded world's open windows are outside the IT profile since the
        # Oslo VAV contract reads as probably extended, no longer an open window)
        uncovered = director.get("/api/director?show=all").json()["uncovered"]
        assert uncovered, "the fixtures have open windows without activity"
        acc = uncovered[-1]["account_id"]
        res = director.post(
            f"/accounts/{acc}/activities",
            data={"kind": "meeting", "text": "Needs review", "csrf_token": page_csrf(director)},
            follow_redirects=False,
        )
        assert res.status_code == 303
        cached = director.get("/api/director?show=all").json()["uncovered"]
        assert acc in {u["account_id"] for u in cached}  # whole-database aggregates: 60 s
        app.state.cache.clear()
        fresh = director.get("/api/director?show=all").json()["uncovered"]
        assert acc not in {u["account_id"] for u in fresh}
        # The pages say how old the cached lists may be: 60 s, then up to 240 s more
        # while they are rebuilt in the background (tracker.pages.base.PageCache).
        assert "may be up to 5 min old" in director.get("/director").text
        assert "may be up to 5 min old" in director.get("/bids").text
