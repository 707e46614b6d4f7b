"""The records the notice readers return (``tracker.notices.eforms`` for eForms,
``tracker.notices.ted_legacy`` for TED XML before eForms): plain slots dataclasses, no
database. ``ParsedNotice.to_json`` is the object of ``tracker parse --json``.

They are pickled positionally (``_positional_pickle``): the ingest's worker processes
(``tracker.notices.parallel``) send them back to the storing process.
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class ParsedParty:
    """A buyer or a winner (an eForms Organization)."""

    name: str | None
    orgnr: str | None  # valid nine-digit Norwegian number, else None
    orgnr_raw: str | None  # as written in the notice
    country: str | None  # ISO 3166-1 alpha-3 (NOR)
    legal_type: str | None = None  # BT-11, buyers only


@dataclass(slots=True)
class ParsedCriterion:
    type: str | None  # BT-539 price|quality|cost
    name: str | None  # BT-734 (BT-540 description when there is no name)
    weight: float | None  # BT-541 number of the weight parameter
    weight_code: str | None = None  # BT-5421 per-exa|poi-exa|dec-exa|ord-imp|...
    source: str = "structured"  # structured | text (weights written in BT-540, "Pris (30 %)")
    quote: str | None = None  # the words a text criterion was read from


@dataclass(slots=True)
class ParsedLot:
    lot_id: str
    title: str | None = None
    description: str | None = None
    main_cpv: str | None = None
    cpv_codes: list[str] = field(default_factory=list)
    estimated_value: Decimal | None = None
    currency: str | None = None
    framework_code: str | None = None  # BT-765 none|fa-wo-rc|fa-w-rc|fa-mix
    duration_value: Decimal | None = None  # BT-36
    duration_unit: str | None = None  # DAY|WEEK|MONTH|YEAR, or UNLIMITED (no value)
    start_date: dt.date | None = None  # BT-536
    end_date: dt.date | None = None  # BT-537
    max_renewals: int | None = None  # BT-58
    renewal_description: str | None = None  # BT-57
    options_description: str | None = None  # BT-54
    note: str | None = None  # BT-300 additional information of the lot
    framework_max_value: Decimal | None = None  # BT-271 framework maximum value of the lot
    submission_deadline: dt.datetime | None = None  # BT-131, aware
    submission_deadline_has_time: bool = False  # False: date only, normalised to 23:59:59
    request_deadline: dt.datetime | None = None  # BT-1311, aware
    request_deadline_has_time: bool = False
    interest_deadline: dt.datetime | None = None  # BT-630, expressions of interest (PIN-cfc)
    documents_url: str | None = None  # BT-15
    previous_notice_ids: list[str] = field(default_factory=list)  # BT-125
    award_criteria: list[ParsedCriterion] = field(default_factory=list)
    # Selection criteria: [{"type": BT-747, "name": BT-749, "description": BT-750}]
    selection_criteria: list[dict[str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class ParsedResult:
    """One awarded lot and winner group, as the result's own structure says it.

    eForms: LotResult → SettledContract → LotTender → TenderingParty → Tenderer. There is
    one record per (lot result, winning tendering party): parallel framework suppliers are
    one record each, with their own tender's value. A LotTender listed in a LotResult but
    referenced by no SettledContract is not a winner. A lot result without a winner
    (clos-nw, open-nw) is one record without winners.
    """

    result_id: str | None
    lot_id: str | None  # BT-13713 (the winning tender's lot when the result's is broken)
    winner_chosen: bool | None  # BT-142: selec-w → True, clos-nw/open-nw → False
    result_code: str | None
    tender_value: Decimal | None = None  # BT-720 of this winner group's tender
    currency: str | None = None
    conclusion_date: dt.date | None = None  # BT-145 (contract conclusion)
    framework: bool | None = None  # BT-768
    contract_id: str | None = None  # BT-150 (OPT-316 when absent)
    contract_title: str | None = None  # BT-721
    winners: list[ParsedParty] = field(default_factory=list)
    tenders_received: int | None = None  # BT-759 where BT-760 is "tenders"
    award_date: dt.date | None = None  # BT-1451 winner decision (contract's, else the notice's)
    tender_id: str | None = None  # OPT-321 of the winning tender
    party_id: str | None = None  # OPT-210 of the winning tendering party
    framework_max_value: Decimal | None = None  # BT-709 framework maximum of the lot result
    value_inferred: bool = False  # the winning tender had no amount (see warnings)
    lot_mapped: str | None = None  # how a broken lot link was repaired ("contract title ...")
    parallel: int = 1  # winner groups awarded on the same lot in this notice


@dataclass(slots=True)
class ParsedNotice:
    notice_id: str  # BT-701
    version: str  # BT-757
    procedure_id: str | None = None  # BT-04
    subtype: str | None = None  # OPP-070
    notice_type: str | None = None  # BT-02
    form_type: str | None = None  # BT-03
    document_type: str | None = None  # root element
    customization_id: str | None = None
    issue_date: dt.date | None = None  # BT-05
    title: str | None = None  # BT-21
    description: str | None = None  # BT-24
    procedure_type: str | None = None  # BT-105
    main_cpv: str | None = None  # BT-262
    cpv_codes: list[str] = field(default_factory=list)  # every CPV of procedure and lots
    estimated_value: Decimal | None = None  # BT-27
    currency: str | None = None
    changed_notice_id: str | None = None  # BT-758, notice-id part when it is "<uuid>-<version>"
    changed_notice_version: str | None = None  # version part of BT-758
    modified_notice_id: str | None = None  # BT-1501(n), contract modification notices
    previous_notice_ids: list[str] = field(default_factory=list)  # OPP-090, BT-125, BT-1501(n)
    planned_date: dt.date | None = None  # BT-127
    regulatory_domain: str | None = None  # cbc:RegulatoryDomain (32014L0024, 32014L0025, ...)
    contract_nature: str | None = None  # BT-23 works|supplies|services
    note: str | None = None  # BT-300 additional information of the procedure
    framework_max_value: Decimal | None = None  # BT-271 framework maximum of the procedure
    result_total: Decimal | None = None  # BT-161 notice value (NoticeResult TotalAmount)
    result_framework_max: Decimal | None = None  # BT-118 overall framework maximum
    modification_reason: str | None = None  # BT-200 modification justification code
    modification_description: str | None = None  # BT-202 description, BT-201 reason text
    documents_url: str | None = None  # BT-15 of the first lot that has one
    is_test: bool = False
    language: str | None = None  # BT-702
    warnings: list[str] = field(default_factory=list)
    buyers: list[ParsedParty] = field(default_factory=list)
    lots: list[ParsedLot] = field(default_factory=list)
    results: list[ParsedResult] = field(default_factory=list)
    location: str | None = None

    @property
    def is_retroconverted(self) -> bool:
        """Doffin notices converted from TED XML (Norwegian CustomizationID without #extended)."""
        cid = self.customization_id or ""
        return "anskaffelser.no" in cid and "#extended" not in cid

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain Python values (dates and Decimals kept)."""
        return asdict(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``tracker parse --json`` (keys fixed by issue 2; null when absent)."""
        return {
            "file": self.location,
            "notice_id": self.notice_id,
            "version": self.version,
            "procedure_id": self.procedure_id,
            "subtype": self.subtype,
            "notice_type": self.notice_type,
            "issue_date": _iso(self.issue_date),
            "title": self.title,
            "procedure_type": self.procedure_type,
            "main_cpv": self.main_cpv,
            "cpv_codes": list(self.cpv_codes),
            "estimated_value": (
                {"amount": _num(self.estimated_value), "currency": self.currency}
                if self.estimated_value is not None
                else None
            ),
            "buyers": [
                {"name": b.name, "orgnr": b.orgnr, "orgnr_raw": b.orgnr_raw, "country": b.country}
                for b in self.buyers
            ],
            "lots": [
                {
                    "lot_id": lot.lot_id,
                    "title": lot.title,
                    "framework": lot.framework_code,
                    "deadline": _deadline_json(
                        lot.submission_deadline, lot.submission_deadline_has_time
                    ),
                    "duration": (
                        {"value": _num(lot.duration_value), "unit": lot.duration_unit}
                        if lot.duration_value is not None
                        else None
                    ),
                    "start_date": _iso(lot.start_date),
                    "end_date": _iso(lot.end_date),
                    "max_renewals": lot.max_renewals,
                    "award_criteria": [
                        {"type": c.type, "name": c.name, "weight": c.weight}
                        for c in lot.award_criteria
                    ],
                }
                for lot in self.lots
            ],
            "results": [
                {
                    "lot_id": r.lot_id,
                    "winner_chosen": r.winner_chosen,
                    "winners": [{"name": w.name, "orgnr": w.orgnr} for w in r.winners],
                    "tender_value": _num(r.tender_value),
                    "conclusion_date": _iso(r.conclusion_date),
                    "award_date": _iso(r.award_date),
                    "framework": r.framework,
                    "tender_id": r.tender_id,
                }
                for r in self.results
            ],
            "changed_notice_id": self.changed_notice_id,
            "warnings": list(self.warnings),
        }


def _positional_pickle(cls: type) -> None:
    """Pickle ``cls`` as a constructor call with its fields in order: the default for a
    slots dataclass sets each field in a Python loop, which made unpickling a notice
    parsed by an ingest worker (``tracker ingest --workers``) cost a third of its parse."""
    names = [f.name for f in fields(cls)]
    get = operator.attrgetter(*names)

    def reduce(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, get(self)

    cls.__reduce__ = reduce  # type: ignore[method-assign,assignment]


for _cls in (ParsedParty, ParsedCriterion, ParsedLot, ParsedResult, ParsedNotice):
    _positional_pickle(_cls)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _num(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _deadline_json(value: dt.datetime | None, has_time: bool) -> str | None:
    if value is None:
        return None
    return value.isoformat() if has_time else value.date().isoformat()
