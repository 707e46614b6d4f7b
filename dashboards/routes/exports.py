"""Exports of every list as CSV or XLSX: ``/export/<list>.<csv|xlsx>?<same filters>``.

Options: ``lang=nb|en`` (headers and yes/no; default the user's ``language``, else
bokmål), ``dialect=excel|plain`` for CSV (default excel: Norwegian Excel's ``;``, BOM,
decimal comma and dd.mm.yyyy; plain: ``,``, ISO dates, decimal point). Rows that have a
page in the tracker carry its address (``page``), and the XLSX links their title to it.
``accounts``, ``contacts`` and ``activities`` are the CRM exports: stable ids and the
account's name and orgnr on every row, every account the user sees unless
``account_id`` names one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboards.web import current_user, db_session, page_env, today
from tracker.accounts import work as accountwork
from tracker.db.models import Account, AccountOrgnr, Activity, Contact, User
from tracker.errors import NotFoundError, UserError
from tracker.formats import human
from tracker.formats.exports import DIALECTS, LANGUAGES, export
from tracker.i18n import say, speaking
from tracker.messages import N_
from tracker.notices.search import export_notices, parse_filters
from tracker.pages.account import account_contract_rows
from tracker.pages.accounts import AccountRow
from tracker.pages.accounts import accounts as accounts_of
from tracker.pages.base import PageEnv, plain, plain_rows
from tracker.pages.bids import bids_page
from tracker.pages.director import pipeline, uncovered_accounts
from tracker.pages.expiries import EXPORT_COLUMNS as CONTRACT_COLUMNS
from tracker.pages.expiries import ContractRow, expiries
from tracker.pages.incumbency import IncumbencyRow, incumbency
from tracker.pages.opportunities import budget_windows, opportunity_rows
from tracker.pages.suggested_links import SuggestedLink, suggested_links
from tracker.users import account_scope

router = APIRouter()
EXPORT_LIMIT = 10_000  # rows in one export; a longer list is cut and the export says so


# The CRM exports are the accounts, their contacts and activities as a CRM imports them:
# always whole, never cut at the limit.
WHOLE = frozenset({"accounts", "contacts", "activities", "pipeline"})


def _fetch() -> int:
    """Rows a builder reads: one more than the limit, to know that a list was cut."""
    return EXPORT_LIMIT + 1


Builder = Callable[[Session, User, dt.date, dict[str, str], PageEnv], list[dict[str, Any]]]


def _account_id(params: dict[str, str]) -> int:
    value = params.get("account_id", "")
    if not value.isdigit():
        raise UserError("account_id: required (a number)")
    return int(value)


def _scope(session: Session, user: User, params: dict[str, str]) -> list[int] | None:
    """The accounts of an export: the one ``account_id`` names (its page is open to every
    user), else the user's (``account_scope``)."""
    return [_account_id(params)] if params.get("account_id") else account_scope(session, user)


def _flatten_opportunity(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "budget_window"}
    bw = row.get("budget_window") or {}
    out["budget_start"], out["budget_end"] = bw.get("start"), bw.get("end")
    out["budget_status"] = bw.get("status")
    return out


