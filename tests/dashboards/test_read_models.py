"""One read model per question: the command line's JSON, the API's JSON and the export's
rows of each question are the same records (same ids, same values) on the real-notice
world (tracker.pages)."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from click.testing import CliRunner

from tests.dashboards.conftest import TODAY, account_id
from tracker.cli import main


def cli_json(world: dict, *args: str) -> Any:
    env = {
        "TRACKER_DATABASE_URL": world["url"],
        "TRACKER_HOME": str(world["home"]),
        "TRACKER_TODAY": TODAY.isoformat(),
        "TRACKER_OUR_ORGNRS": "",
    }
    out = CliRunner().invoke(main, [*args, "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def export_rows(client: Any, path: str) -> list[dict[str, str]]:
    """The plain CSV (machine column names, ISO dates, decimal point) of an export."""
    res = client.get(path + ("&" if "?" in path else "?") + "dialect=plain")
    assert res.status_code == 200, res.text
    return list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))


def norm(value: Any) -> Any:
    """A JSON value or a CSV cell as one comparable value."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"  # as the plain CSV writes it
    if isinstance(value, list | tuple):
        return norm("; ".join(str(v) for v in value))
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(value)
    except ValueError:
        return value
    return None if math.isnan(number) else number


def same(rows_a: list[dict], rows_b: list[dict], keys: tuple[str, ...]) -> None:
    assert len(rows_a) == len(rows_b)
    for a, b in zip(rows_a, rows_b, strict=True):
        assert {k: norm(a[k]) for k in keys} == {k: norm(b[k]) for k in keys}


INCUMBENCY = ("account_id", "account", "supplier", "supplier_orgnr", "us", "contracts",
              "value", "shared_ceilings", "next_end", "contract_ids")  # fmt: skip


@pytest.mark.parametrize("show", ["all", "relevant"])
def test_incumbency_agrees(world: dict, client_for: Any, show: str) -> None:
    cli = cli_json(world, "incumbency", "--today", TODAY.isoformat(), "--show", show)
    director = client_for("director")
    api = director.get(f"/api/incumbency?show={show}").json()
    exported = export_rows(director, f"/export/incumbency.csv?show={show}")
    assert cli, "the fixtures have running contracts with known suppliers"
    assert cli == api
    same(cli, exported, INCUMBENCY)
    # unknown value is None (empty), never 0; a shared ceiling is never added
    assert all(r["value"] is None or r["value"] > 0 for r in cli)
    page = director.get(f"/api/director?show={'all' if show == 'all' else 'relevant'}").json()
    assert page["incumbency"] == api[: len(page["incumbency"])]


CONTRACT = ("contract_id", "account_id", "account", "title", "lot_id", "suppliers", "buyer",
            "status", "next_end", "end_date", "option_ends", "latest_end", "value", "currency",
            "value_kind", "value_shared", "evidence_text", "procedure_id")  # fmt: skip


@pytest.mark.parametrize("who", ["director", "kam"])
def test_expiries_agree(world: dict, client_for: Any, who: str) -> None:
    client = client_for(who)
    api = client.get("/api/expiries?months=120").json()
    exported = export_rows(client, "/export/expiries.csv?months=120")
    assert api, "the fixtures have contracts ending within 10 years"
    same(api, exported, CONTRACT)
    if who == "director":  # the command line sees every account, as the director does
        cli = cli_json(world, "expiries", "--today", TODAY.isoformat(), "--within", "120m")
        assert cli, "the fixtures have contracts ending within 10 years"
        assert cli == api
    else:  # a KAM's own accounts only; one row per contract
        everyone = client_for("director").get("/api/expiries?months=120").json()
        mine = {a["id"] for a in client.get("/api/accounts").json()}
        assert {r["contract_id"] for r in api} == {
            r["contract_id"] for r in everyone if mine & {a["id"] for a in r["accounts"]}
        }
    assert len({r["contract_id"] for r in api}) == len(api)
    # the one "still running" rule: nothing has passed its next end and latest end
    day = TODAY.isoformat()
    assert all(
        r["extension"] or (r["next_end"] or "") >= day or (r["latest_end"] or "") >= day
        for r in api
    )


ACCOUNT = ("id", "name", "orgnr", "aliases", "tier", "buyer_type", "kam", "notices",
           "suggested_links", "contracts", "open_windows")  # fmt: skip


