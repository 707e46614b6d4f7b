"""One truth for the command line, the pages and the calendar, on the demo's world.

The world is what ``make demo`` builds (``tests.test_demo.build_demo_world``), and the
demo's day is left in force as ``make demo`` leaves it (``tracker.ops.demo.remember_demo_day``
writes it into the data directory's config file). Then:

- the README's command-line examples (the ``demo-cli`` block) run without ``--today`` and
  give the same rows as the pages and the API on the demo's day;
- reading commands write nothing (the stored opportunities are unchanged);
- rejecting a suggested link takes its opportunity off the account at once;
- the calendar feed, parsed with ``icalendar``, has one event per opportunity and date
  (however many accounts share it), a link back to the tracker on every event, and the
  tender deadlines as timed events in Europe/Oslo with its VTIMEZONE.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.readmodels import list_opportunities
from tests.support.worlds import build_demo_world
from tracker.cli import main
from tracker.config import load_settings
from tracker.db.models import NoticeLink, Opportunity, User
from tracker.formats.ical import opportunity_id
from tracker.linking.links import decide_link
from tracker.ops import demo
from tracker.pages.base import PageEnv
from tracker.pages.bids import bids_page
from tracker.pages.calendar import calendar_feed, calendar_items
from tracker.pages.expiries import expiries
from tracker.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://tracker.example.no"


def readme_commands() -> list[list[str]]:
    """The commands of the README's demo-cli block, without the ``.venv/bin/tracker``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- demo-cli.*?-->\s*```sh\n(.*?)```\s*<!-- /demo-cli -->", text, re.S)
    assert block, "README has no demo-cli block"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("  #")[0].strip()
        if line:
            words = shlex.split(line)
            assert words[0] == ".venv/bin/tracker", line
            commands.append(words[1:])
    return commands


@pytest.fixture
def demo_world(engine: Engine, tracker_env: dict[str, str]) -> Engine:
    build_demo_world(engine, demo.DEMO_TODAY)
    config = demo.remember_demo_day(demo.DEMO_TODAY, tracker_env)
    assert config == Path(tracker_env["TRACKER_HOME"]) / "config.toml"
    return engine


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _snapshot(engine: Engine) -> list[tuple]:
    with Session(engine) as s:
        return list(
            s.execute(
                select(Opportunity.key, Opportunity.phase, Opportunity.computed_for).order_by(
                    Opportunity.key
                )
            )
        )


def test_readme_cli_examples_give_the_pages_rows(demo_world: Engine) -> None:
    engine = demo_world
    assert load_settings().today() == demo.DEMO_TODAY  # make demo's day is in force
    commands = readme_commands()
    assert len(commands) >= 3
    before = _snapshot(engine)
    seen_nonempty = 0
    with Session(engine) as s:
        for args in commands:
            rows = _cli(*args)
            opts = dict(zip(args[1::2], args[2::2], strict=False))
            if args[0] == "opportunities":
                page = list_opportunities(
                    s,
                    today=demo.DEMO_TODAY,
                    account=opts.get("--account"),
                    open_now="--open-now" in args,
                )
                assert [(r["key"], r["phase"], r["days_left"]) for r in rows] == [
                    (r["key"], r["phase"], r["days_left"]) for r in page
                ]
            elif args[0] == "bids":
                env = PageEnv.of(load_settings())
                page = bids_page(
                    s,
                    demo.DEMO_TODAY,
                    show="relevant",
                    per_page=200,
                    rules=env.rules,
                    ours=env.ours,
                ).items
                assert [r["notice_pk"] for r in rows] == [b.notice_pk for b in page]
                assert any("Sporveien" in (b["buyer"] or "") for b in rows)
            elif args[0] == "expiries":
                from tracker.db.models import Account

                acc = s.scalars(select(Account).where(Account.name == opts["--account"])).one()
                env = PageEnv.of(load_settings())
                page = expiries(
                    s, demo.DEMO_TODAY, ours=env.ours, rules=env.rules, account_ids=[acc.id]
                )
                assert {r["title"] for r in rows} == {r.title for r in page}
            else:
                pytest.fail(f"README command not checked: {args}")
            seen_nonempty += bool(rows)
    assert seen_nonempty == len(commands)  # every example shows something on the demo's day
    assert _snapshot(engine) == before  # reading commands wrote nothing


def test_rejecting_a_link_recomputes_at_once(demo_world: Engine) -> None:
    with Session(demo_world) as s:
        link = s.scalars(
            select(NoticeLink)
            .join(Opportunity, Opportunity.notice_pk == NoticeLink.notice_pk)
            .where(
                NoticeLink.status == "suggested", Opportunity.account_id == NoticeLink.account_id
            )
        ).first()
        if link is None:
            pytest.skip("no suggested link with an opportunity in the demo world")
        account_id, notice_pk = link.account_id, link.notice_pk
        result = decide_link(s, link.id, "rejected", "per.olsen@example.no", rules=load_rules())
        assert result["recomputed_for"] == demo.DEMO_TODAY
        left = s.scalars(
            select(Opportunity).where(
                Opportunity.account_id == account_id, Opportunity.notice_pk == notice_pk
            )
        ).all()
        assert left == []


def _events(data: bytes) -> tuple[Calendar, list[Any]]:
    cal = Calendar.from_ical(data)
    return cal, list(cal.walk("VEVENT"))


