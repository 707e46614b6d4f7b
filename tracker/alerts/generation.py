"""Alert generation (:func:`generate_alerts`): each kind is a query over notices, links,
opportunities and bids that yields :class:`Alert` events with a stable ``key``. One
``alert_log`` row per event, user and channel; its ``dedup_key`` is unique, so running
the generation again (or concurrently) never creates a second alert.

Who wants which kind on which channel: :mod:`tracker.alerts.subscriptions`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.alerts.subscriptions import ALL_PARAM, KINDS, ensure_default_subscriptions
from tracker.bids.selection import list_bids
from tracker.config import Settings
from tracker.dates import add_months
from tracker.db.models import (
    Account,
    AlertLog,
    AlertSubscription,
    Notice,
    NoticeLink,
    Opportunity,
    User,
)
from tracker.enums import AlertKind, AlertState, Decision, LinkStatus, Phase
from tracker.errors import ConfigError
from tracker.opportunities.profile import notice_texts
from tracker.opportunities.reading import opportunity_item
from tracker.opportunities.relevance import relevance, stored_model
from tracker.pages.base import plain
from tracker.pages.opportunities import opportunities
from tracker.rules import Rules, load_rules
from tracker.users import account_scope

# A window start already passed by at most this many days still alerts (a missed cycle).
GRACE_DAYS = 7


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


def _in_profile(
    session: Session, params: dict[str, Any], rules: Rules
) -> Callable[[Opportunity], bool]:
    """Whether an opportunity alerts under ``params``: in the capability profile of its
    account (or flagged by the learned model), unless the subscription says ``all=1``."""
    if int(params.get(ALL_PARAM, 0)):
        return lambda opp: True
    model = stored_model(session)
    names = _account_names(session)

    def shown(opp: Opportunity) -> bool:
        profile = rules.profile(names.get(opp.account_id or -1))
        return bool(relevance(profile, opportunity_item(opp), model)["shown"])

    return shown


def _dialogue_alerts(
    session: Session, user: User, params: dict[str, Any], today: dt.date, base: str, rules: Rules
) -> list[Alert]:
    """Market dialogues open today at the user's accounts (``tracker.opportunities.build``:
    phase ``dialogue_open``), with the response deadline, days left, the buyer's words and
    the note on the rules for suppliers who take part."""
    accounts = _accounts_in_scope(session, user)
    keep = _in_profile(session, params, rules)
    out: list[Alert] = []
    dialogues = opportunities(session, today, rules=rules, phase=Phase.DIALOGUE_OPEN)
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
                kind=AlertKind.DIALOGUE_OPEN,
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


def _opportunity_event(
    kind: str, opp: Opportunity, today: dt.date, days: int, params: dict[str, Any]
) -> tuple[dt.date, str] | None:
    """(the day, the headline) of the event of ``kind`` for ``opp``, or None when it has
    none between ``GRACE_DAYS`` ago (a missed cycle) and the subscription's horizon."""
    grace = today - dt.timedelta(days=GRACE_DAYS)
    horizon = today + dt.timedelta(days=days)
    published = opp.expected_publication
    if kind == AlertKind.WINDOW_OPENING:
        opens = opp.influence_opens
        not_published = published is None or published >= today
        if opens is not None and _in(opens, grace, horizon) and not_published:
            return opens, "Influence window opens"
    elif kind == AlertKind.WINDOW_CLOSING:
        opened = opp.influence_opens is None or opp.influence_opens <= today
        if opened and published is not None and _in(published, today, horizon):
            return published, f"Influence window closes in {(published - today).days} days"
    elif kind == AlertKind.DRAFTING_START:
        if opp.drafting_starts is not None and _in(opp.drafting_starts, grace, horizon):
            return opp.drafting_starts, "Specification drafting starts"
    elif kind == AlertKind.BUDGET_WINDOW:
        if opp.budget_start is not None and _in(opp.budget_start, grace, horizon):
            return opp.budget_start, "Budget window starts"
    elif kind == AlertKind.EXPIRY:
        months = int(params.get("months", 12))
        if opp.expiry is not None and _in(opp.expiry, today, add_months(today, months)):
            return opp.expiry, "Contract expires"
    return None


