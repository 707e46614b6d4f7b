"""Alert delivery (:func:`deliver_pending`): a row is claimed (``pending`` → ``sending``
with a lease), sent, and marked ``sent``; a failed channel puts it back to ``pending``
with exponential backoff (``alert_backoff_seconds``, at most 6 h), so an alert waits as
long as the channel is down and is never dropped. A process killed mid-send leaves
``sending`` with an expired lease, which the next run takes again. A permanent failure
(:func:`tracker.alerts.channels.is_permanent`) counts in ``permanent_failures``; after
:data:`PERMANENT_ATTEMPTS` of them the alert is ``failed`` with its reason, shown by
``tracker doctor``, on the health page and by ``tracker alerts list --status failed``
(``tracker alerts retry`` sends it again).

:func:`run_alerts` is the cycle's alert step: generate (:mod:`tracker.alerts.generation`),
then deliver everything due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from tracker.alerts.channels import (
    PER_MESSAGE,
    PermanentDeliveryError,
    is_permanent,
    post_webhook,
    redact,
    send_email,
    webhook_payload,
)
from tracker.alerts.generation import generate_alerts
from tracker.config import Settings
from tracker.db.models import AlertLog, AlertSubscription, User, utcnow
from tracker.enums import AlertState, Channel
from tracker.errors import AlertDeliveryError
from tracker.i18n import say, speaking
from tracker.messages import N_
from tracker.rules import Rules

log = logging.getLogger(__name__)

MAX_BACKOFF = dt.timedelta(hours=6)
SEND_LEASE = dt.timedelta(minutes=10)
PERMANENT_ATTEMPTS = 3  # failures for a cause that will not change before "failed"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # failed this time (most are retried)
    dropped: int = 0
    given_up: int = 0  # marked failed for good this time
    errors: list[str] = field(default_factory=list)


@dataclass
class AlertRunReport:
    generated: int
    delivery: DeliveryReport
    pending: int

    def counts(self) -> dict[str, int]:
        return {
            "generated": self.generated,
            "sent": self.delivery.sent,
            "failed": self.delivery.failed,
            "dropped": self.delivery.dropped,
            "given_up": self.delivery.given_up,
            "pending": self.pending,
        }


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(
            AlertLog.status == AlertState.PENDING,
            or_(AlertLog.next_attempt_at.is_(None), AlertLog.next_attempt_at <= now),
        ),
        and_(AlertLog.status == AlertState.SENDING, AlertLog.next_attempt_at <= now),
    )


def _claim(session: Session, ids: list[int], now: dt.datetime) -> list[int]:
    """Mark due rows ``sending`` with a lease; returns the ids this process got."""
    got = []
    for i in ids:
        result = session.execute(
            update(AlertLog)
            .where(AlertLog.id == i, _due(now))
            .values(status=AlertState.SENDING, next_attempt_at=now + SEND_LEASE)
        )
        n = getattr(result, "rowcount", 0)  # a CursorResult for an UPDATE
        if n == 1:
            got.append(i)
    session.commit()
    return got


def _backoff(settings: Settings, attempts: int) -> dt.timedelta:
    base = dt.timedelta(seconds=int(settings.alert_backoff_seconds))
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _finish(
    session: Session,
    rows: list[AlertLog],
    error: str | None,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    permanent: bool = False,
) -> int:
    """Record one try of ``rows``; returns how many were given up (status ``failed``)."""
    now = clock()
    given_up = 0
    for row in rows:
        row.attempts = (row.attempts or 0) + 1
        if error is None:
            row.status, row.sent_at, row.next_attempt_at, row.last_error = (
                AlertState.SENT,
                now,
                None,
                None,
            )
            continue
        row.last_error = error
        if permanent:
            row.permanent_failures = (row.permanent_failures or 0) + 1
        if permanent and row.permanent_failures >= PERMANENT_ATTEMPTS:
            row.status, row.next_attempt_at = AlertState.FAILED, None
            row.last_error = f"gave up after {row.attempts} tries: {error}"
            given_up += 1
            log.error("alert %s failed for good: %s", row.id, error)
        else:
            row.status = AlertState.PENDING
            row.next_attempt_at = now + _backoff(settings, row.attempts)
    session.commit()
    return given_up


# Refusals of one message; anything else from SMTP means the server is unusable right now.


class _SMTPBreaker:
    """Once the SMTP server could not be reached in a run, later e-mails of that run fail
    at once with the same error (no connection timeout per alert while it is down)."""

    def __init__(self, send: Callable[..., None]) -> None:
        self.send = send
        self.down: BaseException | None = None

    def __call__(self, *args: Any) -> None:
        if self.down is not None:
            raise self.down
        try:
            self.send(*args)
        except PER_MESSAGE:
            raise
        except (OSError, AlertDeliveryError) as exc:
            self.down = exc
            raise


def deliver_pending(
    session: Session,
    settings: Settings,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    email_sender: Callable[..., None] = send_email,
    webhook_poster: Callable[[str, dict[str, Any], float], None] = post_webhook,
) -> DeliveryReport:
    """Send every due alert; a failed channel leaves its alerts pending with backoff."""
    report = DeliveryReport()
    now = clock()
    email_sender = _SMTPBreaker(email_sender)
    due = session.execute(
        select(AlertLog.id, AlertLog.channel, AlertLog.user_id)
        .where(_due(now))
        .order_by(AlertLog.id)
    ).all()
    secrets: list[str | None] = [settings.smtp_password]
    digests: dict[int | None, list[int]] = defaultdict(list)
    for alert_id, channel, user_id in due:
        if channel == Channel.DIGEST:
            digests[user_id].append(alert_id)  # None: the user is gone (dropped)
            continue
        if not _claim(session, [alert_id], now):
            continue  # another process took it
        row = session.get(AlertLog, alert_id)
        assert row is not None
        session.refresh(row)
        user = session.get(User, row.user_id) if row.user_id else None
        sub_id = (row.payload or {}).get("subscription_id")
        sub = session.get(AlertSubscription, sub_id) if sub_id else None
        target = sub.target if sub else None
        try:
            if user is None:
                row.status, row.last_error = AlertState.DROPPED, "user removed"
                session.commit()
                report.dropped += 1
                continue
            if channel == Channel.EMAIL:
                email_sender(
                    settings,
                    user.email,
                    row.subject,
                    row.body,
                    hashlib.sha256(row.dedup_key.encode()).hexdigest()[:32],
                )
            elif channel == Channel.WEBHOOK:
                if not target:
                    raise PermanentDeliveryError("webhook subscription has no target URL")
                fmt = (sub.params or {}).get("format", "slack") if sub else "slack"
                webhook_poster(
                    target,
                    webhook_payload(fmt, row.subject, row.body),
                    float(settings.alert_timeout_seconds),
                )
            else:
                raise PermanentDeliveryError(f"unknown channel {channel!r}")
        except Exception as exc:  # any channel failure: keep the alert, retry later
            msg = redact(f"{type(exc).__name__}: {exc}", [*secrets, target])
            report.given_up += _finish(session, [row], msg, settings, clock, is_permanent(exc))
            report.failed += 1
            report.errors.append(f"alert {row.id} ({channel}): {msg}")
            log.warning("alert %s via %s failed: %s", row.id, channel, msg)
            continue
        _finish(session, [row], None, settings, clock)
        report.sent += 1
    for user_id, ids in digests.items():
        _send_digest(session, user_id, ids, settings, now, clock, email_sender, report)
    return report


def _send_digest(
    session: Session,
    user_id: int | None,
    ids: list[int],
    settings: Settings,
    now: dt.datetime,
    clock: Callable[[], dt.datetime],
    email_sender: Callable[..., None],
    report: DeliveryReport,
) -> None:
    got = _claim(session, ids, now)
    if not got:
        return
    rows = list(session.scalars(select(AlertLog).where(AlertLog.id.in_(got)).order_by(AlertLog.id)))
    for r in rows:
        session.refresh(r)
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        for r in rows:
            r.status, r.last_error = AlertState.DROPPED, "user removed"
        session.commit()
        report.dropped += len(rows)
        return
    with speaking(user.language):
        if len(rows) == 1:
            subject = say(N_("Tender tracker digest: 1 alert"))
            parts = [say(N_("1 new alert for %(email)s:", email=user.email)), ""]
        else:
            subject = say(N_("Tender tracker digest: %(n)s alerts", n=len(rows)))
            parts = [say(N_("%(n)s new alerts for %(email)s:", n=len(rows), email=user.email)), ""]
    for i, r in enumerate(rows, 1):
        parts += [f"{i}. {r.subject}", *("   " + line for line in r.body.splitlines()), ""]
    message_id = "digest-" + hashlib.sha256(",".join(map(str, got)).encode()).hexdigest()[:32]
    try:
        email_sender(settings, user.email, subject, "\n".join(parts), message_id)
    except Exception as exc:
        msg = redact(f"{type(exc).__name__}: {exc}", [settings.smtp_password])
        report.given_up += _finish(session, rows, msg, settings, clock, is_permanent(exc))
        report.failed += len(rows)
        report.errors.append(f"digest for user {user_id}: {msg}")
        log.warning("digest for user %s failed: %s", user_id, msg)
        return
    _finish(session, rows, None, settings, clock)
    report.sent += len(rows)


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AlertLog)
            .where(AlertLog.status.in_((AlertState.PENDING, AlertState.SENDING)))
        )
        or 0
    )


def run_alerts(
    session: Session,
    today: dt.date,
    settings: Settings,
    *,
    rules: Rules | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    email_sender: Callable[..., None] = send_email,
    webhook_poster: Callable[[str, dict[str, Any], float], None] = post_webhook,
) -> AlertRunReport:
    """Generate the alerts of ``today`` and deliver everything due (the cycle's alert step);
    ``rules``: those of ``settings`` unless given."""
    generated = generate_alerts(session, today, settings, rules)
    delivery = deliver_pending(
        session, settings, clock=clock, email_sender=email_sender, webhook_poster=webhook_poster
    )
    return AlertRunReport(generated, delivery, pending_count(session))
