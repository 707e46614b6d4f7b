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

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tracker.errors import NoticeParseError, UnsafeXMLError
from tracker.notices.eforms import (
    _TIME,
    OSLO,
    ParsedCriterion,
    ParsedLot,
    ParsedNotice,
    ParsedParty,
    ParsedResult,
    _Ctx,
    _first,
    _load,
    _lot_from_title,
    _parse_date,
    _text,
    _text_criteria,
    count_parallel,
    finish_notice,
    make_party,
    prolog_end,
)
from tracker.notices.subtypes import PLACEHOLDER_YEAR

ROOT = "TED_EXPORT"
DATA = Path(__file__).resolve().parents[1] / "data"

# eForms subtype → (notice type BT-02, form type BT-03, eForms root element); from the
# SDK's notice-types.json (reference/eforms-notice-types.json).
_PIN, _CN, _CAN = "PriorInformationNotice", "ContractNotice", "ContractAwardNotice"
SUBTYPES: dict[str, tuple[str, str, str]] = {
    **{s: ("pin-buyer", "planning", _PIN) for s in ("1", "2", "3")},
    **{s: ("pin-only", "planning", _PIN) for s in ("4", "5", "6")},
    **{s: ("pin-rtl", "planning", _PIN) for s in ("7", "8", "9")},
    **{s: ("pin-cfc-standard", "competition", _PIN) for s in ("10", "11")},
    **{s: ("pin-cfc-social", "competition", _PIN) for s in ("12", "13", "14")},
    "15": ("qu-sy", "competition", _CN),
    **{s: ("cn-standard", "competition", _CN) for s in ("16", "17", "18", "19")},
    **{s: ("cn-social", "competition", _CN) for s in ("20", "21")},
    "22": ("subco", "competition", _CN),
    **{s: ("cn-desg", "competition", _CN) for s in ("23", "24")},
    **{s: ("veat", "dir-awa-pre", _CAN) for s in ("25", "26", "27", "28")},
    **{s: ("can-standard", "result", _CAN) for s in ("29", "30", "31", "32")},
    **{s: ("can-social", "result", _CAN) for s in ("33", "34", "35")},
    **{s: ("can-desg", "result", _CAN) for s in ("36", "37")},
    **{s: ("can-modif", "cont-modif", _CAN) for s in ("38", "39", "40")},
}

# Legal basis (LEGAL_BASIS/@VALUE, CELEX) → which directive column of a form applies.
_CLASSIC, _UTILITIES = "32014L0024", "32014L0025"
_DEFENCE, _CONCESSIONS = "32009L0081", "32014L0023"
# Form (and NOTICE/@TYPE where a form serves several purposes) → eForms subtype. The
# nearest eForms subtype, as the EU Publications Office's TED-to-eForms converter maps
# them (its notice-type-mapping); by legal basis where the form serves several directives.
_BY_TYPE: dict[str, dict[str, str]] = {
    "F01": {"PRI_ONLY": "4", "PRI_REDUCING_TIME_LIMITS": "7", "PRI_CALL_COMPETITION": "10"},
    "F04": {"PER_ONLY": "5", "PER_REDUCING_TIME_LIMITS": "8", "PER_CALL_COMPETITION": "11"},
    "F21": {
        "PRI_ONLY": "4",
        "PRI_CALL_COMPETITION": "12",
        "CONTRACT": "20",
        "AWARD_CONTRACT": "33",
    },
    "F22": {
        "PER_ONLY": "5",
        "PER_CALL_COMPETITION": "13",
        "QSU_ONLY": "15",
        "QSU_CALL_COMPETITION": "15",
        "CONTRACT": "21",
        "AWARD_CONTRACT": "34",
    },
    "F23": {"PRI": "14", "CONCESSION_AWARD_CONTRACT": "35"},
}
_FIXED = {"F02": "16", "F03": "29", "F05": "17", "F06": "30", "F07": "15", "F24": "19", "F25": "32"}
_BY_BASIS: dict[str, dict[str, str]] = {
    "F08": {_CLASSIC: "1", _UTILITIES: "2", _DEFENCE: "3"},
    "F12": {_CLASSIC: "23", _UTILITIES: "24"},
    "F13": {_CLASSIC: "36", _UTILITIES: "37"},
    "F15": {_CLASSIC: "25", _UTILITIES: "26", _DEFENCE: "27", _CONCESSIONS: "28"},
    "F20": {_CLASSIC: "38", _UTILITIES: "39", _CONCESSIONS: "40"},
}
# Forms without NOTICE/@TYPE: the subtype of their usual type.
_TYPE_DEFAULT = {"F01": "4", "F04": "5", "F21": "20", "F22": "21", "F23": "14"}
# TD_DOCUMENT_TYPE (coded data) → subtype, for forms read from the coded data only.
_BY_DOCUMENT_TYPE = {
    "0": "4", "A": "10", "B": "1", "C": "19", "D": "23", "J": "32", "K": "38", "M": "11",
    "O": "15", "P": "5", "Q": "15", "R": "36", "V": "25", "Y": "16", "3": "16", "7": "29",
}  # fmt: skip
# PR_PROC (coded data) → procedure type, for forms read from the coded data only.
_BY_PR_PROC = {
    "1": "open", "2": "restricted", "3": "restricted", "4": "neg-w-call", "6": "neg-w-call",
    "B": "neg-w-call", "C": "comp-dial", "T": "neg-wo-call", "V": "neg-wo-call",
}  # fmt: skip

