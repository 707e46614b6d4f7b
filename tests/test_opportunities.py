"""Opportunities on real notices (tracker.opportunities.build): re-tenders, planning notices and
competitions at the example accounts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import REAL
from tests.readmodels import list_opportunities
from tests.support.expected import ISSUE_KEYS
from tests.support.worlds import add_known_agreement, load_world
from tracker.accounts.keyaccounts import import_accounts
from tracker.config import load_settings
from tracker.db.models import (
    Account,
    Activity,
    Contract,
    Notice,
    NoticeLink,
    Opportunity,
)
from tracker.errors import NotFoundError, UserError
from tracker.notices.files import ingest_paths
from tracker.opportunities.build import recompute
from tracker.opportunities.matching import cpv_similarity, similarity, title_tokens
from tracker.rules import load_rules, parse_rules

D = dt.date


@pytest.fixture
def world(engine: Engine, tracker_env: dict[str, str]) -> Engine:
    load_world(engine)
    return engine


def _by_title(rows: list[dict], account: str, fragment: str) -> dict:
    found = [r for r in rows if r["account"] == account and fragment in (r["title"] or "")]
    assert len(found) == 1, [(r["account"], r["title"]) for r in rows]
    return found[0]


def test_recompute_builds_every_kind_on_real_notices(world: Engine) -> None:
    today = D(2023, 6, 1)
    with Session(world) as s:
        counts = recompute(s, today, rules=load_rules())
        s.commit()
        assert counts["retender"] >= 5 and counts["competition"] >= 4
        assert counts["planning"] >= 1 and counts["dialogue"] >= 2
        kinds = ("retender", "dialogue", "planning", "competition")
        assert counts["new"] == sum(counts[k] for k in kinds)
        rows = list_opportunities(s, today=today)
    assert len(rows) == counts["new"]
    for r in rows:
        assert set(r) >= ISSUE_KEYS
        assert r["budget_window"] is None or set(r["budget_window"]) >= {"start", "end", "status"}
    json.dumps(rows, default=str)  # plain values

    # A framework agreement from a result notice, one re-tender per lot: the lot Note says
    # 2 years from the planned start 2023-03-09 (then 1 + 1 år): the base end 2025-03-08
    # is the early re-tender; the text source keeps the timeline's confidence low.
    pft = _by_title(rows, "Politiets fellestjenester", "Delkontrakt 1")
    assert pft["kind"] == "retender"
    assert (pft["expiry"], pft["expiry_source"], pft["confidence"]) == (
        D(2025, 3, 8),
        "text_duration",
        "low",
    )
    # a framework of this size (138 MNOK) is prepared 18 months before publication:
    # influence opens when drafting starts, earlier than 12 months before expiry
    assert pft["expected_publication"] == D(2024, 9, 8)  # open procedure: 6 months
    assert pft["drafting_starts"] == D(2023, 3, 8)
    assert pft["influence_opens"] == D(2023, 3, 8)
    assert pft["incumbent"] == "competitor"
    assert pft["incumbents"] == ["Avarn Security AS"]
    assert pft["latest_end"] == D(2027, 3, 8)
    assert pft["budget_window"]["start"] == D(2023, 10, 1)
    assert pft["budget_window"]["end"] == D(2024, 3, 31)
    assert pft["budget_window"]["buyer_type"] == "state"
    assert pft["sources"]["drafting_starts"] == {
        "kind": "rule",
        "basis": "18 months before publication (largest value band)",
        "rule": "windows.drafting_months_by_value",
    }
    assert pft["sources"]["influence_opens"]["rule"] == "windows.drafting_months_by_value"
    assert pft["sources"]["expected_publication"]["rule"] == "windows.publish_before_expiry_months"
    lot2 = _by_title(rows, "Politiets fellestjenester", "Delkontrakt 2")
    assert (lot2["incumbents"], lot2["expiry"]) == (["Securitas AS"], D(2025, 3, 8))

    # Direct awards are no re-tenders: the Forsvaret night-vision VEAT comes later, the
    # Sykehusinnkjøp stockpile VEAT and the ViltHOP programme get no influence window.
    assert not [r for r in rows if r["kind"] == "retender" and "antipsykotika" in r["title"]]
    assert not [r for r in rows if r["kind"] == "retender" and "ViltHOP" in r["title"]]
    # Oslo kommune VAV, modified 112 days before its end: probably extended, watched with
    # the note to ask the buyer, never overdue and never an open window.
    vav = _by_title(rows, "Oslo kommune", "gradert informasjonssystem")
    assert (vav["expiry"], vav["phase"], vav["can_influence"]) == (None, "watching", False)
    assert vav["note"].startswith("probably extended: ask the buyer")

    # A PIN (subtype 3) of Forsvaret inviting to dialogue opens the influence window; its
    # dialogue (no deadline stated: 30 days) is over, influence goes on until publication.
    pin = _by_title(rows, "Forsvaret", "Service på elektronisk medisinsk utstyr")
    assert pin["kind"] == "dialogue" and pin["dialogue_until"] == D(2023, 4, 13)
    assert pin["influence_opens"] == D(2023, 3, 14)
    assert pin["expected_publication"] == D(2023, 9, 14)
    assert pin["phase"] == "drafting" and pin["can_influence"] is True
    assert pin["days_left"] == 105
    assert pin["reason"].endswith("influence is still possible for 105 days, until publication")

    # A published competition: influence closed, questions only until the deadline.
    comp = _by_title(rows, "Trondheim kommune", "Europan 17")
    assert comp["kind"] == "competition" and comp["published"] is True
    assert comp["phase"] == "published" and comp["can_influence"] is False
    assert comp["confidence"] == "high"
    assert "questions only until the deadline" in comp["reason"]

    # Open windows come first, soonest closing first.
    open_rows = [r for r in rows if r["can_influence"]]
    assert rows[: len(open_rows)] == open_rows
    assert [r["days_left"] for r in open_rows] == sorted(r["days_left"] for r in open_rows)


def test_recompute_is_stable_and_removes_what_is_gone(world: Engine) -> None:
    today = D(2023, 6, 1)
    with Session(world) as s:
        first = recompute(s, today, rules=load_rules())
        s.commit()
        keys = set(s.scalars(select(Opportunity.key)))
        again = recompute(s, today, rules=load_rules())
        s.commit()
        assert again["new"] == 0 and again["removed"] == 0
        assert again["updated"] == first["new"]
        assert set(s.scalars(select(Opportunity.key))) == keys
        # A contract that disappears takes its opportunity with it.
        contract = s.scalars(
            select(Contract).where(Contract.title.like("%vakt-%Delkontrakt 1"))
        ).one()
        s.delete(contract)
        s.commit()
        third = recompute(s, today, rules=load_rules())
        s.commit()
        assert third["removed"] == 1
        # Years later the old competitions have long been running: they are dropped.
        late = recompute(s, D(2026, 11, 28), rules=load_rules())
        s.commit()
        assert late["dropped"] > 0 and late["planning"] == 0


def test_stored_rows_carry_the_timeline_for_other_areas(world: Engine) -> None:
    with Session(world) as s:
        recompute(s, D(2023, 6, 1), rules=load_rules())
        s.commit()
        row = s.scalars(
            select(Opportunity).where(Opportunity.title.like("%vakt-%Delkontrakt 1"))
        ).one()
        # 138 MNOK: drafting starts 18 months before publication, with the influence window
        assert row.phase == "drafting" and row.computed_for == D(2023, 6, 1)
        assert (row.influence_opens, row.expected_publication, row.budget_start) == (
            D(2023, 3, 8),
            D(2024, 9, 8),
            D(2023, 10, 1),
        )
        assert row.timeline["sources"]["expected_publication"]["kind"] == "rule"
        assert row.timeline["reason"].startswith("Agreement Rammeavtale vakt- og sikkerhet")


def test_list_is_recomputed_for_the_day_asked(world: Engine) -> None:
    with Session(world) as s:
        recompute(s, D(2023, 6, 1), rules=load_rules())
        s.commit()
        [later] = [
            r
            for r in list_opportunities(s, today=D(2024, 5, 2), account="politiets fellestjenester")
            if "Delkontrakt 1" in (r["title"] or "")
        ]
    assert later["phase"] == "drafting" and later["can_influence"] is True
    assert later["days_left"] == (D(2024, 9, 8) - D(2024, 5, 2)).days
    assert later["budget_window"]["status"] == "closed"


def test_filters(world: Engine) -> None:
    today = D(2023, 8, 1)  # after NAV's competition of 2023-07-07 (the alias check below)
    with Session(world) as s:
        recompute(s, today, rules=load_rules())
        s.commit()
        everything = list_opportunities(s, today=today)
        forsvaret = list_opportunities(s, today=today, account="Forsvaret")
        assert forsvaret and {r["account"] for r in forsvaret} == {"Forsvaret"}
        acc_id = forsvaret[0]["account_id"]
        assert list_opportunities(s, today=today, account=acc_id) == forsvaret
        open_now = list_opportunities(s, today=today, open_now=True)
        assert open_now == [r for r in everything if r["can_influence"]]
        watching = list_opportunities(s, today=today, phase="watching")
        assert watching and all(r["phase"] == "watching" for r in watching)
        nav = list_opportunities(s, today=today, account="NAV")  # an alias
        assert nav and {r["account"] for r in nav} == {"Arbeids- og velferdsetaten"}
        with pytest.raises(NotFoundError, match="no account named 'Nobody'"):
            list_opportunities(s, today=today, account="Nobody")
        with pytest.raises(UserError, match="phase"):
            list_opportunities(s, today=today, phase="soon")


def test_competition_closes_the_window_of_the_retender_it_belongs_to(world: Engine) -> None:
    """An agreement known from the KAM (import) at Sykehusinnkjøp HF ending 2023-08-31;
    the real competition 2023-649037 for the same products (CPV 33100000, similar
    title) was published 2023-02-16: it closes that re-tender's window."""
    with Session(world) as s:
        add_known_agreement(s)
        recompute(s, D(2023, 3, 1), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2023, 3, 1), account="Sykehusinnkjøp HF")
    diatermi = [r for r in rows if "iatermipenner" in (r["title"] or "")]
    assert len(diatermi) == 1, diatermi
    [opp] = diatermi
    assert opp["kind"] == "retender" and opp["expiry"] == D(2023, 8, 31)
    assert opp["published"] is True and opp["expected_publication"] == D(2023, 2, 16)
    assert opp["sources"]["expected_publication"]["kind"] == "notice"
    assert opp["phase"] == "published" and opp["can_influence"] is False
    assert opp["expected_deadline"] == D(2023, 3, 17)
    assert opp["competition_notice_id"] is not None
    assert opp["confidence"] == "high"


