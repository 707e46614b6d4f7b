"""The lots, award criteria, awards, design contest prizes and modifications of a TED XML
form (R2.0.9), read into the eForms records (``tracker.notices.ted_legacy`` reads the
notice around them).
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any, NamedTuple

from tracker.notices.eforms_lots import _lot_from_title
from tracker.notices.records import (
    ParsedCriterion,
    ParsedLot,
    ParsedNotice,
    ParsedParty,
    ParsedResult,
)
from tracker.notices.ted_reader import (
    _DIRECTIVES_ALL,
    _LOT_LIST,
    _THOUSANDS_COMMA,
    _THOUSANDS_DOT,
    _WEIGHT,
    _paras,
    _Reader,
)
from tracker.notices.xmlread import _first, _text

_LOT_FIELDS = frozenset(
    {
        "TITLE", "SHORT_DESCR", "VAL_OBJECT", "DURATION", "INDEFINITE_DURATION", "DATE_START",
        "DATE_END", "QS", "RENEWAL", "RENEWAL_DESCR", "OPTIONS", "OPTIONS_DESCR", "INFO_ADD",
        "AC", "AC_PRICE", "LOT_NO", *_DIRECTIVES_ALL,
    }
)  # fmt: skip


def scan_lot(r: _Reader, el: Any, main_cpv: str | None) -> tuple[dict[str, Any], list[str]]:
    """One pass over an OBJECT_DESCR's children (a notice may have hundreds of lots): the
    first child of each field the reader uses (``_LOT_FIELDS``, LOT_NO among them) and
    the lot's CPV codes, the notice's main one first."""
    d = r.d
    g: dict[str, Any] = {}
    codes = [main_cpv] if main_cpv else []
    n = d.n
    for c in el:
        tag = c.tag[n:] if n else c.tag
        if tag == "CPV_ADDITIONAL":
            code_el = d.child(c, "CPV_CODE")
            code = (code_el.get("CODE") or "").strip() if code_el is not None else ""
            if code and code not in codes:
                codes.append(code)
        elif tag in _LOT_FIELDS and tag not in g:
            g[tag] = c
    return g, codes


def _lot(
    r: _Reader,
    el: Any,
    lot_id: str,
    main_cpv: str | None,
    scanned: tuple[dict[str, Any], list[str]] | None = None,
) -> ParsedLot:
    """The lot of an OBJECT_DESCR (``scanned``: what ``scan_lot`` found in it, when the
    caller has scanned it already)."""
    d, ctx = r.d, r.ctx
    where = f"lot {lot_id}"
    g, codes = scanned if scanned is not None else scan_lot(r, el, main_cpv)
    lot = ParsedLot(lot_id=lot_id, main_cpv=main_cpv, cpv_codes=codes)
    lot.title = ctx.clean(_paras(g.get("TITLE"), " "), f"title of {where}")
    lot.description = ctx.clean(_paras(g.get("SHORT_DESCR")))
    lot.estimated_value, lot.currency = r.amount(g.get("VAL_OBJECT"), f"estimated value of {where}")
    _period(r, g, lot, where)
    qs = g.get("QS")  # qualification system (F07, F22): its own period and renewal
    if qs is not None and lot.duration_unit is None and lot.start_date is None:
        qg = {k: v[0] for k, v in d.groups(qs).items()}
        _period(r, qg, lot, where)
        lot.renewal_description = ctx.clean(_paras(qg.get("RENEWAL_DESCR")))
    if "RENEWAL" in g:
        lot.renewal_description = ctx.clean(_paras(g.get("RENEWAL_DESCR")))
    if "OPTIONS" in g:
        lot.options_description = ctx.clean(_paras(g.get("OPTIONS_DESCR")))
    lot.note = ctx.clean(_paras(g.get("INFO_ADD")))
    ac = g.get("AC")
    if ac is None:
        for name in _DIRECTIVES_ALL:
            ac = d.child(g.get(name), "AC")
            if ac is not None:
                break
    if ac is None and "AC_PRICE" in g:  # an AC_PRICE outside AC (seen in F15)
        lot.award_criteria.append(ParsedCriterion(type="price", name=None, weight=None))
    if ac is not None:
        lot.award_criteria = _criteria(r, ac)
    return lot


def _period(r: _Reader, g: dict[str, Any], lot: ParsedLot, where: str) -> None:
    """DURATION (or INDEFINITE_DURATION), DATE_START, DATE_END of ``g`` (tag → element)."""
    duration = g.get("DURATION")
    if duration is not None and _text(duration):
        lot.duration_value, _ = r.amount(duration, f"duration of {where}")
        unit = (duration.get("TYPE") or "").strip().upper()
        lot.duration_unit = unit if unit in ("DAY", "WEEK", "MONTH", "YEAR") else None
        if lot.duration_unit is None:
            r.ctx.warn(f"duration of {where} without a known unit: {unit!r}")
            lot.duration_value = None
    elif "INDEFINITE_DURATION" in g:
        lot.duration_unit = "UNLIMITED"
    if "DATE_START" in g:
        lot.start_date = r.date(g["DATE_START"], f"start date of {where}") or lot.start_date
    if "DATE_END" in g:
        lot.end_date = r.date(g["DATE_END"], f"end date of {where}") or lot.end_date


def _criteria(r: _Reader, ac: Any) -> list[ParsedCriterion]:
    """AC_QUALITY, AC_COST, AC_PRICE (with AC_CRITERION and AC_WEIGHTING), or plain
    AC_CRITERION (concessions, defence); AC_PROCUREMENT_DOC (criteria only in the
    documents) gives none."""
    d, ctx = r.d, r.ctx
    out: list[ParsedCriterion] = []
    raw_weights: list[str | None] = []
    for el in ac:
        name = el.tag[d.n :]
        ctype = _CRITERION_TYPES.get(name)
        if ctype is not None or name == "AC_CRITERIA":
            label = ctx.clean(_text(d.child(el, "AC_CRITERION")))
            weight = _text(d.child(el, "AC_WEIGHTING"))
        elif name == "AC_CRITERION":
            label, weight = ctx.clean(_text(el)), None
        else:
            continue
        out.append(ParsedCriterion(type=ctype, name=label, weight=None))
        raw_weights.append(weight)
    numbers: list[float | None] = []
    for raw in raw_weights:
        number = _weight(raw)
        numbers.append(number)
        if raw and number is None:
            ctx.warn(f"award criterion weight without a number: {raw!r}")
    given = [n for n in numbers if n is not None]
    percent = any("%" in (w or "") for w in raw_weights) or (
        given and len(given) == len(numbers) and abs(sum(given) - 100) < 0.5
    )
    for c, raw, number in zip(out, raw_weights, numbers, strict=True):
        c.weight = number
        if number is not None:
            low = (raw or "").lower()
            c.weight_code = "per-exa" if percent else "poi-exa" if "po" in low else "dec-exa"
    return out


_CRITERION_TYPES = {"AC_QUALITY": "quality", "AC_COST": "cost", "AC_PRICE": "price"}


@functools.lru_cache(maxsize=512)
def _weight(raw: str | None) -> float | None:
    """The number of an AC_WEIGHTING: ``30 %``, ``10,5``, ``1,900,000.000`` (thousands
    separated by commas), ``1.900.000,5``, ``40 points``; None without a number."""
    if not raw:
        return None
    m = _WEIGHT.search(raw)
    if m is None:
        return None
    text = m.group(0)
    if _THOUSANDS_COMMA.match(text):
        text = text.replace(",", "")
    elif _THOUSANDS_DOT.match(text):
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _lot_of(
    lot_no: str | None,
    title: str | None,
    lots: list[ParsedLot],
    lot_numbers: dict[str, str],
    items: dict[str, str],
    r: _Reader,
    what: str,
) -> list[str | None]:
    """The lot(s) an award is for: LOT_NO as a lot's LOT_NO (or ITEM), several numbers
    ("1, 2") each, the only lot, or the lot the award's title names."""
    if lot_no:
        if lot_no in lot_numbers:
            return [lot_numbers[lot_no]]
        # A list of lots: "1, 2", "1 og 3", or dotted "1.2.3.4" (three numbers or more:
        # "1.2" and "1.1A" are sub-lots of lot 1, see below).
        parts = [p for p in _LOT_LIST.split(lot_no) if p]
        dotted = [p for p in lot_no.split(".") if p.strip()]
        if len(parts) < 2 and len(dotted) >= 3:
            parts = [p.strip() for p in dotted]
        if len(parts) > 1 and all(p in lot_numbers for p in parts):
            return list(dict.fromkeys(lot_numbers[p] for p in parts))
        if lot_no in items:
            return [items[lot_no]]
        lead = re.match(r"\s*(?:lot|del(?:kontrakt|område)?|delytelse)?\s*(\d+)\b", lot_no, re.I)
        if lead and lead.group(1) in lot_numbers:  # "1 / Primo in cascata", "Lot 2"
            return [lot_numbers[lead.group(1)]]
    if len(lots) == 1:
        return [lots[0].lot_id]
    mapped = _lot_from_title(title or lot_no, lots)
    if mapped is not None:
        r.ctx.warn(f"{what}: lot {lot_no!r} read from its title {title!r}: {mapped}")
        return [mapped]
    if lots:
        r.ctx.warn(f"{what}: LOT_NO {lot_no!r} matches no lot of the notice")
    return [None]


