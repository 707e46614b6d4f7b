"""Bid/no-bid: open competitions in our capability profile, scored and qualified.

``list_bids(session, today)`` returns plain dicts, best score first, for every latest,
non-test competition notice (subtypes 10–24, N16, E3, CEI; not a PIN-as-call whose content
is a market dialogue, see ``tracker.notices.pretender``) whose tender deadline is today or later
(or, with no usable deadline, issued in the last 60 days) and that is in the capability
profile (``tracker.opportunities.relevance``: the rules' fit, or flagged by the team's learned
model) or
that we track (a decision or bid status is recorded). Competitions linked to an account
but out of profile are one click away (``show="accounts"`` or ``"all"``).
Each has the explainable score of ``tracker.bids.scoring.score_bid``: account tier, fit, value,
days to the deadline, price weight, incumbent, influence work (activities recorded on the
opportunity the competition closed, see ``tracker.opportunities.build``) and the bid team's
capacity and delivery-risk assessment (``set_assessment``), and beside the score the
selection requirements (BT-747/750) and the number of tenders received last time (BT-759
of the result notice of the contract being re-tendered).

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
from typing import Any

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
    LinkFacts,
    LoadedLot,
    LoadedNotice,
    bid_context,
    chunks,
    competition_notice,
    decision_dicts,
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
from tracker.opportunities.build import (
    COMPETITION_SUBTYPES,
    NOT_A_CALL,
    pretender_readings,
)
from tracker.opportunities.relevance import (
    ItemText,
    LearnedModel,
    compose_item,
    relevance,
    stored_model,
)
from tracker.rules import Rules

# eForms selection-criterion codes (BT-747), for criteria that carry no name of their own.
TIER_ORDER = ("star", "strategic", "status", "streamline")
NO_DEADLINE_DAYS = 60  # a competition without a usable deadline counts as open this long
LOOKBACK_DAYS = 400  # competitions issued earlier than this are not considered open
SHOWS = ("relevant", "accounts", "all")


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


def _best_tier(tiers: list[str | None]) -> str | None:
    ranked = [t for t in TIER_ORDER if t in tiers]
    return ranked[0] if ranked else (tiers[0] if tiers else None)


def _best_link(
    links: list[tuple[str, str | None, str | None]],
) -> tuple[str | None, str | None, str | None]:
    """(account, tier, buyer type) of the best-tiered link, or Nones."""
    tier = _best_tier([t for _, t, _ in links])
    for name, t, bt in links:
        if t == tier:
            return name, t, bt
    return (links[0][0], links[0][1], links[0][2]) if links else (None, None, None)


Link = tuple[str, str | None, str | None]  # account name, tier, buyer type


def _split_links(all_links: list[LinkFacts]) -> tuple[list[Link], list[Link]]:
    """(confirmed, suggested-only) links. Only confirmed links give the account and its
    tier; a suggested link gives at most a reduced, labelled tier component (see
    tracker.bids.scoring)."""
    links = [(name, t, bt) for name, t, bt, st in all_links if st == LinkStatus.CONFIRMED]
    confirmed = {name for name, _, _ in links}
    suggested = [
        (name, t, bt)
        for name, t, bt, st in all_links
        if st != LinkStatus.CONFIRMED and name not in confirmed
    ]
    return links, suggested


def _incumbency(opps: Sequence[Any]) -> tuple[Incumbent, list[str]]:
    """Who holds the agreements the competition re-tenders (us, a competitor, unknown)
    and their names, from the opportunities' timelines."""
    who = Incumbent.UNKNOWN
    names: list[str] = []
    for o in opps:
        extra = (o.timeline or {}).get("extra") or {}
        names += extra.get("incumbents") or []
        if extra.get("incumbent") == Incumbent.US:
            who = Incumbent.US
        elif extra.get("incumbent") == Incumbent.COMPETITOR and who == Incumbent.UNKNOWN:
            who = Incumbent.COMPETITOR
    return who, list(dict.fromkeys(names))


def _assessment_dict(a: Any) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "capacity": a.capacity,
        "delivery_risk": a.delivery_risk,
        "reason": a.reason,
        "by": a.updated_by,
        "at": a.updated_at.isoformat() if a.updated_at else None,
    }


