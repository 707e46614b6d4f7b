"""``make demo``: the main job on the embedded default, ending with the dashboard.

1. migrates the configured database (SQLite under ``$TRACKER_HOME`` by default);
2. imports the example key accounts (``examples/accounts.yaml``);
3. starts the local replay server (``python -m tests.replay``, a subprocess: ``tracker``
   never imports ``spiders``) which serves the bundled real Doffin notices, TED search
   and Brønnøysund lookups over HTTP on 127.0.0.1;
4. runs the real spiders against it (Doffin harvest, TED harvest, business register);
5. relinks, recomputes opportunities for today, creates one demo user per role;
6. serves the dashboard on 127.0.0.1 and prints the URL and the logins.

Run it with ``python -m tracker.ops.demo [--no-serve] [--port 8000]`` (``make demo PORT=8001``).
A busy port is reported before anything is built. The demo's day is written to the config
file of the data directory (``today`` in ``$TRACKER_HOME/config.toml``), so that the
command line (``.venv/bin/tracker ...`` from the project folder) shows what the dashboard
shows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tracker.config import load_settings
from tracker.db.engine import get_engine, session_scope
from tracker.db.migrate import upgrade
from tracker.ops.crawl import PROJECT_ROOT, run_crawl

# The bundled real notices were issued from July 2022 to August 2024. The demo shows the
# tracker as it would have looked on DEMO_TODAY: it harvests up to that day only (no
# hindsight), and the dashboard treats that day as today (TRACKER_TODAY). The day and the
# demo KAM's accounts are chosen from the real notices so that each role sees work in the
# example IT profile (tests/test_demo.py checks it on the derived data):
# - the bid team: Sporveien's qualification system for a new video management system with
#   storage servers and clients (2023-604437, issued 2023-05-03, applications until the
#   system ends on 2023-06-05), the only in-profile competition of the data;
# - Per Olsen, KAM of Oslo kommune and Sporveien: the operations contract for the water and
#   sewage agency's classified information system was to end 2023-03-31, but a
#   modification notice came 3.5 months before that end (2022-627512): the tracker shows it
#   among his expiries as probably extended, ask the buyer (not an overdue re-tender, not
#   a window open now); Sporveien's competition is among his new notices.
# On no day of the data does a second KAM have in-profile work while a competition in the
# profile is open. The IT market dialogue of the data (Forsvarsmateriell's RFI on an
# electronic test system, respond by 2023-12-15) shows with --today 2023-11-27 (log in as
# the admin, who sees every account).
DEMO_SINCE = "2022-01-01"
DEMO_TODAY = dt.date(2023, 5, 15)
# Against the local replay server there is no need for Doffin's polite pacing.
FAST_LOCAL_CRAWL = {
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}
DEMO_USERS = [
    ("per.olsen@example.no", "kam", "Per Olsen (Oslo kommune og kommunene)"),
    ("bid@example.no", "bid", "Tilbudsteamet"),
    ("director@example.no", "director", "Salgsdirektør"),
    ("admin@example.no", "admin", "Administrator"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"replay server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"replay server did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def port_problem(port: int) -> str | None:
    """Why the dashboard cannot listen on 127.0.0.1:``port``, or None."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return (
                f"port {port} on 127.0.0.1 is busy ({exc.strerror or exc}): stop what uses it "
                f"or choose another, e.g. make demo PORT={port + 1}"
            )
    return None


