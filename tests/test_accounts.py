"""Account import (YAML/CSV), validation, re-import, list and show."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support.worlds import EXAMPLES, load_real
from tracker.accounts.keyaccounts import account_detail, get_account, import_accounts
from tracker.cli import main
from tracker.db.models import Account
from tracker.errors import ImportValidationError, NotFoundError
from tracker.pages.account import account_contract_rows
from tracker.pages.accounts import accounts
from tracker.pages.base import plain_rows


def _snapshot(s: Session) -> list[dict]:
    return [{k: v for k, v in a.items() if k != "id"} for a in plain_rows(accounts(s, None))]


def test_yaml_and_csv_examples_import_the_same_accounts(engine: Engine) -> None:
    with Session(engine) as s:
        result = import_accounts(s, EXAMPLES / "accounts.yaml")
        assert len(result.created) == 13 and result.updated == []
        from_yaml = _snapshot(s)
        result = import_accounts(s, EXAMPLES / "accounts.csv")
        # The same accounts again: nothing changes, and the import says so.
        assert result.created == result.updated == [] and len(result.unchanged) == 13
        assert _snapshot(s) == from_yaml
        forsvaret = get_account(s, "forsvaret")
        assert [o.orgnr for o in forsvaret.orgnrs] == ["988517860"]
        assert forsvaret.tier == "star" and forsvaret.buyer_type == "state"
        assert forsvaret.include_children is True
        assert get_account(s, "NAV").name == "Arbeids- og velferdsetaten"  # by alias
        assert get_account(s, "916879067").name == "Sykehusinnkjøp HF"  # by orgnr
        assert get_account(s, "916075855").name == "Forsvarsmateriell"  # its own account
        with pytest.raises(NotFoundError):
            get_account(s, "Statens vegvesen")


def test_invalid_rows_name_row_and_field_and_change_nothing(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,orgnr,aliases,kam,team,tier,buyer_type,include_children,notes\n"
        "Tolletaten,880455702,,ola@example.no,Stat,status,state,false,\n"
        "Forsvaret,988517861,,not-an-email,,gold,army,maybe,\n"
        ",,,,,,,,\n"
        "Tolletaten,,,,,,,,\n",
        encoding="utf-8",
    )
    with Session(engine) as s:
        with pytest.raises(ImportValidationError) as err:
            import_accounts(s, bad)
        problems = {(row, field) for row, field, _ in err.value.problems}
        assert problems == {
            (3, "orgnr"),
            (3, "kam"),
            (3, "tier"),
            (3, "buyer_type"),
            (3, "include_children"),
            (5, "name"),
        }
        assert "row 3: orgnr: orgnr '988517861' fails the mod-11 check" in str(err.value)
        assert "row 5: name: 'Tolletaten' already given in row 2" in str(err.value)
        assert s.scalars(select(Account)).all() == []  # all or nothing
        result = import_accounts(s, bad, skip_invalid=True)
        assert result.created == ["Tolletaten"]
        assert {r for r, _f, _m in result.skipped} == {3, 5}


def test_yaml_errors_and_unknown_fields(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "accounts:\n  - name: X\n    colour: blue\n  - orgnr: [123]\n", encoding="utf-8"
    )
    with Session(engine) as s, pytest.raises(ImportValidationError) as err:
        import_accounts(s, path)
    assert {(r, f) for r, f, _ in err.value.problems} == {(1, "colour"), (2, "name"), (2, "orgnr")}
    path.write_text("accounts: [unclosed", encoding="utf-8")
    with Session(engine) as s, pytest.raises(ImportValidationError, match="not valid YAML"):
        import_accounts(s, path)
    with Session(engine) as s, pytest.raises(ImportValidationError, match="does not exist"):
        import_accounts(s, tmp_path / "missing.csv")


def test_reimport_updates_in_place(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        import_accounts(s, EXAMPLES / "accounts.yaml")
        before_id = get_account(s, "Forsvaret").id
    path = tmp_path / "update.yaml"
    path.write_text(
        "- name: Forsvaret\n  orgnr: ['988517860']\n  aliases: [FLO]\n  tier: strategic\n"
        "  buyer_type: state\n  kam: new.kam@example.no\n",
        encoding="utf-8",
    )
    with Session(engine) as s:
        result = import_accounts(s, path)
        assert result.updated == ["Forsvaret"] and result.created == []
    with Session(engine) as s:
        acc = get_account(s, "Forsvaret")
        assert acc.id == before_id
        # include_children is not in the file: it stays as it was (true), not reset.
        assert (acc.tier, acc.kam_email, acc.include_children) == (
            "strategic",
            "new.kam@example.no",
            True,
        )
        assert [a.alias for a in acc.aliases] == ["FLO"]
        assert len(s.scalars(select(Account)).all()) == 13  # others untouched


def test_show_json_has_links_and_contracts(tracker_env: dict[str, str], engine: Engine) -> None:
    load_real(engine)
    with Session(engine) as s:
        detail = account_detail(s, get_account(s, "Politiets fellestjenester"))
        account_id = get_account(s, "Politiets fellestjenester").id
        page = plain_rows(
            account_contract_rows(s, account_id, dt.date(2024, 7, 10), None, ours=frozenset())
        )
    assert detail["notices"] == [
        {
            **detail["notices"][0],
            "buyer_orgnr": "974761157",
            "buyer_name": "Politiets fellestjenester",
            "method": "orgnr",
            "confidence": 1.0,
            "status": "confirmed",
        }
    ]
    # `accounts show` lists the contracts the account page lists, row for row: one
    # question, one query.
    out = CliRunner().invoke(
        main,
        ["accounts", "show", "Politiets fellestjenester", "--format", "json",
         "--today", "2024-07-10"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)["contracts"]
    assert shown == json.loads(json.dumps(page, default=str))
    # One contract per lot and supplier (Delkontrakt 1 and 2), each with its own value.
    by_lot = {c["lot_id"]: c for c in shown}
    lot1, lot2 = by_lot["LOT-0001"], by_lot["LOT-0002"]
    assert (lot1["suppliers"], lot1["value"]) == (["Avarn Security AS"], 138000000.0)
    assert (lot2["suppliers"], lot2["value"]) == (["Securitas AS"], 3000000.0)
    assert (lot1["end_date"], lot1["end_source"], lot1["latest_end"]) == (
        "2025-03-08",
        "text_duration",
        "2027-03-08",
    )
    assert lot1["option_ends"] == ["2026-03-08", "2027-03-08"] and lot1["value_kind"] == "tender"
    # as of 10.07.2024 the base period runs to 08.03.2025: that is the next end
    assert (lot1["status"], lot1["next_end"]) == ("running", "2025-03-08")
    text = CliRunner().invoke(
        main, ["accounts", "show", "Politiets fellestjenester", "--today", "2024-07-10"]
    )
    assert "contracts (2, as of 2024-07-10)" in text.output
    assert "Avarn Security AS" in text.output and "2025-03-08" in text.output


def test_accounts_cli(tracker_env: dict[str, str], engine: Engine) -> None:
    load_real(engine, accounts=None)  # notices first: the import relinks them
    runner = CliRunner()
    out = runner.invoke(main, ["accounts", "import", str(EXAMPLES / "accounts.csv")])
    assert out.exit_code == 0, out.output
    assert "created 13, updated 0" in out.output
    # 4 suggested: Sykehusinnkjøp notices of Helse Sør-Øst (3; not those naming Helse Vest
    # or Nord) and NAV Tiltak Rogaland
    assert "relinked 79 buyers: 21 confirmed, 4 suggested links" in out.output
    # (the night-vision award is known from its intention notice of 2024-07-04)
    out = runner.invoke(main, ["expiries", "--today", "2024-07-10", "--account", "Forsvaret"])
    assert "Elbit Systems of America" in out.output  # contract accounts refreshed too
    out = runner.invoke(main, ["accounts", "list"])
    assert "Helse Sør-Øst RHF" in out.output and "health_trust" in out.output
    out = runner.invoke(main, ["accounts", "show", "NAV", "--format", "json"])
    data = json.loads(out.output)
    assert data["name"] == "Arbeids- og velferdsetaten"
    assert [(n["buyer_name"], n["method"], n["status"]) for n in data["notices"]] == [
        ("NAV Tiltak Rogaland", "name_prefix", "suggested")
    ]
    out = runner.invoke(main, ["accounts", "show", "Nobody"])
    assert out.exit_code == 2 and "no account named 'Nobody'" in out.output
    out = runner.invoke(main, ["accounts", "import", "missing.yaml"])
    assert out.exit_code == 2 and "missing.yaml: file: does not exist" in out.output


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for args in (
        ["accounts", "import"], ["accounts", "list"], ["accounts", "show"], ["link"], ["derive"],
        ["links", "list"], ["links", "confirm"], ["links", "reject"], ["prospects"],
        ["expiries"], ["incumbency"], ["agreements", "import"],
    ):  # fmt: skip
        out = runner.invoke(main, [*args, "--help"])
        assert out.exit_code == 0 and "Example: tracker" in out.output, args


def test_an_account_with_long_history_keeps_its_running_contracts_in_the_list(
    session: Session,
) -> None:
    import datetime as dt

    from tests.factories import add_account, add_contract
    from tracker.pages.account import account_contract_count, account_contract_rows

    today = dt.date(2026, 6, 1)
    account = add_account(session, "Helse Langhistorie HF")
    # Ten years of ended agreements first (the lowest ids), then the running ones.
    for year in range(2014, 2024):
        start, end = dt.date(year, 1, 1), dt.date(year + 1, 12, 31)
        add_contract(session, f"old-{year}", account=account, supplier="Gammel AS",
                     start_date=start, end_date=end)  # fmt: skip
    running = [
        add_contract(
            session,
            f"now-{n}",
            account=account,
            supplier="Ny AS",
            start_date=dt.date(2025, 1, 1),
            end_date=dt.date(2027, 1 + n, 1),
        )  # fmt: skip
        for n in range(2)
    ]
    assert account_contract_count(session, account.id, today) == 12
    rows = account_contract_rows(session, account.id, today, 3, ours=frozenset())
    # The two running ones, soonest end first, then the one that ended last.
    assert [r.key for r in rows] == ["now-0", "now-1", "old-2023"]
    assert [r.ended for r in rows] == [False, False, True]
    assert running[0].id > max(r.contract_id for r in rows if r.ended)  # not the id order
    everything = account_contract_rows(session, account.id, today, ours=frozenset())
    assert len(everything) == 12 and [r.key for r in everything[:2]] == ["now-0", "now-1"]
