"""Expiries and incumbency: which agreements at the accounts run out, who holds them, when.

``list_expiries`` lists contracts by end date (the base end; ``latest_end`` is the end of
the last option) with buyer, accounts, incumbent suppliers, value and the source of the
end date. ``incumbency`` tells, per account, which suppliers hold which running
agreements, marking our own ("us" = ``TRACKER_OUR_ORGNRS``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracker.accounts import get_account
from tracker.config import load_settings
from tracker.contracts import add_months
from tracker.errors import TrackerError
from tracker.models import Account, Contract, ContractAccount, ContractParty, Notice

_WITHIN = re.compile(r"^\s*(\d+)\s*(m|mo|mnd|month|months|y|yr|year|years|år|d|day|days)?\s*$")


def parse_within(text: str | int | None) -> int | None:
    """Months in ``"24m"``, ``"2y"``, ``"18"`` (months); None for None. Raises TrackerError."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    m = _WITHIN.match(str(text).lower())
    if not m:
        raise TrackerError(f"--within {text!r}: use months like 24m or years like 2y")
    n, unit = int(m.group(1)), (m.group(2) or "m")
    if unit.startswith(("y", "å")):
        return n * 12
    if unit.startswith("d"):
        return max(1, round(n / 30))
    return n


def _parties(
    session: Session, contract_ids: Iterable[int]
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    out: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {"buyer": [], "supplier": []}
    )
    ids = sorted(set(contract_ids))
    for i in range(0, len(ids), 2000):
        for p in session.scalars(
            select(ContractParty)
            .where(ContractParty.contract_id.in_(ids[i : i + 2000]))
            .order_by(ContractParty.id)
        ):
            out[p.contract_id][p.role].append({"name": p.name, "orgnr": p.orgnr})
    return out


