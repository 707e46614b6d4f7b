"""Compare what the tracker derives from real notices with a hand-checked golden file.

The golden file (tests/fixtures/golden/doffin-real-golden.json; its README explains the
conventions) lists every awarded contract per lot and winning supplier, the results that
awarded nothing, and every competition. ``check_contracts`` / ``check_not_awarded`` /
``check_competitions`` return one row per golden entry with what differs (empty when
right). Nothing here knows any notice: the same check runs on any golden file and notice
directory (``TRACKER_GOLDEN_FILE`` and ``TRACKER_GOLDEN_NOTICES`` in tests/test_golden.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracker.bids.competitions import competition_lots
from tracker.contracts.build import unawarded
from tracker.db.models import Contract, ContractParty, Notice
from tracker.notices.text import name_key
from tracker.notices.xmlread import oslo_wall_clock

MONTH_DAYS = 31  # "within a month"


def load_golden(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _near(ours: dt.date | None, gold: dt.date | None) -> bool:
    if ours is None or gold is None:
        return ours is None and gold is None
    return abs((ours - gold).days) <= MONTH_DAYS


def _notice(session: Session, notice_id: str) -> Notice | None:
    return session.scalars(
        select(Notice).where(Notice.notice_id == notice_id).order_by(Notice.is_latest.desc())
    ).first()


def _supplier_keys(parties: list[ContractParty]) -> Counter[str]:
    return Counter(p.orgnr or "name:" + name_key(p.name or "") for p in parties)


def _golden_keys(entry: dict[str, Any], ours: list[ContractParty]) -> Counter[str]:
    """The golden suppliers as keys comparable with ours: orgnrs, and names for suppliers
    the golden file lists without a (valid) org number."""
    keys: Counter[str] = Counter(entry.get("supplier_orgnrs") or [])
    named = [n for n in entry.get("supplier_names") or []]
    unmatched = len(named) - sum(keys.values())
    if unmatched > 0:
        # Names whose supplier has no orgnr: those of ours without orgnr, or all names.
        by_name = {name_key(p.name or ""): p for p in ours}
        for n in named:
            p = by_name.get(name_key(n))
            if p is not None and not p.orgnr and unmatched > 0:
                keys["name:" + name_key(n)] += 1
                unmatched -= 1
        for n in named:
            if unmatched <= 0:
                break
            key = "name:" + name_key(n)
            if key not in keys:
                keys[key] += 1
                unmatched -= 1
    return keys


def check_contracts(session: Session, golden: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per golden contract: {entry, confidence, problems (list of str)}."""
    rows = []
    for g in golden.get("contracts", []):
        problems: list[str] = []
        n = _notice(session, g["notice_id"])
        if n is None:
            rows.append({"entry": g, "confidence": g["confidence"], "problems": ["no notice"]})
            continue
        candidates = session.scalars(
            select(Contract).where(
                or_(Contract.notice_pk == n.id, Contract.modified_by_notice_pk == n.id),
                Contract.expected.is_not(True),
                Contract.lot_id == g["lot_id"],
            )
        ).all()
        match = None
        for c in candidates:
            suppliers = [p for p in c.parties if p.role == "supplier"]
            if _supplier_keys(suppliers) == _golden_keys(g, suppliers):
                match = c
                break
        if match is None:
            got = [[p.name for p in c.parties if p.role == "supplier"] for c in candidates]
            rows.append(
                {
                    "entry": g,
                    "confidence": g["confidence"],
                    "problems": [f"winners: no contract on {g['lot_id']} for {g['supplier_names']}"
                                 f" (contracts on that lot: {got})"],
                }
            )  # fmt: skip
            continue
        c = match
        if bool(c.framework) != bool(g["framework"]):
            problems.append(f"framework {c.framework} != {g['framework']}")
        if bool(c.direct_award) != bool(g["direct_award"]):
            problems.append(f"direct_award {c.direct_award} != {g['direct_award']}")
        if c.value_kind != g.get("value_kind"):
            problems.append(f"value_kind {c.value_kind} != {g.get('value_kind')}")
        gold_value = g.get("value_nok")
        if gold_value is None and g.get("value_amount") is not None:
            gold_value = g["value_amount"]
        ours = c.value
        if gold_value is None:
            if ours is not None and g.get("value_kind") is None:
                problems.append(f"value {ours} where the golden file has none")
        elif ours is None or abs(ours - Decimal(str(gold_value))) > Decimal(str(gold_value)) / 200:
            problems.append(f"value {ours} != {gold_value}")
        if bool(c.value_shared) != bool(g.get("value_shared")):
            problems.append(f"value_shared {c.value_shared} != {g.get('value_shared')}")
        if not _near(c.end_date, _day(g["end_base"])):
            problems.append(f"base end {c.end_date} != {g['end_base']}")
        if not _near(c.latest_end, _day(g["end_latest"])):
            problems.append(f"latest end {c.latest_end} != {g['end_latest']}")
        rows.append({"entry": g, "confidence": g["confidence"], "problems": problems})
    return rows


