"""TED XML before eForms (``TED_EXPORT``, schema R2.0.9): bytes in, the eForms records out.

TED published the EU notices of 2014-2023 as ``TED_EXPORT`` documents: coded data (the
OJ S number ``2018/S 123-456789``, dates, CPV), translations, and one form per language
(``F03_2014 CATEGORY="ORIGINAL"``, then the translations). ``parse_ted_legacy`` reads the
original form into the same ``ParsedNotice`` the eForms parser fills, so ingest, contracts
and ``tracker parse --json`` treat both alike:

===========================  ============================================================
TED XML                      ParsedNotice (eForms business term)
===========================  ============================================================
NO_DOC_OJS                   notice_id ``2021/S 133-354339`` (version ``01``)
form, NOTICE TYPE, LEGAL_..  subtype, notice_type, form_type, document_type (``FORMS``)
PROCEDURE/NOTICE_NUMBER_OJ   procedure_id of a result or modification (its competition's
                             number; a competition's own number otherwise: BT-04 groups a
                             contract notice with its award), previous_notice_ids
DATE_DISPATCH_NOTICE         issue_date (BT-05)
ADDRESS_CONTRACTING_BODY     buyers: OFFICIALNAME, NATIONALID (orgnr), COUNTRY, CA_TYPE
(_ADDITIONAL)
CPV_MAIN, CPV_ADDITIONAL     main_cpv, cpv_codes of notice and lots
PT_*                         procedure_type (open, restricted, neg-w-call, neg-wo-call, ..)
VAL_ESTIMATED_TOTAL          estimated_value (BT-27); VAL_OBJECT: the lot's
OBJECT_DESCR                 lots ``LOT-0001`` from LOT_NO (``LOT-0000`` for one lot
                             without number; ``PAR-`` in a PIN only for information)
DURATION, DATE_START/_END    duration (BT-36), start/end (BT-536/537); INDEFINITE: UNLIMITED
RENEWAL_DESCR, OPTIONS_DESCR renewal and options description (BT-57/BT-54; no count)
AC_QUALITY/COST/PRICE        award criteria with AC_WEIGHTING (BT-539/734/541)
FRAMEWORK                    framework_code ``fa-wo-rc``... see FRAMEWORK_CODE
DATE_RECEIPT_TENDERS (+TIME) tender deadline (BT-131; BT-630 for a PIN used as a call),
                             Europe/Oslo local time
AWARD_CONTRACT               one result per AWARD_CONTRACT (= awarded lot and winner
                             group): CONTRACTORS (winners), VALUES/VAL_TOTAL (the tender
                             value), DATE_CONCLUSION_CONTRACT, CONTRACT_NO, TITLE;
                             NO_AWARDED_CONTRACT: a result without winner
RESULTS/AWARDED_PRIZE        design contest winners (F13), DATE_DECISION_JURY
MODIFICATIONS_CONTRACT       F20: the contract after modification (duration, value,
                             contractors) and the reason (BT-200/202)
CHANGES (F14)                a corrigendum: changed_notice_id = the corrected notice
===========================  ============================================================

Forms read: F01-F08, F12-F15, F20-F25 of R2.0.9 (2014 directives). Anything else (the
R2.0.8 forms of the 2004 directives, defence forms of 2009/81 in their own schema, public
transport T01/T02) is read from the coded data alone (identity, dates, CPV, notice kind,
procedure) with a warning saying so; nothing raises on a real notice.

Safety and speed: DTDs are refused like in ``tracker.notices.eforms``; the safe parser has entity
expansion and network off. Two thirds of a TED_EXPORT are translations the reader never
uses, so it parses the coded data and the original form only (sliced at element
boundaries; the document must end with its closing root tag, so a truncated download is
refused), and falls back to the whole document when the slices cannot be found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tracker.errors import NoticeParseError, UnsafeXMLError
from tracker.notices.eforms import finish_notice
from tracker.notices.eforms_lots import _text_criteria, count_parallel
from tracker.notices.records import ParsedCriterion, ParsedNotice
from tracker.notices.ted_lots import _lot, _modification, _prizes, _results, scan_lot
from tracker.notices.ted_reader import (
    _BY_BASIS,
    _BY_DOCUMENT_TYPE,
    _BY_PR_PROC,
    _BY_TYPE,
    _DEFAULT_NS,
    _DIRECTIVES_ALL,
    _FIXED,
    _FRAMEWORK_FORMS,
    _LOT_NUMBER,
    _TYPE_DEFAULT,
    FRAMEWORK_CODE,
    LANGUAGES,
    LEGAL_TYPES,
    PROCEDURES,
    ROOT,
    SUBTYPES,
    _Doc,
    _paras,
    _Reader,
    _value,
    _yyyymmdd,
    normalise_ojs,
)
from tracker.notices.xmlread import _Ctx, _first, _load, _text, prolog_end

# --------------------------------------------------------------------------- loading


def _root_span(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the root start tag after the prolog; None when there is none (or a
    DOCTYPE comes first)."""
    i = prolog_end(data)
    if i < 0 or data.startswith(b"<!", i):
        return None
    end = data.find(b">", i)
    return (i, end + 1) if end > 0 else None


