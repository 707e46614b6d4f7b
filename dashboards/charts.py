"""Chart geometry for inline SVG: plain numbers and strings in, plain dicts out.

The templates in ``templates/_partials/chart_*.html`` draw these with autoescaped
Jinja, so a notice title inside a chart label is text, never markup.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

LABEL_W = 230
ROW_H = 24


def _clip(text: str | None, n: int = 34) -> str:
    text = (text or "").strip() or "–"
    return text if len(text) <= n else text[: n - 1] + "…"


def timeline(
    items: list[dict[str, Any]], today: dt.date, width: int = 960, max_rows: int = 15
) -> dict[str, Any] | None:
    """Rows per opportunity: influence, drafting, budget window, publication and expiry.

    ``items`` are opportunity dicts (keys influence_opens, drafting_starts,
    expected_publication, expiry, budget_window{start,end}, title, buyer).
    """
    rows = [i for i in items if i.get("expected_publication") or i.get("expiry")][:max_rows]
    if not rows:
        return None
    dates: list[dt.date] = [today]
    for i in rows:
        for key in ("influence_opens", "drafting_starts", "expected_publication", "expiry"):
            if i.get(key):
                dates.append(i[key])
        bw = i.get("budget_window") or {}
        dates.extend(d for d in (bw.get("start"), bw.get("end")) if d)
    start = min(dates) - dt.timedelta(days=30)
    end = max(dates) + dt.timedelta(days=30)
    start = max(start, today - dt.timedelta(days=3 * 365))
    end = min(end, today + dt.timedelta(days=8 * 365))
    span = max((end - start).days, 1)
    plot_w = width - LABEL_W - 10

    def x(d: dt.date) -> float:
        d = min(max(d, start), end)
        return round(LABEL_W + plot_w * (d - start).days / span, 1)

    out_rows = []
    for n, i in enumerate(rows):
        y = 26 + n * ROW_H
        bars, marks = [], []
        bw = i.get("budget_window") or {}
        if bw.get("start") and bw.get("end"):
            bars.append(
                {
                    "cls": "budget",
                    "x": x(bw["start"]),
                    "w": max(x(bw["end"]) - x(bw["start"]), 2),
                    "title": f"Budget window {bw['start']} – {bw['end']}",
                }
            )
        opens, drafting, pub = (
            i.get("influence_opens"),
            i.get("drafting_starts"),
            i.get("expected_publication"),
        )
        if opens and (drafting or pub):
            stop = drafting or pub
            bars.append(
                {
                    "cls": "influence",
                    "x": x(opens),
                    "w": max(x(stop) - x(opens), 2),
                    "title": f"Influence window {opens} – {stop}",
                }
            )
        if drafting and pub:
            bars.append(
                {
                    "cls": "drafting",
                    "x": x(drafting),
                    "w": max(x(pub) - x(drafting), 2),
                    "title": f"Specification drafting {drafting} – {pub}",
                }
            )
        if pub:
            marks.append(
                {"cls": "publication", "x": x(pub), "title": f"Expected publication {pub}"}
            )
        if i.get("expiry"):
            src = i.get("expiry_source") or "unknown source"
            marks.append(
                {"cls": "expiry", "x": x(i["expiry"]), "title": f"Expiry {i['expiry']} ({src})"}
            )
        label = _clip(i.get("title") or i.get("buyer"))
        out_rows.append(
            {"y": y, "label": label, "full": i.get("title") or "", "bars": bars, "marks": marks}
        )
    axis = []
    year = start.year + 1
    while dt.date(year, 1, 1) <= end:
        axis.append({"x": x(dt.date(year, 1, 1)), "label": str(year)})
        year += 1
    height = 26 + len(out_rows) * ROW_H + 8
    return {
        "width": width,
        "height": height,
        "rows": out_rows,
        "axis": axis,
        "today_x": x(today),
        "today": today.isoformat(),
        "plot_top": 18,
        "plot_bottom": height - 4,
    }


def pipeline_bars(rows: list[dict[str, Any]], width: int = 560) -> dict[str, Any] | None:
    """Horizontal bars of value per phase and currency (``tracker.pages.director.pipeline``),
    labelled with count and millions of the row's currency; bars scale within one currency."""
    if not rows:
        return None
    top: dict[Any, float] = {}
    for r in rows:
        top[r.get("currency")] = max(top.get(r.get("currency"), 0.0), r["value"])
    top_count = max(r["count"] for r in rows) or 1
    label_w, plot_w = 130, width - 130 - 150
    bars = []
    for n, r in enumerate(rows):
        cur = r.get("currency")
        peak = top.get(cur) or 0
        basis = r["value"] / peak if peak else r["count"] / top_count
        unit = cur or "(currency not given)"
        label = r["phase"].replace("_", " ") + (f" · {cur}" if cur else "")
        if cur:
            text = f"{r['count']} · {r['value'] / 1_000_000:,.1f} M{cur}"
        elif r["value"]:
            text = f"{r['count']} · {r['value'] / 1_000_000:,.1f} M (currency?)"
        else:
            text = f"{r['count']}"
        bars.append(
            {
                "y": 8 + n * 26,
                "label": label,
                "x": label_w,
                "w": max(round(plot_w * basis, 1), 2),
                "text": text,
                "title": f"{r['phase']}: {r['count']} opportunities, "
                + (f"{r['value']:,.0f} {unit}" if cur or r["value"] else "value unknown"),
            }
        )
    return {"width": width, "height": 12 + len(rows) * 26, "bars": bars, "text_x": width - 145}


def criteria_bar(criteria: list[dict[str, Any]], width: int = 320) -> dict[str, Any] | None:
    """One stacked bar of award-criteria weights, normalised to 100 %."""
    weighted = [c for c in criteria if isinstance(c.get("weight"), int | float) and c["weight"] > 0]
    if not weighted:
        return None
    total = sum(float(c["weight"]) for c in weighted)
    x = 0.0
    parts = []
    for c in weighted:
        w = width * float(c["weight"]) / total
        kind = c.get("type") if c.get("type") in ("price", "quality", "cost") else "quality"
        share = 100 * float(c["weight"]) / total
        parts.append(
            {
                "cls": kind,
                "x": round(x, 1),
                "w": round(w, 1),
                "label": f"{_clip(c.get('name') or kind, 18)} {share:.0f}%",
                "title": f"{c.get('name') or kind} ({kind}): {c['weight']:g} → {share:.0f} %",
            }
        )
        x += w
    return {"width": width, "height": 22, "parts": parts}
