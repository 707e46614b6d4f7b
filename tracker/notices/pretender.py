"""What a pre-tender notice says, read from its content: pure functions, no database.

A planning notice (PIN subtypes 1–9, national N4, E1, E2, T01), a PIN used as a call for
competition (10–14) or a qualification-system notice (15) is read into a ``Reading``:

``kind``
    ``market_dialogue``: the buyer asks the market for input before the competition (an
    invitation to dialogue meetings or a conference, an RFI or market survey, a draft
    specification or requirements put out for comment, "innspill"/"tilbakemeldinger" asked
    "før endelig utlysning"). Decided on the content, not only the subtype: a PIN used as a
    call for competition whose text is a hearing is a dialogue (2023-664435).
    ``planned_competition``: announces a later competition without inviting responses.
    ``call_for_competition``: a PIN used as the call (expressions of interest or tenders
    invited). ``qualification_system``: subtype 15. ``other``: a test notice, or a
    direct-award intention published as a PIN (no competition to answer).
``response_deadline``
    For a dialogue: the structured deadline of the notice (tender, request or interest
    deadline, placeholder years ignored), else a date the text gives as the deadline to
    answer ("Frist for å svare på høringen er 16. oktober kl. 12.00", "innspill bes sendes
    ... innen 25.08.2023").
``dialogue_date``
    The day of a dialogue meeting or conference ("inviterer ... til markedsdialog den
    15. mai 2023", "dialogkonferanse 20. april 2023 kl. 12-14").
``planned_publication``
    The structured planned date of the contract notice (BT-127), else a period the text
    gives for the publication ("Konkurransen utlyses i januar 2023": month precision).

Dates written without a year take the year of the notice (the next year when that would
put them before the notice). Text times are Oslo time. Every date carries the words it
was read from (``text``) and where it came from (``source``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from tracker.messages import N_, Text
from tracker.notices.subtypes import PLACEHOLDER_YEAR, PLANNING_SUBTYPES

# Where a date was read: English text that keeps its message (tracker.messages.Text), so
# that pages show it in the reader's language and code can compare it with plain text.
NOTICE_TEXT = Text(N_("notice text"))
PLANNED_FIELD_SOURCE = Text(N_("notice field BT-127"))
DEADLINE_FIELD = Text(N_("notice field: deadline"))
DEADLINE_FIELDS = Text(N_("notice field: deadline (BT-131/BT-1311/BT-630)"))

OSLO = ZoneInfo("Europe/Oslo")
KINDS: tuple[str, ...] = (
    "market_dialogue",
    "planned_competition",
    "call_for_competition",
    "qualification_system",
    "other",
)
CALL_SUBTYPES = frozenset({"10", "11", "12", "13", "14"})  # PIN used as call for competition
QUALIFICATION_SUBTYPES = frozenset({"15"})
PRETENDER_SUBTYPES = PLANNING_SUBTYPES | CALL_SUBTYPES | QUALIFICATION_SUBTYPES
READER_VERSION = "1"

# --------------------------------------------------------------------------- dates in text

_MONTHS = {
    "januar": 1, "january": 1, "jan": 1,
    "februar": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juni": 6, "june": 6, "jun": 6,
    "juli": 7, "july": 7, "jul": 7,
    "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "october": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "desember": 12, "december": 12, "des": 12, "dec": 12,
}  # fmt: skip
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(20\d\d)"
_TIME = r"(?:\s*,?\s*(?:kl\.?|klokka|klokken|at|by)\s*(\d{1,2})(?:[.:](\d{2}))?)?"
# "16. oktober [2023] [kl. 12.00]", "8. mars 2023", "15 December 2023"
_DAY_MONTH = re.compile(
    rf"(?<![\d.])(\d{{1,2}})\.?\s+{_MONTH}(?:\s+{_YEAR})?(?![\w]){_TIME}", re.IGNORECASE
)
# "December 15, 2023"
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b{_TIME}", re.I)
# "25.08.2023", "2.10.23", "25/08/2023"
_NUMERIC = re.compile(
    r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](20\d\d|\d\d)(?![\d])" + _TIME, re.IGNORECASE
)
_ISO = re.compile(r"(?<!\d)(20\d\d)-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?(?!\d)")
# Periods: "i januar 2023", "in March 2024", "1. kvartal 2024", "Q1 2024", "uke 12 2024",
# "første halvår 2024", "høsten 2024".
_MONTH_PERIOD = re.compile(rf"\b{_MONTH}\s+{_YEAR}\b", re.IGNORECASE)
_QUARTER = re.compile(
    r"\b(?:([1-4])\.\s*kvartal|Q([1-4])|([1-4])(?:st|nd|rd|th)\s+quarter(?:\s+of)?)\s*" + _YEAR,
    re.IGNORECASE,
)
_WEEK = re.compile(r"\b(?:uke|veke|week)\s+(\d{1,2})(?:\s*(?:i\s+|,\s*)?" + _YEAR + ")?", re.I)
_HALF = re.compile(
    r"\b(første|1\.|andre|2\.|first|second)\s+(?:halvår|halvdel|half)(?:\s+(?:av|of))?\s*" + _YEAR,
    re.IGNORECASE,
)
_SEASON = re.compile(
    r"\b(våren|vår|spring|sommeren|summer|høsten|høst|hausten|autumn|fall)\s+(?:av\s+|of\s+)?"
    + _YEAR,
    re.IGNORECASE,
)
_SEASONS = {"vår": (3, 5), "spring": (3, 5), "sommer": (6, 8), "summer": (6, 8)}
_SEASONS.update({"høst": (9, 11), "haust": (9, 11), "autumn": (9, 11), "fall": (9, 11)})
_YEAR_ONLY = re.compile(r"\b(?:i|in|during|løpet av)\s+" + _YEAR + r"\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TextDate:
    """A date found in text: the day, the time when given, the words it was read from."""

    day: dt.date
    time: dt.time | None
    start: int
    end: int
    text: str

    @property
    def at(self) -> dt.datetime | None:
        if self.time is None:
            return None
        return dt.datetime.combine(self.day, self.time, tzinfo=OSLO)


def _year(raw: str | None, ref: dt.date, month: int, day: int) -> int | None:
    if raw:
        y = int(raw)
        return y + 2000 if y < 100 else y
    # No year: the notice's year, or the next one when that is before the notice.
    try:
        guess = dt.date(ref.year, month, day)
    except ValueError:
        return None
    return ref.year + 1 if guess < ref - dt.timedelta(days=31) else ref.year


def _time(hour: str | None, minute: str | None) -> dt.time | None:
    if hour is None:
        return None
    h, m = int(hour), int(minute or 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return dt.time(h, m)


def find_dates(text: str, ref: dt.date) -> list[TextDate]:
    """Every day written in ``text`` (Norwegian or English), in order of appearance.

    ``ref`` (the notice date) gives the year of dates written without one.

    >>> found = find_dates("Frist 16. oktober kl. 12.00.", dt.date(2023, 10, 5))
    >>> [(d.day.isoformat(), d.time) for d in found]
    [('2023-10-16', datetime.time(12, 0))]
    """
    found: list[TextDate] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], y: int | None, mo: int, d: int, t: dt.time | None) -> None:
        if y is None or any(s < m.end() and m.start() < e for s, e in taken):
            return
        try:
            day = dt.date(y, mo, d)
        except ValueError:
            return
        taken.append((m.start(), m.end()))
        found.append(TextDate(day, t, m.start(), m.end(), m.group(0).strip()))

    for m in _ISO.finditer(text):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        add(m, y, mo, d, _time(m.group(4), m.group(5)))
    for m in _DAY_MONTH.finditer(text):
        mo, d = _MONTHS[m.group(2).lower()], int(m.group(1))
        add(m, _year(m.group(3), ref, mo, d), mo, d, _time(m.group(4), m.group(5)))
    for m in _MONTH_DAY.finditer(text):
        mo, d = _MONTHS[m.group(1).lower()], int(m.group(2))
        add(m, int(m.group(3)), mo, d, _time(m.group(4), m.group(5)))
    for m in _NUMERIC.finditer(text):
        d, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12:
            continue
        add(m, _year(m.group(3), ref, mo, d), mo, d, _time(m.group(4), m.group(5)))
    found.sort(key=lambda x: x.start)
    return found


@dataclass(frozen=True, slots=True)
class Period:
    """A stated period: first and last day, precision (day, week, month, quarter, half,
    season, year), the words it was read from and where it came from."""

    first: dt.date
    last: dt.date
    precision: str
    text: str
    source: str

    def label(self) -> str:
        """``2024-04-01`` (day), ``2023-01`` (month), ``2024-Q1``, ``2024-W12``, ``2024``..."""
        if self.precision == "day":
            return self.first.isoformat()
        if self.precision == "month":
            return self.first.strftime("%Y-%m")
        if self.precision == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.precision == "week":
            y, w, _ = self.first.isocalendar()
            return f"{y}-W{w:02d}"
        if self.precision == "year":
            return str(self.first.year)
        return f"{self.first.isoformat()}/{self.last.isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {
            "label": self.label(),
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "precision": self.precision,
            "text": self.text,
            "source": self.source,
        }


def _month_end(y: int, m: int) -> dt.date:
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def find_periods(text: str, ref: dt.date) -> list[tuple[int, Period]]:
    """Periods written in ``text`` (month, quarter, week, half-year, season, year), with the
    position where each starts; days are found by ``find_dates``."""
    out: list[tuple[int, Period]] = []
    for m in _MONTH_PERIOD.finditer(text):
        y, mo = int(m.group(2)), _MONTHS[m.group(1).lower()]
        # "16. oktober 2023" is a day, not a month
        if re.search(r"\d\.?\s*$", text[max(0, m.start() - 4) : m.start()]):
            continue
        period = Period(dt.date(y, mo, 1), _month_end(y, mo), "month", m.group(0), "")
        out.append((m.start(), period))
    for m in _QUARTER.finditer(text):
        q, y = int(m.group(1) or m.group(2) or m.group(3)), int(m.group(4))
        first = dt.date(y, 3 * q - 2, 1)
        out.append((m.start(), Period(first, _month_end(y, 3 * q), "quarter", m.group(0), "")))
    for m in _WEEK.finditer(text):
        w, y = int(m.group(1)), int(m.group(2)) if m.group(2) else ref.year
        try:
            first = dt.date.fromisocalendar(y, w, 1)
        except ValueError:
            continue
        if not m.group(2) and first < ref - dt.timedelta(days=31):
            first = dt.date.fromisocalendar(y + 1, w, 1)
        period = Period(first, first + dt.timedelta(days=6), "week", m.group(0), "")
        out.append((m.start(), period))
    for m in _HALF.finditer(text):
        y = int(m.group(2))
        second = m.group(1).lower() in ("andre", "2.", "second")
        first = dt.date(y, 7 if second else 1, 1)
        last = dt.date(y, 12, 31) if second else dt.date(y, 6, 30)
        out.append((m.start(), Period(first, last, "half", m.group(0), "")))
    for m in _SEASON.finditer(text):
        word = m.group(1).lower().removesuffix("en")
        a, b = _SEASONS.get(word, _SEASONS.get(m.group(1).lower(), (1, 12)))
        y = int(m.group(2))
        period = Period(dt.date(y, a, 1), _month_end(y, b), "season", m.group(0), "")
        out.append((m.start(), period))
    for m in _YEAR_ONLY.finditer(text):
        y = int(m.group(1))
        period = Period(dt.date(y, 1, 1), dt.date(y, 12, 31), "year", m.group(0), "")
        out.append((m.start(), period))
    return out


# --------------------------------------------------------------------------- sentences

_SPLIT = re.compile(
    r"(?<=[.!?;])\s+(?=[A-ZÆØÅ\"«(•\-])|\s*[\n•]+\s*|\s+-\s+(?=[A-ZÆØÅ])"
    r"|(?<=[a-zæøå)]\.)(?=[A-ZÆØÅ][a-zæøå])"  # "IT-kompetanse.Interesserte": no space
)


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (a date such as "16. oktober" is not a sentence end)."""
    return [s.strip() for s in _SPLIT.split(text or "") if s and s.strip()]


