"""Bid/no-bid: open competitions in our capability profile, scored and qualified.

``list_bids(session, today, rules=...)`` returns ``BidRow`` records, best score first, for
every latest, non-test competition notice (subtypes 10–24, N16, E3, CEI; not a PIN-as-call
whose content is a market dialogue, see ``tracker.notices.pretender``) whose tender
deadline is today or later (or, with no usable deadline, issued in the last 60 days) and
that is in the capability profile (``tracker.opportunities.relevance``: the rules' fit, or
flagged by the team's learned model) or that we track (a decision or bid status is
recorded). Competitions linked to an account but out of profile are one click away
(``show="accounts"`` or ``"all"``). Each has the explainable score of
``tracker.bids.scoring.score_bid``: account tier, fit, value, days to the deadline, price
weight, incumbent, influence work (activities recorded on the opportunity the competition
closed, see ``tracker.opportunities.build``) and the bid team's capacity and delivery-risk
assessment, and beside the score the selection requirements (BT-747/750) and the number of
tenders received last time (BT-759 of the result notice of the contract being re-tendered).

The writes (decisions, bid statuses, the bid team's assessment, with their permission
checks) live in ``tracker.bids.decisions``; what a row reads besides the notice in
``tracker.bids.context``. The score's recommendation is advice, never a decision: no
decision exists until someone records one (``bid_detail`` shows the history: who, when,
what, why, and what it replaced).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.accounts.keyaccounts import get_account
from tracker.bids.competitions import (
    competition_lots,
    competition_value,
    deadline_facts,
    earliest_deadline,
    lot_rows,
    selection_criteria,
)
from tracker.bids.context import (
    BidContext,
    Linked,
    LoadedLot,
    LoadedNotice,
    assessment_dict,
    bid_context,
    chunks,
    competition_notice,
    decision_dicts,
    incumbency_of,
    linked_accounts,
    load_notices,
)
from tracker.bids.scoring import (
    BidFacts,
    ScoringRules,
    score_bid,
)
from tracker.db.models import (
    Account,
    BidDecision,
    BidStatus,
    Lot,
    Notice,
    NoticeLink,
)
from tracker.enums import Incumbent, LinkStatus
from tracker.errors import UserError
from tracker.messages import Message
from tracker.notices.subtypes import COMPETITION_SUBTYPES
from tracker.opportunities.drafts import NOT_A_CALL, pretender_readings
from tracker.opportunities.profile import ItemText, Profile, compose_item
from tracker.opportunities.relevance import LearnedModel, relevance, stored_model
from tracker.rules import Rules

# eForms selection-criterion codes (BT-747), for criteria that carry no name of their own.
NO_DEADLINE_DAYS = 60  # a competition without a usable deadline counts as open this long
LOOKBACK_DAYS = 400  # competitions issued earlier than this are not considered open
SHOWS = ("relevant", "accounts", "all")


@dataclass(frozen=True)
class BidRow:
    """One open competition with its explainable score: the bid list's record (the
    ``tracker bids`` command, the bid pages, the director's queue, the exports, the
    calendar and the alerts all read these)."""

    notice_pk: int
    notice_id: str
    version: str
    source: str
    source_id: str | None
    url: str | None  # the public Doffin page
    documents_url: str | None
    title: str | None
    buyer: str | None
    buyers: list[str]
    accounts: list[str]  # through confirmed links: they give the account and its tier
    # reached only through unconfirmed links: no account or tier, a reduced tier component
    suggested_accounts: list[str]
    account: str | None
    tier: str | None
    subtype: str | None
    procedure_type: str | None
    procedure_id: str | None
    issue_date: dt.date | None
    deadline: dt.date | None
    deadline_at: str | None  # ISO datetime
    # the tender deadline, or the end of a qualification system
    deadline_source: Message | None
    days_left: int | None
    placeholder_deadline: bool  # a 2099-style date was ignored
    # the competition's one value (tracker.bids.competitions.competition_value), its kind
    # (estimated, framework_max, text_estimated, text_max or None) and Norwegian words
    value: float | None
    currency: str | None
    value_kind: str | None
    value_label: str | None
    value_detail: dict[str, Any]  # the whole competition_value: source, lots, buyer's words
    main_cpv: str | None
    cpv_codes: list[str]
    # [{lot_id, title, deadline, value, value_kind, currency, price_weight, criteria:
    # [{type, name, weight, weight_code}], documents_url}]
    lots: list[dict[str, Any]]
    price_weight: float | None  # percent, highest over the lots
    # account, suggested, profile, learned, tracked or a combination (account+profile)
    relevance: str
    fit: dict[str, Any]  # tracker.opportunities.relevance.relevance
    selection_criteria: list[dict[str, Any]]  # [{type, name, description, label}]
    tenders_last_time: dict[str, Any] | None  # {tenders, contract, awarded}
    assessment: dict[str, Any] | None  # {capacity, delivery_risk, reason, by, at}
    incumbent: Incumbent
    incumbents: list[str]
    opportunity_keys: list[str]
    influence_activities: int
    # {total, recommendation, components: [{name, label, points, max, reason}], capped
    # (only when fit 0 capped the recommendation)}
    score: dict[str, Any]
    total: float
    recommendation: str
    decision: dict[str, Any] | None  # the latest {decision, by, at, why, score, ...}
    decisions: list[dict[str, Any]]  # all, oldest first
    status: str | None  # our bid status


def record_fields(record: Any) -> dict[str, Any]:
    """A record's fields as keyword arguments (shallow: for a record built on another)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def doffin_url(notice: Notice | LoadedNotice) -> str | None:
    """The public Doffin page of a notice fetched from Doffin."""
    if notice.source == "doffin" and notice.source_id:
        return f"https://doffin.no/notices/{notice.source_id}"
    return None


