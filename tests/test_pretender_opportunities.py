"""Golden pre-tender entries become the right opportunities (ingest → link → recompute).

For every ``market_dialogue`` and ``planned_competition`` entry of the golden reading of the
real Doffin notices: the notice's buyer is made an account, the notices are ingested, and
on the day the notice was issued the opportunity must be a market dialogue open now with
the golden response deadline (days left to respond), or a planning opportunity whose
planned publication is the golden one. The same checks run on notices the code has not
seen: nothing here is specific to one file.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, REAL
from tests.support.expected import same_moment
from tracker.db.models import Account, AccountOrgnr
from tracker.notices.eforms import parse_notice
from tracker.notices.ingest import ingest_paths
from tracker.notices.pretender import OSLO
from tracker.opportunities.build import list_opportunities, recompute
from tracker.opportunities.windows import INFLUENCE_PHASES

GOLDEN = json.loads((FIXTURES / "golden" / "doffin-real-golden.json").read_text("utf-8"))
WANTED = [
    e for e in GOLDEN["pre_tender"] if e["kind"] in ("market_dialogue", "planned_competition")
]
OPPORTUNITY_KIND = {"market_dialogue": "dialogue", "planned_competition": "planning"}


def _world(engine: Engine) -> dict[str, Any]:
    """One account per buyer (with an org number) of the wanted notices, then every real
    notice ingested (linked on ingest). Returns {doffin id: parsed notice}."""
    parsed = {e["doffin_id"]: parse_notice((REAL / e["file"]).read_bytes()) for e in WANTED}
    with Session(engine) as s:
        seen: set[str] = set()
        for n in parsed.values():
            buyer = next((b for b in n.buyers if b.orgnr), None)
            if buyer is None or buyer.orgnr in seen:
                continue
            seen.add(buyer.orgnr)
            acc = Account(name=f"{buyer.name} ({buyer.orgnr})", tier="status")
            acc.orgnrs.append(AccountOrgnr(orgnr=buyer.orgnr))
            s.add(acc)
        s.commit()
    assert ingest_paths(engine, [REAL])["failed"] == 0
    return parsed


def _check(entry: dict[str, Any], rows: list[dict[str, Any]], issued: dt.date) -> list[str]:
    """What is wrong with the opportunity of ``entry`` on its issue day (empty: right)."""
    mine = [r for r in rows if r["notice_id"] == entry["notice_id"]]
    if not mine:
        return ["no opportunity"]
    problems = []
    for r in mine:
        kind = entry["kind"]
        if r["pretender_kind"] != kind:
            problems.append(f"read as {r['pretender_kind']}")
        if r["kind"] not in (OPPORTUNITY_KIND[kind], "retender"):
            problems.append(f"opportunity kind {r['kind']}")
        got_planned = (r["planned_publication"] or {}).get("label")
        if got_planned != entry["planned_publication"]:
            problems.append(f"planned publication {got_planned} != {entry['planned_publication']}")
        if kind == "market_dialogue":
            if r["phase"] != "dialogue_open" or not r["can_influence"]:
                problems.append(f"phase {r['phase']} on the issue day")
            deadline = r["response_deadline"]
            got = None
            if deadline:
                at = dt.datetime.fromisoformat(deadline["at"]) if deadline["at"] else None
                got = type("D", (), {"day": dt.date.fromisoformat(deadline["day"]), "at": at})
            if not same_moment(entry["response_deadline"], got):
                problems.append(f"response deadline {deadline} != {entry['response_deadline']}")
            if entry["response_deadline"]:
                due = dt.datetime.fromisoformat(entry["response_deadline"])
                if due.tzinfo is not None:
                    due = due.astimezone(OSLO)
                if r["days_left"] != (due.date() - issued).days:
                    problems.append(f"days left {r['days_left']}")
            if not r["supplier_note"] or "anskaffelser.no" not in r["supplier_note_source"]:
                problems.append("no note on the rules for suppliers who take part")
        elif r["phase"] not in INFLUENCE_PHASES:
            problems.append(f"phase {r['phase']} on the issue day")
    return problems


def test_golden_dialogues_and_planned_competitions_become_the_right_opportunities(
    engine: Engine, tracker_env: dict[str, str]
) -> None:
    parsed = _world(engine)
    failures: dict[str, list[str]] = {}
    with Session(engine) as s:
        for entry in WANTED:
            issued = parsed[entry["doffin_id"]].issue_date
            assert issued is not None
            recompute(s, issued)
            s.commit()
            problems = _check(entry, list_opportunities(s, today=issued), issued)
            if problems:
                failures[entry["doffin_id"]] = problems
    ok = len(WANTED) - len(failures)
    print(f"golden pre_tender market_dialogue/planned_competition entries: {ok}/{len(WANTED)}")
    assert len(WANTED) == 12
    assert not failures, failures


def test_a_stated_month_that_has_passed_is_not_influence(
    engine: Engine, tracker_env: dict[str, str]
) -> None:
    """2022-642893: 'Konkurransen utlyses i januar 2023'. In January the publication is due;
    on 2023-03-01 it is overdue, not "influence still possible for N days"."""
    [entry] = [e for e in WANTED if e["doffin_id"] == "2022-642893"]
    _world(engine)
    with Session(engine) as s:
        for day, phase, can in (
            (dt.date(2022, 12, 1), "drafting", True),
            (dt.date(2023, 1, 16), "drafting", True),
            (dt.date(2023, 3, 1), "overdue", False),
        ):
            recompute(s, day)
            s.commit()
            [r] = [
                r for r in list_opportunities(s, today=day) if r["notice_id"] == entry["notice_id"]
            ]
            assert (r["phase"], r["can_influence"]) == (phase, can), (day, r["reason"])
        assert "still possible" not in r["reason"]
        assert "the stated publication date has passed" in r["reason"]
        assert "utlyses i januar 2023" in r["reason"]