def test_planning_notice_and_competition_of_the_same_procedure(world: Engine) -> None:
    """A PIN and a contract notice sharing the procedure id (BT-04) are one opportunity."""
    with Session(world) as s:
        pin = s.scalars(select(Notice).where(Notice.title.like("2023004253%"))).one()
        comp = s.scalars(select(Notice).where(Notice.title.like("Europan 17 - Østmarka"))).one()
        pin.procedure_id = comp.procedure_id
        comp_links = [link.account_id for link in _links(s, comp.id)]
        forsvaret = s.scalars(select(Account).where(Account.name == "Forsvaret")).one()
        assert forsvaret.id not in comp_links
        buyer = comp.buyers[0]
        s.add(
            NoticeLink(
                notice_pk=comp.id,
                buyer_pk=buyer.id,
                account_id=forsvaret.id,
                method="test",
                confidence=1.0,
            )
        )
        s.commit()
        recompute(s, D(2023, 4, 1), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2023, 4, 1), account="Forsvaret")
    merged = [r for r in rows if r["kind"] == "dialogue"]
    assert len(merged) == 1
    [opp] = merged
    assert opp["influence_opens"] == D(2023, 3, 14)
    assert opp["expected_publication"] == D(2023, 3, 28)
    assert opp["published"] is True and opp["phase"] == "published"
    assert not [r for r in rows if r["kind"] == "competition"]


