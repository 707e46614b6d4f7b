"""Every page of every role in the system Chromium at 1400 and 390 px, in Norwegian.

Each role switches its language to bokmål on its profile page (the switch under test),
then every page it can open is loaded once and checked at 1400 px and, resized, at
390 px: no horizontal overflow of the page, Norwegian words and no English menu, no raw
codes in the text people read, and axe-core (vendored, tests/dashboards/vendor/axe-core)
finds no serious or critical violation. Screenshots go to test-output/screenshots/i14/.

Every role's sweep runs in every ``make test`` (``make test-fast`` leaves the browser out).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from dashboards.app import create_app
from tests.dashboards.conftest import DIATERMI, PASSWORD, USERS, make_settings, notice_pk
from tests.support.web import CHROMIUM, CHROMIUM_ARGS, start_server
from tracker.db.engine import session_scope
from tracker.db.models import Account, Lot, Notice, User

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots" / "i14"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
OSLO = ZoneInfo("Europe/Oslo")

# Codes that must not reach the text a reader sees (they may stay in title attributes).
RAW_CODES = [
    r"\bLOT-\d{4}\b",
    r"\bN\d{2}\b",
    r"\b[a-z]+_[a-z_]+\b",  # framework_default, health_trust, central_purchasing, ...
    r"\b[a-z]+\+[a-z_]+\b",  # conclusion+duration
    r"\bfa-w[o]?-rc\b|\bfa-mix\b|\bbody-pl\b|\bpub-undert\b",
    r"\d+\.\d\d (MONTH|YEAR|DAY)\b",
    r"Winner chosen (True|False)",
    r"\b(True|False|None)\b",
    r"\bestimate low\b|\btoday left\b|\bd left\b|\bd ago\b",
    r"\bcompetition \d+\b",
    r"\d{4}-\d{2}-\d{2}",  # ISO dates: pages show dd.mm.åååå
]
# English words of the page frame that must not show in Norwegian.
ENGLISH = ["Log out", "Accounts", "Search", "Deadline", "Today is", "Export:"]


def _pages(world: dict, role: str) -> list[tuple[str, str]]:
    engine = world["engine"]
    with session_scope(engine) as s:
        account = s.scalar(select(Account.id).where(Account.name == "Sykehusinnkjøp HF"))
    pages = [
        ("home", "/"),
        ("home-all", "/?all=1"),
        ("accounts", "/accounts"),
        ("account", f"/accounts/{account}"),
        ("bids", "/bids?show=all"),
        ("director", "/director?show=accounts"),
        ("search", "/search?text=&phase=competition"),
        ("notice-competition", f"/notices/{notice_pk(engine, DIATERMI)}"),
        ("notice-award", f"/notices/{_award_notice(engine)}"),
        ("me", "/me"),
    ]
    if role == "admin":
        pages += [("health", "/health"), ("users", "/admin/users")]
    return pages


def _award_notice(engine) -> int:
    from tracker.db.models import Contract

    with session_scope(engine) as s:
        return s.scalar(select(Contract.notice_pk).order_by(Contract.id).limit(1))


def _deadline(engine) -> tuple[int, dt.datetime]:
    """A notice of the world with a tender deadline (its first lot's), and the deadline."""
    with session_scope(engine) as s:
        row = s.execute(
            select(Lot.notice_pk, Lot.submission_deadline)
            .join(Notice, Notice.id == Lot.notice_pk)
            .where(Lot.submission_deadline.is_not(None), Notice.is_latest.is_(True))
            .order_by(Lot.notice_pk)
            .limit(1)
        ).one()
    return row[0], row[1]


@pytest.fixture(scope="module")
def live(world) -> Iterator[str]:
    if world["backend"] != "sqlite":
        pytest.skip("browser tests run once, on SQLite (the HTTP tests cover PostgreSQL)")
    app = create_app(make_settings(world["home"]), engine=world["engine"])
    server, thread, url = start_server(app)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    with session_scope(world["engine"]) as s:  # the world is shared: languages back
        s.execute(update(User).values(language=None))


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (run 'make browser-deps')")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _login_in_norwegian(chromium, url: str, who: str):
    # bypass_csp: axe is injected as a script; the app's CSP allows only its own scripts
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{url}/login")
    page.fill("input[name=email]", USERS[who])
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{url}/me")
    page.select_option("select[name=language]", "nb")
    page.click("form.language-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "nb"
    assert "Språk lagret." in page.locator(".flash").first.inner_text()
    return context, page


def _visible_text(page) -> str:
    """What a reader sees, without the explanations the tracker writes in English
    (marked lang="en": scores' reasons, profile fit, evidence sources)."""
    return page.evaluate(
        """() => { const hidden = [...document.querySelectorAll('body [lang="en"]')];
          hidden.forEach(el => el.style.display = 'none');
          const text = document.body.innerText;
          hidden.forEach(el => el.style.display = '');
          return text; }"""
    )


def _check(page, label: str, width: int) -> list[str]:
    problems = []
    page.set_viewport_size({"width": width, "height": 900})
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 1:
        wide = page.evaluate(
            """() => { const w = document.documentElement.clientWidth; const out = [];
              for (const el of document.querySelectorAll('body *')) {
                if (el.closest('.chart-scroll')) continue;  // scrolls inside its card
                const r = el.getBoundingClientRect();
                if (r.right > w + 1 && out.length < 5)
                  out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
              } return out; }"""
        )
        problems.append(f"{label} @{width}: page {overflow}px wider than the screen ({wide})")
    page.screenshot(path=str(SHOTS / f"{label}-{width}.png"), full_page=True)
    return problems


def _axe(page, label: str) -> list[str]:
    source = AXE.read_text(encoding="utf-8")
    page.evaluate(source)
    result = page.evaluate(
        """async () => { const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ' (' + v.impact + '): '
              + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join(', ')); }"""
    )
    return [f"{label}: axe {v}" for v in result]


def _sweep(chromium, live, world, who: str) -> None:
    context, page = _login_in_norwegian(chromium, live, who)
    problems: list[str] = []
    try:
        for name, path in _pages(world, who):
            page.set_viewport_size({"width": 1400, "height": 900})
            response = page.goto(f"{live}{path}")
            assert response is not None and response.status == 200, f"{path}: {response}"
            label = f"{who}-{name}"
            assert page.locator("html").get_attribute("lang") == "nb", label
            text = _visible_text(page)
            assert "Logg ut" in text, f"{label}: not in Norwegian"
            for word in ENGLISH:
                if word in text:
                    problems.append(f"{label}: English {word!r}")
            for pattern in RAW_CODES:
                found = re.search(pattern, text)
                if found:
                    at = max(found.start() - 40, 0)
                    problems.append(
                        f"{label}: raw code {found.group(0)!r} in …{text[at : found.end() + 20]!r}"
                    )
            problems += _check(page, label, 1400)
            problems += _check(page, label, 390)
            problems += _axe(page, label)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_axe_is_the_vendored_release() -> None:
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256


def test_kam_pages_in_norwegian_at_1400_and_390(chromium, live, world) -> None:
    _sweep(chromium, live, world, "kam")


@pytest.mark.parametrize("who", ["bid", "director", "admin"])
def test_every_role_pages_in_norwegian_at_1400_and_390(chromium, live, world, who) -> None:
    _sweep(chromium, live, world, who)


def test_deadlines_in_oslo_time_with_the_menu_folded(chromium, live, world) -> None:
    """The tender deadline of a real notice shows in Oslo time (``kl. 13.00`` for 11:00
    UTC in summer), and at 390 px the menu is folded behind its button."""
    pk, deadline = _deadline(world["engine"])
    utc = deadline if deadline.tzinfo else deadline.replace(tzinfo=dt.UTC)
    local = utc.astimezone(OSLO)
    expected = f"{local:%d.%m.%Y} kl. {local:%H.%M}"
    context, page = _login_in_norwegian(chromium, live, "kam")
    try:
        page.goto(f"{live}/notices/{pk}")
        summary = page.locator("#summary").inner_text()
        assert expected in summary, (expected, summary)
        if local.utcoffset() != dt.timedelta(0):
            assert f"kl. {utc:%H.%M}" not in summary or utc.hour == local.hour
        page.set_viewport_size({"width": 390, "height": 800})
        assert not page.locator("#main-menu").is_visible()
        page.click(".menu-toggle")
        assert page.locator("#main-menu").is_visible()
        assert page.locator(".menu-toggle").get_attribute("aria-expanded") == "true"
        page.screenshot(path=str(SHOTS / "kam-menu-open-390.png"))
    finally:
        context.close()
