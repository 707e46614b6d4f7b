"""Alerts: who wants to know what, found from the data, sent exactly once, never lost.

Three parts:

* **Subscriptions** (``alert_subscriptions``): per user, one row per kind and channel
  (``email`` = immediate e-mail, ``digest`` = one e-mail per cycle gathering the rest,
  ``webhook`` = Slack/Teams-compatible POST to the subscription's ``target`` URL).
  A user without any subscription row gets the defaults of their role on the next
  alert run (:data:`DEFAULTS`); switch a kind off with ``enabled=False``.
* **Generation** (:func:`generate_alerts`): each kind is a query over notices, links,
  opportunities and bids that yields :class:`Alert` events with a stable ``key``. One
  ``alert_log`` row per event, user and channel; its ``dedup_key`` is unique, so
  running the generation again (or concurrently) never creates a second alert.
* **Delivery** (:func:`deliver_pending`): a row is claimed (``pending`` → ``sending``
  with a lease), sent, and marked ``sent``; a failed channel puts it back to
  ``pending`` with exponential backoff (``alert_backoff_seconds``, at most 6 h), so an
  alert waits as long as the channel is down and is never dropped. A process killed
  mid-send leaves ``sending`` with an expired lease, which the next run takes again.
  A failure whose cause will not change by waiting (a refused recipient, a webhook
  that answers 404 or 410, a message the mail library refuses) counts in
  ``permanent_failures``; after :data:`PERMANENT_ATTEMPTS` of them the alert is
  ``failed`` with its reason, shown by ``tracker doctor``, on the health page and by
  ``tracker alerts list --status failed`` (``tracker alerts retry`` sends it again).
  Subjects and every header value are made single-line (a notice title with CR/LF
  can neither break the message nor add headers).

Errors stored in ``last_error`` and logged have secrets (SMTP password, webhook URLs)
replaced by ``***``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import smtplib
import ssl
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.bids.selection import list_bids
from tracker.config import Settings, load_settings
from tracker.db.models import (
    Account,
    AlertLog,
    AlertSubscription,
    Notice,
    NoticeLink,
    Opportunity,
    User,
    utcnow,
)
from tracker.errors import AlertDeliveryError, ConfigError
from tracker.opportunities.profile import notice_texts
from tracker.opportunities.reading import opportunity_item
from tracker.opportunities.relevance import relevance, stored_model
from tracker.pages.base import plain
from tracker.pages.opportunities import opportunities
from tracker.rules import load_rules
from tracker.users import account_scope

log = logging.getLogger(__name__)

CHANNELS = ("email", "digest", "webhook")
WEBHOOK_FORMATS = ("slack", "teams", "teams-messagecard")
MAX_BACKOFF = dt.timedelta(hours=6)
SEND_LEASE = dt.timedelta(minutes=10)
PERMANENT_ATTEMPTS = 3  # failures for a cause that will not change before "failed"
MAX_SUBJECT = 250


@dataclass(frozen=True)
class KindSpec:
    """An alert kind: who gets it by default, on which channel, with which parameters."""

    roles: tuple[str, ...]
    channel: str
    params: dict[str, int]
    help: str


KINDS: dict[str, KindSpec] = {
    # First: a market dialogue is influence now (the KAM hears it before anything else).
    "dialogue_open": KindSpec(
        ("kam",),
        "email",
        {},
        "a market dialogue opens at one of my accounts: the buyer asks for input before the "
        "competition (response deadline, days left, the rules for suppliers who take part)",
    ),
    "new_notice": KindSpec(
        ("kam",), "email", {"days": 3}, "a new notice for one of my accounts (issued ≤ days ago)"
    ),
    "window_opening": KindSpec(
        ("kam",), "digest", {"days": 0}, "an influence window opens (within days from today)"
    ),
    "window_closing": KindSpec(
        ("kam",), "digest", {"days": 30}, "an open influence window closes within days"
    ),
    "drafting_start": KindSpec(
        ("kam",), "digest", {"days": 14}, "the buyer starts drafting the specification within days"
    ),
    "expiry": KindSpec(("kam",), "digest", {"months": 12}, "a contract expires within months"),
    "budget_window": KindSpec(
        ("kam",), "digest", {"days": 14}, "a budget-cycle window starts within days"
    ),
    "tender_deadline": KindSpec(
        ("bid",), "email", {"days": 7}, "a tender deadline of a competition we follow within days"
    ),
    "bid_decision": KindSpec(
        ("director",), "email", {}, "a published competition at our accounts has no bid decision"
    ),
}

# A window start already passed by at most this many days still alerts (a missed cycle).
GRACE_DAYS = 7
# Subscription parameter: all=1 also alerts on items outside the capability profile (by
# default only items in the profile, or flagged by the learned model, alert).
ALL_PARAM = "all"


def default_subscriptions(role: str) -> list[tuple[str, str, dict[str, int]]]:
    """(kind, channel, params) that a user of ``role`` gets by default."""
    return [(k, s.channel, dict(s.params)) for k, s in KINDS.items() if role in s.roles]


# --------------------------------------------------------------------------- subscriptions


def ensure_default_subscriptions(session: Session, user: User) -> int:
    """Give ``user`` their role's default subscriptions if they have none; returns rows added."""
    has_any = session.scalar(
        select(func.count())
        .select_from(AlertSubscription)
        .where(AlertSubscription.user_id == user.id)
    )
    if has_any:
        return 0
    added = 0
    for kind, channel, params in default_subscriptions(user.role):
        session.add(AlertSubscription(user_id=user.id, kind=kind, channel=channel, params=params))
        added += 1
    session.flush()
    return added