def is_ted_export(data: bytes) -> bool:
    """True when the root element of ``data`` is ``TED_EXPORT`` (any namespace or prefix)."""
    span = _root_span(data)
    if span is None:
        return False
    name = data[span[0] + 1 : span[1]].split(None, 1)[0].rstrip(b"/>")
    return name.rsplit(b":", 1)[-1] == ROOT.encode()


def _slice(data: bytes, span: tuple[int, int], root_name: bytes) -> bytes | None:
    """The document with only its coded data and original form (None when not found).

    The TED namespace declared as the default on the root is dropped (the prefixed ones,
    NUTS, stay): the reader reads local names, and short unqualified tags are a fifth of
    the reading time saved."""
    head_end = span[1]
    c1 = data.find(b"<CODED_DATA_SECTION", head_end)
    if c1 < 0:
        return None
    c2 = data.find(b"</CODED_DATA_SECTION>", c1)
    if c2 < 0:
        return None
    c2 += len(b"</CODED_DATA_SECTION>")
    o = data.find(b'CATEGORY="ORIGINAL"', c2)
    if o < 0:
        return None
    s = data.rfind(b"<", c2, o)
    if s < 0:
        return None
    name = data[s + 1 : o].split(None, 1)[0]
    if not name or b"/" in name or b">" in name:
        return None
    e = data.find(b"</" + name + b">", o)
    if e < 0:
        return None
    e += len(name) + 3
    prefix = root_name.rsplit(b":", 1)[0] + b":" if b":" in root_name else b""
    head = data[:head_end]
    if not prefix:
        head = data[: span[0]] + _DEFAULT_NS.sub(b"", data[span[0] : head_end], count=1)
    return b"".join(
        (
            head,
            data[c1:c2],
            b"<" + prefix + b"FORM_SECTION>",
            data[s:e],
            b"</" + prefix + b"FORM_SECTION></" + root_name + b">",
        )
    )


def _prepare(data: bytes, where: str) -> bytes:
    """The bytes to parse: the document refused when truncated, cut down to its coded data
    and original form when both are found (else the whole document)."""
    span = _checked_root(data, where)
    return _slice(data, span, data[span[0] + 1 : span[1]].split(None, 1)[0].rstrip(b"/>")) or data


def _whole(data: bytes, where: str) -> bytes:
    """The whole document (refused when truncated): when the slices do not parse."""
    _checked_root(data, where)
    return data


def _checked_root(data: bytes, where: str) -> tuple[int, int]:
    """The root start tag's span; NoticeParseError without one or when truncated."""
    span = _root_span(data)
    if span is None:
        raise NoticeParseError(f"{where}: no XML root element")
    root_name = data[span[0] + 1 : span[1]].split(None, 1)[0].rstrip(b"/>")
    close = b"</" + root_name + b">"
    if not data[-len(close) - 256 :].rstrip().endswith(close):
        raise NoticeParseError(
            f"{where}: truncated TED XML (the document does not end with </{root_name.decode()}>)"
        )
    return span