def _relevance_kinds(
    links: list[Link], suggested: list[Link], rel: dict[str, Any], tracked: bool
) -> str:
    """Why a competition is listed: account, suggested, profile, learned, tracked (joined
    with ``+``)."""
    return "+".join(
        x
        for x, ok in (
            ("account", bool(links)),
            ("suggested", bool(suggested) and not links),
            ("profile", rel["fit"]),
            ("learned", rel["flagged"]),
            ("tracked", tracked),
        )
        if ok
    )


def bid_row(
    n: Notice | LoadedNotice,
    today: dt.date,
    ctx: BidContext,
    scoring: ScoringRules,
) -> dict[str, Any]:
    """One competition as a plain dict with its score (see ``list_bids`` for the keys)."""
    lots: list[Lot | LoadedLot] = list(n.lots)
    deadline_at, placeholder, deadline_source = deadline_facts(n, lots, today)
    deadline = deadline_at.date() if deadline_at else None
    item = profile_item(n, lots)
    # One value per competition, with its kind and the buyer's words (tracker.bids.competitions)
    bid_value = competition_value(n, lots)
    lots_shown, price = lot_rows(n, lots)
    links, suggested = _split_links(ctx.links.get(n.id, []))
    account, tier, buyer_type = _best_link(links)
    s_account, s_tier, s_buyer_type = _best_link(suggested) if not links else (None, None, None)
    opps = ctx.opps.get(n.id, [])
    who, incumbents = _incumbency(opps)
    # Influence work: activities on the opportunity up to the day the competition appeared.
    closed = n.issue_date or n.publication_date or today
    activities = sum(
        1 for o in opps for day in ctx.activities.get(o.key, ()) if day is None or day <= closed
    )
    nid = ctx.notice_ids.get(n.id, n.notice_id)
    assessment = ctx.assessments.get(nid)
    profile = ctx.profile_for(account) if ctx.profile_for is not None else scoring.the_profile
    facts = BidFacts(
        profile=profile,
        today=today,
        tier=tier,
        account=account,
        suggested_account=s_account,
        suggested_tier=s_tier,
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
        buyer_type=buyer_type or s_buyer_type,
        influence_activities=activities,
    )
    score = score_bid(facts, scoring)
    rel = relevance(profile, item, ctx.model)
    decisions = decision_dicts(ctx.decisions.get(nid, []))
    last = [ctx.last_tenders[o.contract_id] for o in opps if o.contract_id in ctx.last_tenders]
    status = ctx.statuses.get(n.id)
    buyers = [b.name for b in n.buyers if b.name]
    return {
        "notice_pk": n.id,
        "notice_id": n.notice_id,
        "version": n.version,
        "source": n.source,
        "source_id": n.source_id,
        "url": doffin_url(n),
        "documents_url": n.documents_url,
        "title": n.title,
        "buyer": buyers[0] if buyers else None,
        "buyers": buyers,
        "accounts": [name for name, _, _ in links],
        "suggested_accounts": list(dict.fromkeys(name for name, _, _ in suggested)),
        "account": account,
        "tier": tier,
        "subtype": n.subtype,
        "procedure_type": n.procedure_type,
        "procedure_id": n.procedure_id,
        "issue_date": n.issue_date,
        "deadline": deadline,
        "deadline_at": deadline_at.isoformat() if deadline_at else None,
        "deadline_source": deadline_source,
        "days_left": (deadline - today).days if deadline else None,
        "placeholder_deadline": placeholder,
        "value": bid_value["amount"],
        "currency": bid_value["currency"] or n.currency,
        "value_kind": bid_value["kind"],
        "value_label": bid_value["label"],
        "value_detail": bid_value,
        "main_cpv": n.main_cpv,
        "cpv_codes": item.cpvs,
        "lots": lots_shown,
        "price_weight": price,
        "relevance": _relevance_kinds(links, suggested, rel, bool(decisions) or status is not None),
        "fit": rel,
        "selection_criteria": selection_criteria(lots),
        "tenders_last_time": last[0] if last else None,
        "assessment": _assessment_dict(assessment),
        "incumbent": who,
        "incumbents": incumbents,
        "opportunity_keys": [o.key for o in opps],
        "influence_activities": activities,
        "score": score,
        "total": score["total"],
        "recommendation": score["recommendation"],
        "decision": decisions[-1] if decisions else None,
        "decisions": decisions,
        "status": status.status if status else None,
    }


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
) -> list[dict[str, Any]]:
    """Open competitions in our capability profile (or tracked), best first.

    The competitions are those of ``open_competition_ids`` (``show``: ``relevant`` by
    default, ``accounts`` or ``all``; the bid pages list the same). ``account`` keeps only
    competitions linked to that account (id, name or alias; link not rejected);
    ``include_closed`` keeps competitions whose deadline has passed (issued in the last 400
    days).

    Keys: notice_pk, notice_id, version, source, source_id, url (Doffin page),
    documents_url, title, buyer, buyers, accounts, account, tier, subtype, procedure_type,
    procedure_id, issue_date, deadline (date), deadline_at (ISO datetime), deadline_source
    (the tender deadline, or the end of a qualification system), days_left,
    placeholder_deadline (a 2099-style date was ignored), value (the competition's one
    value, ``tracker.bids.competitions.competition_value``), currency, value_kind (estimated,
    framework_max, text_estimated, text_max or None), value_label (its Norwegian words),
    value_detail (the whole ``competition_value``: source, lots added up, the buyer's
    words), main_cpv,
    cpv_codes, lots ([{lot_id, title, deadline, value, price_weight, criteria: [{type,
    name, weight, weight_code}], documents_url}]), price_weight (percent, highest over the
    lots), suggested_accounts (reached only through unconfirmed links; they give no
    account or tier, only a reduced tier component), relevance (account (a confirmed
    link), suggested (only suggested links), profile, tracked (a decision or bid status
    exists) or a combination such as account+profile), incumbent
    (us|competitor|unknown), incumbents, opportunity_keys, influence_activities, fit (the
    capability profile's fit and reason, the learned score and its words, flagged, shown:
    ``tracker.opportunities.relevance.relevance``), selection_criteria ([{type, name, description,
    label}]),
    tenders_last_time ({tenders, contract, awarded} of the contract being re-tendered, or
    None), assessment ({capacity, delivery_risk, reason, by, at} or None), score
    ({total, recommendation, components: [{name, label, points, max, reason}], capped
    (only when fit 0 capped the recommendation)}), total, recommendation, decision
    (latest {decision, by, at, why, score} or None), decisions (all, oldest first),
    status (bid status or None).
    """
    ids = [get_account(session, account).id] if account else None
    pks = open_competition_ids(
        session, today, show=show, account_ids=ids, include_closed=include_closed, rules=rules
    )
    out = bid_rows(session, today, pks, rules=rules)
    # in profile first; the learned score only reorders equal totals
    out.sort(
        key=lambda r: (
            not r["fit"]["shown"],
            -r["total"],
            -((r["fit"]["learned"] or {}).get("score") or 0),
            r["deadline"] or dt.date.max,
            r["notice_pk"],
        )
    )
    return out


