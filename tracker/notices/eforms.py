"""eForms notice parser: UBL XML bytes in, typed records out (pure, no database).

``parse_notice(data, location=...)`` reads the fields listed in docs/domain.md ("eForms
fields the product reads"; XPaths in the eForms SDK ``fields.json``) from any eForms
notice: EU subtypes 1-40, Norwegian national subtypes (N4, N16, N29, E1-E6), native and
retroconverted notices. It never raises on odd content: it flags it in ``warnings``
(mojibake repaired, invalid or textual orgnr, placeholder 2099 dates, "[Test]" notices,
retroconverted notices, unparseable dates or amounts). It raises ``NoticeParseError`` only
when the bytes are not a notice at all, and ``UnsafeXMLError`` for DTDs and entities.

Speed: one ``lxml.etree.fromstring`` with a safe parser, then a walk over the children
of the few elements that matter (no per-field full-tree XPath searches).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tracker.errors import NoticeParseError
from tracker.notices.eforms_lots import _cpvs, _framework_max, _lot, _results, _same_currency
from tracker.notices.records import ParsedNotice, ParsedParty
from tracker.notices.text import collapse_spaces
from tracker.notices.xmlread import (
    CAC,
    CBC,
    EFAC,
    EFBC,
    EXT,
    NORWEGIAN,
    _child,
    _ctext,
    _Ctx,
    _eforms_in,
    _first,
    _groups,
    _load,
    _text,
)
from tracker.orgnr import clean_orgnr

# Bump when a parser change alters stored values; ``tracker reparse`` re-runs older rows.
# 1.1: one result per awarded lot and winner group, notes, maxima;
# 1.2: + selection criteria (BT-747/749/750), tenders received (BT-759)
PARSER_VERSION = "1.3"
parser_version = PARSER_VERSION  # alias kept for callers that use the lower-case name

ROOT_NAMESPACES = (
    "{urn:oasis:names:specification:ubl:",
    "{http://data.europa.eu/p27/eforms-business-registration-information-notice/",
)
UBL_ROOTS = {
    "ContractNotice",
    "ContractAwardNotice",
    "PriorInformationNotice",
    "BusinessRegistrationInformationNotice",
}

_UUID_VERSION = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(\d{2})$", re.IGNORECASE
)
# Countries whose own company ids are nine digits (France: SIREN): such an id that happens
# to pass the Norwegian mod-11 check is not taken for a Norwegian organisation number.
_NINE_DIGIT_IDS = frozenset({None, "NOR", "FRA"})
_TEST_MARK = re.compile(r"\[\s*test\s*\]", re.IGNORECASE)


def parse_notice(data: bytes, *, location: str | None = None) -> ParsedNotice:
    """Parse one eForms notice. Raises NoticeParseError (UnsafeXMLError for DTDs/entities)."""
    where = location or "<notice>"
    root = _load(data, location)
    tag = root.tag
    if not isinstance(tag, str) or not tag.startswith(ROOT_NAMESPACES):
        raise NoticeParseError(f"{where}: not an eForms UBL notice (root element {tag!r})")
    doc_type = tag.rsplit("}", 1)[1]
    if doc_type not in UBL_ROOTS:
        raise NoticeParseError(f"{where}: not an eForms notice (root element {doc_type})")

    ctx = _Ctx()
    root_groups = _groups(root)
    top = {tag: els[0] for tag, els in root_groups.items()}
    notice = _header(data, root_groups, top, ctx)
    notice.document_type = doc_type
    notice.location = location
    ext = _eforms_in(top.get(EXT + "UBLExtensions"))
    result_groups: dict[str, list[Any]] = {}
    parties = root_groups.get(CAC + "ContractingParty", [])
    orgs: dict[str, ParsedParty] = {}
    if ext is not None:
        result_groups, orgs = _extension(_groups(ext), parties, notice, ctx)

    _procedure(top, notice, ctx)
    _buyers(parties, notice, orgs, ctx)
    for lot_el in root_groups.get(CAC + "ProcurementProjectLot", ()):
        id_el = _child(lot_el, CBC + "ID")
        if id_el is None or id_el.get("schemeName") == "LotsGroup":
            continue
        notice.lots.append(_lot(lot_el, _text(id_el) or "", ctx))
    notice.regulatory_domain = _text(top.get(CBC + "RegulatoryDomain"))
    if result_groups:
        _notice_result(result_groups, top, notice, orgs, ctx)

    # A PIN used as call for competition (subtypes 10-14) has no request deadline: the
    # deadline for expressions of interest (BT-630) plays that role.
    if (notice.notice_type or "").startswith("pin-cfc"):
        for lot in notice.lots:
            if lot.request_deadline is None and lot.interest_deadline is not None:
                lot.request_deadline = lot.interest_deadline
                lot.request_deadline_has_time = True

    return finish_notice(notice, ctx, "OPT-300")


def _header(
    data: bytes, root_groups: dict[str, list[Any]], top: dict[str, Any], ctx: _Ctx
) -> ParsedNotice:
    """The notice's identity (BT-701, BT-757), type, language and dates (root children)."""
    notice_id = None
    for id_el in root_groups.get(CBC + "ID", ()):
        if id_el.get("schemeName") in (None, "notice-id"):
            notice_id = _text(id_el)
            break
    if not notice_id:
        # Business-rule-invalid notices (SDK INVALID_* samples) still parse under a stable id.
        notice_id = "unidentified-" + hashlib.sha256(bytes(data)).hexdigest()[:32]
        ctx.warn(f"no notice identifier (BT-701); using {notice_id}")
    version = _text(top.get(CBC + "VersionID"))
    if not version:
        ctx.warn("no notice version (BT-757); assumed 01")
        version = "01"

    language = _text(top.get(CBC + "NoticeLanguageCode"))
    if language:
        language = language.upper()
        if language not in NORWEGIAN:
            ctx.langs = (*NORWEGIAN, language)
    type_el = top.get(CBC + "NoticeTypeCode")
    customization_id = _text(top.get(CBC + "CustomizationID"))
    notice = ParsedNotice(
        notice_id=notice_id,
        version=version,
        procedure_id=_text(top.get(CBC + "ContractFolderID")),
        notice_type=_text(type_el),
        form_type=type_el.get("listName") if type_el is not None else None,
        customization_id=customization_id,
        language=language,
    )
    notice.issue_date = ctx.date(top.get(CBC + "IssueDate"), "issue date (BT-05)")
    notice.planned_date = ctx.date(top.get(CBC + "PlannedDate"), "planned date (BT-127)")
    if (
        customization_id
        and "anskaffelser.no" in customization_id
        and "#extended" not in customization_id
    ):
        ctx.warn("retroconverted notice (CustomizationID lacks #extended): fields may be missing")
    return notice


