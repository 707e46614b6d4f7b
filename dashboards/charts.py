"""Chart geometry for inline SVG: plain numbers and strings in, plain dicts out.

The templates in ``templates/_partials/chart_*.html`` draw these with autoescaped
Jinja, so a notice title inside a chart label is text, never markup. Words (titles,
month names, legends) are added by the templates, in the reader's language: the
geometry carries dates, numbers and kinds only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

ROW_H = 38  # a full-width label line above each row's bars
LEFT = 8


def _clip(text: str | None, n: int = 110) -> str:
    text = (text or "").strip() or "–"
    return text if len(text) <= n else text[: n - 1] + "…"


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _span(rows: list[dict[str, Any]], today: dt.date) -> tuple[dt.date, dt.date]:
    """The months the timeline covers: every date of ``rows`` and today, at most three
    years back and eight ahead."""
    dates: list[dt.date] = [today]
    for i in rows:
        for key in ("influence_opens", "drafting_starts", "expected_publication", "expiry"):
            if i.get(key):
                dates.append(i[key])
        bw = i.get("budget_window") or {}
        dates.extend(d for d in (bw.get("start"), bw.get("end")) if d)
    start = _month_start(max(min(dates), today - dt.timedelta(days=3 * 365)))
    end = _next_month(min(max(dates), today + dt.timedelta(days=8 * 365)))
    return start, end


def _axis(start: dt.date, end: dt.date, x: Callable[[dt.date], float]) -> list[dict[str, Any]]:
    """A tick per month; a label per month, quarter or year by the span."""
    months = (end.year - start.year) * 12 + end.month - start.month
    every = 1 if months <= 14 else 3 if months <= 40 else 12
    axis = []
    m = start
    while m < end:
        labelled = (m.month - 1) % every == 0
        axis.append(
            {
                "x": x(m),
                "month": m.month,
                "year": m.year,
                "label": labelled,
                "year_start": m.month == 1,
            }
        )
        m = _next_month(m)
    return axis


def _bar(cls: str, start: dt.date, end: dt.date, x: Callable[[dt.date], float]) -> dict[str, Any]:
    return {"cls": cls, "x": x(start), "w": max(x(end) - x(start), 2), "start": start, "end": end}


def _row_marks(
    i: dict[str, Any], x: Callable[[dt.date], float]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bars (budget window, influence, drafting) and marks (publication, expiry) of one
    opportunity."""
    bars, marks = [], []
    bw = i.get("budget_window") or {}
    if bw.get("start") and bw.get("end"):
        bars.append(_bar("budget", bw["start"], bw["end"], x))
    opens, drafting, pub = (
        i.get("influence_opens"),
        i.get("drafting_starts"),
        i.get("expected_publication"),
    )
    stop = drafting or pub
    if opens and stop:
        bars.append(_bar("influence", opens, stop, x))
    if drafting and pub:
        bars.append(_bar("drafting", drafting, pub, x))
    if pub:
        marks.append({"cls": "publication", "x": x(pub), "day": pub, "source": None})
    if i.get("expiry"):
        marks.append(
            {
                "cls": "expiry",
                "x": x(i["expiry"]),
                "day": i["expiry"],
                "source": i.get("expiry_source"),
            }
        )
    return bars, marks


def timeline(
    items: list[dict[str, Any]], today: dt.date, width: int = 760, max_rows: int = 15
) -> dict[str, Any] | None:
    """Rows per opportunity: influence, drafting, budget window, publication and expiry,
    under a month axis (a tick per month, a label per month, quarter or year by span).

    ``items`` are opportunity dicts (keys influence_opens, drafting_starts,
    expected_publication, expiry, budget_window{start,end}, title, buyer).
    """
    rows = [i for i in items if i.get("expected_publication") or i.get("expiry")][:max_rows]
    if not rows:
        return None
    start, end = _span(rows, today)
    span = max((end - start).days, 1)
    plot_w = width - 2 * LEFT

    def x(d: dt.date) -> float:
        d = min(max(d, start), end)
        return round(LEFT + plot_w * (d - start).days / span, 1)

    top = 34
    out_rows = []
    for n, i in enumerate(rows):
        bars, marks = _row_marks(i, x)
        full = i.get("title") or i.get("buyer") or ""
        out_rows.append(
            {"y": top + n * ROW_H, "label": _clip(full), "full": full, "bars": bars, "marks": marks}
        )
    height = top + len(out_rows) * ROW_H + 6
    return {
        "width": width,
        "height": height,
        "rows": out_rows,
        "axis": _axis(start, end, x),
        "today_x": x(today),
        "today": today,
        "plot_top": 26,
        "plot_bottom": height - 4,
    }


def pipeline_bars(rows: list[dict[str, Any]], width: int = 520) -> dict[str, Any] | None:
    """Per phase (and currency): a bar of the count of opportunities on the count scale and
    a bar of their value on the value scale of its currency, side by side; each bar is
    labelled with its number. Counts and values never share a scale."""
    if not rows:
        return None
    top_value: dict[Any, float] = {}
    for r in rows:
        cur = r.get("currency")
        top_value[cur] = max(top_value.get(cur, 0.0), float(r.get("value") or 0))
    top_count = max(int(r.get("count") or 0) for r in rows) or 1
    label_w = 215
    count_x, count_w = label_w, 70
    value_x = count_x + count_w + 30
    value_w = width - value_x - 80
    bars = []
    for n, r in enumerate(rows):
        cur = r.get("currency")
        value = float(r.get("value") or 0)
        peak = top_value.get(cur) or 0
        count = int(r.get("count") or 0)
        cw = round(count_w * count / top_count, 1)
        vw = round(value_w * value / peak, 1) if peak and value else 0
        bars.append(
            {
                "y": 30 + n * 28,
                "phase": r["phase"],
                "currency": cur,
                "count": count,
                "value": value if value else None,
                "count_x": count_x,
                "count_w": max(cw, 2 if count else 0),
                "count_text_x": count_x + max(cw, 2) + 4,
                "value_x": value_x,
                "value_w": max(vw, 2 if value else 0),
                "value_text_x": value_x + max(vw, 2) + 4,
            }
        )
    return {
        "width": width,
        "height": 36 + len(rows) * 28,
        "bars": bars,
        "count_x": count_x,
        "value_x": value_x,
    }


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
                "name": c.get("name"),
                "kind": kind,
                "weight": c["weight"],
                "share": round(share),
            }
        )
        x += w
    return {"width": width, "height": 22, "parts": parts}
