"""Import files as Norwegian spreadsheets save them, and re-imports that lose nothing:
semicolon or comma CSV (with or without BOM); a column left out keeps the stored field;
unchanged rows are reported as unchanged."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support.worlds import EXAMPLES
from tracker.accounts.keyaccounts import get_account, import_accounts
from tracker.cli import main
from tracker.contracts.agreements import import_agreements
from tracker.db.models import Account, Contract, ContractAccount, ContractParty
from tracker.pages.accounts import accounts
from tracker.pages.base import plain_rows


def _rewrite(
    source: Path, target: Path, delimiter: str, drop: set[str] = frozenset(), bom: bool = True
) -> None:
    """``source`` (a comma CSV) as Excel would save it with another delimiter."""
    rows = list(csv.DictReader(io.StringIO(source.read_text(encoding="utf-8-sig"))))
    fields = [f for f in rows[0] if f not in drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(out.getvalue(), encoding="utf-8-sig" if bom else "utf-8")


def _accounts(s: Session) -> list[dict]:
    return [{k: v for k, v in a.items() if k != "id"} for a in plain_rows(accounts(s, None))]


def test_semicolon_csv_with_bom_imports_like_the_comma_csv(engine: Engine, tmp_path: Path) -> None:
    semicolon = tmp_path / "kontoer.csv"
    _rewrite(EXAMPLES / "accounts.csv", semicolon, ";")
    assert semicolon.read_bytes().startswith(b"\xef\xbb\xbfname;orgnr;")
    with Session(engine) as s:
        result = import_accounts(s, semicolon)
        assert len(result.created) == 13
        from_semicolon = _accounts(s)
        forsvaret = get_account(s, "Forsvaret")
        assert sorted(a.alias for a in forsvaret.aliases) == [
            "FLO",
            "Forsvarets logistikkorganisasjon",
        ]  # the ';' inside the quoted aliases cell is still the list separator
    with Session(engine) as s:
        result = import_accounts(s, EXAMPLES / "accounts.csv")
        assert result.created == result.updated == [] and len(result.unchanged) == 13
        assert _accounts(s) == from_semicolon


def test_a_missing_column_keeps_the_stored_field(
    engine: Engine, tracker_env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(main, ["accounts", "import", str(EXAMPLES / "accounts.yaml")]).exit_code == 0
    )
    with Session(engine) as s:
        kams = {a.name: a.kam_email for a in s.scalars(select(Account))}
    assert sum(1 for k in kams.values() if k) >= 5
    no_kam = tmp_path / "no-kam.csv"
    _rewrite(EXAMPLES / "accounts.csv", no_kam, ";", drop={"kam", "aliases"})
    out = runner.invoke(main, ["accounts", "import", str(no_kam)])
    assert out.exit_code == 0, out.output
    assert "created 0, updated 0, unchanged 13 account(s)" in out.output
    with Session(engine) as s:
        assert {a.name: a.kam_email for a in s.scalars(select(Account))} == kams
        assert len(get_account(s, "Forsvaret").aliases) == 2
    # A column that is there but empty does clear the field: that is said on purpose.
    empty = tmp_path / "empty-kam.csv"
    empty.write_text("name;kam\nForsvaret;\n", encoding="utf-8")
    out = runner.invoke(main, ["accounts", "import", str(empty), "--no-link"])
    assert "created 0, updated 1, unchanged 0 account(s)" in out.output
    with Session(engine) as s:
        assert get_account(s, "Forsvaret").kam_email is None
        assert get_account(s, "NAV").kam_email == kams["Arbeids- og velferdsetaten"]


CRM = (
    "buyer;buyer_orgnr;supplier;title;start_date;end_date;value;framework;reference;notes\n"
    "Tolletaten;880455702;Atea AS;Klientutstyr;01.01.2023;31.12.2025;4 500 000,50;ja;CRM-1;"
    "Forlenget én gang\n"
    "Oslo kommune v/ Utdanningsetaten;;Crayon AS;Lisenser;2024-01-01;30.06.2026;;nei;CRM-2;\n"
)


def test_agreements_semicolon_csv_and_re_import_without_columns(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as s:
        import_accounts(s, EXAMPLES / "accounts.yaml")
    path = tmp_path / "avtaler.csv"
    path.write_text(CRM, encoding="utf-8-sig")
    with Session(engine) as s:
        assert import_agreements(s, path)["created"] == 2
        atea = s.scalar(select(Contract).where(Contract.external_ref == "CRM-1"))
        assert float(atea.value) == 4500000.5 and atea.notes == "Forlenget én gang"
        linked = s.scalars(
            select(ContractAccount.account_id).where(ContractAccount.contract_id == atea.id)
        ).all()
        assert linked
    with Session(engine) as s:
        assert import_agreements(s, path) == {
            "created": 0,
            "updated": 0,
            "unchanged": 2,
            "skipped": [],
        }
    # The CRM export without value, notes and the buyer's orgnr: those stay as stored.
    thin = tmp_path / "thin.csv"
    thin.write_text(
        "buyer,supplier,end_date,reference\n"
        "Tolletaten,Atea AS,31.12.2026,CRM-1\n"
        "Oslo kommune v/ Utdanningsetaten,Crayon AS,30.06.2026,CRM-2\n",
        encoding="utf-8",
    )
    with Session(engine) as s:
        result = import_agreements(s, thin)
        assert (result["updated"], result["unchanged"]) == (1, 1)
    with Session(engine) as s:
        atea = s.scalar(select(Contract).where(Contract.external_ref == "CRM-1"))
        assert atea.end_date.isoformat() == "2026-12-31" and atea.latest_end == atea.end_date
        assert float(atea.value) == 4500000.5 and atea.notes == "Forlenget én gang"
        assert atea.title == "Klientutstyr" and atea.framework is True
        buyer = s.scalar(
            select(ContractParty).where(
                ContractParty.contract_id == atea.id, ContractParty.role == "buyer"
            )
        )
        assert buyer.orgnr == "880455702"
        assert (
            s.scalars(
                select(ContractAccount.account_id).where(ContractAccount.contract_id == atea.id)
            ).all()
            == linked
        )