# --------------------------------------------------------------------------- parsing


def parse_ted_legacy(data: bytes, *, location: str | None = None) -> ParsedNotice:
    """Parse one TED XML notice (``TED_EXPORT``). Raises NoticeParseError when the bytes
    are not a TED_EXPORT document (UnsafeXMLError for DTDs and entities)."""
    where = location or "<notice>"
    try:
        root = _load(data, location, _prepare)
    except UnsafeXMLError:
        raise
    except NoticeParseError:
        # The slices are an optimisation: what they cannot parse (say, a comment that
        # mentions CATEGORY="ORIGINAL") is parsed whole, and that gives the error if any.
        root = _load(data, location, _whole)
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag.rsplit("}", 1)[-1] != ROOT:
        raise NoticeParseError(f"{where}: not a TED XML notice (root element {tag!r})")
    doc = _Doc(root)
    ctx = _Ctx()
    r = _Reader(doc, ctx)
    top = doc.groups(root)
    coded = _first(top, "CODED_DATA_SECTION")
    cg = doc.groups(coded)
    notice_data = doc.groups(_first(cg, "NOTICE_DATA"))
    codif = doc.groups(_first(cg, "CODIF_DATA"))

    notice_id = normalise_ojs(_text(_first(notice_data, "NO_DOC_OJS")))
    if not notice_id:
        notice_id = normalise_ojs(root.get("DOC_ID"))
    if not notice_id:
        notice_id = "unidentified-" + hashlib.sha256(bytes(data)).hexdigest()[:32]
        ctx.warn(f"no OJ S number (NO_DOC_OJS); using {notice_id}")
    version = (root.get("VERSION") or "").strip()
    notice = ParsedNotice(
        notice_id=notice_id,
        version="01",
        customization_id=f"TED_EXPORT {version}".strip()[:64],
        location=location,
    )
    refs = [
        normalise_ojs(_text(doc.child(x, "NO_DOC_OJS"))) for x in notice_data.get("REF_NOTICE", ())
    ]
    notice.previous_notice_ids = [x for x in refs if x and x != notice_id]

    form = None
    for el in _first(top, "FORM_SECTION") if "FORM_SECTION" in top else ():
        if el.get("CATEGORY") == "ORIGINAL":
            form = el
            break
        form = el if form is None else form
    name = form.tag[doc.n :] if form is not None else ""
    form_no = name.split("_", 1)[0] if name.endswith("_2014") else ""
    lg = (form.get("LG") if form is not None else None) or _text(_first(notice_data, "LG_ORIG"))
    if lg:
        notice.language = LANGUAGES.get(lg.strip().upper(), lg.strip().upper())

    if not form_no or not _read_form(r, form, form_no, notice):
        _read_coded(r, notice, cg, codif, name or "(no form)", form)

    if notice.issue_date is None:
        notice.issue_date = _yyyymmdd(_text(_first(codif, "DS_DATE_DISPATCH")))
    if notice.procedure_id is None:
        notice.procedure_id = notice_id
    return finish_notice(notice, ctx, "ADDRESS_CONTRACTING_BODY")


def follow_procedures(
    notices: list[ParsedNotice], lookup: Callable[[list[str]], dict[str, str | None]]
) -> None:
    """TED XML has no procedure id: a notice names the notice before it, so a modification
    (F20) names the award notice, which names the contract notice. The procedure of a TED
    XML notice that names another notice becomes the procedure of the notice named, known
    from ``notices`` or from ``lookup`` (notice ids → procedure ids of stored notices); a
    chain is followed to its first notice. Used by the ingest before storing."""
    legacy = [
        n
        for n in notices
        if (n.customization_id or "").startswith("TED_EXPORT")
        and n.procedure_id
        and n.procedure_id != n.notice_id
    ]
    if not legacy:
        return
    known: dict[str, str] = {n.notice_id: n.procedure_id for n in notices if n.procedure_id}
    missing = sorted({p for n in legacy if (p := n.procedure_id) and p not in known})
    if missing:
        known.update({k: v for k, v in lookup(missing).items() if v})
    for _ in range(8):  # a modification, its award, its contract notice: short chains
        changed = False
        for n in legacy:
            target = known.get(n.procedure_id or "")
            if target and target != n.procedure_id:
                n.procedure_id = known[n.notice_id] = target
                changed = True
        if not changed:
            return


