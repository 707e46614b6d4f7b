"""TED XML before eForms against the EU converter's eForms of the same notices.

tests/fixtures/notices/ted-legacy holds 78 real TED XML notices (TED_EXPORT R2.0.9) and
tests/fixtures/notices/ted-legacy-as-eforms 71 of them as the EU Publications Office's
TED-XML-to-eForms converter writes them (same file names; the converter's own development
notices). Each pair is parsed twice, by ``tracker.notices.ted_legacy`` and by the eForms parser,
and must give the same:

- notice: subtype, notice type, procedure type, dispatch date, planned date of the
  contract notice (BT-127), previous notices (compared as publication numbers: the
  converter writes OPP-090 ``00431038-2019`` for the OJ S number ``2019/S 177-431038``),
  buyers (name, orgnr, country), main CPV and every CPV, estimated value and currency,
  notice value (BT-161) and overall framework maximum (BT-118);
- lots (by id): title, main CPV and every CPV, estimated value and currency, framework
  code, duration value and unit, start and end date, renewals, tender and request
  deadlines (with the has-time flag), award criteria (type, name, weight);
- results (each awarded lot and winner group): lot, winner chosen, winners (name, orgnr),
  tender value and currency, conclusion date, award date, framework flag, framework
  maximum.

Where the converter itself changes what the TED XML says, the difference is a named
``Rule`` below: what the converter does, where it says or does so, and a check of the
evidence in the files of the pair (an element of the TED XML, of the converted XML). A
difference no rule explains fails the test, and so does a rule whose evidence is not in
the files. ``EXPECTED`` lists, per file, how often each rule applies: a change in either
reader or in the data shows up there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import NOTICES
from tracker.notices.eforms import parse_notice
from tracker.notices.records import ParsedNotice, ParsedResult
from tracker.notices.ted_legacy import parse_ted_legacy

LEGACY = NOTICES / "ted-legacy"
CONVERTED = NOTICES / "ted-legacy-as-eforms"
PAIRS = sorted(p.name for p in CONVERTED.glob("*.xml"))
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

# Subtypes for which the converter writes BT-765 "none" when FRAMEWORK is absent
# (xslt/lot.xslt, template framework-agreement).
CONVERTER_FRAMEWORK_NONE = {"7", "8", "9", "10", "11", "16", "17", "18", "22", "29", "30", "31"}


# --------------------------------------------------------------------------- evidence


class Ted:
    """The original-language form of a TED XML file, by local names."""

    def __init__(self, path: Path):
        root = etree.parse(str(path), SAFE).getroot()
        forms = root.findall("{*}FORM_SECTION/*")
        self.form = next((f for f in forms if f.get("CATEGORY") == "ORIGINAL"), forms[0])
        self.raw = path.read_bytes()

    def all(self, path: str) -> list[Any]:
        return self.form.findall("/".join("{*}" + p for p in path.split("/")))

    def texts(self, path: str) -> list[str]:
        return [" ".join("".join(e.itertext()).split()) for e in self.all(path)]

    def lot_numbers(self) -> set[str]:
        return {t for t in self.texts("OBJECT_CONTRACT/OBJECT_DESCR/LOT_NO")}


@dataclass
class Pair:
    name: str
    legacy: ParsedNotice
    eforms: ParsedNotice
    ted: Ted
    converted: bytes
    applied: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)

    def note(self, rule: str) -> None:
        self.applied[rule] += 1


@dataclass(frozen=True)
class Rule:
    name: str
    converter_does: str
    evidence: str
    # (pair, where, legacy value, eforms value) → True when this rule explains it (and
    # its evidence is in the files).
    explains: Callable[[Pair, str, Any, Any], bool]


def _weights_without_number(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" criteria") and isinstance(lv, list) and isinstance(ev, list)):
        return False
    if len(lv) != len(ev):
        return False
    raw = p.ted.texts("OBJECT_CONTRACT/OBJECT_DESCR/AC/*/AC_WEIGHTING")
    for a, b in zip(lv, ev, strict=True):
        if a == b:
            continue
        if a[:2] != b[:2] or a[2] is not None or b[2] != 1.0:
            return False
    return any(not re.search(r"\d", w) for w in raw)


def _price_only_ac(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" criteria") and ev == [] and lv == [("price", None, None)]):
        return False
    acs = p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/AC") + p.ted.all(
        "OBJECT_CONTRACT/OBJECT_DESCR/*/AC"
    )
    return any(
        [c.tag.rsplit("}", 1)[-1] for c in ac] == ["AC_PRICE"]
        and not "".join(ac.itertext()).strip()
        for ac in acs
    )


def _criteria_evaluation(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" criteria") and lv == [] and isinstance(ev, list) and len(ev) == 3):
        return False
    text = " ".join(p.ted.texts("PROCEDURE/CRITERIA_EVALUATION"))
    return [c[0] for c in ev] == ["cost", "price", "quality"] and all(
        _norm(c[1]) == _norm(text) and c[2] is None for c in ev
    )


def _deadline_cet(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" deadline") and lv and ev):
        return False
    (lt, lflag), (et, eflag) = lv, ev
    cet = dt.timezone(dt.timedelta(hours=1))
    return (
        lflag == eflag
        and et.tzinfo is not None
        and et.utcoffset() == dt.timedelta(hours=1)
        and lt.replace(tzinfo=None) == et.replace(tzinfo=None)
        and lt.astimezone(cet) != et
        and b"the time zone is assumed to be CET" in p.converted
    )


def _framework_none(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    return (
        where.endswith(" framework")
        and lv == "none"
        and ev is None
        and p.legacy.subtype not in CONVERTER_FRAMEWORK_NONE
        and not p.ted.all("PROCEDURE/FRAMEWORK")
    )


def _renewal_zero(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" renewals") and lv is None and ev == 0):
        return False
    return bool(p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/RENEWAL_DESCR")) or (
        p.legacy.subtype in ("15", "17", "18")
    )


def _award_estimate(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" value") and where.startswith("lot ") and ev == (None, None)):
        return False
    amounts = {
        Decimal(t.replace(" ", ""))
        for t in p.ted.texts("AWARD_CONTRACT/AWARDED_CONTRACT/VALUES/VAL_ESTIMATED_TOTAL")
    }
    return lv[0] in amounts and not p.ted.all("PROCEDURE/FRAMEWORK")


def _reestimated(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if where != "result framework_max" or ev is not None or lv is None:
        return False
    found = re.findall(rb"<efbc:ReestimatedValueAmount[^>]*>([^<]+)<", p.converted)
    return lv in {Decimal(x.decode()) for x in found} and bool(p.ted.all("PROCEDURE/FRAMEWORK"))


def _jury_date(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if where != "result dates":
        return False
    (l_concl, l_award), (e_concl, e_award) = lv, ev
    juries = {
        dt.date.fromisoformat(t) for t in p.ted.texts("RESULTS/AWARDED_PRIZE/DATE_DECISION_JURY")
    }
    return l_concl is None and e_award is None and l_award == e_concl and l_award in juries


def _contract_no_first_date(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if where != "result dates" or lv[1] != ev[1]:
        return False
    by_no: dict[str, list[str]] = {}
    for award in p.ted.all("AWARD_CONTRACT"):
        no = award.findtext("{*}CONTRACT_NO")
        date = award.findtext("{*}AWARDED_CONTRACT/{*}DATE_CONCLUSION_CONTRACT")
        if no and date:
            by_no.setdefault(no.strip(), []).append(date.strip())
    # The legacy date is one of the awards' own dates, the eForms one the first of them.
    return any(
        len(set(dates)) > 1
        and lv[0].isoformat() in dates
        and ev[0] == dt.date.fromisoformat(dates[0])
        for dates in by_no.values()
        if lv[0] is not None and ev[0] is not None
    )


def _start_1900(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    return (
        where.endswith(" start/end")
        and lv[0] is None
        and ev[0] == dt.date(1900, 1, 1)
        and lv[1] == ev[1]
        and bool(p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/DATE_END"))
        and not p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/DATE_START")
    )


def _indefinite(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    return (
        where.endswith(" duration")
        and lv == (None, "UNLIMITED")
        and ev == (None, None)
        and bool(p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/INDEFINITE_DURATION"))
    )


def _unknown_procedure(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    return (
        where == "procedure_type"
        and ev == "UNKNOWN"
        and lv == "neg-w-call"
        and bool(p.ted.all("PROCEDURE/PT_INVOLVING_NEGOTIATION"))
    )


def _duplicate_buyer(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if where != "buyers" or len(ev) <= len(lv) or sorted(set(ev)) != sorted(lv):
        return False
    names = p.ted.texts("CONTRACTING_BODY/ADDRESS_CONTRACTING_BODY/OFFICIALNAME") + p.ted.texts(
        "CONTRACTING_BODY/ADDRESS_CONTRACTING_BODY_ADDITIONAL/OFFICIALNAME"
    )
    return len(names) > len(set(names))


def _unmatched_lot_no(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if where != "result lot":
        return False
    numbers = p.ted.lot_numbers()
    award_nos = p.ted.texts("AWARD_CONTRACT/LOT_NO")
    raw = {n for n in award_nos if n not in numbers}
    without = any(a.find("{*}LOT_NO") is None for a in p.ted.all("AWARD_CONTRACT"))
    return (ev in raw) or (ev == "MISSING" and without)


def _framework_merge(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    """A legacy result without winner, on a lot the eForms side only has awarded results
    for: the converter groups a framework's AWARD_CONTRACTs by LOT_NO into one LotResult,
    awarded when any is (xslt/notice-result.xslt, variable lot-results, Winner Chosen)."""
    if where != "result unpaired legacy" or lv.winner_chosen is not False:
        return False
    if not p.ted.all("PROCEDURE/FRAMEWORK"):
        return False
    return any(r.lot_id == lv.lot_id and r.winners for r in p.eforms.results)


def _procurement_doc(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    sentence = (
        "Price is not the only award criterion and all criteria are stated only in the "
        "procurement documents."
    )
    return (
        where.endswith(" criteria")
        and lv == []
        and ev == [(None, sentence, None)]
        and bool(p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/AC/AC_PROCUREMENT_DOC"))
    )


def _quality_default(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" criteria") and isinstance(lv, list) and isinstance(ev, list)):
        return False
    untyped = [
        e
        for path in ("AC/AC_CRITERION", "*/AC/AC_CRITERION", "*/AC/AC_CRITERIA/AC_CRITERION")
        for e in p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/" + path)
    ]
    return (
        len(lv) == len(ev)
        and bool(untyped)
        and all(
            a[0] is None and b[0] == "quality" and a[1:] == b[1:]
            for a, b in zip(lv, ev, strict=True)
        )
        and b'The type "quality" has been used as a default' in p.converted
    )


def _no_time(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    if not (where.endswith(" deadline") and lv and ev):
        return False
    (lt, lflag), (et, eflag) = lv, ev
    return (
        not lflag
        and eflag
        and (lt.hour, lt.minute, lt.second) == (23, 59, 59)
        and (et.hour, et.minute) == (23, 59)
        and lt.date() == et.date()
        and not p.ted.all("PROCEDURE/TIME_RECEIPT_TENDERS")
        and b"TIME_RECEIPT_TENDERS was not found in TED XML" in p.converted
    )


def _price_outside_ac(p: Pair, where: str, lv: Any, ev: Any) -> bool:
    return (
        where.endswith(" criteria")
        and lv == [("price", None, None)]
        and ev == []
        and bool(p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/AC_PRICE"))
        and not p.ted.all("OBJECT_CONTRACT/OBJECT_DESCR/AC")
    )


RULES = [
    Rule(
        "cet-deadline",
        "writes every TED time as +01:00 (CET), also in summer",
        "comment at the top of every converted file: 'TED date elements have no time zone "
        "associated. For all dates in this notice, the time zone is assumed to be CET'; "
        "the reader takes the buyer's local time (Europe/Oslo, CEST in summer)",
        _deadline_cet,
    ),
    Rule(
        "framework-none",
        "writes BT-765 'none' only for subtypes 7-11, 16-18, 22, 29-31",
        "xslt/lot.xslt template framework-agreement; the TED form has no PROCEDURE/FRAMEWORK, "
        "which the reader reads as 'none' for every form that could say FRAMEWORK",
        _framework_none,
    ),
    Rule(
        "renewal-zero",
        "writes Renewal Maximum (BT-58) 0 when RENEWAL_DESCR is given, and for subtypes 15, "
        "17 and 18 always",
        "TED XML has no number of renewals (the converter's own warning: 'does not contain "
        "information for the maximum number of times a contract may be renewed'); the TED "
        "file has OBJECT_DESCR/RENEWAL_DESCR or is a subtype 15/17/18 notice",
        _renewal_zero,
    ),
    Rule(
        "price-only-ac-dropped",
        "drops an AC that holds only an empty AC_PRICE (lowest price)",
        "xslt/award-criteria.xslt template AC writes AwardingCriterion only when an AC "
        "child has text; the TED file's AC is <AC><AC_PRICE/></AC>",
        _price_only_ac,
    ),
    Rule(
        "criteria-evaluation-copied",
        "copies PROCEDURE/CRITERIA_EVALUATION (design contests) into three criteria typed "
        "cost, price and quality",
        "xslt/award-criteria.xslt template CRITERIA_EVALUATION ('copied to three Award "
        "Criterion Description (BT-540), to assist with editing'); the text names no weights",
        _criteria_evaluation,
    ),
    Rule(
        "weight-ord-imp",
        "writes weight 1 (ord-imp) for an AC_WEIGHTING without a number",
        "xslt/award-criteria.xslt template AC_WEIGHTING, otherwise branch; the TED "
        "AC_WEIGHTING is text such as 'EDMA' or 'as per docs'",
        _weights_without_number,
    ),
    Rule(
        "procurement-doc-sentence",
        "writes AC_PROCUREMENT_DOC (criteria only in the procurement documents) as a "
        "criterion named 'Price is not the only award criterion and all criteria are stated "
        "only in the procurement documents.' without type or weight",
        "xslt/award-criteria.xslt template AC_PROCUREMENT_DOC; the TED file has "
        "AC/AC_PROCUREMENT_DOC, which names no criterion (the reader gives none)",
        _procurement_doc,
    ),
    Rule(
        "criterion-type-quality-default",
        "types an AC_CRITERION without AC_QUALITY/AC_COST/AC_PRICE as quality",
        'its warning in the converted file: \'The type "quality" has been used as a '
        "default'; the TED file has AC/AC_CRITERION (concessions, defence), untyped",
        _quality_default,
    ),
    Rule(
        "deadline-without-time",
        "gives a DATE_RECEIPT_TENDERS without TIME_RECEIPT_TENDERS the time 23:59",
        "its warning in the converted file: 'TIME_RECEIPT_TENDERS was not found in TED XML'; "
        "the reader keeps the date without time (23:59:59, has_time False) as the eForms "
        "parser does for a date-only deadline",
        _no_time,
    ),
    Rule(
        "price-outside-ac",
        "ignores an AC_PRICE placed directly in OBJECT_DESCR (not in AC)",
        "xslt/award-criteria.xslt reads AC and DIRECTIVE_*/AC only; the TED file has "
        "OBJECT_DESCR/AC_PRICE",
        _price_outside_ac,
    ),
    Rule(
        "award-estimate-not-converted",
        "drops AWARDED_CONTRACT/VALUES/VAL_ESTIMATED_TOTAL outside frameworks",
        "ted-elements-not-convertible.md ('Initial estimated total value of the contract / "
        "lot ... no eForms equivalent'); the reader keeps it as the lot's estimated value",
        _award_estimate,
    ),
    Rule(
        "reestimated-value",
        "writes a framework's VAL_ESTIMATED_TOTAL as Framework Re-estimated Value (BT-660)",
        "efbc:ReestimatedValueAmount in the converted file holds the amount; the TED label "
        "reads 'estimated total maximum value for the entire duration of this lot', which "
        "the reader keeps as the framework maximum (BT-709), the eForms parser reads no BT-660",
        _reestimated,
    ),
    Rule(
        "jury-date-as-conclusion",
        "writes DATE_DECISION_JURY as cbc:IssueDate of the contract (BT-145 conclusion)",
        "xslt/notice-result.xslt template winner-decision-date (titled BT-1451, writes "
        "cbc:IssueDate); the reader keeps it as the winner decision (award) date",
        _jury_date,
    ),
    Rule(
        "contract-no-first-date",
        "merges AWARD_CONTRACTs that share a CONTRACT_NO into one contract with the first "
        "DATE_CONCLUSION_CONTRACT",
        "xslt/notice-result.xslt template contract-conclusion-date ('The first date found "
        "has been used'); the TED awards of that CONTRACT_NO carry different dates",
        _contract_no_first_date,
    ),
    Rule(
        "start-1900",
        "writes StartDate 1900-01-01 when TED gives DATE_END without DATE_START",
        "xslt/lot.xslt template DATE_END[not(../DATE_START)] ('a far past date was used')",
        _start_1900,
    ),
    Rule(
        "indefinite-outside-qs",
        "reads INDEFINITE_DURATION only under QS",
        "xslt/lot.xslt applies templates to QS/(INDEFINITE_DURATION|DATE_START) only; the "
        "TED file has OBJECT_DESCR/INDEFINITE_DURATION",
        _indefinite,
    ),
    Rule(
        "procedure-unknown",
        "writes procedure type 'UNKNOWN' (no code of the codelist) for PT_INVOLVING_NEGOTIATION",
        "xslt/other-mappings.xml procedure-types; the reader maps the light regime's "
        "'procedure involving negotiations' to neg-w-call",
        _unknown_procedure,
    ),
    Rule(
        "duplicate-buyer",
        "keeps a buyer twice when the TED form lists the same organisation in "
        "ADDRESS_CONTRACTING_BODY and ADDRESS_CONTRACTING_BODY_ADDITIONAL",
        "the TED file names the same OFFICIALNAME twice; the reader keeps one per name and id",
        _duplicate_buyer,
    ),
    Rule(
        "unmatched-lot-no",
        "writes an AWARD_CONTRACT/LOT_NO that names no OBJECT_DESCR/LOT_NO as the lot id "
        "(or 'MISSING' without LOT_NO)",
        "xslt/notice-result.xslt ('If no matching Lot, use AWARD_CONTRACT/LOT_NO'); the "
        "reader maps '1 / Primo in cascata' to lot 1 and leaves an award without LOT_NO "
        "among many lots without lot",
        _unmatched_lot_no,
    ),
    Rule(
        "framework-lot-merge",
        "groups a framework's AWARD_CONTRACTs by LOT_NO into one lot result, so a "
        "NO_AWARDED_CONTRACT beside awarded ones on that lot disappears",
        "xslt/notice-result.xslt variable lot-results (for-each-group by LOT_NO when "
        "FRAMEWORK) and Winner Chosen (selec-w when any award of the group is awarded)",
        _framework_merge,
    ),
]
RULE_NAMES = {r.name for r in RULES}


# --------------------------------------------------------------------------- views


def _norm(s: Any) -> Any:
    return " ".join(s.split()) if isinstance(s, str) else s


def _publication_number(notice_id: str) -> str:
    """``2019/S 177-431038`` and ``00431038-2019`` → ``431038-2019``."""
    ojs = re.fullmatch(r"(\d{4})/S \d{3}-(\d+)", notice_id)
    if ojs:
        return f"{int(ojs.group(2))}-{ojs.group(1)}"
    number = re.fullmatch(r"0*(\d+)-(\d{4})", notice_id)
    return f"{number.group(1)}-{number.group(2)}" if number else notice_id


def notice_view(n: ParsedNotice) -> dict[str, Any]:
    out: dict[str, Any] = {
        "subtype": n.subtype,
        "notice_type": n.notice_type,
        "procedure_type": n.procedure_type,
        "issue_date": n.issue_date,
        "planned_date": n.planned_date,
        "previous notices": sorted({_publication_number(x) for x in n.previous_notice_ids}),
        "buyers": [(_norm(b.name), b.orgnr, b.country) for b in n.buyers],
        "main_cpv": n.main_cpv,
        "cpv_codes": sorted(n.cpv_codes),
        "estimated_value": (
            n.estimated_value,
            n.currency if n.estimated_value is not None else None,
        ),
        "result_total": n.result_total,
        "result_framework_max": n.result_framework_max,
        "lot ids": sorted(lot.lot_id for lot in n.lots),
    }
    for lot in n.lots:
        k = f"lot {lot.lot_id}"
        out[f"{k} title"] = _norm(lot.title)
        out[f"{k} cpv"] = (lot.main_cpv, sorted(lot.cpv_codes))
        out[f"{k} value"] = (
            lot.estimated_value,
            lot.currency if lot.estimated_value is not None else None,
        )
        out[f"{k} framework"] = lot.framework_code
        out[f"{k} duration"] = (lot.duration_value, lot.duration_unit)
        out[f"{k} start/end"] = (lot.start_date, lot.end_date)
        out[f"{k} renewals"] = lot.max_renewals
        out[f"{k} deadline"] = (
            (lot.submission_deadline, lot.submission_deadline_has_time)
            if lot.submission_deadline
            else None
        )
        out[f"{k} request deadline"] = (
            (lot.request_deadline, lot.request_deadline_has_time) if lot.request_deadline else None
        )
        out[f"{k} criteria"] = [(c.type, _norm(c.name), c.weight) for c in lot.award_criteria]
    return out


def _winners(r: ParsedResult) -> tuple[tuple[str | None, str | None], ...]:
    return tuple((_norm(w.name), w.orgnr) for w in r.winners)


def _pair_results(p: Pair) -> None:
    """Pair each legacy result with an eForms one (same winners and tender value, the same
    lot first), then compare what the pairs say."""
    left = list(p.eforms.results)
    pairs: list[tuple[ParsedResult, ParsedResult | None]] = []
    rest: list[ParsedResult] = []

    def alike(er: ParsedResult, lr: ParsedResult) -> bool:
        return (
            _winners(er) == _winners(lr)
            and er.tender_value == lr.tender_value
            and er.winner_chosen == lr.winner_chosen
        )

    for lr in p.legacy.results:  # first the same lot, then any lot
        match = next((er for er in left if alike(er, lr) and er.lot_id == lr.lot_id), None)
        if match is None:
            rest.append(lr)
        else:
            left.remove(match)
            pairs.append((lr, match))
    for lr in rest:
        match = next((er for er in left if alike(er, lr)), None)
        if match is not None:
            left.remove(match)
        pairs.append((lr, match))
    for lr, match in pairs:
        if match is None:
            _differ(p, "result unpaired legacy", lr, None)
            continue
        for where, lv, ev in (
            ("result lot", lr.lot_id, match.lot_id),
            ("result currency", lr.currency, match.currency),
            (
                "result dates",
                (lr.conclusion_date, lr.award_date),
                (match.conclusion_date, match.award_date),
            ),
            ("result framework", lr.framework, match.framework),
            ("result framework_max", lr.framework_max_value, match.framework_max_value),
        ):
            if lv != ev:
                _differ(p, where, lv, ev)
    for er in left:
        _differ(p, "result unpaired eforms", None, er)


def _differ(p: Pair, where: str, lv: Any, ev: Any) -> None:
    for rule in RULES:
        if rule.explains(p, where, lv, ev):
            p.note(rule.name)
            return
    p.unexplained.append(f"{where}: legacy {lv!r} != eForms {ev!r}")


def compare(name: str) -> Pair:
    legacy_path, converted_path = LEGACY / name, CONVERTED / name
    p = Pair(
        name=name,
        legacy=parse_ted_legacy(legacy_path.read_bytes(), location=str(legacy_path)),
        eforms=parse_notice(converted_path.read_bytes(), location=str(converted_path)),
        ted=Ted(legacy_path),
        converted=converted_path.read_bytes(),
    )
    a, b = notice_view(p.legacy), notice_view(p.eforms)
    for key in sorted(set(a) | set(b)):
        lv, ev = a.get(key, "<absent>"), b.get(key, "<absent>")
        if lv != ev:
            _differ(p, key, lv, ev)
    _pair_results(p)
    return p


# --------------------------------------------------------------------------- expected

# How often each converter difference applies, per pair (files not named: none). Read
# from the pairs and checked against the TED XML and the converted XML, rule by rule.
EXPECTED: dict[str, dict[str, int]] = {
    "18-151256": {"cet-deadline": 1, "criteria-evaluation-copied": 1},
    "18-156915": {"criteria-evaluation-copied": 1, "jury-date-as-conclusion": 2},
    "18-168448": {"cet-deadline": 1, "price-outside-ac": 1},
    "18-412273": {"award-estimate-not-converted": 3},
    "18-536293": {"criteria-evaluation-copied": 1, "jury-date-as-conclusion": 5},
    "19-090974": {"framework-none": 1},
    "19-111211": {"criteria-evaluation-copied": 1},
    "19-271873": {
        "award-estimate-not-converted": 48,
        "price-only-ac-dropped": 109,
        "unmatched-lot-no": 1,
    },
    "19-289373": {"framework-none": 1, "renewal-zero": 1},
    "19-318420": {"award-estimate-not-converted": 1, "criterion-type-quality-default": 1},
    "20-155018": {"framework-none": 1},
    "20-156049": {"cet-deadline": 1},
    "20-156983": {"cet-deadline": 7, "procurement-doc-sentence": 7, "renewal-zero": 7},
    "20-157399": {"award-estimate-not-converted": 1, "price-only-ac-dropped": 1},
    "20-157543": {"price-only-ac-dropped": 3, "reestimated-value": 3},
    "20-162034": {"deadline-without-time": 1},
    "20-164186": {"cet-deadline": 1, "procurement-doc-sentence": 1},
    "20-179994": {"cet-deadline": 1, "criteria-evaluation-copied": 1},
    "20-198944": {"cet-deadline": 1},
    "20-213571": {"cet-deadline": 2, "procurement-doc-sentence": 2},
    "20-246700": {"cet-deadline": 1, "procurement-doc-sentence": 1},
    "20-260117": {"cet-deadline": 1, "procurement-doc-sentence": 1, "renewal-zero": 1},
    "20-271232": {"indefinite-outside-qs": 1, "renewal-zero": 1, "weight-ord-imp": 1},
    "20-295737": {"cet-deadline": 1, "framework-none": 1},
    "20-318547": {"framework-none": 1, "renewal-zero": 1},
    "20-343258": {"cet-deadline": 1, "procurement-doc-sentence": 1},
    "20-377805": {"cet-deadline": 1, "price-only-ac-dropped": 1},
    "20-537923": {"reestimated-value": 178, "unmatched-lot-no": 1, "weight-ord-imp": 5},
    "20-560391": {"framework-none": 3},
    "20-566267": {"procurement-doc-sentence": 3},
    "20-620029": {"procurement-doc-sentence": 1, "renewal-zero": 1},
    "21-000934": {"award-estimate-not-converted": 1},
    "21-010961": {"award-estimate-not-converted": 1},
    "21-050204": {"reestimated-value": 1},
    "21-051959": {"procurement-doc-sentence": 30},
    "21-064844": {"price-only-ac-dropped": 1, "renewal-zero": 1},
    "21-077815": {"deadline-without-time": 1, "duplicate-buyer": 1, "procurement-doc-sentence": 1},
    "21-119240": {"cet-deadline": 2, "procurement-doc-sentence": 2, "renewal-zero": 2},
    "21-119282": {"cet-deadline": 1, "criterion-type-quality-default": 1},
    "21-120407": {"cet-deadline": 1, "procurement-doc-sentence": 1},
    "21-139343": {"reestimated-value": 2},
    "21-149886": {"criterion-type-quality-default": 1, "framework-none": 1},
    "21-158592": {"award-estimate-not-converted": 1, "framework-none": 1},
    "21-205737": {"criterion-type-quality-default": 1},
    "21-298854": {"framework-none": 6},
    "21-357646": {"price-only-ac-dropped": 1, "reestimated-value": 1},
    "21-362774": {"cet-deadline": 1, "price-only-ac-dropped": 1},
    "21-363062": {"cet-deadline": 1, "price-only-ac-dropped": 1, "start-1900": 1},
    "21-363066": {"cet-deadline": 1, "procurement-doc-sentence": 1},
    "21-363118": {"cet-deadline": 1, "criteria-evaluation-copied": 1},
    "21-364082": {"cet-deadline": 1, "procurement-doc-sentence": 1, "renewal-zero": 1},
    "21-364180": {"award-estimate-not-converted": 1, "price-only-ac-dropped": 1},
    "21-364236": {"cet-deadline": 1, "price-only-ac-dropped": 1},
    "21-364240": {"price-only-ac-dropped": 1},
    "21-364516": {"cet-deadline": 1, "criteria-evaluation-copied": 1},
    "21-419119": {"cet-deadline": 1, "criteria-evaluation-copied": 1},
    "21-635824": {"procedure-unknown": 1, "reestimated-value": 1},
    "22-023722": {"award-estimate-not-converted": 4, "framework-none": 4},
    "22-073124": {"criterion-type-quality-default": 1, "framework-none": 1},
    "22-086633": {"award-estimate-not-converted": 7, "contract-no-first-date": 1},
    "22-091559": {"framework-lot-merge": 1, "price-only-ac-dropped": 5, "reestimated-value": 6},
    "22-109282": {"price-only-ac-dropped": 3, "reestimated-value": 6, "unmatched-lot-no": 5},
    "22-434184": {"cet-deadline": 2, "price-only-ac-dropped": 2},
}

# The converter writes nothing for a corrigendum (F14, CHANGES): an empty file.
NOT_CONVERTED = {"23-119901-001-EXP.xml": "F14_2014 (corrigendum): the converter's output is empty"}


# --------------------------------------------------------------------------- tests


def test_the_fixtures_are_the_shared_pairs() -> None:
    assert len(list(LEGACY.glob("*.xml"))) == 78
    assert len(PAIRS) == 71
    assert all((LEGACY / name).is_file() for name in PAIRS)


@pytest.mark.parametrize("name", PAIRS)
def test_pair_reads_the_same(name: str) -> None:
    if name in NOT_CONVERTED:
        assert (CONVERTED / name).read_bytes() == b"", NOT_CONVERTED[name]
        legacy = parse_ted_legacy((LEGACY / name).read_bytes(), location=name)
        assert legacy.form_type == "change" and legacy.changed_notice_id == "2022/S 098-267307"
        return
    p = compare(name)
    assert p.unexplained == [], f"{name}: differences no converter rule explains"
    assert dict(p.applied) == EXPECTED.get(name[:9], {}), f"{name}: converter differences"


def test_every_rule_is_needed_and_known() -> None:
    used = {rule for counts in EXPECTED.values() for rule in counts}
    assert used == RULE_NAMES
    assert all(r.converter_does and r.evidence for r in RULES)


def test_the_pairs_compare_many_facts() -> None:
    """The comparison is not vacuous: the pairs carry buyers, lots, winners and values."""
    lots = results = winners = valued = buyers = 0
    for name in PAIRS:
        if name in NOT_CONVERTED:
            continue
        p = compare(name)
        buyers += len(p.legacy.buyers)
        lots += len(p.legacy.lots)
        results += len(p.legacy.results)
        winners += sum(len(r.winners) for r in p.legacy.results)
        valued += sum(1 for r in p.legacy.results if r.tender_value is not None)
    assert buyers >= 110 and lots >= 250 and results >= 390
    assert winners >= 420 and valued >= 230
