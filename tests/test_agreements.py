"""Agreement pages (pure extraction, the spider callback, storage) and the CRM import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from scrapy.http import HtmlResponse, Request
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES
from tests.readmodels import list_expiries
from tests.support.worlds import EXAMPLES
from tracker.accounts.keyaccounts import import_accounts
from tracker.cli import main
from tracker.contracts.agreement_pages import (
    SiteConfig,
    extract_agreements,
    find_dates,
    load_sites,
    parse_norwegian_date,
)
from tracker.contracts.agreements import import_agreements, store_page_agreements
from tracker.db.models import Account, Contract, ContractAccount
from tracker.errors import ConfigError, ImportValidationError

PAGES = FIXTURES / "pages"
D = dt.date


def _sites() -> dict[str, SiteConfig]:
    return {s.name: s for s in load_sites(PAGES / "sites.yaml")}


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("oppstart fra 01.04.2023", D(2023, 4, 1)),
        ("frem til 31.08.2024", D(2024, 8, 31)),
        ("1. april 2023", D(2023, 4, 1)),
        ("gyldig til 31. des. 2025", D(2025, 12, 31)),
        ("2023-09-01", D(2023, 9, 1)),
        ("1.4.23", D(2023, 4, 1)),
        ("31.02.2024", None),
        ("ingen dato", None),
    ],
)
def test_parse_norwegian_date(text: str, date: dt.date | None) -> None:
    assert parse_norwegian_date(text) == date


def test_find_dates_by_the_words_before_them() -> None:
    assert find_dates(
        "Delområde A har oppstart fra 01.04.2023 og gjelder frem til 31.08.2024."
    ) == (D(2023, 4, 1), D(2024, 8, 31))
    assert find_dates("løper fra 1. april 2023 til 31. mars 2026") == (
        D(2023, 4, 1),
        D(2026, 3, 31),
    )
    assert find_dates("Avtalen utløper 30.06.2025.") == (None, D(2025, 6, 30))
    assert find_dates("01.01.2024 – 31.12.2025") == (D(2024, 1, 1), D(2025, 12, 31))


def test_table_page() -> None:
    site = _sites()["oslo-ikt"]
    found = extract_agreements((PAGES / "rammeavtaler_tabell.html").read_bytes(), site)
    assert [(a.title, a.supplier_name, a.start_date, a.end_date, a.latest_end) for a in found] == [
        ("PC-er, skjermer og tilbehør", "Atea AS", D(2021, 2, 1), D(2024, 1, 31), D(2026, 1, 31)),
        ("Programvarelisenser (LAR)", "Crayon AS", D(2022, 4, 1), D(2025, 3, 31), D(2025, 3, 31)),
        ("Mobiltelefoni og mobilt bredbånd", "Telenor Norge AS", D(2023, 9, 1), D(2025, 8, 31),
         D(2027, 8, 31)),
    ]  # fmt: skip
    # The header row and the row "under anskaffelse" (no dates) are not agreements.
    assert all(a.buyer_name == "Oslo kommune" and a.framework for a in found)


def test_free_text_page() -> None:
    site = _sites()["sykehusinnkjop-ikt"]
    found = extract_agreements((PAGES / "avtaler_fritekst.html").read_text(encoding="utf-8"), site)
    assert [(a.title, a.supplier_name, a.start_date, a.end_date, a.latest_end) for a in found] == [
        ("Delområde A – Servere og lagring", "Dustin Norway AS", D(2023, 4, 1), D(2024, 8, 31),
         D(2026, 8, 31)),
        ("Delområde B – Nettverksutstyr", "Netnordic Norway AS", D(2023, 4, 1), D(2026, 3, 31),
         D(2026, 3, 31)),
    ]  # fmt: skip
    assert found[0].buyer_orgnr == "916879067"


def test_site_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'block' is required"):
        SiteConfig.from_dict({"name": "x", "url": "https://x.example"})
    with pytest.raises(ConfigError, match="unknown key"):
        SiteConfig.from_dict({"name": "x", "url": "u", "block": "tr", "colour": "red"})
    with pytest.raises(ConfigError, match="buyer_orgnr"):
        SiteConfig.from_dict({"name": "x", "url": "u", "block": "tr", "buyer_orgnr": "123"})
    bad = tmp_path / "s.yaml"
    bad.write_text("sites: 3", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a list"):
        load_sites(bad)


def test_spider_yields_items_and_pipeline_stores_them(engine: Engine, db_url: str) -> None:
    from spiders.pipelines import StoreAgreements as AgreementPipeline
    from spiders.sources.agreements import AgreementsSpider

    spider = AgreementsSpider(config=str(PAGES / "sites.yaml"), site="sykehusinnkjop-ikt")
    site = spider.sites[0]
    response = HtmlResponse(
        url=site.url,
        body=(PAGES / "avtaler_fritekst.html").read_bytes(),
        encoding="utf-8",
        request=Request(site.url),
    )
    items = list(spider.parse_page(response, site))
    assert [i["supplier_name"] for i in items] == ["Dustin Norway AS", "Netnordic Norway AS"]
    assert items[0]["kind"] == "agreement" and items[0]["end_date"] == "2024-08-31"
    with Session(engine) as s:
        import_accounts(s, EXAMPLES / "accounts.yaml")
    pipeline = AgreementPipeline(db_url)
    for item in items:
        assert pipeline.process_item(item) is item
    pipeline.close_spider()
    pipeline.close_spider()  # nothing pending: no-op
    assert pipeline.stored == 2
    # A re-crawl updates in place.
    with Session(engine) as s:
        store_page_agreements(s, items)
        s.commit()
        rows = s.scalars(select(Contract).order_by(Contract.end_date)).all()
        assert [(c.source, c.end_source, c.end_date) for c in rows] == [
            ("agreement_page", "agreement_page", D(2024, 8, 31)),
            ("agreement_page", "agreement_page", D(2026, 3, 31)),
        ]
        accounts = {
            name
            for (name,) in s.execute(
                select(Account.name).join(ContractAccount, ContractAccount.account_id == Account.id)
            )
        }
        assert accounts == {"Sykehusinnkjøp HF", "Helse Sør-Øst RHF"}


def test_spider_arguments() -> None:
    from spiders.exceptions import SpiderArgumentError
    from spiders.sources.agreements import AgreementsSpider

    with pytest.raises(SpiderArgumentError, match="config"):
        AgreementsSpider()
    with pytest.raises(SpiderArgumentError, match="no such site"):
        AgreementsSpider(config=str(PAGES / "sites.yaml"), site="nope")


CRM = (
    "buyer,buyer_orgnr,supplier,supplier_orgnr,title,start_date,end_date,latest_end,value,framework,reference\n"
    "Tolletaten,880455702,Atea AS,,Klientutstyr,01.01.2023,31.12.2025,31.12.2027,"
    "4 500 000,ja,CRM-1\n"
    "Oslo kommune v/ Utdanningsetaten,,Crayon AS,,Lisenser,2024-01-01,2026-06-30,,,nei,CRM-2\n"
)


def test_crm_import_csv_and_xlsx(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        import_accounts(s, EXAMPLES / "accounts.yaml")
    csv_path = tmp_path / "crm.csv"
    csv_path.write_text(CRM, encoding="utf-8")
    with Session(engine) as s:
        assert import_agreements(s, csv_path) == {
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "skipped": [],
        }
    xlsx = tmp_path / "crm.xlsx"
    frame = pd.read_csv(csv_path, dtype=str)
    frame.loc[0, "end_date"] = "30.06.2026"
    frame.to_excel(xlsx, index=False)
    with Session(engine) as s:
        # One end date changed; the other row is the same agreement as before.
        assert import_agreements(s, xlsx) == {
            "created": 0,
            "updated": 1,
            "unchanged": 1,
            "skipped": [],
        }
        rows = list_expiries(s, today=D(2024, 6, 1))
    assert [
        (r["account"], r["incumbent"], r["end_date"], r["end_source"], r["latest_end"])
        for r in rows
    ] == [
        ("Tolletaten", "Atea AS", "2026-06-30", "import", "2027-12-31"),
        ("Oslo kommune", "Crayon AS", "2026-06-30", "import", "2026-06-30"),
    ]
    assert rows[0]["value"] == 4500000.0 and rows[0]["framework"] is True


def test_crm_import_errors_by_row(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        CRM
        + "Tolletaten,880455702,,,,,31.13.2025,,,,\n"
        + "NAV,12345,Atea AS,,,2025-01-01,2024-01-01,,mye,kanskje,\n"
        + "NAV,,Atea AS,,,2024-01-01,2099-01-01,,1e30,,\n"
        + "NAV,,Atea AS,,,2024-01-01,2025-01-01,,-5,,\n"
        + "NAV,,Atea AS,,,2024-01-01,2025-01-01,,NaN,,\n",
        encoding="utf-8",
    )
    with Session(engine) as s:
        with pytest.raises(ImportValidationError) as err:
            import_agreements(s, path)
        assert {(r, f) for r, f, _ in err.value.problems} == {
            (4, "supplier"), (4, "end_date"), (5, "buyer_orgnr"), (5, "end_date"), (5, "value"),
            (5, "framework"), (6, "end_date"), (6, "value"), (7, "value"), (8, "value"),
        }  # fmt: skip
        assert s.scalars(select(Contract)).all() == []
        result = import_agreements(s, path, skip_invalid=True)
        assert result["created"] == 2 and {x["row"] for x in result["skipped"]} == {4, 5, 6, 7, 8}
    path.write_text("buyer,title\nX,Y\n", encoding="utf-8")
    with Session(engine) as s, pytest.raises(ImportValidationError, match="row 1: supplier"):
        import_agreements(s, path, skip_invalid=True)


def test_agreements_cli(tracker_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    out = CliRunner().invoke(main, ["agreements", "import", str(path)])
    assert out.exit_code == 0 and "created 2, updated 0" in out.output
    path.write_text("buyer,supplier,end_date\nX,Y,never\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["agreements", "import", str(path)])
    assert out.exit_code == 2 and "row 2: end_date: 'never' is not a date" in out.output


@pytest.mark.pg_slow
def test_real_crawl_against_a_local_server(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """``tracker crawl agreements`` (a Scrapy subprocess), pages served on 127.0.0.1."""
    import functools
    import http.server
    import os
    import subprocess
    import sys
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(PAGES))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    config = (PAGES / "sites.yaml").read_text(encoding="utf-8")
    config = config.replace(
        "https://oslo.kommune.example/innkjop/rammeavtaler-ikt", f"{base}/rammeavtaler_tabell.html"
    ).replace(
        "https://sykehusinnkjop.example/avtaler/ikt-infrastruktur", f"{base}/avtaler_fritekst.html"
    )
    (tmp_path / "sites.yaml").write_text(config, encoding="utf-8")
    with Session(engine) as s:
        import_accounts(s, EXAMPLES / "accounts.yaml")
    env = {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_HOME": str(tmp_path)}
    env.pop("TRACKER_CONFIG", None)
    root = Path(__file__).resolve().parent.parent
    try:
        # ``tracker crawl agreements`` runs ``scrapy crawl agreements -a config=...``.
        proc = subprocess.run(
            [sys.executable, "-m", "tracker.cli", "crawl", "agreements",
             "--config", str(tmp_path / "sites.yaml"), "-s", "DOWNLOAD_DELAY=0",
             "-s", "LOG_LEVEL=INFO"],
            cwd=root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "crawl agreements: exit 0" in proc.stdout
    with Session(engine) as s:
        rows = s.scalars(select(Contract).order_by(Contract.end_date, Contract.title)).all()
        assert [(c.title, c.end_date) for c in rows] == [
            ("PC-er, skjermer og tilbehør", D(2024, 1, 31)),
            ("Delområde A – Servere og lagring", D(2024, 8, 31)),
            ("Programvarelisenser (LAR)", D(2025, 3, 31)),
            ("Mobiltelefoni og mobilt bredbånd", D(2025, 8, 31)),
            ("Delområde B – Nettverksutstyr", D(2026, 3, 31)),
        ]
        assert all(c.source == "agreement_page" and c.url.startswith(base) for c in rows)
        oslo = list_expiries(s, today=D(2024, 1, 1), account="Oslo kommune")
        assert [r["incumbent"] for r in oslo] == ["Atea AS", "Crayon AS", "Telenor Norge AS"]
        from tracker.db.models import Run

        run = s.scalars(select(Run).where(Run.name == "agreements")).one()
        assert run.outcome == "ok"


NAMES = {1: "januar", 2: "februar", 3: "mars", 4: "april", 5: "mai", 6: "juni", 7: "juli",
         8: "august", 9: "september", 10: "oktober", 11: "november", 12: "desember"}  # fmt: skip


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2099, 12, 31)))
def test_every_written_form_of_a_date_reads_back(day: dt.date) -> None:
    for text in (
        f"{day.day:02d}.{day.month:02d}.{day.year}",
        f"{day.day}.{day.month}.{day.year}",
        f"{day.day}. {NAMES[day.month]} {day.year}",
        day.isoformat(),
    ):
        assert parse_norwegian_date(f"gjelder fra {text}.") == day
    assert find_dates(f"oppstart fra {day:%d.%m.%Y} og frem til {day:%d.%m.%Y}") == (day, day)
