"""Read models as the tests call them: plain rows, accounts by name (the CLI's view)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from tracker.rules import Rules


def list_expiries(
    s: Session,
    *,
    today: dt.date,
    account: str | None = None,
    within_months: int | None = None,
    include_unknown: bool = False,
    ours: frozenset[str] = frozenset(),
) -> list[dict]:
    """``tracker.pages.expiries.expiries`` as plain rows, the account by name."""
    from tracker.accounts.keyaccounts import get_account
    from tracker.pages.base import plain_rows
    from tracker.pages.expiries import expiries
    from tracker.rules import default_rules

    ids = [get_account(s, account).id] if account else None
    rows = expiries(s, today, ours=ours, rules=default_rules(), account_ids=ids,
                    within_months=within_months, include_unknown=include_unknown)  # fmt: skip
    return plain_rows(rows)


def list_opportunities(
    s: Session,
    *,
    today: dt.date,
    account: str | int | None = None,
    phase: str | None = None,
    open_now: bool = False,
    rules: Rules | None = None,
) -> list[dict]:
    """``tracker.pages.opportunities.opportunities`` as plain rows, the account by name or
    id, with the rules in force unless ``rules`` are given (the command line's view)."""
    from tracker.pages.base import plain_rows
    from tracker.pages.opportunities import account_ids_of, opportunities
    from tracker.rules import load_rules

    rows = opportunities(s, today, rules=rules or load_rules(), phase=phase, open_now=open_now,
                         account_ids=account_ids_of(s, account))  # fmt: skip
    return plain_rows(rows)
