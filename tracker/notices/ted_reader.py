"""The TED XML vocabulary and element reader shared by ``tracker.notices.ted_legacy`` (the
notice and its form) and ``tracker.notices.ted_lots`` (lots, awards, modifications).

- the codes: form (and NOTICE/@TYPE, legal basis) → eForms subtype, procedure and
  buyer-legal-type codes, languages, TED country codes (``data/ted-country.tsv``), OJ S
  numbers (:func:`normalise_ojs`);
- :class:`_Doc`: element access by local name within the document's TED namespace;
- :class:`_Reader`: the per-notice state (the eForms ``_Ctx``, shared parties) and the
  readers of TED dates, amounts, deadlines and parties.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from tracker.notices.eforms import make_party
from tracker.notices.records import ParsedParty
from tracker.notices.subtypes import PLACEHOLDER_YEAR
from tracker.notices.xmlread import _TIME, OSLO, _Ctx, _parse_date, _text

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


# --------------------------------------------------------------------------- reading


class _Doc:
    """Element access by local name within the TED namespace of one document."""

    __slots__ = ("n", "ns")

    def __init__(self, root: Any):
        tag = root.tag
        self.n = tag.index("}") + 1 if tag.startswith("{") else 0
        self.ns = tag[: self.n]  # "{uri}" or ""

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
        if n:
            for c in el:
                if c.tag[n:] == name:
                    return c
            return None
        for c in el:  # the sliced document has no default namespace: tags as they are
            if c.tag == name:
                return c
        return None


def _paras(el: Any, sep: str = "\n") -> str | None:
    """The text of a TED text block: its P children joined (or its own text)."""
    if el is None:
        return None
    parts = []
    for p in el:
        # A P with markup inside (FT) needs itertext; most are plain text.
        if len(p):
            t = "".join(p.itertext()).strip()
        else:
            t = p.text
            if t is None:
                continue
            t = t.strip()
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