class _Award(NamedTuple):
    """One AWARD_CONTRACT as read: where it is, what it names, the lots it is for."""

    result_id: str
    what: str
    title: str | None
    contract_no: str | None
    lot_ids: list[str | None]


def _results(
    r: _Reader,
    awards: list[Any],
    lots: list[ParsedLot],
    lot_numbers: dict[str, str],
    items: dict[str, str],
    framework: bool,
) -> list[ParsedResult]:
    """One record per AWARD_CONTRACT (and lot it names): its contractors are one winner
    group with the award's own value; NO_AWARDED_CONTRACT is a result without winner."""
    d, ctx = r.d, r.ctx
    out: list[ParsedResult] = []
    groups: dict[tuple[tuple[str | None, str | None], ...], str] = {}
    by_id = {lot.lot_id: lot for lot in lots}
    tenders = 0
    n = d.n
    for pos, award in enumerate(awards, 1):
        lot_no = title = contract_no = awarded = None
        not_awarded = False
        for c in award:  # one pass over the award's few children
            tag = c.tag[n:] if n else c.tag
            if tag == "AWARDED_CONTRACT":
                awarded = c
            elif tag == "LOT_NO":
                lot_no = _text(c)
            elif tag == "TITLE":
                title = ctx.clean(_paras(c, " "))
            elif tag == "CONTRACT_NO":
                contract_no = _text(c)
            elif tag == "NO_AWARDED_CONTRACT":
                not_awarded = True
        what = f"award {award.get('ITEM') or pos}"
        lot_ids = _lot_of(lot_no, title or contract_no, lots, lot_numbers, items, r, what)
        a = _Award(f"RES-{pos:04d}", what, title, contract_no, lot_ids)
        if awarded is None:
            code = "clos-nw" if not_awarded else None
            for lot_id in lot_ids:
                out.append(
                    ParsedResult(
                        result_id=a.result_id,
                        lot_id=lot_id,
                        winner_chosen=False if code else None,
                        result_code=code,
                        contract_id=contract_no,
                        contract_title=title,
                    )
                )
            continue
        tenders += 1
        ag = d.groups(awarded)
        out.extend(_awarded(r, a, ag, f"TEN-{tenders:04d}", groups, framework, by_id))
    return out