def subscribe(
    session: Session,
    email: str,
    kind: str,
    channel: str,
    *,
    params: dict[str, Any] | None = None,
    target: str | None = None,
    enabled: bool = True,
) -> AlertSubscription:
    """Create or update the subscription of user ``email`` to ``kind`` on ``channel``."""
    if kind not in KINDS:
        raise ConfigError(f"alert kind {kind!r} unknown; known: {', '.join(KINDS)}")
    if channel not in CHANNELS:
        raise ConfigError(f"alert channel {channel!r} unknown; known: {', '.join(CHANNELS)}")
    if channel == "webhook":
        if not target or not target.startswith(("http://", "https://")):
            raise ConfigError("a webhook subscription needs --target http(s)://... URL")
        fmt = (params or {}).get("format", "slack")
        if fmt not in WEBHOOK_FORMATS:
            raise ConfigError(
                f"webhook format {fmt!r} unknown; known: {', '.join(WEBHOOK_FORMATS)}"
            )
    for name, value in (params or {}).items():
        if name != "format" and not isinstance(value, int):
            raise ConfigError(f"alert parameter {name}={value!r}: expected a whole number")
    user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None:
        raise ConfigError(f"no user with e-mail {email!r}")
    sub = session.scalar(
        select(AlertSubscription).where(
            AlertSubscription.user_id == user.id,
            AlertSubscription.kind == kind,
            AlertSubscription.channel == channel,
        )
    )
    if sub is None:
        sub = AlertSubscription(user_id=user.id, kind=kind, channel=channel)
        session.add(sub)
    sub.params = {**KINDS[kind].params, **(params or {})}
    sub.target = target
    sub.enabled = enabled
    session.flush()
    return sub


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Alert:
    """One event worth telling a user; ``key`` identifies the event across runs."""

    kind: str
    key: str
    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)


def _accounts_in_scope(session: Session, user: User) -> list[int] | None:
    """A KAM sees their own accounts; other roles see every account (None)."""
    return account_scope(session, user)


def _account_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Account.id, Account.name)).all())


def _fmt_date(d: dt.date | dt.datetime | None) -> str:
    if d is None:
        return "?"
    if isinstance(d, dt.datetime):
        return d.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return d.isoformat()


def _opportunities(
    session: Session, today: dt.date, accounts: list[int] | None
) -> list[Opportunity]:
    q = select(Opportunity).order_by(Opportunity.id)
    if accounts is not None:
        q = q.where(Opportunity.account_id.in_(accounts))
    return list(session.scalars(q))


def _in(d: dt.date | None, lo: dt.date, hi: dt.date) -> bool:
    return d is not None and lo <= d <= hi