def check_not_awarded(session: Session, golden: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per golden result without an award: no contract from it, a reason, and the
    re-tender signal when the notice gives one."""
    rows = []
    for g in golden.get("not_awarded", []):
        problems: list[str] = []
        n = _notice(session, g["notice_id"])
        if n is None:
            rows.append({"entry": g, "problems": ["no notice"]})
            continue
        awarded = session.scalars(
            select(Contract.id).where(Contract.notice_pk == n.id, Contract.expected.is_not(True))
        ).all()
        if awarded:
            problems.append(f"{len(awarded)} contract(s) derived from a result without award")
        info = unawarded(session, n.id)
        if info is None:
            problems.append("not reported as a result without award")
        elif bool(info["retender_signal"]) != bool(g.get("retender_signal")):
            problems.append(
                f"re-tender signal {info['retender_signal']!r} != {g.get('retender_signal')!r}"
            )
        rows.append({"entry": g, "problems": problems})
    return rows


def _deadline(value: str | None) -> dt.datetime | None:
    """The golden deadline (offset as written) as the tracker reads it: the golden file
    keeps ``+02:00`` also in winter ("we do not correct it"), a time the tracker reads
    as the buyer's Oslo time (``tracker.notices.xmlread.oslo_wall_clock``); other offsets are
    instants as written."""
    if not value:
        return None
    return oslo_wall_clock(dt.datetime.fromisoformat(value))


def _norm(text: str | None) -> str | None:
    return " ".join(text.split()).casefold() if text else None


def check_competitions(session: Session, golden: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per golden competition: deadlines, framework, estimated value and kind,
    duration, options and award criteria of every lot."""
    rows = []
    for g in golden.get("competitions", []):
        problems: list[str] = []
        n = _notice(session, g["notice_id"])
        if n is None:
            rows.append({"entry": g, "problems": ["no notice"]})
            continue
        ours = {lot["lot_id"]: lot for lot in competition_lots(session, n.id)}
        gold_lots = g.get("lots") or []
        if {lot["lot_id"] for lot in gold_lots} != set(ours):
            problems.append(f"lots {sorted(ours)} != {[lot['lot_id'] for lot in gold_lots]}")
        for gl in gold_lots:
            lot = ours.get(gl["lot_id"])
            if lot is None:
                continue
            where = gl["lot_id"]
            if lot["deadline"] != _deadline(gl.get("deadline")):
                problems.append(f"{where}: deadline {lot['deadline']} != {gl.get('deadline')}")
            if bool(lot["framework"]) != bool(gl.get("framework")):
                problems.append(f"{where}: framework {lot['framework']} != {gl.get('framework')}")
            value = gl.get("estimated_value_nok")
            if (lot["value"] is None) != (value is None) or (
                value is not None and abs(lot["value"] - Decimal(str(value))) > 1
            ):
                problems.append(f"{where}: value {lot['value']} != {value}")
            if lot["value_kind"] != gl.get("value_kind"):
                problems.append(
                    f"{where}: value kind {lot['value_kind']} != {gl.get('value_kind')}"
                )
            if lot["duration"] != gl.get("duration"):
                problems.append(f"{where}: duration {lot['duration']} != {gl.get('duration')}")
            if _norm(lot["options"]) != _norm(gl.get("options")):
                problems.append(f"{where}: options {lot['options']!r} != {gl.get('options')!r}")
            got = [(_norm(c["name"] or c["type"]), c["weight"]) for c in lot["award_criteria"]]
            want = [
                (_norm(c.get("name")), float(c["weight_percent"]))
                for c in gl.get("award_criteria") or []
            ]
            if not _same_criteria(got, want):
                problems.append(f"{where}: award criteria {got} != {want}")
        rows.append({"entry": g, "problems": problems})
    return rows


TYPE_NAMES = {"price": "pris", "quality": "kvalitet", "cost": "kostnad"}


def _same_criteria(
    got: list[tuple[str | None, float]], want: list[tuple[str | None, float]]
) -> bool:
    """The same weights, each with a name that starts like the golden one (a structured
    criterion without a name is named by its type: price as 'pris')."""
    if sorted(w for _, w in got) != sorted(w for _, w in want):
        return False
    left = list(want)
    for name, weight in sorted(got, key=lambda x: -x[1]):
        name = TYPE_NAMES.get(name or "", name)
        match = next(
            (x for x in left if x[1] == weight and (not name or not x[0] or name[:3] == x[0][:3])),
            None,
        )
        if match is None:
            return False
        left.remove(match)
    return True


def summary(rows: list[dict[str, Any]], label: str) -> str:
    right = sum(1 for r in rows if not r["problems"])
    return f"{label} right: {right}/{len(rows)}"


def by_confidence(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for conf in ("high", "medium", "low"):
        group = [r for r in rows if r["confidence"] == conf]
        out[conf] = (sum(1 for r in group if not r["problems"]), len(group))
    return out