def _links(s: Session, notice_pk: int) -> list:
    return list(s.scalars(select(NoticeLink).where(NoticeLink.notice_pk == notice_pk)))


def test_rejected_links_make_no_opportunity(world: Engine) -> None:
    with Session(world) as s:
        pin = s.scalars(select(Notice).where(Notice.title.like("2023004253%"))).one()
        for link in _links(s, pin.id):
            link.status = "rejected"
        s.commit()
        recompute(s, D(2023, 6, 1), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2023, 6, 1), account="Forsvaret")
        assert not [r for r in rows if r["kind"] in ("planning", "dialogue")]
        assert s.scalars(select(NoticeLink).where(NoticeLink.status == "rejected")).first()


def test_per_account_rules_and_activities(world: Engine) -> None:
    rules = parse_rules(
        '[accounts."Politiets fellestjenester".windows]\ninfluence_months_before_expiry = 36\n',
        "team-rules.toml",
    )
    with Session(world) as s:
        recompute(s, D(2023, 6, 1), rules=rules)
        s.commit()
        rows = list_opportunities(s, today=D(2023, 11, 1), rules=rules)
        pft = _by_title(rows, "Politiets fellestjenester", "Delkontrakt 1")
        assert pft["influence_opens"] == D(2022, 3, 8)  # 36 months before 2025-03-08
        assert pft["phase"] == "drafting" and pft["can_influence"] and pft["activities"] == 0
        acc = s.scalars(select(Account).where(Account.name == "Politiets fellestjenester")).one()
        s.add(
            Activity(
                account_id=acc.id,
                opportunity_key=pft["key"],
                kind="meeting",
                text="Needs workshop with the security department",
                happened_on=D(2023, 10, 20),
            )
        )
        s.commit()
        again = _by_title(
            list_opportunities(s, today=D(2023, 11, 1), rules=rules),
            "Politiets fellestjenester",
            "Delkontrakt 1",
        )
        assert again["activities"] == 1


