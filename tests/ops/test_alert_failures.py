"""Alerts that cannot be sent as they are: header values made single-line; a cause that
will not change (refused recipient, webhook gone) ends as ``failed`` with its reason,
shown by doctor, the health page and ``tracker alerts list``; outages keep retrying."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import add_account, add_notice, add_user
from tests.ops.conftest import SMTPServer, WebhookReceiver, _Collect, free_port, ops_settings
from tracker.alerts import delivery, generation, subscriptions
from tracker.cli import main
from tracker.db.models import AlertLog
from tracker.ops.doctor import health_report, run_checks

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)
EVIL = "Rammeavtale\r\nBcc: evil@example.test\r\nX-Evil: 1\n\rdrift"


def clock_at(t: dt.datetime):
    return lambda: t


class _Refusing(_Collect):
    """Refuses every recipient whose address starts with 'gone' (550, permanent)."""

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.startswith("gone"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def refusing_smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.handler = _Refusing()
    server._controller = Controller(server.handler, hostname="127.0.0.1", port=server.port)
    server._controller.start()
    yield server
    server.stop()


def test_a_title_with_cr_lf_is_sent_on_one_line(session: Session, smtp_server: SMTPServer) -> None:
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_notice(session, "n-evil", issue_date=TODAY, account=nav, title=EVIL, main_cpv="72000000")
    session.commit()
    report = delivery.run_alerts(
        session, TODAY, ops_settings(smtp_server.port), clock=clock_at(NOW)
    )
    assert report.delivery.errors == [] and report.pending == 0
    [msg] = [m for m in smtp_server.messages if m["Subject"].startswith("New notice")]
    assert msg["Subject"] == "New notice: Rammeavtale Bcc: evil@example.test X-Evil: 1 drift (NAV)"
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["X-Rcpt"] == "kari@example.test"
    row = session.scalars(select(AlertLog).where(AlertLog.kind == "new_notice")).one()
    assert row.status == "sent" and row.attempts == 1


def test_a_refused_recipient_is_given_up_and_reported(
    session: Session, refusing_smtp: SMTPServer, tracker_env: dict[str, str]
) -> None:
    kam = add_user(session, "gone@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_notice(session, "n-1", issue_date=TODAY, account=nav, title="Kjøp av PC-er")
    session.commit()
    settings = ops_settings(refusing_smtp.port, TRACKER_ALERT_BACKOFF_SECONDS="60")
    now = NOW
    first = delivery.run_alerts(session, TODAY, settings, clock=clock_at(now))
    assert first.delivery.failed == 1 and first.delivery.given_up == 0
    row = session.scalars(select(AlertLog).where(AlertLog.kind == "new_notice")).one()
    assert row.status == "pending" and row.permanent_failures == 1
    for _ in range(delivery.PERMANENT_ATTEMPTS - 1):
        now += dt.timedelta(hours=7)  # past any backoff
        report = delivery.deliver_pending(session, settings, clock=clock_at(now))
    assert report.given_up == 1
    session.refresh(row)
    assert row.status == "failed" and row.attempts == delivery.PERMANENT_ATTEMPTS
    assert "550" in row.last_error and "gave up after 3 tries" in row.last_error
    # Never tried again...
    assert delivery.deliver_pending(
        session, settings, clock=clock_at(now + dt.timedelta(days=1))
    ) == (delivery.DeliveryReport())
    # ...and reported: doctor, the health page, the CLI.
    checks = {c.name: c for c in run_checks(ops_settings(None), session.get_bind())}
    assert checks["alerts"].status == "warn"
    assert "1 alert(s) failed for good" in checks["alerts"].message
    assert "550" in checks["alerts"].message
    health = health_report(session, TODAY, now=now)
    assert health["alerts"]["failed"] == 1
    assert health["failed_alerts"][0]["user"] == "gone@example.test"
    assert "550" in health["failed_alerts"][0]["reason"]
    listed = CliRunner().invoke(main, ["alerts", "list", "--status", "failed"])
    assert listed.exit_code == 0 and "failed" in listed.output and "550" in listed.output
    retried = CliRunner().invoke(main, ["alerts", "retry", "--all-failed"])
    assert retried.exit_code == 0 and "1 alert(s) queued again" in retried.output
    session.refresh(row)
    assert row.status == "pending" and row.permanent_failures == 0


def test_webhook_gone_is_given_up_but_an_outage_is_retried(
    session: Session, webhook: WebhookReceiver
) -> None:
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_notice(session, "n-1", issue_date=TODAY, account=nav)
    session.commit()
    subscriptions.subscribe(
        session, kam.email, "new_notice", "webhook", target=f"{webhook.url}/hook"
    )
    session.commit()
    settings = ops_settings(None, TRACKER_ALERT_BACKOFF_SECONDS="1")
    webhook.status = 503  # down: retried however often it fails
    now = NOW
    generation.generate_alerts(session, TODAY, settings)
    for _ in range(6):
        delivery.deliver_pending(session, settings, clock=clock_at(now))
        now += dt.timedelta(hours=7)
    row = session.scalars(select(AlertLog).where(AlertLog.channel == "webhook")).one()
    assert row.status == "pending" and row.attempts == 6 and row.permanent_failures == 0
    webhook.status = 410  # gone: given up after PERMANENT_ATTEMPTS
    for _ in range(delivery.PERMANENT_ATTEMPTS):
        delivery.deliver_pending(session, settings, clock=clock_at(now))
        now += dt.timedelta(hours=7)
    session.refresh(row)
    assert row.status == "failed" and "HTTP 410" in row.last_error
    assert webhook.url not in row.last_error  # the URL is a secret


def test_unreachable_smtp_is_not_permanent(session: Session) -> None:
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_notice(session, "n-1", issue_date=TODAY, account=nav)
    session.commit()
    settings = ops_settings(free_port())
    now = NOW
    for _ in range(delivery.PERMANENT_ATTEMPTS + 2):
        delivery.run_alerts(session, TODAY, settings, clock=clock_at(now))
        now += dt.timedelta(hours=7)
    rows = session.scalars(select(AlertLog)).all()
    assert rows and all(r.status == "pending" and r.permanent_failures == 0 for r in rows)
