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
from tracker.formats.human import date as shown_date
from tracker.formats.human import money, msg
from tracker.formats.labels import subtype
from tracker.i18n import speaking
from tracker.messages import N_, Message
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


def _iso(d: dt.date | dt.datetime | None) -> str:
    """A day or moment as the alert's key and payload keep it (ISO, not translated)."""
    if d is None:
        return "?"
    if isinstance(d, dt.datetime):
        return d.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return d.isoformat()


def _when(d: dt.date | dt.datetime | None) -> str:
    """A day (dd.mm.åååå) or a moment in Oslo time with its clock, in the reader's words."""
    return "?" if d is None else shown_date(d)


def _text(lines: list[Message]) -> str:
    """The body: one message per line, in the language being spoken (``speaking``)."""
    return "\n".join(msg(line) for line in lines)


def _opportunities(
    session: Session, today: dt.date, accounts: list[int] | None
) -> list[Opportunity]:
    q = select(Opportunity).order_by(Opportunity.id)
    if accounts is not None:
        q = q.where(Opportunity.account_id.in_(accounts))
    return list(session.scalars(q))


def _in(d: dt.date | None, lo: dt.date, hi: dt.date) -> bool:
    return d is not None and lo <= d <= hi


def _notice_kind(notice: Notice) -> str:
    """The notice's kind in words (its subtype's label; the stored type when unknown)."""
    if notice.subtype:
        return subtype(notice.subtype)
    return notice.notice_type or "?"


def _untitled(title: str | None) -> str:
    return (title or "").strip() or msg(N_("untitled"))