def _is_open(n: Any, deadline: dt.datetime | None, today: dt.date) -> bool:
    if deadline is not None:
        return deadline.date() >= today
    issued = n.issue_date or n.publication_date
    return issued is not None and issued >= today - dt.timedelta(days=NO_DEADLINE_DAYS)


def _relevance_kinds(linked: Linked, rel: dict[str, Any], *, tracked: bool) -> str:
    """Why a competition is listed: account, suggested, profile, learned, tracked (joined
    with ``+``)."""
    return "+".join(
        x
        for x, ok in (
            ("account", bool(linked.links)),
            (LinkStatus.SUGGESTED, bool(linked.suggested) and not linked.links),
            ("profile", rel["fit"]),
            ("learned", rel["flagged"]),
            ("tracked", tracked),
        )
        if ok
    )


def _bid_facts(
    today: dt.date,
    profile: Profile,
    linked: Linked,
    item: ItemText,
    bid_value: dict[str, Any],
    assessment: Any,
    deadline: dt.date | None,
    price: float | None,
    who: str,
    incumbents: list[str],
    activities: int,
) -> BidFacts:
    """What the score of one competition is computed from (``tracker.bids.scoring``)."""
    return BidFacts(
        profile=profile,
        today=today,
        tier=linked.tier,
        account=linked.account,
        suggested_account=linked.suggested_account,
        suggested_tier=linked.suggested_tier,
        cpv_codes=item.cpvs,
        text=item.text,
        title=item.title,
        main_cpv=item.main_cpv,
        capacity=assessment.capacity if assessment else None,
        delivery_risk=assessment.delivery_risk if assessment else None,
        assessment_reason=assessment.reason if assessment else None,
        value=bid_value["amount"],
        value_kind=bid_value["kind"],
        currency=bid_value["currency"],
        value_words=tuple(w["quote"] for w in bid_value["words"] if bid_value["words_differ"]),
        deadline=deadline,
        price_weight=price,
        incumbent=who,
        incumbent_name=", ".join(incumbents) or None,
        buyer_type=linked.buyer_type,
        influence_activities=activities,
    )


