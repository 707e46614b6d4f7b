"""A parsed notice as the rows the ingest stores, encoded away from the database.

:func:`pack` turns a :class:`ParsedNotice` into a :class:`Packed`: the ``notices`` row
and its buyers, lots (with award criteria) and results (with winners) as tuples of the
values the database driver is given (``tracker.db.bulk.Encoder``: strings cut to their
column length, dates, numbers and JSON as the column types send them), built by the row
functions of ``tracker.notices.rows``. The parsing workers of ``tracker ingest --workers
N`` (``tracker.notices.parallel.prepare``) do this, so the storing process only adds what
needs the database (primary keys, organisation ids, the run's source and search-hit
metadata) and sends the rows; ``Ingestor.add`` packs in its own process the same way.

A value that a column type refuses does not fail here: :attr:`Packed.error` keeps it,
and the ingest raises it when it stores that table's rows (as a database error would be),
so the notice fails alone and nothing stored before is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tracker.db.bulk import EncodeError, Encoder, dialect_for, table_of
from tracker.db.models import AwardCriterion, Lot, LotResult, Notice, NoticeBuyer, ResultWinner
from tracker.notices.records import ParsedNotice
from tracker.notices.rows import (
    buyer_row,
    criterion_row,
    lot_row,
    notice_row,
    org_key,
    parties,
    result_row,
    winner_row,
)

N = table_of(Notice)
BUYER = table_of(NoticeBuyer)
LOT = table_of(Lot)
CRIT = table_of(AwardCriterion)
RES = table_of(LotResult)
WIN = table_of(ResultWinner)

# Columns of the ``notices`` row the storing process fills in (the run's source, the
# search hit's metadata, the compressed bytes, the procedure id that TED XML notices
# before eForms take from stored notices); the workers encode the others.
NOTICE_HEAD = ("source", "source_id", "publication_date", "status", "source_meta", "derive_pending")
NOTICE_TAIL = ("created_at", "procedure_id", "raw_xml", "raw_sha256")
NOTICE_OWN = NOTICE_HEAD + NOTICE_TAIL
# The keys of ``rows.notice_row`` (the stored columns, in its order).
_SAMPLE = notice_row(
    ParsedNotice(notice_id="", version=""),
    source="",
    source_id=None,
    meta=None,
    raw=b"",
    sha="",
    derive_pending=None,
)
NOTICE_PACKED = tuple(k for k in _SAMPLE if k not in NOTICE_OWN)
NOTICE_KEYS = NOTICE_OWN + NOTICE_PACKED
# Child rows: the keys the storing process puts first (pks and organisation ids), then
# the encoded rest, in the order of the row functions.
BUYER_OWN = ("notice_pk", "organisation_id")
LOT_OWN = ("notice_pk",)
CRIT_OWN = ("lot_pk",)
RES_OWN = ("notice_pk",)
WIN_OWN = ("result_pk", "organisation_id")


def _rest(row: dict[str, Any], own: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in row if k not in own)


class Encoders:
    """The :class:`Encoder` of every row part, for one dialect (name, driver)."""

    def __init__(self, key: tuple[str, str]) -> None:
        dialect = dialect_for(key)
        self.key = key
        self.notice = Encoder(N, NOTICE_PACKED, dialect)
        self.notice_head = Encoder(N, NOTICE_HEAD, dialect)
        self.notice_tail = Encoder(N, NOTICE_TAIL, dialect)
        self.buyer = Encoder(BUYER, BUYER_KEYS[len(BUYER_OWN) :], dialect)
        self.lot = Encoder(LOT, LOT_KEYS[len(LOT_OWN) :], dialect)
        self.crit = Encoder(CRIT, CRIT_KEYS[len(CRIT_OWN) :], dialect)
        self.res = Encoder(RES, RES_KEYS[len(RES_OWN) :], dialect)
        self.win = Encoder(WIN, WIN_KEYS[len(WIN_OWN) :], dialect)


def _keys_of_rows() -> tuple[tuple[str, ...], ...]:
    from tracker.notices.records import ParsedCriterion, ParsedLot, ParsedParty, ParsedResult

    party = ParsedParty(None, None, None, None)
    buyer = buyer_row(None, 0, party, {})
    lot = lot_row(None, 0, ParsedLot(lot_id=""))
    crit = criterion_row(0, 0, ParsedCriterion(None, None, None))
    res = result_row(None, 0, ParsedResult(None, None, None, None))
    win = winner_row(0, 0, party, {})
    return (
        BUYER_OWN + _rest(buyer, BUYER_OWN),
        LOT_OWN + _rest(lot, LOT_OWN),
        CRIT_OWN + _rest(crit, CRIT_OWN),
        RES_OWN + _rest(res, RES_OWN),
        WIN_OWN + _rest(win, WIN_OWN),
    )


BUYER_KEYS, LOT_KEYS, CRIT_KEYS, RES_KEYS, WIN_KEYS = _keys_of_rows()

_ENCODERS: dict[tuple[str, str], Encoders] = {}


def encoders(key: tuple[str, str]) -> Encoders:
    """The encoders of dialect (name, driver), made once per process."""
    found = _ENCODERS.get(key)
    if found is None:
        found = _ENCODERS[key] = Encoders(key)
    return found


# An organisation a notice names: (key, orgnr, orgnr_raw, name, country).
Party = tuple[str, str | None, str | None, str | None, str | None]


@dataclass(slots=True)
class Packed:
    """The rows of one parsed notice, encoded for one dialect (see the module doc).

    The identity and the fields the storing process reads (``procedure_id``, changed
    while storing for TED XML notices before eForms; the BT-758 target) stay plain.
    """

    dialect: tuple[str, str]
    notice_id: str
    version: str
    procedure_id: str | None
    customization_id: str | None
    changed_notice_id: str | None
    changed_notice_version: str | None
    notice: tuple[Any, ...]  # NOTICE_PACKED values
    buyers: list[tuple[str, tuple[Any, ...]]]  # (organisation key or "", values)
    lots: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]  # (values, criteria values)
    # (values, [(organisation key or "", winner values)])
    results: list[tuple[tuple[Any, ...], list[tuple[str, tuple[Any, ...]]]]]
    parties: list[Party]  # every organisation named, first mention of each key
    error: EncodeError | None = None  # a value a column type refused (raised when stored)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # positional: small and fast
        return (Packed, tuple(getattr(self, f.name) for f in fields(self)))

    def raise_error(self, table: str, sql: str | None = None) -> None:
        """Raise the refused value of ``table`` (as the database error it stands for)."""
        if self.error is not None and self.error.table == table:
            raise self.error.statement_error(sql)


def pack(p: ParsedNotice, dialect: tuple[str, str]) -> Packed:
    """The rows of ``p`` encoded for ``dialect`` (``tracker.db.bulk.dialect_key``)."""
    enc = encoders(dialect)
    error: EncodeError | None = None
    notice: tuple[Any, ...] = ()
    buyers: list[tuple[str, tuple[Any, ...]]] = []
    lots: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
    results: list[tuple[tuple[Any, ...], list[tuple[str, tuple[Any, ...]]]]] = []
    try:
        row = notice_row(
            p, source="", source_id=None, meta=None, raw=b"", sha="", derive_pending=None
        )
        notice = enc.notice.row(row)
        for i, b in enumerate(p.buyers):
            buyers.append((org_key(b) or "", enc.buyer.row(buyer_row(None, i, b, {}))))
        for i, lot in enumerate(p.lots):
            crits = [enc.crit.row(criterion_row(0, j, c)) for j, c in enumerate(lot.award_criteria)]
            lots.append((enc.lot.row(lot_row(None, i, lot)), crits))
        for i, r in enumerate(p.results):
            winners = [
                (org_key(w) or "", enc.win.row(winner_row(0, j, w, {})))
                for j, w in enumerate(r.winners)
            ]
            results.append((enc.res.row(result_row(None, i, r)), winners))
    except EncodeError as exc:
        error = exc
    named: dict[str, Party] = {}
    for party in parties(p):
        key = org_key(party)
        if key and key not in named:
            named[key] = (key, party.orgnr, party.orgnr_raw, party.name, party.country)
    return Packed(
        dialect,
        p.notice_id,
        p.version,
        p.procedure_id,
        p.customization_id,
        p.changed_notice_id,
        p.changed_notice_version,
        notice,
        buyers,
        lots,
        results,
        list(named.values()),
        error,
    )
