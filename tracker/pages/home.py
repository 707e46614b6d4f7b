"""The KAM home: market dialogues, open influence windows, risks, expiries, budget
windows, new notices and suggested links of the user's accounts (``KamHome``: the page and
``/api/home`` show the same record).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.db.models import (
    Notice,
    NoticeLink,
    Opportunity,
    User,
)
from tracker.enums import LinkStatus, Phase
from tracker.notices.search import notice_rows
from tracker.opportunities.reading import OpportunityRow
from tracker.pages.accounts import AccountRow
from tracker.pages.accounts import accounts as accounts_of
from tracker.pages.base import PageEnv, account_scope, in_scope, plain_rows
from tracker.pages.expiries import ContractRow, expiries, narrowed
from tracker.pages.opportunities import (
    HOME_ROWS,
    OPEN_PHASES,
    budget_windows,
    known_accounts,
    merge_accounts,
    opportunity_rows,
    overdue_rows,
    shown_first,
)
from tracker.pages.suggested_links import SuggestedLink, suggested_links
from tracker.rules import Rules

FIRST_VISIT_DAYS = 14  # never marked as seen: the notices issued in the last 14 days
EXPIRY_MONTHS = 24  # the expiries list: contracts whose next end falls within 24 months


def new_notices(
    session: Session,
    account_ids: list[int] | None,
    since: dt.datetime | None,
    limit: int = 50,
    accounts: dict[int, dict[str, Any]] | None = None,
    *,
    today: dt.date,
    rules: Rules,
) -> list[dict[str, Any]]:
    """Latest notice versions linked to the accounts since ``since`` (newest link first);
    with ``since`` None (never marked as seen), those issued in the ``FIRST_VISIT_DAYS``
    days up to ``today``.

    A link is made when a notice is stored (or relinked to the account), so the link's
    time is when the notice became news for the account; index
    ``ix_notice_links_account_created`` keeps this a short range scan per account.
    """
    q = (
        select(NoticeLink.notice_pk, NoticeLink.account_id)
        .join(Notice, Notice.id == NoticeLink.notice_pk)
        .where(
            in_scope(NoticeLink.account_id, account_ids),
            NoticeLink.status != LinkStatus.REJECTED,
            Notice.is_latest.is_(True),
        )
    )
    if since is not None:
        q = q.where(NoticeLink.created_at > since)
    else:
        day = today
        issued = func.coalesce(Notice.issue_date, Notice.publication_date)
        q = q.where(issued > day - dt.timedelta(days=FIRST_VISIT_DAYS), issued <= day)
    rows = session.execute(
        q.order_by(NoticeLink.created_at.desc(), NoticeLink.notice_pk.desc()).limit(limit * 2)
    ).all()
    info = known_accounts(session, sorted({acc for _, acc in rows}), accounts)
    by_notice: dict[int, list[str]] = defaultdict(list)
    order: list[int] = []
    for pk, acc in rows:
        if pk not in by_notice:
            order.append(pk)
        by_notice[pk].append(info.get(acc, {}).get("name") or "?")
    items = notice_rows(session, order[:limit], rules)
    for item in items:
        item["accounts"] = by_notice[item["id"]]
    return items


Row = dict[str, Any]


@dataclass(frozen=True)
class KamHome:
    """What the KAM's start page shows. Each list holds the items in the capability
    profile first; ``hidden`` counts per list the items left out (none with ``show_all``)."""

    accounts: list[AccountRow]
    dialogues: list[Row]  # market dialogues open now, fewest days left first
    influence_open: list[Row]  # the other open influence windows
    overdue: list[Row]  # re-tenders whose expected publication has passed
    expiries: list[Row]  # contracts ending within 24 months (tracker.pages.expiries)
    new_notices: list[Row]
    budget_windows: list[Row]
    new_since: dt.datetime | None  # when the user last marked the new notices as seen
    first_visit_since: dt.date
    suggested_links: list[SuggestedLink]
    scope: str
    show_all: bool
    hidden: dict[str, int]
    hidden_total: int
    profile: dict[str, Any]  # profile_summary


def _windows(
    session: Session,
    today: dt.date,
    ids: list[int] | None,
    known: dict[int, dict[str, Any]],
    rules: Rules,
    show_all: bool,
) -> tuple[list[Row], list[Row], list[Row]]:
    """(market dialogues, other open windows, overdue re-tenders) at the accounts: the
    in-profile rows (as of the last recompute) first, the others only for ``show_all``."""
    wide = HOME_ROWS * 2  # a few more than shown: some may turn out of profile today

    def opps(fetch: Callable[[bool], list[OpportunityRow]]) -> list[Row]:
        rows = fetch(True)
        return merge_accounts(rows + fetch(False) if show_all else rows)

    open_rows = opps(
        lambda mine: opportunity_rows(
            session, today, account_ids=ids, phases=OPEN_PHASES, limit=wide, accounts=known,
            rules=rules, in_profile=mine,
        )
    )  # fmt: skip
    overdue = opps(
        lambda mine: overdue_rows(
            session, today, ids, accounts=known, rules=rules, limit=wide, in_profile=mine
        )
    )
    dialogues = sorted(
        (o for o in open_rows if o["phase"] == Phase.DIALOGUE_OPEN),
        key=lambda o: (o["days_left"] if o["days_left"] is not None else 10**6, o["key"]),
    )
    windows = [o for o in open_rows if o["phase"] != Phase.DIALOGUE_OPEN]
    return dialogues, windows, overdue


def _expiries(
    session: Session,
    today: dt.date,
    env: PageEnv,
    ids: list[int] | None,
    wider: list[ContractRow] | None,
) -> list[ContractRow]:
    """The contracts ending within ``EXPIRY_MONTHS`` (``tracker.pages.expiries``), from
    ``wider`` when the caller has read them."""
    if wider is not None:
        return narrowed(session, wider, today, rules=env.rules, within_months=EXPIRY_MONTHS,
                        limit=HOME_ROWS * 4)  # fmt: skip
    return expiries(session, today, ours=env.ours, rules=env.rules, account_ids=ids,
                    within_months=EXPIRY_MONTHS, limit=HOME_ROWS * 4)  # fmt: skip


def _stored_out_of_profile(session: Session, ids: list[int] | None) -> dict[str | None, int]:
    """Opportunities out of profile as of the last recompute, by stored phase (shown with
    "show all")."""
    found = session.execute(
        select(Opportunity.phase, func.count())
        .where(in_scope(Opportunity.account_id, ids), Opportunity.in_profile.is_(False))
        .group_by(Opportunity.phase)
    )
    return {phase: count for phase, count in found}


def kam_home(
    session: Session,
    user: User,
    today: dt.date,
    *,
    env: PageEnv,
    show_all: bool = False,
    contracts: list[ContractRow] | None = None,
) -> KamHome:
    """The KAM's start page (read only: opening it changes nothing).

    On top the market dialogues open now at the KAM's accounts (the buyer asks for input
    before the competition: days left to respond, the response deadline and the note on
    the rules for suppliers who take part), then the other open influence windows, risks,
    expiries, budget windows and new notices. Every list shows the items in the capability
    profile (``tracker.opportunities.relevance``; flagged by the learned model too) and says
    how many it left out (``hidden``); ``show_all`` lists those too, after the in-profile
    ones. A procurement at several of the KAM's accounts is one row (``accounts``). New
    notices are those stored since the user last marked them as seen
    (``mark_notices_seen``), or on a first visit those issued in the ``FIRST_VISIT_DAYS``
    days up to ``today``. ``contracts``: the user's contracts as ``expiries`` gives them
    over ``EXPIRY_MONTHS`` or more (``fit=False``, no limit) when the caller has read them
    (the renewal radar): the expiries list is taken from them instead of read again."""
    ids = account_scope(session, user)
    accounts = accounts_of(session, ids)
    known = {a.id: {"name": a.name, "buyer_type": a.buyer_type} for a in accounts}
    rules = env.rules
    since = user.last_seen_notices_at
    dialogues, windows, overdue = _windows(session, today, ids, known, rules, show_all)
    lists: dict[str, list[Row]] = {}
    hidden: dict[str, int] = {}
    for name, rows in (
        ("dialogues", dialogues),
        ("influence_open", windows),
        ("overdue", overdue),
        ("expiries", plain_rows(_expiries(session, today, env, ids, contracts))),
        ("new_notices", new_notices(session, ids, since, limit=HOME_ROWS * 4, accounts=known,
                                    today=today, rules=rules)),
    ):  # fmt: skip
        lists[name], hidden[name] = shown_first(rows, show_all, HOME_ROWS)
    if not show_all:
        stored_out = _stored_out_of_profile(session, ids)
        dialogue_out = stored_out.get(Phase.DIALOGUE_OPEN, 0)
        hidden["dialogues"] += dialogue_out
        hidden["influence_open"] += sum(stored_out.get(p, 0) for p in OPEN_PHASES) - dialogue_out
        hidden["overdue"] += stored_out.get(Phase.OVERDUE, 0)
    return KamHome(
        accounts=accounts,
        **lists,
        budget_windows=budget_windows(
            session, today, ids, limit=HOME_ROWS, accounts=known, in_profile_only=not show_all
        ),
        new_since=since,
        first_visit_since=today - dt.timedelta(days=FIRST_VISIT_DAYS - 1),
        suggested_links=suggested_links(session, ids, limit=HOME_ROWS),
        scope="my accounts" if ids is not None else "all accounts",
        show_all=show_all,
        hidden=hidden,
        hidden_total=sum(hidden.values()),
        profile=profile_summary(rules),
    )


def profile_summary(rules: Rules) -> dict[str, Any]:
    """The capability profile in words, for the pages (CPV prefixes with their Norwegian
    names, keywords, negative keywords) and where it comes from."""
    p = rules.profile()
    return {
        "cpvs": [{"prefix": k, "label": v} for k, v in p.labels.items()],
        "keywords": list(p.keywords),
        "negative_keywords": list(p.negative_keywords),
        "source": rules.entries["profile.cpv_prefixes"].source,
    }
