"""What a scored bid row reads besides the notice, in a few chunked queries: the notices
themselves without ORM objects (``load_notices``), their accounts, opportunities,
activities, decisions, statuses and assessments (``bid_context``), the tenders received
last time (``tenders_last_time``), and the lookup of a notice by any of its ids.

Decisions are shown as plain records of their history (``decision_dicts``): who, when,
what, why, the score it was taken on and the decision it replaced.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
)
from tracker.enums import Incumbent, LinkStatus
from tracker.errors import NotFoundError, UserError
from tracker.notices.subtypes import COMPETITION_SUBTYPES
from tracker.opportunities.relevance import LearnedModel, Profile, stored_model

CHUNK = 2000  # ids per IN (...) query


def chunks(ids: Sequence[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """``ids`` in slices of at most ``size`` (one ``IN`` query each)."""
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


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


def load_notices(session: Session, pks: list[int]) -> list[LoadedNotice]:
    """The notices with their lots, award criteria and buyers, by primary key (id order)."""
    out: list[LoadedNotice] = []
    for chunk in chunks(pks, 500):
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


# (account name, tier, buyer type, link status) of a notice's links, rejected ones left out
LinkFacts = tuple[str, str | None, str | None, str]
Link = tuple[str, str | None, str | None]  # account name, tier, buyer type
TIER_ORDER = ("star", "strategic", "status", "streamline")


@dataclass
class BidContext:
    """Accounts, opportunities, activities, decisions, statuses and assessments of a set of
    notices: what ``tracker.bids.selection.bid_row`` needs besides the notice."""

    links: dict[int, list[LinkFacts]] = field(default_factory=lambda: defaultdict(list))
    opps: dict[int, list[Opportunity]] = field(default_factory=lambda: defaultdict(list))
    decisions: dict[str, list[BidDecision]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, BidStatus] = field(default_factory=dict)
    notice_ids: dict[int, str] = field(default_factory=dict)
    activities: dict[str, list[dt.date]] = field(default_factory=lambda: defaultdict(list))
    assessments: dict[str, BidAssessment] = field(default_factory=dict)
    last_tenders: dict[int, dict[str, Any]] = field(default_factory=dict)
    model: LearnedModel | None = None
    profile_for: Callable[[str | None], Profile] | None = None

    def profile(self, account: str | None, default: Profile) -> Profile:
        """The capability profile in force for ``account`` (``default`` without rules)."""
        return self.profile_for(account) if self.profile_for is not None else default

    def tenders_last_time(self, opps: Sequence[Opportunity]) -> dict[str, Any] | None:
        """The tenders received last time of the first re-tendered contract that says."""
        last = [
            self.last_tenders[o.contract_id] for o in opps if o.contract_id in self.last_tenders
        ]
        return last[0] if last else None

    def influence_activities(self, opps: Sequence[Opportunity], closed: dt.date) -> int:
        """Influence work: activities recorded on the opportunities up to ``closed`` (the
        day the competition appeared)."""
        return sum(
            1
            for o in opps
            for day in self.activities.get(o.key, ())
            if day is None or day <= closed
        )


def _read_links(session: Session, ctx: BidContext, chunk: list[int]) -> None:
    for pk, name, tier, buyer_type, status in session.execute(
        select(
            NoticeLink.notice_pk,
            Account.name,
            Account.tier,
            Account.buyer_type,
            NoticeLink.status,
        )
        .join(Account, Account.id == NoticeLink.account_id)
        .where(NoticeLink.notice_pk.in_(chunk), NoticeLink.status != LinkStatus.REJECTED)
        .order_by(NoticeLink.notice_pk, Account.name)
    ):
        status = LinkStatus.CONFIRMED if status == LinkStatus.CONFIRMED else LinkStatus.SUGGESTED
        if (name, tier, buyer_type, status) not in ctx.links[pk]:
            ctx.links[pk].append((name, tier, buyer_type, status))


def _read_by_notice_id(session: Session, ctx: BidContext) -> None:
    """Decisions and assessments, over every version of the notices (by eForms id)."""
    ids = sorted(set(ctx.notice_ids.values()))
    for chunk in chunks(ids):
        for nid, d in session.execute(
            select(Notice.notice_id, BidDecision)
            .join(BidDecision, BidDecision.notice_pk == Notice.id)
            .where(Notice.notice_id.in_(chunk))
            .order_by(BidDecision.decided_at, BidDecision.id)
        ):
            ctx.decisions[nid].append(d)
        for nid, a in session.execute(
            select(Notice.notice_id, BidAssessment)
            .join(BidAssessment, BidAssessment.notice_pk == Notice.id)
            .where(Notice.notice_id.in_(chunk))
            .order_by(BidAssessment.updated_at, BidAssessment.id)
        ):
            ctx.assessments[nid] = a


def bid_context(
    session: Session, pks: list[int], profile_for: Callable[[str | None], Profile] | None = None
) -> BidContext:
    """Accounts, opportunities, activities, decisions and statuses of the given notices
    (what ``bid_row`` needs besides the notice), in a few chunked queries; ``profile_for``
    gives an account's capability profile (``Rules.profile``)."""
    ctx = BidContext(profile_for=profile_for)
    for chunk in chunks(pks):
        _read_links(session, ctx, chunk)
        for o in session.scalars(
            select(Opportunity).where(Opportunity.competition_notice_pk.in_(chunk))
        ):
            ctx.opps[o.competition_notice_pk or 0].append(o)
        for s in session.scalars(select(BidStatus).where(BidStatus.notice_pk.in_(chunk))):
            ctx.statuses[s.notice_pk] = s
        ctx.notice_ids.update(
            session.execute(select(Notice.id, Notice.notice_id).where(Notice.id.in_(chunk))).all()
        )
    _read_by_notice_id(session, ctx)
    keys = sorted({o.key for os_ in ctx.opps.values() for o in os_})
    for chunk in chunks(keys):
        for key, day in session.execute(
            select(Activity.opportunity_key, Activity.happened_on).where(
                Activity.opportunity_key.in_(chunk)
            )
        ):
            if key is not None:
                ctx.activities[key].append(day)
    contract_ids = sorted(
        {o.contract_id for os_ in ctx.opps.values() for o in os_ if o.contract_id}
    )
    ctx.last_tenders = tenders_last_time(session, contract_ids)
    ctx.model = stored_model(session)
    return ctx