@pytest.mark.parametrize("email", [e for e, _, _ in demo.DEMO_USERS])
def test_calendar_feed_one_event_per_opportunity_and_date(demo_world: Engine, email: str) -> None:
    with Session(demo_world) as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        env = PageEnv.of(load_settings())
        items = calendar_items(s, user, demo.DEMO_TODAY, env)
        cal, events = _events(calendar_feed(s, user, demo.DEMO_TODAY, env, base_url=BASE))
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    # the same opportunity at several accounts is one event per date
    pairs = [(str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events]
    assert len(pairs) == len(set(pairs)), [p for p in pairs if pairs.count(p) > 1][:3]
    shared = {}
    for item in items:
        if "key" in item:
            shared.setdefault(opportunity_id(item["key"]), set()).add(item.get("account"))
    for e in events:
        url = str(e["URL"])
        assert url.startswith(f"{BASE}/notices/") or url.startswith(f"{BASE}/accounts/")
        assert url in str(e["DESCRIPTION"])
    timed = [e for e in events if e["DTSTART"].params.get("TZID")]
    for e in timed:
        assert e["DTSTART"].params["TZID"] == "Europe/Oslo"
        assert str(e["SUMMARY"]).startswith("Tilbudsfrist kl. ")
        start = e.decoded("DTSTART")
        assert start.utcoffset() is not None and str(start.tzinfo) == "Europe/Oslo"
        hhmm = str(e["SUMMARY"])[len("Tilbudsfrist kl. ") :][:5]
        assert e.decoded("DTEND").strftime("%H.%M") == hhmm
    if timed:
        assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Oslo"]
    if email == "bid@example.no":  # Sporveien's qualification system ends at a time
        assert timed
    # an opportunity shared by accounts names them all in its one event
    multi = [k for k, accounts in shared.items() if len(accounts) > 1]
    for key in multi:
        mine = [e for e in events if str(e["UID"]).startswith(key.replace(" ", "_") + "/")]
        for e in mine:
            for account in shared[key]:
                assert account in str(e["DESCRIPTION"])


def test_config_is_a_table_with_sources(tracker_env: dict[str, str]) -> None:
    demo.remember_demo_day(demo.DEMO_TODAY, tracker_env)
    result = CliRunner().invoke(main, ["config"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    config = Path(tracker_env["TRACKER_HOME"]) / "config.toml"
    assert lines[0] == f"config file: {config}"
    assert lines[1].split() == ["key", "value", "source"]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert rows["today"].split()[1:3] == ["2023-05-15", "file"]
    assert rows["home"].split()[1:] == [tracker_env["TRACKER_HOME"], "env", "TRACKER_HOME"]
    assert "***" in rows["database_url"]  # set in the environment: redacted
    data = json.loads(CliRunner().invoke(main, ["config", "--format", "json"]).stdout)
    assert data["values"]["today"] == "2023-05-15"


def test_remember_demo_day_keeps_the_other_settings(tmp_path: Path) -> None:
    env = {"TRACKER_HOME": str(tmp_path)}
    config = tmp_path / "config.toml"
    config.write_text(
        'our_orgnrs = "123456789"\ntoday = "2020-01-01"\n\n[alerts]\ntoday = "kept"\n',
        encoding="utf-8",
    )
    assert demo.remember_demo_day(demo.DEMO_TODAY, env) == config
    settings = load_settings(env=env)
    assert settings.today() == demo.DEMO_TODAY
    assert settings.our_orgnr_list == ["123456789"] and settings.values["alerts"] == {
        "today": "kept"
    }
    fresh = tmp_path / "fresh"
    demo.remember_demo_day(dt.date(2023, 11, 27), {"TRACKER_HOME": str(fresh)})
    assert load_settings(env={"TRACKER_HOME": str(fresh)}).today() == dt.date(2023, 11, 27)


def test_a_busy_port_is_reported_before_anything_is_built(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert f"port {port} on 127.0.0.1 is busy" in (demo.port_problem(port) or "")
        env = {**os.environ, "TRACKER_HOME": str(tmp_path / "home")}
        # make's own check runs before the virtual environment is built
        make = ["make", "-s", "-C", str(ROOT), "demo-port", f"PORT={port}"]
        res = subprocess.run(
            [*make, f"PYTHON={sys.executable}"], capture_output=True, text=True, env=env, timeout=60
        )
        assert res.returncode != 0 and f"port {port} on 127.0.0.1 is busy" in res.stderr
        assert f"make demo PORT={port + 1}" in res.stderr
        # and the demo itself stops before migrating anything
        with pytest.raises(SystemExit, match=f"port {port} on 127.0.0.1 is busy"):
            demo.main(["--port", str(port)])
    assert not (tmp_path / "home").exists()
    free = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "demo-port", f"PORT={port}", f"PYTHON={sys.executable}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert free.returncode == 0, free.stderr


def test_crawl_progress_reads_days_and_notices(engine: Engine, tracker_env: dict[str, str]) -> None:
    import io

    from tests.conftest import REAL
    from tracker.cli.crawl import CrawlProgress
    from tracker.db.models import HarvestDay
    from tracker.notices.ingest import Ingestor

    out = io.StringIO()
    progress = CrawlProgress(
        "doffin", dt.date(2023, 1, 1), dt.date(2023, 1, 10), every=3600, out=out, engine=engine
    )
    with progress:
        with Ingestor(engine, source="doffin") as ing:
            for path in sorted(REAL.glob("*.xml"))[:3]:
                ing.add(path.read_bytes(), location=str(path))
            ing.flush()
        with Session(engine) as s:
            for day in (1, 2):
                s.add(HarvestDay(source="doffin", day=dt.date(2023, 1, day), complete=True))
            s.add(HarvestDay(source="doffin", day=dt.date(2022, 12, 31), complete=True))
            s.commit()
        assert progress.line() == "crawl doffin: day 2 of 10, 3 notice(s) stored"
        assert progress.line() is None  # nothing new
