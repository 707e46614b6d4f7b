"""Pages and exports show contracts as the notices say them: per-lot suppliers, the value
with its kind, base / next / latest ends with their sources, and the buyer's own words
quoted beside the fact they give."""

from __future__ import annotations

import csv
import html
import io

from sqlalchemy import select

from tests.dashboards.conftest import account_id, notice_pk
from tracker.db.engine import session_scope
from tracker.db.models import Notice
from tracker.pages.base import plain_rows


def by_doffin_id(engine, doffin_id: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return s.scalar(select(Notice.id).where(Notice.source_id == doffin_id))


def test_notice_page_shows_each_lot_with_its_supplier_and_the_quote(client_for, world) -> None:
    client = client_for("kam")
    pk = notice_pk(world["engine"], "Rammeavtale vakt- og sikkerhetstjenester")
    page = html.unescape(client.get(f"/notices/{pk}").text)
    section = page.split('id="contracts"')[1].split("</section>")[0]
    assert "Avarn Security AS" in section and "Securitas AS" in section
    assert "LOT-0001" in section and "LOT-0002" in section
    assert '138,000,000\u00a0NOK <small class="muted" title="tender">(tender value)' in section
    assert '3,000,000\u00a0NOK <small class="muted" title="tender">(tender value)' in section
    assert "<q>planlagt oppstartsdato 9. mars 2023</q>" in section
    assert "08.03.2025" in section and "08.03.2027" in section
    data = client.get(f"/api/notices/{pk}").json()
    got = [(c["lot_id"], c["incumbent"], c["end_date"], c["latest_end"]) for c in data["contracts"]]
    assert got == [
        ("LOT-0001", "Avarn Security AS", "2025-03-08", "2027-03-08"),
        ("LOT-0002", "Securitas AS", "2025-03-08", "2027-03-08"),
    ]  # fmt: skip


def test_competition_page_shows_weights_read_from_the_text(client_for, world) -> None:
    client = client_for("bid")
    pk = by_doffin_id(world["engine"], "2023-371675")
    page = html.unescape(client.get(f"/notices/{pk}").text)
    section = page.split('id="competition"')[1].split("</section>")[0]
    assert "Pris 30" in section and "<q" in section and "Pris (30%)" in section
    assert "Kvalitet, kreativitet, design 40" in section


def test_intention_notice_page_tells_the_challenge_period(client_for, world) -> None:
    client = client_for("kam2")
    pk = notice_pk(world["engine"], "Framework Agreement - 4600004102")
    data = client.get(f"/api/notices/{pk}").json()
    (c,) = data["contracts"]
    assert (c["direct_award"], c["retender"], c["challenge_until"]) == (
        True,
        "not_assumed",
        "2024-07-14",
    )
    page = html.unescape(client.get(f"/notices/{pk}").text)
    assert "the award can be challenged until 14.07.2024" in page
    assert "direct award: no competition is assumed to follow" in page


def test_cancelled_result_page_shows_the_retender_signal(client_for, world) -> None:
    client = client_for("kam")
    pk = by_doffin_id(world["engine"], "2023-684186")
    cancelled = html.unescape(client.get(f"/notices/{pk}").text)
    assert 'id="not-awarded"' in cancelled and "cancelled" in cancelled
    assert "re-tender signal" in cancelled
    assert "Konkurransen vil bli kunngjort på nytt innen kort tid." in cancelled


def test_account_page_and_contract_export_per_lot(client_for, world) -> None:
    client = client_for("admin")
    acc = account_id(world["engine"], "Politiets fellestjenester")
    page = html.unescape(client.get(f"/accounts/{acc}").text)
    section = page.split('id="contracts"')[1].split("</section>")[0]
    assert section.count("Rammeavtale vakt- og sikkerhetstjenester Delkontrakt") == 2
    assert "options to 08.03.2026, 08.03.2027" in section
    res = client.get(f"/export/contracts.csv?account_id={acc}&dialect=plain")
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8"))))
    assert [(r["lot_id"], r["suppliers"], r["value"], r["value_kind"]) for r in rows] == [
        ("LOT-0001", "Avarn Security AS", "138000000", "tender"),
        ("LOT-0002", "Securitas AS", "3000000", "tender"),
    ]
    assert rows[0]["end_date"] == "2025-03-08" and rows[0]["latest_end"] == "2027-03-08"
    assert "planlagt oppstartsdato 9. mars 2023" in rows[0]["evidence_text"]


def test_bid_page_lists_intention_notices_in_their_challenge_period(world) -> None:
    """Forsvaret's night-vision intention notice (2024-07-04): on 2024-07-10 the award can
    still be challenged (until 2024-07-14); after that it is gone from the list."""
    import datetime as dt

    from tracker.pages.bids import intention_rows

    with session_scope(world["engine"]) as s:
        rows = intention_rows(s, dt.date(2024, 7, 10), ours=frozenset())
        assert [(r.challenge_until, r.incumbent, r.challenge_days_left) for r in rows] == [
            ("2024-07-14", "Elbit Systems of America", 4)
        ]
        assert intention_rows(s, dt.date(2024, 7, 15), ours=frozenset()) == []
        assert intention_rows(s, dt.date(2024, 7, 1), ours=frozenset()) == []  # not published
    from fastapi.testclient import TestClient

    from dashboards.app import create_app
    from tests.dashboards.conftest import USERS, login, make_settings

    app = create_app(
        make_settings(world["home"], TRACKER_TODAY="2024-07-10"), engine=world["engine"]
    )
    with TestClient(app) as client:
        assert login(client, USERS["bid"]).status_code == 303
        page = html.unescape(client.get("/bids").text)
    section = page.split('id="intentions"')[1].split("</section>")[0]
    assert "14.07.2024" in section and "Elbit Systems of America" in section


def test_home_expiries_take_the_next_decision_point(world) -> None:
    """Within 24 months of 2024-12-01: Sykehusinnkjøp's stockpile framework has no base end,
    only its 4-year maximum (2026-11-23): listed; Politiets fellestjenester's lots by their
    base end 2025-03-08; Vestfold og Telemark's by its next option (2025-11-02)."""
    import datetime as dt

    from tracker.pages.expiries import expiries
    from tracker.rules import default_rules

    with session_scope(world["engine"]) as s:
        rows = plain_rows(
            expiries(s, dt.date(2024, 12, 1), ours=frozenset(), rules=default_rules())
        )
    got = {(r["title"][:30], r["next_end"]) for r in rows}
    assert ("Intensjonskjunngjøring - Inngå", "2026-11-23") in got
    assert ("Rammeavtale vakt- og sikkerhet", "2025-03-08") in got
    assert ("Bedriftshelsetjeneste", "2025-11-02") in got
    assert all(r["next_end"] is None or r["next_end"] <= "2026-12-01" for r in rows)


def test_account_page_says_when_it_shows_only_part_of_the_contracts(
    client_for, world, monkeypatch
) -> None:
    from tracker.pages import account as account_page

    acc = account_id(world["engine"], "Politiets fellestjenester")
    client = client_for("director")
    assert client.get(f"/api/accounts/{acc}").json()["contracts_total"] == 2
    assert "contracts are shown" not in client.get(f"/accounts/{acc}").text  # all shown
    monkeypatch.setattr(account_page, "CONTRACT_ROWS", 1)
    data = client.get(f"/api/accounts/{acc}").json()
    assert (len(data["contracts"]), data["contracts_total"]) == (1, 2)
    page = html.unescape(client.get(f"/accounts/{acc}").text)
    assert "1 of 2 contracts are shown: those still running first, then the most" in page


def test_account_page_says_when_it_shows_only_part_of_the_coming_procurements(
    client_for, world, monkeypatch
) -> None:
    from sqlalchemy import func

    from tracker.db.models import Opportunity
    from tracker.pages import account as account_page

    with session_scope(world["engine"]) as s:
        acc, n = s.execute(
            select(Opportunity.account_id, func.count())
            .group_by(Opportunity.account_id)
            .order_by(func.count().desc(), Opportunity.account_id)
        ).first()
    assert n >= 2, "the world has an account with several opportunities"
    client = client_for("director")
    assert "opportunities are shown" not in client.get(f"/accounts/{acc}").text
    monkeypatch.setattr(account_page, "OPPORTUNITY_ROWS", 1)
    data = client.get(f"/api/accounts/{acc}").json()
    assert (len(data["opportunities"]), data["opportunities_total"]) == (1, n)
    page = html.unescape(client.get(f"/accounts/{acc}").text)
    assert f"1 of {n} opportunities are shown (earliest expected publication first)" in page
    # ... and the export it points to has them all: this account's, every one.
    assert f"/export/opportunities.csv?account_id={acc}" in page
    monkeypatch.undo()
    rows = client.get(f"/export/opportunities.csv?account_id={acc}&dialect=plain").text
    assert len(rows.strip().splitlines()) == n + 1


def test_a_notice_page_says_when_it_shows_only_the_newest_of_its_procedure(
    client_for, world, monkeypatch
) -> None:
    from sqlalchemy import func

    from tracker.pages import notice as notice_pages

    with session_scope(world["engine"]) as s:
        proc = (
            s.execute(
                select(Notice.procedure_id)
                .where(Notice.is_latest.is_(True), Notice.procedure_id.is_not(None))
                .group_by(Notice.procedure_id)
                .having(func.count() >= 2)
                .order_by(Notice.procedure_id)
            )
            .scalars()
            .first()
        )
        assert proc, "the world has a procedure with two notices"
        pk = s.scalars(select(Notice.id).where(Notice.procedure_id == proc)).first()
    client = client_for("kam")
    assert "newest are shown" not in client.get(f"/notices/{pk}").text
    monkeypatch.setattr(notice_pages, "PROCEDURE_ROWS", 1)
    page = client.get(f"/notices/{pk}").text
    assert "The 1 newest are shown." in page.split("Other notices of the procedure")[1]
