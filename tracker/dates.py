"""Calendar arithmetic every stage shares (pure: values in, values out)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=1 << 17)
def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` shifted by whole calendar months, the day clamped to the month's length
    (31 Jan + 1 month = 28/29 Feb).

    >>> add_months(dt.date(2027, 9, 30), -6)
    datetime.date(2027, 3, 30)
    >>> add_months(dt.date(2024, 3, 31), -1)
    datetime.date(2024, 2, 29)
    """
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    m += 1
    last = _MONTH_DAYS[m - 1]
    if m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        last = 29
    day = d.day if d.day <= last else last
    return dt.date(y, m, day)
