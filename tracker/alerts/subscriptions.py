"""Alert subscriptions: per user, one row per kind and channel (``email`` = immediate
e-mail, ``digest`` = one e-mail per cycle gathering the rest, ``webhook`` =
Slack/Teams-compatible POST to the subscription's ``target`` URL). A user without any
subscription row gets the defaults of their role on the next alert run (:data:`KINDS`);
switch a kind off with ``enabled=False``.

The rest of the alerts: :mod:`tracker.alerts.generation` (what to tell whom),
:mod:`tracker.alerts.channels` (e-mail and webhooks) and :mod:`tracker.alerts.delivery`
(sent exactly once, never lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db.models import AlertSubscription, User
from tracker.enums import AlertKind, Channel, Role
from tracker.errors import ConfigError

CHANNELS: tuple[Channel, ...] = tuple(Channel)
WEBHOOK_FORMATS = ("slack", "teams", "teams-messagecard")


@dataclass(frozen=True)
class KindSpec:
    """An alert kind: who gets it by default, on which channel, with which parameters."""

    roles: tuple[str, ...]
    channel: str
    params: dict[str, int]
    help: str


KINDS: dict[AlertKind, KindSpec] = {
    # First: a market dialogue is influence now (the KAM hears it before anything else).
    AlertKind.DIALOGUE_OPEN: KindSpec(
        (Role.KAM,),
        Channel.EMAIL,
        {},
        "a market dialogue opens at one of my accounts: the buyer asks for input before the "
        "competition (response deadline, days left, the rules for suppliers who take part)",
    ),
    AlertKind.NEW_NOTICE: KindSpec(
        (Role.KAM,),
        Channel.EMAIL,
        {"days": 3},
        "a new notice for one of my accounts (issued ≤ days ago)",
    ),
    AlertKind.WINDOW_OPENING: KindSpec(
        (Role.KAM,),
        Channel.DIGEST,
        {"days": 0},
        "an influence window opens (within days from today)",
    ),
    AlertKind.WINDOW_CLOSING: KindSpec(
        (Role.KAM,), Channel.DIGEST, {"days": 30}, "an open influence window closes within days"
    ),
    AlertKind.DRAFTING_START: KindSpec(
        (Role.KAM,),
        Channel.DIGEST,
        {"days": 14},
        "the buyer starts drafting the specification within days",
    ),
    AlertKind.EXPIRY: KindSpec(
        (Role.KAM,), Channel.DIGEST, {"months": 12}, "a contract expires within months"
    ),
    AlertKind.BUDGET_WINDOW: KindSpec(
        (Role.KAM,), Channel.DIGEST, {"days": 14}, "a budget-cycle window starts within days"
    ),
    AlertKind.TENDER_DEADLINE: KindSpec(
        (Role.BID,),
        Channel.EMAIL,
        {"days": 7},
        "a tender deadline of a competition we follow within days",
    ),
    AlertKind.BID_DECISION: KindSpec(
        (Role.DIRECTOR,),
        Channel.EMAIL,
        {},
        "a published competition at our accounts has no bid decision",
    ),
}

# Subscription parameter: all=1 also alerts on items outside the capability profile (by
# default only items in the profile, or flagged by the learned model, alert).
ALL_PARAM = "all"


def default_subscriptions(role: str) -> list[tuple[str, str, dict[str, int]]]:
    """(kind, channel, params) that a user of ``role`` gets by default."""
    return [(k, s.channel, dict(s.params)) for k, s in KINDS.items() if role in s.roles]


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
    if channel == Channel.WEBHOOK:
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
    sub.params = {**KINDS[AlertKind(kind)].params, **(params or {})}
    sub.target = target
    sub.enabled = enabled
    session.flush()
    return sub
