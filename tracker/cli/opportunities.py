"""Rules, opportunities (influence and budget windows), bids, decisions and the calendar."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path
from typing import Any

import click

from tracker.cli import main
from tracker.cli._common import resolve_today
from tracker.config import Settings, load_settings
from tracker.db.engine import session_scope
from tracker.opportunities.windows import PHASES
from tracker.pages.base import to_json
from tracker.rules import load_rules

FORMATS = click.Choice(["table", "csv", "json"])


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.0f}".replace(",", " ")
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def _print(rows: list[dict[str, Any]], columns: list[str], fmt: str, width: int = 40) -> None:
    """Rows as an aligned table, CSV (the given columns) or JSON (every key)."""
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo("(none)")
        return

    def cut(s: str) -> str:
        return s if len(s) <= width else s[: width - 1] + "…"

    cells = [[cut(_cell(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


# --------------------------------------------------------------------------- rules


@main.group()
def rules() -> None:
    """The rules in force (windows, budget calendars, thresholds, scoring) with sources.

    Example: tracker rules show
    """


@rules.command("show")
@click.option("--file", "path", help="Rules file to check (default: TRACKER_RULES).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def rules_show(path: str | None, fmt: str) -> None:
    """Print every rule in force with its value, source and origin (default or file).

    A malformed rules file is refused with the key and the reason.

    Example: TRACKER_RULES=my-rules.toml tracker rules show --format json
    """
    from tracker.rules import load_rules

    rules_ = load_rules(path)
    for warning in _override_warnings(rules_):
        click.echo(f"warning: {warning}", err=True)
    rows = rules_.show()
    for r in rows:
        if fmt == "table" and isinstance(r["value"], dict | list):
            r["value"] = json.dumps(r["value"], ensure_ascii=False)
    _print(rows, ["scope", "key", "value", "unit", "source", "origin"], fmt, width=70)


def _override_warnings(rules_: Any) -> list[str]:
    """Per-account overrides that name no account in the database (checked only when the
    database can be read: ``rules show`` works without one)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.db.models import Account, AccountAlias
    from tracker.errors import TrackerError

    if not rules_.accounts and not rules_.account_buyer_types:
        return []
    try:
        with session_scope() as session:
            names = list(session.scalars(select(Account.name)))
            aliases = dict(
                session.execute(
                    select(AccountAlias.alias, Account.name).join(
                        Account, Account.id == AccountAlias.account_id
                    )
                ).all()
            )
    except (SQLAlchemyError, TrackerError) as exc:
        return [f"per-account rules not checked against the accounts: {exc}"]
    folded = {a.casefold(): n for a, n in aliases.items()}
    out = []
    for key in rules_.unknown_accounts(names):
        hint = (
            f' (an alias of "{folded[key.casefold()]}": use the account name)'
            if key.casefold() in folded
            else f" ({len(names)} accounts in the database); the override applies to nothing"
        )
        out.append(f'[accounts."{key}"]: no account has that name{hint}')
    return out


# --------------------------------------------------------------------------- opportunities

RECOMPUTE = click.option(
    "--recompute/--no-recompute",
    default=False,
    show_default=True,
    help="Rebuild the stored opportunities for the day first: a write that changes what "
    "every page shows (the daily cycle and 'tracker recompute' do it). Without it the "
    "command only reads, as the pages do.",
)
OPP_COLUMNS = [
    "account", "kind", "title", "expiry", "expiry_source", "influence_opens",
    "drafting_starts", "expected_publication", "phase", "can_influence", "days_left",
    "budget_window", "confidence", "reason",
]  # fmt: skip


