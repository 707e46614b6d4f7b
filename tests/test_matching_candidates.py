"""``matching.Candidates`` finds by date what ``best_match`` over every draft finds."""

from __future__ import annotations

import datetime as dt
import random
from functools import partial
from types import SimpleNamespace

from tracker.opportunities.matching import (
    Candidates,
    Draft,
    best_match,
    cpv_similarity,
    plausible_for_competition,
    plausible_for_planning,
    similarity,
    title_tokens,
)

WORDS = ["drift", "nettverk", "lisenser", "servere", "renhold", "kantine", "skole", "data"]
CPVS = ["72000000", "72200000", "48000000", "30200000", "90900000", "7", "721", None]


def _drafts(rnd: random.Random, n: int) -> list[Draft]:
    base = dt.date(2024, 1, 31)
    out = []
    for i in range(n):
        kind = rnd.choice(["retender", "retender", "planning", "dialogue", "competition"])
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 4)))
        inputs: dict = {}
        if kind == "retender" and rnd.random() < 0.9:
            inputs["expiry"] = (base + dt.timedelta(days=rnd.randint(-900, 1500))).isoformat()
        if kind != "competition" and rnd.random() < 0.6:
            inputs["planning_date"] = (base + dt.timedelta(days=rnd.randint(-900, 900))).isoformat()
        out.append(
            Draft(
                key=f"d{i}",
                kind=kind,
                account_id=1,
                link_status="confirmed",
                title=title,
                buyer=None,
                main_cpv=rnd.choice(CPVS),
                tokens=title_tokens(title),
                procedure_id=rnd.choice([None, "p1", "p2", f"p{i}"]),
                concluded=base + dt.timedelta(days=rnd.randint(-1500, 0))
                if rnd.random() < 0.5
                else None,
                inputs=inputs,
            )
        )
    return out


def test_candidates_give_the_best_match_of_all_drafts() -> None:
    rnd = random.Random(16)
    for _ in range(30):
        drafts = _drafts(rnd, 60)
        index = Candidates(drafts)
        for _ in range(80):
            issued = dt.date(2024, 1, 31) + dt.timedelta(days=rnd.randint(-1200, 1600))
            title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 4)))
            n = SimpleNamespace(procedure_id=rnd.choice([None, "p1", "p2"]))
            tokens, cpv = title_tokens(title), rnd.choice(CPVS)
            for ok, found in (
                (partial(plausible_for_planning, n=n, issued=issued), index.for_planning),
                (partial(plausible_for_competition, n=n, issued=issued), index.for_competition),
            ):
                everyone = best_match(drafts, tokens, cpv, ok)
                assert best_match(found(issued), tokens, cpv, ok) is everyone
                # every draft the test accepts is among the candidates
                near = {id(d) for d in found(issued)}
                assert all(id(d) in near for d in drafts if ok(d))


def test_cpv_similarity_and_similarity_as_before() -> None:
    def old_cpv(a: str | None, b: str | None) -> float:
        if not a or not b:
            return 0.0
        a, b = a[:8], b[:8]
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        return 1.0 if common >= 5 else 0.6 if common >= 3 else 0.3 if common >= 2 else 0.0

    def old_similarity(at: frozenset, ac: str | None, bt: frozenset, bc: str | None) -> float:
        union = at | bt
        jac = len(at & bt) / len(union) if union else 0.0
        c = old_cpv(ac, bc)
        return jac + 0.5 * c if (c >= 0.6 and jac >= 0.2) or jac >= 0.6 else 0.0

    codes = ["", "7", "72", "720", "7200", "72000", "72000000", "72100000", "721", "48000000"]
    for a in [None, *codes]:
        for b in [None, *codes]:
            assert cpv_similarity(a, b) == old_cpv(a, b), (a, b)
    rnd = random.Random(3)
    for _ in range(2000):
        at = frozenset(rnd.sample(WORDS, rnd.randint(0, 4)))
        bt = frozenset(rnd.sample(WORDS, rnd.randint(0, 4)))
        ac, bc = rnd.choice(codes), rnd.choice(codes)
        assert similarity(at, ac, bt, bc) == old_similarity(at, ac, bt, bc)


def test_best_match_asks_only_for_drafts_that_would_win_and_finds_the_same() -> None:
    """``best_match`` asks ``ok`` only of a draft more similar than the best so far and
    finds what asking every draft first finds (the first of the most similar accepted)."""

    def every(drafts: list[Draft], tokens: frozenset, cpv: str | None, ok) -> Draft | None:  # noqa: ANN001
        best, best_score = None, 0.0
        for d in drafts:
            if ok(d):
                score = similarity(d.tokens, d.main_cpv, tokens, cpv)
                if score > best_score:
                    best, best_score = d, score
        return best

    rnd = random.Random(7)
    asked = total = 0
    for _ in range(40):
        drafts = _drafts(rnd, 60)
        for _ in range(50):
            issued = dt.date(2024, 1, 31) + dt.timedelta(days=rnd.randint(-1200, 1600))
            title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 3)))
            n = SimpleNamespace(procedure_id=rnd.choice([None, "p1", "p2"]))
            tokens, cpv = title_tokens(title), rnd.choice(CPVS)
            calls: list[Draft] = []

            def ok(d: Draft, n=n, issued=issued, calls=calls) -> bool:  # noqa: ANN001
                calls.append(d)
                return plausible_for_competition(d, n, issued)

            assert best_match(drafts, tokens, cpv, ok) is every(
                drafts, tokens, cpv, partial(plausible_for_competition, n=n, issued=issued)
            )
            asked, total = asked + len(calls), total + len(drafts)
    assert asked < total / 2, (asked, total)
