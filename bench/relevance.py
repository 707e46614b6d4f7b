"""Benchmark: precision and recall of relevance on the labelled real notices.

The 57 real Doffin notices under tests/fixtures/notices/doffin-real are labelled by hand
for the example IT profile (tests/fixtures/relevance/it-profile-labels.csv, one reason per
notice). This prints:

1. the rule profile (``[profile]`` of the shipped rules,
``tracker.opportunities.relevance.Profile``):
   precision and recall of "in profile", with every miss and every false alarm;
2. the learned ranking, cross-validated: repeated stratified k-fold; in each fold the model
   (``tracker.opportunities.relevance.fit_model``, the one an installation trains from its team's
   decisions) learns from the labels of the other folds as if they were the team's
   bid/no-bid decisions and stars/dismissals, and scores the held-out notices. The learned
   ranking shows what the rules show plus what the model flags (it can only reorder and
   flag, never hide an in-profile notice): precision and recall of that selection, averaged
   over the repetitions, and its average precision as a ranking;
3. the same for a weaker rule profile (an ablation: the profile without its keywords), to
   show what the learned ranking adds where the rules miss;
4. the words with the largest weights when the model learns from every label.

    .venv/bin/python bench/relevance.py [--folds 5] [--repeats 20] [--seed 1] [--rules FILE]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tracker.notices.eforms import parse_notice  # noqa: E402
from tracker.opportunities.profile import Fit, ItemText, Profile, item_fit, item_from_parsed  # noqa: E402
from tracker.opportunities.relevance import fit_model  # noqa: E402
from tracker.rules import default_rules, load_rules  # noqa: E402

LABELS = ROOT / "tests" / "fixtures" / "relevance" / "it-profile-labels.csv"
NOTICES = ROOT / "tests" / "fixtures" / "notices" / "doffin-real"


def load(labels: Path, notices: Path) -> list[tuple[str, ItemText, int, str]]:
    """(doffin id, item, label, reason) for every labelled notice."""
    with labels.open(encoding="utf-8", newline="") as f:
        rows = {r["doffin_id"]: (int(r["relevant"]), r["reason"]) for r in csv.DictReader(f)}
    out = []
    for path in sorted(notices.glob("*.xml")):
        doffin_id = next((k for k in rows if k in path.name), None)
        if doffin_id is None:
            raise SystemExit(f"{path.name}: no label in {labels}")
        label, reason = rows.pop(doffin_id)
        out.append((doffin_id, item_from_parsed(parse_notice(path.read_bytes())), label, reason))
    if rows:
        raise SystemExit(f"{labels}: labels without a notice: {', '.join(sorted(rows))}")
    return out


def precision_recall(selected: list[bool], labels: list[int]) -> tuple[float, float]:
    tp = sum(1 for s, y in zip(selected, labels, strict=True) if s and y)
    chosen = sum(selected)
    relevant = sum(labels)
    return (tp / chosen if chosen else 1.0), (tp / relevant if relevant else 1.0)


def average_precision(scores: list[float], labels: list[int]) -> float:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total = 0, 0.0
    for rank, i in enumerate(order, start=1):
        if labels[i]:
            hits += 1
            total += hits / rank
    return total / max(1, sum(labels))


def stratified_folds(labels: list[int], k: int, rnd: random.Random) -> list[list[int]]:
    pos = [i for i, y in enumerate(labels) if y]
    neg = [i for i, y in enumerate(labels) if not y]
    rnd.shuffle(pos)
    rnd.shuffle(neg)
    folds: list[list[int]] = [[] for _ in range(k)]
    for n, i in enumerate(pos + neg):
        folds[n % k].append(i)
    return folds


def cross_validate(
    data: list[tuple[str, ItemText, int, str]],
    items: list[ItemText],
    labels: list[int],
    fits: list[Fit],
    args: argparse.Namespace,
) -> None:
    """Print the cross-validated precision and recall of the learned ranking on top of the
    rules' ``fits`` (the rules' own ranking: in profile first, by strength); the model
    flags only what the rules do not exclude on purpose (as ``tracker.opportunities.relevance``)."""
    rule_sel = [f.fit for f in fits]
    rnd = random.Random(args.seed)
    learned_p, learned_r, model_p, model_r, aps, rule_aps = [], [], [], [], [], []
    flagged_ids: dict[str, int] = {}
    for _ in range(args.repeats):
        scores: list[float] = [0.0] * len(items)
        limits: list[float] = [1.1] * len(items)  # each held-out item's model's flag_at
        for fold in stratified_folds(labels, args.folds, rnd):
            train = [i for i in range(len(items)) if i not in fold]
            model = fit_model([items[i] for i in train], [labels[i] for i in train])
            if model is None:
                continue
            for i in fold:
                scores[i], limits[i] = model.score(items[i]), model.flag_at
        flags = [
            not f.fit and not f.negatives and sc >= lim
            for f, sc, lim in zip(fits, scores, limits, strict=True)
        ]
        for i, fl in enumerate(flags):
            if fl:
                flagged_ids[data[i][0]] = flagged_ids.get(data[i][0], 0) + 1
        selection = [s or fl for s, fl in zip(rule_sel, flags, strict=True)]
        lp, lr = precision_recall(selection, labels)
        mp, mr = precision_recall(
            [sc >= lim for sc, lim in zip(scores, limits, strict=True)], labels
        )
        learned_p.append(lp)
        learned_r.append(lr)
        model_p.append(mp)
        model_r.append(mr)
        # the learned ranking: in-profile first, then flagged, each by learned score
        rank = [2 * s + fl + sc for s, fl, sc in zip(rule_sel, flags, scores, strict=True)]
        aps.append(average_precision(rank, labels))
        # the rules' own ranking: in profile first, by the profile's fit strength
        rule_rank = [2 * f.fit + f.strength for f in fits]
        rule_aps.append(average_precision(rule_rank, labels))

    def mean_sd(xs: list[float]) -> str:
        return f"{statistics.mean(xs):.2f} ± {statistics.pstdev(xs):.2f}"

    print(
        f"learned ranking ({args.folds}-fold cross-validation, {args.repeats} repeats): "
        f"precision {mean_sd(learned_p)}  recall {mean_sd(learned_r)}"
    )
    print(f"  (model alone, score >= its flag threshold: precision {mean_sd(model_p)}, "
          f"recall {mean_sd(model_r)})")  # fmt: skip
    print(f"  average precision as a ranking: learned {mean_sd(aps)}, rules {mean_sd(rule_aps)}")
    for doffin_id, n in sorted(flagged_ids.items(), key=lambda x: -x[1]):
        y = dict((d[0], d[2]) for d in data)[doffin_id]
        print(f"  flagged {doffin_id} in {n}/{args.repeats} repeats ({'relevant' if y else 'not'})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--notices", type=Path, default=NOTICES)
    ap.add_argument("--rules", help="a rules file (default: the shipped rules)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    data = load(args.labels, args.notices)
    rules = load_rules(args.rules) if args.rules else default_rules()
    profile = rules.profile()
    items = [d[1] for d in data]
    labels = [d[2] for d in data]
    fits = [item_fit(profile, item) for item in items]
    rule_sel = [f.fit for f in fits]
    p, r = precision_recall(rule_sel, labels)
    print(f"labelled notices: {len(data)} ({sum(labels)} relevant to the example IT profile)")
    print(f"rule profile:    precision {p:.2f}  recall {r:.2f}  ({sum(rule_sel)} in profile)")
    for (doffin_id, _, y, why), f, s in zip(data, fits, rule_sel, strict=True):
        if s != bool(y):
            what = "missed" if y else "false alarm"
            print(f"  {what:11} {doffin_id}: {why}\n              rule: {f.reason}")

    cross_validate(data, items, labels, fits, args)
    weak = Profile(  # the same profile without its keywords
        cpv_prefixes=profile.cpv_prefixes,
        exclude_cpv_prefixes=profile.exclude_cpv_prefixes,
        negative_keywords=profile.negative_keywords,
        negative_cpv_prefixes=profile.negative_cpv_prefixes,
        keywords=(),
    )
    weak_fits = [item_fit(weak, item) for item in items]
    p, r = precision_recall([f.fit for f in weak_fits], labels)
    print(f"ablation, the profile without keywords: rules precision {p:.2f}  recall {r:.2f}")
    cross_validate(data, items, labels, weak_fits, args)

    full = fit_model(items, labels)
    if full is not None:
        terms = sorted(full.vocabulary.items(), key=lambda t: -full.coef[t[1]])
        top = ", ".join(f"{t} {full.coef[j]:+.2f}" for t, j in terms[:12])
        bottom = ", ".join(f"{t} {full.coef[j]:+.2f}" for t, j in terms[-8:])
        print(f"model on every label: up {top}\n                      down {bottom}")


if __name__ == "__main__":
    main()