def test_accounts_agree(world: dict, client_for: Any) -> None:
    cli = cli_json(world, "accounts", "list")
    director = client_for("director")
    api = director.get("/api/accounts").json()
    assert cli == api and len(api) >= 10, "every example account, for the command line too"
    same(api, export_rows(director, "/export/accounts.csv"), ACCOUNT)
    kam = client_for("kam")
    mine = kam.get("/api/accounts").json()
    assert [a["name"] for a in mine] == ["Helse Sør-Øst RHF", "Sykehusinnkjøp HF"]
    assert mine == [a for a in api if a["id"] in {m["id"] for m in mine}]
    same(mine, export_rows(kam, "/export/accounts.csv"), ACCOUNT)
    assert any(a["notices"] for a in api) and any(a["contracts"] for a in api)


LINK = ("id", "account_id", "account", "buyer", "buyer_orgnr", "buyer_key", "method",
        "confidence", "notices", "notice_pk", "title", "issue_date", "doffin_url")  # fmt: skip


def test_suggested_links_agree(world: dict, client_for: Any) -> None:
    cli = cli_json(world, "links", "list")
    director = client_for("director")
    api = director.get("/api/suggested-links").json()
    assert cli == api
    same(api, export_rows(director, "/export/suggested-links.csv"), LINK)
    kam = client_for("kam")
    mine = kam.get("/api/suggested-links").json()
    assert mine == kam.get("/api/home").json()["suggested_links"][: len(mine)]
    same(mine, export_rows(kam, "/export/suggested-links.csv"), LINK)
    assert api and len({(r["buyer_key"], r["account_id"]) for r in api}) == len(api)
    assert mine, "Ingrid has suggested links (Helse Sør-Øst)"


OPPORTUNITY = ("key", "account", "title", "buyer", "kind", "phase", "can_influence",
               "days_left", "influence_opens", "drafting_starts", "expected_publication",
               "expected_deadline", "expiry", "expiry_source", "value", "currency", "main_cpv",
               "budget_start", "budget_end", "budget_status", "confidence", "reason")  # fmt: skip


def flat(row: dict) -> dict:
    """An opportunity as the export flattens it (the primary budget window's columns)."""
    window = row.get("budget_window") or {}
    return {**row, "budget_start": window.get("start"), "budget_end": window.get("end"),
            "budget_status": window.get("status")}  # fmt: skip


def test_opportunities_agree(world: dict, client_for: Any) -> None:
    """``tracker opportunities --format json``, the account page's API and the
    opportunities export are the same records (tracker.pages.opportunities)."""
    director = client_for("director")
    cli = cli_json(world, "opportunities", "--today", TODAY.isoformat())
    assert cli and len({r["key"] for r in cli}) == len(cli)
    exported = {r["key"]: r for r in export_rows(director, "/export/opportunities.csv")}
    assert exported.keys() == {r["key"] for r in cli}
    same([flat(r) for r in cli], [exported[r["key"]] for r in cli], OPPORTUNITY)
    name = "Sykehusinnkjøp HF"
    mine = cli_json(world, "opportunities", "--today", TODAY.isoformat(), "--account", name)
    api = director.get(f"/api/accounts/{account_id(world['engine'], name)}").json()
    assert mine and sorted(mine, key=lambda r: r["key"]) == sorted(
        api["opportunities"], key=lambda r: r["key"]
    ), "the same records, every field"
    assert mine == [r for r in cli if r["account"] == name]
    # the sources of the dates and the fit reason are English text in JSON
    assert all(isinstance(s["basis"], str) for r in cli for s in r["sources"].values())
    assert all(isinstance(r["fit"]["reason"], str) for r in cli)


