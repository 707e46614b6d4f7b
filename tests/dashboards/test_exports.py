"""Every list exports as CSV and XLSX with the same rows; spreadsheet formulas are defused."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from dashboards.routes.exports import EXPORTS
from tests.dashboards.conftest import account_id
from tracker.exports import to_csv, to_xlsx


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_as_csv_and_xlsx(client_for, world, name) -> None:
    client = client_for("director")
    query = f"?account_id={account_id(world['engine'], 'Forsvaret')}"
    res_csv = client.get(f"/export/{name}.csv{query}")
    assert res_csv.status_code == 200, res_csv.text[:300]
    assert res_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in res_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(res_csv.content.decode("utf-8-sig"))))
    res_xlsx = client.get(f"/export/{name}.xlsx{query}")
    assert res_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(res_xlsx.content)).active
    assert sheet.max_row == max(len(rows), 1)
    if len(rows) > 1:
        assert [c.value for c in sheet[1]] == rows[0]


def test_notice_export_follows_the_search_filters(client_for) -> None:
    client = client_for("kam")
    res = client.get("/export/notices.csv?text=Diatermipenner")
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0]["title"].startswith("Diatermipenner")
    assert client.get("/export/nothing.csv").status_code == 404
    assert client.get("/export/contracts.csv").status_code == 400  # account_id required


def test_formula_injection_is_defused() -> None:
    rows = [{"title": '=HYPERLINK("http://evil")', "n": 3, "note": "-2+3", "ok": "plain"}]
    text = to_csv(rows).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'-2+3" in text and "plain" in text
    sheet = load_workbook(io.BytesIO(to_xlsx(rows))).active
    assert sheet["A2"].value.startswith("'=") and sheet["B2"].value == 3