# --------------------------------------------------------------------------- signals

_NOT_DIALOGUE = re.compile(
    r"konkurransepreget\s+dialog|competitive\s+dialogue|dialog\s+med\s+(?:tilbydere|tilbyderne)"
    r"|forhandling\w*\s+og\s+dialog",
    re.IGNORECASE,
)
# Words by which a buyer asks the market for input before a competition.
_DIALOGUE = re.compile(
    r"markedsdialog|marknadsdialog|dialogm[øo]te|dialogkonferanse|dialogdag|dialogsamtal"
    r"|leverand[øo]rm[øo]te|leverand[øo]rkonferanse|leverand[øo]rdag|leverand[øo]rseminar"
    r"|markedsunders[øo]kel|markedskartlegging|\bRFI\b|informasjonsforesp[øo]rsel"
    r"|\bh[øo]y?ring|\binnspel|\binnspill|tilbakemelding\w*\s+fr[aå]\s+(?:leverand[øo]r)?marked"
    r"|f[øo]r\s+endel\w*\s+(?:utlysing|utlysning|kunngj[øo]ring)|invitasjon\s+til\s+dialog"
    r"|inviter\w*\s+(?:\w+\s+){0,6}til\s+(?:en\s+)?(?:markeds)?dialog|i\s+dialog\s+med"
    r"|kommentere\s+(?:\w+\s+){0,4}utkast|(?:ønsker|ber\s+om|etterspør)\s+(?:\w+\s+){0,3}"
    r"(?:informasjon|innspill|tilbakemelding)|market\s+(?:dialogue|consultation|engagement"
    r"|survey|sounding)|pre-?market|request\s+for\s+(?:information|input|comments?)"
    r"|industry\s+day|supplier\s+(?:day|meeting|conference)|dialogue\s+(?:meeting|conference)"
    r"|(?:invite|ask)\w*\s+(?:\w+\s+){0,4}(?:to\s+)?(?:provide\s+)?(?:input|feedback|comments)",
    re.IGNORECASE,
)
# Words by which a notice is itself the call: interest or tenders invited now.
_CALL = re.compile(
    r"melde\s+(?:sin\s+|din\s+|deres\s+)?interesse|interessemelding|expressions?\s+of\s+interest"
    r"|bes\s+sende\s+tilbud|inngi\s+tilbud|levere\s+tilbud|ønsker\s+tilbud|tilbudsfrist"
    r"|ikke\s+bli\s+ytterligere\s+kunngjort|not\s+be\s+(?:further|separately)\s+(?:published|"
    r"announced)|invite\w*\s+(?:\w+\s+){0,6}(?:to\s+)?(?:submit|confirm)|bekrefte\s+sin\s+interesse"
    r"|åpen\s+konkurranse|open\s+(?:procedure|competition)",
    re.IGNORECASE,
)
# Pre-tender phrases strong enough to outweigh call words in a PIN used as a call.
_STRONG_DIALOGUE = re.compile(
    r"f[øo]r\s+endel\w*\s+(?:utlysing|utlysning|kunngj[øo]ring)|markedsdialog|\bh[øo]y?ring"
    r"|\bRFI\b|request\s+for\s+information|markedsunders[øo]kel|dialogkonferanse|dialogm[øo]te"
    r"|before\s+the\s+(?:final|formal)\s+(?:call|tender|publication)",
    re.IGNORECASE,
)
_DIRECT_AWARD = re.compile(
    r"intensjonskunngj[øo]ring|intensjonskjunngj|uten\s+(?:forutgående\s+)?(?:kunngjøring\s+av\s+)?"
    r"konkurranse|har\s+til\s+(?:hensikt|intensjon)\s+å\s+inngå|intention\s+to\s+(?:award|"
    r"conclude)|without\s+(?:a\s+)?(?:prior\s+)?(?:call\s+for\s+)?competition",
    re.IGNORECASE,
)
# In a sentence with a date: what the date is.
_RESPONSE_CUE = re.compile(
    r"\bfrist|svarfrist|\binnen\b|\bsenest\b|\bseinast\b|påmelding|deadline|no\s+later\s+than"
    r"|\bby\b|\brespond|\bresponses?\b|\breply",
    re.IGNORECASE,
)
_NOT_RESPONSE = re.compile(
    r"konkurransegrunnlag|tilbudsfrist|tilbud\s+(?:må|skal)\s+leveres|tender\s+deadline"
    r"|kontrakt|avtale\w*\s+(?:gjelder|løper|varer)|oppstart",
    re.IGNORECASE,
)
_MEETING_CUE = re.compile(
    r"dialogm[øo]te|dialogkonferanse|dialogdag|markedsdialog|m[øo]te|konferanse|seminar"
    r"|workshop|webinar|befaring|samling|meeting|conference|industry\s+day|supplier\s+day",
    re.IGNORECASE,
)
_PUBLICATION_CUE = re.compile(
    r"utlys\w*|lyses\s+ut|lyst\s+ut|kunngj[øo]r(?:e|es|t)\b|kunngjer(?:e|ast)\b|publiser\w*"
    r"|annonser\w*"
    r"|konkurransen\s+(?:vil|skal|planlegges|er\s+planlagt)|forventet\s+(?:utlyst|kunngjort)"
    r"|will\s+be\s+(?:published|announced|launched|issued)|planned\s+(?:publication|launch)"
    r"|expected\s+to\s+be\s+(?:published|announced|launched)|tender\s+(?:launch|publication)",
    re.IGNORECASE,
)
_NOT_PUBLICATION = re.compile(
    r"f[øo]r\s+endel\w*\s+utlys|oppstart|levering\s+(?:av\s+\S+\s+)?fra|fra\s+(?:og\s+med\s+)?"
    r"(?:januar|februar|mars|april|mai|juni|juli|august|september|oktober|november|desember)"
    r"|kontrakt\w*\s+(?:starter|gjelder)|contract\s+start",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A response deadline or meeting date: the day, the time when known (Oslo), the words
    or field it was read from."""

    day: dt.date
    at: dt.datetime | None  # aware when a time is known
    text: str
    source: str  # "notice field ..." or "notice text"

    def label(self) -> str:
        """``2023-10-16T12:00`` (Oslo time) or ``2023-12-15``."""
        if self.at is None:
            return self.day.isoformat()
        return self.at.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")

    def as_dict(self) -> dict[str, str | None]:
        return {
            "label": self.label(),
            "day": self.day.isoformat(),
            "at": self.at.isoformat() if self.at else None,
            "text": self.text,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Reading:
    """The pre-tender reading of one notice (see the module docstring)."""

    kind: str
    reason: str
    evidence: str | None = None
    response_deadline: Deadline | None = None
    dialogue_date: Deadline | None = None
    planned_publication: Period | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "evidence": self.evidence,
            "response_deadline": self.response_deadline.as_dict()
            if self.response_deadline
            else None,
            "dialogue_date": self.dialogue_date.as_dict() if self.dialogue_date else None,
            "planned_publication": self.planned_publication.as_dict()
            if self.planned_publication
            else None,
            "version": READER_VERSION,
        }


def _quote(sentence: str, limit: int = 240) -> str:
    s = re.sub(r"(?:\s*\.)+$", ".", re.sub(r"\s+", " ", sentence).strip())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _caseless(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` (IGNORECASE) as a case-sensitive pattern for lower-cased text: its
    letters lower-cased, escapes (``\\b``, ``\\s``, ``\\W``...) left as they are. Python's
    ``re`` scans lower-cased text with it about five times faster."""
    lowered = re.sub(r"\\.|[^\\]+", lambda m: m.group(0) if m.group(0)[0] == "\\" else
                     m.group(0).lower(), pattern.pattern)  # fmt: skip
    return re.compile(lowered, pattern.flags & ~re.IGNORECASE)


_CASELESS = {p: _caseless(p) for p in (_DIALOGUE, _CALL, _STRONG_DIALOGUE, _DIRECT_AWARD)}
_NOT_DIALOGUE_LOW = _caseless(_NOT_DIALOGUE)
_SEP = "\x00"  # between sentences: no pattern matches across it (not \\s, not \\w)


@dataclass(frozen=True)
class _Joined:
    """A notice's sentences joined by ``_SEP`` and lower-cased, once for every phrase
    searched in them; ``usable`` False when lower-casing moves offsets (a few letters such
    as "İ" grow) or a sentence holds the separator."""

    sents: list[str]
    joined: str
    low: str
    usable: bool

    @classmethod
    def of(cls, texts: Iterable[str]) -> _Joined:
        sents = list(texts)
        joined = _SEP.join(sents)
        low = joined.lower()
        usable = len(low) == len(joined) and joined.count(_SEP) == max(len(sents) - 1, 0)
        return cls(sents, joined, low, usable)


def _first_match(
    pattern: re.Pattern[str], texts: Iterable[str] | _Joined
) -> tuple[str, str] | None:
    """The first sentence of ``texts`` in which ``pattern`` matches: (the words matched,
    the sentence); for ``_DIALOGUE`` with the phrases of ``_NOT_DIALOGUE`` blanked out.

    One search over the sentences joined and lower-cased (no match can cross ``_SEP``),
    the same result as searching each sentence in turn with the IGNORECASE pattern,
    which it falls back to when the joined text is not ``usable``."""
    j = texts if isinstance(texts, _Joined) else _Joined.of(texts)
    fast = _CASELESS.get(pattern)
    if fast is None or not j.usable:
        return _first_match_each(pattern, j.sents)
    joined, low = j.joined, j.low
    if pattern is _DIALOGUE:
        spans = [m.span() for m in _NOT_DIALOGUE_LOW.finditer(low)]
        if spans:
            joined, low = _blank(joined, spans), _blank(low, spans)
    m = fast.search(low)
    if m is None:
        return None
    return joined[m.start() : m.end()], j.sents[joined.count(_SEP, 0, m.start())]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by one space (as ``re.sub(" ", ...)`` would)."""
    parts, pos = [], 0
    for a, b in spans:
        parts += [text[pos:a], " "]
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


def _first_match_each(pattern: re.Pattern[str], sents: list[str]) -> tuple[str, str] | None:
    for sent in sents:
        cleaned = _NOT_DIALOGUE.sub(" ", sent) if pattern is _DIALOGUE else sent
        m = pattern.search(cleaned)
        if m:
            return m.group(0), sent
    return None


def _structured_deadline(
    deadlines: Iterable[dt.datetime | None], issued: dt.date | None, what: str
) -> Deadline | None:
    real = sorted(
        d
        for d in deadlines
        if d is not None and d.year < PLACEHOLDER_YEAR and (issued is None or d.date() >= issued)
    )
    if not real:
        return None
    d = real[0]
    local = d.astimezone(OSLO) if d.tzinfo else d.replace(tzinfo=OSLO)
    return Deadline(local.date(), local, d.isoformat(), what)


def _text_dates(
    sents: Sequence[str], ref: dt.date, cue: re.Pattern[str], veto: re.Pattern[str] | None
) -> Deadline | None:
    for sent in sents:
        if not cue.search(sent) or (veto is not None and veto.search(sent)):
            continue
        for td in find_dates(sent, ref):
            if td.day < ref:
                continue
            return Deadline(td.day, td.at, _quote(sent), NOTICE_TEXT)
    return None


def _planned_from_text(sents: Sequence[str], ref: dt.date) -> Period | None:
    for sent in sents:
        if not _PUBLICATION_CUE.search(sent) or _NOT_PUBLICATION.search(sent):
            continue
        days = [td for td in find_dates(sent, ref) if td.day >= ref]
        if days:
            td = days[0]
            return Period(td.day, td.day, "day", _quote(sent), NOTICE_TEXT)
        periods = sorted(
            (p for _, p in find_periods(sent, ref) if p.last >= ref),
            key=lambda p: (p.last - p.first, p.first),
        )
        if periods:
            p = periods[0]
            return Period(p.first, p.last, p.precision, _quote(sent), NOTICE_TEXT)
    return None


def read_pretender(
    *,
    subtype: str | None,
    issue_date: dt.date | None,
    title: str | None,
    texts: Sequence[str | None] = (),
    planned_date: dt.date | None = None,
    deadlines: Iterable[dt.datetime | None] = (),
    is_test: bool = False,
) -> Reading | None:
    """The pre-tender reading of a notice, or None when its subtype is not pre-tender
    (``PRETENDER_SUBTYPES``: planning 1–9/N4/E1/E2/T01, PIN as call 10–14, qualification
    system 15).

    ``texts``: its free text (procedure description, lot titles and descriptions);
    ``deadlines``: its lots' structured deadlines (tender, request, interest);
    ``planned_date``: BT-127.
    """
    code = (subtype or "").strip().upper()
    if code not in PRETENDER_SUBTYPES:
        return None
    ref = issue_date or dt.date.today()
    body = [t for t in texts if t]
    sents = [*sentences(title or ""), *(s for t in body for s in sentences(t))]
    if is_test:
        return Reading("other", Text(N_("test notice: no competition to answer")))
    if code in QUALIFICATION_SUBTYPES:
        return Reading("qualification_system", Text(N_("qualification-system notice (subtype 15)")))

    joined = _Joined.of(sents)  # joined and lower-cased once for the four searches
    dialogue = _first_match(_DIALOGUE, joined)
    call = _first_match(_CALL, joined)
    strong = _first_match(_STRONG_DIALOGUE, joined)
    direct = _first_match(_DIRECT_AWARD, joined)
    if direct and not dialogue:
        return Reading(
            "other",
            Text(
                N_(
                    "direct-award intention ('%(words)s'): no competition to answer",
                    words=direct[0],
                )
            ),  # fmt: skip
            _quote(direct[1]),
        )
    is_dialogue = code == "E1" or (
        dialogue is not None and (code not in CALL_SUBTYPES or call is None or strong is not None)
    )
    planned: Period | None = None
    if planned_date is not None and (issue_date is None or planned_date >= issue_date):
        planned = Period(
            planned_date, planned_date, "day", planned_date.isoformat(), PLANNED_FIELD_SOURCE
        )
    else:
        planned = _planned_from_text(sents, ref)

    if is_dialogue:
        return _dialogue_reading(sents, dialogue, deadlines, issue_date, ref, planned)
    if code in CALL_SUBTYPES:
        return Reading(
            "call_for_competition",
            Text(
                N_("PIN used as a call for competition ('%(words)s')", words=call[0])
                if call
                else N_(
                    "PIN used as a call for competition: interest or tenders are invited "
                    "by the deadline"
                )  # fmt: skip
            ),
            _quote(call[1]) if call else None,
            _structured_deadline(deadlines, issue_date, DEADLINE_FIELD),
            None,
            planned,
        )
    return Reading(
        "planned_competition",
        Text(N_("announces a coming competition; no responses are invited")),
        planned.text if planned and planned.source == "notice text" else None,
        None,
        None,
        planned,
    )


def _dialogue_reading(
    sents: list[str],
    dialogue: tuple[str, str] | None,
    deadlines: Iterable[dt.datetime | None],
    issue_date: dt.date | None,
    ref: dt.date,
    planned: Period | None,
) -> Reading:
    """A market dialogue: its response deadline (the structured one, in the buyer's words
    when the text gives the same day) and its meeting, if the text names one."""
    words = dialogue[0] if dialogue else N_("subtype E1 (pre-market consultation)")
    structured = _structured_deadline(deadlines, issue_date, DEADLINE_FIELDS)
    written = _text_dates(sents, ref, _RESPONSE_CUE, _NOT_RESPONSE)
    response = structured or written
    if structured is not None and written is not None and written.day == structured.day:
        # the same deadline in the buyer's words (shown beside the field's time)
        response = Deadline(structured.day, structured.at, written.text, structured.source)
    meeting = _text_dates(
        [s for s in sents if not _RESPONSE_CUE.search(s) or _MEETING_CUE.search(s)],
        ref,
        _MEETING_CUE,
        None,
    )
    if meeting is not None and response is not None and meeting.day == response.day:
        meeting = None
    return Reading(
        "market_dialogue",
        Text(
            N_(
                "the buyer asks the market for input before the competition ('%(words)s')",
                words=words,
            )
        ),  # fmt: skip
        _quote(dialogue[1]) if dialogue else None,
        response,
        meeting,
        planned,
    )


__all__ = [
    "CALL_SUBTYPES",
    "KINDS",
    "PRETENDER_SUBTYPES",
    "Deadline",
    "Period",
    "Reading",
    "find_dates",
    "find_periods",
    "read_pretender",
    "sentences",
]
