"""The demo in a real browser: each demo role's home on the demo day, at 1400 and 390 px.

The world is the demo's (tests/test_demo.py: example accounts, the real notices issued up
to the day, ``tracker.ops.demo.finish``). Screenshots go to ``test-output/screenshots/demo-*``;
the pages are checked for what each role must see first. A second day (2023-11-27) shows
the market dialogue of the data (Forsvarsmateriell's RFI) on top of the admin's home.
Skipped when Chromium or Playwright is missing (``make browser-deps``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.app import create_app
from tests.dashboards.conftest import make_settings
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, SHOTS, start_server
from tests.support.worlds import build_demo_world
from tracker.db import engine as tracker_db
from tracker.db.migrate import upgrade
from tracker.ops import demo

pytestmark = pytest.mark.browser
PASSWORD = "demo password for tests"  # what build_demo_world gives the demo users
DIALOGUE_DAY = dt.date(2023, 11, 27)
WIDTHS = (1400, 390)


def _site(tmp_path_factory: pytest.TempPathFactory, today: dt.date) -> Iterator[str]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (run 'make browser-deps')")
    home = tmp_path_factory.mktemp(f"demo-{today}")
    engine = tracker_db.make_engine(f"sqlite:///{home / 'demo.db'}")
    upgrade(engine)
    build_demo_world(engine, today)
    app = create_app(make_settings(home, TRACKER_TODAY=today.isoformat()), engine=engine)
    server, thread, url = start_server(app)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _site(tmp_path_factory, demo.DEMO_TODAY)


@pytest.fixture(scope="module")
def dialogue_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _site(tmp_path_factory, DIALOGUE_DAY)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _home(chromium: Any, url: str, email: str, width: int) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url
    return context, page


# Every role of the demo (the KAM's home is the busiest).
ROLES = [e for e, _, _ in demo.DEMO_USERS]


@pytest.mark.parametrize("email", ROLES)
def test_demo_role_homes_screenshots(chromium: Any, demo_site: str, email: str) -> None:
    role = next(r for e, r, _ in demo.DEMO_USERS if e == email)
    for width in WIDTHS:
        context, page = _home(chromium, demo_site, email, width)
        try:
            assert page.locator(".error-message").count() == 0
            text = page.locator("main").inner_text()
            if role == "kam":
                # in-profile work first: a risk, a window or an expiry, never a kiosk
                work = page.locator("#dialogues tbody tr, #influence tbody tr, "
                                    "#overdue tbody tr, #expiries tbody tr")  # fmt: skip
                assert work.count() >= 1, email
                assert "in profile" in page.locator("main").inner_html()
                assert "out of profile" not in text
            if role == "bid":
                assert page.url.endswith("/bids")
                first = page.locator("main table tbody tr").first.inner_text()
                assert "Toppsystem VMS" in first
                assert "Competition last time" in text and "Selection requirements" in text
            page.screenshot(
                path=str(SHOTS / f"demo-{role}-{email.split('@')[0]}-{width}.png"),
                full_page=True,
            )
            if role == "director":  # the director's own page
                page.goto(f"{demo_site}/director")
                text = page.locator("main").inner_text()
                assert "Counting what is in our capability profile" in text
                queue = page.locator("#queue tbody tr").first.inner_text()
                assert "Toppsystem VMS" in queue
                page.screenshot(path=str(SHOTS / f"demo-director-page-{width}.png"), full_page=True)
        finally:
            context.close()


def test_dialogue_day_admin_home_has_the_market_dialogue_on_top(
    chromium: Any, dialogue_site: str
) -> None:
    for width in WIDTHS:
        context, page = _home(chromium, dialogue_site, "admin@example.no", width)
        try:
            first = page.locator("main section.card").first
            assert first.get_attribute("id") == "dialogues"
            row = first.locator("tbody tr").first.inner_text()
            assert "Elektroniske Prøver" in row and "18 d" in row  # respond by 2023-12-15
            note = first.locator(".supplier-note").first.inner_text()
            assert "equally" in note and "anskaffelser.no" in note
            page.screenshot(path=str(SHOTS / f"demo-dialogue-admin-{width}.png"), full_page=True)
        finally:
            context.close()