def bid_row(
    n: Notice | LoadedNotice,
    today: dt.date,
    ctx: BidContext,
    scoring: ScoringRules,
) -> BidRow:
    """One competition with its score."""
    lots: list[Lot | LoadedLot] = list(n.lots)
    deadline_at, placeholder, deadline_source = deadline_facts(n, lots, today)
    deadline = deadline_at.date() if deadline_at else None
    item = profile_item(n, lots)
    # One value per competition, with its kind and the buyer's words (tracker.bids.competitions)
    bid_value = competition_value(n, lots)
    lots_shown, price = lot_rows(n, lots)
    linked = linked_accounts(ctx.links.get(n.id, []))
    opps = ctx.opps.get(n.id, [])
    who, incumbents = incumbency_of(opps)
    activities = ctx.influence_activities(opps, n.issue_date or n.publication_date or today)
    nid = ctx.notice_ids.get(n.id, n.notice_id)
    assessment = ctx.assessments.get(nid)
    profile = ctx.profile(linked.account, scoring.the_profile)
    facts = _bid_facts(
        today, profile, linked, item, bid_value, assessment, deadline, price, who, incumbents,
        activities,
    )  # fmt: skip
    score = score_bid(facts, scoring)
    rel = relevance(profile, item, ctx.model)
    decisions = decision_dicts(ctx.decisions.get(nid, []))
    status = ctx.statuses.get(n.id)
    buyers = [b.name for b in n.buyers if b.name]
    return BidRow(
        notice_pk=n.id,
        notice_id=n.notice_id,
        version=n.version,
        source=n.source,
        source_id=n.source_id,
        url=doffin_url(n),
        documents_url=n.documents_url,
        title=n.title,
        buyer=buyers[0] if buyers else None,
        buyers=buyers,
        accounts=[name for name, _, _ in linked.links],
        suggested_accounts=list(dict.fromkeys(name for name, _, _ in linked.suggested)),
        account=linked.account,
        tier=linked.tier,
        subtype=n.subtype,
        procedure_type=n.procedure_type,
        procedure_id=n.procedure_id,
        issue_date=n.issue_date,
        deadline=deadline,
        deadline_at=deadline_at.isoformat() if deadline_at else None,
        deadline_source=deadline_source,
        days_left=(deadline - today).days if deadline else None,
        placeholder_deadline=placeholder,
        value=bid_value["amount"],
        currency=bid_value["currency"] or n.currency,
        value_kind=bid_value["kind"],
        value_label=bid_value["label"],
        value_detail=bid_value,
        main_cpv=n.main_cpv,
        cpv_codes=item.cpvs,
        lots=lots_shown,
        price_weight=price,
        relevance=_relevance_kinds(linked, rel, tracked=bool(decisions) or status is not None),
        fit=rel,
        selection_criteria=selection_criteria(lots),
        tenders_last_time=ctx.tenders_last_time(opps),
        assessment=assessment_dict(assessment),
        incumbent=who,
        incumbents=incumbents,
        opportunity_keys=[o.key for o in opps],
        influence_activities=activities,
        score=score,
        total=cast(float, score["total"]),
        recommendation=cast(str, score["recommendation"]),
        decision=decisions[-1] if decisions else None,
        decisions=decisions,
        status=status.status if status else None,
    )


def _candidates_query(
    today: dt.date, show: str, account_ids: list[int] | None, include_closed: bool
) -> Any:
    """Latest, non-test competitions issued in the last ``LOOKBACK_DAYS`` days (a cheap
    superset of the open ones unless ``include_closed``: ``_is_open`` decides)."""
    since = today - dt.timedelta(days=LOOKBACK_DAYS)
    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    q = select(
        Notice.id,
        Notice.notice_id,
        Notice.subtype,
        Notice.issue_date,
        Notice.publication_date,
        Notice.planned_date,
        Notice.is_test,
        Notice.main_cpv,
        Notice.cpv_codes,
        Notice.title,
        Notice.description,
    ).where(
        Notice.subtype.in_(sorted(COMPETITION_SUBTYPES)),
        Notice.is_latest.is_(True),
        Notice.is_test.is_(False),
        issued >= since,
        issued <= today,
    )
    if not include_closed:
        midnight = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(days=1)
        q = q.where(
            or_(
                Notice.id.in_(select(Lot.notice_pk).where(Lot.submission_deadline >= midnight)),
                issued >= today - dt.timedelta(days=NO_DEADLINE_DAYS),
            )
        )
    if account_ids is not None or show == "accounts":
        link = select(NoticeLink.notice_pk).where(NoticeLink.status != LinkStatus.REJECTED)
        if account_ids is not None:
            link = link.where(NoticeLink.account_id.in_(account_ids))
        q = q.where(Notice.id.in_(link))
    return q