def test_our_own_agreements_are_marked_us(world: Engine) -> None:
    settings = load_settings({"TRACKER_OUR_ORGNRS": "920144950", "TRACKER_HOME": "/nonexistent"})
    with Session(world) as s:
        recompute(
            s, D(2023, 6, 1), rules=load_rules(settings=settings), ours=settings.our_orgnr_list
        )
        s.commit()
        rows = list_opportunities(s, today=D(2023, 6, 1))
    # Securitas holds lot 2 only: that re-tender is ours, lot 1 a competitor's.
    assert _by_title(rows, "Politiets fellestjenester", "Delkontrakt 2")["incumbent"] == "us"
    assert _by_title(rows, "Politiets fellestjenester", "Delkontrakt 1")["incumbent"] == (
        "competitor"
    )


# --------------------------------------------------------------------------- matching (pure)


def test_title_tokens_and_similarity() -> None:
    a = title_tokens("Rammeavtale om kjøp av diatermipenner og -plater med tilbehør")
    b = title_tokens("Diatermipenner og -plater med tilbehør til foretakene i Helse Vest")
    assert a == {"diatermipenner", "plater", "tilbehør"}
    assert similarity(a, "33141000", b, "33100000") > 0
    # same CPV group, nothing in common in the titles: no match
    assert similarity(title_tokens("Blodposer"), "33141000", b, "33100000") == 0
    # same words, other CPV: a match only if the titles clearly agree
    assert similarity(a, "72000000", b, "33100000") == 0
    assert similarity(a, "72000000", a, "33100000") > 0
    assert cpv_similarity("33141000-0", "33141100") == 1.0
    assert cpv_similarity("33141000", "33100000") == 0.6
    assert cpv_similarity("33141000", "33600000") == 0.3
    assert cpv_similarity("33141000", "34000000") == 0.0
    assert cpv_similarity(None, "34000000") == 0.0


