"""Bids (tracker.bids.selection): open competitions relevant to accounts or the capability profile,
explainable scores, decisions kept; on real notices, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import NOTICES
from tests.support.worlds import add_known_agreement, load_world
from tracker.bids.decisions import decision_history, record_decision, set_bid_status
from tracker.bids.scoring import score_text
from tracker.bids.selection import BidRow, bid_rows, list_bids
from tracker.config import load_settings
from tracker.db.models import (
    Account,
    Activity,
    BidDecision,
    Notice,
    Opportunity,
)
from tracker.errors import NotFoundError, UserError
from tracker.opportunities.build import recompute
from tracker.rules import load_rules, parse_rules

D = dt.date
MULTILINGUAL = NOTICES / "eforms-sdk" / "cn_24_multilingual.xml"  # IT services, price 30 %


@pytest.fixture
def world(engine: Engine, tracker_env: dict[str, str]) -> Engine:
    load_world(engine, [MULTILINGUAL])
    return engine


def _components(row: BidRow) -> dict[str, dict]:
    return {c["name"]: c for c in score_text(row.score)["components"]}


def test_out_of_profile_competitions_at_accounts_are_one_click_away(world: Engine) -> None:
    today = D(2023, 3, 1)
    with Session(world) as s:
        default = list_bids(s, today, rules=load_rules())
        rows = list_bids(s, today, show="accounts", rules=load_rules())
    # diathermy pens at Sykehusinnkjøp HF are not in the IT profile: not listed by default
    assert not any("Diatermipenner" in r.title for r in default)
    # the kiosk hearing (a PIN-as-call whose text asks for input) is no competition at all
    assert not any("kiosk" in r.title for r in rows)
    json.dumps(rows, default=str)
    titles = [r.title for r in rows]
    assert any("Diatermipenner" in t for t in titles)
    # deadlines passed or not yet published are left out
    assert not any("Europan 17" in t for t in titles)
    dia = next(r for r in rows if "Diatermipenner" in r.title)
    assert dia.relevance == "account"
    assert dia.fit["fit"] is False and not dia.fit["shown"]
    # Only the confirmed link (the buyer itself) gives the account and its tier; a
    # suggestion (none here: the notice names Helse Vest) would give no account.
    assert dia.accounts == ["Sykehusinnkjøp HF"]
    assert "Helse Sør-Øst RHF" not in dia.suggested_accounts
    assert dia.tier == "strategic" and dia.account == "Sykehusinnkjøp HF"
    assert dia.deadline == D(2023, 3, 17) and dia.days_left == 16
    assert dia.value == 30_000_000 and dia.value_kind == "estimated"
    comps = _components(dia)
    assert comps["tier"]["reason"] == "Sykehusinnkjøp HF is a strategic account"
    assert comps["deadline"]["reason"] == "16 days to the deadline 2023-03-17"
    # the one value (BT-27, 30 MNOK over 4 years) with the buyer's own sentence beside it
    assert comps["value"]["reason"] == (
        "estimated value: NOK 30.0 M is in our sweet spot "
        "(above the EEA threshold of NOK 2.30 M: EEA-wide competition); the buyer writes: "
        "«Estimert totalverdi for alle delkontrakter er ca. NOK 7 500 000,- per år, "
        "totalt NOK 30 000 000,- over 4 år.»"
    )
    assert dia.total == sum(c["points"] for c in comps.values())
    # surgical pens fit no part of the IT profile: no-bid whatever the points
    assert comps["fit"]["points"] == 0
    assert dia.recommendation == "no-bid" and "fit 0" in str(dia.score["capped"])
    assert dia.decision is None and dia.decisions == []
    assert [r.total for r in rows] == sorted((r.total for r in rows), reverse=True)


def test_profile_fit_makes_a_competition_relevant(world: Engine) -> None:
    """The EU IT-services notice is linked to no account but fits the IT profile."""
    with Session(world) as s:
        rows = list_bids(s, D(2020, 1, 10), rules=load_rules())
    [it] = [r for r in rows if r.notice_id == "55aae64f-88a8-44a5-b2fb-8228e97fe6ee"]
    assert it.relevance == "profile" and it.accounts == []
    assert it.price_weight == 30.0
    assert it.deadline == D(2020, 2, 3)
    comps = _components(it)
    # the CPV fits (60 %), one keyword of two (20 % of 40 %)
    assert (comps["fit"]["points"], comps["fit"]["max"]) == (20, 25)
    assert comps["fit"]["reason"] == (
        "in profile: main CPV 72230000 Datatjenester: rådgivning, programvareutvikling, "
        "internett og systemstøtte; keywords it"
    )
    assert comps["price_weight"]["reason"] == "price weighs 30 %: quality decides"
    assert comps["tier"]["reason"] == "not at one of our accounts"
    assert it.lots[0]["criteria"]
    # With another capability profile it is not relevant.
    rules = parse_rules('[profile]\ncpv_prefixes = ["33"]\nkeywords = ["sykehus"]\n', "p.toml")
    with Session(world) as s:
        other = list_bids(s, D(2020, 1, 10), rules=rules)
    assert not [r for r in other if r.notice_id == it.notice_id]


def test_account_filter_and_closed(world: Engine) -> None:
    with Session(world) as s:
        only = list_bids(
            s, D(2023, 3, 1), account="sykehusinnkjøp hf", show="accounts", rules=load_rules()
        )
        assert only and all("Sykehusinnkjøp HF" in r.accounts for r in only)
        assert (
            list_bids(s, D(2023, 3, 1), account="sykehusinnkjøp hf", rules=load_rules()) == []
        )  # out of profile
        assert (
            list_bids(s, D(2023, 3, 1), account="Forsvaret", show="accounts", rules=load_rules())
            == []
        )
        later = list_bids(s, D(2023, 4, 1), show="accounts", rules=load_rules())
        assert not any("Diatermipenner" in r.title for r in later)
        closed = list_bids(
            s, D(2023, 4, 1), include_closed=True, show="accounts", rules=load_rules()
        )
        assert any("Diatermipenner" in r.title for r in closed)


def test_decisions_are_recorded_and_kept(world: Engine) -> None:
    with Session(world) as s:
        notice = s.scalars(select(Notice).where(Notice.title.like("Diatermipenner%"))).one()
        first = record_decision(
            s,
            notice.notice_id,
            "bid",
            "dir@example.no",
            "Star account",
            today=D(2023, 3, 1),
            rules=load_rules(),
        )
        s.commit()
        assert first.score is not None and first.score_detail["components"]
        second = record_decision(
            s,
            notice.id,
            "no_bid",
            "dir@example.no",
            "No capacity",
            today=D(2023, 3, 2),
            rules=load_rules(),
        )
        s.commit()
        assert second.decision == "no-bid"
        assert s.query(BidDecision).count() == 2
        [row] = [
            r for r in list_bids(s, D(2023, 3, 3), rules=load_rules()) if r.notice_pk == notice.id
        ]
        assert row.decision["decision"] == "no-bid" and row.decision["why"] == "No capacity"
        assert [d["decision"] for d in row.decisions] == ["bid", "no-bid"]
        assert [d["why"] for d in decision_history(s, notice)] == ["Star account", "No capacity"]
        set_bid_status(s, notice, "bidding", "bid@example.no")
        s.commit()
        [row] = [
            r for r in list_bids(s, D(2023, 3, 3), rules=load_rules()) if r.notice_pk == notice.id
        ]
        assert row.status == "bidding"


BAD_DECISIONS = [
    ("2023-649037", "maybe", "a@b.no", "x", UserError, "decision: 'maybe'"),
    ("2023-649037", "bid", "a@b.no", "  ", UserError, "why"),
    ("2023-649037", "bid", "", "x", UserError, "who"),
    ("no-such-notice", "bid", "a@b.no", "x", NotFoundError, "no notice 'no-such-notice'"),
    (999_999, "bid", "a@b.no", "x", NotFoundError, "no notice 999999"),
]


def test_bad_decisions_are_refused(world: Engine) -> None:
    with Session(world) as s:
        pk = s.scalars(select(Notice.id).where(Notice.procedure_id == "2023-649037")).one()
        for notice, decision, who, why, error, message in BAD_DECISIONS:
            ref = pk if notice == "2023-649037" else notice
            with pytest.raises(error, match=message):
                record_decision(s, ref, decision, who, why, rules=load_rules())  # type: ignore[arg-type]
        assert s.query(BidDecision).count() == 0


def test_influence_work_and_incumbent_count_in_the_score(world: Engine) -> None:
    """A re-tender worked in its window and held by us scores higher when its
    competition comes."""
    with Session(world) as s:
        acc = add_known_agreement(s, ("Oss AS", "123456785"))
        settings = load_settings(
            {"TRACKER_OUR_ORGNRS": "123456785", "TRACKER_HOME": "/nonexistent"}
        )
        recompute(
            s, D(2023, 3, 1), rules=load_rules(settings=settings), ours=settings.our_orgnr_list
        )
        s.commit()
        before = next(
            r
            for r in list_bids(s, D(2023, 3, 1), show="accounts", rules=load_rules())
            if "Diatermipenner" in r.title
        )
        assert before.incumbent == "us" and before.incumbents == ["Oss AS"]
        [key] = [k for k in before.opportunity_keys if k.startswith("retender:")]
        s.add(
            Activity(
                account_id=acc.id,
                opportunity_key=key,
                kind="workshop",
                text="Workshop on requirements",
                happened_on=D(2022, 10, 1),
            )
        )
        s.commit()
        after = next(
            r
            for r in list_bids(s, D(2023, 3, 1), show="accounts", rules=load_rules())
            if "Diatermipenner" in r.title
        )
    assert _components(after)["influence"]["reason"] == (
        "1 activity recorded in the influence window"
    )
    assert _components(after)["incumbent"]["reason"] == "we hold the current agreement (Oss AS)"
    assert after.total > before.total


def test_placeholder_deadline_is_flagged_not_trusted(world: Engine) -> None:
    """Converted notices carry 2099-01-01 as deadline: it is ignored and flagged."""
    with Session(world) as s:
        notice = s.scalars(select(Notice).where(Notice.title.like("Diatermipenner%"))).one()
        for lot in notice.lots:
            lot.submission_deadline = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
        s.commit()
        [row] = [
            r
            for r in list_bids(s, D(2023, 3, 1), show="all", rules=load_rules())
            if r.notice_pk == notice.id
        ]
        assert row.placeholder_deadline is True
        assert row.deadline is None and row.days_left is None
        assert _components(row)["deadline"]["reason"] == "deadline unknown"
        # without a usable deadline it counts as open for 60 days after issue
        assert not [
            r
            for r in list_bids(s, D(2023, 5, 1), show="all", rules=load_rules())
            if r.notice_pk == notice.id
        ]
        recompute(s, D(2023, 3, 1), rules=load_rules())
        s.commit()
        opps = [
            o
            for o in s.scalars(
                select(Opportunity).where(Opportunity.competition_notice_pk == notice.id)
            )
        ]
        assert opps and all(o.expected_deadline == D(2023, 3, 18) for o in opps)  # 30 days


def test_only_activities_before_publication_count_as_influence(world: Engine) -> None:
    with Session(world) as s:
        recompute(s, D(2023, 3, 1), rules=load_rules())
        s.commit()
        [row] = [
            r
            for r in list_bids(s, D(2023, 3, 1), show="accounts", rules=load_rules())
            if "Diatermipenner" in r.title
        ]
        key = row.opportunity_keys[0]
        acc = s.scalars(select(Account).where(Account.name == "Sykehusinnkjøp HF")).one()
        s.add(
            Activity(
                account_id=acc.id,
                opportunity_key=key,
                kind="meeting",
                text="Bid kick-off after publication",
                happened_on=D(2023, 2, 20),
            )
        )
        s.commit()
        [row] = [
            r
            for r in list_bids(s, D(2023, 3, 1), show="accounts", rules=load_rules())
            if "Diatermipenner" in r.title
        ]
        assert row.influence_activities == 0
        s.add(
            Activity(
                account_id=acc.id,
                opportunity_key=key,
                kind="workshop",
                text="Needs workshop",
                happened_on=D(2022, 11, 2),
            )
        )
        s.commit()
        [row] = [
            r
            for r in list_bids(s, D(2023, 3, 1), show="accounts", rules=load_rules())
            if "Diatermipenner" in r.title
        ]
        assert row.influence_activities == 1


def test_bid_rows_scores_given_notices_in_order(world: Engine) -> None:
    with Session(world) as s:
        pks = list(s.scalars(select(Notice.id).where(Notice.subtype == "16").order_by(Notice.id)))
        rows = bid_rows(s, D(2023, 3, 1), list(reversed(pks)), rules=load_rules())
    assert [r.notice_pk for r in rows] == list(reversed(pks))
    assert all(0 <= r.total <= 100 and r.score["components"] for r in rows)


def test_a_competition_we_track_stays_on_the_list(world: Engine) -> None:
    """Not at an account, not in the profile, but we set a bid status: it is listed."""
    with Session(world) as s:
        notice = s.scalars(select(Notice).where(Notice.title == "Europan 17 Larvik")).one()
        assert not [
            r for r in list_bids(s, D(2023, 4, 1), rules=load_rules()) if r.notice_pk == notice.id
        ]
        set_bid_status(s, notice.id, "qualifying", "bid@example.no")
        s.commit()
        [row] = [
            r for r in list_bids(s, D(2023, 4, 1), rules=load_rules()) if r.notice_pk == notice.id
        ]
    assert row.relevance == "tracked" and row.status == "qualifying"


def test_a_qualification_system_is_open_until_it_ends(world: Engine) -> None:
    """Sporveien's qualification system for a video management system (2023-604437,
    subtype 15) states no submission deadline: applications are possible while the system
    runs (BT-536/537: 2023-05-02 – 2023-06-05), not for 60 days after the notice."""
    with Session(world) as s:
        [vms] = [
            r
            for r in list_bids(s, D(2023, 6, 5), rules=load_rules())
            if "Toppsystem VMS" in r.title
        ]
        assert vms.deadline == D(2023, 6, 5) and vms.days_left == 0
        assert str(vms.deadline_source).startswith("the qualification system ends (BT-537)")
        assert vms.fit["fit"] and "48000000" in vms.fit["reason"]
        assert not [
            r
            for r in list_bids(s, D(2023, 6, 6), show="all", rules=load_rules())
            if "VMS" in r.title
        ]


def test_expiries_known_only_from_later_notices_are_not_shown(world: Engine) -> None:
    """No hindsight: Miljødirektoratet's wildlife health programme (ends 2027-12-31) is known
    from its notice of 2022-12-20, not the day before."""
    from tracker.pages.expiries import expiries
    from tracker.rules import default_rules

    def listed(s: Session, day: dt.date, account_id: int) -> list:
        return expiries(
            s, day, ours=frozenset(), rules=default_rules(), account_ids=[account_id],
            within_months=72,
        )  # fmt: skip

    with Session(world) as s:
        acc = s.scalars(select(Account).where(Account.name == "Miljødirektoratet")).one()
        before = listed(s, D(2022, 12, 19), acc.id)
        after = listed(s, D(2022, 12, 20), acc.id)
    assert before == []
    [vilt] = after
    assert vilt.end_date == "2027-12-31" and not vilt.fit["fit"]  # not IT