def _subtype(form_no: str, kind: str | None, basis: str | None) -> str | None:
    if form_no in _FIXED:
        return _FIXED[form_no]
    if form_no in _BY_TYPE:
        return _BY_TYPE[form_no].get(kind or "") or _TYPE_DEFAULT[form_no]
    if form_no in _BY_BASIS:
        table = _BY_BASIS[form_no]
        return table.get(basis or "") or next(iter(table.values()))
    return None


def _set_kind(notice: ParsedNotice, subtype: str | None) -> None:
    notice.subtype = subtype
    if subtype in SUBTYPES:
        notice.notice_type, notice.form_type, notice.document_type = SUBTYPES[subtype]


def _read_coded(
    r: _Reader,
    notice: ParsedNotice,
    cg: dict[str, list[Any]],
    codif: dict[str, list[Any]],
    form_name: str,
    form: Any,
) -> None:
    """A form the reader does not know (R2.0.8, defence, transport): what the coded data
    says (identity, dates, CPV, notice kind, procedure), the first title and the first
    organisation of the form (section I: the buyer), with a warning."""
    d = r.d
    r.ctx.warn(
        f"TED form {form_name} is not read field by field (R2.0.9 forms F01-F25 are): "
        "dates, CPV, notice kind and procedure come from the coded data, title and buyer "
        "from the form's first title and organisation; no lots, values or winners"
    )
    if form is not None:
        n = d.n
        for el in form.iter():
            if isinstance(el.tag, str) and el.tag[n:] in ("TITLE_CONTRACT", "TITLE"):
                notice.title = r.ctx.clean(_paras(el, " "), "title")
                break
        for el in form.iter():
            if isinstance(el.tag, str) and el.tag[n:] == "OFFICIALNAME":
                holder = el.getparent()
                address = holder
                if d.child(holder, "COUNTRY") is None and holder.getparent() is not None:
                    address = holder.getparent()  # R2.0.8: ORGANISATION beside the address
                party = r.make(
                    _text(el),
                    _text(d.child(holder, "NATIONALID")),
                    _value(d.child(address, "COUNTRY")),
                    "buyer",
                )
                if party is not None:
                    notice.buyers.append(party)
                break
    nd = d.groups(_first(cg, "NOTICE_DATA"))
    for cpv in nd.get("ORIGINAL_CPV", ()):
        code = (cpv.get("CODE") or "").strip()
        if code and code not in notice.cpv_codes:
            notice.cpv_codes.append(code)
    doc_type = _first(codif, "TD_DOCUMENT_TYPE")
    code = (doc_type.get("CODE") or "").strip() if doc_type is not None else ""
    _set_kind(notice, _BY_DOCUMENT_TYPE.get(code))
    proc = _first(codif, "PR_PROC")
    if proc is not None:
        notice.procedure_type = _BY_PR_PROC.get((proc.get("CODE") or "").strip())
    notice.issue_date = _yyyymmdd(_text(_first(codif, "DS_DATE_DISPATCH")))


