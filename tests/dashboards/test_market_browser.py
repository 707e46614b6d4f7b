"""The market pages in a real browser (Playwright, system Chromium) at 1400 and 390 px:
supplier, buyer and director market pages of the market world, screenshots in
``test-output/screenshots/market-*.png``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.dashboards.conftest import PASSWORD, USERS
from tests.dashboards.market_world import market_world  # noqa: F401 - fixture "market"
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, SHOTS, start_server
from tracker.db.engine import session_scope
from tracker.db.models import Contract, ContractParty

pytestmark = [pytest.mark.browser]
WIDTHS = (1400, 390)


def _busiest(engine: Any, role: str) -> str:
    """The party of ``role`` in the most notices, then contracts (the fullest page)."""
    with session_scope(engine) as s:
        return s.execute(
            select(ContractParty.party_key)
            .join(Contract, Contract.id == ContractParty.contract_id)
            .where(ContractParty.role == role)
            .group_by(ContractParty.party_key)
            .order_by(
                func.count(func.distinct(Contract.notice_pk)).desc(),
                func.count().desc(),
                ContractParty.party_key,
            )
            .limit(1)
        ).scalar_one()


@pytest.fixture(scope="module")
def live(market: dict) -> Iterator[str]:
    if market["backend"] != "sqlite":
        pytest.skip("browser tests run once, on SQLite (the HTTP tests cover PostgreSQL)")
    server, thread, url = start_server(market["app"])
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_market_pages_render_at_desktop_and_phone_width(
    market: dict, live: str, browser: Any, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live}/login")
    page.fill("input[name=email]", USERS["director"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    supplier = _busiest(market["engine"], "supplier")
    buyer = _busiest(market["engine"], "buyer")
    pages = {
        "supplier": (f"/suppliers/{supplier}", "#years svg.chart, #years p.empty"),
        "buyer": (f"/buyers/{buyer}", "#procedures table"),
        "director": ("/director/market", "#coverage table"),
    }
    for name, (path, selector) in pages.items():
        page.goto(f"{live}{path}")
        assert page.locator("h1").count() == 1, path
        assert page.locator(".error-message").count() == 0, path
        assert page.locator(selector).first.is_visible(), (path, selector)
        # Every chart and table has an export link that downloads.
        assert page.locator("p.exports a[href^='/market-export/']").count() >= 2
        page.screenshot(path=str(SHOTS / f"market-{name}-{width}.png"), full_page=True)
    context.close()