def _opp_alert(
    kind: str, opp: Opportunity, when: dt.date, headline: str, names: dict[int, str], base: str
) -> Alert:
    account = names.get(opp.account_id or -1, opp.buyer_name or "?")
    title = (opp.title or "untitled").strip()
    lines = [
        f"{headline}",
        f"Account: {account}",
        f"Opportunity: {title}",
        f"Buyer: {opp.buyer_name or '?'}",
    ]
    for label, value in (
        ("Contract expiry", opp.expiry),
        ("Influence window opens", opp.influence_opens),
        ("Drafting starts", opp.drafting_starts),
        ("Expected publication (window closes)", opp.expected_publication),
        ("Budget window", opp.budget_start),
    ):
        if value is not None:
            lines.append(f"{label}: {_fmt_date(value)}")
    if opp.value is not None:
        lines.append(f"Value: {opp.value:,.0f}")
    lines.append(f"Open: {base}/accounts/{opp.account_id}" if opp.account_id else f"Open: {base}/")
    return Alert(
        kind=kind,
        key=f"opp:{opp.key}:{when.isoformat()}",
        subject=f"{headline}: {title[:120]} ({account})",
        body="\n".join(lines),
        payload={"opportunity_key": opp.key, "account": account, "date": when.isoformat()},
    )


def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _in_profile(session: Session, params: dict[str, Any]) -> Callable[[Opportunity], bool]:
    """Whether an opportunity alerts under ``params``: in the capability profile of its
    account (or flagged by the learned model), unless the subscription says ``all=1``."""
    if int(params.get(ALL_PARAM, 0)):
        return lambda opp: True
    rules = load_rules()
    model = stored_model(session)
    names = _account_names(session)

    def shown(opp: Opportunity) -> bool:
        profile = rules.profile(names.get(opp.account_id or -1))
        return bool(relevance(profile, opportunity_item(opp), model)["shown"])

    return shown


def _dialogue_alerts(
    session: Session, user: User, params: dict[str, Any], today: dt.date, base: str
) -> list[Alert]:
    """Market dialogues open today at the user's accounts (``tracker.opportunities.build``:
    phase ``dialogue_open``), with the response deadline, days left, the buyer's words and
    the note on the rules for suppliers who take part."""
    accounts = _accounts_in_scope(session, user)
    keep = _in_profile(session, params)
    out: list[Alert] = []
    dialogues = opportunities(session, today, rules=load_rules(), phase="dialogue_open")
    for o in map(plain, dialogues):
        if accounts is not None and o["account_id"] not in accounts:
            continue
        row = session.get(Opportunity, o["id"])
        if row is None or not keep(row):
            continue
        title = (o["title"] or "untitled").strip()
        deadline = o["response_deadline"] or {}
        until = o["dialogue_until"]
        lines = [
            f"Market dialogue open: {o['days_left']} days left to respond",
            f"Account: {o['account']}",
            f"What: {title}",
            f"Buyer: {o['buyer'] or '?'}",
            f"Respond by: {deadline.get('label') or _fmt_date(until)}"
            + (f" ({deadline.get('source')})" if deadline else " (no deadline stated)"),
        ]
        evidence = (o.get("pretender") or {}).get("evidence")
        if evidence:
            lines.append(f"The buyer writes: {evidence}")
        if o.get("supplier_note"):
            lines.append(f"Taking part: {o['supplier_note']} (source: {o['supplier_note_source']})")
        lines.append(f"Why: {o['reason']}")
        lines.append(f"Open: {base}/accounts/{o['account_id']}")
        out.append(
            Alert(
                kind="dialogue_open",
                key=f"dialogue:{o['key']}:{_fmt_date(until)}",
                subject=f"Market dialogue: respond by {_fmt_date(until)}: {title[:110]} "
                f"({o['account']})",
                body="\n".join(lines),
                payload={
                    "opportunity_key": o["key"],
                    "account": o["account"],
                    "date": _fmt_date(until),
                },  # fmt: skip
            )
        )
    return out