def _read_form(r: _Reader, form: Any, form_no: str, notice: ParsedNotice) -> bool:
    """Read an R2.0.9 form (F01..F25) into ``notice``; False when it is not one."""
    d = r.d
    g = d.groups(form)
    if "CONTRACTING_BODY" not in g:
        return False
    basis = _value(_first(g, "LEGAL_BASIS"))
    if basis is None and "LEGAL_BASIS_OTHER" in g:
        basis = "other"
    notice.regulatory_domain = basis
    kind = (_first(g, "NOTICE").get("TYPE") if "NOTICE" in g else None) or None
    if form_no == "F14":
        notice.form_type = "change"
    else:
        _set_kind(notice, _subtype(form_no, kind, basis))
        if notice.subtype is None:
            return False

    body = d.groups(_first(g, "CONTRACTING_BODY"))
    _buyers(r, body, notice)
    obj = d.groups(_first(g, "OBJECT_CONTRACT"))
    proc = d.groups(_first(g, "PROCEDURE"))
    info = d.groups(_first(g, "COMPLEMENTARY_INFO"))
    _read_object(r, obj, info, notice)
    url = _text(_first(body, "URL_DOCUMENT"))
    referenced = _read_procedure(r, proc, notice)
    if form_no == "F14":
        changed = normalise_ojs(_text(_first(info, "NOTICE_NUMBER_OJ")))
        if changed:
            notice.changed_notice_id = changed
            notice.procedure_id = changed
        r.ctx.warn(
            "corrigendum (F14): the changes it lists are not applied to the notice it "
            f"corrects ({changed or 'not named'})"
        )
        return True

    framework = "FRAMEWORK" in proc
    lot_numbers, items = _read_lots(r, obj, proc, notice, form_no, url)
    # Results.
    total, currency = r.amount(_first(obj, "VAL_TOTAL"), "total value (VAL_TOTAL)")
    if total is not None:
        if framework:
            notice.result_framework_max = total
        else:
            notice.result_total = total
        notice.currency = notice.currency or currency
    awards = g.get("AWARD_CONTRACT", [])
    if awards:
        notice.results = _results(r, awards, notice.lots, lot_numbers, items, framework)
    if "RESULTS" in g:
        notice.results = _prizes(r, g["RESULTS"], notice.lots)
    if form_no == "F20":
        _modification(r, _first(g, "MODIFICATIONS_CONTRACT"), notice)
        modified = referenced
        if modified:
            notice.modified_notice_id = modified
    count_parallel(notice.results)
    return True


def _read_object(
    r: _Reader, obj: dict[str, list[Any]], info: dict[str, list[Any]], notice: ParsedNotice
) -> None:
    """Section II (OBJECT_CONTRACT) and VI (COMPLEMENTARY_INFO) at notice level: title,
    description, CPV, nature, estimated value, dispatch and planned dates, note."""
    d, ctx = r.d, r.ctx
    notice.title = ctx.clean(_paras(_first(obj, "TITLE"), " "), "title")
    notice.description = ctx.clean(_paras(_first(obj, "SHORT_DESCR")))
    cpv_main = d.child(_first(obj, "CPV_MAIN"), "CPV_CODE")
    notice.main_cpv = (cpv_main.get("CODE") or "").strip() or None if cpv_main is not None else None
    if notice.main_cpv:
        notice.cpv_codes = [notice.main_cpv]
    ctype = _first(obj, "TYPE_CONTRACT")  # BT-23: WORKS|SUPPLIES|SERVICES
    if ctype is not None and (ctype.get("CTYPE") or "").strip():
        notice.contract_nature = ctype.get("CTYPE").strip().lower()
    notice.estimated_value, notice.currency = r.amount(
        _first(obj, "VAL_ESTIMATED_TOTAL"), "estimated value (VAL_ESTIMATED_TOTAL)"
    )
    notice.issue_date = r.date(_first(info, "DATE_DISPATCH_NOTICE"), "dispatch date")
    # PIN: estimated date of publication of the contract notice (BT-127).
    notice.planned_date = r.date(_first(obj, "DATE_PUBLICATION_NOTICE"), "planned date")
    notice.note = ctx.clean(_paras(_first(info, "INFO_ADD")))


def _read_procedure(r: _Reader, proc: dict[str, list[Any]], notice: ParsedNotice) -> str | None:
    """Section IV: the procedure type, and the notice it refers to (returned; a result or
    modification belongs to the procedure of that notice)."""
    d = r.d
    # Procedure type: PROCEDURE/PT_*, or PROCEDURE/DIRECTIVE_*/PT_* (F15).
    for name, els in proc.items():
        if name in PROCEDURES:
            notice.procedure_type = PROCEDURES[name]
        elif name in _DIRECTIVES_ALL:
            for sub in els[0]:
                code = PROCEDURES.get(sub.tag[d.n :])
                if code:
                    notice.procedure_type = code
    referenced = normalise_ojs(_text(_first(proc, "NOTICE_NUMBER_OJ")))
    if referenced:
        if referenced != notice.notice_id:
            notice.previous_notice_ids.insert(0, referenced)
        # A result or modification belongs to the procedure its competition opened (BT-04
        # groups the notices of a procedure; TED XML has no procedure id).
        if notice.form_type in ("result", "dir-awa-pre", "cont-modif"):
            notice.procedure_id = referenced
    return referenced


