"""Words for the codes the tracker stores: every code a page shows has a label here, in
Norwegian bokmål or English (``tracker.i18n``); pages keep the code in a tooltip.

CPV, notice subtypes, procedure types, framework kinds and buyer legal types come from
the code lists that ship in ``tracker/data/*.tsv`` (columns ``code``, ``name``, ``nob``);
the tracker's own vocabularies (phases, date sources, link methods, value kinds,
statuses) are listed below with both languages. An unknown code is shown as it is.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from tracker.formats.human import msg
from tracker.i18n import current_language
from tracker.messages import Message, Text

DATA = Path(__file__).resolve().parents[1] / "data"

# code -> (English, bokmål)
PHASES = {
    "watching": ("watching", "følges"),
    "dialogue_open": ("market dialogue open", "markedsdialog åpen"),
    "influence_open": ("influence window open", "påvirkningsvindu åpent"),
    "drafting": ("specification drafting", "kravspesifikasjon skrives"),
    "overdue": ("re-tender overdue", "ny konkurranse forsinket"),
    "published": ("published", "kunngjort"),
    "evaluation": ("evaluation", "evaluering"),
    "awarded": ("awarded", "tildelt"),
    "running": ("running", "løpende"),
    # notice phases (tracker.notices.subtypes.PHASE_SUBTYPES)
    "planning": ("planning", "planlegging"),
    "competition": ("competition", "konkurranse"),
    "award": ("award", "tildeling"),
    "result": ("result", "resultat"),
    "modification": ("modification", "endring"),
    "completion": ("contract completion", "avsluttet kontrakt"),
    "intention": ("intention notice", "intensjonskunngjøring"),
    "dialogue": ("market dialogue", "markedsdialog"),
    "qualification": ("qualification system", "kvalifikasjonsordning"),
    "change": ("change notice", "endringskunngjøring"),
    "other": ("other", "annet"),
    # deadline kinds (tracker.bids.competitions) and pre-tender kinds (tracker.notices.pretender)
    "tender submission": ("tender submission", "tilbudsfrist"),
    "request to participate": ("request to participate", "frist for å be om å delta"),
    "market_dialogue": ("market dialogue", "markedsdialog"),
    "planned_publication": ("planned publication", "planlagt kunngjøring"),
    "prior_information": ("prior information notice", "veiledende kunngjøring"),
    "call_for_competition": ("call for competition", "kunngjøring av konkurranse"),
    "planned_competition": ("planned competition", "planlagt konkurranse"),
    "qualification_system": ("qualification system", "kvalifikasjonsordning"),
}
END_SOURCES = {
    "explicit": ("end date in the notice", "sluttdato i kunngjøringen"),
    "cn_explicit": ("end date in the contract notice", "sluttdato i konkurransekunngjøringen"),
    "modification": ("new end in a modification notice", "ny sluttdato i en endringskunngjøring"),
    "unlimited": ("no end (unlimited)", "uten sluttdato"),
    "start+duration": ("start + duration", "oppstart + varighet"),
    "text_start+duration": ("start in the text + duration", "oppstart i teksten + varighet"),
    "cn_start+duration": (
        "start in the contract notice + duration",
        "oppstart i konkurransekunngjøringen + varighet",
    ),
    "award+cn_duration": (
        "award + duration in the contract notice",
        "tildeling + varighet i konkurransekunngjøringen",
    ),
    "conclusion+duration": ("contract signed + duration", "kontraktsinngåelse + varighet"),
    "award+duration": ("award decision + duration", "tildelingsbeslutning + varighet"),
    "notice+duration": ("notice date + duration", "kunngjøringsdato + varighet"),
    "expected+duration": ("expected award + duration", "forventet tildeling + varighet"),
    "text_duration": ("duration stated in the text", "varighet oppgitt i teksten"),
    "text_years": ("years stated in the text", "årstall oppgitt i teksten"),
    "framework_default": (
        "framework default (4 years)",
        "standard for rammeavtaler (4 år)",
    ),
    "no_options": ("no options", "ingen opsjoner"),
    "options": ("with all options", "med alle opsjoner"),
    "agreement_page": ("the buyer's agreement list", "oppdragsgiverens avtaleoversikt"),
    "notice": ("from the notice", "fra kunngjøringen"),
    "end_date": ("from the notice's end date", "fra kunngjøringens sluttdato"),
    "BT-36 duration": ("duration in the notice", "varighet i kunngjøringen"),
    "derived from BT-536 start and BT-537 end": (
        "from the notice's start and end date",
        "fra kunngjøringens oppstart og sluttdato",
    ),
    "BT-538 duration": ("duration in the notice", "varighet i kunngjøringen"),
    "rule": ("rule", "regel"),
    "unknown": ("unknown", "ukjent"),
    "estimate": ("estimate", "anslag"),
}
LINK_METHODS = {
    "orgnr": ("same organisation number", "samme organisasjonsnummer"),
    "exact_orgnr": ("same organisation number", "samme organisasjonsnummer"),
    "parent_orgnr": ("parent organisation", "morselskap"),
    "parent": ("parent organisation", "morselskap"),
    "name": ("similar name", "likt navn"),
    "fuzzy_name": ("similar name", "likt navn"),
    "exact_name": ("same name", "samme navn"),
    "central_purchasing": ("central purchasing body", "innkjøpssentral"),
    "manual": ("set by hand", "satt manuelt"),
    "alias": ("known other name", "kjent annet navn"),
}
BUYER_TYPES = {
    "state": ("state", "stat"),
    "municipality": ("municipality", "kommune"),
    "county": ("county", "fylkeskommune"),
    "health_trust": ("health trust", "helseforetak"),
    "other": ("other", "annet"),
}
VALUE_KINDS = {
    "framework_max": ("framework maximum", "rammeavtalens maksimalverdi"),
    "estimated": ("estimated", "anslått"),
    "estimate": ("estimated", "anslått"),
    "tender": ("tender value", "tilbudt verdi"),
    "amount": ("amount", "beløp"),
    "per_year": ("per year", "per år"),
    "total": ("total", "total"),
}
CONFIDENCES = {
    "high": ("certain", "sikker"),
    "medium": ("likely", "sannsynlig"),
    "low": ("rough estimate", "grovt anslag"),
    "unknown": ("unknown", "ukjent"),
    "estimate low": ("rough estimate", "grovt anslag"),
    "estimate": ("estimate", "anslag"),
}
STATUSES = {
    # bid statuses, recommendations, decisions, link and window statuses
    "qualifying": ("qualifying", "kvalifisering"),
    "bidding": ("bidding", "tilbud skrives"),
    "submitted": ("submitted", "levert"),
    "won": ("won", "vunnet"),
    "lost": ("lost", "tapt"),
    "bid": ("bid", "gi tilbud"),
    "consider": ("consider", "vurder"),
    "no-bid": ("no bid", "ikke gi tilbud"),
    "confirmed": ("confirmed", "bekreftet"),
    "suggested": ("suggested", "foreslått"),
    "rejected": ("rejected", "avvist"),
    "open": ("open", "åpent"),
    "upcoming": ("upcoming", "kommer"),
    "missed": ("missed", "passert"),
    "closed": ("closed", "stengt"),
    "available": ("available", "ledig"),
    "stretched": ("stretched", "presset"),
    "none": ("none", "ingen"),
    "low": ("low", "lav"),
    "medium": ("medium", "middels"),
    "high": ("high", "høy"),
    "ok": ("ok", "ok"),
    "failed": ("failed", "feilet"),
    "partial": ("partial", "delvis"),
    "running": ("running", "pågår"),
}
ROLES = {
    "kam": ("key account manager", "kundeansvarlig"),
    "bid": ("bid manager", "tilbudsansvarlig"),
    "director": ("sales director", "salgsdirektør"),
    "admin": ("administrator", "administrator"),
}
TIERS = {  # tracker.accounts.keyaccounts.TIERS: the key-account tiers
    "star": ("star", "stjernekunde"),
    "strategic": ("strategic", "strategisk"),
    "status": ("status", "statuskunde"),
    "streamline": ("streamline", "effektiviser"),
}
ACTIVITY_KINDS = {
    "meeting": ("meeting", "møte"),
    "call": ("call", "telefon"),
    "email": ("e-mail", "e-post"),
    "workshop": ("workshop", "workshop"),
    "demo": ("demo", "demo"),
    "visit": ("visit", "besøk"),
    "other": ("other", "annet"),
}
CRITERION_TYPES = {
    "price": ("price", "pris"),
    "quality": ("quality", "kvalitet"),
    "cost": ("cost", "kostnad"),
}
SCORE_COMPONENTS = {  # tracker.bids.scoring.COMPONENTS
    "tier": ("Account tier", "Kundens nivå"),
    "fit": ("Fit (CPV and keywords)", "Treff (CPV og stikkord)"),
    "value": ("Value against our thresholds", "Verdi mot våre terskler"),
    "deadline": ("Days to the deadline", "Dager til fristen"),
    "price_weight": ("Price weight in the award criteria", "Prisvekt i tildelingskriteriene"),
    "incumbent": ("Incumbent", "Nåværende leverandør"),
    "influence": ("Influence window worked", "Påvirkningsvinduet brukt"),
    "capacity": ("Our capacity (bid team)", "Vår kapasitet (tilbudsteamet)"),
    "delivery_risk": ("Delivery risk (bid team)", "Leveranserisiko (tilbudsteamet)"),
}
FACTS = {
    "base_end": ("base end", "grunnperiode slutter"),
    "direct_award": ("direct award", "direkte tildeling"),
    "duration": ("duration", "varighet"),
    "eea_threshold": ("EEA threshold", "EØS-terskel"),
    "framework": ("framework agreement", "rammeavtale"),
    "latest_end": ("latest end", "seneste slutt"),
    "lot": ("lot", "delkontrakt"),
    "options": ("options", "opsjoner"),
    "regime": ("regime", "regelverk"),
    "start": ("start", "oppstart"),
    "value": ("value", "verdi"),
    "base_term_months": ("base period (months)", "grunnperiode (måneder)"),
    "base_months": ("base period (months)", "grunnperiode (måneder)"),
    "new_end": ("new end", "ny sluttdato"),
    "options_months": ("options (months)", "opsjoner (måneder)"),
    "option_months": ("options (months)", "opsjoner (måneder)"),
    "period": ("period", "periode"),
    "procedure": ("procedure", "prosedyre"),
    "total_months": ("total period (months)", "total periode (måneder)"),
    "value_per_year": ("value per year", "verdi per år"),
    "max_value": ("maximum value", "maksimal verdi"),
    "estimated_value": ("estimated value", "anslått verdi"),
}
UNITS = {
    "MONTH": ("month", "months", "måned", "måneder"),
    "YEAR": ("year", "years", "år", "år"),
    "DAY": ("day", "days", "dag", "dager"),
    "WEEK": ("week", "weeks", "uke", "uker"),
}


# The milestones of the shipped budget calendars (tracker/rules.toml); a user's own are
# shown as written.
MILESTONES = {
    "new initiatives to the ministry": (
        "new initiatives to the ministry", "nye satsingsforslag til departementet"
    ),
    "budget frames conference": ("budget frames conference", "regjeringens rammekonferanse"),
    "budget proposal presented": ("budget proposal presented", "budsjettforslaget legges fram"),
    "budget adopted by the Storting": (
        "budget adopted by the Storting", "budsjettet vedtas av Stortinget"
    ),
    "budget frames": ("budget frames", "budsjettrammer"),
    "budget proposal": ("budget proposal", "budsjettforslag"),
    "budget adopted": ("budget adopted", "budsjettet vedtas"),
    "planning assumptions": ("planning assumptions", "planforutsetninger"),
    "long-term plan": ("long-term plan", "langtidsplan"),
    "income frames": ("income frames", "inntektsrammer"),
    "assignment document": ("assignment document", "oppdragsdokument"),
}  # fmt: skip
# How tracker.opportunities.budget names a milestone in a window: "<name> (budget <year>)".
_MILESTONE = re.compile(r"^(?P<name>.*) \(budget (?P<year>\d{4})\)$")


def _pick(pair: tuple[str, str]) -> str:
    return pair[1] if current_language() == "nb" else pair[0]


def _from(table: dict[str, tuple[str, str]], code: Any) -> str:
    if code is None or code == "":
        return "–"
    pair = table.get(str(code))
    return _pick(pair) if pair else str(code).replace("_", " ")


@lru_cache(maxsize=8)
def _codelist(name: str) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            code = (row.get("code") or "").strip()
            if code:
                out[code] = ((row.get("name") or code).strip(), (row.get("nob") or "").strip())
    return out


def _list_label(name: str, code: Any) -> str:
    if code is None or code == "":
        return "–"
    en, nb = _codelist(name).get(str(code).strip(), ("", ""))
    text = (nb or en) if current_language() == "nb" else (en or nb)
    return text or str(code)


def cpv(code: Any) -> str:
    """The CPV name of ``code`` (``72000000``, ``72000000-5``), by its nearest listed parent
    when the code itself is not listed."""
    if code is None or code == "":
        return "–"
    digits = re.sub(r"\D", "", str(code))[:8]
    table = _codelist("cpv.tsv")
    candidate = digits.ljust(8, "0")
    while candidate:
        if candidate in table:
            en, nb = table[candidate]
            return (nb or en) if current_language() == "nb" else (en or nb)
        stripped = candidate.rstrip("0")
        if not stripped:
            break
        candidate = stripped[:-1].ljust(8, "0")
    return str(code)


def subtype(code: Any) -> str:
    """A notice subtype (eForms 1–40, ``E1``…) in words; a TED ``N16`` by its eForms
    number."""
    if code is None or code == "":
        return "–"
    text = str(code).strip()
    m = re.fullmatch(r"[A-Za-z]*?(\d+)", text)
    key = m.group(1).lstrip("0") or "0" if m else text
    label = _list_label("notice-subtype.tsv", key)
    if label == key and text != key:
        return text
    # the regulation after the dash is the detail: the kind reads on its own
    return label.split(" – ")[0]


def procedure(code: Any) -> str:
    return _list_label("procurement-procedure-type.tsv", code)


def framework(code: Any) -> str:
    return _list_label("framework-agreement.tsv", code)


def legal_type(code: Any) -> str:
    return _list_label("buyer-legal-type.tsv", code)


def phase(code: Any) -> str:
    return _from(PHASES, code)


def end_source(code: Any) -> str:
    return _from(END_SOURCES, code)


def link_method(code: Any) -> str:
    return _from(LINK_METHODS, code)


def buyer_type(code: Any) -> str:
    return _from(BUYER_TYPES, code)


def value_kind(code: Any) -> str:
    return _from(VALUE_KINDS, code)


def confidence(code: Any) -> str:
    """A confidence word; a number between 0 and 1 as a percentage (``0.7`` → ``70 %``)."""
    if isinstance(code, int | float) and not isinstance(code, bool) and 0 <= code <= 1:
        return f"{round(code * 100)}\u00a0%"
    return _from(CONFIDENCES, code)


def status(code: Any) -> str:
    return _from(STATUSES, code)


def role(code: Any) -> str:
    return _from(ROLES, code)


def tier(code: Any) -> str:
    return _from(TIERS, code)


def activity(code: Any) -> str:
    return _from(ACTIVITY_KINDS, code)


def score_component(code: Any) -> str:
    return _from(SCORE_COMPONENTS, code)


def criterion(code: Any) -> str:
    return _from(CRITERION_TYPES, code)


def fact(code: Any) -> str:
    return _from(FACTS, code)


def duration(text: Any) -> str:
    """``31.00 MONTH`` → ``31 måneder`` / ``31 months``; other text as it is."""
    if text is None or text == "":
        return "–"
    if str(text).strip().upper() == "UNLIMITED":
        return "uten sluttdato" if current_language() == "nb" else "no end date"
    m = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*([A-Za-z]+)\s*", str(text))
    if not m or m.group(2).upper() not in UNITS:
        return str(text)
    n = float(m.group(1).replace(",", "."))
    en1, en2, nb1, nb2 = UNITS[m.group(2).upper()]
    shown = f"{n:g}".replace(".", ",") if current_language() == "nb" else f"{n:g}"
    one = n == 1
    return (
        f"{shown} {(nb1 if one else nb2) if current_language() == 'nb' else (en1 if one else en2)}"
    )


def lot(lot_id: Any, count: int | None = None) -> str:
    """``LOT-0000`` → ``Delkontrakt 1`` / ``Lot 1``; empty when the notice has one lot."""
    if lot_id is None or lot_id == "":
        return ""
    if count is not None and count <= 1:
        return ""
    m = re.fullmatch(r"\s*LOT-0*(\d+)\s*", str(lot_id), flags=re.IGNORECASE)
    if not m:
        return str(lot_id)
    n = int(m.group(1)) + 1  # eForms numbers lots from LOT-0000
    return f"{'Delkontrakt' if current_language() == 'nb' else 'Lot'} {n}"


# The part of a notice a fact was read from (``text (lot description)``: TextFacts.evidence).
TEXT_PLACES = {
    "description": ("description", "beskrivelsen"),
    "lot description": ("lot description", "delkontraktens beskrivelse"),
    "lot note": ("lot note", "delkontraktens merknad"),
    "note": ("note", "merknaden"),
    "options": ("options", "opsjonsbeskrivelsen"),
    "renewals": ("renewals", "forlengelsesbeskrivelsen"),
    "title": ("title", "tittelen"),
}


def evidence_source(source: Any) -> str:
    """Where a fact was read: a domain message in the reader's language, ``text (lot
    description)`` as ``teksten (delkontraktens beskrivelse)``; anything else as it is."""
    if isinstance(source, Message | Text):
        return msg(source)
    if source is None or source == "":
        return "–"
    m = re.fullmatch(r"text \((.+)\)", str(source))
    if not m:
        return str(source)
    place = _from(TEXT_PLACES, m.group(1))
    return f"teksten ({place})" if current_language() == "nb" else f"text ({place})"


def milestone(name: Any) -> str:
    """A budget window's milestone as ``tracker.opportunities.budget`` names it
    (``budget proposal presented (budget 2024)``) in the reader's language: a shipped
    calendar's milestone and the word "budget" translated, a user's own name as written."""
    if name is None or name == "":
        return "–"
    text = str(name)
    m = _MILESTONE.match(text)
    base, year = (m.group("name"), m.group("year")) if m else (text, None)
    pair = MILESTONES.get(base)
    label = _pick(pair) if pair else base
    if year is None:
        return label
    return f"{label} ({_pick(('budget', 'budsjett'))} {year})"


def yes_no(value: Any) -> str:
    if value is None:
        return "–"
    if current_language() == "nb":
        return "ja" if value else "nei"
    return "yes" if value else "no"


FILTERS = {
    "cpv_label": cpv,
    "subtype_label": subtype,
    "procedure_label": procedure,
    "framework_label": framework,
    "legal_type_label": legal_type,
    "phase_label": phase,
    "end_source_label": end_source,
    "link_method_label": link_method,
    "buyer_type_label": buyer_type,
    "value_kind_label": value_kind,
    "confidence_label": confidence,
    "status_label": status,
    "role_label": role,
    "activity_label": activity,
    "tier_label": tier,
    "criterion_label": criterion,
    "score_component_label": score_component,
    "duration_label": duration,
    "fact_label": fact,
    "source_label": evidence_source,
    "lot_label": lot,
    "milestone_label": milestone,
    "yes_no": yes_no,
}
