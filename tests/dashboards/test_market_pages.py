"""Market pages over real notices: the Doffin eForms of the dashboard world plus the TED
XML notices published before eForms (tests/fixtures/notices/ted-legacy) as history.

"Us" is chosen from the data: the supplier holding contracts at most of our accounts (so
the pages have an incumbent of ours and competitors to compare with). Every figure a page
shows is checked against a count made here from the stored rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape as html_escape
from openpyxl import load_workbook
from sqlalchemy import delete, func, select, update

from tests.dashboards.conftest import DIATERMI, TODAY, USERS, login, notice_pk, page_csrf
from tests.dashboards.market_world import market_world  # noqa: F401 - fixture "market"
from tracker.db.engine import session_scope
from tracker.db.models import (
    AwardCriterion,
    BidStatus,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    Opportunity,
    User,
)
from tracker.market import bidders
from tracker.market.buyer import buyer_page, price_weights
from tracker.market.common import awarded_on, spend
from tracker.market.director import director_market
from tracker.market.supplier import supplier_page
from tracker.notices.subtypes import RESULT_SUBTYPES


@pytest.fixture
def client_bid(market: dict) -> Iterator[TestClient]:
    c = TestClient(market["app"])
    assert login(c, USERS["bid"]).status_code == 303
    yield c
    c.close()


@pytest.fixture
def client(market: dict) -> Iterator[TestClient]:
    c = TestClient(market["app"])
    assert login(c, USERS["director"]).status_code == 303
    yield c
    c.close()


def _top_supplier(engine: Any, legacy: bool = False) -> str:
    """The supplier key with most contracts (of the legacy TED notices when asked)."""
    with session_scope(engine) as s:
        q = (
            select(ContractParty.party_key)
            .join(Contract, Contract.id == ContractParty.contract_id)
            .join(Notice, Notice.id == Contract.notice_pk)
            .where(ContractParty.role == "supplier", Contract.expected.is_not(True))
            .group_by(ContractParty.party_key)
            .order_by(func.count().desc(), ContractParty.party_key)
            .limit(1)
        )
        if legacy:
            q = q.where(Notice.customization_id.startswith("TED_EXPORT"))
        return s.execute(q).scalar_one()


def test_pages_need_login(market: dict) -> None:
    c = TestClient(market["app"])
    for path in ("/suppliers", "/buyers", "/director/market", "/market-export/market-wallet.csv"):
        res = c.get(path, follow_redirects=False)
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path
    assert c.get("/api/director/market").status_code == 401
    assert c.get("/api/suppliers").status_code == 401


def test_supplier_page_counts_its_contracts_and_keeps_value_kinds(
    market: dict, client: TestClient
) -> None:
    engine = market["engine"]
    key = _top_supplier(engine)
    with session_scope(engine) as s:
        rows = s.execute(
            select(Contract.value, Contract.currency, Contract.value_kind, Contract.value_shared)
            .join(ContractParty, ContractParty.contract_id == Contract.id)
            .where(ContractParty.party_key == key, ContractParty.role == "supplier",
                   Contract.expected.is_not(True))
        ).all()  # fmt: skip
        page = supplier_page(s, key, TODAY, [market["us"]])
    assert page.contracts == len(rows)
    assert sum(g.contracts for g in page.by_year) == len(rows)
    assert sum(g.contracts for g in page.by_buyer) == len(rows)
    # Tender values of its own are summed; a shared ceiling or a framework maximum is not spend.
    expected = sum(
        (Decimal(v) for v, cur, kind, shared in rows if v is not None and kind == "tender"
         and not shared and cur == "NOK"),
        Decimal(0),
    )  # fmt: skip
    assert (spend(page.values, "NOK") or Decimal(0)) == expected
    for v in page.values:
        own = [r for r in rows if r[0] is not None and (r[1], r[2]) == (v.currency, v.kind)]
        assert v.contracts == len(own)
        assert v.shared == sum(1 for r in own if r[3])
    res = client.get(f"/suppliers/{key}")
    assert res.status_code == 200
    assert page.name.split()[0] in res.text
    api = client.get(f"/api/suppliers/{key}").json()
    assert api["contracts"] == len(rows)
    assert {(v["currency"], v["kind"]) for v in api["values"]} == {
        (v.currency, v.kind) for v in page.values
    }


def test_legacy_history_shows_on_the_supplier_page(market: dict, client: TestClient) -> None:
    engine = market["engine"]
    key = _top_supplier(engine, legacy=True)
    with session_scope(engine) as s:
        years = {
            d.year
            for d in s.scalars(
                select(awarded_on())
                .join(ContractParty, ContractParty.contract_id == Contract.id)
                .join(Notice, Notice.id == Contract.notice_pk)
                .where(ContractParty.party_key == key, ContractParty.role == "supplier",
                       Notice.customization_id.startswith("TED_EXPORT"))
            )
            if d is not None
        }  # fmt: skip
    assert years and min(years) < 2023  # before eForms
    api = client.get(f"/api/suppliers/{key}").json()
    shown = {int(g["key"]) for g in api["by_year"] if g["key"] != "?"}
    assert years <= shown
    html = client.get(f"/suppliers/{key}").text
    for y in years:
        assert f"<td>{y}</td>" in html


def test_supplier_where_it_meets_us(market: dict, client: TestClient) -> None:
    engine = market["engine"]
    us = market["us"]
    with session_scope(engine) as s:
        # A competitor: a supplier other than us holding a running contract at an account.
        key = s.execute(
            select(ContractParty.party_key)
            .join(ContractAccount, ContractAccount.contract_id == ContractParty.contract_id)
            .join(Contract, Contract.id == ContractParty.contract_id)
            .where(ContractParty.role == "supplier", ContractParty.orgnr != us,
                   Contract.expected.is_not(True), ContractAccount.status != "rejected",
                   func.coalesce(Contract.latest_end, Contract.end_date) >= TODAY)
            .order_by(ContractParty.party_key)
            .limit(1)
        ).scalar_one()  # fmt: skip
        page = supplier_page(s, key, TODAY, [us])
        ours_page = supplier_page(s, us, TODAY, [us])
    assert not page.is_us and ours_page.is_us
    assert page.meets_us, "a competitor with a running contract at an account meets us there"
    assert all(m.agreements >= 1 for m in page.meets_us)
    assert ours_page.meets_us == ()
    html = client.get(f"/suppliers/{key}").text
    assert "Where they compete with us" in html
    assert page.meets_us[0].account in html
    assert "Where they compete with us" not in client.get(f"/suppliers/{us}").text


def _busiest_buyer(engine: Any) -> str:
    with session_scope(engine) as s:
        return s.execute(
            select(ContractParty.party_key)
            .where(ContractParty.role == "buyer", ContractParty.orgnr.is_not(None))
            .group_by(ContractParty.party_key)
            .order_by(func.count().desc(), ContractParty.party_key)
            .limit(1)
        ).scalar_one()


def test_buyer_page_procedures_competition_and_price_weight(
    market: dict, client: TestClient
) -> None:
    engine = market["engine"]
    key = _busiest_buyer(engine)
    with session_scope(engine) as s:
        page = buyer_page(s, key, TODAY)
        n = s.scalar(
            select(func.count(func.distinct(Contract.id)))
            .join(ContractParty, ContractParty.contract_id == Contract.id)
            .where(ContractParty.party_key == key, ContractParty.role == "buyer",
                   Contract.expected.is_not(True))
        )  # fmt: skip
        # Tenders received per award notice of the buyer, counted independently.
        tenders = dict(
            s.execute(
                select(LotResult.notice_pk, func.max(LotResult.tenders_received))
                .join(NoticeBuyer, NoticeBuyer.notice_pk == LotResult.notice_pk)
                .join(Notice, Notice.id == LotResult.notice_pk)
                .where(NoticeBuyer.orgnr == key, LotResult.tenders_received.is_not(None),
                       Notice.is_latest.is_(True), Notice.subtype.in_(sorted(RESULT_SUBTYPES)))
                .group_by(LotResult.notice_pk)
            ).all()
        )  # fmt: skip
    assert page.contracts == n
    assert sum(p.count for p in page.procedures) >= 1
    assert sum(g.contracts for g in page.by_cpv_year) == n
    got = {c.notice_pk: c.tenders for c in page.competitions}
    assert got and all(tenders[k] == v for k, v in got.items())
    assert page.competitions_total == len(tenders)
    assert page.single_tender == sum(1 for v in tenders.values() if v == 1)
    counts = sorted(tenders.values())
    mid = len(counts) // 2
    assert page.median_tenders == (
        counts[mid] if len(counts) % 2 else (counts[mid - 1] + counts[mid]) / 2
    )
    for w in page.price_weights:
        assert 0 <= w.price_weight <= 100
    html = client.get(f"/buyers/{key}").text
    assert "Competition intensity" in html and "Usual procedures" in html
    api = client.get(f"/api/buyers/{key}").json()
    assert api["contracts"] == n
    assert len(api["competitions"]) == len(got)


def test_buyer_page_shows_price_weights_in_per_cent(market: dict, client: TestClient) -> None:
    """A buyer whose competitions weigh price in per cent: the page lists each lot's price
    weight with its unit (the column header once broke the page: a bare "%" in a
    gettext string)."""
    with session_scope(market["engine"]) as s:
        buyers = s.scalars(
            select(NoticeBuyer.orgnr)
            .join(Lot, Lot.notice_pk == NoticeBuyer.notice_pk)
            .join(AwardCriterion, AwardCriterion.lot_pk == Lot.id)
            .where(NoticeBuyer.orgnr.is_not(None))
            .distinct()
        ).all()
        weighed = [(b, price_weights(s, b)[0]) for b in buyers]
    weighed = [(b, w) for b, w in weighed if w]
    assert weighed, "some real competitions weigh price in per cent"
    orgnr, weights = weighed[0]
    res = client.get(f"/buyers/{orgnr}")
    assert res.status_code == 200
    section = res.text[res.text.index('id="price-weight"') :]
    assert f">{weights[0].price_weight} %</td>" in section.replace("&nbsp;", " ")


def test_buyer_extension_habit_reads_modification_notices(market: dict) -> None:
    engine = market["engine"]
    with session_scope(engine) as s:
        orgnr = s.execute(
            select(NoticeBuyer.orgnr)
            .join(Notice, Notice.id == NoticeBuyer.notice_pk)
            .where(Notice.subtype.in_(("38", "39", "40", "E6")), NoticeBuyer.orgnr.is_not(None),
                   Notice.is_latest.is_(True))
            .order_by(NoticeBuyer.orgnr)
            .limit(1)
        ).scalar_one()  # fmt: skip
        mods = s.scalar(
            select(func.count(func.distinct(Notice.id)))
            .join(NoticeBuyer, NoticeBuyer.notice_pk == Notice.id)
            .where(Notice.subtype.in_(("38", "39", "40", "E6")), NoticeBuyer.orgnr == orgnr,
                   Notice.is_latest.is_(True))
        )  # fmt: skip
        page = buyer_page(s, orgnr, TODAY)
    assert page.extension.modification_notices == mods >= 1
    share = page.extension.share
    assert share is None or 0 <= share <= 1


def test_director_market_charts_api_and_exports(market: dict, client: TestClient) -> None:
    engine = market["engine"]
    us = market["us"]
    with session_scope(engine) as s:
        m = director_market(s, TODAY, ours=[us])
        expiring = s.execute(
            select(Contract.id, func.coalesce(Contract.latest_end, Contract.end_date))
            .where(Contract.expected.is_not(True),
                   Contract.id.in_(select(ContractAccount.contract_id)
                                   .where(ContractAccount.status != "rejected")))
        ).all()  # fmt: skip
    assert len(m.quarters) == 12 and m.quarters[0][0] == "2023K1"
    last = m.quarters[-1][1]
    horizon_end = dt.date(last.year + (last.month + 2) // 12, (last.month + 2) % 12 + 1, 1)
    in_range = [c for c, d in expiring if d is not None and m.quarters[0][1] <= d < horizon_end]
    assert sum(r.contracts for r in m.expiring) == len(in_range)
    with session_scope(engine) as s:
        ours_ids = set(
            s.scalars(select(ContractParty.contract_id).where(ContractParty.orgnr == us,
                                                               ContractParty.role == "supplier"))
        )  # fmt: skip
    assert sum(r.contracts for r in m.expiring if r.ours) == len(set(in_range) & ours_ids)
    for w in m.wallet:
        assert w.share is None or 0 <= w.share <= 1
        assert w.ours_contracts <= w.all_contracts
    # An award notice naming us counts, and so does a submitted bid decided by one.
    assert sum(w.award_notices_naming_us for w in m.win_loss) >= 1
    html = client.get("/director/market").text
    for heading in ("Expiring contract value per quarter", "Share of the account’s purchases",
                    "Won and lost", "Coverage per KAM"):  # fmt: skip
        assert heading in html
    api = client.get("/api/director/market").json()
    assert len(api["quarters"]) == 12
    assert sum(r["contracts"] for r in api["expiring"]) == len(in_range)
    assert len(api["wallet"]) == len(m.wallet)
    res = client.get("/market-export/market-wallet.csv?dialect=plain")
    assert res.status_code == 200 and "attachment" in res.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert len(rows) == len(m.wallet)
    assert {r["account"] for r in rows} == {w.account for w in m.wallet}
    res = client.get("/market-export/market-expiring.xlsx")
    sheet = load_workbook(io.BytesIO(res.content)).active
    assert sheet.max_row - 1 == len(m.expiring)
    assert client.get("/market-export/nope.csv").status_code == 404


def test_win_loss_reads_recorded_outcomes_and_award_notices(market: dict) -> None:
    engine = market["engine"]
    us = market["us"]
    with session_scope(engine) as s:
        # A procedure that awarded us, and one that awarded someone else: bids submitted.
        won_proc, theirs_proc = (
            s.execute(
                select(Contract.procedure_id)
                .join(ContractParty, ContractParty.contract_id == Contract.id)
                .where(ContractParty.role == "supplier", cond, Contract.procedure_id.is_not(None),
                       Contract.expected.is_not(True))
                .order_by(Contract.procedure_id)
                .limit(1)
            ).scalar_one()
            for cond in (ContractParty.orgnr == us,
                         ~Contract.procedure_id.in_(select(Contract.procedure_id)
                          .join(ContractParty, ContractParty.contract_id == Contract.id)
                          .where(ContractParty.orgnr == us,
                                 Contract.procedure_id.is_not(None))))
        )  # fmt: skip
        before = {w.year: w for w in director_market(s, TODAY, ours=[us]).win_loss}
        added = []
        for proc in (won_proc, theirs_proc):
            pk = s.scalar(
                select(Notice.id).where(Notice.procedure_id == proc).order_by(Notice.id).limit(1)
            )
            year = s.get(Notice, pk).issue_date.year
            if s.scalar(select(BidStatus.id).where(BidStatus.notice_pk == pk)) is None:
                s.add(BidStatus(notice_pk=pk, status="submitted", updated_by="test"))
                added.append((pk, year, proc == won_proc))
        s.flush()
        after = {w.year: w for w in director_market(s, TODAY, ours=[us]).win_loss}
        s.rollback()
    assert added
    for _, year, won in added:
        b = before.get(year)
        a = after[year]
        assert a.bids > (b.bids if b else 0)
    total_won = sum(a.won for a in after.values()) - sum(b.won for b in before.values())
    total_lost = sum(a.lost for a in after.values()) - sum(b.lost for b in before.values())
    assert total_won == sum(1 for *_, w in added if w)
    assert total_lost == sum(1 for *_, w in added if not w)


def test_likely_bidders_on_account_and_bid_pages(market: dict) -> None:
    engine = market["engine"]
    with session_scope(engine) as s:
        opp = s.execute(
            select(Opportunity.key, Opportunity.account_id, Opportunity.contract_id)
            .join(ContractParty, ContractParty.contract_id == Opportunity.contract_id)
            .where(ContractParty.role == "supplier", Opportunity.account_id.is_not(None))
            .order_by(Opportunity.key)
            .limit(1)
        ).one()
        incumbents = set(
            s.scalars(
                select(ContractParty.party_key).where(
                    ContractParty.contract_id == opp.contract_id, ContractParty.role == "supplier"
                )
            )
        )
        found = bidders.for_opportunities(s, [{"key": opp.key}], [])
        open_pks = list(
            s.scalars(select(Notice.id).where(Notice.subtype.in_(("16", "E3"))).limit(50))
        )
        comp = bidders.for_competitions(s, open_pks, [])
    got = found[opp.key]
    assert {b.key for b in got.bidders if b.incumbent} == incumbents
    assert got.bidders[0].incumbent
    # A competition's likely bidders won at one of its buyers before (or hold the contract).
    for b in (b for bs in comp.values() for b in bs.bidders):
        assert b.incumbent or b.wins >= 1
    c = TestClient(market["app"])
    login(c, USERS["kam"])
    html = c.get(f"/accounts/{opp.account_id}").text
    assert "Likely bidders" in html
    for b in got.bidders:
        assert html_escape(b.name) in html
    api = c.get(f"/api/bidders/contracts/{opp.contract_id}").json()
    assert {b["key"] for b in api["bidders"] if b["incumbent"]} == incumbents


def test_likely_bidders_on_the_bid_page(market: dict, client_bid: TestClient) -> None:
    """An open competition that re-tenders a contract shows the contract's incumbent."""
    engine = market["engine"]
    pk = notice_pk(engine, DIATERMI)
    with session_scope(engine) as s:
        contract_id, supplier = s.execute(
            select(Contract.id, ContractParty.name)
            .join(ContractParty, ContractParty.contract_id == Contract.id)
            .where(ContractParty.role == "supplier", Contract.expected.is_not(True))
            .order_by(Contract.id)
            .limit(1)
        ).one()
        s.add(Opportunity(key="test-market:bidders", kind="retender", competition_notice_pk=pk,
                          contract_id=contract_id, timeline={}))  # fmt: skip
    try:
        html = client_bid.get("/bids?show=all").text
        row = html.split(f'id="qualify-{pk}"', 1)[1].split("</tr>", 1)[0]
        assert "Likely bidders" in row
        assert html_escape(supplier) in row and "(incumbent)" in row
        api = client_bid.get(f"/api/bidders/notices/{pk}").json()
        assert api["contract_id"] == contract_id
        assert any(b["incumbent"] and b["name"] == supplier for b in api["bidders"])
    finally:
        with session_scope(engine) as s:
            s.execute(delete(Opportunity).where(Opportunity.key == "test-market:bidders"))