def _opportunity_alerts(
    session: Session,
    kind: str,
    user: User,
    params: dict[str, Any],
    today: dt.date,
    base: str,
    rules: Rules,
) -> list[Alert]:
    names = _account_names(session)
    days = int(params.get("days", KINDS[AlertKind(kind)].params.get("days", 0)))
    keep = _in_profile(session, params, rules)
    out: list[Alert] = []
    for opp in _opportunities(session, today, _accounts_in_scope(session, user)):
        if not keep(opp):
            continue
        event = _opportunity_event(kind, opp, today, days, params)
        if event is not None:
            out.append(_opp_alert(kind, opp, event[0], event[1], names, base))
    return out


def _new_notice_alerts(
    session: Session, user: User, params: dict[str, Any], today: dt.date, base: str, rules: Rules
) -> list[Alert]:
    accounts = _accounts_in_scope(session, user)
    since = today - dt.timedelta(days=int(params.get("days", 3)))
    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    q = (
        select(Notice, NoticeLink.account_id)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .where(NoticeLink.status != LinkStatus.REJECTED, issued >= since, issued <= today)
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
        profile, model = rules.profile(), stored_model(session)
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
                kind=AlertKind.NEW_NOTICE,
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


def _followed_competitions(session: Session, today: dt.date, rules: Rules) -> list[Competition]:
    """Open competitions relevant to us (``tracker.bids.selection.list_bids``: linked to an account
    or matching our profile), deadline today or later."""
    out = []
    for b in list_bids(session, today, rules=rules):
        if not b.deadline_at:
            continue
        deadline = dt.datetime.fromisoformat(b.deadline_at)
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=dt.UTC)
        if deadline.date() < today:
            continue
        decision = (b.decision or {}).get("decision")
        out.append(
            Competition(
                b.notice_pk,
                b.notice_id,
                (b.title or "untitled").strip(),
                b.buyer or "?",
                deadline,
                b.value,
                b.currency,
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
    session: Session, kind: str, params: dict[str, Any], today: dt.date, base: str, rules: Rules
) -> list[Alert]:
    out = []
    for c in _followed_competitions(session, today, rules):
        if kind == AlertKind.TENDER_DEADLINE:
            left = (c.deadline.date() - today).days
            if left <= int(params.get("days", 7)) and c.decision != Decision.NO_BID:
                out.append(_competition_alert(kind, c, f"Tender deadline in {left} days", base))
        elif kind == AlertKind.BID_DECISION and c.decision is None:
            out.append(_competition_alert(kind, c, "Bid decision needed", base))
    return out


def alerts_for(
    session: Session,
    user: User,
    kind: str,
    params: dict[str, Any],
    today: dt.date,
    base_url: str,
    *,
    rules: Rules,
) -> list[Alert]:
    """The events of ``kind`` that ``user`` should hear about on ``today`` (pure query);
    ``rules`` give the capability profiles that decide what is relevant."""
    base = base_url.rstrip("/")
    if kind == AlertKind.NEW_NOTICE:
        return _new_notice_alerts(session, user, params, today, base, rules)
    if kind == AlertKind.DIALOGUE_OPEN:
        return _dialogue_alerts(session, user, params, today, base, rules)
    if kind in (AlertKind.TENDER_DEADLINE, AlertKind.BID_DECISION):
        return _bid_alerts(session, kind, params, today, base, rules)
    if kind in KINDS:
        return _opportunity_alerts(session, kind, user, params, today, base, rules)
    raise ConfigError(f"alert kind {kind!r} unknown")


def dedup_key(alert: Alert, user_id: int, channel: str) -> str:
    raw = f"{alert.kind}|{alert.key}|u{user_id}|{channel}"
    if len(raw) <= 400:
        return raw
    return f"{alert.kind}|sha256:{hashlib.sha256(raw.encode()).hexdigest()}|u{user_id}|{channel}"


def generate_alerts(
    session: Session, today: dt.date, settings: Settings, rules: Rules | None = None
) -> int:
    """Log every new alert as ``pending``; returns how many were new. Commits. ``rules``:
    those of ``settings`` (its rules file, parsed once per version) unless given."""
    rules = rules if rules is not None else load_rules(settings=settings)
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
        found_user = session.get(User, sub.user_id)
        assert found_user is not None
        user = found_user
        found = alerts_for(
            session, user, sub.kind, sub.params or {}, today, settings.base_url, rules=rules
        )
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
                status=AlertState.PENDING,
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
