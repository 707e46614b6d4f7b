"""Likely bidders for a coming re-tender or an open competition.

Who is likely to bid: the incumbent (the suppliers of the contract being re-tendered),
then the suppliers that won at the same buyer in the same CPV class (the first four
digits of the main CPV) before, most wins first; with the number of tenders the last
competition received (BT-759 of its award notice). This is a hint from the public
record, not a list of who will bid: call-offs and contracts below the thresholds are
not published.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.bids.context import tenders_last_time
from tracker.db.models import Contract, ContractParty, Notice, NoticeBuyer, Opportunity
from tracker.market.common import awarded_contracts, chunks, our_orgnrs

CPV_PREFIX = 4
MAX_BIDDERS = 8


@dataclass(frozen=True)
class LikelyBidder:
    key: str
    name: str
    orgnr: str | None
    is_us: bool
    incumbent: bool
    wins: int  # wins at the buyer in the CPV class (the incumbent's current one included)
    last_win: dt.date | None


@dataclass(frozen=True)
class Bidders:
    contract_id: int | None
    buyer_keys: tuple[str, ...]
    cpv_class: str | None
    bidders: tuple[LikelyBidder, ...]
    tenders_last_time: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract_id": self.contract_id,
            "buyer_keys": list(self.buyer_keys),
            "cpv_class": self.cpv_class,
            "tenders_last_time": self.tenders_last_time,
            "bidders": [
                {
                    "key": b.key,
                    "name": b.name,
                    "orgnr": b.orgnr,
                    "us": b.is_us,
                    "incumbent": b.incumbent,
                    "wins": b.wins,
                    "last_win": b.last_win.isoformat() if b.last_win else None,
                }
                for b in self.bidders
            ],
        }


@dataclass(frozen=True)
class _Target:
    contract_id: int | None
    buyers: tuple[str, ...]
    cpv: str | None


def _cpv_class(cpv: str | None) -> str | None:
    digits = (cpv or "").split("-")[0]
    return digits[:CPV_PREFIX] if len(digits) >= CPV_PREFIX else None


def _past_winners(
    session: Session, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[str, str | None, str | None, int, dt.date | None]]]:
    """Per (buyer key, CPV class): (supplier key, name, orgnr, wins, last win)."""
    out: dict[tuple[str, str], list[Any]] = defaultdict(list)
    buyers = sorted({b for b, _ in pairs})
    if not buyers:
        return out
    buyer = ContractParty.__table__.alias("b")
    supplier = ContractParty.__table__.alias("s")
    award = func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date)
    for chunk in chunks(buyers, 500):
        rows = session.execute(
            select(
                buyer.c.party_key, Contract.main_cpv, supplier.c.party_key,
                func.max(supplier.c.name), func.max(supplier.c.orgnr),
                func.count(func.distinct(Contract.id)), func.max(award),
            )
            .select_from(buyer)
            .join(Contract, Contract.id == buyer.c.contract_id)
            .join(supplier, supplier.c.contract_id == Contract.id)
            .where(
                buyer.c.role == "buyer", buyer.c.party_key.in_(chunk),
                supplier.c.role == "supplier", awarded_contracts(),
            )
            .group_by(buyer.c.party_key, Contract.main_cpv, supplier.c.party_key)
        ).all()  # fmt: skip
        merged: dict[tuple[str, str, str], list[Any]] = {}
        for bkey, cpv, skey, name, orgnr, n, last in rows:
            cls = _cpv_class(cpv)
            if cls is None or (bkey, cls) not in pairs:
                continue
            m = merged.setdefault((bkey, cls, skey), [skey, name, orgnr, 0, None])
            m[3] += n
            if last is not None and (m[4] is None or last > m[4]):
                m[4] = last
        for (bkey, cls, _), m in merged.items():
            out[(bkey, cls)].append(tuple(m))
    return out


def _resolve(
    session: Session, targets: Mapping[Any, _Target], ours: frozenset[str]
) -> dict[Any, Bidders]:
    contract_ids = sorted({t.contract_id for t in targets.values() if t.contract_id})
    incumbents: dict[int, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for chunk in chunks(contract_ids):
        for cid, key, name, orgnr in session.execute(
            select(
                ContractParty.contract_id, ContractParty.party_key, ContractParty.name,
                ContractParty.orgnr,
            ).where(ContractParty.role == "supplier", ContractParty.contract_id.in_(chunk))
        ):  # fmt: skip
            incumbents[cid].append((key, name, orgnr))
    last = tenders_last_time(session, contract_ids)
    pairs = {
        (b, cls)
        for t in targets.values()
        if (cls := _cpv_class(t.cpv)) is not None
        for b in t.buyers
    }
    past = _past_winners(session, pairs)
    out: dict[Any, Bidders] = {}
    for ident, t in targets.items():
        cls = _cpv_class(t.cpv)
        seen: dict[str, LikelyBidder] = {}
        history: dict[str, list[Any]] = {}
        for b in t.buyers:
            for skey, name, orgnr, n, when in past.get((b, cls or ""), []):
                h = history.setdefault(skey, [name, orgnr, 0, None])
                h[2] += n
                if when is not None and (h[3] is None or when > h[3]):
                    h[3] = when
        for key, name, orgnr in incumbents.get(t.contract_id or -1, []):
            h = history.get(key, [name, orgnr, 0, None])
            seen[key] = LikelyBidder(
                key, name or orgnr or key, orgnr, bool(orgnr and orgnr in ours), True, h[2], h[3]
            )
        rest = sorted(
            ((k, h) for k, h in history.items() if k not in seen),
            key=lambda kh: (-kh[1][2], -(kh[1][3] or dt.date.min).toordinal(), kh[0]),
        )
        for key, (name, orgnr, n, when) in rest[: max(MAX_BIDDERS - len(seen), 0)]:
            seen[key] = LikelyBidder(
                key, name or orgnr or key, orgnr, bool(orgnr and orgnr in ours), False, n, when
            )
        previous = last.get(t.contract_id) if t.contract_id is not None else None
        tenders = previous["tenders"] if previous else None
        out[ident] = Bidders(t.contract_id, t.buyers, cls, tuple(seen.values()), tenders)
    return out


def _contract_targets(session: Session, contract_ids: list[int]) -> dict[int, _Target]:
    cpv: dict[int, str | None] = {}
    buyers: dict[int, list[str]] = defaultdict(list)
    for chunk in chunks(contract_ids):
        cpv.update(
            session.execute(
                select(Contract.id, Contract.main_cpv).where(Contract.id.in_(chunk))
            ).all()
        )
        for cid, key in session.execute(
            select(ContractParty.contract_id, ContractParty.party_key).where(
                ContractParty.role == "buyer", ContractParty.contract_id.in_(chunk)
            )
        ):
            buyers[cid].append(key)
    return {
        cid: _Target(cid, tuple(buyers[cid]), cpv.get(cid)) for cid in contract_ids if cid in cpv
    }


def for_contracts(
    session: Session, contract_ids: Iterable[int], ours: Iterable[str]
) -> dict[int, Bidders]:
    """Likely bidders for the re-tender of each contract."""
    ids = sorted({int(c) for c in contract_ids})
    return _resolve(session, _contract_targets(session, ids), our_orgnrs(ours))


def for_opportunities(
    session: Session, opportunities: Iterable[Mapping[str, Any]], ours: Iterable[str]
) -> dict[str, Bidders]:
    """Likely bidders per opportunity key (re-tenders: opportunities with a contract);
    ``opportunities`` are rows with a ``key`` (as the pages list them)."""
    keys = sorted({str(o["key"]) for o in opportunities if o.get("key")})
    keyed: dict[str, int] = {}
    for chunk in chunks(keys):
        for key, contract_id in session.execute(
            select(Opportunity.key, Opportunity.contract_id).where(
                Opportunity.key.in_(chunk), Opportunity.contract_id.is_not(None)
            )
        ):
            if contract_id is not None:
                keyed[key] = contract_id
    by_contract = for_contracts(session, keyed.values(), ours)
    return {k: by_contract[c] for k, c in keyed.items() if c in by_contract}


def for_competitions(
    session: Session, notice_pks: Iterable[int], ours: Iterable[str]
) -> dict[int, Bidders]:
    """Likely bidders per open competition (notice pk): the re-tendered contract's
    incumbent when an opportunity links the competition to one, and the buyer's past
    winners in the notice's CPV class."""
    pks = sorted({int(p) for p in notice_pks})
    targets: dict[int, _Target] = {}
    contract_of: dict[int, int] = {}
    for chunk in chunks(pks):
        for npk, cid in session.execute(
            select(Opportunity.competition_notice_pk, func.min(Opportunity.contract_id))
            .where(
                Opportunity.competition_notice_pk.in_(chunk), Opportunity.contract_id.is_not(None)
            )
            .group_by(Opportunity.competition_notice_pk)
        ):
            if npk is not None and cid is not None:
                contract_of[npk] = cid
    cpv: dict[int, str | None] = {}
    buyers: dict[int, list[str]] = defaultdict(list)
    for chunk in chunks(pks):
        cpv.update(
            session.execute(select(Notice.id, Notice.main_cpv).where(Notice.id.in_(chunk))).all()
        )
        for npk, orgnr in session.execute(
            select(NoticeBuyer.notice_pk, NoticeBuyer.orgnr).where(
                NoticeBuyer.notice_pk.in_(chunk), NoticeBuyer.orgnr.is_not(None)
            )
        ):
            if orgnr:
                buyers[npk].append(orgnr)
    for npk in pks:
        if npk in cpv:
            targets[npk] = _Target(
                contract_of.get(npk), tuple(dict.fromkeys(buyers[npk])), cpv[npk]
            )
    return _resolve(session, targets, our_orgnrs(ours))
