"""Key accounts, links, prospects, agreements, expiries and incumbency commands."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click

from tracker.cli import main
from tracker.cli._common import resolve_today
from tracker.db.engine import session_scope
from tracker.enums import LinkStatus


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], width: int = 40) -> str:
    if not rows:
        return "(none)"

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "yes" if v else ""
        if isinstance(v, float):
            return f"{v:,.0f}".replace(",", " ") if abs(v) >= 1000 else f"{v:g}"
        if isinstance(v, list | tuple):
            return ";".join(str(x) for x in v)
        s = str(v)
        return s if len(s) <= width else s[: width - 1] + "…"

    cells = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


@main.group()
def accounts() -> None:
    """Key accounts: import, list and show.

    Example: tracker accounts import examples/accounts.yaml
    """


@accounts.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Store the valid rows, report the bad ones.")
@click.option("--no-link", is_flag=True, help="Do not relink the stored notices afterwards.")
def accounts_import(file: str, skip_invalid: bool, no_link: bool) -> None:
    """Import accounts from YAML or CSV (re-import updates in place), then relink.

    Any invalid row stops the import (nothing changes) unless --skip-invalid.

    Example: tracker accounts import examples/accounts.csv --skip-invalid
    """
    from tracker.accounts.keyaccounts import import_accounts

    with session_scope() as session:
        result = import_accounts(session, file, skip_invalid=skip_invalid, relink=not no_link)
    click.echo(
        f"created {len(result.created)}, updated {len(result.updated)}, "
        f"unchanged {len(result.unchanged)} account(s)"
    )
    if result.links:
        click.echo(
            f"relinked {result.links['buyers']} buyers: {result.links['confirmed']} confirmed, "
            f"{result.links['suggested']} suggested links"
        )
    for row, field, message in result.skipped:
        click.echo(f"skipped row {row}: {field}: {message}", err=True)


@accounts.command("list")
@FORMAT
def accounts_list(fmt: str) -> None:
    """List accounts with their linked notices and contracts.

    Example: tracker accounts list --format json
    """
    from tracker.pages.accounts import accounts
    from tracker.pages.base import plain_rows

    with session_scope() as session:
        rows = plain_rows(accounts(session, None))
    if fmt == "json":
        click.echo(_json(rows))
        return
    cols = [
        ("name", "account"), ("tier", "tier"), ("buyer_type", "type"), ("kam", "kam"),
        ("orgnr", "orgnr"), ("notices", "notices"), ("suggested_links", "suggested"),
        ("contracts", "contracts"), ("open_windows", "open windows"),
    ]  # fmt: skip
    click.echo(_table(rows, cols))


@accounts.command("show")
@click.argument("name")
@FORMAT
@click.option("--today", help="Date to count from (YYYY-MM-DD); default TRACKER_TODAY or today.")
def accounts_show(name: str, fmt: str, today: str | None) -> None:
    """Show one account (by name, alias or id): linked notices and contracts.

    The contracts are the account page's, every one of them: running first, soonest
    end first, then the most recently ended; one row per awarded lot and supplier.

    Example: tracker accounts show Forsvaret --format json
    """
    from tracker.accounts.keyaccounts import account_detail, get_account
    from tracker.config import load_settings
    from tracker.pages.account import account_contract_rows
    from tracker.pages.base import PageEnv, plain_rows

    env = PageEnv.of(load_settings())
    day = resolve_today(today, env.settings)
    with session_scope() as session:
        account = get_account(session, name)
        detail = account_detail(session, account)
        detail["contracts"] = plain_rows(
            account_contract_rows(session, account.id, day, None, ours=env.ours)
        )
    if fmt == "json":
        click.echo(_json(detail))
        return
    click.echo(f"{detail['name']}  (tier {detail['tier']}, {detail['buyer_type']})")
    click.echo(
        f"orgnr: {', '.join(detail['orgnr']) or '-'}   "
        f"aliases: {', '.join(detail['aliases']) or '-'}"
    )
    click.echo(f"kam: {detail['kam'] or '-'}   team: {detail['team'] or '-'}   "
               f"sub-units count: {'yes' if detail['include_children'] else 'no'}")  # fmt: skip
    click.echo("\nnotices:")
    click.echo(
        _table(
            detail["notices"],
            [
                ("link_id", "link"),
                ("issue_date", "date"),
                ("source_id", "doffin"),
                ("buyer_name", "buyer"),
                ("method", "method"),
                ("confidence", "conf"),
                ("status", "status"),
                ("title", "title"),
            ],
        )  # fmt: skip
    )
    click.echo(f"\ncontracts ({len(detail['contracts'])}, as of {day.isoformat()}):")
    click.echo(
        _table(
            detail["contracts"],
            [
                ("status", "status"),
                ("next_end", "next end"),
                ("end_source", "source"),
                ("latest_end", "latest"),
                ("suppliers", "supplier"),
                ("value", "value"),
                ("value_kind", "kind"),
                ("framework", "fw"),
                ("title", "title"),
            ],
        )  # fmt: skip
    )


@main.command("link")
def link_cmd() -> None:
    """Relink every notice buyer to the accounts (after changing accounts or the map).

    Confirmed and rejected links keep the KAM's decision.

    Example: tracker link
    """
    from tracker.linking.links import link_notices, refresh_contract_accounts

    with session_scope() as session:
        counts = link_notices(session)
        refresh_contract_accounts(session)
    click.echo(
        f"{counts['buyers']} buyers: {counts['links']} links "
        f"({counts['confirmed']} confirmed, {counts['suggested']} suggested, "
        f"{counts['rejected']} rejected); {counts['added']} added, {counts['removed']} removed"
    )


@main.command("derive")
def derive_cmd() -> None:
    """Re-derive contracts and end dates from every stored notice, then relink and count
    the market summaries again.

    Example: tracker derive
    """
    from tracker.contracts.build import derive_contracts
    from tracker.linking.links import link_notices
    from tracker.market.facts import rebuild
    from tracker.rules import load_rules

    rules = load_rules()
    with session_scope() as session:
        link_notices(session, refresh_contracts=False)
        counts = derive_contracts(session, rules=rules)
        rebuild(session)
    click.echo(
        f"{counts['contracts']} contracts from {counts['procedures']} procedures: "
        f"{counts['created']} created, {counts['updated']} updated, {counts['removed']} removed, "
        f"{counts['modified']} modifications applied"
    )


@main.group()
def links() -> None:
    """Suggested links: list, confirm, reject (decisions are remembered).

    Example: tracker links list --account "Helse Sør-Øst RHF"
    """


@links.command("list")
@click.option("--account", help="Only this account (name, alias or id).")
@FORMAT
def links_list(account: str | None, fmt: str) -> None:
    """List suggested links waiting for a KAM decision, one per buyer and account (a
    decision applies to every notice of the buyer at the account).

    Example: tracker links list --format json
    """
    from tracker.accounts.keyaccounts import get_account
    from tracker.pages.base import plain_rows
    from tracker.pages.suggested_links import suggested_links

    with session_scope() as session:
        ids = [get_account(session, account).id] if account else None
        rows = plain_rows(suggested_links(session, ids))
    if fmt == "json":
        click.echo(_json(rows))
        return
    click.echo(
        _table(
            rows,
            [
                ("id", "link"),
                ("account", "account"),
                ("buyer", "buyer"),
                ("buyer_orgnr", "orgnr"),
                ("method", "method"),
                ("confidence", "conf"),
                ("notices", "notices"),
                ("issue_date", "latest"),
                ("title", "title"),
            ],
        )  # fmt: skip
    )


def _decide(link_id: int, status: str, by: str | None) -> None:
    from tracker.config import load_settings
    from tracker.linking.links import decide_link
    from tracker.rules import load_rules

    settings = load_settings()
    rules = load_rules(settings=settings)
    with session_scope() as session:
        result = decide_link(
            session, link_id, status, by, rules=rules, ours=settings.our_orgnr_list
        )
    click.echo(
        f"link {link_id} {status} (buyer {result['buyer_key']}); "
        f"{result['links_changed']} link(s) of this buyer and account updated"
        + (
            f"; opportunities recomputed for {result['recomputed_for']}"
            if result.get("recomputed_for")
            else ""
        )
    )


@links.command("confirm")
@click.argument("link_id", type=int)
@click.option("--by", "by", help="E-mail of the KAM deciding.")
def links_confirm(link_id: int, by: str | None) -> None:
    """Confirm a link; every notice of the same buyer follows.

    Example: tracker links confirm 12 --by kari.nordmann@example.no
    """
    _decide(link_id, LinkStatus.CONFIRMED, by)


@links.command("reject")
@click.argument("link_id", type=int)
@click.option("--by", "by", help="E-mail of the KAM deciding.")
def links_reject(link_id: int, by: str | None) -> None:
    """Reject a link; it stays rejected on every relink.

    Example: tracker links reject 12 --by kari.nordmann@example.no
    """
    _decide(link_id, LinkStatus.REJECTED, by)


@main.command("prospects")
@click.option("--limit", default=50, show_default=True, help="How many to list.")
@FORMAT
def prospects_cmd(limit: int, fmt: str) -> None:
    """Public buyers that match no account, by notice count and value.

    Example: tracker prospects --limit 20
    """
    from tracker.linking.prospects import prospects

    with session_scope() as session:
        rows = prospects(session, limit=limit)
    if fmt == "json":
        click.echo(_json(rows))
        return
    click.echo(
        _table(
            rows,
            [
                ("name", "buyer"),
                ("orgnr", "orgnr"),
                ("notices", "notices"),
                ("value", "value NOK"),
                ("last_notice", "last notice"),
            ],
        )  # fmt: skip
    )


@main.command("expiries")
@click.option("--account", help="Only this account (name, alias or id).")
@click.option("--within", help="End within this period from today: 24m, 2y, 18 (months).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--today", help="Date to count from (YYYY-MM-DD); default TRACKER_TODAY or today.")
@click.option("--include-unknown", is_flag=True, help="Also list contracts whose end is unknown.")
def expiries_cmd(
    account: str | None, within: str | None, fmt: str, today: str | None, include_unknown: bool
) -> None:
    """Contracts at the accounts by their next end: one row per awarded lot and supplier,
    the value with its kind (tender, estimated, framework maximum; a shared ceiling is
    marked), base, next and latest end with their sources, and the buyer's own words.

    Example: tracker expiries --account Forsvaret --within 24m --format csv
    """
    from tracker.accounts.keyaccounts import get_account
    from tracker.config import load_settings
    from tracker.contracts.expiries import parse_within
    from tracker.pages.base import PageEnv, plain_rows
    from tracker.pages.expiries import expiries

    months = parse_within(within)
    env = PageEnv.of(load_settings())
    with session_scope() as session:
        rows = plain_rows(
            expiries(
                session,
                resolve_today(today, env.settings),
                ours=env.ours,
                rules=env.rules,
                account_ids=[get_account(session, account).id] if account else None,
                within_months=months,
                include_unknown=include_unknown,
            )
        )
    if fmt == "json":
        click.echo(_json(rows))
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([header for header, _ in EXPIRY_CSV])
        for r in rows:
            writer.writerow([_cell(r.get(key)) for _, key in EXPIRY_CSV])
        click.echo(buf.getvalue(), nl=False)
    else:
        cols = [
            ("next_end", "next end"), ("end_date", "base end"), ("end_source", "end source"),
            ("latest_end", "latest end"), ("account", "account"), ("lot_id", "lot"),
            ("incumbent", "suppliers"), ("us", "us"), ("value_label", "value"),
            ("status", "status"), ("title", "title"),
        ]  # fmt: skip
        click.echo(_table(rows, cols))
        quoted = [r for r in rows if r["evidence_text"] or r["retender_note"]]
        for r in quoted:
            lines = [x for x in (r["retender_note"], r["evidence_text"]) if x]
            click.echo(f"  {r['title']} ({r['lot_id']}): " + " | ".join(lines))


# (CSV header, row key): per-lot suppliers, value and its kind, every end, the evidence.
EXPIRY_CSV = [
    ("next_end", "next_end"), ("end_date", "end_date"), ("end_source", "end_source"),
    ("option_ends", "option_ends"), ("latest_end", "latest_end"),
    ("latest_end_source", "latest_end_source"), ("end_confidence", "end_confidence"),
    ("start_date", "start_date"), ("start_source", "start_source"), ("status", "status"),
    ("account", "account"), ("buyer", "buyer"), ("lot_id", "lot_id"),
    ("suppliers", "incumbent"), ("us", "us"), ("value", "value"), ("currency", "currency"),
    ("value_kind", "value_kind"), ("value_shared", "value_shared"),
    ("framework", "framework"), ("direct_award", "direct_award"), ("regime", "regime"),
    ("retender", "retender"), ("challenge_until", "challenge_until"),
    ("evidence", "evidence_text"), ("title", "title"), ("doffin_id", "doffin_id"),
    ("procedure_id", "procedure_id"),
]  # fmt: skip


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return value


@main.command("incumbency")
@click.option("--account", help="Only this account (name, alias or id).")
@click.option("--today", help="Contracts still running on this date (YYYY-MM-DD).")
@click.option(
    "--show",
    type=click.Choice(["all", "relevant"]),
    default="all",
    show_default=True,
    help="relevant: only contracts whose re-tender is in our capability profile.",
)
@FORMAT
def incumbency_cmd(account: str | None, today: str | None, show: str, fmt: str) -> None:
    """Who holds the running contracts at each account: us vs competitors.

    "Us" is TRACKER_OUR_ORGNRS. A ceiling shared by parallel suppliers is listed, never
    added; a value nobody knows is empty, not 0.

    Example: tracker incumbency --account "Politiets fellestjenester"
    """
    from tracker.accounts.keyaccounts import get_account
    from tracker.config import load_settings
    from tracker.pages.base import PageEnv, plain_rows
    from tracker.pages.incumbency import incumbency

    env = PageEnv.of(load_settings())
    with session_scope() as session:
        rows = plain_rows(
            incumbency(
                session,
                resolve_today(today, env.settings),
                ours=env.ours,
                account_id=get_account(session, account).id if account else None,
                in_profile_only=show == "relevant",
            )
        )
    if fmt == "json":
        click.echo(_json(rows))
        return
    click.echo(
        _table(
            rows,
            [
                ("account", "account"),
                ("supplier", "supplier"),
                ("supplier_orgnr", "orgnr"),
                ("us", "us"),
                ("contracts", "contracts"),
                ("value", "value"),
                ("shared_ceilings", "shared ceilings (not summed)"),
                ("next_end", "next end"),
            ],
        )  # fmt: skip
    )


@main.group()
def agreements() -> None:
    """Agreements known from the CRM (CSV/XLSX import).

    Example: tracker agreements import crm-agreements.xlsx
    """


@agreements.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Store the valid rows, report the bad ones.")
def agreements_import(file: str, skip_invalid: bool) -> None:
    """Import agreements (CSV or XLSX); errors name the row and column.

    Columns: buyer, buyer_orgnr, supplier, supplier_orgnr, title, start_date, end_date,
    latest_end, value, currency, framework, cpv, reference, notes.

    Example: tracker agreements import crm-agreements.csv
    """
    from tracker.contracts.agreements import import_agreements

    with session_scope() as session:
        result = import_agreements(session, file, skip_invalid=skip_invalid)
    click.echo(
        f"created {result['created']}, updated {result['updated']}, "
        f"unchanged {result['unchanged']} agreement(s)"
    )
    for s in result["skipped"]:
        click.echo(f"skipped row {s['row']}: {s['field']}: {s['message']}", err=True)
