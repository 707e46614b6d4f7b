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


def _cli_ids(show: str) -> set[int]:
    args = ["bids", "--today", TODAY.isoformat(), "--format", "json", "--show", show]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return {r["notice_pk"] for r in json.loads(res.output)}


def test_cli_and_bid_page_list_the_same_competitions(world, client_for, monkeypatch) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", world["url"])
    monkeypatch.setenv("TRACKER_HOME", str(world["home"]))
    engine = world["engine"]
    dia, kiosk = notice_pk(engine, DIATERMI), notice_pk(engine, KIOSK)
    for show in ("relevant", "accounts", "all"):
        cli = _cli_ids(show)
        page = _page_ids(client_for("bid"), show)
        assert len(page) == len(set(page))  # each once over the pages
        assert set(page) == cli, show
        # the kiosk hearing asks for input before the competition: not a competition
        assert kiosk not in cli
        # diathermy pens at Sykehusinnkjøp HF: out of the IT profile, one click away
        assert (dia in cli) == (show != "relevant"), show
    # "all" is a superset of "accounts", which is a superset of "relevant" here
    assert _cli_ids("relevant") <= _cli_ids("accounts") <= _cli_ids("all")
