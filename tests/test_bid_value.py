"""One value per competition, with its kind and the buyer's words, on the real notices.

``tracker.bids.competitions.competition_value`` is compared with the golden reading of every
competition (contract notices, PINs used as a call for competition, qualification
systems) that states a value, or states none; the bid row, the score, the bid page's
read model and the API all carry that same value. The framework maximum keeps its
currency (BT-271 of 2024-102199, BT-709/BT-118 of the result notices).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, REAL
from tests.golden_check import load_golden
from tracker.bids.competitions import competition_value
from tracker.bids.selection import bid_detail, bid_rows
from tracker.db.models import Lot, Notice
from tracker.notices.eforms import parse_notice
from tracker.notices.files import ingest_paths
from tracker.rules import load_rules

GOLDEN = FIXTURES / "golden" / "doffin-real-golden.json"
CALLS = ("call_for_competition", "qualification_system")


@pytest.fixture
def real(engine: Engine) -> Engine:
    result = ingest_paths(engine, sorted(REAL.glob("*.xml")))
    assert result["failed"] == 0, result["failures"]
    return engine


def _notice(s: Session, doffin_id: str) -> Notice:
    return s.scalars(
        select(Notice)
        .where(Notice.source_id.contains(doffin_id) | (Notice.notice_id == doffin_id))
        .order_by(Notice.is_latest.desc(), Notice.id.desc())
    ).first() or _by_file(s, doffin_id)


def _by_file(s: Session, doffin_id: str) -> Notice:
    [path] = [p for p in REAL.glob("*.xml") if doffin_id in p.name]
    parsed = parse_notice(path.read_bytes())
    return s.scalars(
        select(Notice).where(Notice.notice_id == parsed.notice_id, Notice.version == parsed.version)
    ).one()


def _value(s: Session, n: Notice) -> dict[str, Any]:
    lots = list(s.scalars(select(Lot).where(Lot.notice_pk == n.id).order_by(Lot.position)))
    return competition_value(n, lots)


def _golden_values() -> list[tuple[str, float | None, str | None, str]]:
    """(doffin id, amount, kind or None when the golden file does not say, currency)."""
    golden = load_golden(GOLDEN)
    out = []
    for g in golden["competitions"]:
        amounts = [lot.get("estimated_value_nok") for lot in g.get("lots") or []]
        kinds = {lot.get("value_kind") for lot in g.get("lots") or []}
        known = [a for a in amounts if a is not None]
        total = float(sum(known)) if known else None
        kind = kinds.pop() if len(kinds) == 1 else None
        out.append((g["doffin_id"], total, kind if total is not None else None, "NOK"))
    for g in golden["pre_tender"]:
        if g.get("kind") not in CALLS:
            continue
        amount = g.get("estimated_value_nok") or g.get("value_amount")
        out.append(
            (g["doffin_id"], amount, None, g.get("value_currency") or "NOK")  # kind unsaid
        )
    return out


def test_one_value_per_competition_as_the_golden_reading(real: Engine) -> None:
    rows = _golden_values()
    right = 0
    wrong = []
    with Session(real) as s:
        for doffin_id, amount, kind, currency in rows:
            v = _value(s, _notice(s, doffin_id))
            ok = (v["amount"] is None) == (amount is None) and (
                amount is None or (abs(v["amount"] - amount) <= 1 and v["currency"] == currency)
            )
            if kind is not None:
                ok = ok and v["kind"] == kind
            if amount is not None:
                ok = ok and v["kind"] is not None and v["label"] != "verdi ikke oppgitt"
            right += ok
            if not ok:
                wrong.append((doffin_id, amount, kind, currency, v["amount"], v["kind"]))
    print(f"competition values right: {right}/{len(rows)}")
    for w in wrong:
        print("  WRONG", w)
    assert len(rows) >= 20
    assert not wrong


def test_the_buyers_words_beside_a_field_that_says_otherwise(real: Engine) -> None:
    """2023-649037: BT-27 says 30 MNOK (over 4 years); the description "ca. NOK 7 500 000,-
    per år": one value (30 MNOK, estimated), the words beside it."""
    with Session(real) as s:
        v = _value(s, _notice(s, "2023-649037"))
    assert (v["amount"], v["kind"], v["currency"]) == (30_000_000.0, "estimated", "NOK")
    assert v["per_year"] == 7_500_000.0
    assert v["words_differ"]
    quotes = " ".join(w["quote"] for w in v["words"])
    assert "7 500 000" in quotes
    assert all(w["source"].startswith("text (") for w in v["words"])


def test_a_framework_maximum_stays_a_maximum_with_its_currency(real: Engine) -> None:
    """2024-102199: only BT-271 (100 MNOK) of the procedure: a framework maximum, never
    'value unknown', in NOK as the XML says (currencyID)."""
    parsed = parse_notice(next(REAL.glob("*2024-102199.xml")).read_bytes())
    assert parsed.framework_max_value == 100_000_000 and parsed.currency == "NOK"
    with Session(real) as s:
        v = _value(s, _notice(s, "2024-102199"))
    assert (v["amount"], v["kind"], v["currency"]) == (100_000_000.0, "framework_max", "NOK")
    assert v["label"] == "rammeavtalens maksimale verdi"


def test_result_framework_maxima_keep_their_currency() -> None:
    """BT-709 and BT-118 amounts carry currencyID as tender values do (2022-697882 and
    2022-927623 state their maxima in NOK)."""
    for name in ("2022-697882", "2022-927623"):
        parsed = parse_notice(next(REAL.glob(f"*{name}.xml")).read_bytes())
        maxima = [r for r in parsed.results if r.framework_max_value is not None]
        assert parsed.result_framework_max is not None or maxima, name
        assert parsed.currency == "NOK", name
        assert all(r.currency == "NOK" for r in maxima), name


def test_a_maximum_written_on_every_lot_is_one_ceiling() -> None:
    class L:
        def __init__(self, mx: int | None, est: int | None = None) -> None:
            self.framework_max_value, self.estimated_value, self.currency = mx, est, "NOK"
            self.note = self.description = self.options_description = None

    class N:
        estimated_value = framework_max_value = note = description = None
        title, currency = "Rammeavtale", "NOK"

    one = competition_value(N(), [L(65_000_000), L(65_000_000), L(65_000_000)])
    assert (one["amount"], one["kind"]) == (65_000_000.0, "framework_max")
    assert "one ceiling" in one["source"]
    added = competition_value(N(), [L(None, 2_280_000), L(None, 6_800_000)])
    assert (added["amount"], added["kind"], added["partial"]) == (9_080_000.0, "estimated", False)
    part = competition_value(N(), [L(None, 2_280_000), L(None, None)])
    assert part["partial"] and (part["lots_with_value"], part["lots"]) == (1, 2)


def test_every_surface_reads_the_same_value(real: Engine) -> None:
    """The bid row (list, API, exports), its score and the bid page show one value."""
    day = dt.date(2023, 9, 1)
    with Session(real) as s:
        n = _notice(s, "2023-649037")
        [row] = bid_rows(s, day, [n.id], rules=load_rules())
        page = bid_detail(s, n.id, day, rules=load_rules())
    assert row.value == page.value == 30_000_000.0
    assert row.value_kind == page.value_kind == "estimated"
    [value_component] = [c for c in row.score["components"] if c["name"] == "value"]
    assert str(value_component["reason"]).startswith("estimated value: NOK 30.0 M")
    assert "7 500 000" in str(value_component["reason"])  # the buyer's words in the reason
