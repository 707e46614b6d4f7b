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

``record_decision(session, notice, decision, who, why)`` keeps every decision with the
score it was taken on; the latest decision is the one in force, and a later decision
changes it without erasing the earlier ones (``decision_history``, ``bid_detail``: who,
when, what, why, and what it replaced). The score's recommendation is advice, never a
decision: no decision exists until someone records one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tracker.accounts.keyaccounts import get_account
from tracker.bids.competitions import competition_lots, competition_value
from tracker.bids.scoring import (
    CAPACITY_FACTOR,
    RISK_FACTOR,
    BidFacts,
    ScoringRules,
    price_weight_percent,
    score_bid,
)
from tracker.db.models import (
    Account,
    Activity,
    AwardCriterion,
    BidAssessment,
    BidDecision,
    BidStatus,
    Contract,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Opportunity,
    User,
    utcnow,
)
from tracker.errors import NotFoundError, PermissionDeniedError, UserError
from tracker.notices.pretender import OSLO, QUALIFICATION_SUBTYPES
from tracker.notices.subtypes import COMPETITION_SUBTYPES, PLACEHOLDER_YEAR
from tracker.opportunities.drafts import NOT_A_CALL, pretender_readings
from tracker.opportunities.profile import ItemText, compose_item
from tracker.opportunities.relevance import LearnedModel, relevance, stored_model, train_model
from tracker.rules import Rules, load_rules
from tracker.users import can_decide_bids, can_set_bid_status

DECISIONS = ("bid", "no-bid")
CAPACITIES = tuple(CAPACITY_FACTOR)  # available|stretched|none
# eForms selection-criterion codes (BT-747), for criteria that carry no name of their own.
SELECTION_TYPES = {
    "sui-act": "Egnethet (registrering, autorisasjon)",
    "ef-stand": "Økonomisk og finansiell kapasitet",
    "tp-abil": "Tekniske og faglige kvalifikasjoner",
    "other": "Andre krav",
}
RISKS = tuple(RISK_FACTOR)  # low|medium|high
BID_STATUSES = ("qualifying", "bidding", "submitted", "won", "lost")
TIER_ORDER = ("star", "strategic", "status", "streamline")
NO_DEADLINE_DAYS = 60  # a competition without a usable deadline counts as open this long
LOOKBACK_DAYS = 400  # competitions issued earlier than this are not considered open


def doffin_url(notice: Notice | LoadedNotice) -> str | None:
    """The public Doffin page of a notice fetched from Doffin."""
    if notice.source == "doffin" and notice.source_id:
        return f"https://doffin.no/notices/{notice.source_id}"
    return None


def _lot_criteria(lot: Lot | LoadedLot) -> list[tuple[str | None, float | None]]:
    out = []
    for c in lot.award_criteria:
        weight = c.weight
        if (c.weight_code or "").startswith("ord"):
            weight = None  # order of importance, not a weight
        out.append((c.type, weight))
    return out


def _criterion(c: Any) -> dict[str, Any]:
    return {
        "type": c.type,
        "name": c.name,
        "weight": c.weight,
        "weight_code": c.weight_code,
    }


def labelled_criterion(c: dict[str, Any]) -> dict[str, Any]:
    """A selection criterion with a ``label``: its name, else the name of its type."""
    return {**c, "label": c.get("name") or SELECTION_TYPES.get(c.get("type") or "", c.get("type"))}


def _deadline_at(
    lots: Sequence[Lot | LoadedLot], today: dt.date, subtype: str | None = None
) -> tuple[dt.datetime | None, bool]:
    """Earliest deadline today or later over the lots (else the latest past one) and
    whether a placeholder deadline (year 2090+) was seen. A qualification system
    (subtype 15) with no submission deadline takes applications until the end of its
    duration (BT-537): that day is its deadline."""
    placeholder = False
    real: list[dt.datetime] = []
    for lot in lots:
        d = lot.submission_deadline
        if d is None:
            continue
        if d.year >= PLACEHOLDER_YEAR:
            placeholder = True
            continue
        real.append(d)
    if not real and subtype in QUALIFICATION_SUBTYPES:
        ends = [e for e in (getattr(lot, "end_date", None) for lot in lots) if e is not None]
        if ends and max(ends).year < PLACEHOLDER_YEAR:
            last = max(ends)
            real.append(dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=OSLO))
    future = [d for d in real if d.date() >= today]
    if future:
        return min(future), placeholder
    return (max(real) if real else None), placeholder


