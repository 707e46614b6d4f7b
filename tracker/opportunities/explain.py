"""The one-line reason shown next to ``can_influence``: what the opportunity is, when its
competition is expected and why, and what the phase means on ``today``. Pure.

The reason is a :class:`tracker.messages.Text`: English where text is wanted (the CLI, the
API and the stored timeline carry it as text), and a message of messages that pages and
alerts translate (its days are ISO values, shown as dd.mm.åååå); the sources of its dates
are domain messages too (``Timeline.sources``).
"""

from __future__ import annotations

import datetime as dt

from tracker.messages import N_, Message, Text, join
from tracker.opportunities.windows import Basis, Timeline


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d is not None else "?"


def _period(tl: Timeline, basis: Basis) -> Message | None:
    pub, until = tl.expected_publication, tl.planned_until
    if pub is None:
        return None
    if until is None or until == pub:
        return N_("~%(day)s (%(basis)s)", day=_iso(pub), basis=basis)
    return N_(
        "between %(start)s and %(end)s (%(basis)s)", start=_iso(pub), end=_iso(until), basis=basis
    )


def _head(tl: Timeline, today: dt.date, kind: str, name: str | Message, framework: bool) -> Message:
    """What the opportunity is (and, for a re-tender, when the agreement ends)."""
    if kind == "dialogue":
        return N_("Market dialogue %(name)s", name=name)
    if kind == "planning":
        return N_("Planning notice %(name)s", name=name)
    if kind != "retender":
        return N_("Competition %(name)s", name=name)
    if tl.expiry is None:
        return (
            N_("Agreement %(name)s", name=name) if framework else N_("Contract %(name)s", name=name)
        )
    day = _iso(tl.expiry)
    if tl.expiry < today:
        if framework:
            return N_("Agreement %(name)s ended %(day)s", name=name, day=day)
        return N_("Contract %(name)s ended %(day)s", name=name, day=day)
    if framework:
        return N_("Agreement %(name)s ends %(day)s", name=name, day=day)
    return N_("Contract %(name)s ends %(day)s", name=name, day=day)


def explain(
    tl: Timeline,
    today: dt.date,
    *,
    kind: str = "retender",
    title: str | None = None,
    buyer: str | None = None,
    framework: bool = True,
) -> Text:
    """The one-line reason shown next to ``can_influence``.

    Example (the issue's): "Agreement X at Sykehusinnkjøp HF ends 2027-09-30; re-tender
    expected ~2027-03-30 (open procedure, 6 months before expiry); specification drafting
    since ~2026-09-30; on 2026-11-28 influence is still possible for 122 days, until
    publication".
    """
    name: str | Message = title or N_("(untitled)")
    if buyer:
        name = N_("%(title)s at %(buyer)s", title=name, buyer=buyer)
    parts: list[Message | str] = [_head(tl, today, kind, name, framework)]
    pub = tl.expected_publication
    if pub is None:
        parts.append(N_("end date unknown: no timeline can be computed"))
        return Text(join(parts))
    basis = tl.sources.get("expected_publication", ("", ""))[1]
    period = _period(tl, basis)
    t = today.isoformat()
    if tl.phase == "dialogue_open":
        assert tl.dialogue_until is not None
        dsrc = tl.sources.get("dialogue_until", ("", ""))
        parts.append(
            N_(
                "the buyer asks the market for input until %(day)s (%(basis)s)",
                day=_iso(tl.dialogue_until),
                basis=dsrc[1],
            )  # fmt: skip
        )
        parts.append(
            N_("on %(today)s influence is possible now: %(days)s days left to respond; "
               "competition expected %(period)s", today=t, days=tl.days_left, period=period)
        )  # fmt: skip
        return Text(join(parts))
    if tl.published:
        parts.append(N_("competition published %(day)s", day=_iso(pub)))
    elif kind == "retender":
        if pub < today:
            parts.append(N_("re-tender was expected %(period)s", period=period))
        else:
            parts.append(N_("re-tender expected %(period)s", period=period))
    elif pub < today:
        parts.append(N_("competition was expected %(period)s", period=period))
    else:
        parts.append(N_("competition expected %(period)s", period=period))
    if tl.phase in _BEFORE_PUBLICATION:
        parts.extend(_before_publication(tl, today, t))
    elif tl.phase == "overdue":
        parts.append(_overdue(tl, today, t, kind, framework))
    else:
        parts.append(_after_publication(tl, t))
    return Text(join(parts))