def _awarded(
    r: _Reader,
    a: _Award,
    ag: dict[str, list[Any]],
    tender_id: str,
    groups: dict[tuple[tuple[str | None, str | None], ...], str],
    framework: bool,
    by_id: dict[str, ParsedLot],
) -> list[ParsedResult]:
    """The results of an AWARDED_CONTRACT, one per lot it is for (the value on the first);
    ``groups``: the tendering party id of each set of contractors met so far. Outside a
    framework, its estimated total is the estimate of lots that have none."""
    winners = _contractors(r, ag, a.what)
    value, currency = _award_value(r, ag, a.what)
    estimate, estimate_currency = _estimate(r, ag, a.what)
    key = tuple((w.name, w.orgnr_raw) for w in winners)
    party_id = groups.setdefault(key, f"TPA-{len(groups) + 1:04d}") if winners else None
    conclusion = r.date(_first(ag, "DATE_CONCLUSION_CONTRACT"), f"conclusion date of {a.what}")
    if len(a.lot_ids) > 1 and value is not None:
        r.ctx.warn(f"{a.what} covers lots {', '.join(map(str, a.lot_ids))}: value on the first")
    out: list[ParsedResult] = []
    for i, lot_id in enumerate(a.lot_ids):
        res = ParsedResult(
            result_id=a.result_id,
            lot_id=lot_id,
            winner_chosen=True,
            result_code="selec-w",
            tender_value=value if i == 0 else None,
            currency=currency if i == 0 else None,
            conclusion_date=conclusion,
            winners=winners if i == 0 else list(winners),
            tender_id=tender_id,
            party_id=party_id,
            framework=True if framework else None,  # the contract is the framework
            contract_id=a.contract_no,
            contract_title=a.title,
        )
        if framework:
            # VAL_ESTIMATED_TOTAL of a framework: "estimated total maximum value for
            # the entire duration of this lot" (TED form label, V.2.4).
            res.framework_max_value = estimate
        out.append(res)
    if not framework and estimate is not None:
        for lot_id in a.lot_ids:
            lot = by_id.get(lot_id) if lot_id is not None else None
            if lot is not None and lot.estimated_value is None:
                lot.estimated_value, lot.currency = estimate, estimate_currency
    return out


