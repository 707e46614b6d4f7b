"""One selection of open, relevant competitions: ``tracker bids`` and the bid pages agree."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.dashboards.conftest import DIATERMI, KIOSK, TODAY, notice_pk
from tracker.cli import main


def _page_ids(client, show: str = "relevant") -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        data = client.get(f"/api/bids?show={show}&page={page}").json()
        ids += [b["id"] for b in data["items"]]
        if page >= data["pages"]:
            return ids
        page += 1


def test_cli_and_bid_page_list_the_same_competitions(world, client_for, monkeypatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", world["url"])
    monkeypatch.setenv("TRACKER_HOME", str(world["home"]))
    res = CliRunner().invoke(main, ["bids", "--today", TODAY.isoformat(), "--format", "json"])
    assert res.exit_code == 0, res.output
    cli = {r["notice_pk"] for r in json.loads(res.output)}
    page = _page_ids(client_for("bid"))
    assert len(page) == len(set(page))  # each once over the pages
    assert set(page) == cli
    engine = world["engine"]
    assert {notice_pk(engine, DIATERMI), notice_pk(engine, KIOSK)} <= cli
    # the page is soonest deadline first; "all" is a superset of "relevant"
    assert set(page) <= set(_page_ids(client_for("bid"), "all"))