def _is_open(n: Notice | LoadedNotice, deadline: dt.datetime | None, today: dt.date) -> bool:
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


def bid_context(session: Session, pks: list[int]) -> dict[str, Any]:
    """Accounts, opportunities, activities, decisions and statuses of the given notices
    (what ``bid_row`` needs besides the notice), in a few chunked queries."""
    links: dict[int, list[tuple[str, str | None, str | None, str]]] = defaultdict(list)
    opps: dict[int, list[Opportunity]] = defaultdict(list)
    decisions: dict[str, list[BidDecision]] = defaultdict(list)
    statuses: dict[int, BidStatus] = {}
    notice_ids: dict[int, str] = {}
    for i in range(0, len(pks), 2000):
        chunk = pks[i : i + 2000]
        for pk, name, tier, buyer_type, status in session.execute(
            select(
                NoticeLink.notice_pk,
                Account.name,
                Account.tier,
                Account.buyer_type,
                NoticeLink.status,
            )
            .join(Account, Account.id == NoticeLink.account_id)
            .where(NoticeLink.notice_pk.in_(chunk), NoticeLink.status != "rejected")
            .order_by(NoticeLink.notice_pk, Account.name)
        ):
            status = "confirmed" if status == "confirmed" else "suggested"
            if (name, tier, buyer_type, status) not in links[pk]:
                links[pk].append((name, tier, buyer_type, status))
        for o in session.scalars(
            select(Opportunity).where(Opportunity.competition_notice_pk.in_(chunk))
        ):
            opps[o.competition_notice_pk or 0].append(o)
        for s in session.scalars(select(BidStatus).where(BidStatus.notice_pk.in_(chunk))):
            statuses[s.notice_pk] = s
        notice_ids.update(
            session.execute(select(Notice.id, Notice.notice_id).where(Notice.id.in_(chunk))).all()
        )
    ids = sorted(set(notice_ids.values()))
    for i in range(0, len(ids), 2000):
        for nid, d in session.execute(
            select(Notice.notice_id, BidDecision)
            .join(BidDecision, BidDecision.notice_pk == Notice.id)
            .where(Notice.notice_id.in_(ids[i : i + 2000]))
            .order_by(BidDecision.decided_at, BidDecision.id)
        ):
            decisions[nid].append(d)
    assessments: dict[str, BidAssessment] = {}
    ids_all = sorted(set(notice_ids.values()))
    for i in range(0, len(ids_all), 2000):
        for nid, a in session.execute(
            select(Notice.notice_id, BidAssessment)
            .join(BidAssessment, BidAssessment.notice_pk == Notice.id)
            .where(Notice.notice_id.in_(ids_all[i : i + 2000]))
            .order_by(BidAssessment.updated_at, BidAssessment.id)
        ):
            assessments[nid] = a
    keys = sorted({o.key for os_ in opps.values() for o in os_})
    activities: dict[str, list[dt.date]] = defaultdict(list)
    for i in range(0, len(keys), 2000):
        for key, day in session.execute(
            select(Activity.opportunity_key, Activity.happened_on).where(
                Activity.opportunity_key.in_(keys[i : i + 2000])
            )
        ):
            activities[key].append(day)
    contract_ids = sorted({o.contract_id for os_ in opps.values() for o in os_ if o.contract_id})
    return {
        "links": links,
        "opps": opps,
        "decisions": decisions,
        "statuses": statuses,
        "notice_ids": notice_ids,
        "activities": activities,
        "assessments": assessments,
        "last_tenders": tenders_last_time(session, contract_ids),
        "model": stored_model(session),
    }