def remember_demo_day(today: dt.date, env: dict[str, str] | None = None) -> Path:
    """Write ``today = "<day>"`` into the config file the command line reads
    (``$TRACKER_CONFIG`` or ``$TRACKER_HOME/config.toml``), keeping its other lines;
    returns the file. The dashboard and ``tracker`` then agree on the demo's day."""
    env = dict(os.environ if env is None else env)
    home = Path(env.get("TRACKER_HOME", "./var")).expanduser()
    path = Path(env.get("TRACKER_CONFIG") or home / "config.toml")
    line = f'today = "{today.isoformat()}"  # set by make demo: the day the demo is shown as of'
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = text.splitlines()
    top = next((i for i, x in enumerate(lines) if x.lstrip().startswith("[")), len(lines))
    for i in range(top):
        if re.match(r"\s*today\s*=", lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(0, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _step(text: str) -> None:
    print(f"==> {text}", flush=True)


def _demo_password(home: Path) -> str:
    """One demo password per data directory, kept in a 0600 file so reruns print the same."""
    path = home / "demo-password"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return password


def prepare(today: dt.date) -> dict[str, object]:
    """Steps 1-5; returns figures for the summary."""
    from tracker.accounts.keyaccounts import import_accounts

    settings = load_settings()
    engine = get_engine(settings=settings)
    _step(f"database {engine.url.render_as_string(hide_password=True)}: migrating")
    upgrade(engine)

    _step("importing example key accounts (examples/accounts.yaml)")
    with session_scope(engine) as session:
        import_accounts(session, PROJECT_ROOT / "examples" / "accounts.yaml")

    port = _free_port()
    _step(f"starting the local replay server on 127.0.0.1:{port} (bundled real notices)")
    replay = subprocess.Popen(
        [sys.executable, "-m", "tests.replay", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
    )
    figures: dict[str, object] = {}
    try:
        _wait_for_port(port, replay)
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        env.update(
            {
                "DOFFIN_API_URL": f"{base}/doffin",
                "TED_API_URL": f"{base}/ted",
                "BRREG_API_URL": f"{base}/brreg",
                "DOFFIN_API_KEY": env.get("DOFFIN_API_KEY") or "demo-key",
                "TRACKER_DATABASE_URL": settings.db_url,
            }
        )
        from tracker.cli.crawl import CrawlProgress

        since = dt.date.fromisoformat(DEMO_SINCE)
        for spider, args in (
            ("doffin", {"since": DEMO_SINCE, "until": today.isoformat()}),
            ("ted", {"since": DEMO_SINCE, "until": today.isoformat()}),
            ("brreg", {}),
        ):
            _step(f"crawling {spider} from the replay server")
            with CrawlProgress(spider, since, today, every=2.0, out=sys.stdout, engine=engine):
                result = run_crawl(spider, args, settings=FAST_LOCAL_CRAWL, env=env)
            figures[spider] = result.exit_code
            if result.exit_code != 0:
                print(f"    {spider} crawl exited with {result.exit_code}", file=sys.stderr)
    finally:
        replay.terminate()
        replay.wait(timeout=10)

    _step(f"linking notices to accounts and computing opportunities for {today}")
    password = _demo_password(settings.home_path)
    with session_scope(engine) as session:
        figures.update(finish(session, today, password))
    figures["password"] = password
    return figures


def finish(session: Any, today: dt.date, password: str) -> dict[str, object]:
    """The demo's last step on stored notices and accounts: link, recompute the
    opportunities for ``today``, create the demo users (the demo test runs it too)."""
    from tracker.linking.links import link_notices
    from tracker.opportunities.build import recompute
    from tracker.rules import load_rules
    from tracker.users import ensure_user

    settings = load_settings()  # the demo's own settings (recompute takes them explicitly)
    rules = load_rules(settings=settings)

    figures: dict[str, object] = {
        "links": link_notices(session),
        "opportunities": recompute(session, today, rules=rules, ours=settings.our_orgnr_list),
    }
    for email, role, name in DEMO_USERS:
        ensure_user(session, email, role, password, name=name)
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m tracker.ops.demo", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--no-serve", action="store_true", help="prepare the data, do not serve")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=DEMO_TODAY,
        help=f"the day the demo is shown as of (default {DEMO_TODAY}; the data run to 2024-08)",
    )
    args = ap.parse_args(argv)
    today = args.today
    problem = None if args.no_serve else port_problem(args.port)
    if problem:  # before anything is built
        raise SystemExit(f"make demo: {problem}")
    figures = prepare(today)
    config = remember_demo_day(today)
    url = f"http://127.0.0.1:{args.port}/"
    print()
    print(f"Dashboard: {url}  (shown as of {today}: the bundled notices are from 2022-2024)")
    print(f"Log in as any of these (password: {figures['password']}):")
    for email, role, name in DEMO_USERS:
        print(f"  {email:28} {role:9} {name}")
    print()
    print(f"The command line shows the same day ({today}, written to {config}):")
    print("  .venv/bin/tracker opportunities --open-now   # from this folder, or first:")
    print("  source .venv/bin/activate && tracker bids")
    print()
    if args.no_serve:
        return
    import uvicorn

    os.environ.setdefault("TRACKER_BASE_URL", url.rstrip("/"))
    os.environ["TRACKER_TODAY"] = today.isoformat()
    uvicorn.run("dashboards.app:create_app", factory=True, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