# PT_* (PROCEDURE, or PROCEDURE/DIRECTIVE_* in F15) → eForms procedure type (BT-105).
PROCEDURES = {
    "PT_OPEN": "open",
    "PT_RESTRICTED": "restricted",
    "PT_COMPETITIVE_NEGOTIATION": "neg-w-call",
    "PT_NEGOTIATED_WITH_PRIOR_CALL": "neg-w-call",
    "PT_INVOLVING_NEGOTIATION": "neg-w-call",  # light regime: negotiation after a call
    "PT_AWARD_CONTRACT_WITH_PRIOR_PUBLICATION": "neg-w-call",
    "PT_COMPETITIVE_DIALOGUE": "comp-dial",
    "PT_INNOVATION_PARTNERSHIP": "innovation",
    "PT_AWARD_CONTRACT_WITHOUT_CALL": "neg-wo-call",
    "PT_AWARD_CONTRACT_WITHOUT_PUBLICATION": "neg-wo-call",
    "PT_NEGOTIATED_WITHOUT_PUBLICATION": "neg-wo-call",
}
# CA_TYPE → buyer legal type (BT-11).
LEGAL_TYPES = {
    "MINISTRY": "cga",
    "NATIONAL_AGENCY": "cga",
    "REGIONAL_AUTHORITY": "ra",
    "REGIONAL_AGENCY": "body-pl-ra",
    "BODY_PUBLIC": "body-pl",
    "EU_INSTITUTION": "eu-ins-bod-ag",
}
# A framework in TED XML says neither whether call-offs reopen competition nor whether
# both happen: eForms fa-wo-rc is the reading the EU converter gives it too (BT-765).
FRAMEWORK_CODE = "fa-wo-rc"
# TED two-letter language → eForms three-letter language (BT-702).
LANGUAGES = {
    "BG": "BUL", "CS": "CES", "DA": "DAN", "DE": "DEU", "EL": "ELL", "EN": "ENG", "ES": "SPA",
    "ET": "EST", "FI": "FIN", "FR": "FRA", "GA": "GLE", "HR": "HRV", "HU": "HUN", "IT": "ITA",
    "LT": "LIT", "LV": "LAV", "MT": "MLT", "NL": "NLD", "PL": "POL", "PT": "POR", "RO": "RON",
    "SK": "SLK", "SL": "SLV", "SV": "SWE", "NO": "NOR", "IS": "ISL",
}  # fmt: skip
# Forms whose PROCEDURE section carries FRAMEWORK when the procedure sets one up.
_FRAMEWORK_FORMS = frozenset({"F01", "F02", "F03", "F04", "F05", "F06", "F15", "F21", "F22"})
_DIRECTIVES = ("DIRECTIVE_2014_24_EU", "DIRECTIVE_2014_25_EU", "DIRECTIVE_2014_23_EU")
_DIRECTIVES_ALL = (*_DIRECTIVES, "DIRECTIVE_2009_81_EC")
_OJS = re.compile(r"(\d{4})\s*/\s*S\s*0*(\d{1,3})\s*[-–]\s*0*(\d{1,6})", re.IGNORECASE)
_DOC_ID = re.compile(r"^\s*0*(\d{1,8})-(\d{4})\s*$")
_WEIGHT = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?$|^\d{1,3}(?:\.\d{3})+,\d+$")
_DEFAULT_NS = re.compile(rb'\sxmlns\s*=\s*"[^"]*"')
_LOT_NUMBER = re.compile(r"^[1-9][0-9]{0,3}$")
_LOT_LIST = re.compile(r"\s*(?:[,;&+/]|\bog\b|\band\b|\bund\b|\bet\b)\s*|\s+", re.IGNORECASE)