def tenders_last_time(session: Session, contract_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per contract: the number of tenders its competition received (BT-759 of its result
    notice: the lot's result, else the largest over the notice's results), with the
    notice's date; contracts whose result notice does not say are left out."""
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(contract_ids), 2000):
        chunk = contract_ids[i : i + 2000]
        rows = session.execute(
            select(Contract.id, Contract.title, Contract.result_pk, Contract.notice_pk)
            .where(Contract.id.in_(chunk))
        ).all()  # fmt: skip
        notice_pks = sorted({r.notice_pk for r in rows if r.notice_pk})
        by_result: dict[int, int | None] = {}
        by_notice: dict[int, list[int]] = defaultdict(list)
        issued: dict[int, dt.date | None] = {}
        if notice_pks:
            for res_id, notice_pk, n, day in session.execute(
                select(LotResult.id, LotResult.notice_pk, LotResult.tenders_received,
                       Notice.issue_date)
                .join(Notice, Notice.id == LotResult.notice_pk)
                .where(LotResult.notice_pk.in_(notice_pks))
            ):  # fmt: skip
                by_result[res_id] = n
                issued[notice_pk] = day
                if n is not None:
                    by_notice[notice_pk].append(n)
        for r in rows:
            n = by_result.get(r.result_pk) if r.result_pk else None
            if n is None and by_notice.get(r.notice_pk or -1):
                n = max(by_notice[r.notice_pk])
            if n is not None:
                out[r.id] = {"tenders": n, "contract": r.title, "awarded": issued.get(r.notice_pk)}
    return out


_context = bid_context  # earlier name, kept for callers


def _decision_dict(d: BidDecision, before: BidDecision | None = None) -> dict[str, Any]:
    """A decision as a plain dict; ``changed_from`` is the decision it replaced (None for
    the first, or when it confirms the one before), ``recommendation`` the score's
    recommendation when it was taken (kept apart: a recommendation is no decision)."""
    return {
        "decision": d.decision,
        "by": d.decided_by,
        "at": d.decided_at.isoformat() if d.decided_at else None,
        "why": d.why,
        "score": d.score,
        "recommendation": (d.score_detail or {}).get("recommendation"),
        "changed_from": before.decision
        if before is not None and before.decision != d.decision
        else None,
        "revision": before is not None,
    }


def decision_dicts(decisions: Sequence[BidDecision]) -> list[dict[str, Any]]:
    """Every decision, oldest first, each with the one it replaced (its history)."""
    return [_decision_dict(d, decisions[i - 1] if i else None) for i, d in enumerate(decisions)]