def tenders_last_time(session: Session, contract_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per contract: the number of tenders its competition received (BT-759 of its result
    notice: the lot's result, else the largest over the notice's results), with the
    notice's date; contracts whose result notice does not say are left out."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(contract_ids):
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


# --------------------------------------------------------------------------- a row's links
# Accounts and incumbents of one competition, from what ``bid_context`` read.


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


@dataclass(frozen=True)
class Linked:
    """A competition's account links: the best-tiered confirmed link gives the account,
    its tier and buyer type; without one, the best suggested link gives a reduced tier."""

    links: list[Link]
    suggested: list[Link]
    account: str | None
    tier: str | None
    suggested_account: str | None
    suggested_tier: str | None
    buyer_type: str | None


def linked_accounts(all_links: list[LinkFacts]) -> Linked:
    links, suggested = _split_links(all_links)
    account, tier, buyer_type = _best_link(links)
    s_account, s_tier, s_buyer_type = _best_link(suggested) if not links else (None, None, None)
    return Linked(links, suggested, account, tier, s_account, s_tier, buyer_type or s_buyer_type)


def incumbency_of(opps: Sequence[Any]) -> tuple[Incumbent, list[str]]:
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


def assessment_dict(a: Any) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "capacity": a.capacity,
        "delivery_risk": a.delivery_risk,
        "reason": a.reason,
        "by": a.updated_by,
        "at": a.updated_at.isoformat() if a.updated_at else None,
    }