def _extension(
    eg: dict[str, list[Any]], parties: list[Any], notice: ParsedNotice, ctx: _Ctx
) -> tuple[dict[str, list[Any]], dict[str, ParsedParty]]:
    """Subtype, changes and modification from the eForms extension; returns the notice
    result's children by tag and the organisations that buyers and tenderers name."""
    notice.subtype = _ctext(_first(eg, EFAC + "NoticeSubType"), CBC + "SubTypeCode")
    changed = _ctext(_first(eg, EFAC + "Changes"), EFBC + "ChangedNoticeIdentifier")
    if changed:
        m = _UUID_VERSION.match(changed)
        if m:
            notice.changed_notice_id, notice.changed_notice_version = m.group(1), m.group(2)
        else:
            notice.changed_notice_id = changed
    modification = _first(eg, EFAC + "ContractModification")
    modified = _ctext(modification, EFBC + "ChangedNoticeIdentifier")
    if modified:
        notice.modified_notice_id = modified
    if modification is not None:
        _modification(modification, notice, ctx)
    # Only buyers and tenderers are read (not review bodies, eSenders...): faster,
    # and no warnings about organisations the product never shows.
    result_groups: dict[str, list[Any]] = {}
    result_el = _first(eg, EFAC + "NoticeResult")
    if result_el is not None:
        result_groups = _groups(result_el)
    wanted = _buyer_refs(parties) | _tenderer_refs(result_groups)
    orgs = _organisations(_first(eg, EFAC + "Organizations"), ctx, wanted)
    return result_groups, orgs