def bid_rows(
    session: Session, today: dt.date, notice_pks: list[int], *, rules: Rules
) -> list[dict[str, Any]]:
    """Scored rows (as ``list_bids``) for the given competitions, in the given order, with no
    relevance or deadline filter (for paged lists that select their own notices)."""
    scoring = rules.scoring_rules()
    ctx = bid_context(session, notice_pks, rules.profile)
    notices = {n.id: n for n in load_notices(session, notice_pks)}
    return [bid_row(notices[pk], today, ctx, scoring) for pk in notice_pks if pk in notices]


def bid_detail(
    session: Session, notice: Notice | int | str, today: dt.date, *, rules: Rules
) -> dict[str, Any]:
    """The bid page of one competition: its ``list_bids`` row (the same value, score,
    recommendation and decision as the list), the lots as the notice says them
    (``tracker.bids.competitions.competition_lots``) and the decision history, oldest first,
    each decision with who, when, what, why, the score it was taken on and the decision
    it replaced. NotFoundError for an unknown notice, UserError for one that is not a
    competition."""
    n = competition_notice(session, notice, "the bid page is for competitions only")
    row = bid_rows(session, today, [n.id], rules=rules)[0]
    return {
        **row,
        "competition_lots": competition_lots(session, n.id),
        "history": list(reversed(row["decisions"])),
    }
