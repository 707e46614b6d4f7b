"""A buyer's notices as its page reads them: competition intensity, price weights and
modification notices, kept in ``market_buyer_notices`` per notice.

The buyer page reads, from the latest non-test notices whose buyer has the orgnr: the
award notices with the tenders received (the largest over their lots), the competition
lots whose criteria weights are percentages summing to 100 (with the weight of price and
cost) and the modification notices. The busiest buyer has tens of thousands of notices,
each a row lookup in ``notices`` to test its subtype; this table holds them by buyer,
kind and issue date, so the page reads the newest rows and the counts from one index.

Rows are keyed by notice: ``refresh(session, notice_pks)`` (the derive step, for every
stored batch) counts again the notices given and every other version of them (a new
version makes the older one no longer the latest); ``rebuild`` counts all.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal_column, null, or_, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    AwardCriterion,
    Lot,
    LotResult,
    MarketBuyerNotice,
    Notice,
    NoticeBuyer,
)
from tracker.market.common import chunks
from tracker.notices.subtypes import COMPETITION_SUBTYPES, MODIFICATION_SUBTYPES, RESULT_SUBTYPES

PRICE_TYPES = ("price", "cost")
COLUMNS = ("orgnr", "notice_pk", "kind", "issue_date", "lot_id", "lots", "tenders")


def _of_buyers(subtypes: Iterable[str], pks: list[int] | None) -> Any:
    """The latest non-test notices of ``subtypes`` with their buyers' orgnrs (a FROM/WHERE;
    a notice naming one orgnr twice is read twice, as the page's join did)."""
    stmt = (
        select()
        .select_from(Notice)
        .join(NoticeBuyer, NoticeBuyer.notice_pk == Notice.id)
        .where(
            Notice.is_latest.is_(True),
            Notice.is_test.is_not(True),
            Notice.subtype.in_(sorted(subtypes)),
        )
    )
    return stmt if pks is None else stmt.where(Notice.id.in_(pks))


def _results(pks: list[int] | None) -> Any:
    return (
        _of_buyers(RESULT_SUBTYPES, pks)
        .add_columns(
            NoticeBuyer.orgnr,
            Notice.id,
            literal_column("'result'"),
            Notice.issue_date,
            null(),
            func.count(func.distinct(LotResult.lot_id)),
            func.max(LotResult.tenders_received),
        )
        .join(LotResult, LotResult.notice_pk == Notice.id)
        .where(LotResult.tenders_received.is_not(None))
        .group_by(NoticeBuyer.orgnr, Notice.id, Notice.issue_date)
    )


def _weights(pks: list[int] | None) -> Any:
    """Competition lots whose weights are percentages (BT-5421 per-exa, or no code) summing
    to 100, with the weight of price and cost."""
    price = func.sum(case((AwardCriterion.type.in_(PRICE_TYPES), AwardCriterion.weight), else_=0))
    bad = or_(
        AwardCriterion.weight.is_(None),
        and_(AwardCriterion.weight_code.is_not(None), AwardCriterion.weight_code != "per-exa"),
    )
    total = func.sum(AwardCriterion.weight)
    return (
        _of_buyers(COMPETITION_SUBTYPES, pks)
        .add_columns(
            NoticeBuyer.orgnr, Notice.id, literal_column("'competition'"), Notice.issue_date,
            Lot.lot_id, null(), null(), price,
        )
        .join(Lot, Lot.notice_pk == Notice.id)
        .join(AwardCriterion, AwardCriterion.lot_pk == Lot.id)
        .group_by(NoticeBuyer.orgnr, Lot.id, Notice.id, Notice.issue_date, Lot.lot_id)
        .having(func.sum(case((bad, 1), else_=0)) == 0, total >= 99.0, total <= 101.0)
    )  # fmt: skip


def _modifications(pks: list[int] | None) -> Any:
    return (
        _of_buyers(MODIFICATION_SUBTYPES, pks)
        .add_columns(
            NoticeBuyer.orgnr, Notice.id, literal_column("'modification'"), Notice.issue_date,
            null(), null(), null(),
        )
        .group_by(NoticeBuyer.orgnr, Notice.id, Notice.issue_date)
    )  # fmt: skip


