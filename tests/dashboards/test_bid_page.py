"""The bid page and decisions through the web app (issue 14, "Decisions"): the decision form
starts empty; the recommendation is labelled as advice ("Anbefaling") and never looks like
the decision ("Beslutning"); a decision can be changed and its history (who, when, what,
why, what it replaced) is kept and shown. The competition's one value with its kind and the
buyer's words is the same on the list, the page, the API and the export (issue 10).

The pages are read as the users read them: in Norwegian bokmål, the language the users of
these tests choose on their profile page (the suite pins English for users without one),
and in English for a user who has not chosen, where the same distinction holds."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from tests.dashboards.conftest import DIATERMI, USERS, notice_pk, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import BidDecision, User
from tracker.formats.exports import header


def _select(page: str, name: str) -> str:
    m = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert m, f"no select {name}"
    return m.group(1)


@pytest.fixture
def client_nb(client_for, world) -> Iterator[Callable[[str], TestClient]]:
    """``client_nb("director")``: logged in as a user who chose bokmål on the profile page;
    every user's language is unset again after the test."""

    def make(who: str) -> TestClient:
        client = client_for(who)
        res = client.post(
            "/me/language",
            data={"language": "nb", "csrf_token": page_csrf(client)},
            follow_redirects=False,
        )
        assert res.status_code == 303
        return client

    yield make
    with session_scope(world["engine"]) as s:
        s.execute(update(User).values(language=None))


def test_the_decision_form_starts_empty_and_advice_is_not_a_decision(
    client_for, client_nb, world
) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    director = client_nb("director")
    page = director.get(f"/bids/{pk}")
    assert page.status_code == 200
    text = page.text
    options = _select(text, "decision")
    # the only selected option is the empty, disabled placeholder: nothing is pre-chosen
    assert re.findall(r"<option[^>]*selected[^>]*>", options) == [
        '<option value="" selected disabled>'
    ]
    assert 'name="decision" required' in text
    assert "Anbefaling:" in text and "Beslutning: ikke tatt" in text
    # the recommendation is no badge of the decision's look
    assert 'class="recommendation rec-' in text
    assert not re.search(r'class="badge (bid|no-bid|consider)"', text)
    # the director's queue: the same empty form
    queue = director.get("/director?show=all").text
    for form in re.findall(r'<select name="decision".*?</select>', queue, re.S):
        assert re.findall(r"<option[^>]*selected[^>]*>", form) == [
            '<option value="" selected disabled>'
        ]
    # a KAM sees the page without the form
    kam_page = client_nb("kam").get(f"/bids/{pk}").text
    assert 'name="decision"' not in kam_page and "Direktøren beslutter" in kam_page
    # in English the same: advice labelled as such, apart from the (absent) decision
    english = client_for("bid").get(f"/bids/{pk}").text
    assert '<html lang="en">' in english
    assert "Recommendation:" in english and "Decision: not taken" in english
    assert "Anbefaling" not in english and "Beslutning" not in english
    assert 'class="recommendation rec-' in english


def test_a_decision_is_changed_with_its_history_kept(client_nb, world) -> None:
    pk = notice_pk(world["engine"], DIATERMI)
    director = client_nb("director")
    try:
        empty = director.post(
            f"/bids/{pk}/decision",
            data={"decision": "", "why": "x", "csrf_token": page_csrf(director, f"/bids/{pk}")},
            follow_redirects=False,
        )
        assert empty.status_code == 400 and "decision: ''" in html.unescape(empty.text)
        for decision, why in (("bid", "Strategic account"), ("no-bid", "Pens are not IT")):
            res = director.post(
                f"/bids/{pk}/decision",
                data={
                    "decision": decision,
                    "why": why,
                    "next": f"/bids/{pk}#decision",
                    "csrf_token": page_csrf(director, f"/bids/{pk}"),
                },
                follow_redirects=False,
            )
            assert res.status_code == 303 and res.headers["location"] == f"/bids/{pk}#decision"
        data = director.get(f"/api/bids/{pk}").json()
        assert data["decision"]["decision"] == "no-bid"
        assert data["decision"]["changed_from"] == "bid"
        hist = [(d["decision"], d["by"], d["why"], d["changed_from"]) for d in data["history"]]
        assert hist == [
            ("no-bid", USERS["director"], "Pens are not IT", "bid"),
            ("bid", USERS["director"], "Strategic account", None),
        ]
        assert all(d["at"] and d["score"] is not None for d in data["history"])
        page = html.unescape(director.get(f"/bids/{pk}").text)
        history = page.split('class="decision-history')[1].split("</table>")[0]
        assert history.index("Pens are not IT") < history.index("Strategic account")
        assert "endret fra gi tilbud" in history and USERS["director"] in history
        assert "Beslutning: ikke gi tilbud" in page
        assert "Endre beslutningen" in page
        # the list shows the decision in force apart from the recommendation
        listing = html.unescape(director.get("/bids?show=accounts").text)
        row = listing.split(f'id="bid-{pk}"')[1].split("</tr>")[0]
        assert "Anbefaling:" in row and "Beslutning: ikke gi tilbud" in row and "(endret)" in row
    finally:
        with session_scope(world["engine"]) as s:
            s.execute(delete(BidDecision).where(BidDecision.notice_pk == pk))


def test_one_value_with_its_kind_on_every_surface(client_nb, world) -> None:
    """2023-649037: 30 MNOK estimated (BT-27) with the buyer's sentence (7.5 MNOK a year)."""
    pk = notice_pk(world["engine"], DIATERMI)
    bid = client_nb("bid")
    [row] = [b for b in bid.get("/api/bids?show=accounts").json()["items"] if b["id"] == pk]
    detail = bid.get(f"/api/bids/{pk}").json()
    assert row["value"] == detail["value"] == 30_000_000
    assert row["value_kind"] == detail["value_kind"] == "estimated"
    assert detail["value_detail"]["words_differ"]
    listing = html.unescape(bid.get("/bids?show=accounts").text)
    cell = listing.split(f'id="bid-{pk}"')[1].split("</tr>")[0]
    assert "30\u00a0000\u00a0000\u00a0kr" in cell and "anslått verdi" in cell
    assert "ca. NOK 7 500 000,- per år" in cell
    page = html.unescape(bid.get(f"/bids/{pk}").text)
    value = page.split('id="bid-value"')[1].split("</dd>")[0]
    assert "30\u00a0000\u00a0000\u00a0kr" in value and "anslått verdi" in value
    assert "ca. NOK 7 500 000,- per år" in value and "BT-27" in value
    # the export for Excel in Norway: the user's language in the headers, the kind's code
    export = bid.get("/export/bids.csv?show=accounts")
    assert export.status_code == 200
    text = export.text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    [r] = [r for r in rows if DIATERMI in r[header("title", "nb")]]
    assert re.sub(r"[^\d]", "", r[header("estimated_value", "nb")]) == "30000000"
    assert r[header("value_kind", "nb")] == "estimated"