def _accounts_of(session: Session, contract_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ids = sorted(set(contract_ids))
    for i in range(0, len(ids), 2000):
        for ca, name in session.execute(
            select(ContractAccount, Account.name)
            .join(Account, Account.id == ContractAccount.account_id)
            .where(
                ContractAccount.contract_id.in_(ids[i : i + 2000]),
                ContractAccount.status != "rejected",
            )
            .order_by(ContractAccount.confidence.desc(), Account.name)
        ):
            out[ca.contract_id].append(
                {"id": ca.account_id, "name": name, "method": ca.method, "status": ca.status}
            )
    return out


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def list_expiries(
    session: Session,
    *,
    today: dt.date,
    account: str | int | None = None,
    within_months: int | None = None,
    include_unknown: bool = False,
) -> list[dict[str, Any]]:
    """Contracts at the accounts that have not run out by ``today``, soonest end first.

    A contract counts while its latest possible end (or its end) is on or after ``today``.
    ``within_months`` keeps those whose end falls before ``today`` + that many months.
    Without ``account`` every contract linked to some account is listed; contracts of no
    account are left out. ``include_unknown`` adds contracts whose end is unknown, last.
    Each row: contract, buyer(s), accounts, incumbents (with ``us``), value, end date and
    its source, latest end and its source, days left.
    """
    ours = set(load_settings().our_orgnr_list)
    q = (
        select(Contract, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            Contract.id.in_(
                select(ContractAccount.contract_id).where(ContractAccount.status != "rejected")
            )
        )
    )
    if account is not None:
        acc = get_account(session, account)
        q = q.where(
            Contract.id.in_(
                select(ContractAccount.contract_id).where(
                    ContractAccount.account_id == acc.id, ContractAccount.status != "rejected"
                )
            )
        )
    alive = or_(Contract.end_date >= today, Contract.latest_end >= today)
    if include_unknown:
        alive = or_(alive, Contract.end_date.is_(None))
    q = q.where(alive)
    if within_months is not None:
        horizon = add_months(today, within_months)
        cond = Contract.end_date <= horizon
        q = q.where(or_(cond, Contract.end_date.is_(None)) if include_unknown else cond)
    rows = session.execute(
        q.order_by(Contract.end_date.is_(None), Contract.end_date, Contract.id)
    ).all()
    ids = [c.id for c, _, _ in rows]
    parties = _parties(session, ids)
    accounts = _accounts_of(session, ids)
    out = []
    for c, source_id, notice_id in rows:
        suppliers = [
            {**s, "us": bool(s["orgnr"] and s["orgnr"] in ours)} for s in parties[c.id]["supplier"]
        ]
        out.append(
            {
                "contract_id": c.id,
                "key": c.key,
                "title": c.title,
                "buyers": parties[c.id]["buyer"],
                "buyer": ", ".join(b["name"] or "" for b in parties[c.id]["buyer"]),
                "accounts": accounts[c.id],
                "account": ", ".join(
                    a["name"] + (" (suggested)" if a["status"] == "suggested" else "")
                    for a in accounts[c.id]
                ),
                "incumbents": suppliers,
                "incumbent": ", ".join(s["name"] or "" for s in suppliers),
                "us": any(s["us"] for s in suppliers),
                "value": float(c.value) if c.value is not None else None,
                "currency": c.currency,
                "framework": c.framework,
                "main_cpv": c.main_cpv,
                "procedure_id": c.procedure_id,
                "lot_id": c.lot_id,
                "start_date": _iso(c.start_date),
                "end_date": _iso(c.end_date),
                "end_source": c.end_source,
                "latest_end": _iso(c.latest_end),
                "latest_end_source": c.latest_end_source,
                "days_left": (c.end_date - today).days if c.end_date else None,
                "source": c.source,
                "notice_id": notice_id,
                "doffin_id": source_id,
                "modified_by_notice_pk": c.modified_by_notice_pk,
            }
        )
    return out


def incumbency(
    session: Session, account: str | int | None = None, *, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Per account: suppliers holding its agreements, ours first, with the agreements.

    Agreements that ended before ``today`` (when given) are left out. Each row:
    account, supplier name/orgnr, ``us``, number of agreements, total value, soonest end,
    and the agreements (title, end date, end source, latest end).
    """
    ours = set(load_settings().our_orgnr_list)
    q = (
        select(Contract, ContractAccount.account_id, Account.name)
        .join(ContractAccount, ContractAccount.contract_id == Contract.id)
        .join(Account, Account.id == ContractAccount.account_id)
        .where(ContractAccount.status != "rejected")
    )
    if account is not None:
        q = q.where(ContractAccount.account_id == get_account(session, account).id)
    if today is not None:
        q = q.where(
            or_(
                Contract.end_date.is_(None),
                Contract.end_date >= today,
                Contract.latest_end >= today,
            )
        )
    rows = session.execute(q.order_by(Account.name, Contract.end_date)).all()
    parties = _parties(session, [c.id for c, _, _ in rows])
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for c, account_id, account_name in rows:
        for s in parties[c.id]["supplier"] or [{"name": None, "orgnr": None}]:
            skey = s["orgnr"] or (s["name"] or "unknown").casefold()
            g = groups.setdefault(
                (account_id, skey),
                {
                    "account_id": account_id,
                    "account": account_name,
                    "supplier": s["name"] or "(unknown)",
                    "supplier_orgnr": s["orgnr"],
                    "us": bool(s["orgnr"] and s["orgnr"] in ours),
                    "agreements": [],
                    "value": 0.0,
                    "next_end": None,
                },
            )
            g["agreements"].append(
                {
                    "contract_id": c.id,
                    "title": c.title,
                    "framework": c.framework,
                    "end_date": _iso(c.end_date),
                    "end_source": c.end_source,
                    "latest_end": _iso(c.latest_end),
                    "value": float(c.value) if c.value is not None else None,
                }
            )
            if c.value is not None:
                g["value"] += float(c.value)
            if c.end_date and (g["next_end"] is None or _iso(c.end_date) < g["next_end"]):
                g["next_end"] = _iso(c.end_date)
    out = sorted(
        groups.values(),
        key=lambda g: (g["account"], not g["us"], -len(g["agreements"]), g["supplier"]),
    )
    for g in out:
        g["count"] = len(g["agreements"])
    return out