def _estimate(r: _Reader, ag: dict[str, list[Any]], what: str) -> tuple[Decimal | None, str | None]:
    """VALUES/VAL_ESTIMATED_TOTAL (or VAL_ESTIMATED_TOTAL) of an awarded contract."""
    estimate_el = r.d.child(_first(ag, "VALUES"), "VAL_ESTIMATED_TOTAL")
    if estimate_el is None:
        estimate_el = _first(ag, "VAL_ESTIMATED_TOTAL")
    return r.amount(estimate_el, f"estimated total of {what}")


def _contractors(r: _Reader, ag: dict[str, list[Any]], what: str) -> list[ParsedParty]:
    d = r.d
    holders = ag.get("CONTRACTOR", [])
    for wrapper in ag.get("CONTRACTORS", ()):
        holders = holders + d.groups(wrapper).get("CONTRACTOR", [])
    winners: list[ParsedParty] = []
    for c in holders:
        party = r.party(d.child(c, "ADDRESS_CONTRACTOR"), f"contractor of {what}", shared=True)
        if party is not None and party not in winners:
            winners.append(party)
    return winners


def _award_value(
    r: _Reader, ag: dict[str, list[Any]], what: str
) -> tuple[Decimal | None, str | None]:
    """VALUES/VAL_TOTAL (the value of the contract awarded), else VAL_BARGAIN_PURCHASE;
    a VAL_RANGE_TOTAL (lowest and highest offer) is not a contract value."""
    d = r.d
    for holder in (_first(ag, "VALUES"), _first(ag, "VALUE")):
        el = d.child(holder, "VAL_TOTAL")
        if el is not None:
            return r.amount(el, f"value of {what}")
    for name in ("VAL_TOTAL", "VAL_BARGAIN_PURCHASE"):
        if name in ag:
            return r.amount(_first(ag, name), f"value of {what}")
    return None, None


