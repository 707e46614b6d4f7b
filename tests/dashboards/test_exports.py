"""Every list exports as CSV and XLSX for Excel users in Norway, with the same rows.

The CSV is read as Norwegian Excel reads it (UTF-8 with BOM, ``;`` separated, decimal
comma, dd.mm.yyyy); the XLSX is opened with openpyxl (typed cells, widths, frozen header,
autofilter, hyperlinks). Spreadsheet formulas are defused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.orm import Session

from dashboards.routes.exports import COLUMNS, EXPORTS
from tests.dashboards.conftest import account_id, page_csrf
from tracker.db.engine import session_scope
from tracker.db.models import Activity, Contact, User
from tracker.formats.exports import header, to_csv, to_xlsx

BOM = b"\xef\xbb\xbf"
PYTHON_VALUE = re.compile(r"^(True|False|None|-?\d+\.0|nan|\[.*\]|\{.*\})$")


def excel_rows(content: bytes) -> list[list[str]]:
    """The CSV as Excel in Norway opens it: BOM, semicolons."""
    assert content.startswith(BOM)
    return list(csv.reader(io.StringIO(content[len(BOM) :].decode("utf-8")), delimiter=";"))


def sheet_of(content: bytes) -> Any:
    return load_workbook(io.BytesIO(content)).active


def no_python_values(rows: list[list[str]]) -> None:
    leaks = [cell for row in rows for cell in row if PYTHON_VALUE.match(cell)]
    assert not leaks, leaks[:5]


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_every_export_as_csv_and_xlsx(client_for, world, name) -> None:
    client = client_for("director")
    query = f"?account_id={account_id(world['engine'], 'Forsvaret')}"
    res_csv = client.get(f"/export/{name}.csv{query}")
    assert res_csv.status_code == 200, res_csv.text[:300]
    assert res_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in res_csv.headers["content-disposition"]
    rows = excel_rows(res_csv.content)
    assert rows, "no header row"
    assert rows[0][0] == header(COLUMNS[name][0], "nb")
    no_python_values(rows)
    res_xlsx = client.get(f"/export/{name}.xlsx{query}")
    assert res_xlsx.status_code == 200
    sheet = sheet_of(res_xlsx.content)
    assert sheet.max_row == len(rows)
    assert [c.value for c in sheet[1]] == rows[0]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(rows[0])).column_letter}{len(rows)}"
    assert all(sheet.column_dimensions[c.column_letter].width >= 4 for c in sheet[1])


def test_notice_export_is_typed_linked_and_norwegian(client_for) -> None:
    client = client_for("kam")
    res = client.get("/export/notices.xlsx?text=Diatermipenner")
    sheet = sheet_of(res.content)
    heads = [c.value for c in sheet[1]]
    assert heads[:4] == ["ID", "Kunngjøringsnr.", "Publisert", "Tittel"]
    assert "notice_pk" not in heads and "issue_date" not in heads
    row = {h: c for h, c in zip(heads, sheet[2], strict=True)}
    assert sheet.max_row == 2
    assert isinstance(row["Publisert"].value, dt.datetime)  # a date cell (openpyxl reads it so)
    assert row["Publisert"].number_format == "dd.mm.yyyy"
    assert row["Tittel"].value.startswith("Diatermipenner")
    pk = row["ID"].value
    assert isinstance(pk, int)
    assert row["Tittel"].hyperlink.target.endswith(f"/notices/{pk}")
    assert row["Side i trackeren"].hyperlink.target.endswith(f"/notices/{pk}")
    # the page the link points at is the notice
    page = client.get(f"/notices/{pk}")
    assert page.status_code == 200 and "Diatermipenner" in page.text

    csv_rows = excel_rows(client.get("/export/notices.csv?text=Diatermipenner").content)
    cells = dict(zip(csv_rows[0], csv_rows[1], strict=True))
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", cells["Publisert"])
    assert row["Publisert"].value.strftime("%d.%m.%Y") == cells["Publisert"]
    assert client.get("/export/nothing.csv").status_code == 404
    assert client.get("/export/contracts.csv").status_code == 400  # account_id required
    assert client.get("/export/notices.csv?dialect=semicolon").status_code == 400
    assert client.get("/export/notices.csv?lang=de").status_code == 400


def test_numbers_and_dates_in_both_dialects(client_for, world) -> None:
    client = client_for("director")
    query = f"?account_id={account_id(world['engine'], 'Forsvaret')}"
    excel = excel_rows(client.get(f"/export/contracts.csv{query}").content)
    plain_content = client.get(f"/export/contracts.csv{query}&dialect=plain").content
    assert not plain_content.startswith(BOM)
    plain = list(csv.reader(io.StringIO(plain_content.decode("utf-8"))))
    assert len(excel) == len(plain) >= 2
    assert plain[0][:2] == ["account", "title"]  # machine names in the plain dialect
    e = dict(zip(excel[0], excel[1], strict=True))
    p = dict(zip(plain[0], plain[1], strict=True))
    assert p["value"].isdigit() and e["Verdi"] == p["value"]  # 95000000, not 95000000.0
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", p["end_date"])
    y, m, d = p["end_date"].split("-")
    assert e["Sluttdato"] == f"{d}.{m}.{y}"
    assert p["framework"] in ("true", "false")
    assert e["Rammeavtale"] in ("Ja", "Nei")
    sheet = sheet_of(client.get(f"/export/contracts.xlsx{query}").content)
    heads = [c.value for c in sheet[1]]
    value = sheet.cell(2, heads.index("Verdi") + 1)
    assert value.value == int(p["value"]) and value.number_format == "#,##0"
    end = sheet.cell(2, heads.index("Sluttdato") + 1).value
    assert end.date().isoformat() == p["end_date"]

    # a fraction: decimal comma for Excel, a point in the plain dialect
    e_links = excel_rows(client.get("/export/suggested-links.csv").content)
    p_links = list(
        csv.DictReader(io.StringIO(client.get("/export/suggested-links.csv?dialect=plain").text))
    )
    conf = e_links[0].index("Sikkerhet")
    assert e_links[1][conf] == p_links[0]["confidence"].replace(".", ",")
    assert "," in e_links[1][conf] and "." in p_links[0]["confidence"]


def _choose_language(client, language: str) -> None:
    """The user picks their language on the profile page, as people do."""
    res = client.post(
        "/me/language",
        data={"language": language, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert res.status_code == 303


def test_english_by_choice_and_by_the_users_language(client_for, world) -> None:
    client = client_for("kam")
    rows = excel_rows(client.get("/export/notices.csv?lang=en").content)
    assert rows[0][:4] == ["ID", "Notice no.", "Published", "Title"]
    try:
        _choose_language(client, "en")
        rows = excel_rows(client.get("/export/notices.csv").content)
        assert rows[0][3] == "Title"
        rows = excel_rows(client.get("/export/notices.csv?lang=nb").content)
        assert rows[0][3] == "Tittel"
        _choose_language(client, "nb")
        rows = excel_rows(client.get("/export/notices.csv").content)
        assert rows[0][3] == "Tittel"
        rows = excel_rows(client.get("/export/notices.csv?lang=en").content)
        assert rows[0][3] == "Title"
    finally:
        with session_scope(world["engine"]) as s:
            s.execute(update(User).values(language=None))


def test_empty_export_has_its_header_row(client_for) -> None:
    client = client_for("kam")
    rows = excel_rows(client.get("/export/notices.csv?text=no-such-notice-anywhere").content)
    assert rows == [[header(c) for c in [*COLUMNS["notices"], "page"]]]
    sheet = sheet_of(client.get("/export/notices.xlsx?text=no-such-notice-anywhere").content)
    assert sheet.max_row == 1 and [c.value for c in sheet[1]] == rows[0]
    plain = client.get("/export/notices.csv?text=no-such-notice-anywhere&dialect=plain").text
    assert plain.splitlines() == [",".join([*COLUMNS["notices"], "page"])]


def test_crm_exports_of_contacts_and_activities(client_for, world) -> None:
    engine = world["engine"]
    ids = {n: account_id(engine, n) for n in ("Forsvaret", "Oslo kommune")}
    with Session(engine) as s:
        added = [
            Contact(account_id=ids["Forsvaret"], name="Kari Nordmann", role="decision_maker",
                    email="kari@example.no", phone="+47 22 00 00 00", title="Innkjøpssjef"),
            Contact(account_id=ids["Oslo kommune"], name="Ola Ås", role="influencer"),
            Activity(account_id=ids["Oslo kommune"], kind="meeting", text="=1+1 møte",
                     happened_on=dt.date(2023, 2, 1), user_email="per.olsen@example.no"),
        ]  # fmt: skip
        s.add_all(added)
        s.commit()
        try:
            client = client_for("director")
            contacts = excel_rows(client.get("/export/contacts.csv").content)
            by_name = {r[contacts[0].index("Navn")]: r for r in contacts[1:]}
            kari = dict(zip(contacts[0], by_name["Kari Nordmann"], strict=True))
            assert kari["Kunde"] == "Forsvaret" and kari["E-post"] == "kari@example.no"
            assert kari["Kundens org.nr."]  # the account's orgnr for matching in a CRM
            assert dict(zip(contacts[0], by_name["Ola Ås"], strict=True))["Kunde"] == (
                "Oslo kommune"
            )
            one = excel_rows(
                client.get(f"/export/contacts.csv?account_id={ids['Forsvaret']}").content
            )
            assert [r[one[0].index("Navn")] for r in one[1:]] == ["Kari Nordmann"]
            sheet = sheet_of(client.get("/export/activities.xlsx").content)
            heads = [c.value for c in sheet[1]]
            row = {h: c.value for h, c in zip(heads, sheet[2], strict=True)}
            assert row["Kunde"] == "Oslo kommune" and row["Dato"] == dt.datetime(2023, 2, 1)
            assert row["Tekst"] == "'=1+1 møte"
            # a KAM's CRM export holds only their accounts
            kam_rows = excel_rows(client_for("kam").get("/export/contacts.csv").content)
            kam_accounts = {r[kam_rows[0].index("Kunde")] for r in kam_rows[1:]}
            assert len(kam_accounts) <= 1
        finally:
            for obj in added:
                s.delete(obj)
            s.commit()


def test_formula_injection_is_defused_and_no_python_values() -> None:
    rows = [
        {"title": '=HYPERLINK("http://evil")', "n": 3, "note": "-2+3", "ok": "plain"},
        {"title": None, "n": 30000000.0, "note": True, "ok": [1.5, "a"]},
    ]
    text = to_csv(rows).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'-2+3" in text and "plain" in text
    parsed = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert parsed[2] == ["", "30000000", "Ja", "1,5; a"]
    no_python_values(parsed)
    plain = list(csv.reader(io.StringIO(to_csv(rows, dialect="plain").decode())))
    # headers in bokmål for Excel in Norway ("note" is a Notat), machine keys in plain
    assert parsed[0] == ["Tittel", "N", "Notat", "Ok"] and plain[0] == ["title", "n", "note", "ok"]
    english = list(
        csv.reader(io.StringIO(to_csv(rows, language="en").decode("utf-8-sig")), delimiter=";")
    )
    assert english[0] == ["Title", "N", "Note", "Ok"] and english[2][2] == "Yes"
    assert plain[2] == ["", "30000000", "true", "1.5; a"]
    sheet = sheet_of(to_xlsx(rows))
    assert sheet["A2"].value.startswith("'=") and sheet["B2"].value == 3
    assert sheet["B3"].value == 30000000 and sheet["C3"].value == "Ja"
    assert sheet["A3"].value is None


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_an_export_cut_at_its_limit_says_so(client_for, world, name, monkeypatch) -> None:
    from dashboards.routes import exports

    client = client_for("director")
    query = f"?account_id={account_id(world['engine'], 'Politiets fellestjenester')}"
    whole = excel_rows(client.get(f"/export/{name}.csv{query}").content)
    monkeypatch.setattr(exports, "EXPORT_LIMIT", 1)
    res = client.get(f"/export/{name}.csv{query}")
    rows = excel_rows(res.content)
    # Those the world has more than one row of at this account are cut; the CRM
    # exports and the pipeline are whole whatever their length.
    cut = name in {"budget-windows", "contracts", "expiries", "opportunities", "suggested-links"}
    assert cut == (len(whole) > 2 and name not in exports.WHOLE), (name, len(whole))
    assert rows == (whole[:2] if cut else whole)
    assert ("-first-1.csv" in res.headers["content-disposition"]) == cut
    assert res.headers.get("x-export-cut-at") == ("1" if cut else None)
    book = load_workbook(io.BytesIO(client.get(f"/export/{name}.xlsx{query}").content))
    if cut:
        assert book.sheetnames == ["Merknad", name] and book.active.title == "Merknad"
        assert book["Merknad"]["A1"].value.endswith("Snevre inn listen for å få resten.")
        assert book["Merknad"]["A1"].value.startswith("Bare de første 1 radene er med")
        assert book[name].max_row == 2
    else:
        assert book.sheetnames == [name] and book[name].max_row == len(whole)


def test_a_broad_notice_search_export_is_cut_and_named_so(client_for, monkeypatch) -> None:
    from dashboards.routes import exports

    client = client_for("kam")
    whole = excel_rows(client.get("/export/notices.csv").content)
    assert len(whole) > 3, "the world has notices"
    monkeypatch.setattr(exports, "EXPORT_LIMIT", 2)
    res = client.get("/export/notices.csv?lang=en")
    rows = excel_rows(res.content)
    assert len(rows) == 3 and res.headers["x-export-cut-at"] == "2"
    assert 'filename="notices-' in res.headers["content-disposition"]
    assert "-first-2.csv" in res.headers["content-disposition"]
    book = load_workbook(io.BytesIO(client.get("/export/notices.xlsx?lang=en").content))
    assert book["Note"]["A1"].value.startswith("Only the first 2 rows are in this export")


def test_the_bid_export_has_every_open_competition_not_one_page(client_for, monkeypatch) -> None:
    from tracker.pages import bids

    client = client_for("director")
    whole = excel_rows(client.get("/export/bids.csv?show=all").content)
    assert len(whole) > 2, "the world has open competitions (more than one page of 1)"
    real = bids.bids_page

    def small_pages(*args, **kwargs):  # pages of 1 competition, as 200 at scale
        return real(*args, **{**kwargs, "per_page": 1})

    monkeypatch.setattr("dashboards.routes.exports.bids_page", small_pages)
    assert excel_rows(client.get("/export/bids.csv?show=all").content) == whole