def bid_row(
    n: Notice | LoadedNotice,
    today: dt.date,
    ctx: dict[str, Any],
    scoring: ScoringRules,
) -> dict[str, Any]:
    """One competition as a plain dict with its score (see ``list_bids`` for the keys)."""
    lots = list(n.lots)
    deadline_at, placeholder = _deadline_at(lots, today, n.subtype)
    deadline = deadline_at.date() if deadline_at else None
    real_deadline = any(
        lot.submission_deadline and lot.submission_deadline.year < PLACEHOLDER_YEAR for lot in lots
    )
    deadline_source = (
        None
        if deadline is None
        else "tender deadline (BT-131)"
        if real_deadline
        else "the qualification system ends (BT-537): applications until then"
    )
    item = profile_item(n, lots)
    cpvs = item.cpvs
    # One value per competition, with its kind and the buyer's words (tracker.bids.competitions)
    bid_value = competition_value(n, lots)
    value = bid_value["amount"]
    lot_rows = []
    shares = []
    for lot in lots:
        share = price_weight_percent(_lot_criteria(lot))
        if share is not None:
            shares.append(share)
        lot_deadline = lot.submission_deadline
        lot_rows.append(
            {
                "lot_id": lot.lot_id,
                "title": lot.title,
                "deadline": lot_deadline.date()
                if lot_deadline and lot_deadline.year < PLACEHOLDER_YEAR
                else None,
                "value": float(lot.estimated_value)
                if lot.estimated_value is not None
                else float(lot.framework_max_value)
                if lot.framework_max_value is not None
                else None,
                "value_kind": "estimated"
                if lot.estimated_value is not None
                else "framework_max"
                if lot.framework_max_value is not None
                else None,
                "currency": lot.currency or n.currency,
                "price_weight": share,
                "criteria": [_criterion(c) for c in lot.award_criteria],
                "documents_url": lot.documents_url,
            }
        )
    price = max(shares) if shares else None
    all_links = ctx["links"].get(n.id, [])
    # Only confirmed links give the account and its tier; a suggested link gives at most
    # a reduced, labelled tier component (see tracker.bids.scoring).
    links = [(name, t, bt) for name, t, bt, st in all_links if st == "confirmed"]
    confirmed = {name for name, _, _ in links}
    suggested = [
        (name, t, bt)
        for name, t, bt, st in all_links
        if st != "confirmed" and name not in confirmed
    ]
    account, tier, buyer_type = _best_link(links)
    s_account, s_tier, s_buyer_type = _best_link(suggested) if not links else (None, None, None)
    opps = ctx["opps"].get(n.id, [])
    incumbents = [((o.timeline or {}).get("extra") or {}) for o in opps]
    who = "unknown"
    names: list[str] = []
    for extra in incumbents:
        names += extra.get("incumbents") or []
        if extra.get("incumbent") == "us":
            who = "us"
        elif extra.get("incumbent") == "competitor" and who == "unknown":
            who = "competitor"
    # Influence work: activities on the opportunity up to the day the competition appeared.
    closed = n.issue_date or n.publication_date or today
    activities = sum(
        1 for o in opps for day in ctx["activities"].get(o.key, ()) if day is None or day <= closed
    )
    nid = ctx["notice_ids"].get(n.id, n.notice_id)
    assessment = ctx.get("assessments", {}).get(nid)
    profile_for = ctx.get("profile_for")
    profile = profile_for(account) if profile_for is not None else scoring.the_profile
    facts = BidFacts(
        profile=profile,
        today=today,
        tier=tier,
        account=account,
        suggested_account=s_account,
        suggested_tier=s_tier,
        cpv_codes=cpvs,
        text=item.text,
        title=item.title,
        main_cpv=item.main_cpv,
        capacity=assessment.capacity if assessment else None,
        delivery_risk=assessment.delivery_risk if assessment else None,
        assessment_reason=assessment.reason if assessment else None,
        value=value,
        value_kind=bid_value["kind"],
        currency=bid_value["currency"],
        value_words=tuple(w["quote"] for w in bid_value["words"] if bid_value["words_differ"]),
        deadline=deadline,
        price_weight=price,
        incumbent=who,
        incumbent_name=", ".join(dict.fromkeys(names)) or None,
        buyer_type=buyer_type or s_buyer_type,
        influence_activities=activities,
    )
    score = score_bid(facts, scoring)
    rel = relevance(profile, item, ctx.get("model"))
    decisions = ctx["decisions"].get(nid, [])
    last = [
        ctx.get("last_tenders", {})[o.contract_id]
        for o in opps
        if o.contract_id in ctx.get("last_tenders", {})
    ]
    criteria_sel = [
        labelled_criterion(c)
        for lot in lots
        for c in (getattr(lot, "selection_criteria", None) or [])
    ]
    status = ctx["statuses"].get(n.id)
    tracked = bool(decisions) or status is not None
    relevance_kinds = "+".join(
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
        "value": value,
        "currency": bid_value["currency"] or n.currency,
        "value_kind": bid_value["kind"],
        "value_label": bid_value["label"],
        "value_detail": bid_value,
        "main_cpv": n.main_cpv,
        "cpv_codes": cpvs,
        "lots": lot_rows,
        "price_weight": price,
        "relevance": relevance_kinds,
        "fit": rel,
        "selection_criteria": list(
            {(c.get("type"), c.get("name"), c.get("description")): c for c in criteria_sel}.values()
        ),  # fmt: skip
        "tenders_last_time": last[0] if last else None,
        "assessment": {
            "capacity": assessment.capacity,
            "delivery_risk": assessment.delivery_risk,
            "reason": assessment.reason,
            "by": assessment.updated_by,
            "at": assessment.updated_at.isoformat() if assessment.updated_at else None,
        }
        if assessment
        else None,
        "incumbent": who,
        "incumbents": list(dict.fromkeys(names)),
        "opportunity_keys": [o.key for o in opps],
        "influence_activities": activities,
        "score": score,
        "total": score["total"],
        "recommendation": score["recommendation"],
        "decision": decision_dicts(decisions)[-1] if decisions else None,
        "decisions": decision_dicts(decisions),
        "status": status.status if status else None,
    }