def _opportunity_alerts(
    session: Session, kind: str, user: User, params: dict[str, Any], today: dt.date, base: str
) -> list[Alert]:
    names = _account_names(session)
    grace = today - dt.timedelta(days=GRACE_DAYS)
    days = int(params.get("days", KINDS[kind].params.get("days", 0)))
    horizon = today + dt.timedelta(days=days)
    keep = _in_profile(session, params)
    out: list[Alert] = []
    for opp in _opportunities(session, today, _accounts_in_scope(session, user)):
        if not keep(opp):
            continue
        if kind == "window_opening" and _in(opp.influence_opens, grace, horizon):
            if opp.expected_publication is None or opp.expected_publication >= today:
                out.append(
                    _opp_alert(
                        kind, opp, opp.influence_opens, "Influence window opens", names, base
                    )
                )
        elif kind == "window_closing":
            opened = opp.influence_opens is None or opp.influence_opens <= today
            if opened and _in(opp.expected_publication, today, horizon):
                left = (opp.expected_publication - today).days
                out.append(
                    _opp_alert(
                        kind,
                        opp,
                        opp.expected_publication,
                        f"Influence window closes in {left} days",
                        names,
                        base,
                    )
                )
        elif kind == "drafting_start" and _in(opp.drafting_starts, grace, horizon):
            out.append(
                _opp_alert(
                    kind, opp, opp.drafting_starts, "Specification drafting starts", names, base
                )
            )
        elif kind == "budget_window" and _in(opp.budget_start, grace, horizon):
            out.append(_opp_alert(kind, opp, opp.budget_start, "Budget window starts", names, base))
        elif kind == "expiry":
            months = int(params.get("months", 12))
            if _in(opp.expiry, today, _add_months(today, months)):
                out.append(_opp_alert(kind, opp, opp.expiry, "Contract expires", names, base))
    return out


def _new_notice_alerts(
    session: Session, user: User, params: dict[str, Any], today: dt.date, base: str
) -> list[Alert]:
    accounts = _accounts_in_scope(session, user)
    since = today - dt.timedelta(days=int(params.get("days", 3)))
    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    q = (
        select(Notice, NoticeLink.account_id)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .where(NoticeLink.status != "rejected", issued >= since, issued <= today)
        .where(Notice.is_test.is_(False))
        .order_by(Notice.id)
    )
    if accounts is not None:
        q = q.where(NoticeLink.account_id.in_(accounts))
    names = _account_names(session)
    by_notice: dict[int, tuple[Notice, set[str]]] = {}
    for notice, account_id in session.execute(q):
        by_notice.setdefault(notice.id, (notice, set()))[1].add(names.get(account_id, "?"))
    if not int(params.get(ALL_PARAM, 0)):  # only notices in the capability profile
        profile, model = load_rules().profile(), stored_model(session)
        texts = notice_texts(session, list(by_notice))
        by_notice = {
            pk: v
            for pk, v in by_notice.items()
            if pk in texts and relevance(profile, texts[pk], model)["shown"]
        }
    out = []
    for notice, accts in by_notice.values():
        title = (notice.title or "untitled").strip()
        acct = ", ".join(sorted(accts))
        body = "\n".join(
            [
                f"New notice for {acct}",
                f"Title: {title}",
                f"Type: {notice.notice_type or '?'} (subtype {notice.subtype or '?'})",
                f"Issued: {_fmt_date(notice.issue_date or notice.publication_date)}",
                f"Source: {notice.source} {notice.source_id or notice.notice_id}",
                f"Open: {base}/notices/{notice.id}",
            ]
        )
        out.append(
            Alert(
                kind="new_notice",
                key=f"notice:{notice.notice_id}:{notice.version}",
                subject=f"New notice: {title[:120]} ({acct})",
                body=body,
                payload={"notice_id": notice.notice_id, "accounts": sorted(accts)},
            )
        )
    return out


@dataclass(frozen=True)
class Competition:
    """A published competition we follow, as the bid alerts need it."""

    notice_pk: int
    notice_id: str
    title: str
    buyer: str
    deadline: dt.datetime
    value: Any
    currency: str | None
    decision: str | None  # latest bid/no-bid decision


def _followed_competitions(session: Session, today: dt.date) -> list[Competition]:
    """Open competitions relevant to us (``tracker.bids.selection.list_bids``: linked to an account
    or matching our profile), deadline today or later."""
    out = []
    for b in list_bids(session, today):
        if not b.get("deadline_at"):
            continue
        deadline = dt.datetime.fromisoformat(b["deadline_at"])
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=dt.UTC)
        if deadline.date() < today:
            continue
        decision = (b.get("decision") or {}).get("decision")
        out.append(
            Competition(
                b["notice_pk"],
                b["notice_id"],
                (b.get("title") or "untitled").strip(),
                b.get("buyer") or "?",
                deadline,
                b.get("value"),
                b.get("currency"),
                decision,
            )
        )
    return out