def test_calendar_agrees(world: dict, client_for: Any, tmp_path: Any) -> None:
    """``tracker calendar`` and the director's feed (every account) are the same events
    (tracker.pages.calendar): same UIDs, days and texts."""
    from icalendar import Calendar

    from tracker.db.engine import session_scope
    from tracker.db.models import User
    from tracker.users import issue_calendar_token

    out = tmp_path / "all.ics"
    env = {"TRACKER_DATABASE_URL": world["url"], "TRACKER_HOME": str(world["home"]),
           "TRACKER_TODAY": TODAY.isoformat(), "TRACKER_OUR_ORGNRS": ""}  # fmt: skip
    res = CliRunner().invoke(main, ["calendar", "--out", str(out), "--lang", "nb"], env=env)
    assert res.exit_code == 0, res.output
    with session_scope(world["engine"]) as s:
        director = s.query(User).filter(User.role == "director").first()
        assert director is not None
        token = issue_calendar_token(s, director)
    feed = client_for("director").get(f"/calendar/{token}.ics")
    assert feed.status_code == 200

    def events(data: bytes) -> dict[str, tuple[str, str]]:
        return {
            str(e["UID"]): (e.decoded("DTSTART").isoformat(), str(e["SUMMARY"]))
            for e in Calendar.from_ical(data).walk("VEVENT")
        }

    cli, api = events(out.read_bytes()), events(feed.content)
    assert cli and cli == api
    assert int(res.output.split()[1]) == len(cli)


def api_pages(client: Any, path: str) -> list[dict]:
    """Every item of a paged API answer (``items``, ``page``, ``pages``)."""
    items: list[dict] = []
    page = 1
    while True:
        data = client.get(f"{path}{'&' if '?' in path else '?'}page={page}").json()
        items += data["items"]
        if page >= data["pages"]:
            return items
        page += 1


# export column -> the bid record's key
BID_EXPORT = {"notice_pk": "notice_pk", "source_id": "source_id", "title": "title",
              "buyers": "buyers", "accounts": "accounts", "days_left": "days_left",
              "estimated_value": "value", "value_kind": "value_kind", "score": "total",
              "recommendation": "recommendation", "currency": "currency",
              "bid_status": "status", "doffin_url": "url",
              "documents_url": "documents_url"}  # fmt: skip


@pytest.mark.parametrize("show", ["relevant", "accounts", "all"])
def test_bids_agree(world: dict, client_for: Any, show: str) -> None:
    """``tracker bids --format json``, ``/api/bids`` and the bids export are the same
    records (tracker.bids.selection.BidRow): the API's items carry every key of the command
    line's rows with the same value, the export's rows the same values in its columns."""
    cli = cli_json(world, "bids", "--today", TODAY.isoformat(), "--show", show)
    bid = client_for("bid")
    api = {b["id"]: b for b in api_pages(bid, f"/api/bids?show={show}")}
    exported = export_rows(bid, f"/export/bids.csv?show={show}")
    assert cli or show == "relevant", "the fixtures have open competitions at the accounts"
    assert {r["notice_pk"] for r in cli} == set(api) == {int(r["notice_pk"]) for r in exported}
    for row in cli:
        item = api[row["notice_pk"]]
        assert {k: item[k] for k in row} == row
        assert item["estimated_value"] == row["value"] and item["bid_status"] == row["status"]
    for r in exported:
        item = api[int(r["notice_pk"])]
        assert {k: norm(r[k]) for k in BID_EXPORT} == {
            k: norm(item[key]) for k, key in BID_EXPORT.items()
        }
        assert r["deadline"] == (item["deadline_at"] or item["deadline"] or "")


def test_home_and_director_agree(world: dict, client_for: Any) -> None:
    """The KAM home's API shows the records of the accounts and expiries questions; the
    director's queue shows the bid list's records and its pipeline the export's rows."""
    for who in ("kam", "director"):
        client = client_for(who)
        home = client.get("/api/home?all=1").json()  # out of profile too
        assert home["accounts"] == client.get("/api/accounts").json()
        expiries = {r["contract_id"]: r for r in client.get("/api/expiries?months=24").json()}
        assert home["expiries"] or who == "kam", "contracts end within 24 months"
        assert all(r == expiries[r["contract_id"]] for r in home["expiries"])
    director = client_for("director")
    for show in ("relevant", "all"):
        page = director.get(f"/api/director?show={show}").json()
        bids = {b["id"]: b for b in api_pages(director, f"/api/bids?show={show}")}
        assert page["queue"] or show == "relevant"
        assert all(q == bids[q["id"]] for q in page["queue"])
        assert page["queue_total"] <= len(bids)
        exported = export_rows(director, f"/export/pipeline.csv?show={show}")
        same(page["pipeline"], exported, ("phase", "currency", "count", "value"))
