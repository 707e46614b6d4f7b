"""The renewal radar: every agreement at the reader's accounts whose next end falls in
the coming 36 months, one lane per account, a dot per contract at its next end, sized by
its value and coloured by who holds it (us or a competitor), with a line to its latest
end when options can extend it. Plain values out; the partial
``_partials/chart_radar.html`` draws them (labels escaped by Jinja).

Sizes compare like with like: the dot's area follows the value in NOK of contracts
whose value is the awarded or estimated contract value; a framework maximum, a value in
another currency or no value gets the smallest dot with a ring, and its tooltip says why.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from tracker.dates import add_months
from tracker.enums import Extension
from tracker.formats.human import date, money
from tracker.formats.labels import value_kind
from tracker.i18n import gettext as _
from tracker.pages.expiries import ContractRow

MONTHS = 36
LEFT = 150  # lane labels
RIGHT = 14
LANE_H = 34
TOP = 30
MAX_LANES = 14
R_MIN, R_MAX = 4.0, 15.0
# Value kinds whose amounts compare (a framework maximum or a yearly value does not).
SIZED_KINDS = ("tender", "estimated", "estimate", "total", "amount")


def _iso(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _sized(row: ContractRow) -> bool:
    return bool(row.value) and row.currency == "NOK" and row.value_kind in SIZED_KINDS


def dot_tooltip(
    r: ContractRow, nxt: dt.date, latest: dt.date | None, sized: bool, extended: bool
) -> str:
    """What a dot's tooltip says, in the reader's language: the contract, who holds it,
    its next end, its latest end with options, its value and kind (or why the dot is not
    sized) and whether it was probably extended. Plain text (Jinja escapes it); built
    here because hundreds of dots through template calls made up a fifth of the home
    page's time."""
    parts = [
        r.title or r.buyer or "",
        r.incumbent or _("supplier unknown"),
        f"{_('next end')} {date(nxt)}",
    ]
    if latest:
        parts.append(_("with options to %(day)s") % {"day": date(latest)})
    if r.value:
        value = f"{money(r.value, r.currency)} ({value_kind(r.value_kind)})"
        if not sized:
            value += f" – {_('not comparable: smallest dot')}"
        parts.append(value)
    else:
        parts.append(_("value unknown"))
    if extended:
        parts.append(_("probably extended: ask the buyer"))
    return " · ".join(parts)


def renewal_radar(
    rows: Sequence[ContractRow], today: dt.date, *, months: int = MONTHS, width: int = 760
) -> dict[str, Any] | None:
    """Chart geometry for ``rows`` (``tracker.pages.expiries.expiries`` with
    ``within_months=36``): lanes per account, dots at the next end. None when no
    contract has an end in the period."""
    end = add_months(today, months)
    placed: list[tuple[ContractRow, dt.date, dt.date | None]] = []
    for r in rows:
        nxt = _iso(r.next_end) or _iso(r.end_date) or _iso(r.latest_end)
        if nxt is None or nxt > end:
            continue
        placed.append((r, max(nxt, today), _iso(r.latest_end)))
    if not placed:
        return None
    top_value = max((float(r.value or 0) for r, _, _ in placed if _sized(r)), default=0.0)
    lanes: dict[str, list[tuple[ContractRow, dt.date, dt.date | None]]] = {}
    for item in sorted(placed, key=lambda p: p[1]):
        lanes.setdefault(item[0].account or item[0].buyer, []).append(item)
    names = list(lanes)[:MAX_LANES]
    plot_w = width - LEFT - RIGHT
    span = (end - today).days or 1

    def x(d: dt.date) -> float:
        d = min(max(d, today), end)
        return round(LEFT + plot_w * (d - today).days / span, 1)

    axis = []
    m = dt.date(today.year, today.month, 1)
    while m <= end:
        if m >= today:
            axis.append({"x": x(m), "month": m.month, "year": m.year, "quarter": m.month % 3 == 1})
        m = add_months(m, 1)
    out_lanes = []
    for n, name in enumerate(names):
        y = TOP + n * LANE_H + LANE_H / 2
        dots = []
        for r, nxt, latest in lanes[name]:
            sized = _sized(r)
            extended = r.extension == Extension.PROBABLY_EXTENDED
            latest_end = latest if latest and latest > nxt else None
            radius = (
                R_MIN + (R_MAX - R_MIN) * math.sqrt(float(r.value or 0) / top_value)
                if sized and top_value
                else R_MIN
            )
            dots.append(
                {
                    "x": x(nxt),
                    "r": round(radius, 1),
                    "holder": "ours" if r.us else ("theirs" if r.incumbents else "unknown"),
                    "sized": sized,
                    "extended": extended,
                    "options_to": x(latest_end) if latest_end else None,
                    "latest_end": latest_end,
                    "next_end": nxt,
                    "title": r.title or r.buyer,
                    "holder_name": r.incumbent,
                    "value": r.value,
                    "currency": r.currency,
                    "value_kind": r.value_kind,
                    "contract_id": r.contract_id,
                    "tooltip": dot_tooltip(r, nxt, latest_end, sized, extended),
                }
            )
        out_lanes.append({"y": y, "label": name, "dots": dots, "count": len(dots)})
    height = TOP + len(out_lanes) * LANE_H + 8
    return {
        "width": width,
        "height": height,
        "lanes": out_lanes,
        "axis": axis,
        "months": months,
        "plot_top": TOP - 6,
        "plot_bottom": height - 4,
        "more_lanes": max(len(lanes) - MAX_LANES, 0),
        "total": len(placed),
    }
