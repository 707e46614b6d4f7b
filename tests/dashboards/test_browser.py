"""Real-browser tests: Playwright driving the system Chromium against a live server.

Each role logs in, opens its main pages, uses a filter, records a decision and downloads
an export; screenshots go to ``test-output/screenshots/``. Skipped (with the reason)
when Chromium or Playwright is missing; ``make browser-deps`` installs Chromium.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from dashboards.app import create_app
from tests.dashboards.conftest import DIATERMI, PASSWORD, USERS, make_settings, notice_pk
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, SHOTS, start_server
from tracker.db.engine import session_scope
from tracker.db.models import BidDecision

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_url(world) -> Iterator[str]:
    if world["backend"] != "sqlite":
        pytest.skip("browser tests run once, on SQLite (the HTTP tests cover PostgreSQL)")
    app = create_app(make_settings(world["home"]), engine=world["engine"])
    server, thread, url = start_server(app)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed (run 'make browser-deps' or apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page_as(browser, live_url):
    contexts = []

    def make(who: str):
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_url}/")
        assert page.url.startswith(f"{live_url}/login")
        page.fill("input[name=email]", USERS[who])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url
        return page

    yield make
    for c in contexts:
        c.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("who", ["kam", "bid", "director", "admin"])
def test_each_role_logs_in_and_opens_main_pages(page_as, live_url, who) -> None:
    page = page_as(who)
    for path in ("/", "/accounts", "/bids", "/director", "/search"):
        page.goto(f"{live_url}{path}")
        assert page.locator("h1").count() >= 1
        assert page.locator(".error-message").count() == 0
        if path == "/":  # the role's start page (the bid team lands on /bids)
            _shot(page, f"{who}-start")
    page.goto(f"{live_url}/accounts")
    page.locator("main table a").first.click()
    page.wait_for_load_state()
    assert page.locator("#profile").is_visible()
    _shot(page, f"{who}-account")
    # Log out through the header button.
    page.click("header form.logout button")
    page.wait_for_load_state()
    assert page.url.startswith(f"{live_url}/login")


def test_kam_account_timeline_and_filter(page_as, live_url) -> None:
    page = page_as("kam")
    page.click("text=Sykehusinnkjøp HF")
    page.wait_for_load_state()
    _shot(page, "kam-account-sykehusinnkjop")
    page.goto(f"{live_url}/search")
    page.fill("input[name=text]", "Diatermipenner")
    page.select_option("select[name=phase]", "competition")
    page.click("#search-form button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("main table tbody tr")
    assert rows.count() == 1 and DIATERMI in rows.first.inner_text()
    _shot(page, "kam-search-filtered")
    page.fill("input[name=text]", "")
    page.select_option("select[name=phase]", "")
    page.click("#search-form button[type=submit]")
    page.wait_for_load_state()
    page.click("a[rel=next]")
    page.wait_for_load_state()
    assert "page 2 of" in page.locator(".pager").first.inner_text()


@pytest.fixture
def undo_decisions(world) -> Iterator[None]:
    """Decisions recorded by a test are removed after it (the world is shared)."""
    yield
    with session_scope(world["engine"]) as s:
        s.execute(delete(BidDecision).where(BidDecision.why.startswith("Browser test:")))


def test_director_records_a_decision_and_downloads_an_export(
    page_as, live_url, world, undo_decisions
) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    page = page_as("director")
    page.goto(f"{live_url}/director?show=accounts")  # diathermy pens: outside the IT profile
    row = page.locator(f"#queue-{pk}")
    if row.count() == 0:
        pytest.fail("the competition is not in the bid/no-bid queue")
    row.locator("select[name=decision]").select_option("no-bid")
    row.locator("input[name=why]").fill("Browser test: Price weight too high for our margins")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Decision recorded: no bid." in page.locator(".flash").first.inner_text()
    assert "Price weight too high" in page.locator("#decided").inner_text()
    _shot(page, "director-after-decision")
    with page.expect_download() as info:
        page.locator("#incumbency .exports a", has_text="CSV").first.click()
    download = info.value
    content = Path(download.path()).read_text(encoding="utf-8-sig")  # Norwegian Excel's CSV
    header = next(csv.reader(io.StringIO(content), delimiter=";"))
    assert download.suggested_filename.startswith("incumbency-") and "Leverandør" in header


def test_bid_team_sets_status_and_filters(page_as, live_url, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    page = page_as("bid")
    assert page.url.endswith("/bids")
    assert page.locator(f"#bid-{pk}").count() == 0  # outside the IT profile: one click away
    page.goto(f"{live_url}/bids?show=accounts")
    row = page.locator(f"#bid-{pk}")
    row.locator("select[name=status]").select_option("submitted")
    row.locator("form.bid-status button").click()
    page.wait_for_load_state()
    assert page.locator(f"#bid-{pk} select[name=status]").input_value() == "submitted"
    page.select_option("select[name=show]", "all")  # auto-submits (app.js)
    page.wait_for_url("**/bids?show=all")
    assert page.locator("main table tbody tr").count() > 2
    _shot(page, "bid-all-open")
    with page.expect_download() as info:
        page.locator(".exports a", has_text="XLSX").click()
    assert info.value.suggested_filename.endswith(".xlsx")