def _notice_result(
    result_groups: dict[str, list[Any]],
    top: dict[str, Any],
    notice: ParsedNotice,
    orgs: dict[str, ParsedParty],
    ctx: _Ctx,
) -> None:
    """The notice value (BT-161), overall framework maximum (BT-118) and the results."""
    total, _ = ctx.amount(_first(result_groups, CBC + "TotalAmount"), "notice value (BT-161)")
    notice.result_total = total
    overall, overall_currency = ctx.amount(
        _first(result_groups, EFBC + "OverallMaximumFrameworkContractsAmount"),
        "overall framework maximum (BT-118)",
    )
    notice.result_framework_max = overall
    notice.currency = _same_currency(notice.currency, overall_currency, ctx, "BT-118")
    notice_award = ctx.date(
        _child(top.get(CAC + "TenderResult"), CBC + "AwardDate"), "award date (BT-1451)"
    )
    notice.results = _results(result_groups, orgs, ctx, notice.lots, notice_award)


def finish_notice(notice: ParsedNotice, ctx: _Ctx, buyer_field: str) -> ParsedNotice:
    """Notice-level roll-ups (every lot's CPV, documents URL and previous notices, the
    main CPV), the test flag and the closing warnings; shared by both readers."""
    prev = list(notice.previous_notice_ids)
    for lot in notice.lots:
        prev.extend(lot.previous_notice_ids)
        for code in lot.cpv_codes:
            if code not in notice.cpv_codes:
                notice.cpv_codes.append(code)
        if notice.documents_url is None and lot.documents_url:
            notice.documents_url = lot.documents_url
    if notice.modified_notice_id:
        prev.append(notice.modified_notice_id)
    notice.previous_notice_ids = list(dict.fromkeys(p for p in prev if p))
    if notice.main_cpv is None and notice.cpv_codes:
        notice.main_cpv = notice.cpv_codes[0]

    names = [notice.title or ""] + [b.name or "" for b in notice.buyers]
    if any("[" in n and _TEST_MARK.search(n) for n in names):
        notice.is_test = True
        ctx.warn("test notice ([Test] in title or buyer name)")
    if not notice.buyers:
        ctx.warn(f"no buyer ({buyer_field}) found")
    if ctx.repaired:
        ctx.warn(f"repaired mojibake in {ctx.repaired} text field(s)")
    notice.warnings = ctx.warnings
    return notice


def _modification(el: Any, notice: ParsedNotice, ctx: _Ctx) -> None:
    """BT-200 reason code, BT-202 change description and BT-201 reason description of a
    contract modification notice (empty in many real modification notices)."""
    texts: list[str] = []
    for change in el.iterchildren(EFAC + "Change"):
        text = ctx.lang_text(change, EFBC + "ChangeDescription")
        if text:
            texts.append(text)
    reason = _child(el, EFAC + "ChangeReason")
    if reason is not None:
        notice.modification_reason = _ctext(reason, CBC + "ReasonCode")
        text = ctx.lang_text(reason, EFBC + "ReasonDescription")
        if text:
            texts.append(text)
    notice.modification_description = "\n".join(texts) or None


def _procedure(top: dict[str, Any], notice: ParsedNotice, ctx: _Ctx) -> None:
    project_el = top.get(CAC + "ProcurementProject")
    if project_el is not None:
        project = _groups(project_el)
        notice.title = ctx.lang_of(project.get(CBC + "Name"), "title")
        notice.description = ctx.lang_of(project.get(CBC + "Description"))
        notice.main_cpv, notice.cpv_codes = _cpvs(project)
        total = _first(project, CAC + "RequestedTenderTotal")
        notice.estimated_value, notice.currency = ctx.amount(
            _child(total, CBC + "EstimatedOverallContractAmount"), "estimated value (BT-27)"
        )
        notice.framework_max_value, max_currency = _framework_max(
            total, ctx, "framework maximum (BT-271)"
        )
        notice.currency = _same_currency(notice.currency, max_currency, ctx, "BT-271")
        notice.note = ctx.lang_of(project.get(CBC + "Note"))
        notice.contract_nature = _text(_first(project, CBC + "ProcurementTypeCode"))
    process = top.get(CAC + "TenderingProcess")
    if process is not None:
        notice.procedure_type = _ctext(process, CBC + "ProcedureCode")
        for ref in process.iterchildren(CAC + "NoticeDocumentReference"):
            ref_id = _ctext(ref, CBC + "ID")
            if ref_id:
                notice.previous_notice_ids.append(ref_id)


def _buyer_refs(parties: list[Any]) -> set[str]:
    refs = set()
    for cp in parties:
        ref = _ctext(cp, CAC + "Party", CAC + "PartyIdentification", CBC + "ID")
        if ref:
            refs.add(ref)
    return refs


