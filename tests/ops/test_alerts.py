"""Alerts end to end against a real local SMTP server and a local webhook receiver."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.factories import add_account, add_notice, add_opportunity, add_user
from tests.ops.conftest import SMTPServer, WebhookReceiver, ops_settings
from tracker.alerts import channels, delivery, generation, subscriptions
from tracker.db.models import AlertLog, AlertSubscription, BidDecision
from tracker.errors import ConfigError
from tracker.rules import load_rules

TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)


def clock_at(t: dt.datetime):
    return lambda: t


def _kam_world(session: Session) -> dict:
    kam = add_user(session, "kari@example.test", "kam")
    other = add_user(session, "ola@example.test", "kam")
    nav = add_account(session, "NAV", "Kari@example.test")
    forsvaret = add_account(session, "Forsvaret", "ola@example.test")
    add_notice(
        session,
        "n-new",
        issue_date=TODAY - dt.timedelta(days=1),
        account=nav,
        title="Kjøp av PC-er",
    )
    add_notice(session, "n-old", issue_date=TODAY - dt.timedelta(days=40), account=nav)
    add_notice(session, "n-other", issue_date=TODAY, account=forsvaret)
    it = {"main_cpv": "72000000"}  # in the IT capability profile (alerts skip the rest)
    add_opportunity(
        session,
        "opp-open",
        nav,
        influence_opens=TODAY,
        expected_publication=TODAY + dt.timedelta(days=200),
        **it,
    )
    add_opportunity(
        session,
        "opp-close",
        nav,
        influence_opens=TODAY - dt.timedelta(days=300),
        expected_publication=TODAY + dt.timedelta(days=10),
        **it,
    )
    add_opportunity(session, "opp-expiry", nav, expiry=TODAY + dt.timedelta(days=150), **it)
    add_opportunity(
        session,
        "opp-far",
        nav,
        expiry=TODAY + dt.timedelta(days=900),
        influence_opens=TODAY + dt.timedelta(days=200),
        **it,
    )
    add_opportunity(session, "opp-forsvaret", forsvaret, influence_opens=TODAY, **it)
    session.commit()
    return {"kam": kam, "other": other, "nav": nav}


def test_default_subscriptions_by_role(session: Session) -> None:
    users = {
        r: add_user(session, f"{r}@example.test", r) for r in ("kam", "bid", "director", "admin")
    }
    added = {r: subscriptions.ensure_default_subscriptions(session, u) for r, u in users.items()}
    assert added == {"kam": 7, "bid": 1, "director": 1, "admin": 0}
    kinds = set(
        session.scalars(
            select(AlertSubscription.kind).where(AlertSubscription.user_id == users["kam"].id)
        )
    )
    assert kinds == {
        "dialogue_open",
        "new_notice",
        "window_opening",
        "window_closing",
        "drafting_start",
        "expiry",
        "budget_window",
    }
    # Defaults are only given once: a user who has subscriptions keeps exactly those.
    assert subscriptions.ensure_default_subscriptions(session, users["kam"]) == 0


def test_kam_alerts_scoped_to_own_accounts_and_logged_once(session: Session) -> None:
    w = _kam_world(session)
    settings = ops_settings(None)
    assert generation.generate_alerts(session, TODAY, settings) > 0
    rows = session.scalars(select(AlertLog).where(AlertLog.user_id == w["kam"].id)).all()
    got = {(r.kind, r.payload.get("opportunity_key") or r.payload.get("notice_id")) for r in rows}
    assert got == {
        ("new_notice", "n-new"),
        ("window_opening", "opp-open"),
        ("window_closing", "opp-close"),
        ("expiry", "opp-expiry"),
    }
    assert {r.channel for r in rows if r.kind == "new_notice"} == {"email"}
    assert {r.channel for r in rows if r.kind != "new_notice"} == {"digest"}
    closing = next(r for r in rows if r.kind == "window_closing")
    assert "closes in 10 days" in closing.subject and "NAV" in closing.subject
    # The other KAM sees Forsvaret only.
    other = session.scalars(select(AlertLog).where(AlertLog.user_id == w["other"].id)).all()
    assert {r.kind for r in other} == {"new_notice", "window_opening"}
    # Rerunning (same day or the next) logs nothing new.
    before = session.scalar(select(func.count()).select_from(AlertLog))
    assert generation.generate_alerts(session, TODAY, settings) == 0
    assert generation.generate_alerts(session, TODAY + dt.timedelta(days=1), settings) == 0
    assert session.scalar(select(func.count()).select_from(AlertLog)) == before


def test_email_and_digest_sent_exactly_once(session: Session, smtp_server: SMTPServer) -> None:
    w = _kam_world(session)
    settings = ops_settings(smtp_server.port)
    report = delivery.run_alerts(session, TODAY, settings, clock=clock_at(NOW))
    assert report.delivery.failed == 0 and report.pending == 0
    kari = [m for m in smtp_server.messages if m["To"] == "kari@example.test"]
    # One immediate e-mail (the new notice) and one digest with the three window alerts.
    assert len(kari) == 2
    immediate = next(m for m in kari if m["Subject"].startswith("New notice"))
    assert "Kjøp av PC-er" in immediate["Subject"]
    assert immediate["Message-ID"].endswith("@tender-tracker>")
    digest = next(m for m in kari if "digest" in m["Subject"])
    assert digest["Subject"] == "Tender tracker digest: 3 alerts"
    text = digest.get_content()
    assert "Influence window closes in 10 days" in text and "Contract expires" in text
    assert "http://tracker.example.test/" in text
    assert all(
        r.status == "sent" and r.sent_at
        for r in session.scalars(select(AlertLog).where(AlertLog.user_id == w["kam"].id))
    )
    n = len(smtp_server.messages)
    again = delivery.run_alerts(
        session, TODAY, settings, clock=clock_at(NOW + dt.timedelta(hours=1))
    )
    assert again.generated == 0 and again.delivery.sent == 0
    assert len(smtp_server.messages) == n


def test_smtp_down_then_up_nothing_lost_nothing_twice(
    session: Session, smtp_server: SMTPServer
) -> None:
    _kam_world(session)
    settings = ops_settings(smtp_server.port, TRACKER_ALERT_BACKOFF_SECONDS="60")
    smtp_server.stop()
    down = delivery.run_alerts(session, TODAY, settings, clock=clock_at(NOW))
    assert down.delivery.sent == 0 and down.delivery.failed > 0
    assert down.pending == down.generated > 0
    row = session.scalars(select(AlertLog)).first()
    assert row.status == "pending" and row.attempts == 1
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    assert row.next_attempt_at == NOW + dt.timedelta(seconds=60)
    # Within the backoff nothing is tried again.
    early = delivery.deliver_pending(
        session, settings, clock=clock_at(NOW + dt.timedelta(seconds=30))
    )
    assert early.sent == early.failed == 0
    # Still down after the backoff: the wait doubles.
    later = NOW + dt.timedelta(seconds=61)
    delivery.deliver_pending(session, settings, clock=clock_at(later))
    session.refresh(row)
    assert row.attempts == 2 and row.next_attempt_at == later + dt.timedelta(seconds=120)
    smtp_server.start()
    up = delivery.run_alerts(
        session, TODAY, settings, clock=clock_at(later + dt.timedelta(hours=1))
    )
    assert up.generated == 0 and up.pending == 0 and up.delivery.sent == down.generated
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == 4  # kari: 1 + digest, ola: 1 + digest


def test_interrupted_send_is_taken_again_after_its_lease(
    session: Session, smtp_server: SMTPServer
) -> None:
    _kam_world(session)
    settings = ops_settings(smtp_server.port)
    generation.generate_alerts(session, TODAY, settings)
    # A process claimed every alert and was killed before sending.
    session.execute(
        update(AlertLog).values(status="sending", next_attempt_at=NOW + delivery.SEND_LEASE)
    )
    session.commit()
    assert delivery.deliver_pending(session, settings, clock=clock_at(NOW)).sent == 0
    after = delivery.deliver_pending(
        session, settings, clock=clock_at(NOW + dt.timedelta(minutes=11))
    )
    assert after.sent == session.scalar(select(func.count()).select_from(AlertLog)) > 0
    assert len(smtp_server.messages) == 4


def test_webhooks_slack_and_teams_with_outage(session: Session, webhook: WebhookReceiver) -> None:
    kam = add_user(session, "kari@example.test", "kam")
    nav = add_account(session, "NAV", kam.email)
    add_opportunity(
        session,
        "opp-close",
        nav,
        expected_publication=TODAY + dt.timedelta(days=5),
        main_cpv="72000000",  # in the IT profile: alerts skip the rest by default
    )
    session.commit()
    token_url = f"{webhook.url}/services/T000/B000/SECRETTOKEN"
    subscriptions.subscribe(session, kam.email, "window_closing", "webhook", target=token_url)
    subscriptions.subscribe(
        session,
        kam.email,
        "expiry",
        "webhook",
        target=f"{webhook.url}/teams",
        params={"format": "teams"},
        enabled=False,
    )
    subscriptions.subscribe(session, kam.email, "window_closing", "digest", enabled=False)
    session.commit()
    settings = ops_settings(None, TRACKER_ALERT_BACKOFF_SECONDS="1")
    webhook.status = 500
    first = delivery.run_alerts(session, TODAY, settings, clock=clock_at(NOW))
    assert first.delivery.failed == 1 and first.pending == 1 and webhook.posts == []
    row = session.scalars(select(AlertLog).where(AlertLog.channel == "webhook")).one()
    assert row.last_error == "AlertDeliveryError: webhook answered HTTP 500"
    webhook.status = 200
    delivery.run_alerts(session, TODAY, settings, clock=clock_at(NOW + dt.timedelta(seconds=5)))
    assert len(webhook.posts) == 1
    path, body = webhook.posts[0]
    assert path == "/services/T000/B000/SECRETTOKEN"
    assert body["text"].startswith("*Influence window closes in 5 days")
    # Teams: an Adaptive Card message.
    subscriptions.subscribe(
        session,
        kam.email,
        "window_closing",
        "webhook",
        target=f"{webhook.url}/teams",
        params={"format": "teams"},
    )
    session.commit()
    teams_report = delivery.run_alerts(
        session, TODAY + dt.timedelta(days=1), settings, clock=clock_at(NOW + dt.timedelta(days=1))
    )
    # Same event, same user and channel: already sent once, not again to the new URL.
    assert teams_report.generated == 0 and len(webhook.posts) == 1
    card = channels.webhook_payload("teams", "S", "B")
    assert card["attachments"][0]["content"]["type"] == "AdaptiveCard"
    legacy = channels.webhook_payload("teams-messagecard", "S", "B")
    assert legacy["@type"] == "MessageCard" and legacy["title"] == "S"


def test_secrets_never_stored_or_logged(session: Session, caplog: pytest.LogCaptureFixture) -> None:
    _kam_world(session)
    settings = ops_settings(2525, TRACKER_SMTP_USER="u", TRACKER_SMTP_PASSWORD="hunter2-secret")

    def leaky_sender(settings, to, subject, body, message_id):
        raise OSError(f"login failed for u/{settings.smtp_password}")

    with caplog.at_level(logging.DEBUG):
        report = delivery.run_alerts(
            session, TODAY, settings, clock=clock_at(NOW), email_sender=leaky_sender
        )
    assert report.delivery.failed > 0
    errors = [r.last_error for r in session.scalars(select(AlertLog))]
    assert all(e == "OSError: login failed for u/***" for e in errors)
    assert "hunter2-secret" not in caplog.text and "***" in caplog.text


def test_bid_team_and_director_alerts(session: Session, smtp_server: SMTPServer) -> None:
    bid = add_user(session, "bid@example.test", "bid")
    director = add_user(session, "sjef@example.test", "director")
    nav = add_account(session, "NAV", None)
    soon = add_notice(
        session,
        "c-soon",
        issue_date=TODAY - dt.timedelta(days=20),
        account=nav,
        deadline=NOW + dt.timedelta(days=5),
        title="Nettverksutstyr",
    )
    add_notice(
        session, "c-late", issue_date=TODAY, account=nav, deadline=NOW + dt.timedelta(days=40)
    )
    add_notice(
        session,
        "c-past",
        issue_date=TODAY - dt.timedelta(days=60),
        account=nav,
        deadline=NOW - dt.timedelta(days=1),
    )
    # Neither linked to an account nor matching our capability profile: nobody is told.
    add_notice(
        session,
        "c-unlinked",
        issue_date=TODAY,
        deadline=NOW + dt.timedelta(days=2),
        title="Levering av kaffe til kantina",
    )
    session.commit()
    settings = ops_settings(smtp_server.port)
    delivery.run_alerts(session, TODAY, settings, clock=clock_at(NOW))
    by_user = {(m["To"], m["Subject"]) for m in smtp_server.messages}
    assert by_user == {
        ("bid@example.test", "Tender deadline in 5 days: Nettverksutstyr"),
        ("sjef@example.test", "Bid decision needed: Nettverksutstyr"),
        ("sjef@example.test", "Bid decision needed: Rammeavtale om IT-drift"),
    }
    # A no-bid decision silences the deadline alert for a later competition.
    session.add(
        BidDecision(notice_pk=soon.id, decision="no-bid", decided_by=director.email, why="x")
    )
    session.commit()
    assert (
        generation.alerts_for(
            session, bid, "tender_deadline", {"days": 7}, TODAY, "http://x", rules=load_rules()
        )
        == []
    )


def test_subscribe_validates_input(session: Session) -> None:
    add_user(session, "kari@example.test", "kam")
    with pytest.raises(ConfigError, match="alert kind 'nope' unknown"):
        subscriptions.subscribe(session, "kari@example.test", "nope", "email")
    with pytest.raises(ConfigError, match="needs --target"):
        subscriptions.subscribe(session, "kari@example.test", "expiry", "webhook")
    with pytest.raises(ConfigError, match="no user with e-mail"):
        subscriptions.subscribe(session, "nobody@example.test", "expiry", "email")
    sub = subscriptions.subscribe(
        session, "KARI@example.test", "expiry", "email", params={"months": 6}
    )
    assert sub.params == {"months": 6}


def test_smtp_unreachable_is_tried_once_per_run(session: Session) -> None:
    _kam_world(session)
    calls = []

    def refused(settings, to, subject, body, message_id):
        calls.append(to)
        raise ConnectionRefusedError(111, "Connection refused")

    report = delivery.run_alerts(
        session, TODAY, ops_settings(2525), clock=clock_at(NOW), email_sender=refused
    )
    assert len(calls) == 1 and report.delivery.failed == report.generated > 1
    errors = {r.last_error for r in session.scalars(select(AlertLog))}
    assert errors == {"ConnectionRefusedError: [Errno 111] Connection refused"}


def test_email_and_digest_in_the_users_language(session: Session, smtp_server: SMTPServer) -> None:
    """A KAM who reads bokmål gets bokmål e-mails: subject, headings, days as dd.mm.åååå;
    the other KAM (English by choice) keeps English."""
    w = _kam_world(session)
    w["kam"].language = "nb"
    w["other"].language = "en"
    session.commit()
    delivery.run_alerts(session, TODAY, ops_settings(smtp_server.port), clock=clock_at(NOW))
    kari = [m for m in smtp_server.messages if m["To"] == "kari@example.test"]
    immediate = next(m for m in kari if m["Subject"].startswith("Ny kunngjøring: "))
    assert "Kjøp av PC-er" in immediate["Subject"]
    assert "Tittel: Kjøp av PC-er" in immediate.get_content()
    digest = next(m for m in kari if "samlevarsel" in m["Subject"])
    assert digest["Subject"] == "Anbudsovervåking, samlevarsel: 3 varsler"
    text = digest.get_content()
    assert "Påvirkningsvinduet lukkes om 10 dager" in text and "Kontrakten utløper" in text
    closes = TODAY + dt.timedelta(days=10)
    assert f"{closes:%d.%m.%Y}" in text and closes.isoformat() not in text
    for english in ("Influence window", "Account:", "Open:", "digest"):
        assert english not in text
    other = [m for m in smtp_server.messages if m["To"] != "kari@example.test"]
    assert other and all(not m["Subject"].startswith("Ny ") for m in other)
