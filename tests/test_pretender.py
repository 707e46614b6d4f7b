"""Pre-tender readings (tracker.notices.pretender) against the hand-checked golden file, and text
rules.

Every ``pre_tender`` entry of the golden reading of the real Doffin notices is read from
the parsed notice alone: its kind, response deadline, dialogue day and planned
publication must be the analyst's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REAL
from tests.support.expected import same_moment
from tracker.notices.eforms import parse_notice
from tracker.notices.pretender import find_dates, find_periods, read_pretender, sentences

GOLDEN = json.loads((FIXTURES / "golden" / "doffin-real-golden.json").read_text("utf-8"))
PRE_TENDER = GOLDEN["pre_tender"]
D = dt.date


def reading_of(path: Path) -> Any:
    n = parse_notice(path.read_bytes(), location=str(path))
    texts = [n.description, *(x for lot in n.lots for x in (lot.title, lot.description))]
    return read_pretender(
        subtype=n.subtype,
        issue_date=n.issue_date,
        title=n.title,
        texts=texts,
        planned_date=n.planned_date,
        deadlines=[d for lot in n.lots for d in (lot.submission_deadline, lot.request_deadline)],
        is_test=n.is_test,
    )


@pytest.mark.parametrize("entry", PRE_TENDER, ids=[e["doffin_id"] for e in PRE_TENDER])
def test_golden_pre_tender_reading(entry: dict[str, Any]) -> None:
    r = reading_of(REAL / entry["file"])
    assert r is not None
    assert r.kind == entry["kind"], r.reason
    if entry["kind"] in ("market_dialogue", "call_for_competition"):
        assert same_moment(entry["response_deadline"], r.response_deadline), (
            entry["response_deadline"],
            r.response_deadline,
        )
    if entry["kind"] == "market_dialogue":
        assert same_moment(entry.get("dialogue_date"), r.dialogue_date)
    if entry["kind"] in ("market_dialogue", "planned_competition"):
        got = r.planned_publication.label() if r.planned_publication else None
        assert got == entry["planned_publication"]


def test_golden_pre_tender_kinds_summary() -> None:
    hits = [reading_of(REAL / e["file"]).kind == e["kind"] for e in PRE_TENDER]
    print(f"pre_tender kinds read as the analyst did: {sum(hits)}/{len(hits)}")
    assert all(hits)


def test_competition_and_result_notices_are_not_read() -> None:
    for path in sorted(REAL.glob("*.xml")):
        n = parse_notice(path.read_bytes())
        if n.subtype and n.subtype not in {str(i) for i in range(1, 16)} | {"N4", "E1", "E2"}:
            assert reading_of(path) is None, path.name


@pytest.mark.parametrize(
    ("text", "ref", "expected"),
    [
        ("Frist for å svare er 16. oktober kl. 12.00.", D(2023, 10, 5), [("2023-10-16", "12:00")]),
        ("innen 25.08.2023", D(2023, 7, 10), [("2023-08-25", None)]),
        ("onsdag 8. mars 2023 kl. 12.00", D(2023, 2, 21), [("2023-03-08", "12:00")]),
        ("Ønsket oppstart 2.10.23", D(2023, 9, 1), [("2023-10-02", None)]),
        ("Responses by 15 December 2023 at 14:00", D(2023, 11, 1), [("2023-12-15", "14:00")]),
        ("Deadline: January 10, 2024", D(2023, 12, 1), [("2024-01-10", None)]),
        ("frist 10. januar", D(2023, 12, 15), [("2024-01-10", None)]),  # next year
        ("svar innen 2024-02-01T12:00", D(2024, 1, 1), [("2024-02-01", "12:00")]),
        ("30. februar 2023", D(2023, 1, 1), []),  # no such day
    ],
)
def test_find_dates(text: str, ref: dt.date, expected: list[tuple[str, str | None]]) -> None:
    got = [
        (d.day.isoformat(), d.time.strftime("%H:%M") if d.time else None)
        for d in find_dates(text, ref)
    ]
    assert got == expected


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Konkurransen utlyses i januar 2024.", "2024-01"),
        ("Vi planlegger å kunngjøre i 1. kvartal 2024.", "2024-Q1"),
        ("The tender will be published in Q3 2024.", "2024-Q3"),
        ("Konkurransen kunngjøres i uke 12 2024.", "2024-W12"),
        ("Konkurransen lyses ut høsten 2024.", "2024-09-01/2024-11-30"),
    ],
)
def test_planned_publication_periods_in_text(text: str, label: str) -> None:
    r = read_pretender(subtype="4", issue_date=D(2023, 11, 1), title="Anskaffelse", texts=[text])
    assert r is not None and r.kind == "planned_competition"
    assert r.planned_publication is not None and r.planned_publication.label() == label


def test_contract_start_month_is_not_a_publication() -> None:
    text = "Vi skal inngå avtale om levering av møtemat fra januar 2024. Frist 16. oktober."
    r = read_pretender(subtype="4", issue_date=D(2023, 10, 5), title="Møtemat", texts=[text])
    assert r is not None and r.planned_publication is None
    assert find_periods("levering fra januar 2024", D(2023, 10, 5))  # it is a period


@pytest.mark.parametrize(
    ("subtype", "title", "text", "kind"),
    [
        ("4", "Markedsdialog - PC", "Vi inviterer til dialogmøte 3. mai 2024.", "market_dialogue"),
        ("7", "Server", "Request for information (RFI): please respond.", "market_dialogue"),
        ("16", "Server og lagring", "Vi inviterer til markedsdialog.", None),  # a competition
        ("4", "Nytt sak/arkiv", "Konkurransen gjennomføres som konkurransepreget dialog.",
         "planned_competition"),
        ("10", "Kiosk", "Vi ber om innspill før endelig utlysning.", "market_dialogue"),
        ("10", "Lab", "Leverandører bes melde sin interesse.", "call_for_competition"),
        ("E1", "Forberedende undersøkelser", "Se vedlegg.", "market_dialogue"),
        ("N4", "Intensjonskunngjøring - lisens", "Vi har til hensikt å inngå kontrakt uten "
         "konkurranse med X AS.", "other"),
        ("15", "Kvalifikasjonsordning", "Suppliers may apply at any time.", "qualification_system"),
    ],
)  # fmt: skip
def test_kind_is_decided_on_the_content(
    subtype: str, title: str, text: str, kind: str | None
) -> None:
    r = read_pretender(subtype=subtype, issue_date=D(2024, 4, 1), title=title, texts=[text])
    assert (r.kind if r else None) == kind


def test_dialogue_meeting_day_and_response_deadline_are_told_apart() -> None:
    text = (
        "Vi inviterer til dialogmøte 3. mai 2024 kl. 10.00. Påmelding innen 26. april 2024. "
        "Kontrakten skal gjelde fra 1. januar 2025."
    )
    r = read_pretender(subtype="4", issue_date=D(2024, 4, 1), title="Markedsdialog", texts=[text])
    assert r is not None and r.kind == "market_dialogue"
    assert r.response_deadline is not None and r.response_deadline.label() == "2024-04-26"
    assert r.dialogue_date is not None and r.dialogue_date.label() == "2024-05-03T10:00"
    assert "Påmelding" in r.response_deadline.text


def test_structured_deadline_wins_and_placeholders_are_ignored() -> None:
    placeholder = dt.datetime(2099, 1, 1, 12, tzinfo=dt.UTC)
    real = dt.datetime(2023, 3, 8, 10, tzinfo=dt.UTC)
    r = read_pretender(
        subtype="14",
        issue_date=D(2023, 2, 21),
        title="Veiledende kunngjøring",
        texts=["Vi ber om tilbakemeldinger før endelig utlysning. Frist 9. mars 2023."],
        deadlines=[placeholder, real],
    )
    assert r is not None and r.response_deadline is not None
    assert r.response_deadline.at == real and r.response_deadline.source.startswith("notice field")
    r = read_pretender(
        subtype="7",
        issue_date=D(2023, 2, 21),
        title="Markedsdialog",
        texts=["Innspill bes sendt innen 9. mars 2023."],
        deadlines=[placeholder],
    )
    assert r is not None and r.response_deadline is not None
    assert (
        r.response_deadline.label() == "2023-03-09" and r.response_deadline.source == "notice text"
    )


def test_sentences_do_not_break_at_dates() -> None:
    assert sentences("Frist er 16. oktober kl. 12.00. Se vedlegg.") == [
        "Frist er 16. oktober kl. 12.00.",
        "Se vedlegg.",
    ]
    # a full stop with no space after it still ends a sentence; "bl.a." does not
    assert sentences("uten IT-kompetanse.Interesserte oppfordres, bl.a. til dette.") == [
        "uten IT-kompetanse.",
        "Interesserte oppfordres, bl.a. til dette.",
    ]


def _each(pattern: Any, sents: list[str]) -> tuple[str, str] | None:
    """The plain reading: each sentence in turn, the IGNORECASE pattern (for _DIALOGUE with
    the competitive-dialogue phrases blanked out first)."""
    from tracker.notices import pretender as P

    for sent in sents:
        cleaned = P._NOT_DIALOGUE.sub(" ", sent) if pattern is P._DIALOGUE else sent
        m = pattern.search(cleaned)
        if m:
            return m.group(0), sent
    return None


def test_the_fast_phrase_search_finds_what_each_sentence_in_turn_finds() -> None:
    """``_first_match`` searches the sentences joined and lower-cased (five times faster
    on the real notices); on every real notice of the fixtures and on edge cases (case,
    blanked phrases, a letter whose lower case is longer, a NUL in a sentence) it finds
    the same words in the same sentence as the plain reading."""
    from tracker.notices import pretender as P
    from tracker.notices.parsing import parse_any

    patterns = [P._DIALOGUE, P._CALL, P._STRONG_DIALOGUE, P._DIRECT_AWARD]
    cases: list[list[str]] = []
    for f in sorted((FIXTURES / "notices").glob("*/*.xml")):
        try:
            n = parse_any(f.read_bytes(), location=f.name)
        except Exception:  # noqa: BLE001 - INVALID_ samples: not notices to read
            continue
        texts = [n.description, *(x for lot in n.lots for x in (lot.title, lot.description))]
        body = [s for t in texts if t for s in P.sentences(t)]
        cases.append([*P.sentences(n.title or ""), *body])
    cases += [
        ["Vi inviterer til MARKEDSDIALOG.", "RFI sendes ut."],
        ["Konkurransepreget dialog med tilbyderne.", "Dialog med tilbyderne i dialog med dem"],
        ["İstanbul: market consultation", "Request for Information"],
        ["a\x00b markedsdialog", "RFI"],
        [],
    ]
    found = 0
    for sents in cases:
        for pattern in patterns:
            expected = _each(pattern, sents)
            assert P._first_match(pattern, sents) == expected, (pattern.pattern[:40], sents[:3])
            found += expected is not None
    assert len(cases) > 300 and found > 40