def test_notices_issued_after_today_do_not_exist_yet(world: Engine) -> None:
    """On 2023-06-01 the angio competition (2023-11-09, corrected 2023-12-06), the
    Forsvaret night-vision agreement (2024-07-04) and NAV's AMO course (2023-07-07) are
    not known yet; once issued they are."""
    later = ("Angio intervensjonslaboratori", "Night Vision", "AMO-kurs", "straksbetaling")
    with Session(world) as s:
        recompute(s, D(2023, 6, 1), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2023, 6, 1))
        assert rows
        assert not [r["title"] for r in rows if any(f in (r["title"] or "") for f in later)]
        # Listing a stored table for a later day does not invent notices either.
        assert not [
            r for r in list_opportunities(s, today=D(2024, 1, 1)) if "Angio" in (r["title"] or "")
        ]

        recompute(s, D(2023, 11, 20), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2023, 11, 20), account="Sykehusinnkjøp HF")
        angio = _by_title(rows, "Sykehusinnkjøp HF", "Angio intervensjonslaboratori")
        # the first notice only: the correction of 2023-12-06 is not out yet
        assert angio["published"] is True and angio["expected_publication"] == D(2023, 11, 9)
        assert angio["can_influence"] is False
        assert _by_title(rows, "Sykehusinnkjøp HF", "straksbetaling")["kind"] == "dialogue"

        recompute(s, D(2024, 8, 1), rules=load_rules())
        s.commit()
        rows = list_opportunities(s, today=D(2024, 8, 1), account="Forsvaret")
        # Known now, but a direct award: no re-tender with an influence window is assumed.
        assert not [r for r in rows if "Night Vision" in (r["title"] or "")]


def test_expired_without_competition_is_an_overdue_risk(world: Engine) -> None:
    """The reviewer's case: on 2026-11-28 Vestfold og Telemark's occupational-health
    framework has run out (its last option ended 2026-11-02) and no competition was ever
    seen: phase ``overdue`` with a truthful reason, listed for a year after the expected
    start, never "running". Politiets fellestjenester's lots still have an option to run
    (to 2027-03-08): the next decision point, not overdue."""
    today = D(2026, 11, 28)
    with Session(world) as s:
        recompute(s, today, rules=load_rules())
        s.commit()
        overdue = list_opportunities(s, today=today, phase="overdue")
        running = list_opportunities(s, today=today, phase="running")
        vtfk = _by_title(overdue, "Vestfold og Telemark fylkeskommune", "Bedriftshelsetjeneste")
        assert (vtfk["expiry"], vtfk["can_influence"], vtfk["days_left"]) == (
            D(2026, 11, 2),
            False,
            None,
        )
        assert vtfk["overdue"] is True
        assert "ended 2026-11-02" in vtfk["reason"]
        assert vtfk["reason"].endswith(
            "on 2026-11-28 no competition notice has been seen: re-tender overdue or the "
            "agreement was extended"
        )
        pft = _by_title(
            list_opportunities(s, today=today, account="Politiets fellestjenester"),
            "Politiets fellestjenester",
            "Delkontrakt 1",
        )
        assert (pft["expiry"], pft["phase"]) == (D(2027, 3, 8), "drafting")
        assert not [r for r in running if not r["published"]]
        assert all("is running" not in r["reason"] for r in overdue)
        row = s.scalars(
            select(Opportunity).where(Opportunity.title == "Bedriftshelsetjeneste")
        ).one()
        assert row.phase == "overdue"

        # Still listed 364 days after the expected start (2026-11-03), dropped after 365.
        health = select(Opportunity).where(Opportunity.title == "Bedriftshelsetjeneste")
        kept = recompute(s, D(2027, 11, 2), rules=load_rules())
        s.commit()
        assert s.scalars(health).all()
        gone = recompute(s, D(2027, 11, 4), rules=load_rules())
        s.commit()
        assert gone["dropped"] > kept["dropped"]
        assert not s.scalars(health).all()


