"""`tracker alerts subscribe|send|list` through the CLI against a real local SMTP server."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy.orm import Session

from tests.factories import add_account, add_notice, add_user
from tests.ops.conftest import SMTPServer
from tracker.cli import main


def test_alerts_cli_round_trip(session: Session, tracker_env, smtp_server: SMTPServer) -> None:
    today = dt.date(2026, 11, 28)
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_notice(session, "n1", issue_date=today, account=nav, title="Skytjenester")
    session.commit()
    env = {
        **tracker_env,
        "TRACKER_SMTP_HOST": "127.0.0.1",
        "TRACKER_SMTP_PORT": str(smtp_server.port),
        "TRACKER_SMTP_TLS": "none",
        "TRACKER_TODAY": today.isoformat(),
    }
    run = CliRunner()
    res = run.invoke(main, ["alerts", "subscribe", "--user", kam.email, "--defaults"], env=env)
    assert res.exit_code == 0 and "7 default subscription(s) added" in res.output
    res = run.invoke(
        main,
        [
            "alerts",
            "subscribe",
            "--user",
            kam.email,
            "--kind",
            "expiry",
            "--channel",
            "digest",
            "--param",
            "months=6",
        ],
        env=env,
    )
    assert res.exit_code == 0 and 'expiry via digest on {"months": 6}' in res.output
    res = run.invoke(
        main,
        ["alerts", "subscribe", "--user", kam.email, "--kind", "expiry", "--channel", "webhook"],
        env=env,
    )
    assert res.exit_code == 2 and "needs --target" in res.output
    res = run.invoke(main, ["alerts", "send"], env=env)
    assert res.exit_code == 0 and "generated=1 sent=1" in res.output
    assert [m["Subject"] for m in smtp_server.messages] == ["New notice: Skytjenester (NAV)"]
    res = run.invoke(main, ["alerts", "send"], env=env)
    assert "generated=0 sent=0" in res.output and len(smtp_server.messages) == 1
    res = run.invoke(main, ["alerts", "list"], env=env)
    assert res.exit_code == 0 and "sent" in res.output and "kari@example.test" in res.output