@main.command("opportunities")
@click.option("--account", help="Only this account (name or id).")
@click.option("--open-now", is_flag=True, help="Only opportunities that can be influenced today.")
@click.option(
    "--phase",
    type=click.Choice(PHASES),
    help="Only this phase (overdue: the contract ended and no competition was seen).",
)
@click.option(
    "--today", help="The day to compute for (YYYY-MM-DD); default TRACKER_TODAY or today."
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@RECOMPUTE
def opportunities_cmd(
    account: str | None,
    open_now: bool,
    phase: str | None,
    today: str | None,
    fmt: str,
    recompute: bool,
) -> None:
    """Coming procurements at the accounts: influence window, drafting, publication, budget.

    Each row says whether the specification can still be influenced today, for how many
    days, and why; dates carry their source in the JSON (``sources``).

    Example: tracker opportunities --account "Sykehusinnkjøp HF" --open-now --format json
    """
    from tracker.opportunities.build import recompute as recompute_opportunities
    from tracker.pages.base import plain_rows
    from tracker.pages.opportunities import account_ids_of, opportunities
    from tracker.rules import load_rules

    day = resolve_today(today)
    settings = load_settings()
    rules = load_rules(settings=settings)
    with session_scope() as session:
        if recompute:
            recompute_opportunities(session, day, rules=rules, ours=settings.our_orgnr_list)
        rows = plain_rows(
            opportunities(
                session,
                day,
                rules=rules,
                account_ids=account_ids_of(session, account),
                phase=phase,
                open_now=open_now,
            )
        )
    if fmt != "json":
        for r in rows:
            bw = r["budget_window"]
            r["budget_window"] = f"{bw['start']}–{bw['end']} {bw['status']}" if bw else None
    _print(rows, OPP_COLUMNS, fmt, width=60 if fmt == "table" else 10_000)


@main.command("recompute")
@click.option(
    "--today", help="The day to compute for (YYYY-MM-DD); default TRACKER_TODAY or today."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Processes that build the opportunities (groups of accounts each); this one stores "
    "them, the same rows as one. Default: the workers setting (TRACKER_WORKERS, 1).",
)
def recompute_cmd(today: str | None, workers: int | None) -> None:
    """Rebuild the stored opportunities for the day: what every page and list then shows.

    The reading commands (opportunities, calendar, bids, expiries) never do this on their
    own; the daily cycle (tracker run-once) and a link decision do.

    Example: tracker recompute --today 2023-05-15 --workers 2
    """
    from tracker.opportunities.build import recompute
    from tracker.rules import load_rules

    day = resolve_today(today)
    settings = load_settings()
    rules = load_rules(settings=settings)
    processes = workers or _workers_setting(settings)
    with session_scope() as session:
        counts = recompute(
            session, day, rules=rules, ours=settings.our_orgnr_list, workers=processes
        )
    click.echo(
        f"opportunities for {day}: {counts['new']} new, {counts['updated']} updated, "
        f"{counts['removed']} removed; {counts['open_now']} can be influenced now"
    )


def _workers_setting(settings: Settings) -> int:
    """The ``workers`` setting (TRACKER_WORKERS), or a usage error naming it."""
    n = int(settings.workers)
    if not 1 <= n <= 64:
        raise click.UsageError(f"workers setting (TRACKER_WORKERS): {n} is not 1 to 64")
    return n


# --------------------------------------------------------------------------- bids

BID_COLUMNS = [
    "total", "recommendation", "deadline", "days_left", "account", "buyer", "title",
    "value", "value_kind", "price_weight", "incumbent", "relevance", "fit_reason", "decision",
    "status", "source_id", "notice_id",
]  # fmt: skip


@main.command("bids")
@click.option("--account", help="Only competitions linked to this account.")
@click.option("--all", "include_closed", is_flag=True, help="Also competitions past deadline.")
@click.option(
    "--show",
    type=click.Choice(["relevant", "accounts", "all"]),
    default="relevant",
    show_default=True,
    help="relevant: in our capability profile (or tracked); accounts: linked to an account, "
    "in profile or not; all.",
)
@click.option("--today", help="The day to score for (YYYY-MM-DD); default TRACKER_TODAY or today.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def bids_cmd(
    account: str | None, include_closed: bool, show: str, today: str | None, fmt: str
) -> None:
    """Open competitions in our capability profile, with explainable bid/no-bid scores.

    The JSON has every score component with its points and reason, the profile fit and
    its reason, the selection requirements and the tenders received last time.

    Example: tracker bids --format json
    """
    from tracker.bids.selection import list_bids

    with session_scope() as session:
        found = list_bids(
            session,
            resolve_today(today),
            account=account,
            include_closed=include_closed,
            show=show,
            rules=load_rules(settings=load_settings()),
        )
    rows = to_json(found)
    if fmt != "json":
        for r in rows:
            d = r["decision"]
            r["decision"] = f"{d['decision']} ({d['by']})" if d else None
            r["fit_reason"] = r["fit"]["reason"]
    _print(rows, BID_COLUMNS, fmt)


@main.command("decide")
@click.argument("notice")
@click.option("--bid/--no-bid", "bid", default=None, help="The decision.")
@click.option("--why", required=True, help="Why (kept with the decision).")
@click.option("--by", "who", help="Who decides (default: the login name).")
@click.option("--today", help="The day to score for (YYYY-MM-DD); default TRACKER_TODAY or today.")
def decide_cmd(notice: str, bid: bool | None, why: str, who: str | None, today: str | None) -> None:
    """Record a bid/no-bid decision on a competition; every decision is kept.

    NOTICE is a Doffin id (2024-110489), an eForms notice id or a database id.

    Example: tracker decide 2024-110489 --no-bid --why "price weighs 70 %" --by dir@example.no
    """
    from tracker.bids.decisions import record_decision

    if bid is None:
        raise click.UsageError("say --bid or --no-bid")
    who = who or f"{getpass.getuser()} (cli)"
    with session_scope() as session:
        rec = record_decision(
            session, notice, "bid" if bid else "no-bid", who, why, today=resolve_today(today),
            rules=load_rules(settings=load_settings()),
        )  # fmt: skip
        click.echo(
            f"recorded {rec.decision} on notice {notice} by {rec.decided_by} "
            f"(score {rec.score}, {rec.score_detail.get('recommendation')})"
        )


# --------------------------------------------------------------------------- calendar


@main.command("calendar")
@click.option("--account", help="Only this account.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="FILE.ics")
@click.option(
    "--today", help="The day to compute for (YYYY-MM-DD); default TRACKER_TODAY or today."
)
@click.option(
    "--lang",
    type=click.Choice(["nb", "en"]),
    default="nb",
    show_default=True,
    help="Language of the event texts.",
)
@RECOMPUTE
def calendar_cmd(
    account: str | None, out: str, today: str | None, lang: str, recompute: bool
) -> None:
    """Write an iCalendar file: influence windows, drafting, publication, deadlines, budget
    windows and expiries, with stable UIDs (re-importing updates, never duplicates).

    Example: tracker calendar --account Forsvaret --out forsvaret.ics
    """
    from tracker.opportunities.build import recompute as recompute_opportunities
    from tracker.pages.calendar import account_calendar
    from tracker.pages.opportunities import account_ids_of
    from tracker.rules import load_rules

    day = resolve_today(today)
    settings = load_settings()
    rules = load_rules(settings=settings)
    with session_scope() as session:
        if recompute:
            recompute_opportunities(session, day, rules=rules, ours=settings.our_orgnr_list)
        data, count = account_calendar(
            session,
            day,
            account_ids=account_ids_of(session, account),
            rules=rules,
            ours=frozenset(settings.our_orgnr_list),
            name=f"Tender tracker: {account}" if account else "Tender tracker",
            language=lang,
            base_url=settings.base_url,
        )
    Path(out).write_bytes(data)
    click.echo(f"wrote {count} events to {out}")