@functools.cache
def countries() -> dict[str, str]:
    """TED country code (``NO``, ``UK``) → ISO alpha-3 (``NOR``), from data/ted-country.tsv."""
    out: dict[str, str] = {}
    with (DATA / "ted-country.tsv").open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("ted\t"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                out[parts[0]] = parts[1]
    return out


def normalise_ojs(raw: str | None) -> str | None:
    """An OJ S notice number as TED writes it in NO_DOC_OJS: ``2019/S 177-431038`` (also
    from ``2019/S177 - 431038``); ``431038-2019`` (a TED publication number) is returned
    as written, None for text that is no notice number."""
    if not raw:
        return None
    m = _OJS.search(raw)
    if m:
        return f"{m.group(1)}/S {int(m.group(2)):03d}-{int(m.group(3)):06d}"
    m = _DOC_ID.match(raw)
    if m:
        return f"{int(m.group(1)):06d}-{m.group(2)}"
    return None


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


# --------------------------------------------------------------------------- helpers


class _Doc:
    """Element access by local name within the TED namespace of one document."""

    __slots__ = ("n",)

    def __init__(self, root: Any):
        tag = root.tag
        self.n = tag.index("}") + 1 if tag.startswith("{") else 0

    def groups(self, el: Any) -> dict[str, list[Any]]:
        n = self.n
        out: dict[str, list[Any]] = {}
        if el is None:
            return out
        for c in el:
            name = c.tag[n:] if n else c.tag
            found = out.get(name)
            if found is None:
                out[name] = [c]
            else:
                found.append(c)
        return out

    def child(self, el: Any, name: str) -> Any:
        if el is None:
            return None
        n = self.n
        for c in el:
            if (c.tag[n:] if n else c.tag) == name:
                return c
        return None


def _paras(el: Any, sep: str = "\n") -> str | None:
    """The text of a TED text block: its P children joined (or its own text)."""
    if el is None:
        return None
    parts = []
    for p in el:
        # A P with markup inside (FT) needs itertext; most are plain text.
        t = ("".join(p.itertext()) if len(p) else (p.text or "")).strip()
        if t:
            parts.append(" ".join(t.split()) if sep == " " else t)
    if not parts:
        return _text(el)
    return sep.join(parts)


def _value(el: Any) -> str | None:
    return (el.get("VALUE") or "").strip() or None if el is not None else None


def _yyyymmdd(raw: str | None) -> dt.date | None:
    if not raw or len(raw.strip()) != 8 or not raw.strip().isdigit():
        return None
    s = raw.strip()
    try:
        return dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError:
        return None


class _Reader:
    """Per-notice state: the document's namespace, the eForms context and the lots."""

    def __init__(self, doc: _Doc, ctx: _Ctx):
        self.d = doc
        self.ctx = ctx
        self.parties: dict[tuple[str | None, str | None, str | None], ParsedParty | None] = {}

    def date(self, el: Any, what: str) -> dt.date | None:
        raw = _text(el)
        if raw is None:
            return None
        parsed = _parse_date(raw)
        if parsed is None and (day := _yyyymmdd(raw)) is not None:
            parsed = (day, None)
        if parsed is None:
            self.ctx.warn(f"unparseable date in {what}: {raw!r}")
            return None
        day = parsed[0]
        if day.year >= PLACEHOLDER_YEAR:
            self.ctx.warn(f"placeholder date {day.isoformat()} in {what} ignored")
            return None
        return day

    def amount(self, el: Any, what: str) -> tuple[Decimal | None, str | None]:
        """An amount with its CURRENCY attribute (the eForms rules for the number)."""
        value, _ = self.ctx.amount(el, what)
        if value is None:
            return None, None
        return value, ((el.get("CURRENCY") or "").strip().upper() or None)

    def deadline(self, day_el: Any, time_el: Any, what: str) -> tuple[dt.datetime | None, bool]:
        """DATE + TIME (local time of the buyer: Europe/Oslo) as an aware datetime; a date
        without time is 23:59:59 that day and the flag is False."""
        day = self.date(day_el, what)
        if day is None:
            return None, False
        raw_time = _text(time_el)
        if raw_time:
            t = _TIME.match(raw_time if raw_time[1:2] != ":" else "0" + raw_time)
            if t is not None:
                hour, minute = int(t.group(1)), int(t.group(2))
                if hour == 24:
                    hour, minute = 23, 59
                try:
                    return dt.datetime(
                        day.year, day.month, day.day, hour, minute, tzinfo=OSLO
                    ), True
                except ValueError:
                    pass
            self.ctx.warn(f"unparseable time in {what}: {raw_time!r}")
        return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=OSLO), False

    def party(self, address: Any, what: str, shared: bool = False) -> ParsedParty | None:
        """OFFICIALNAME, NATIONALID and COUNTRY of an ADDRESS_* element. ``shared``: one
        record per distinct organisation of the notice (contractors repeat over awards;
        the eForms parser shares an organisation between results too)."""
        if address is None:
            return None
        name = orgnr_raw = code = None
        n = self.d.n
        for c in address:
            tag = c.tag[n:] if n else c.tag
            if tag == "OFFICIALNAME":
                name = _text(c)
            elif tag == "NATIONALID":
                orgnr_raw = _text(c)
            elif tag == "COUNTRY":
                code = _value(c)
        if not shared:
            return self.make(name, orgnr_raw, code, what)
        key = (name, orgnr_raw, code)
        if key not in self.parties:
            self.parties[key] = self.make(name, orgnr_raw, code, what)
        return self.parties[key]

    def make(
        self, name: str | None, orgnr_raw: str | None, code: str | None, what: str
    ) -> ParsedParty | None:
        """A party from its name, national id and TED country code (None without both)."""
        country = None
        if code:
            country = countries().get(code.upper())
            if country is None:
                self.ctx.warn(f"unknown country code {code!r} of {name or what}; kept as written")
                country = code.upper()
        if name is None and orgnr_raw is None:
            return None
        return make_party(name, orgnr_raw, country, self.ctx, what)


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
    missing = sorted({n.procedure_id for n in legacy if n.procedure_id not in known})  # type: ignore[misc]
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
    d, ctx = r.d, r.ctx
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
    proc_el = _first(g, "PROCEDURE")
    proc = d.groups(proc_el)
    info = d.groups(_first(g, "COMPLEMENTARY_INFO"))

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
    url = _text(_first(body, "URL_DOCUMENT"))

    # Procedure type: PROCEDURE/PT_*, or PROCEDURE/DIRECTIVE_*/PT_* (F15).
    for name, els in proc.items():
        if name in PROCEDURES:
            notice.procedure_type = PROCEDURES[name]
        elif name in _DIRECTIVES_ALL:
            for sub in els[0]:
                code = PROCEDURES.get(sub.tag[d.n :])
                if code:
                    notice.procedure_type = code
    framework = "FRAMEWORK" in proc
    referenced = normalise_ojs(_text(_first(proc, "NOTICE_NUMBER_OJ")))
    if referenced:
        if referenced != notice.notice_id:
            notice.previous_notice_ids.insert(0, referenced)
        # A result or modification belongs to the procedure its competition opened (BT-04
        # groups the notices of a procedure; TED XML has no procedure id).
        if notice.form_type in ("result", "dir-awa-pre", "cont-modif"):
            notice.procedure_id = referenced
    if form_no == "F14":
        changed = normalise_ojs(_text(_first(info, "NOTICE_NUMBER_OJ")))
        if changed:
            notice.changed_notice_id = changed
            notice.procedure_id = changed
        ctx.warn(
            "corrigendum (F14): the changes it lists are not applied to the notice it "
            f"corrects ({changed or 'not named'})"
        )
        return True

    # Lots.
    descrs = obj.get("OBJECT_DESCR", [])
    prefix = "PAR-" if notice.subtype in ("4", "5", "6") else "LOT-"
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
        lot_no = _text(d.child(el, "LOT_NO"))
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
        lot = _lot(r, el, lot_id, notice.main_cpv)
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