def _candidate_facts(
    session: Session, pks: list[int], need_relevance: bool
) -> tuple[dict[int, list[Any]], dict[int, set[str]], set[int]]:
    """Per candidate: its lots (deadline, end, CPV, text), the accounts it is linked to
    and, when relevance decides, whether a bid status is recorded."""
    lots: dict[int, list[Any]] = defaultdict(list)
    linked: dict[int, set[str]] = defaultdict(set)
    status_pks: set[int] = set()
    for chunk in chunks(pks):
        for row in session.execute(
            select(
                Lot.notice_pk,
                Lot.submission_deadline,
                Lot.end_date,
                Lot.cpv_codes,
                Lot.title,
                Lot.description,
            ).where(Lot.notice_pk.in_(chunk))
        ):
            lots[row.notice_pk].append(row)
        for pk, name in session.execute(
            select(NoticeLink.notice_pk, Account.name)
            .join(Account, Account.id == NoticeLink.account_id)
            .where(NoticeLink.notice_pk.in_(chunk), NoticeLink.status != LinkStatus.REJECTED)
        ):
            linked[pk].add(name)
        if need_relevance:
            status_pks.update(
                session.scalars(select(BidStatus.notice_pk).where(BidStatus.notice_pk.in_(chunk)))
            )
    return lots, linked, status_pks


def open_competition_ids(
    session: Session,
    today: dt.date,
    *,
    rules: Rules,
    show: str = "relevant",
    account_ids: list[int] | None = None,
    include_closed: bool = False,
) -> list[int]:
    """THE selection of open, relevant competitions (the ``tracker bids`` command and the
    bid pages both use it): primary keys, those in our capability profile first, then
    soonest deadline first (no deadline last).

    A competition is every latest, non-test notice of subtype 10–24, N16, E3 or CEI issued
    (issue date, else publication date) in the last ``LOOKBACK_DAYS`` days up to today,
    except a PIN used as a call whose content is a market dialogue or an announcement
    (``tracker.notices.pretender``: it is an opportunity to influence, not to bid); it is
    open when its earliest lot deadline (placeholder years 2090+ ignored) is today or later
    or, with no usable deadline, when it was issued in the last ``NO_DEADLINE_DAYS`` days
    (``include_closed`` keeps the closed ones too). ``show``: ``relevant`` (in the
    capability profile of ``tracker.opportunities.relevance``, the global one or that of an
    account it is linked to, or flagged by the team's learned model, or tracked: a decision
    or bid status is recorded), ``accounts`` (linked to an account, in profile or not) or
    ``all``. ``account_ids``: only competitions linked to those accounts (link not rejected).
    """
    if show not in SHOWS:
        raise UserError(f"show: {show!r} is not one of {', '.join(SHOWS)}")
    candidates = session.execute(_candidates_query(today, show, account_ids, include_closed)).all()
    readings = pretender_readings(session, candidates)
    candidates = [
        c for c in candidates if c.id not in readings or readings[c.id].kind not in NOT_A_CALL
    ]
    need_relevance = show == "relevant"
    lots, linked, status_pks = _candidate_facts(session, [c.id for c in candidates], need_relevance)
    decided: set[str] = set()
    model = stored_model(session)
    if need_relevance:
        decided = set(
            session.scalars(
                select(Notice.notice_id).join(BidDecision, BidDecision.notice_pk == Notice.id)
            )
        )
    out: list[tuple[bool, dt.datetime | None, int]] = []
    for c in candidates:
        deadline, _ = earliest_deadline(lots[c.id], today, c.subtype)
        if not include_closed and not _is_open(c, deadline, today):
            continue
        mine = _in_profile(rules, profile_item(c, lots[c.id]), linked.get(c.id, ()), model)
        if need_relevance and not (mine or c.id in status_pks or c.notice_id in decided):
            continue
        out.append((mine, deadline, c.id))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    # in our profile first (nothing outside it leads a list), then soonest deadline
    out.sort(key=lambda x: (not x[0], _aware(x[1]) if x[1] else far, x[2]))
    return [pk for _, _, pk in out]


