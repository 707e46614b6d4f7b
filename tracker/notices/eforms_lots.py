"""The lots and results of an eForms notice (``tracker.notices.eforms``).

- :func:`_lot`: BT-21/24 texts, CPVs, values, duration and dates, renewals and options,
  deadlines, documents, award criteria (weights written only in the text are read by
  ``tracker.notices.notice_text.award_weights``) and selection criteria of one lot;
- :func:`_results`: one record per awarded lot and winner group (``ParsedResult``);
- :func:`count_parallel`, :func:`_lot_from_title`, :func:`_text_criteria`: rules the TED
  XML reader (``tracker.notices.ted_legacy``) shares.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tracker.notices.records import ParsedCriterion, ParsedLot, ParsedParty, ParsedResult
from tracker.notices.xmlread import (
    CAC,
    CBC,
    EFAC,
    EFBC,
    EXT,
    _child,
    _ctext,
    _Ctx,
    _eforms_in,
    _first,
    _groups,
    _int,
    _kids,
    _path,
    _text,
)


def _cpvs(project: dict[str, list[Any]]) -> tuple[str | None, list[str]]:
    """Main and additional CPV codes of a ``_groups``-indexed ProcurementProject."""
    main = _ctext(
        _first(project, CAC + "MainCommodityClassification"), CBC + "ItemClassificationCode"
    )
    codes = [main] if main else []
    for add in project.get(CAC + "AdditionalCommodityClassification", ()):
        code = _ctext(add, CBC + "ItemClassificationCode")
        if code and code not in codes:
            codes.append(code)
    return main, codes


def _lot(lot_el: Any, lot_id: str, ctx: _Ctx) -> ParsedLot:
    lot = ParsedLot(lot_id=lot_id)
    where = f"lot {lot_id}"
    kids = _kids(lot_el)
    project = kids.get(CAC + "ProcurementProject")
    if project is not None:
        _lot_project(_groups(project), lot, ctx, where)
    process = kids.get(CAC + "TenderingProcess")
    if process is not None:
        _lot_process(_groups(process), lot, ctx, where)
    terms = kids.get(CAC + "TenderingTerms")
    if terms is not None:
        _lot_terms(_groups(terms), lot, ctx)
    return lot


def _lot_project(pg: dict[str, list[Any]], lot: ParsedLot, ctx: _Ctx, where: str) -> None:
    """Texts, CPVs, values, duration and dates, renewals and options of a lot."""
    lot.title = ctx.lang_of(pg.get(CBC + "Name"), f"title of {where}")
    lot.description = ctx.lang_of(pg.get(CBC + "Description"))
    lot.main_cpv, lot.cpv_codes = _cpvs(pg)
    total = _first(pg, CAC + "RequestedTenderTotal")
    lot.estimated_value, lot.currency = ctx.amount(
        _child(total, CBC + "EstimatedOverallContractAmount"), f"estimated value of {where}"
    )
    lot.framework_max_value, max_currency = _framework_max(
        total, ctx, f"framework maximum of {where}"
    )
    lot.currency = _same_currency(lot.currency, max_currency, ctx, f"BT-271 of {where}")
    lot.note = ctx.lang_of(pg.get(CBC + "Note"))
    period = _first(pg, CAC + "PlannedPeriod")
    if period is not None:
        per = _kids(period)
        measure = per.get(CBC + "DurationMeasure")
        if measure is not None and _text(measure):
            lot.duration_value, _ = ctx.amount(measure, f"duration of {where}")
            lot.duration_unit = measure.get("unitCode")
        elif (_text(per.get(CBC + "DescriptionCode")) or "").upper() == "UNLIMITED":
            lot.duration_unit = "UNLIMITED"  # BT-538: no end (a running licence, say)
        lot.start_date = ctx.date(per.get(CBC + "StartDate"), f"start date of {where}")
        lot.end_date = ctx.date(per.get(CBC + "EndDate"), f"end date of {where}")
    extension = _first(pg, CAC + "ContractExtension")
    if extension is not None:
        eg = _groups(extension)
        lot.max_renewals = _int(_text(_first(eg, CBC + "MaximumNumberNumeric")))
        lot.options_description = ctx.lang_of(eg.get(CBC + "OptionsDescription"))
        lot.renewal_description = ctx.lang_text(
            _child(_first(eg, CAC + "Renewal"), CAC + "Period"), CBC + "Description"
        )


def _lot_process(prk: dict[str, list[Any]], lot: ParsedLot, ctx: _Ctx, where: str) -> None:
    """Framework agreement, deadlines and previous notices of a lot."""
    for system in prk.get(CAC + "ContractingSystem", ()):
        code = _child(system, CBC + "ContractingSystemTypeCode")
        if code is not None and code.get("listName") == "framework-agreement":
            lot.framework_code = _text(code)
    lot.submission_deadline, lot.submission_deadline_has_time = ctx.deadline(
        _first(prk, CAC + "TenderSubmissionDeadlinePeriod"), f"tender deadline of {where}"
    )
    lot.request_deadline, lot.request_deadline_has_time = ctx.deadline(
        _first(prk, CAC + "ParticipationRequestReceptionPeriod"),
        f"request deadline of {where}",
    )
    for ref in prk.get(CAC + "NoticeDocumentReference", ()):
        ref_id = _ctext(ref, CBC + "ID")
        if ref_id:
            lot.previous_notice_ids.append(ref_id)
    exts = _first(prk, EXT + "UBLExtensions")
    if exts is not None:
        interest = _child(_eforms_in(exts), EFAC + "InterestExpressionReceptionPeriod")
        if interest is not None:
            lot.interest_deadline, _ = ctx.deadline(interest, f"interest deadline of {where}")


def _lot_terms(tg: dict[str, list[Any]], lot: ParsedLot, ctx: _Ctx) -> None:
    """Documents URL, award criteria and selection criteria of a lot."""
    fallback_url = None
    for doc in tg.get(CAC + "CallForTendersDocumentReference", ()):
        uri = _ctext(doc, CAC + "Attachment", CAC + "ExternalReference", CBC + "URI")
        if not uri:
            continue
        if _ctext(doc, CBC + "DocumentType") == "non-restricted-document":
            lot.documents_url = uri
            break
        fallback_url = fallback_url or uri
    if lot.documents_url is None:
        lot.documents_url = fallback_url
    criterion = _child(_first(tg, CAC + "AwardingTerms"), CAC + "AwardingCriterion")
    if criterion is not None:
        for sub in criterion.iterchildren(CAC + "SubordinateAwardingCriterion"):
            lot.award_criteria.append(_criterion(sub, ctx))
        if lot.award_criteria and all(c.weight is None for c in lot.award_criteria):
            lot.award_criteria = _text_criteria(lot.award_criteria) or lot.award_criteria
    terms_ext = _eforms_in(_first(tg, EXT + "UBLExtensions"))
    if terms_ext is not None:
        for sel in terms_ext.iterchildren(EFAC + "SelectionCriteria"):
            if _ctext(sel, CBC + "CalculationExpressionCode") == "not-used":
                continue
            sg = _groups(sel)
            item = {
                "type": _ctext(sel, CBC + "CriterionTypeCode"),
                "name": ctx.lang_of(sg.get(CBC + "Name")),
                "description": ctx.lang_of(sg.get(CBC + "Description")),
            }
            if item["name"] or item["description"] or item["type"]:
                lot.selection_criteria.append(item)


def _framework_max(total: Any, ctx: _Ctx, what: str) -> tuple[Decimal | None, str | None]:
    """BT-271 ``RequestedTenderTotal/ext:.../efbc:FrameworkMaximumAmount`` and its
    currencyID (or Nones)."""
    if total is None:
        return None, None
    ext = _eforms_in(_child(total, EXT + "UBLExtensions"))
    return ctx.amount(_child(ext, EFBC + "FrameworkMaximumAmount"), what)


def _same_currency(kept: str | None, other: str | None, ctx: _Ctx, what: str) -> str | None:
    """The currency of a lot's, procedure's or result's amounts: the one already read
    (BT-27, the tender's), else that of the framework maximum ``what``, so that a maximum
    given alone keeps its currency as tender values do. A maximum in another currency
    than the estimate is reported (the estimate's currency is kept)."""
    if kept and other and kept != other:
        ctx.warn(f"{what} is in {other}, the other amounts in {kept}: {kept} kept")
    return kept or other


def _text_criteria(criteria: list[ParsedCriterion]) -> list[ParsedCriterion]:
    """Criteria whose weights are written only in their description (BT-540), e.g. a
    converter that copied "1) Kvalitet (40%) ... 3) Pris (30%)" into every criterion:
    the named criteria with their weights, when the weights add up to 100 (else none)."""
    from tracker.notices.notice_text import (
        award_weights,  # text rules live with the other text rules
    )

    texts = list(dict.fromkeys(c.name for c in criteria if c.name))
    for text in texts:
        found = award_weights(text)
        if found:
            return [
                ParsedCriterion(
                    type=_criterion_type(name),
                    name=name,
                    weight=weight,
                    weight_code="per-exa",
                    source="text",
                    quote=quote,
                )
                for name, weight, quote in found
            ]
    return []


def _criterion_type(name: str) -> str:
    low = name.casefold()
    if low.startswith(("pris", "price", "kostnad", "cost")):
        return "price"
    return "quality"


def _criterion(sub: Any, ctx: _Ctx) -> ParsedCriterion:
    sg = _groups(sub)
    ctype = None
    for code in sg.get(CBC + "AwardingCriterionTypeCode", ()):
        ctype = _text(code)
    name = ctx.lang_of(sg.get(CBC + "Name")) or ctx.lang_of(sg.get(CBC + "Description"))
    weight: float | None = None
    weight_code: str | None = None
    ext = _eforms_in(_first(sg, EXT + "UBLExtensions"))
    if ext is not None:
        for param in ext.iterchildren(EFAC + "AwardCriterionParameter"):
            code = _child(param, EFBC + "ParameterCode")
            if code is None or code.get("listName") != "number-weight":
                continue
            weight_code = _text(code)
            raw = _ctext(param, EFBC + "ParameterNumeric")
            if raw is not None:
                try:
                    weight = float(raw.replace(",", "."))
                except ValueError:
                    ctx.warn(f"unparseable award criterion weight {raw!r}")
            break
    return ParsedCriterion(type=ctype, name=name, weight=weight, weight_code=weight_code)


_SUBCONTRACT = re.compile(
    r"\b(?:delkontrakt|delomr[åa]de|del|lot|delytelse)\s*(?:nr\.?\s*)?(\d{1,3})\b", re.IGNORECASE
)
_LOT_NUMBER = re.compile(r"(\d+)\s*$")


def _lot_from_title(title: str | None, lots: list[ParsedLot]) -> str | None:
    """The lot a contract title names ("... Delkontrakt 2" → the lot titled so, else the lot
    whose id ends in 2), for results whose lot link is broken; None when unclear."""
    if not title or not lots:
        return None
    m = _SUBCONTRACT.search(title)
    if m is None:
        return None
    number = int(m.group(1))
    by_title = [
        lot.lot_id
        for lot in lots
        if lot.title and any(int(x.group(1)) == number for x in _SUBCONTRACT.finditer(lot.title))
    ]
    if len(by_title) == 1:
        return by_title[0]
    by_id = [
        lot.lot_id
        for lot in lots
        if (x := _LOT_NUMBER.search(lot.lot_id)) is not None and int(x.group(1)) == number
    ]
    return by_id[0] if len(by_id) == 1 else None


def _mode(values: list[Decimal]) -> tuple[Decimal, int]:
    """The most frequent value (the larger on a tie) and how often it occurs."""
    counts: dict[Decimal, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    best = max(counts, key=lambda v: (counts[v], v))
    return best, counts[best]


# A LotTender: value, currency, tendering party (OPT-210), lot (BT-13714)
_Tender = tuple[Decimal | None, str | None, str | None, str | None]
_NO_TENDER: _Tender = (None, None, None, None)


@dataclass(slots=True)
class _Award:
    """What the lot results of one notice share: its tenders, settled contracts (and the
    contract of each tender), tendering parties (their tenderers), organisations, lots."""

    tenders: dict[str, _Tender]
    contracts: dict[str, dict[str, Any]]
    tender_contract: dict[str, str]
    parties: dict[str, list[str]]
    orgs: dict[str, ParsedParty]
    lots: list[ParsedLot]
    lot_ids: set[str]
    notice_award: dt.date | None


@dataclass(slots=True)
class _LotResult:
    """One efac:LotResult as read: its code, lot, framework maximum and tenders."""

    result_id: str | None
    lot_id: str | None
    code: str | None
    chosen: bool | None
    max_value: Decimal | None
    max_currency: str | None
    tenders_received: int | None
    listed: list[str]  # the LotTenders it lists
    own_contracts: list[str]  # the SettledContracts it lists


def _results(
    groups: dict[str, list[Any]],
    orgs: dict[str, ParsedParty],
    ctx: _Ctx,
    lots: list[ParsedLot],
    notice_award: dt.date | None,
) -> list[ParsedResult]:
    """One record per awarded lot and winner group (see ``ParsedResult``).

    Winners: the LotResult's tenders that a SettledContract references (when the notice
    has no SettledContract at all, every tender the result lists); grouped by tendering
    party, each group with its own tender's value. A broken lot link ('MISSING', empty)
    is repaired from the contract title ("Delkontrakt 2"). A winning tender without an
    amount takes the amount the same party's other tenders in that result carry most
    often (a notice that repeats one tender), flagged ``value_inferred``; tenders of one
    party are never summed when they repeat one amount.
    """
    tenders = _tenders(groups, ctx)
    contracts, tender_contract = _settled_contracts(groups, ctx)
    parties: dict[str, list[str]] = {}
    for p in groups.get(EFAC + "TenderingParty", ()):
        pid = _ctext(p, CBC + "ID")
        if pid:
            parties[pid] = [
                x for x in (_ctext(t, CBC + "ID") for t in p.iterchildren(EFAC + "Tenderer")) if x
            ]
    award = _Award(
        tenders,
        contracts,
        tender_contract,
        parties,
        orgs,
        lots,
        {lot.lot_id for lot in lots},
        notice_award,
    )
    out: list[ParsedResult] = []
    for lr in groups.get(EFAC + "LotResult", ()):
        r = _lot_result(lr, ctx)
        if tender_contract:
            winning = [t for t in r.listed if t in tender_contract]
            if not winning:  # the result names only its contract(s): their tenders win
                winning = [t for t, c in tender_contract.items() if c in r.own_contracts]
        else:
            winning = r.listed if r.chosen is not False else []
        # Group the winning tenders by tendering party, in document order.
        by_party: dict[str, list[str]] = {}
        for tid in winning:
            party = tenders.get(tid, _NO_TENDER)[2] or f"tender:{tid}"
            by_party.setdefault(party, []).append(tid)
        if not by_party:
            out.append(
                ParsedResult(
                    result_id=r.result_id,
                    lot_id=r.lot_id,
                    winner_chosen=r.chosen,
                    result_code=r.code,
                    framework_max_value=r.max_value,
                    currency=r.max_currency if r.max_value is not None else None,
                    tenders_received=r.tenders_received,
                )
            )
            continue
        for party_id, tids in by_party.items():
            out.append(_winner_group(award, r, party_id, tids, ctx))
    count_parallel(out)
    return out


def _tenders(groups: dict[str, list[Any]], ctx: _Ctx) -> dict[str, _Tender]:
    """Every efac:LotTender of the notice result by its id (OPT-321)."""
    tenders: dict[str, _Tender] = {}
    for t in groups.get(EFAC + "LotTender", ()):
        tid = _ctext(t, CBC + "ID")
        if not tid:
            continue
        value, currency = ctx.amount(
            _path(t, CAC + "LegalMonetaryTotal", CBC + "PayableAmount"), f"tender value of {tid}"
        )
        tenders[tid] = (
            value,
            currency,
            _ctext(t, EFAC + "TenderingParty", CBC + "ID"),
            _ctext(t, EFAC + "TenderLot", CBC + "ID"),
        )
    return tenders


def _settled_contracts(
    groups: dict[str, list[Any]], ctx: _Ctx
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every efac:SettledContract by id (dates, title, framework flag, reference), and the
    contract of each tender it references (the first one that does)."""
    contracts: dict[str, dict[str, Any]] = {}
    tender_contract: dict[str, str] = {}
    for c in groups.get(EFAC + "SettledContract", ()):
        cid = _ctext(c, CBC + "ID")
        if not cid:
            continue
        refs = [
            x for x in (_ctext(lt, CBC + "ID") for lt in c.iterchildren(EFAC + "LotTender")) if x
        ]
        contracts[cid] = {
            "conclusion": ctx.date(_child(c, CBC + "IssueDate"), f"conclusion date of {cid}"),
            "award": ctx.date(_child(c, CBC + "AwardDate"), f"award date of {cid}"),
            "title": ctx.lang_text(c, CBC + "Title"),
            "framework": _ctext(c, EFBC + "ContractFrameworkIndicator"),
            "reference": _ctext(c, EFAC + "ContractReference", CBC + "ID"),
        }
        for ref in refs:
            tender_contract.setdefault(ref, cid)
    return contracts, tender_contract


def _lot_result(lr: Any, ctx: _Ctx) -> _LotResult:
    """An efac:LotResult's code (BT-142), lot, framework maximum (BT-709), tenders
    received (BT-759) and the tenders and contracts it lists."""
    code = _ctext(lr, CBC + "TenderResultCode")
    result_id = _ctext(lr, CBC + "ID")
    fav = _child(lr, EFAC + "FrameworkAgreementValues")
    max_value, max_currency = ctx.amount(
        _child(fav, CBC + "MaximumValueAmount"), f"framework maximum of {result_id}"
    )
    tenders_received = None
    for stat in lr.iterchildren(EFAC + "ReceivedSubmissionsStatistics"):
        if _ctext(stat, EFBC + "StatisticsCode") == "tenders":
            tenders_received = _int(_ctext(stat, EFBC + "StatisticsNumeric"))
    listed = [x for x in (_ctext(t, CBC + "ID") for t in lr.iterchildren(EFAC + "LotTender")) if x]
    own_contracts = [
        x for x in (_ctext(s, CBC + "ID") for s in lr.iterchildren(EFAC + "SettledContract")) if x
    ]
    return _LotResult(
        result_id=result_id,
        lot_id=_ctext(lr, EFAC + "TenderLot", CBC + "ID"),
        code=code,
        chosen=True if code == "selec-w" else False if code in ("clos-nw", "open-nw") else None,
        max_value=max_value,
        max_currency=max_currency,
        tenders_received=tenders_received,
        listed=listed,
        own_contracts=own_contracts,
    )


def _winner_group(
    a: _Award, r: _LotResult, party_id: str, tids: list[str], ctx: _Ctx
) -> ParsedResult:
    """The record of one winning tendering party's tenders ``tids`` in lot result ``r``."""
    first = tids[0]
    contract_id = a.tender_contract.get(first) or (r.own_contracts[0] if r.own_contracts else None)
    c = a.contracts.get(contract_id or "", {})
    result = ParsedResult(
        result_id=r.result_id,
        lot_id=r.lot_id,
        winner_chosen=r.chosen,
        result_code=r.code,
        tender_id=",".join(tids)[:64],
        party_id=None if party_id.startswith("tender:") else party_id,
        framework_max_value=r.max_value,
        contract_id=(c.get("reference") or contract_id) if c or contract_id else None,
        contract_title=c.get("title"),
        conclusion_date=c.get("conclusion"),
        award_date=c.get("award") or a.notice_award,
        tenders_received=r.tenders_received,
    )
    flag = c.get("framework")
    if flag:
        result.framework = flag.lower() == "true"
    tender_lot = a.tenders.get(first, _NO_TENDER)[3]
    if tender_lot and (tender_lot in a.lot_ids or not result.lot_id):
        result.lot_id = tender_lot
    if a.lot_ids and result.lot_id not in a.lot_ids:
        _repair_lot(result, a, ctx)
    _group_value(result, a, r, party_id, tids, ctx)
    if r.max_value is not None:
        result.currency = _same_currency(
            result.currency, r.max_currency, ctx, f"BT-709 of {r.result_id}"
        )
    seen_orgs: set[str] = set()
    for org_id in a.parties.get(party_id, []):
        if org_id in seen_orgs:
            continue
        seen_orgs.add(org_id)
        org = a.orgs.get(org_id)
        if org is None:
            ctx.warn(f"winner {org_id} has no organisation entry")
            continue
        result.winners.append(org)
    if result.winner_chosen is None and result.winners and (c or a.tender_contract):
        result.winner_chosen = True  # no BT-142, but a settled contract names the winner
    return result


def _repair_lot(result: ParsedResult, a: _Award, ctx: _Ctx) -> None:
    """A result whose lot link is broken: the lot its contract title names (or the only lot)."""
    mapped = _lot_from_title(result.contract_title, a.lots)
    if mapped is None and len(a.lot_ids) == 1:
        mapped = next(iter(a.lot_ids))
    if mapped is not None:
        ctx.warn(
            f"result {result.result_id}: lot link {result.lot_id!r} is broken; "
            f"{mapped} taken from the contract title {result.contract_title!r}"
        )
        result.lot_mapped = f"contract title: {result.contract_title}"[:200]
        result.lot_id = mapped


def _group_value(
    result: ParsedResult, a: _Award, r: _LotResult, party_id: str, tids: list[str], ctx: _Ctx
) -> None:
    """Tender value and currency of a winner group: its tenders' one amount (distinct
    amounts summed), else the amount the party's other tenders carry most often."""
    values = [
        (v, cur) for v, cur, _, _ in (a.tenders.get(t, _NO_TENDER) for t in tids) if v is not None
    ]
    if values:
        currencies = {cur for _, cur in values}
        if len(currencies) > 1:
            ctx.warn(f"tenders {', '.join(tids)} in several currencies: first taken")
            values = values[:1]
        amounts = sorted({v for v, _ in values})
        result.tender_value = amounts[0] if len(amounts) == 1 else sum(amounts, Decimal(0))
        result.currency = values[0][1]
        return
    tenders = a.tenders
    others = [
        value
        for t in r.listed
        if t in tenders and tenders[t][2] == party_id and (value := tenders[t][0]) is not None
    ]
    if others:
        value, times = _mode(others)
        result.tender_value = value
        result.currency = next(
            tenders[t][1] for t in r.listed if t in tenders and tenders[t][0] == value
        )
        result.value_inferred = True
        ctx.warn(
            f"winning tender {tids[0]} carries no amount: {value} taken from the same "
            f"tenderer's other tenders in {r.result_id} ({times} of {len(others)})"
        )


def count_parallel(results: list[ParsedResult]) -> None:
    """Set ``parallel``: the winner groups awarded on the same lot (both readers)."""
    per_lot: dict[str | None, int] = {}
    for r in results:
        if r.winners:
            per_lot[r.lot_id] = per_lot.get(r.lot_id, 0) + 1
    for r in results:
        if r.winners:
            r.parallel = per_lot[r.lot_id]
