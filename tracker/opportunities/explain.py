"""The one-line reason shown next to ``can_influence``: what the opportunity is, when its
competition is expected and why, and what the phase means on ``today``. Pure.

The reason is English (the CLI, the API and the stored timeline carry it as text); the
sources of its dates are domain messages (``Timeline.sources``).
"""

from __future__ import annotations

import datetime as dt

from tracker.opportunities.windows import Basis, Timeline


def _period_text(tl: Timeline, basis: Basis) -> str:
    pub, until = tl.expected_publication, tl.planned_until
    if pub is None:
        return ""
    if until is None or until == pub:
        return f"~{pub.isoformat()} ({basis})"
    return f"between {pub.isoformat()} and {until.isoformat()} ({basis})"


def explain(
    tl: Timeline,
    today: dt.date,
    *,
    kind: str = "retender",
    title: str | None = None,
    buyer: str | None = None,
    framework: bool = True,
) -> str:
    """The one-line reason shown next to ``can_influence``.

    Example (the issue's): "Agreement X at Sykehusinnkjøp HF ends 2027-09-30; re-tender
    expected ~2027-03-30 (open procedure, 6 months before expiry); specification drafting
    since ~2026-09-30; on 2026-11-28 influence is still possible for 122 days, until
    publication".
    """
    name = title or "(untitled)"
    at = f" at {buyer}" if buyer else ""
    if kind == "retender":
        noun = "Agreement" if framework else "Contract"
        verb = "ended" if tl.expiry is not None and tl.expiry < today else "ends"
        ends = f" {verb} {tl.expiry.isoformat()}" if tl.expiry is not None else ""
        parts = [f"{noun} {name}{at}{ends}"]
    elif kind == "dialogue":
        parts = [f"Market dialogue {name}{at}"]
    elif kind == "planning":
        parts = [f"Planning notice {name}{at}"]
    else:
        parts = [f"Competition {name}{at}"]
    pub = tl.expected_publication
    if pub is None:
        parts.append("end date unknown: no timeline can be computed")
        return "; ".join(parts)
    psrc = tl.sources.get("expected_publication", ("", ""))
    t = today.isoformat()
    if tl.phase == "dialogue_open":
        assert tl.dialogue_until is not None
        dsrc = tl.sources.get("dialogue_until", ("", ""))
        parts.append(
            f"the buyer asks the market for input until {tl.dialogue_until.isoformat()} ({dsrc[1]})"
        )
        parts.append(
            f"on {t} influence is possible now: {tl.days_left} days left to respond; "
            f"competition expected {_period_text(tl, psrc[1])}"
        )
        return "; ".join(parts)
    if tl.published:
        parts.append(f"competition published {pub.isoformat()}")
    else:
        what = "re-tender" if kind == "retender" else "competition"
        was = " was" if pub < today else ""
        parts.append(f"{what}{was} expected {_period_text(tl, psrc[1])}")
    if tl.phase in _BEFORE_PUBLICATION:
        parts.extend(_before_publication(tl, today, t))
    elif tl.phase == "overdue":
        parts.append(_overdue(tl, today, t, kind, framework))
    else:
        parts.append(_after_publication(tl, t))
    return "; ".join(parts)


_BEFORE_PUBLICATION = frozenset({"watching", "influence_open", "drafting"})


def _before_publication(tl: Timeline, today: dt.date, t: str) -> list[str]:
    """Watching, influence open or drafting (due or overdue included); ``t`` is today."""
    d = tl.drafting_starts
    if tl.phase == "watching":
        assert tl.influence_opens is not None
        n = (tl.influence_opens - today).days
        return [
            f"on {t} influence is not yet open: it opens ~{tl.influence_opens.isoformat()} "
            f"(in {n} days)"
        ]
    if tl.phase == "influence_open":
        assert d is not None
        return [
            f"specification drafting from ~{d.isoformat()}",
            f"on {t} influence is possible for {tl.days_left} days, until publication",
        ]
    if tl.due:
        return [
            f"on {t} publication is due (stated period): influence only until it is "
            f"published, at the latest {tl.days_left} days"
        ]
    if tl.overdue:
        return [
            f"on {t} publication is overdue and no competition notice is known: "
            "influence may still be possible until it is published"
        ]
    assert d is not None
    return [
        f"specification drafting since ~{d.isoformat()}",
        f"on {t} influence is still possible for {tl.days_left} days, until publication",
    ]


def _overdue(tl: Timeline, today: dt.date, t: str, kind: str, framework: bool) -> str:
    """No competition seen although the publication (or the contract start) has passed."""
    if tl.planned_until is not None and tl.planned_until < today:
        return (
            f"on {t} the stated publication date has passed and no competition notice has "
            "been seen: it may be out (check Doffin), delayed or dropped; influence is no "
            "longer assumed"
        )
    if kind == "retender":
        noun = "agreement" if framework else "contract"
        return (
            f"on {t} no competition notice has been seen: re-tender overdue or the "
            f"{noun} was extended"
        )
    return (
        f"on {t} no competition notice has been seen although the contract was "
        f"expected to start ~{tl.contract_start}: competition overdue, not found "
        "or dropped"
    )


def _after_publication(tl: Timeline, t: str) -> str:
    """Published, evaluation, awarded or running (``t``: today)."""
    if tl.phase == "published":
        assert tl.expected_deadline is not None
        return (
            f"on {t} influence is closed; questions only until the deadline "
            f"{tl.expected_deadline.isoformat()}"
        )
    if tl.phase == "evaluation":
        assert tl.expected_award is not None
        return f"on {t} tenders are being evaluated; award expected ~{tl.expected_award}"
    if tl.phase == "awarded":
        return f"on {t} awarded; the new contract starts ~{tl.contract_start}"
    return f"on {t} the new contract is running (since ~{tl.contract_start})"