def _competition_alert(kind: str, c: Competition, headline: str, base: str) -> Alert:
    value = (
        f"Estimated value: {float(c.value):,.0f} {c.currency or ''}".rstrip()
        if c.value is not None
        else "Estimated value: not given"
    )
    body = "\n".join(
        [
            headline,
            f"Title: {c.title}",
            f"Buyer: {c.buyer}",
            f"Tender deadline: {_fmt_date(c.deadline)}",
            value,
            f"Open: {base}/notices/{c.notice_pk}",
        ]
    )
    return Alert(
        kind=kind,
        key=f"notice:{c.notice_id}:{c.deadline.date().isoformat()}",
        subject=f"{headline}: {c.title[:120]}",
        body=body,
        payload={"notice_id": c.notice_id, "deadline": c.deadline.isoformat()},
    )


def _bid_alerts(
    session: Session, kind: str, params: dict[str, Any], today: dt.date, base: str
) -> list[Alert]:
    out = []
    for c in _followed_competitions(session, today):
        if kind == "tender_deadline":
            left = (c.deadline.date() - today).days
            if left <= int(params.get("days", 7)) and c.decision != "no-bid":
                out.append(_competition_alert(kind, c, f"Tender deadline in {left} days", base))
        elif kind == "bid_decision" and c.decision is None:
            out.append(_competition_alert(kind, c, "Bid decision needed", base))
    return out


def alerts_for(
    session: Session, user: User, kind: str, params: dict[str, Any], today: dt.date, base_url: str
) -> list[Alert]:
    """The events of ``kind`` that ``user`` should hear about on ``today`` (pure query)."""
    base = base_url.rstrip("/")
    if kind == "new_notice":
        return _new_notice_alerts(session, user, params, today, base)
    if kind == "dialogue_open":
        return _dialogue_alerts(session, user, params, today, base)
    if kind in ("tender_deadline", "bid_decision"):
        return _bid_alerts(session, kind, params, today, base)
    if kind in KINDS:
        return _opportunity_alerts(session, kind, user, params, today, base)
    raise ConfigError(f"alert kind {kind!r} unknown")


def dedup_key(alert: Alert, user_id: int, channel: str) -> str:
    raw = f"{alert.kind}|{alert.key}|u{user_id}|{channel}"
    if len(raw) <= 400:
        return raw
    return f"{alert.kind}|sha256:{hashlib.sha256(raw.encode()).hexdigest()}|u{user_id}|{channel}"