@dataclass(slots=True)
class LoadedLot:
    """The lot fields ``bid_row`` reads, with the lot's award criteria (rows with type,
    name, weight, weight_code), read without ORM objects."""

    id: int
    lot_id: str
    title: str | None
    description: str | None
    cpv_codes: list[str] | None
    estimated_value: Decimal | None
    submission_deadline: dt.datetime | None
    end_date: dt.date | None
    documents_url: str | None
    selection_criteria: list[Any] | None
    framework_max_value: Decimal | None
    currency: str | None
    note: str | None
    options_description: str | None
    award_criteria: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class LoadedNotice:
    """The notice fields ``bid_row`` and ``list_bids`` read, with lots and buyers (rows
    with a name), in the order of the ``Notice`` relationships; read without ORM objects
    (a page of scored competitions spent a quarter of its time building them)."""

    id: int
    source: str
    source_id: str | None
    notice_id: str
    version: str
    procedure_id: str | None
    subtype: str | None
    issue_date: dt.date | None
    publication_date: dt.date | None
    title: str | None
    description: str | None
    procedure_type: str | None
    main_cpv: str | None
    cpv_codes: list[str] | None
    estimated_value: Decimal | None
    currency: str | None
    documents_url: str | None
    framework_max_value: Decimal | None
    note: str | None
    lots: list[LoadedLot] = field(default_factory=list)
    buyers: list[Any] = field(default_factory=list)


_NOTICE_FIELDS = tuple(f for f in LoadedNotice.__slots__ if f not in ("lots", "buyers"))
_LOT_FIELDS = tuple(f for f in LoadedLot.__slots__ if f != "award_criteria")


def _load(session: Session, pks: list[int]) -> list[LoadedNotice]:
    """The notices with their lots, award criteria and buyers, by primary key (id order)."""
    out: list[LoadedNotice] = []
    for i in range(0, len(pks), 500):
        chunk = pks[i : i + 500]
        notices = {
            row.id: LoadedNotice(*row)
            for row in session.execute(
                select(*(getattr(Notice, f) for f in _NOTICE_FIELDS))
                .where(Notice.id.in_(chunk))
                .order_by(Notice.id)
            )
        }
        if not notices:
            continue
        lots: dict[int, LoadedLot] = {}
        for row in session.execute(
            select(Lot.notice_pk, *(getattr(Lot, f) for f in _LOT_FIELDS))
            .where(Lot.notice_pk.in_(chunk))
            .order_by(Lot.notice_pk, Lot.position, Lot.id)
        ):
            lot = LoadedLot(*row[1:])
            lots[lot.id] = lot
            notices[row.notice_pk].lots.append(lot)
        if lots:
            for c in session.execute(
                select(
                    AwardCriterion.lot_pk,
                    AwardCriterion.type,
                    AwardCriterion.name,
                    AwardCriterion.weight,
                    AwardCriterion.weight_code,
                )
                .where(AwardCriterion.lot_pk.in_(list(lots)))
                .order_by(AwardCriterion.lot_pk, AwardCriterion.position, AwardCriterion.id)
            ):
                lots[c.lot_pk].award_criteria.append(c)
        for b in session.execute(
            select(NoticeBuyer.notice_pk, NoticeBuyer.name)
            .where(NoticeBuyer.notice_pk.in_(chunk))
            .order_by(NoticeBuyer.notice_pk, NoticeBuyer.position, NoticeBuyer.id)
        ):
            notices[b.notice_pk].buyers.append(b)
        out += notices.values()
    return out


