"""Alert channels: e-mail through the configured SMTP server and Slack/Teams-compatible
webhooks. Subjects and every header value are made single-line (a notice title with
CR/LF can neither break the message nor add headers); errors have secrets (SMTP
password, webhook URLs) replaced by ``***`` (``redact``). A failure whose cause will not
change by waiting (a refused recipient, a webhook that answers 404 or 410, a message the
mail library refuses) is permanent (``is_permanent``).
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from tracker.alerts.subscriptions import WEBHOOK_FORMATS
from tracker.config import Settings
from tracker.db.models import utcnow
from tracker.errors import AlertDeliveryError, ConfigError

MAX_SUBJECT = 250
# Refusals of one message; anything else from SMTP means the server is unusable right now.
PER_MESSAGE = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (cut to 500 characters)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


@contextmanager
def smtp_connection(settings: Settings) -> Iterator[smtplib.SMTP]:
    """An SMTP session as configured (TLS mode, login), closed afterwards."""
    host = settings.smtp_host
    if not host:
        raise AlertDeliveryError("smtp_host is not configured")
    tls = str(settings.smtp_tls or "none").lower()
    if tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"smtp_tls={tls!r}: expected none, starttls or ssl")
    timeout = float(settings.alert_timeout_seconds)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    smtp: smtplib.SMTP
    if tls == "ssl":
        smtp = smtplib.SMTP_SSL(host, int(settings.smtp_port), timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, int(settings.smtp_port), timeout=timeout)
    with smtp:
        smtp.ehlo()
        if tls == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        yield smtp


def header_value(text: str | None, limit: int = MAX_SUBJECT) -> str:
    """``text`` as one header line: CR, LF and other control characters become spaces
    (no header injection, no message the mail library refuses), cut to ``limit``."""
    flat = "".join(" " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0) else c for c in text or "")
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class PermanentDeliveryError(AlertDeliveryError):
    """A delivery failure that waiting will not fix (tracker.alerts.channels)."""


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying later cannot help: the message or recipient is refused for good."""
    if isinstance(exc, PermanentDeliveryError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, smtplib.SMTPServerDisconnected
    ):
        return exc.smtp_code >= 500 and isinstance(exc, PER_MESSAGE)
    # The mail library refuses a header value or an address (nothing sent).
    return isinstance(exc, ValueError | TypeError | UnicodeError) and not isinstance(exc, OSError)


def send_email(
    settings: Settings, to: str, subject: str, body: str, message_id: str | None = None
) -> None:
    """Send one plain-text e-mail through the configured SMTP server."""
    msg = EmailMessage()
    msg["From"] = header_value(settings.smtp_from)
    msg["To"] = header_value(to)
    msg["Subject"] = header_value(subject)
    msg["Date"] = format_datetime(utcnow())
    if message_id:
        msg["Message-ID"] = f"<{message_id}@tender-tracker>"
    msg.set_content(body)
    with smtp_connection(settings) as smtp:
        smtp.send_message(msg)


def webhook_payload(fmt: str, subject: str, body: str) -> dict[str, Any]:
    """JSON for a Slack incoming webhook (``slack``) or Microsoft Teams (``teams``: Adaptive
    Card message for Workflows; ``teams-messagecard``: legacy connector MessageCard)."""
    subject = header_value(subject)
    if fmt == "slack":
        return {"text": f"*{subject}*\n{body}"}
    if fmt == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": subject,
                                "weight": "Bolder",
                                "wrap": True,
                            },
                            {"type": "TextBlock", "text": body, "wrap": True},
                        ],
                    },
                }
            ],
        }
    if fmt == "teams-messagecard":
        return {
            "@type": "MessageCard",
            "@context": "http://schema.org/extensions",
            "summary": subject[:100],
            "title": subject,
            "text": body.replace("\n", "\n\n"),
        }
    raise ConfigError(f"webhook format {fmt!r} unknown; known: {', '.join(WEBHOOK_FORMATS)}")


def post_webhook(url: str, payload: dict[str, Any], timeout: float) -> None:
    """POST ``payload`` as JSON; any non-2xx answer is a delivery error."""
    resp = httpx.post(
        url,
        content=json.dumps(payload),
        timeout=timeout,
        headers={"Content-Type": "application/json"},
    )
    if resp.status_code // 100 != 2:
        message = f"webhook answered HTTP {resp.status_code}"
        if 400 <= resp.status_code < 500 and resp.status_code not in (408, 425, 429):
            raise PermanentDeliveryError(message)  # gone, revoked or refused: not by waiting
        raise AlertDeliveryError(message)