_BEFORE_PUBLICATION = frozenset({"watching", "influence_open", "drafting"})


def _before_publication(tl: Timeline, today: dt.date, t: str) -> list[Message | str]:
    """Watching, influence open or drafting (due or overdue included); ``t`` is today."""
    d = tl.drafting_starts
    if tl.phase == "watching":
        assert tl.influence_opens is not None
        n = (tl.influence_opens - today).days
        return [
            N_(
                "on %(today)s influence is not yet open: it opens ~%(day)s (in %(days)s days)",
                today=t,
                day=_iso(tl.influence_opens),
                days=n,
            )  # fmt: skip
        ]
    if tl.phase == "influence_open":
        assert d is not None
        return [
            N_("specification drafting from ~%(day)s", day=_iso(d)),
            N_(
                "on %(today)s influence is possible for %(days)s days, until publication",
                today=t,
                days=tl.days_left,
            ),  # fmt: skip
        ]
    if tl.due:
        return [
            N_(
                "on %(today)s publication is due (stated period): influence only until it is "
                "published, at the latest %(days)s days",
                today=t,
                days=tl.days_left,
            )  # fmt: skip
        ]
    if tl.overdue:
        return [
            N_(
                "on %(today)s publication is overdue and no competition notice is known: "
                "influence may still be possible until it is published",
                today=t,
            )  # fmt: skip
        ]
    assert d is not None
    return [
        N_("specification drafting since ~%(day)s", day=_iso(d)),
        N_(
            "on %(today)s influence is still possible for %(days)s days, until publication",
            today=t,
            days=tl.days_left,
        ),  # fmt: skip
    ]


def _overdue(tl: Timeline, today: dt.date, t: str, kind: str, framework: bool) -> Message:
    """No competition seen although the publication (or the contract start) has passed."""
    if tl.planned_until is not None and tl.planned_until < today:
        return N_(
            "on %(today)s the stated publication date has passed and no competition notice "
            "has been seen: it may be out (check Doffin), delayed or dropped; influence is no "
            "longer assumed",
            today=t,
        )
    if kind == "retender" and framework:
        return N_(
            "on %(today)s no competition notice has been seen: re-tender overdue or the "
            "agreement was extended",
            today=t,
        )
    if kind == "retender":
        return N_(
            "on %(today)s no competition notice has been seen: re-tender overdue or the "
            "contract was extended",
            today=t,
        )
    return N_(
        "on %(today)s no competition notice has been seen although the contract was "
        "expected to start ~%(day)s: competition overdue, not found or dropped",
        today=t,
        day=_iso(tl.contract_start),
    )


def _after_publication(tl: Timeline, t: str) -> Message:
    """Published, evaluation, awarded or running (``t``: today)."""
    if tl.phase == "published":
        assert tl.expected_deadline is not None
        return N_(
            "on %(today)s influence is closed; questions only until the deadline %(day)s",
            today=t,
            day=_iso(tl.expected_deadline),
        )
    if tl.phase == "evaluation":
        assert tl.expected_award is not None
        return N_(
            "on %(today)s tenders are being evaluated; award expected ~%(day)s",
            today=t,
            day=_iso(tl.expected_award),
        )
    if tl.phase == "awarded":
        return N_(
            "on %(today)s awarded; the new contract starts ~%(day)s",
            today=t,
            day=_iso(tl.contract_start),
        )
    return N_(
        "on %(today)s the new contract is running (since ~%(day)s)",
        today=t,
        day=_iso(tl.contract_start),
    )