SHOWS = ("relevant", "accounts", "all")


def open_competition_ids(
    session: Session,
    today: dt.date,
    *,
    show: str = "relevant",
    account_ids: list[int] | None = None,
    include_closed: bool = False,
    rules: Rules | None = None,
) -> list[int]:
    """THE selection of open, relevant competitions (the ``tracker bids`` command and the
    bid pages both use it): primary keys, those in our capability profile first, then
    soonest deadline first (no deadline last).

    A competition is every latest, non-test notice of subtype 10–24, N16, E3 or CEI issued
    (issue date, else publication date) in the last ``LOOKBACK_DAYS`` days up to today,
    except a PIN used as a call whose content is a market dialogue or an announcement
    (``tracker.notices.pretender``: it is an opportunity to influence, not to bid); it is open when
    its earliest lot deadline (placeholder years 2090+ ignored) is today or later or, with
    no usable deadline, when it was issued in the last ``NO_DEADLINE_DAYS`` days
    (``include_closed`` keeps the closed ones too). ``show``: ``relevant`` (in the
    capability profile of ``tracker.opportunities.relevance``, the global one or that of an account
    it is
    linked to, or flagged by the team's learned model, or tracked: a decision or bid status
    is recorded), ``accounts`` (linked to an account, in profile or not) or ``all``.
    ``account_ids``: only competitions linked to those accounts (link not rejected).
    """
    if show not in SHOWS:
        raise UserError(f"show: {show!r} is not one of {', '.join(SHOWS)}")
    rules = rules or load_rules()
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
    if not include_closed:  # a cheap superset of the open ones; _is_open decides
        midnight = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC) - dt.timedelta(days=1)
        q = q.where(
            or_(
                Notice.id.in_(select(Lot.notice_pk).where(Lot.submission_deadline >= midnight)),
                issued >= today - dt.timedelta(days=NO_DEADLINE_DAYS),
            )
        )
    if account_ids is not None or show == "accounts":
        link = select(NoticeLink.notice_pk).where(NoticeLink.status != "rejected")
        if account_ids is not None:
            link = link.where(NoticeLink.account_id.in_(account_ids))
        q = q.where(Notice.id.in_(link))
    candidates = session.execute(q).all()
    readings = pretender_readings(session, candidates)
    candidates = [
        c for c in candidates if c.id not in readings or readings[c.id].kind not in NOT_A_CALL
    ]
    pks = [c.id for c in candidates]
    lots: dict[int, list[Any]] = defaultdict(list)
    linked: dict[int, set[str]] = defaultdict(set)
    status_pks: set[int] = set()
    need_relevance = show == "relevant"
    for i in range(0, len(pks), 2000):
        chunk = pks[i : i + 2000]
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
            .where(NoticeLink.notice_pk.in_(chunk), NoticeLink.status != "rejected")
        ):
            linked[pk].add(name)
        if need_relevance:
            status_pks.update(
                session.scalars(select(BidStatus.notice_pk).where(BidStatus.notice_pk.in_(chunk)))
            )
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
        deadline, _ = _deadline_at(lots[c.id], today, c.subtype)
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
    rules: Rules | None = None,
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
    rules = rules or load_rules()
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
    session: Session, today: dt.date, notice_pks: list[int], *, rules: Rules | None = None
) -> list[dict[str, Any]]:
    """Scored rows (as ``list_bids``) for the given competitions, in the given order, with no
    relevance or deadline filter (for paged lists that select their own notices)."""
    rules = rules or load_rules()
    scoring = rules.scoring_rules()
    ctx = bid_context(session, notice_pks)
    ctx["profile_for"] = rules.profile
    notices = {n.id: n for n in _load(session, notice_pks)}
    return [bid_row(notices[pk], today, ctx, scoring) for pk in notice_pks if pk in notices]