def test_a_result_without_award_is_a_retender_signal(engine: Engine, tmp_path: Path) -> None:
    """Constructed pairing: Kulturtanken's cancellation (2023-684186, 'Konkurransen vil bli
    kunngjort på nytt innen kort tid') put in the procedure of its competition
    (2023-371675; the real notices were published under different procedure ids)."""
    accounts = tmp_path / "kulturtanken.csv"
    accounts.write_text("name,orgnr,tier\nKulturtanken,974761114,status\n", encoding="utf-8")
    cancel = (REAL / "ContractAwardNotice_can-desg_2023-684186.xml").read_text(encoding="utf-8")
    cancel = cancel.replace(
        "<cbc:ContractFolderID>2023-684186</cbc:ContractFolderID>",
        "<cbc:ContractFolderID>2023-371675</cbc:ContractFolderID>",
    )
    (tmp_path / "cancel.xml").write_text(cancel, encoding="utf-8")
    with Session(engine) as s:
        import_accounts(s, accounts)
        s.commit()
    ingest_paths(engine, [REAL / "ContractNotice_cn-desg_2023-371675.xml", tmp_path / "cancel.xml"])
    today = D(2023, 12, 1)
    with Session(engine) as s:
        # No expected contract: the procedure's result says nothing was awarded.
        assert s.scalars(select(Contract).where(Contract.expected.is_(True))).all() == []
        recompute(s, today, rules=load_rules())
        s.commit()
        (comp,) = list_opportunities(s, today=today, account="Kulturtanken")
    assert comp["kind"] == "competition"
    assert comp["note"].startswith("no award: cancelled; re-tender signal: «Konkurransen vil")


def _stored(s: Session) -> dict[str, dict]:
    """Every stored opportunity by key, as its columns (the time of computing left out)."""
    cols = [c for c in Opportunity.__table__.columns if c.name not in ("id", "computed_at")]
    return {r.key: dict(r._mapping) for r in s.execute(select(*cols))}


SCOPED_DAY = D(2023, 6, 1)  # every kind of opportunity is stored on that day


def _recomputed(s: Session) -> dict[str, dict]:
    """A recompute of every account for ``SCOPED_DAY``, committed; the rows it stored."""
    recompute(s, SCOPED_DAY, rules=load_rules())
    s.commit()
    return _stored(s)


def test_recompute_of_some_accounts_gives_their_rows_of_a_full_recompute(world: Engine) -> None:
    """A link decision rebuilds one account's opportunities (tracker.linking.links): the
    rows of an account-scoped recompute are those a recompute of every account stores,
    and the other accounts' rows are left as they were."""
    today, rules = SCOPED_DAY, load_rules()
    with Session(world) as s:
        full = _recomputed(s)
        ids = dict(s.execute(select(Opportunity.key, Opportunity.id)).all())
        accounts = sorted({r["account_id"] for r in full.values()})
        assert len(accounts) >= 5 and {r["kind"] for r in full.values()} >= {
            "retender", "competition", "planning", "dialogue"
        }  # fmt: skip
        # one account again: its rows are updated in place, nobody else's are touched
        one = accounts[0]
        counts = recompute(s, today, rules=rules, account_ids=[one])
        s.commit()
        mine = [k for k, r in full.items() if r["account_id"] == one]
        assert (counts["new"], counts["removed"], counts["updated"]) == (0, 0, len(mine))
        assert _stored(s) == full
        assert dict(s.execute(select(Opportunity.key, Opportunity.id)).all()) == ids
        # every account on its own, from an empty table: the same rows as all at once
        s.execute(Opportunity.__table__.delete())
        for account_id in accounts:
            recompute(s, today, rules=rules, account_ids=[account_id])
        s.commit()
        assert _stored(s) == full