def _write(session: Session, pks: list[int] | None) -> None:
    table = MarketBuyerNotice
    session.execute(insert(table).from_select(list(COLUMNS), _results(pks)))
    session.execute(insert(table).from_select([*COLUMNS, "price_weight"], _weights(pks)))
    session.execute(insert(table).from_select(list(COLUMNS), _modifications(pks)))


def refresh(session: Session, notice_pks: Iterable[int]) -> None:
    """Count again the notices ``notice_pks`` and every version of them; flushes."""
    session.flush()
    for chunk in chunks(sorted(set(notice_pks)), 500):
        versions = select(Notice.notice_id).where(
            Notice.id.in_(chunk), Notice.notice_id.is_not(None)
        )
        pks = sorted(
            set(chunk)
            | set(session.scalars(select(Notice.id).where(Notice.notice_id.in_(versions))))
        )
        for part in chunks(pks, 500):
            session.execute(delete(MarketBuyerNotice).where(MarketBuyerNotice.notice_pk.in_(part)))
            _write(session, part)
    session.flush()


def rebuild(session: Session) -> None:
    """Count every buyer notice again; flushes."""
    session.flush()
    session.execute(delete(MarketBuyerNotice))
    _write(session, None)
    session.flush()


# --------------------------------------------------------------------------- reading


def _newest(orgnr: str | None, kind: str, limit: int | None) -> Any:
    t = MarketBuyerNotice
    stmt = (
        select(t.notice_pk, t.issue_date, t.lot_id, t.lots, t.tenders, t.price_weight)
        .where(t.orgnr == (orgnr or ""), t.kind == kind)
        .order_by(
            t.issue_date.is_(None), t.issue_date.desc(), t.notice_pk.desc(),
            func.coalesce(t.lot_id, "").desc(),
        )
    )  # fmt: skip
    return stmt if limit is None else stmt.limit(limit)


def tender_counts(
    session: Session, orgnr: str | None, limit: int | None
) -> tuple[list[tuple[int, dt.date | None, int, int]], list[tuple[int, int]]]:
    """The buyer's award notices stating tenders received, newest first (at most
    ``limit``): (notice, issued, lots, tenders); and how many notices got how many."""
    t = MarketBuyerNotice
    histogram = session.execute(
        select(t.tenders, func.count())
        .where(t.orgnr == (orgnr or ""), t.kind == "result")
        .group_by(t.tenders)
    ).all()
    rows = [
        (pk, day, int(lots or 0), int(tenders))
        for pk, day, _, lots, tenders, _ in session.execute(_newest(orgnr, "result", limit))
    ]
    return rows, sorted((int(n or 0), int(c)) for n, c in histogram)


def price_weight_counts(
    session: Session, orgnr: str | None, limit: int | None
) -> tuple[list[tuple[int, dt.date | None, str | None, float]], list[tuple[float, int]]]:
    """The buyer's competition lots with percentage weights, newest first (at most
    ``limit``): (notice, issued, lot, price weight); and how many lots had which weight."""
    t = MarketBuyerNotice
    histogram: Counter[float] = Counter()
    for weight, n in session.execute(
        select(t.price_weight, func.count())
        .where(t.orgnr == (orgnr or ""), t.kind == "competition")
        .group_by(t.price_weight)
    ):
        histogram[round(float(weight or 0), 1)] += int(n)
    rows = [
        (pk, day, lot, round(float(w or 0), 1))
        for pk, day, lot, _, _, w in session.execute(_newest(orgnr, "competition", limit))
    ]
    return rows, sorted(histogram.items())


def modification_notices(session: Session, orgnr: str | None) -> int:
    t = MarketBuyerNotice
    return int(
        session.scalar(
            select(func.count(func.distinct(t.notice_pk))).where(
                t.orgnr == (orgnr or ""), t.kind == "modification"
            )
        )
        or 0
    )