def resolve_notice(session: Session, notice: Notice | int | str) -> Notice:
    """A notice by object, primary key, Doffin/TED id or eForms notice id (latest version)."""
    if isinstance(notice, Notice):
        return notice
    found: Notice | None = None
    if isinstance(notice, int) or (isinstance(notice, str) and notice.strip().isdigit()):
        found = session.get(Notice, int(notice))
    else:
        ref = notice.strip()
        for col in (Notice.source_id, Notice.notice_id):
            found = session.scalars(
                select(Notice).where(col == ref).order_by(Notice.is_latest.desc(), Notice.id.desc())
            ).first()
            if found is not None:
                break
    if found is None:
        raise NotFoundError(f"no notice {notice!r} (give a notice id, Doffin id or database id)")
    return found


MAX_WHY = 2000  # characters of a decision's reason (a paragraph, not a document)


def normalise_decision(decision: str) -> str:
    """``bid`` or ``no-bid`` (``no_bid``, ``nobid``, ``no bid`` accepted); else UserError."""
    d = (decision or "").strip().lower().replace("_", "-").replace(" ", "-")
    if d == "nobid":
        d = "no-bid"
    if d not in DECISIONS:
        raise UserError(f"decision: {decision!r} is not one of {', '.join(DECISIONS)}")
    return d


def record_decision(
    session: Session,
    notice: Notice | int | str,
    decision: str,
    who: str,
    why: str,
    *,
    today: dt.date | None = None,
    rules: Rules | None = None,
) -> BidDecision:
    """Record a bid/no-bid decision with the score it was taken on; every decision is kept.

    ``notice`` is a Notice, its primary key, Doffin id or eForms notice id. ``today`` is the
    day the score is computed for (default: the UTC date of the decision). Flushes.
    """
    d = normalise_decision(decision)
    who = (who or "").strip()
    why = (why or "").strip()
    if not who:
        raise UserError("who: say who decided")
    if not why:
        raise UserError("why: say why (it is kept with the decision)")
    if len(why) > MAX_WHY:
        raise UserError(f"why: at most {MAX_WHY} characters ({len(why)} given)")
    n = resolve_notice(session, notice)
    if n.subtype not in COMPETITION_SUBTYPES:
        raise UserError(
            f"notice {n.source_id or n.notice_id} is not a competition (subtype "
            f"{n.subtype or 'unknown'}): bid/no-bid is decided on competitions only"
        )
    now = utcnow()
    rules = rules or load_rules()
    ctx = bid_context(session, [n.id])
    ctx["profile_for"] = rules.profile
    row = bid_row(_load(session, [n.id])[0], today or now.date(), ctx, rules.scoring_rules())
    rec = BidDecision(
        notice_pk=n.id,
        decision=d,
        decided_by=who[:320],
        decided_at=now,
        why=why,
        score=row["total"],
        score_detail=row["score"],
    )
    session.add(rec)
    session.flush()
    train_model(session)  # every decision teaches the installation's relevance model
    return rec


def competition_notice(session: Session, notice: Notice | int | str, why: str) -> Notice:
    """The notice (``resolve_notice``), or UserError when it is not a competition
    (subtypes 10–24, N16, E3, CEI)."""
    n = resolve_notice(session, notice)
    if n.subtype not in COMPETITION_SUBTYPES:
        raise UserError(
            f"notice {n.source_id or n.notice_id} is not a competition (subtype "
            f"{n.subtype or 'unknown'}): {why}"
        )
    return n