def _bids(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    show = params.get("show") or "relevant"
    found: list[Any] = []
    page = 1
    while len(found) < _fetch():  # the page's at most 200 at a time (scored per page)
        part = bids_page(session, day, show=show, page=page, per_page=200, cache=env.cache,
                         rules=env.rules, ours=env.ours)  # fmt: skip
        found.extend(part.items)
        if page >= part.pages:
            break
        page += 1
    items = plain(found)
    rows = []
    for b in items:
        rows.append(
            {
                "notice_pk": b["notice_pk"],
                "source_id": b["source_id"],
                "title": b["title"],
                "buyers": b["buyers"],
                "accounts": b["accounts"],
                "deadline": b.get("deadline_at") or b["deadline"],
                "days_left": b["days_left"],
                "estimated_value": b["estimated_value"],  # the one value (any kind)
                "value_kind": b["value_kind"],  # estimated | framework_max | text_*
                "score": b["total"],
                "recommendation": b["recommendation"],
                "currency": b["currency"],
                "lots": len(b["lots"]),
                "criteria": [
                    f"{c['name'] or c['type']}: {c['weight']}" for c in b.get("criteria") or []
                ],
                "bid_status": b["bid_status"],
                "decision": (b["decision"] or {}).get("decision"),
                "doffin_url": b["doffin_url"],
                "documents_url": b["documents_url"],
            }
        )
    return rows


def _incumbency(
    session: Session, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict[str, Any]]:
    rows = incumbency(session, day, ours=env.ours, in_profile_only=_mine(params))
    return plain_rows(rows[: _fetch()])


def _months(params: dict[str, str]) -> int:
    """``months``: the expiries' horizon in months (default 24, as the KAM home)."""
    value = (params.get("months") or "24").strip()
    if not value.isdigit() or not 0 < int(value) <= 600:
        raise UserError(f"months: {value[:12]!r} is not a whole number of months from 1 to 600")
    return int(value)


def _contracts(rows: list[ContractRow]) -> list[dict[str, Any]]:
    """Contract rows flattened for CSV/XLSX: one cell per fact, the evidence as quotes."""
    return [{k: getattr(r, k) for k in CONTRACT_COLUMNS} for r in rows]


def _mine(params: dict[str, str]) -> bool:
    """The director's aggregates count our capability profile only, unless show=accounts|all."""
    return (params.get("show") or "relevant") == "relevant"


def _crm_accounts(session: Session, user: User, params: dict[str, str]) -> dict[int, dict]:
    """``{id: {account, account_orgnr}}`` of the accounts the user sees (or the one named)."""
    ids = account_scope(session, user)
    if params.get("account_id"):
        wanted = _account_id(params)
        ids = [wanted] if ids is None or wanted in ids else []
    q = select(Account.id, Account.name).order_by(Account.name)
    if ids is not None:
        q = q.where(Account.id.in_(ids))
    names: dict[int, str] = {i: name for i, name in session.execute(q)}
    orgnrs: dict[int, list[str]] = {i: [] for i in names}
    for account_id, orgnr in session.execute(
        select(AccountOrgnr.account_id, AccountOrgnr.orgnr).order_by(AccountOrgnr.orgnr)
    ):
        if account_id in orgnrs:
            orgnrs[account_id].append(orgnr)
    return {
        i: {"account": name, "account_orgnr": "; ".join(orgnrs[i])} for i, name in names.items()
    }


def _contacts(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    accounts = _crm_accounts(session, user, params)
    q = select(Contact).where(Contact.account_id.in_(list(accounts)))
    rows = []
    for c in session.scalars(q.order_by(Contact.account_id, Contact.role, Contact.name)):
        rows.append(
            {
                "id": c.id,
                "account_id": c.account_id,
                **accounts[c.account_id],
                "name": c.name,
                "title": c.title,
                "email": c.email,
                "phone": c.phone,
                "role": accountwork.CONTACT_ROLE_LABELS.get(c.role, c.role),
                "notes": c.notes,
            }
        )
    return rows


def _activities(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    accounts = _crm_accounts(session, user, params)
    q = (
        select(Activity)
        .where(Activity.account_id.in_(list(accounts)))
        .order_by(Activity.happened_on.desc(), Activity.id.desc())
    )
    return [
        {
            "id": a.id,
            "account_id": a.account_id,
            **accounts[a.account_id],
            "date": a.happened_on,
            "kind": a.kind,
            "text": a.text,
            "user_email": a.user_email,
            "opportunity_key": a.opportunity_key,
        }
        for a in session.scalars(q)
    ]


def _accounts(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    rows = plain_rows(accounts_of(session, account_scope(session, user)))
    return [{**r, "orgnr": "; ".join(r.get("orgnr") or [])} for r in rows]


def _notices(
    session: Session, user: User, day: dt.date, params: dict[str, str], env: PageEnv
) -> list[dict]:
    rows = export_notices(session, parse_filters(params), env.rules, limit=_fetch())
    for r in rows:
        r["fit"] = (r.get("fit") or {}).get("reason")
    return rows


EXPORTS: dict[str, Builder] = {
    "notices": _notices,
    "accounts": _accounts,
    "opportunities": lambda s, u, d, p, e: [
        _flatten_opportunity(r)
        for r in plain_rows(
            opportunity_rows(s, d, account_ids=_scope(s, u, p), limit=_fetch(), rules=e.rules)
        )
    ],
    "expiries": lambda s, u, d, p, e: _contracts(
        expiries(
            s,
            d,
            ours=e.ours,
            rules=e.rules,
            account_ids=account_scope(s, u),
            within_months=_months(p),
            limit=_fetch(),
        )
    ),
    "budget-windows": lambda s, u, d, p, e: budget_windows(s, d, account_scope(s, u), _fetch()),
    "suggested-links": lambda s, u, d, p, e: plain_rows(
        suggested_links(s, account_scope(s, u), limit=_fetch())
    ),
    "bids": _bids,
    "pipeline": lambda s, u, d, p, e: plain_rows(pipeline(s, _mine(p))),
    "incumbency": lambda s, u, d, p, e: _incumbency(s, d, p, e),
    "uncovered": lambda s, u, d, p, e: plain_rows(
        uncovered_accounts(s, d, limit=_fetch(), in_profile_only=_mine(p))
    ),
    "contracts": lambda s, u, d, p, e: _contracts(
        account_contract_rows(s, _account_id(p), d, _fetch(), ours=e.ours)
    ),
    "contacts": _contacts,
    "activities": _activities,
}

# The columns of each export in order (also the header of an empty export); keys that a
# list does not have stay empty. ``page`` is added by ``_with_pages``.
COLUMNS: dict[str, list[str]] = {
    "notices": [
        "id", "source_id", "issue_date", "title", "buyers", "main_cpv", "estimated_value",
        "currency", "phase", "subtype", "procedure_type", "fit", "notice_id", "version",
    ],
    "accounts": ["id", "name", "orgnr", "tier", "buyer_type", "kam", "team", "open_windows"],
    "contacts": [
        "id", "account_id", "account", "account_orgnr", "name", "title", "email", "phone",
        "role", "notes",
    ],
    "activities": [
        "id", "account_id", "account", "account_orgnr", "date", "kind", "text", "user_email",
        "opportunity_key",
    ],
    "opportunities": [
        "account", "title", "buyer", "kind", "phase", "can_influence", "days_left",
        "influence_opens", "drafting_starts", "expected_publication", "expected_deadline",
        "expiry", "expiry_source", "value", "currency", "main_cpv", "budget_start",
        "budget_end", "budget_status", "confidence", "reason", "key",
    ],
    "expiries": [
        "account", "title", "lot_id", "suppliers", "buyer", "status", "next_end", "end_date",
        "end_source", "option_ends", "latest_end", "latest_end_source", "end_confidence",
        "start_date", "start_source", "value", "currency", "value_kind", "value_shared",
        "parallel_suppliers", "framework", "direct_award", "regime", "retender",
        "challenge_until", "expected_award", "evidence_text", "procedure_id",
    ],
    "budget-windows": [
        "account_id", "account", "start", "end", "status", "days_to_start", "days_left",
        "opportunities",
    ],
    "bids": [
        "notice_pk", "source_id", "title", "buyers", "accounts", "deadline", "days_left",
        "estimated_value", "value_kind", "currency", "score", "recommendation", "lots", "criteria",
        "bid_status", "decision", "doffin_url", "documents_url",
    ],
    "pipeline": ["phase", "currency", "count", "value"],
    "incumbency": [
        "account_id", "account", "supplier", "orgnr", "us", "contracts", "value", "next_end",
    ],
    "suggested-links": [
        "id", "account_id", "account", "notice_pk", "title", "buyer", "buyer_orgnr", "method",
        "confidence", "notices", "doffin_url",
    ],
    "uncovered": ["account_id", "account", "kam", "open_windows", "since"],
}  # fmt: skip
# The typed questions export every field of their record (the agreement tests compare
# them with the CLI and the API), the columns users know first.
for _name, _fields in (
    ("expiries", CONTRACT_COLUMNS),
    ("accounts", [f.name for f in dataclasses.fields(AccountRow)]),
    ("incumbency", [f.name for f in dataclasses.fields(IncumbencyRow)]),
    ("suggested-links", [f.name for f in dataclasses.fields(SuggestedLink)]),
):
    COLUMNS[_name] += [c for c in _fields if c not in COLUMNS[_name]]
COLUMNS["contracts"] = COLUMNS["expiries"]

# Where a row's page is: (export, key of the id) -> path prefix.
PAGES: dict[str, tuple[str, str]] = {
    "notices": ("id", "/notices/"),
    "bids": ("notice_pk", "/notices/"),
    "opportunities": ("notice_pk", "/notices/"),
    "suggested-links": ("notice_pk", "/notices/"),
    "accounts": ("id", "/accounts/"),
    "contacts": ("account_id", "/accounts/"),
    "activities": ("account_id", "/accounts/"),
    "uncovered": ("account_id", "/accounts/"),
    "incumbency": ("account_id", "/accounts/"),
}


def _with_pages(name: str, rows: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    spec = PAGES.get(name)
    if spec is None:
        return rows
    key, prefix = spec
    for r in rows:
        ident = r.get(key)
        if isinstance(ident, int):
            r["page"] = f"{base}{prefix}{ident}"
        elif isinstance(r.get("account_id"), int):  # no notice: the account's page
            r["page"] = f"{base}/accounts/{r['account_id']}"
        else:
            r["page"] = None
    return rows


def export_option(params: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name) or default
    if value not in allowed:
        raise UserError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


@router.get("/export/{name}.{fmt}")
def export_list(
    request: Request,
    name: str,
    fmt: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    builder = EXPORTS.get(name)
    if builder is None or fmt not in ("csv", "xlsx"):
        raise NotFoundError(f"no export {name}.{fmt}; lists: {', '.join(sorted(EXPORTS))}")
    params = dict(request.query_params)
    language = export_option(params, "lang", LANGUAGES, getattr(user, "language", None) or "nb")
    dialect = export_option(params, "dialect", DIALECTS, "excel")
    base = request.app.state.base_url or str(request.base_url).rstrip("/")
    rows = _with_pages(name, builder(session, user, day, params, env), base)
    cut = name not in WHOLE and len(rows) > EXPORT_LIMIT
    note = None
    if cut:
        rows = rows[:EXPORT_LIMIT]
        with speaking(language):
            limit = human.number(EXPORT_LIMIT)
            note = (
                say(N_("Note")),
                say(N_("Only the first %(n)s rows are in this export: the list has more. "
                       "Narrow the list to get the rest.", n=limit)),
            )  # fmt: skip
    columns = [*COLUMNS[name], *(["page"] if name in PAGES else [])]
    content, media_type = export(
        rows,
        fmt,
        columns,
        sheet=name,
        language=language,
        dialect=dialect,
        link=lambda r: r.get("page"),
        note=note,
    )
    # a cut list says so in its file name (and in a sheet of its own in XLSX)
    filename = f"{name}-{day.isoformat()}{f'-first-{EXPORT_LIMIT}' if cut else ''}.{fmt}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    if cut:
        headers["x-export-cut-at"] = str(EXPORT_LIMIT)
    return Response(content, media_type=media_type, headers=headers)
