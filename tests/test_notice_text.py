"""The buyer's own words (tracker.notices.notice_text): real phrasings from the fixtures first,
constructed ones only where no real notice says it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.conftest import REAL
from tracker.notices.eforms import parse_notice
from tracker.notices.notice_text import (
    award_weights,
    parse_amounts,
    parse_date_words,
    planned_start,
    read_facts,
)

D = dt.date


@pytest.mark.parametrize(
    ("text", "day", "confidence"),
    [
        # Real: Politiets fellestjenester (lot Note), KS (description).
        ("total mulig avtalelengde fra planlagt oppstartsdato 9. mars 2023 er 4 år.",
         D(2023, 3, 9), "high"),
        ("med opsjon på forlengelse i inntil ytterligere 2 måneder.Ønsket oppstart 2.10.23, "
         "ønsket arbeidssted hos KS i Oslo.", D(2023, 10, 2), "medium"),
        # Constructed.
        ("Planlagt oppstart: 01.04.2024.", D(2024, 4, 1), "high"),
        ("Forventet kontraktsstart er 2025-01-15.", D(2025, 1, 15), "medium"),
        ("Oppstart etter nærmere avtale.", None, None),
        ("Oppstartsmøte 12.03.2024 hos oppdragsgiver.", None, None),  # a meeting, not the start
    ],
)  # fmt: skip
def test_planned_start(text: str, day: dt.date | None, confidence: str | None) -> None:
    got = planned_start(text)
    assert ((got[0], got[2]) if got else (None, None)) == (day, confidence)
    if got:
        assert got[1] in text or got[1].replace(" ", "") in text.replace(" ", "")


def test_dates_in_words() -> None:
    assert parse_date_words("9. mars 2023")[0] == D(2023, 3, 9)  # type: ignore[index]
    assert parse_date_words("den 31.12.2024")[0] == D(2024, 12, 31)  # type: ignore[index]
    assert parse_date_words("1. januar 2024")[0] == D(2024, 1, 1)  # type: ignore[index]
    assert parse_date_words("31. februar 2024") is None  # no such day


def test_amounts_and_their_kind() -> None:
    # Real: Moss kommune (lot Note), Vestfold og Telemark, Helse Vest, Ringerike.
    got = parse_amounts(
        "Anskaffelsens anslåtte verdi: NOK 60.000.000 ekskl. mva. "
        "Rammeavtalenes samlede maksimale verdi: NOK 65.000.000 ekskl. mva."
    )
    assert [(v, k) for v, k, _, _ in got] == [
        (Decimal(60_000_000), "estimated"),
        (Decimal(65_000_000), "max"),
    ]
    got = parse_amounts("Maksimal verdi er 18 MNOK eks. mva. inkludert opsjoner.")
    assert [(v, k) for v, k, _, _ in got] == [(Decimal(18_000_000), "max")]
    got = parse_amounts(
        "Estimert totalverdi for alle delkontrakter er ca. NOK 7 500 000,- per år, totalt "
        "NOK 30 000 000,- over 4 år."
    )
    assert [(v, k) for v, k, _, _ in got] == [
        (Decimal(7_500_000), "per_year"),
        (Decimal(30_000_000), "estimated"),
    ]
    got = parse_amounts("lisenser.Kontraktsverdi pr år er: kr 82 013,-Oppdragsgiver har")
    assert [(v, k) for v, k, _, _ in got] == [(Decimal(82_013), "per_year")]
    # Years, counts and ages are not amounts.
    assert parse_amounts("ca 5.500 tonn avfall fra ca 11.000 husstander i 2023") == []


def test_award_weights_written_in_text() -> None:
    # Real: Kulturtanken (BT-540 copied into three criteria by the TED converter).
    text = (
        "1) Kvalitet, kreativitet, design (40%) Det vil bli lagt vekt på leverandørens evne. "
        "2) Oppdragsorganisering kompetanse og kapasitet (30%) Her vil det bli lagt vekt på "
        "kompetanse, eks: årsrapport og stillingsannonse. 3) Pris (30%)"
    )
    assert [(n, w) for n, w, _ in award_weights(text)] == [
        ("Kvalitet, kreativitet, design", 40.0),
        ("Oppdragsorganisering kompetanse og kapasitet", 30.0),
        ("Pris", 30.0),
    ]
    # Constructed: other ways of writing it; weights that do not add up to 100 are no
    # criteria (a percentage in running text).
    assert [(n, w) for n, w, _ in award_weights("Pris 60 %, kvalitet 40 %")] == [
        ("Pris", 60.0),
        ("kvalitet", 40.0),
    ]
    assert award_weights("Prisøkningen overstiger ikke 50 % av verdien.") == []


def test_text_criteria_replace_unweighted_copies_in_the_parser() -> None:
    n = parse_notice((REAL / "ContractNotice_cn-desg_2023-371675.xml").read_bytes())
    crit = n.lots[0].award_criteria
    assert [(c.name, c.weight, c.type, c.source) for c in crit] == [
        ("Kvalitet, kreativitet, design", 40.0, "quality", "text"),
        ("Oppdragsorganisering kompetanse og kapasitet", 30.0, "quality", "text"),
        ("Pris", 30.0, "price", "text"),
    ]
    assert crit[2].quote == "3) Pris (30%)" or "Pris (30%)" in (crit[2].quote or "")
    # Criteria that refer to the documents stay as they are, without weights.
    n = parse_notice((REAL / "ContractNotice_cn-desg_2023-665410.xml").read_bytes())
    assert all(c.weight is None and c.source == "structured" for c in n.lots[0].award_criteria)


def _texts(name: str) -> list[tuple[str, str | None]]:
    n = parse_notice((REAL / name).read_bytes())
    texts: list[tuple[str, str | None]] = []
    for lot in n.lots:
        texts += [("lot note", lot.note), ("options", lot.options_description),
                  ("lot description", lot.description), ("lot title", lot.title)]  # fmt: skip
    texts += [("note", n.note), ("description", n.description), ("title", n.title)]
    texts += [("contract title", r.contract_title) for r in n.results]
    return texts


def test_facts_of_real_notices() -> None:
    f = read_facts(_texts("ContractAwardNotice_can-social_2022-945801.xml"))
    assert (f.base_months.value, f.option_months.value, f.total_months.value) == (24, 24, 48)  # type: ignore[union-attr]
    assert f.option_steps == (12, 12)
    assert f.framework is not None and f.framework.value is True
    assert "rammeavtale med én leverandør" in f.framework.quote
    assert f.max_value is not None and f.max_value.value == Decimal(18_000_000)
    f = read_facts(_texts("ContractAwardNotice_can-social_2024-111341.xml"))
    assert (f.base_months.value, f.option_months.value, f.option_steps) == (36, 36, (12, 12, 12))  # type: ignore[union-attr]
    assert f.framework is None
    f = read_facts(_texts("2024-110489.xml"))
    assert f.regime is not None and f.regime.value == "defence"
    assert f.direct_award is not None
    f = read_facts(_texts("ContractAwardNotice_can-modif_2023-101032.xml"))
    assert f.direct_award is not None and "Intensjonskunngjøring" in f.direct_award.quote
    f = read_facts(_texts("ContractAwardNotice_can-desg_2023-684186.xml"))
    assert f.cancelled is not None
    assert f.retender_signal is not None
    assert f.retender_signal.quote == "Konkurransen vil bli kunngjort på nytt innen kort tid."
    f = read_facts(_texts("ContractAwardNotice_veat_2022-627736.xml"))
    assert f.period is not None and f.period.value == (2023, 2025)
    assert f.period.confidence == "medium"
    # Stated procedure (real PIN text).
    f = read_facts([("description", "Anskaffelsen gjennomføres som en konkurranse med "
                     "forhandling etter forutgående kunngjøring.")])  # fmt: skip
    assert f.procedure is not None and f.procedure.value == "neg-w-call"
    # A modification's own new end (constructed: no real modification states one).
    f = read_facts([("modification", "Avtalen er forlenget til 31.12.2025.")], modification=True)
    assert f.new_end is not None and f.new_end.value == D(2025, 12, 31)
    # Nothing said: nothing found (no number of years, amount, keyword).
    assert read_facts(_texts("ContractAwardNotice_can-standard_2023-336496.xml")).facts == {}


def test_evidence_rows_carry_the_quote() -> None:
    f = read_facts([("lot note", "opsjon ... med 1 + 1 år slik at total mulig avtalelengde fra "
                     "planlagt oppstartsdato 9. mars 2023 er 4 år.")])  # fmt: skip
    rows = {r["fact"]: r for r in f.evidence()}
    assert rows["start"] == {
        "fact": "start",
        "value": "2023-03-09",
        "quote": "planlagt oppstartsdato 9. mars 2023",
        "source": "text (lot note)",
        "confidence": "high",
    }