def set_bid_status(
    session: Session, notice: Notice | int | str, status: str, who: str
) -> BidStatus:
    """Set our bid status on a competition (qualifying, bidding, submitted, won, lost);
    UserError for a notice that is not a competition (subtypes 10–24, N16, E3, CEI)."""
    if status not in BID_STATUSES:
        raise UserError(f"status: {status!r} is not one of {', '.join(BID_STATUSES)}")
    n = competition_notice(session, notice, "a bid status is kept for competitions only")
    row = session.scalars(select(BidStatus).where(BidStatus.notice_pk == n.id)).first()
    if row is None:
        row = BidStatus(notice_pk=n.id, status=status)
        session.add(row)
    row.status = status
    row.updated_by = who
    row.updated_at = utcnow()
    session.flush()
    return row


def decision_history(session: Session, notice: Notice | int | str) -> list[dict[str, Any]]:
    """Every decision on a notice (all its versions), oldest first."""
    n = resolve_notice(session, notice)
    rows = session.scalars(
        select(BidDecision)
        .join(Notice, Notice.id == BidDecision.notice_pk)
        .where(Notice.notice_id == n.notice_id)
        .order_by(BidDecision.decided_at, BidDecision.id)
    )
    return decision_dicts(list(rows))


def bid_detail(
    session: Session, notice: Notice | int | str, today: dt.date, *, rules: Rules | None = None
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


def set_assessment(
    session: Session,
    notice: Notice | int | str,
    who: str,
    *,
    capacity: str | None,
    delivery_risk: str | None,
    reason: str,
) -> BidAssessment:
    """Record the bid team's qualification of a competition: our capacity (available,
    stretched, none), the delivery risk (low, medium, high) and why. Both count in the bid
    score with the reason (``tracker.bids.scoring``). UserError for an unknown value, a missing
    reason or a notice that is not a competition. Flushes."""
    capacity = (capacity or "").strip().lower() or None
    delivery_risk = (delivery_risk or "").strip().lower() or None
    if capacity is not None and capacity not in CAPACITIES:
        raise UserError(f"capacity: {capacity!r} is not one of {', '.join(CAPACITIES)}")
    if delivery_risk is not None and delivery_risk not in RISKS:
        raise UserError(f"delivery_risk: {delivery_risk!r} is not one of {', '.join(RISKS)}")
    reason = (reason or "").strip()
    if not reason:
        raise UserError("reason: say why (it is shown with the score)")
    if len(reason) > 2000:
        raise UserError("reason: at most 2000 characters")
    n = competition_notice(session, notice, "capacity and risk are assessed for competitions only")
    row = session.scalars(select(BidAssessment).where(BidAssessment.notice_pk == n.id)).first()
    if row is None:
        row = BidAssessment(notice_pk=n.id)
        session.add(row)
    row.capacity, row.delivery_risk, row.reason = capacity, delivery_risk, reason
    row.updated_by, row.updated_at = who, utcnow()
    session.flush()
    return row


# --------------------------------------------------------------------------- writes by a user
# The permission check lives with the write (dashboards and CLI call these).


def set_bid_status_as(session: Session, user: User, notice_pk: int, status: str) -> BidStatus:
    """Record our bid status on a competition (bid team, director or admin only)."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not change bid statuses")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return set_bid_status(session, notice_pk, status, user.email)


def assess_bid_as(
    session: Session,
    user: User,
    notice_pk: int,
    capacity: str | None,
    delivery_risk: str | None,
    reason: str,
) -> BidAssessment:
    """Record the bid team's capacity and delivery-risk assessment of a competition (bid
    team, director or admin); it counts in the score with its reason."""
    if not can_set_bid_status(user):
        raise PermissionDeniedError(f"{user.email} ({user.role}) may not assess bids")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return set_assessment(
        session, notice_pk, user.email, capacity=capacity, delivery_risk=delivery_risk,
        reason=reason,
    )  # fmt: skip


def decide_bid_as(
    session: Session, user: User, notice_pk: int, decision: str, why: str, today: dt.date
) -> BidDecision:
    """Record a bid/no-bid decision (director or admin only) with the score of ``today``."""
    if not can_decide_bids(user):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not record bid decisions: director or admin only"
        )
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    return record_decision(session, notice_pk, decision, user.email, why, today=today)