def _in_profile(
    rules: Rules, item: ItemText, accounts: Iterable[str], model: LearnedModel | None
) -> bool:
    """In the global profile or that of one of the accounts, or flagged by the model."""
    profiles = {id(p): p for p in [rules.profile(), *(rules.profile(a) for a in accounts)]}
    return any(relevance(p, item, model)["shown"] for p in profiles.values())


def _aware(d: dt.datetime) -> dt.datetime:
    return d if d.tzinfo else d.replace(tzinfo=dt.UTC)


def profile_item(n: Any, lots: Sequence[Any]) -> ItemText:
    """What the capability profile reads of a competition (``tracker.opportunities.relevance``)."""
    return compose_item(n, lots)


def list_bids(
    session: Session,
    today: dt.date,
    *,
    account: str | None = None,
    include_closed: bool = False,
    show: str = "relevant",
    rules: Rules,
) -> list[BidRow]:
    """Open competitions in our capability profile (or tracked), best first.

    The competitions are those of ``open_competition_ids`` (``show``: ``relevant`` by
    default, ``accounts`` or ``all``; the bid pages list the same). ``account`` keeps only
    competitions linked to that account (id, name or alias; link not rejected);
    ``include_closed`` keeps competitions whose deadline has passed (issued in the last 400
    days).
    """
    ids = [get_account(session, account).id] if account else None
    pks = open_competition_ids(
        session, today, show=show, account_ids=ids, include_closed=include_closed, rules=rules
    )
    out = bid_rows(session, today, pks, rules=rules)
    # in profile first; the learned score only reorders equal totals
    out.sort(
        key=lambda r: (
            not r.fit["shown"],
            -r.total,
            -((r.fit["learned"] or {}).get("score") or 0),
            r.deadline or dt.date.max,
            r.notice_pk,
        )
    )
    return out


def bid_rows(
    session: Session, today: dt.date, notice_pks: list[int], *, rules: Rules
) -> list[BidRow]:
    """Scored rows (as ``list_bids``) for the given competitions, in the given order, with no
    relevance or deadline filter (for paged lists that select their own notices)."""
    scoring = rules.scoring_rules()
    ctx = bid_context(session, notice_pks, rules.profile)
    notices = {n.id: n for n in load_notices(session, notice_pks)}
    return [bid_row(notices[pk], today, ctx, scoring) for pk in notice_pks if pk in notices]


@dataclass(frozen=True)
class BidDetail(BidRow):
    """The bid page of one competition: its ``BidRow`` (the same value, score,
    recommendation and decision as the list), the lots as the notice says them and the
    decision history, newest first."""

    competition_lots: list[dict[str, Any]]  # tracker.bids.competitions.competition_lots
    history: list[dict[str, Any]]  # who, when, what, why, the score, what it replaced


def bid_detail(
    session: Session, notice: Notice | int | str, today: dt.date, *, rules: Rules
) -> BidDetail:
    """The bid page of one competition (``BidDetail``): each decision with who, when, what,
    why, the score it was taken on and the decision it replaced. NotFoundError for an
    unknown notice, UserError for one that is not a competition."""
    n = competition_notice(session, notice, "the bid page is for competitions only")
    row = bid_rows(session, today, [n.id], rules=rules)[0]
    return BidDetail(
        **record_fields(row),
        competition_lots=competition_lots(session, n.id),
        history=list(reversed(row.decisions)),
    )