def _prizes(r: _Reader, results: list[Any], lots: list[ParsedLot]) -> list[ParsedResult]:
    """Design contest results (F13): each WINNER of an AWARDED_PRIZE is one winner group
    (no contract value: VAL_PRIZE is a prize); NO_AWARDED_PRIZE: no winner."""
    d = r.d
    lot_id = lots[0].lot_id if len(lots) == 1 else None
    out: list[ParsedResult] = []
    n = 0
    for block in results:
        g = d.groups(block)
        for prize in g.get("AWARDED_PRIZE", ()):
            pg = d.groups(prize)
            decided = r.date(_first(pg, "DATE_DECISION_JURY"), "jury decision date")
            winners = list(pg.get("WINNER", ()))
            for wrapper in pg.get("WINNERS", ()):
                winners.extend(d.groups(wrapper).get("WINNER", ()))
            for w in winners:
                n += 1
                party = r.party(d.child(w, "ADDRESS_WINNER"), f"prize winner {n}")
                out.append(
                    ParsedResult(
                        result_id=f"RES-{n:04d}",
                        lot_id=lot_id,
                        winner_chosen=True,
                        result_code="selec-w",
                        award_date=decided,
                        winners=[party] if party is not None else [],
                        tender_id=f"TEN-{n:04d}",
                        party_id=f"TPA-{n:04d}",
                    )
                )
        if "NO_AWARDED_PRIZE" in g:
            out.append(
                ParsedResult(
                    result_id=f"RES-{n + 1:04d}",
                    lot_id=lot_id,
                    winner_chosen=False,
                    result_code="clos-nw",
                )
            )
    return out


def _modification(r: _Reader, el: Any, notice: ParsedNotice) -> None:
    """F20 section VII: the procurement after modification (duration, dates, CPV, value,
    contractors) replaces what section II and V say; the nature (VII.2.1) and the reason
    (VII.2.2) become the modification description and reason code (BT-202/BT-200)."""
    if el is None:
        return
    d, ctx = r.d, r.ctx
    g = d.groups(el)
    after = d.groups(_first(g, "DESCRIPTION_PROCUREMENT"))
    mod = d.groups(_first(g, "INFO_MODIFICATIONS"))
    texts = [_paras(_first(mod, "SHORT_DESCR"))]
    if "ADDITIONAL_NEED" in mod:
        notice.modification_reason = "add-wss"
        texts.append(_paras(_first(mod, "ADDITIONAL_NEED")))
    elif "UNFORESEEN_CIRCUMSTANCE" in mod:
        notice.modification_reason = "mod-cir"
        texts.append(_paras(_first(mod, "UNFORESEEN_CIRCUMSTANCE")))
    notice.modification_description = ctx.clean("\n".join(t for t in texts if t) or None)
    if after:
        lot = notice.lots[0] if len(notice.lots) == 1 else None
        if lot is not None:
            probe = ParsedLot(lot_id=lot.lot_id)
            _period(r, {k: v[0] for k, v in after.items()}, probe, f"modified {lot.lot_id}")
            if probe.duration_unit is not None or probe.start_date or probe.end_date:
                lot.duration_value, lot.duration_unit = probe.duration_value, probe.duration_unit
                lot.start_date, lot.end_date = probe.start_date, probe.end_date
            description = _paras(_first(after, "SHORT_DESCR"))
            if description:
                lot.description = ctx.clean(description)
        elif notice.lots:
            ctx.warn("modification of a notice with several lots: section VII not applied to a lot")
    value, currency = r.amount(
        d.child(_first(mod, "VALUES"), "VAL_TOTAL_AFTER"), "value after modification"
    )
    if value is None:
        value, currency = r.amount(
            d.child(_first(after, "VALUES"), "VAL_TOTAL"), "value after modification"
        )
    winners = _contractors(r, after, "the modified contract") if after else []
    awarded = [x for x in notice.results if x.winners]
    if len(awarded) == 1:
        if value is not None:
            awarded[0].tender_value, awarded[0].currency = value, currency
        if winners:
            awarded[0].winners = winners
    elif not awarded and (winners or value is not None):
        lot_id = notice.lots[0].lot_id if len(notice.lots) == 1 else None
        notice.results.append(
            ParsedResult(
                result_id="RES-0001",
                lot_id=lot_id,
                winner_chosen=True if winners else None,
                result_code="selec-w" if winners else None,
                tender_value=value,
                currency=currency,
                winners=winners,
                tender_id="TEN-0001",
                party_id="TPA-0001" if winners else None,
            )
        )
    elif value is not None or winners:
        ctx.warn("modification of several awards: value and contractors after it not applied")
