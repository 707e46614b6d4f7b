"""Expiries and incumbency: which agreements at the accounts run out, who holds them, when.

``list_expiries`` lists contracts (one per awarded lot and winner group) by their next
decision point: the base end, else the next option's end, else the latest end, each with
its source and confidence; with buyer, accounts, the lot's suppliers, the value with its
kind, and the evidence (quotes from the buyer's words). ``incumbency`` tells, per
account, which suppliers hold which running agreements, marking our own ("us" =
``TRACKER_OUR_ORGNRS``), never adding a ceiling shared by parallel suppliers.
``contract_dict`` is the one shape every reader (CLI, pages, exports) shows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from tracker.accounts import get_account
from tracker.config import load_settings
from tracker.contracts import add_months, next_end
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


RETENDER_NOTES = {
    "not_assumed": "direct award: no competition is assumed to follow (the buyer may award "
    "directly again); ask the buyer",
    "none": "no end: the contract runs until terminated, no re-tender is scheduled",
}


def value_label(value: float | None, currency: str | None, kind: str | None,
                shared: bool | None, parallel: int | None) -> str:  # fmt: skip
    """How a contract's value reads: '65 000 000 NOK (framework maximum, shared by 10
    parallel suppliers)', '10 800 000 NOK (estimated)', '–' when unknown."""
    if value is None:
        return "–"
    amount = f"{value:,.0f}".replace(",", "\u00a0") + (f" {currency}" if currency else "")
    what = {"framework_max": "framework maximum", "estimated": "estimated",
            "tender": "tender value"}.get(kind or "", kind or "")  # fmt: skip
    if shared:
        what = f"{what}, shared by {parallel or 'several'} parallel suppliers: never summed"
    return f"{amount} ({what})" if what else amount


def evidence_text(evidence: list[dict[str, Any]] | None, limit: int = 4) -> str:
    """The quotes from the buyer's words behind a contract's facts, for one cell:
    'start: «planlagt oppstartsdato 9. mars 2023» (note); ...'."""
    parts = []
    for e in evidence or []:
        quote = e.get("quote")
        if quote:
            where = str(e.get("source", "")).removeprefix("text (").rstrip(")")
            parts.append(f"{e.get('fact')}: «{quote}» ({where})")
    return "; ".join(parts[:limit])


def contract_dict(
    c: Contract,
    *,
    today: dt.date,
    parties: dict[str, list[dict[str, Any]]],
    accounts: list[dict[str, Any]] | None = None,
    ours: set[str] | None = None,
    notice_id: str | None = None,
    doffin_id: str | None = None,
) -> dict[str, Any]:
    """One contract as every reader shows it (CLI, pages, exports): per-lot suppliers,
    value with its kind, base, next and latest end with their sources, the evidence."""
    ours = ours or set()
    accounts = accounts or []
    suppliers = [{**p, "us": bool(p["orgnr"] and p["orgnr"] in ours)} for p in parties["supplier"]]
    nxt = next_end(c.end_date, c.option_ends, c.latest_end, today)
    value = float(c.value) if c.value is not None else None
    ended = nxt is None and (c.end_date or c.latest_end) is not None
    if c.extension == "probably_extended":
        status = "probably extended: ask the buyer"
    elif c.expected:
        status = "expected: no award seen"
    elif ended:
        status = "ended"
    else:
        status = "running"
    return {
        "contract_id": c.id,
        "key": c.key,
        "title": c.title,
        "lot_id": c.lot_id,
        "procedure_id": c.procedure_id,
        "buyers": parties["buyer"],
        "buyer": ", ".join(b["name"] or "" for b in parties["buyer"]),
        "accounts": accounts,
        "account": ", ".join(
            a["name"] + (" (suggested)" if a["status"] == "suggested" else "") for a in accounts
        ),
        "incumbents": suppliers,
        "incumbent": ", ".join(s["name"] or "" for s in suppliers),
        "us": any(s["us"] for s in suppliers),
        "parallel_suppliers": c.parallel_suppliers,
        "value": value,
        "currency": c.currency,
        "value_kind": c.value_kind,
        "value_shared": bool(c.value_shared),
        "value_label": value_label(
            value, c.currency, c.value_kind, c.value_shared, c.parallel_suppliers
        ),
        "value_per_year": float(c.value_per_year) if c.value_per_year is not None else None,
        "framework": c.framework,
        "direct_award": bool(c.direct_award),
        "regime": c.regime,
        "national": bool(c.national),
        "procedure_type": c.procedure_type,
        "retender": c.retender,
        "retender_note": RETENDER_NOTES.get(c.retender or ""),
        "main_cpv": c.main_cpv,
        "start_date": _iso(c.start_date),
        "start_source": c.start_source,
        "end_date": _iso(c.end_date),
        "end_source": c.end_source,
        "option_ends": list(c.option_ends or []),
        "next_end": _iso(nxt),
        "latest_end": _iso(c.latest_end),
        "latest_end_source": c.latest_end_source,
        "end_confidence": c.end_confidence,
        "days_left": (nxt - today).days if nxt else None,
        "status": status,
        "extension": c.extension,
        "expected": bool(c.expected),
        "expected_award": _iso(c.expected_award),
        "challenge_until": _iso(c.challenge_until),
        "evidence": list(c.evidence or []),
        "evidence_text": evidence_text(c.evidence),
        "notes": c.notes,
        "source": c.source,
        "notice_id": notice_id,
        "doffin_id": doffin_id,
        "notice_pk": c.notice_pk,
        "modified_by_notice_pk": c.modified_by_notice_pk,
    }