def _read_lots(
    r: _Reader,
    obj: dict[str, list[Any]],
    proc: dict[str, list[Any]],
    notice: ParsedNotice,
    form_no: str,
    url: str | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The lots (OBJECT_DESCR) with the procedure's deadline, framework and criteria;
    returns LOT_NO → lot id and ITEM → lot id (the awards name their lot by either)."""
    descrs = obj.get("OBJECT_DESCR", [])
    prefix = "PAR-" if notice.subtype in ("4", "5", "6") else "LOT-"
    framework = "FRAMEWORK" in proc
    lot_numbers: dict[str, str] = {}
    items: dict[str, str] = {}
    deadline = request = None
    has_time = False
    if "DATE_RECEIPT_TENDERS" in proc:
        deadline, has_time = r.deadline(
            _first(proc, "DATE_RECEIPT_TENDERS"),
            _first(proc, "TIME_RECEIPT_TENDERS"),
            "tender deadline (DATE_RECEIPT_TENDERS)",
        )
    if (notice.notice_type or "").startswith("pin-cfc"):
        deadline, request = None, deadline  # expressions of interest (BT-630)
    criteria_text = _paras(_first(proc, "CRITERIA_EVALUATION"))
    for pos, el in enumerate(descrs, 1):
        scanned = scan_lot(r, el, notice.main_cpv)  # one pass over the lot's children
        lot_no = _text(scanned[0].get("LOT_NO"))
        if lot_no and _LOT_NUMBER.match(lot_no):
            lot_id = f"{prefix}{int(lot_no):04d}"
        elif lot_no or len(descrs) > 1:
            lot_id = f"{prefix}{pos:04d}"
        else:
            lot_id = f"{prefix}0000"
        if lot_no:
            lot_numbers.setdefault(lot_no, lot_id)
        if el.get("ITEM"):
            items.setdefault(el.get("ITEM"), lot_id)
        lot = _lot(r, el, lot_id, notice.main_cpv, scanned)
        if lot.title is None:
            lot.title = notice.title  # a lot without a title of its own: the notice's
        lot.documents_url = url
        if framework:
            lot.framework_code = FRAMEWORK_CODE
        elif form_no in _FRAMEWORK_FORMS:
            lot.framework_code = "none"  # the form asks (IV.1.3) and FRAMEWORK is absent
        if request is not None:
            lot.request_deadline = lot.interest_deadline = request
            lot.request_deadline_has_time = has_time
        elif deadline is not None:
            lot.submission_deadline, lot.submission_deadline_has_time = deadline, has_time
        if not lot.award_criteria and criteria_text:
            lot.award_criteria = _text_criteria([ParsedCriterion(None, criteria_text, None)])
        notice.lots.append(lot)
    return lot_numbers, items


def _buyers(r: _Reader, body: dict[str, list[Any]], notice: ParsedNotice) -> None:
    legal_type = LEGAL_TYPES.get(_value(_first(body, "CA_TYPE")) or "")
    seen: set[tuple[str | None, str | None]] = set()
    for tag in ("ADDRESS_CONTRACTING_BODY", "ADDRESS_CONTRACTING_BODY_ADDITIONAL"):
        for address in body.get(tag, ()):
            party = r.party(address, tag)
            if party is None:
                continue
            key = (party.name, party.orgnr_raw)
            if key in seen:
                continue
            seen.add(key)
            if tag == "ADDRESS_CONTRACTING_BODY":
                party.legal_type = legal_type
            notice.buyers.append(party)