def test_names_are_escaped(market: dict, client: TestClient) -> None:
    engine = market["engine"]
    key = _top_supplier(engine)
    with session_scope(engine) as s:
        parties = list(
            s.scalars(
                select(ContractParty).where(
                    ContractParty.party_key == key, ContractParty.role == "supplier"
                )
            )
        )
        old = {p.id: p.name for p in parties}
        for p in parties:
            p.name = "<script>alert(1)</script> AS"
    try:
        html = client.get(f"/suppliers/{key}").text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; AS" in html
        listing = client.get("/suppliers", params={"q": "<script>"}).text
        assert "<script>alert" not in listing and "&lt;script&gt;alert(1)" in listing
    finally:
        with session_scope(engine) as s:
            for pid, name in old.items():
                s.get(ContractParty, pid).name = name


def test_unknown_supplier_and_bad_scope(client: TestClient) -> None:
    assert client.get("/suppliers/999999999").status_code == 404
    assert client.get("/api/buyers/name:nobody-here").status_code == 404
    assert client.get("/director/market?scope=<x>").status_code == 400


def test_market_pages_in_bokmal(market: dict) -> None:
    """A user who chose bokmål reads the market pages and their menu in Norwegian (the
    other tests read them in English, the language the test users get by default)."""
    c = TestClient(market["app"])
    login(c, USERS["director"])
    res = c.post(
        "/me/language",
        data={"language": "nb", "csrf_token": page_csrf(c)},
        follow_redirects=False,
    )
    assert res.status_code == 303
    try:
        html = c.get("/director/market").text
        for text in ("Markedsanalyse", "Utløpende kontraktsverdi per kvartal",
                     "Andel av kundens innkjøp", "Vunnet og tapt", "Dekning per KAM",
                     ">Kjøpere<", ">Leverandører<", ">Marked<"):  # fmt: skip
            assert text in html, text
        assert "Expiring contract value" not in html
        listing = c.get("/suppliers").text
        assert "Siste tildeling" in listing and "Latest award" not in listing
        key = _top_supplier(market["engine"])
        page = c.get(f"/suppliers/{key}").text
        assert "Tildelinger per år" in page
        with session_scope(market["engine"]) as s:
            kinds = {v.label for v in supplier_page(s, key, TODAY, [market["us"]]).values}
        nb = {"awarded value": "tildelt verdi", "estimated value": "anslått verdi",
              "framework maximum": "rammeavtalens maksimum"}  # fmt: skip
        assert kinds and kinds <= set(nb)
        for label in kinds:  # the value kinds, labelled in Python, are translated too
            assert f"{nb[label]}</small>" in page and f"{label}</small>" not in page
    finally:
        with session_scope(market["engine"]) as s:
            s.execute(update(User).values(language=None))
        c.close()


def test_supplier_and_buyer_lists_say_when_they_show_only_the_largest(
    client: TestClient, monkeypatch
) -> None:
    from dashboards.routes import buyers, suppliers

    for path, module in (("/suppliers", suppliers), ("/buyers", buyers)):
        monkeypatch.setattr(module, "LIST_ROWS", 100_000)  # every one listed: no note
        assert "with the most contracts are shown" not in client.get(path).text, path
        monkeypatch.setattr(module, "LIST_ROWS", 2)
        page = client.get(path).text
        assert page.count('<tr><td><a href="/') == 2, path
        assert "The 2 with the most contracts are shown: search by name" in page, path