_LOT_FIELDS = frozenset(
    {
        "TITLE", "SHORT_DESCR", "VAL_OBJECT", "DURATION", "INDEFINITE_DURATION", "DATE_START",
        "DATE_END", "QS", "RENEWAL", "RENEWAL_DESCR", "OPTIONS", "OPTIONS_DESCR", "INFO_ADD",
        "AC", "AC_PRICE", *_DIRECTIVES_ALL,
    }
)  # fmt: skip


def _lot(r: _Reader, el: Any, lot_id: str, main_cpv: str | None) -> ParsedLot:
    d, ctx = r.d, r.ctx
    where = f"lot {lot_id}"
    # One pass over the OBJECT_DESCR children (a notice may have hundreds of lots).
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
        result_id = f"RES-{pos:04d}"
        if awarded is None:
            code = "clos-nw" if not_awarded else None
            for lot_id in lot_ids:
                out.append(
                    ParsedResult(
                        result_id=result_id,
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
        winners = _contractors(r, ag, what)
        value, currency = _award_value(r, ag, what)
        estimate_el = d.child(_first(ag, "VALUES"), "VAL_ESTIMATED_TOTAL")
        if estimate_el is None:
            estimate_el = _first(ag, "VAL_ESTIMATED_TOTAL")
        estimate, estimate_currency = r.amount(estimate_el, f"estimated total of {what}")
        key = tuple((w.name, w.orgnr_raw) for w in winners)
        party_id = groups.setdefault(key, f"TPA-{len(groups) + 1:04d}") if winners else None
        conclusion = r.date(_first(ag, "DATE_CONCLUSION_CONTRACT"), f"conclusion date of {what}")
        if len(lot_ids) > 1 and value is not None:
            ctx.warn(f"{what} covers lots {', '.join(map(str, lot_ids))}: value on the first")
        for i, lot_id in enumerate(lot_ids):
            res = ParsedResult(
                result_id=result_id,
                lot_id=lot_id,
                winner_chosen=True,
                result_code="selec-w",
                tender_value=value if i == 0 else None,
                currency=currency if i == 0 else None,
                conclusion_date=conclusion,
                winners=winners if i == 0 else list(winners),
                tender_id=f"TEN-{tenders:04d}",
                party_id=party_id,
                framework=True if framework else None,  # the contract is the framework
                contract_id=contract_no,
                contract_title=title,
            )
            if framework:
                # VAL_ESTIMATED_TOTAL of a framework: "estimated total maximum value for
                # the entire duration of this lot" (TED form label, V.2.4).
                res.framework_max_value = estimate
            out.append(res)
        if not framework and estimate is not None:
            for lot_id in lot_ids:
                lot = by_id.get(lot_id)
                if lot is not None and lot.estimated_value is None:
                    lot.estimated_value, lot.currency = estimate, estimate_currency
    return out


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