def _tenderer_refs(result: dict[str, list[Any]]) -> set[str]:
    refs: set[str] = set()
    for party in result.get(EFAC + "TenderingParty", ()):
        for tenderer in party.iterchildren(EFAC + "Tenderer"):
            ref = _ctext(tenderer, CBC + "ID")
            if ref:
                refs.add(ref)
    return refs


def _organisations(orgs: Any, ctx: _Ctx, wanted: set[str]) -> dict[str, ParsedParty]:
    """OPT-200 technical id → party (name BT-500, orgnr BT-501, country BT-514), for the
    organisations in ``wanted`` (``orgs``: the efac:Organizations element or None)."""
    out: dict[str, ParsedParty] = {}
    if orgs is None or not wanted:
        return out
    for org in orgs:
        if org.tag != EFAC + "Organization":
            continue
        company_el = _child(org, EFAC + "Company")
        if company_el is None:
            continue
        tech_id = _ctext(company_el, CAC + "PartyIdentification", CBC + "ID")
        if not tech_id or tech_id not in wanted:
            continue
        company = _groups(company_el)
        raw_name = ctx.pick_lang(
            n for pn in company.get(CAC + "PartyName", ()) for n in pn if n.tag == CBC + "Name"
        )
        country = _ctext(
            _first(company, CAC + "PostalAddress"), CAC + "Country", CBC + "IdentificationCode"
        )
        orgnr_raw = None
        for legal in company.get(CAC + "PartyLegalEntity", ()):
            orgnr_raw = _ctext(legal, CBC + "CompanyID")
            if orgnr_raw:
                break
        out[tech_id] = make_party(raw_name, orgnr_raw, country, ctx, tech_id)
    return out


def make_party(
    raw_name: str | None, orgnr_raw: str | None, country: str | None, ctx: _Ctx, label: str
) -> ParsedParty:
    """A party from its name, organisation id and country (ISO alpha-3) as written, with
    the orgnr rules (Norwegian or unknown country: cleaned and validated, problems warned
    with ``label`` when there is no name; a foreign company's valid Norwegian number is
    kept). Shared by the eForms and the TED XML readers."""
    name = ctx.clean(collapse_spaces(raw_name), "organisation name") if raw_name else None
    orgnr = None
    if orgnr_raw and (country in (None, "NOR")):
        orgnr, problem = clean_orgnr(orgnr_raw)
        if problem:
            if (
                raw_name
                and collapse_spaces(orgnr_raw).casefold() == collapse_spaces(raw_name).casefold()
            ):
                problem = f"orgnr field holds the name: {orgnr_raw!r}"
            ctx.warn(f"{problem} ({name or label}); kept raw")
    elif orgnr_raw and country not in _NINE_DIGIT_IDS:
        # A foreign company registered in Norway (NUF) has a Norwegian number: nine
        # digits that pass the mod-11 check. Other foreign ids are not orgnrs.
        candidate, problem = clean_orgnr(orgnr_raw)
        if candidate is not None and problem is None and orgnr_raw.strip().isdigit():
            orgnr = candidate
            ctx.warn(
                f"{name or label} ({country}) has a Norwegian organisation number "
                f"{orgnr} (a Norwegian-registered branch): kept"
            )
    return ParsedParty(name=name, orgnr=orgnr, orgnr_raw=orgnr_raw, country=country)


def _buyers(
    parties: list[Any], notice: ParsedNotice, orgs: dict[str, ParsedParty], ctx: _Ctx
) -> None:
    seen: set[str] = set()
    for cp in parties:
        legal_type = None
        party = None
        for c in cp:
            tag = c.tag
            if tag == CAC + "ContractingPartyType":
                code = _child(c, CBC + "PartyTypeCode")
                if code is not None and code.get("listName") == "buyer-legal-type":
                    legal_type = _text(code)
            elif tag == CAC + "Party" and party is None:
                party = c
        ref = _ctext(party, CAC + "PartyIdentification", CBC + "ID")
        if not ref or ref in seen:
            continue
        seen.add(ref)
        org = orgs.get(ref)
        if org is None:
            ctx.warn(f"buyer {ref} has no organisation entry")
            continue
        notice.buyers.append(
            ParsedParty(
                name=org.name,
                orgnr=org.orgnr,
                orgnr_raw=org.orgnr_raw,
                country=org.country,
                legal_type=legal_type,
            )
        )
