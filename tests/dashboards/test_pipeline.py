"""The director's pipeline: each tender once, confirmed links only, values per currency."""

from __future__ import annotations

import html

from tracker.db.models import Account, Opportunity
from tracker.pages.base import plain_rows
from tracker.pages.director import pipeline


def _opp(key: str, account: Account, phase: str, value: float, currency: str, link: str,
         procedure: str | None) -> Opportunity:  # fmt: skip
    extra = {"link_status": link, "currency": currency, "procedure_id": procedure}
    return Opportunity(
        key=key,
        kind="competition",
        account_id=account.id,
        title=key,
        phase=phase,
        value=value,
        timeline={"inputs": {}, "extra": extra},
    )


def test_pipeline_counts_each_tender_once_per_currency(session) -> None:
    a, b = Account(name="A"), Account(name="B")
    session.add_all([a, b])
    session.flush()
    session.add_all(
        [
            # one tender at two accounts: counted once
            _opp("t1-a", a, "published", 30e6, "NOK", "confirmed", "proc-1"),
            _opp("t1-b", b, "published", 30e6, "NOK", "confirmed", "proc-1"),
            # reached only through a suggested link: not counted
            _opp("t2-b", b, "published", 5e6, "NOK", "suggested", "proc-2"),
            # another currency: its own row, never added to NOK
            _opp("t3-a", a, "published", 1e6, "EUR", "confirmed", "proc-3"),
            _opp("t4-a", a, "overdue", 2e6, "NOK", "confirmed", "proc-4"),
            _opp("t5-a", a, "drafting", 3e6, "NOK", "confirmed", "proc-5"),
        ]
    )
    session.flush()
    rows = plain_rows(pipeline(session, in_profile_only=False))
    assert rows == [
        {"phase": "drafting", "currency": "NOK", "count": 1, "value": 3e6},
        {"phase": "overdue", "currency": "NOK", "count": 1, "value": 2e6},
        {"phase": "published", "currency": "EUR", "count": 1, "value": 1e6},
        {"phase": "published", "currency": "NOK", "count": 1, "value": 30e6},
    ]


def test_director_page_pipeline_in_the_seeded_world(client_for) -> None:
    """The open competition (diathermy) and the open market dialogue (the kiosk hearing,
    2023-664435: a PIN-as-call whose text asks for input 'før endelig utlysning') are each
    at Sykehusinnkjøp HF (confirmed) and Helse Sør-Øst RHF (suggested): each counts once."""
    client = client_for("director")
    # in our IT profile: only the Oslo IT operations re-tender (23 MNOK), watched: its
    # modification notice near the end says probably extended (ask the buyer); no kiosk,
    # no diathermy pens
    mine = client.get("/api/director").json()["pipeline"]
    assert {(r["phase"], r["count"], r["value"]) for r in mine} == {("watching", 1, 23_000_000)}
    data = client.get("/api/director?show=accounts").json()
    published = [r for r in data["pipeline"] if r["phase"] == "published"]
    assert sum(r["count"] for r in published) == 1, published
    # the Diatermi notice (NOK 30 M, no currency in the fixture) counted once, not twice
    assert sum(r["value"] for r in published) == 30_000_000
    dialogue = [r for r in data["pipeline"] if r["phase"] == "dialogue_open"]
    assert sum(r["count"] for r in dialogue) == 1, data["pipeline"]
    page = html.unescape(client.get("/director?show=accounts").text)
    section = page.split('id="pipeline"')[1].split("</section>")[0]
    assert "published: 1 opportunity, 30,000,000" in section
    assert "market dialogue open: 1 opportunity, value unknown" in section
    assert "published: 2" not in section and "published: 4" not in section
