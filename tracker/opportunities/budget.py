"""Budget-cycle windows: pure functions, no clock, no session (``today`` is a parameter).

Budget windows (``budget_windows_for``): the window of the buyer type's budget calendar
(default 1 October – 31 March) that funds an opportunity, anchored two ways, both shown:
to the *decision to procure* (the last window that ends before the expected publication)
and to the *contract start* (the last window that ends before it: the money is first spent
in the budget year of the start). The calendar's ``anchor`` says which one is primary.
A window lists only the milestones of the calendar that fall inside it, each with the
budget year it prepares (``t`` = the year the milestone's offset is relative to).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

BUDGET_STATUSES: tuple[str, ...] = ("open", "upcoming", "closed", "missed")
BUDGET_ANCHORS: tuple[str, ...] = ("publication", "contract_start")


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: one cached window per year
class BudgetCalendar:
    """A budget-cycle window (month, day) to (month, day), possibly crossing the new year.

    ``milestones`` are (name, month, day, year offset relative to the budget year ``t``
    the milestone prepares: ``-1`` = prepared in ``t - 1``). ``anchor``: which window is
    primary, the one before the decision to procure (``publication``) or the one before
    the contract start (``contract_start``); both are always computed.
    """

    buyer_type: str = "default"
    start: tuple[int, int] = (10, 1)
    end: tuple[int, int] = (3, 31)
    milestones: tuple[tuple[str, int, int, int], ...] = ()
    source: str = "the source interviews"
    anchor: str = "contract_start"


@dataclass(slots=True)
class BudgetWindow:
    """The budget-cycle window that funds an opportunity; ``status`` in ``BUDGET_STATUSES``.

    ``missed``: the window ended before influence could start (a risk to show);
    ``closed``: it ended after influence had opened; ``open``/``upcoming`` relative to today.
    ``anchor``: ``publication`` (the window before the decision to procure) or
    ``contract_start``; ``milestones``: (name, date) of the calendar inside the window, the
    name saying which budget year it prepares.
    """

    start: dt.date
    end: dt.date
    status: str
    buyer_type: str
    milestones: tuple[tuple[str, dt.date], ...]
    anchor: str = "contract_start"
    anchor_date: dt.date | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "status": self.status,
            "buyer_type": self.buyer_type,
            "anchor": self.anchor,
            "anchor_date": self.anchor_date,
            "milestones": [{"name": n, "date": d} for n, d in self.milestones],
        }


def budget_window_for(
    anchor_date: dt.date,
    calendar: BudgetCalendar,
    *,
    today: dt.date,
    influence_opens: dt.date | None = None,
    anchor: str = "contract_start",
) -> BudgetWindow:
    """The last budget window that ends before ``anchor_date`` (the contract start, or the
    expected publication for ``anchor="publication"``), with its status today and the
    calendar's milestones that fall inside it.

    >>> w = budget_window_for(dt.date(2027, 9, 30), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2026, 10, 1), datetime.date(2027, 3, 31), 'open')
    >>> w = budget_window_for(dt.date(2027, 2, 1), BudgetCalendar(), today=dt.date(2026, 11, 28))
    >>> (w.start, w.end, w.status)
    (datetime.date(2025, 10, 1), datetime.date(2026, 3, 31), 'closed')
    """
    return _window(anchor_date, calendar, today, influence_opens, anchor)


def _window(
    anchor_date: dt.date,
    calendar: BudgetCalendar,
    today: dt.date,
    influence_opens: dt.date | None,
    anchor: str,
) -> BudgetWindow:
    # the window ending in the anchor's year if it ends before the anchor, else the one
    # ending a year earlier (a 29 February end is the 28th in other years: same order)
    before = (anchor_date.month, anchor_date.day) > calendar.end
    start, end, milestones = _window_of(
        calendar, anchor_date.year if before else anchor_date.year - 1
    )
    if influence_opens is not None and end < influence_opens:
        status = "missed"
    else:
        status = "upcoming" if today < start else "open" if today <= end else "closed"
    return BudgetWindow(start, end, status, calendar.buyer_type, milestones, anchor, anchor_date)


def budget_status(
    start: dt.date, end: dt.date, influence_opens: dt.date | None, today: dt.date
) -> str:
    """``missed`` (the window ended before influence could start), else ``upcoming``,
    ``open`` or ``closed`` relative to ``today``."""
    if influence_opens is not None and end < influence_opens:
        return "missed"
    if today < start:
        return "upcoming"
    if today <= end:
        return "open"
    return "closed"


def budget_windows_for(
    contract_start: dt.date,
    publication: dt.date | None,
    calendar: BudgetCalendar,
    *,
    today: dt.date,
    influence_opens: dt.date | None = None,
) -> tuple[BudgetWindow, dict[str, BudgetWindow]]:
    """(primary window, both windows by anchor): before the decision to procure (the
    expected publication) and before the contract start; the calendar's ``anchor`` picks
    the primary one (the contract start when there is no publication date)."""
    start = _window(contract_start, calendar, today, influence_opens, "contract_start")
    if publication is None:
        return start, {"contract_start": start}
    out = {
        "contract_start": start,
        "publication": _window(publication, calendar, today, influence_opens, "publication"),
    }
    return out.get(calendar.anchor) or start, out


@lru_cache(maxsize=1 << 14)
def _window_of(
    calendar: BudgetCalendar, end_year: int
) -> tuple[dt.date, dt.date, tuple[tuple[str, dt.date], ...]]:
    (sm, sd), (em, ed) = calendar.start, calendar.end
    end = safe_date(end_year, em, ed)
    crosses = (sm, sd) > (em, ed)
    start = safe_date(end.year - 1 if crosses else end.year, sm, sd)
    # Every milestone of the calendar that falls inside the window, named with the budget
    # year it prepares (a window of October-March holds, for the state, the proposal and
    # adoption of next year's budget and the initiatives and frames of the one after).
    inside = []
    for name, m, d, off in calendar.milestones:
        for year in range(start.year, end.year + 1):
            day = safe_date(year, m, d)
            if start <= day <= end:
                inside.append((f"{name} (budget {year - off})", day))
    return start, end, tuple(sorted(inside, key=lambda x: x[1]))


def budget_year(contract_start: dt.date) -> int:
    """The budget year ``t`` that funds a contract: the calendar year of its start.

    The money is first spent in ``t``, so it must be in budget ``t``, prepared and adopted
    in ``t - 1`` (state: initiatives January, frames March, proposal October, adopted by
    15 December of ``t - 1``). Milestone offsets in the rules are relative to ``t``.

    >>> budget_year(dt.date(2023, 4, 1)), budget_year(dt.date(2027, 1, 1))
    (2023, 2027)
    """
    return contract_start.year


def safe_date(year: int, month: int, day: int) -> dt.date:
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return dt.date(year, month, day)
