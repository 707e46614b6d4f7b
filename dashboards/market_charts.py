"""Chart geometry of the market pages (inline SVG drawn by ``_partials/market_bars.html``):
plain numbers in, plain dicts out; labels are escaped by the template."""

from __future__ import annotations

from typing import Any

from dashboards.filters import money

LABEL_W = 64
ROW_H = 22


def grouped_bars(
    groups: list[tuple[str, list[tuple[str, float | None, str]]]],
    title: str,
    width: int = 480,
    unit: str = "",
) -> dict[str, Any] | None:
    """Horizontal bars: per group label, one bar per series ``(name, value, css class)``,
    scaled to the largest value. None when every value is empty."""
    top = max((v or 0 for _, series in groups for _, v, _ in series), default=0)
    if not top:
        return None
    plot = width - LABEL_W - 175
    bars = []
    y = 4
    for label, series in groups:
        first = True
        shown = [s for s in series if s[1]] or [(series[0][0], None, series[0][2])]
        for name, value, cls in shown:
            w = round(plot * (value or 0) / top, 1)
            bars.append(
                {
                    "label": label if first else "",
                    "y": y,
                    "x": LABEL_W,
                    "w": max(w, 1 if value else 0),
                    "cls": cls,
                    "text": f"{money(value)} {unit} ({name})".strip() if value else "–",
                    "text_x": LABEL_W + max(w, 1) + 6,
                    "title": f"{label} · {name}: {money(value)} {unit}".strip(),
                }
            )
            y += ROW_H - 6
            first = False
        y += 8
    return {"width": width, "height": y + 4, "bars": bars, "title": title}
