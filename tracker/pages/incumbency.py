"""Who holds the running contracts at each account: us or a competitor.

The director's incumbency table, ``tracker incumbency``, ``/api/incumbency`` and the
incumbency export all show :func:`incumbency`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.contracts.terms import next_end
from tracker.db.models import Account, Contract, ContractAccount, ContractParty, Opportunity
from tracker.enums import LinkStatus
from tracker.pages.base import iso, still_running


@dataclass(frozen=True)
class IncumbencyRow:
    """One supplier at one account. ``value``: the sum of the supplier's own contract
    values, None when none is known (unknown is not 0); a ceiling shared by parallel
    suppliers is not this supplier's value, so it is listed in ``shared_ceilings`` and
    never added. ``next_end``: the soonest next decision point of its contracts."""

    account_id: int
    account: str
    supplier: str | None
    supplier_orgnr: str | None
    us: bool
    contracts: int
    value: float | None
    shared_ceilings: tuple[float, ...]
    next_end: str | None
    contract_ids: tuple[int, ...]


def _supplier_rows(today: dt.date, account_id: int | None, in_profile_only: bool) -> Any:
    """One row per running contract, account (link not rejected) and supplier."""
    q = (
        select(
            ContractAccount.account_id,
            Account.name.label("account"),
            Contract.id,
            Contract.value,
            Contract.value_shared,
            Contract.end_date,
            Contract.option_ends,
            Contract.latest_end,
            ContractParty.orgnr,
            ContractParty.name,
            ContractParty.party_key,
        )
        .join(Contract, Contract.id == ContractAccount.contract_id)
        .join(Account, Account.id == ContractAccount.account_id)
        .join(
            ContractParty,
            (ContractParty.contract_id == Contract.id) & (ContractParty.role == "supplier"),
        )
        .where(
            ContractAccount.status != LinkStatus.REJECTED, still_running(today, unknown_end=True)
        )
        .order_by(ContractAccount.account_id, Contract.id, ContractParty.id)
    )
    if account_id is not None:
        q = q.where(ContractAccount.account_id == account_id)
    if in_profile_only:  # one IN over the in-profile re-tenders, not one EXISTS per contract
        q = q.where(
            Contract.id.in_(
                select(Opportunity.contract_id).where(
                    Opportunity.contract_id.is_not(None), Opportunity.in_profile.is_not(False)
                )
            )
        )
    return q


def incumbency(
    session: Session,
    today: dt.date,
    *,
    ours: frozenset[str] | set[str],
    account_id: int | None = None,
    in_profile_only: bool = False,
    limit: int | None = None,
) -> list[IncumbencyRow]:
    """Suppliers of the contracts still running on ``today``
    (:func:`tracker.pages.base.still_running`, an unknown end counting as running) at
    each account (links not rejected), most running contracts first, then by account,
    ours first. ``ours``: our organisation numbers (setting ``our_orgnrs``);
    ``in_profile_only``: only contracts whose re-tender opportunity is in our capability
    profile (``Opportunity.in_profile`` as of the last recompute)."""
    q = _supplier_rows(today, account_id, in_profile_only)
    groups: dict[tuple[int, str], dict] = {}
    for r in session.execute(q):
        key = (r.account_id, r.orgnr or r.party_key or (r.name or "").casefold())
        g = groups.setdefault(
            key,
            {"account": r.account, "supplier": r.name, "orgnr": r.orgnr, "ids": [],
             "value": None, "shared": [], "next": None},
        )  # fmt: skip
        if r.id in g["ids"]:
            continue
        g["ids"].append(r.id)
        if r.value is not None and r.value_shared:
            g["shared"].append(float(r.value))
        elif r.value is not None:
            g["value"] = (g["value"] or 0.0) + float(r.value)
        nxt = next_end(r.end_date, r.option_ends, r.latest_end, today) or (
            r.end_date or r.latest_end
        )
        if nxt is not None and (g["next"] is None or nxt < g["next"]):
            g["next"] = nxt
    rows = [
        IncumbencyRow(
            account_id=acc,
            account=g["account"],
            supplier=g["supplier"],
            supplier_orgnr=g["orgnr"],
            us=bool(g["orgnr"] and g["orgnr"] in ours),
            contracts=len(g["ids"]),
            value=g["value"],
            shared_ceilings=tuple(g["shared"]),
            next_end=iso(g["next"]),
            contract_ids=tuple(g["ids"]),
        )
        for (acc, _), g in groups.items()
    ]
    rows.sort(key=lambda r: (-r.contracts, r.account, not r.us, r.supplier or "", r.account_id))
    return rows[:limit] if limit is not None else rows