def _opp_alert(
    kind: str, opp: Opportunity, when: dt.date, headline: Message, names: dict[int, str], base: str
) -> Alert:
    account = names.get(opp.account_id or -1, opp.buyer_name or "?")
    title = _untitled(opp.title)
    lines = [
        headline,
        N_("Account: %(account)s", account=account),
        N_("Opportunity: %(title)s", title=title),
        N_("Buyer: %(buyer)s", buyer=opp.buyer_name or "?"),
    ]
    for label, value in (
        (N_("Contract expiry"), opp.expiry),
        (N_("Influence window opens"), opp.influence_opens),
        (N_("Drafting starts"), opp.drafting_starts),
        (N_("Expected publication (window closes)"), opp.expected_publication),
        (N_("Budget window"), opp.budget_start),
    ):
        if value is not None:
            lines.append(N_("%(label)s: %(day)s", label=label, day=_when(value)))
    if opp.value is not None:
        lines.append(N_("Value: %(value)s", value=money(opp.value, "NOK")))
    page = f"{base}/accounts/{opp.account_id}" if opp.account_id else f"{base}/"
    lines.append(N_("Open: %(url)s", url=page))
    subject = N_("%(headline)s: %(title)s (%(account)s)", headline=headline, title=title[:120],
                 account=account)  # fmt: skip
    return Alert(
        kind=kind,
        key=f"opp:{opp.key}:{when.isoformat()}",
        subject=msg(subject),
        body=_text(lines),
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
        title = _untitled(o["title"])
        until = o["dialogue_until"]
        lines = [
            N_("Market dialogue open: %(days)s days left to respond", days=o["days_left"]),
            N_("Account: %(account)s", account=o["account"]),
            N_("What: %(title)s", title=title),
            N_("Buyer: %(buyer)s", buyer=o["buyer"] or "?"),
            _respond_by(o["response_deadline"], until),
        ]
        evidence = (o.get("pretender") or {}).get("evidence")
        if evidence:
            lines.append(N_("The buyer writes: %(words)s", words=evidence))
        if o.get("supplier_note"):
            lines.append(
                N_("Taking part: %(note)s (source: %(source)s)", note=o["supplier_note"],
                   source=o["supplier_note_source"])
            )  # fmt: skip
        lines.append(N_("Why: %(reason)s", reason=o["reason"]))
        lines.append(N_("Open: %(url)s", url=f"{base}/accounts/{o['account_id']}"))
        subject = N_("Market dialogue: respond by %(day)s: %(title)s (%(account)s)",
                     day=_when(until), title=title[:110], account=o["account"])  # fmt: skip
        out.append(
            Alert(
                kind=AlertKind.DIALOGUE_OPEN,
                key=f"dialogue:{o['key']}:{_iso(until)}",
                subject=msg(subject),
                body=_text(lines),
                payload={"opportunity_key": o["key"], "account": o["account"], "date": _iso(until)},
            )
        )
    return out


def _respond_by(deadline: dict[str, Any] | None, until: dt.date | None) -> Message:
    """When to answer a market dialogue: the buyer's stated deadline (Oslo time) and where
    it was read, or the day the dialogue is taken to end."""
    if not deadline:
        return N_("Respond by: %(day)s (no deadline stated)", day=_when(until))
    at = deadline.get("at")
    day = _when(dt.datetime.fromisoformat(at)) if at else deadline.get("label") or _when(until)
    return N_("Respond by: %(day)s (%(source)s)", day=day, source=deadline.get("source"))


def _opportunity_event(
    kind: str, opp: Opportunity, today: dt.date, days: int, params: dict[str, Any]
) -> tuple[dt.date, Message] | None:
    """(the day, the headline) of the event of ``kind`` for ``opp``, or None when it has
    none between ``GRACE_DAYS`` ago (a missed cycle) and the subscription's horizon."""
    grace = today - dt.timedelta(days=GRACE_DAYS)
    horizon = today + dt.timedelta(days=days)
    published = opp.expected_publication
    if kind == AlertKind.WINDOW_OPENING:
        opens = opp.influence_opens
        not_published = published is None or published >= today
        if opens is not None and _in(opens, grace, horizon) and not_published:
            return opens, N_("Influence window opens")
    elif kind == AlertKind.WINDOW_CLOSING:
        opened = opp.influence_opens is None or opp.influence_opens <= today
        if opened and published is not None and _in(published, today, horizon):
            return published, N_("Influence window closes in %(days)s days",
                                  days=(published - today).days)  # fmt: skip
    elif kind == AlertKind.DRAFTING_START:
        if opp.drafting_starts is not None and _in(opp.drafting_starts, grace, horizon):
            return opp.drafting_starts, N_("Specification drafting starts")
    elif kind == AlertKind.BUDGET_WINDOW:
        if opp.budget_start is not None and _in(opp.budget_start, grace, horizon):
            return opp.budget_start, N_("Budget window starts")
    elif kind == AlertKind.EXPIRY:
        months = int(params.get("months", 12))
        if opp.expiry is not None and _in(opp.expiry, today, add_months(today, months)):
            return opp.expiry, N_("Contract expires")
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
        title = _untitled(notice.title)
        acct = ", ".join(sorted(accts))
        body = _text(
            [
                N_("New notice for %(accounts)s", accounts=acct),
                N_("Title: %(title)s", title=title),
                N_("Type: %(kind)s", kind=_notice_kind(notice)),
                N_("Issued: %(day)s", day=_when(notice.issue_date or notice.publication_date)),
                N_(
                    "Source: %(source)s %(id)s",
                    source=notice.source.upper(),
                    id=notice.source_id or notice.notice_id,
                ),  # fmt: skip
                N_("Open: %(url)s", url=f"{base}/notices/{notice.id}"),
            ]
        )
        subject = N_("New notice: %(title)s (%(accounts)s)", title=title[:120], accounts=acct)
        out.append(
            Alert(
                kind=AlertKind.NEW_NOTICE,
                key=f"notice:{notice.notice_id}:{notice.version}",
                subject=msg(subject),
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


def _competition_alert(kind: str, c: Competition, headline: Message, base: str) -> Alert:
    value = (
        N_("Estimated value: %(value)s", value=money(c.value, c.currency))
        if c.value is not None
        else N_("Estimated value: not given")
    )
    body = _text(
        [
            headline,
            N_("Title: %(title)s", title=c.title),
            N_("Buyer: %(buyer)s", buyer=c.buyer),
            N_("Tender deadline: %(when)s", when=_when(c.deadline)),
            value,
            N_("Open: %(url)s", url=f"{base}/notices/{c.notice_pk}"),
        ]
    )
    return Alert(
        kind=kind,
        key=f"notice:{c.notice_id}:{c.deadline.date().isoformat()}",
        subject=msg(N_("%(headline)s: %(title)s", headline=headline, title=c.title[:120])),
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
                headline = N_("Tender deadline in %(days)s days", days=left)
                out.append(_competition_alert(kind, c, headline, base))
        elif kind == AlertKind.BID_DECISION and c.decision is None:
            out.append(_competition_alert(kind, c, N_("Bid decision needed"), base))
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
    """The events of ``kind`` that ``user`` should hear about on ``today`` (pure query),
    written in the user's language (``users.language``; the default when unset);
    ``rules`` give the capability profiles that decide what is relevant."""
    with speaking(user.language):
        return _alerts_for(session, user, kind, params, today, base_url.rstrip("/"), rules)


def _alerts_for(
    session: Session,
    user: User,
    kind: str,
    params: dict[str, Any],
    today: dt.date,
    base: str,
    rules: Rules,
) -> list[Alert]:
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
