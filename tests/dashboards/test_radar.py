"""The renewal radar (dashboards.radar): every agreement at the reader's accounts whose
next end falls in the coming 36 months is one dot, at its next end, coloured by who holds
it; only comparable NOK values size a dot (a framework maximum never looks like spend)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dashboards.radar import MONTHS, renewal_radar
from tests.dashboards.conftest import TODAY
from tracker.dates import add_months
from tracker.pages.expiries import expiries
from tracker.rules import load_rules


def _rows(world: dict) -> list[Any]:
    from tracker.db.engine import session_scope

    with session_scope(world["engine"]) as s:
        return expiries(s, TODAY, ours=frozenset(), rules=load_rules(), within_months=MONTHS)


def test_one_dot_per_contract_ending_in_36_months(world: dict) -> None:
    rows = _rows(world)
    chart = renewal_radar(rows, TODAY)
    assert chart is not None, "the real notices have agreements ending within 36 months"
    dots = [d for lane in chart["lanes"] for d in lane["dots"]]
    horizon = add_months(TODAY, MONTHS)
    expected = {
        r.contract_id
        for r in rows
        if (end := r.next_end or r.end_date or r.latest_end)
        and dt.date.fromisoformat(end[:10]) <= horizon
    }
    assert chart["total"] == len(expected) and expected
    if not chart["more_lanes"]:
        assert sorted(d["contract_id"] for d in dots) == sorted(expected)
    by_id = {r.contract_id: r for r in rows}
    xs = [a["x"] for a in chart["axis"]]
    for d in dots:
        row = by_id[d["contract_id"]]
        assert d["holder"] == ("ours" if row.us else "theirs" if row.incumbents else "unknown")
        assert min(xs) - 1 <= d["x"] <= chart["width"]
        if row.value_kind == "framework_max" or row.currency != "NOK" or not row.value:
            assert not d["sized"] and d["r"] == 4.0, row.contract_id
        if d["options_to"] is not None:
            assert d["options_to"] >= d["x"] and d["latest_end"] > d["next_end"]


def test_bigger_value_bigger_dot(world: dict) -> None:
    chart = renewal_radar(_rows(world), TODAY)
    assert chart
    sized = sorted(
        (d for lane in chart["lanes"] for d in lane["dots"] if d["sized"]),
        key=lambda d: d["value"],
    )
    assert len(sized) >= 2, "some contracts have comparable NOK values"
    assert sized[0]["r"] <= sized[-1]["r"] == 15.0


def test_nothing_to_show_is_said(world: dict) -> None:
    assert renewal_radar([], TODAY) is None


@pytest.mark.parametrize("who", ["kam2", "director"])
def test_the_page_draws_the_dots_of_its_reader(world: dict, client_for: Any, who: str) -> None:
    """The KAM home and the account page draw one dot per contract of the reader's
    expiries in 36 months (the API's rows)."""
    client = client_for(who)
    if who == "director":  # an account page: that account's agreements
        every = client.get(f"/api/expiries?months={MONTHS}").json()
        account = every[-1]["account_id"]
        html = client.get(f"/accounts/{account}").text
        api = client.get(f"/api/expiries?months={MONTHS}&account_id={account}").json()
    else:
        html = client.get("/").text
        api = client.get(f"/api/expiries?months={MONTHS}").json()
    assert "Renewal radar" in html
    radar = html[html.index('<figure class="radar') :] if api else ""
    radar = radar[: radar.index("</figure>")] if radar else ""
    horizon = add_months(TODAY, MONTHS).isoformat()
    dated = [
        r for r in api if (r["next_end"] or r["end_date"] or r["latest_end"] or "9") <= horizon
    ]
    assert dated, "the reader has agreements ending within 36 months"
    assert radar.count("<circle") == len(dated)
    assert radar.count(" · next end ") == len(dated), "every dot's tooltip, in English"


def test_the_tooltip_says_end_options_and_value_in_the_readers_language(world: dict) -> None:
    """Each dot's tooltip (built in Python, escaped by Jinja) names the contract, its
    holder, its next end as dd.mm.åååå, the latest end with options and the value with its
    kind, or why the dot is not sized: in bokmål and in English."""
    from tracker.i18n import speaking

    rows = _rows(world)
    for lang, words in (
        ("nb", ("neste sluttdato", "med opsjoner til", "kan ikke sammenlignes: minste prikk")),
        ("en", ("next end", "with options to", "not comparable: smallest dot")),
    ):
        with speaking(lang):
            chart = renewal_radar(rows, TODAY)
        assert chart
        dots = [d for lane in chart["lanes"] for d in lane["dots"]]
        for d in dots:
            tip = d["tooltip"]
            assert tip.startswith(d["title"]) and f"{words[0]} {d['next_end']:%d.%m.%Y}" in tip
            if d["latest_end"]:
                assert f"{words[1]} {d['latest_end']:%d.%m.%Y}" in tip
            assert (words[2] in tip) == bool(d["value"] and not d["sized"]), tip
        assert any(d["latest_end"] for d in dots), "some agreements have options"
        assert any(d["value"] and not d["sized"] for d in dots), "a framework maximum"
