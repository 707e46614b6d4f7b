"""Read models as the tests call them: plain rows, accounts by name (the CLI's view)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session


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