def generate_alerts(session: Session, today: dt.date, settings: Settings | None = None) -> int:
    """Log every new alert as ``pending``; returns how many were new. Commits."""
    settings = settings or load_settings()
    users = list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))
    for user in users:
        ensure_default_subscriptions(session, user)
    session.commit()
    new = 0
    subs = session.scalars(
        select(AlertSubscription)
        .join(User, User.id == AlertSubscription.user_id)
        .where(AlertSubscription.enabled.is_(True), User.active.is_(True))
        .order_by(AlertSubscription.id)
    ).all()
    for sub in subs:
        user = session.get(User, sub.user_id)
        assert user is not None
        found = alerts_for(session, user, sub.kind, sub.params or {}, today, settings.base_url)
        keys = {dedup_key(a, user.id, sub.channel): a for a in found}
        if not keys:
            continue
        seen = set(session.scalars(select(AlertLog.dedup_key).where(AlertLog.dedup_key.in_(keys))))
        for key, alert in keys.items():
            if key in seen:
                continue
            row = AlertLog(
                dedup_key=key,
                user_id=user.id,
                kind=alert.kind,
                channel=sub.channel,
                subject=alert.subject,
                body=alert.body,
                payload={**alert.payload, "subscription_id": sub.id},
                status="pending",
                attempts=0,
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # logged concurrently by another process: once is enough
                continue
            new += 1
        session.commit()
    return new


# --------------------------------------------------------------------------- channels


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
    """A delivery failure that waiting will not fix (tracker.alerts.generation)."""


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying later cannot help: the message or recipient is refused for good."""
    if isinstance(exc, PermanentDeliveryError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, smtplib.SMTPServerDisconnected
    ):
        return exc.smtp_code >= 500 and isinstance(exc, _PER_MESSAGE)
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


# --------------------------------------------------------------------------- delivery


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
            AlertLog.status == "pending",
            or_(AlertLog.next_attempt_at.is_(None), AlertLog.next_attempt_at <= now),
        ),
        and_(AlertLog.status == "sending", AlertLog.next_attempt_at <= now),
    )


def _claim(session: Session, ids: list[int], now: dt.datetime) -> list[int]:
    """Mark due rows ``sending`` with a lease; returns the ids this process got."""
    got = []
    for i in ids:
        n = session.execute(
            update(AlertLog)
            .where(AlertLog.id == i, _due(now))
            .values(status="sending", next_attempt_at=now + SEND_LEASE)
        ).rowcount
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
            row.status, row.sent_at, row.next_attempt_at, row.last_error = "sent", now, None, None
            continue
        row.last_error = error
        if permanent:
            row.permanent_failures = (row.permanent_failures or 0) + 1
        if permanent and row.permanent_failures >= PERMANENT_ATTEMPTS:
            row.status, row.next_attempt_at = "failed", None
            row.last_error = f"gave up after {row.attempts} tries: {error}"
            given_up += 1
            log.error("alert %s failed for good: %s", row.id, error)
        else:
            row.status = "pending"
            row.next_attempt_at = now + _backoff(settings, row.attempts)
    session.commit()
    return given_up


# Refusals of one message; anything else from SMTP means the server is unusable right now.
_PER_MESSAGE = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


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
        except _PER_MESSAGE:
            raise
        except (OSError, AlertDeliveryError) as exc:
            self.down = exc
            raise


def deliver_pending(
    session: Session,
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    email_sender: Callable[..., None] = send_email,
    webhook_poster: Callable[[str, dict[str, Any], float], None] = post_webhook,
) -> DeliveryReport:
    """Send every due alert; a failed channel leaves its alerts pending with backoff."""
    settings = settings or load_settings()
    report = DeliveryReport()
    now = clock()
    email_sender = _SMTPBreaker(email_sender)
    due = session.execute(
        select(AlertLog.id, AlertLog.channel, AlertLog.user_id)
        .where(_due(now))
        .order_by(AlertLog.id)
    ).all()
    secrets: list[str | None] = [settings.smtp_password]
    digests: dict[int, list[int]] = defaultdict(list)
    for alert_id, channel, user_id in due:
        if channel == "digest":
            digests[user_id].append(alert_id)
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
                row.status, row.last_error = "dropped", "user removed"
                session.commit()
                report.dropped += 1
                continue
            if channel == "email":
                email_sender(
                    settings,
                    user.email,
                    row.subject,
                    row.body,
                    hashlib.sha256(row.dedup_key.encode()).hexdigest()[:32],
                )
            elif channel == "webhook":
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
    user_id: int,
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
    user = session.get(User, user_id)
    if user is None:
        for r in rows:
            r.status, r.last_error = "dropped", "user removed"
        session.commit()
        report.dropped += len(rows)
        return
    subject = f"Tender tracker digest: {len(rows)} alert{'s' if len(rows) != 1 else ''}"
    parts = [f"{len(rows)} new alert(s) for {user.email}:", ""]
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
            .where(AlertLog.status.in_(("pending", "sending")))
        )
        or 0
    )


def run_alerts(
    session: Session,
    today: dt.date,
    settings: Settings | None = None,
    *,
    clock: Callable[[], dt.datetime] = utcnow,
    email_sender: Callable[..., None] = send_email,
    webhook_poster: Callable[[str, dict[str, Any], float], None] = post_webhook,
) -> AlertRunReport:
    """Generate the alerts of ``today`` and deliver everything due (the cycle's alert step)."""
    settings = settings or load_settings()
    generated = generate_alerts(session, today, settings)
    delivery = deliver_pending(
        session, settings, clock=clock, email_sender=email_sender, webhook_poster=webhook_poster
    )
    return AlertRunReport(generated, delivery, pending_count(session))