def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    when = row["next_end"] or (row["end_date"] if row["extension"] else None)
    return (when is None, when or "", row["contract_id"])


def list_expiries(
    session: Session,
    *,
    today: dt.date,
    account: str | int | None = None,
    within_months: int | None = None,
    include_unknown: bool = False,
) -> list[dict[str, Any]]:
    """Contracts at the accounts that have not run out by ``today``, soonest next end first.

    One row per awarded lot and winner group (:func:`contract_dict`). A contract counts
    while its next decision point (:func:`tracker.contracts.next_end`: the base end, else
    the next option's end, else the latest end) is on or after ``today``; a contract
    probably extended (a modification notice near or after its end) counts too, flagged
    "ask the buyer". A contract expected from a competition without award counts once its
    expected award date has passed. ``within_months`` keeps those whose next end falls
    before ``today`` + that many months. Without ``account`` every contract linked to some
    account is listed; contracts of no account are left out. ``include_unknown`` adds
    contracts whose end is unknown, last.
    """
    ours = set(load_settings().our_orgnr_list)
    q = (
        select(Contract, Notice.source_id, Notice.notice_id)
        .outerjoin(Notice, Notice.id == Contract.notice_pk)
        .where(
            Contract.id.in_(
                select(ContractAccount.contract_id).where(ContractAccount.status != "rejected")
            ),
            or_(Contract.expected.is_not(True), Contract.expected_award <= today),
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
    alive = or_(
        Contract.end_date >= today,
        Contract.latest_end >= today,
        Contract.extension == "probably_extended",
    )
    if include_unknown:
        alive = or_(alive, and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)))
    rows = session.execute(q.where(alive).order_by(Contract.id)).all()
    ids = [c.id for c, _, _ in rows]
    parties = _parties(session, ids)
    accounts = _accounts_of(session, ids)
    horizon = add_months(today, within_months) if within_months is not None else None
    out = []
    for c, source_id, notice_id in rows:
        row = contract_dict(
            c,
            today=today,
            parties=parties[c.id],
            accounts=accounts[c.id],
            ours=ours,
            notice_id=notice_id,
            doffin_id=source_id,
        )
        if horizon is not None and row["next_end"] is not None:
            if row["next_end"] > horizon.isoformat():
                continue
        elif horizon is not None and not include_unknown and row["extension"] is None:
            continue
        out.append(row)
    out.sort(key=_sort_key)
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
    q = q.where(Contract.expected.is_not(True))  # no supplier holds an expected contract
    if today is not None:
        q = q.where(
            or_(
                and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)),
                Contract.end_date >= today,
                Contract.latest_end >= today,
                Contract.extension == "probably_extended",
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
                    "value": None,
                    "shared_ceilings": [],
                    "next_end": None,
                },
            )
            nxt = next_end(c.end_date, c.option_ends, c.latest_end, today) if today else None
            nxt = nxt or c.end_date or c.latest_end
            g["agreements"].append(
                {
                    "contract_id": c.id,
                    "title": c.title,
                    "lot_id": c.lot_id,
                    "framework": c.framework,
                    "end_date": _iso(c.end_date),
                    "end_source": c.end_source,
                    "next_end": _iso(nxt),
                    "latest_end": _iso(c.latest_end),
                    "value": float(c.value) if c.value is not None else None,
                    "value_kind": c.value_kind,
                    "value_shared": bool(c.value_shared),
                }
            )
            # Each supplier's own contracts: a ceiling shared by parallel suppliers is
            # listed, never added (it is not this supplier's value).
            if c.value is not None and c.value_shared:
                g["shared_ceilings"].append(float(c.value))
            elif c.value is not None:
                g["value"] = (g["value"] or 0.0) + float(c.value)
            if nxt and (g["next_end"] is None or _iso(nxt) < g["next_end"]):
                g["next_end"] = _iso(nxt)
    out = sorted(
        groups.values(),
        key=lambda g: (g["account"], not g["us"], -len(g["agreements"]), g["supplier"]),
    )
    for g in out:
        g["count"] = len(g["agreements"])
    return out