def test_a_link_decision_recomputes_that_account_as_a_full_recompute_would(
    world: Engine,
) -> None:
    from tracker.linking.links import decide_link
    from tracker.pages.suggested_links import suggested_links

    today, rules = SCOPED_DAY, load_rules()
    with Session(world) as s:
        before = _recomputed(s)
        hso = next(x for x in suggested_links(s, None) if x.account == "Helse Sør-Øst RHF")
        hso_id = s.scalar(select(Account.id).where(Account.name == "Helse Sør-Øst RHF"))
        result = decide_link(s, hso.id, "rejected", "ingrid.berg@example.no", rules=rules)
        assert result["recomputed_for"] == today
        after = _stored(s)
        # the rejected buyer's opportunities left the account at once ...
        gone = {k for k in before if k not in after}
        assert gone and {before[k]["account_id"] for k in gone} == {hso_id}
        # ... the other accounts' rows are as they were, and the table is what a recompute
        # of every account makes of the decision
        assert {k: r for k, r in after.items() if r["account_id"] != hso_id} == {
            k: r for k, r in before.items() if r["account_id"] != hso_id
        }
        recompute(s, today, rules=rules)
        s.commit()
        assert _stored(s) == after


def test_recompute_in_worker_processes_stores_the_rows_of_one(world: Engine) -> None:
    """``workers=2`` builds groups of accounts in two processes (each with a connection
    of its own) and stores them here: the rows and counts of one process."""
    today = D(2023, 6, 1)
    rules = load_rules()
    with Session(world) as s:
        one = recompute(s, today, rules=rules)
        s.commit()
        alone = _stored(s)
        s.execute(Opportunity.__table__.delete())
        s.commit()
        two = recompute(s, today, rules=rules, workers=2)
        s.commit()
        assert _stored(s) == alone and two == one
        ids = dict(s.execute(select(Opportunity.key, Opportunity.id)).all())
        again = recompute(s, today, rules=rules, workers=2)
        s.commit()
        assert (again["new"], again["removed"], again["updated"]) == (0, 0, len(alone))
        assert dict(s.execute(select(Opportunity.key, Opportunity.id)).all()) == ids
        with pytest.raises(ValueError, match="workers: 0"):
            recompute(s, today, rules=rules, workers=0)


def test_the_account_groups_of_the_workers_share_the_work(world: Engine) -> None:
    from tracker.opportunities.build import _account_groups

    with Session(world) as s:
        every = sorted(s.scalars(select(Account.id)))
        groups = _account_groups(s, None, 4)
        assert sorted(a for g in groups for a in g) == every and len(groups) == 4
        # fewer accounts than groups: one group each
        assert sorted(_account_groups(s, every[:3], 8)) == [[a] for a in every[:3]]
        # the weight is the account's contract and notice links: the groups' totals differ
        # by at most the largest account's
        weights = {a: 1 + _link_count(s, a) for a in every}
        totals = [sum(weights[a] for a in g) for g in groups]
        assert max(totals) - min(totals) <= max(weights.values())


def _link_count(s: Session, account_id: int) -> int:
    from sqlalchemy import func

    from tracker.db.models import ContractAccount

    return sum(
        s.scalar(select(func.count()).where(t.account_id == account_id)) or 0
        for t in (ContractAccount, NoticeLink)
    )


def test_a_worker_that_dies_fails_the_recompute_and_stores_nothing(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process killed mid-run (out of memory, say) ends the recompute with an
    error instead of a wait that never ends; the stored rows stay as they were."""
    import os
    from concurrent.futures.process import BrokenProcessPool

    from tracker.opportunities import build

    with Session(world) as s:
        before = _recomputed(s)

    def dies(*args: object, **kwargs: object) -> None:
        os._exit(3)  # in the worker: gone without a word

    monkeypatch.setattr(build, "_opportunity_rows", dies)
    with Session(world) as s:
        with pytest.raises(BrokenProcessPool):
            recompute(s, D(2024, 6, 1), rules=load_rules(), workers=2)
        s.rollback()
        assert _stored(s) == before
