"""Relevance: ONE capability profile for every notice, opportunity, expiry and bid, and a
transparent learned model that can only reorder and flag.

The profile (:mod:`tracker.opportunities.profile`) says whether an item is ours and
why; :func:`relevance` adds what the learned model says.

The learned model (``train_model`` / ``LearnedModel``): a logistic regression on TF-IDF
word features and CPV division/group tokens, trained per installation from the team's
bid/no-bid decisions, starred and dismissed notices and human-confirmed account links
(weak). It is stored as plain weights in the ``kv`` table (``relevance_model``), so every
score can be explained by the words that moved it. It never hides an in-profile item: it
reorders, and flags an out-of-profile item the team's decisions say is relevant.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.opportunities.profile import ItemText, Profile, cpv_digits, item_fit, notice_texts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tracker.db.models import User

MODEL_KEY = "relevance_model"
FLAG_AT = 0.5  # default flag threshold (a model sets its own from its training data)
INNER_FOLDS = 3  # folds of the training data that choose a model's flag threshold
FLAG_PRECISION = 0.8  # share of the team's relevant examples above the flag threshold
MIN_PER_CLASS = 3  # fewer relevant or irrelevant examples: no model, rules only
LINK_WEIGHT = 0.25  # a confirmed account link is a weak sign of relevance

# --------------------------------------------------------------------------- learned model

_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
_STOP_WORDS = (
    "og i på av til for med fra som er en et ei den det de vi skal vil kan om ved eller "
    "the and of to in for with an is are be by on at this that will "
    "anskaffelse anskaffelsen kunngjøring konkurranse kontrakt avtale rammeavtale "
    "levering oppdragsgiver leverandør leverandører"
)
_STOP = frozenset(_STOP_WORDS.split(" "))


def tokens(item: ItemText) -> list[str]:
    """The model's tokens of an item: lower-case words of its title and descriptions (stop
    words dropped) and CPV tokens (division and group of each code: ``cpv:48``,
    ``cpv:480``)."""
    words = [w for w in _WORD.findall(f"{item.title} {item.text}".lower()) if w not in _STOP]
    cpv = []
    for code in item.cpvs:
        d = cpv_digits(code)
        cpv += [f"cpv:{d[:2]}", f"cpv:{d[:3]}"]
    return words + list(dict.fromkeys(cpv))


@dataclass
class LearnedModel:
    """A fitted logistic regression on sublinear TF-IDF features, as plain numbers."""

    vocabulary: dict[str, int]
    idf: list[float]
    coef: list[float]
    intercept: float
    examples: int = 0
    positives: int = 0
    trained_at: str | None = None
    flag_at: float = FLAG_AT  # score from which an out-of-profile item is flagged

    def _vector(self, toks: list[str]) -> dict[int, float]:
        counts = Counter(t for t in toks if t in self.vocabulary)
        vec = {
            self.vocabulary[t]: (1 + math.log(c)) * self.idf[self.vocabulary[t]]
            for t, c in counts.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {j: v / norm for j, v in vec.items()} if norm else {}

    def score(self, item: ItemText) -> float:
        """Probability (0..1) that the team finds ``item`` relevant."""
        vec = self._vector(tokens(item))
        z = self.intercept + sum(self.coef[j] * v for j, v in vec.items())
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))

    def explain(self, item: ItemText, n: int = 3) -> dict[str, Any]:
        """The score and the words that moved it most up and down."""
        vec = self._vector(tokens(item))
        terms = {j: t for t, j in self.vocabulary.items() if j in vec}
        contrib = sorted(((self.coef[j] * v, terms[j]) for j, v in vec.items()), reverse=True)
        return {
            "score": round(self.score(item), 2),
            "up": [{"word": w, "weight": round(c, 2)} for c, w in contrib[:n] if c > 0],
            "down": [{"word": w, "weight": round(c, 2)} for c, w in contrib[::-1][:n] if c < 0],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "vocabulary": self.vocabulary,
            "idf": self.idf,
            "coef": self.coef,
            "intercept": self.intercept,
            "examples": self.examples,
            "positives": self.positives,
            "trained_at": self.trained_at,
            "flag_at": self.flag_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LearnedModel:
        return cls(
            dict(d["vocabulary"]),
            list(d["idf"]),
            list(d["coef"]),
            float(d["intercept"]),
            int(d.get("examples") or 0),
            int(d.get("positives") or 0),
            d.get("trained_at"),
            float(d.get("flag_at") or FLAG_AT),
        )


def _fit(
    items: Sequence[ItemText], labels: Sequence[int], weights: Sequence[float] | None
) -> LearnedModel:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer=tokens, sublinear_tf=True, norm="l2", smooth_idf=True)
    x = vec.fit_transform(list(items))
    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000)
    clf.fit(x, list(labels), sample_weight=list(weights) if weights is not None else None)
    return LearnedModel(
        vocabulary={t: int(j) for t, j in vec.vocabulary_.items()},
        idf=[float(v) for v in vec.idf_],
        coef=[float(v) for v in clf.coef_[0]],
        intercept=float(clf.intercept_[0]),
        examples=len(labels),
        positives=sum(1 for y in labels if y),
    )


def _flag_threshold(
    items: Sequence[ItemText], labels: Sequence[int], weights: Sequence[float] | None
) -> float:
    """The flag threshold learned from the team's examples, each scored by a model that did
    not see it (``INNER_FOLDS``-fold): the lowest score above which at least
    ``FLAG_PRECISION`` of the examples are relevant (``FLAG_AT`` when a fold cannot be
    fitted). On small data the probabilities bunch below 0.5; the threshold follows the
    team's own examples instead of a fixed number."""
    idx = list(range(len(items)))
    pos = [i for i in idx if labels[i]]
    neg = [i for i in idx if not labels[i]]
    folds = [pos[k::INNER_FOLDS] + neg[k::INNER_FOLDS] for k in range(INNER_FOLDS)]
    scores: dict[int, float] = {}
    for fold in folds:
        train = [i for i in idx if i not in set(fold)]
        ys = [labels[i] for i in train]
        if sum(ys) < 2 or len(ys) - sum(ys) < 2:
            return FLAG_AT
        m = _fit([items[i] for i in train], ys, [weights[i] for i in train] if weights else None)
        scores.update({i: m.score(items[i]) for i in fold})
    # The lowest threshold at which the held-out examples above it are still mostly the
    # team's relevant ones (precision first: a wrong flag costs trust), never below the
    # best-scored irrelevant example when none qualifies.
    best = max((scores[i] for i in neg), default=FLAG_AT) + 1e-6
    for t in sorted(set(scores.values()), reverse=True):
        chosen = [i for i in idx if scores[i] >= t]
        hits = sum(1 for i in chosen if labels[i])
        if hits / len(chosen) >= FLAG_PRECISION:
            best = t
    return round(best, 4)


def fit_model(
    items: Sequence[ItemText], labels: Sequence[int], weights: Sequence[float] | None = None
) -> LearnedModel | None:
    """A ``LearnedModel`` fitted with scikit-learn on every example, its flag threshold
    chosen on held-out parts of them (``_flag_threshold``); None with fewer than
    ``MIN_PER_CLASS`` examples of either class."""
    pos = sum(1 for y in labels if y)
    if pos < MIN_PER_CLASS or len(labels) - pos < MIN_PER_CLASS:
        return None
    model = _fit(items, labels, weights)
    model.flag_at = _flag_threshold(items, labels, weights)
    return model


# --------------------------------------------------------------------------- per installation


def training_examples(session: Any) -> list[tuple[int, int, float, str]]:
    """(notice pk, label, weight, where from) of the team's decisions, one per notice
    (latest version of its notice id): a star or dismissal (latest wins), else the latest
    bid/no-bid decision, else a human-confirmed account link (weak positive)."""
    from sqlalchemy import select

    from tracker.db.models import BidDecision, Notice, NoticeLink, NoticeMark

    by_id: dict[str, tuple[int, int, float, str]] = {}
    for nid, pk in session.execute(
        select(Notice.notice_id, Notice.id)
        .join(NoticeLink, NoticeLink.notice_pk == Notice.id)
        .where(NoticeLink.status == "confirmed", NoticeLink.decided_by.is_not(None))
    ):
        by_id[nid] = (pk, 1, LINK_WEIGHT, "confirmed link")
    for nid, pk, decision in session.execute(
        select(Notice.notice_id, Notice.id, BidDecision.decision)
        .join(BidDecision, BidDecision.notice_pk == Notice.id)
        .order_by(BidDecision.decided_at, BidDecision.id)
    ):
        by_id[nid] = (pk, int(decision == "bid"), 1.0, f"{decision} decision")
    for nid, pk, mark in session.execute(
        select(Notice.notice_id, Notice.id, NoticeMark.mark)
        .join(NoticeMark, NoticeMark.notice_pk == Notice.id)
        .order_by(NoticeMark.created_at, NoticeMark.id)
    ):
        why = "starred notice" if mark == "star" else "dismissed notice"
        by_id[nid] = (pk, int(mark == "star"), 1.0, why)
    # each example reads the latest version of its notice
    latest: dict[str, int] = {}
    nids = sorted(by_id)
    for i in range(0, len(nids), 2000):
        latest.update(
            session.execute(
                select(Notice.notice_id, Notice.id).where(
                    Notice.notice_id.in_(nids[i : i + 2000]), Notice.is_latest.is_(True)
                )
            ).all()
        )
    return [(latest.get(nid, pk), y, w, why) for nid, (pk, y, w, why) in by_id.items()]


def train_model(session: Any, now: dt.datetime | None = None) -> LearnedModel | None:
    """Train the installation's model from ``training_examples`` and store it in the
    ``kv`` table (None and the stored model removed when there are too few examples)."""
    from tracker.db.models import KeyValue, utcnow

    examples = training_examples(session)
    texts = notice_texts(session, [pk for pk, _, _, _ in examples])
    rows = [(texts[pk], y, w) for pk, y, w, _ in examples if pk in texts]
    model = fit_model([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    row = session.get(KeyValue, MODEL_KEY)
    if model is None:
        if row is not None:
            session.delete(row)
        session.flush()
        _cache.clear()
        return None
    model.trained_at = (now or utcnow()).isoformat()
    if row is None:
        row = KeyValue(key=MODEL_KEY, value={})
        session.add(row)
    row.value = model.as_dict()
    row.updated_at = now or utcnow()
    session.flush()
    _cache.clear()
    return model


_cache: dict[tuple[Any, ...], LearnedModel | None] = {}


def stored_model(session: Any) -> LearnedModel | None:
    """The installation's stored model (read once per stored version)."""
    from sqlalchemy import select

    from tracker.db.models import KeyValue

    stamp = session.execute(
        select(KeyValue.updated_at).where(KeyValue.key == MODEL_KEY)
    ).scalar_one_or_none()
    if stamp is None:
        return None
    key = (str(session.get_bind().url), stamp)
    if key not in _cache:
        row = session.get(KeyValue, MODEL_KEY)
        _cache.clear()
        _cache[key] = LearnedModel.from_dict(row.value) if row and row.value else None
    return _cache[key]


def relevance(
    profile: Profile, item: ItemText, model: LearnedModel | None = None
) -> dict[str, Any]:
    """The relevance of one item: the profile's fit (``fit``, ``strength``, ``reason``,
    ``cpvs``, ``keywords``), the learned score and its words (``learned``: None without a
    model), ``flagged`` (out of profile but the team's decisions say relevant) and
    ``shown`` (in profile or flagged: shown by default)."""
    f = item_fit(profile, item)
    out = f.as_dict()
    learned = model.explain(item) if model is not None else None
    out["learned"] = learned
    # never flags what the profile excludes on purpose (a negative keyword or main CPV)
    out["flagged"] = bool(
        learned
        and model is not None
        and not f.fit
        and not f.negatives
        and learned["score"] >= model.flag_at
    )
    out["shown"] = f.fit or out["flagged"]
    out["rank"] = (2 if f.fit else 1 if out["flagged"] else 0) + (
        learned["score"] if learned else 0
    )
    return out


__all__ = [
    "FLAG_AT",
    "LearnedModel",
    "fit_model",
    "relevance",
    "stored_model",
    "tokens",
    "train_model",
    "training_examples",
]


MARKS = ("star", "dismiss")


def mark_notice(session: Session, user: User, notice_pk: int, mark: str) -> str:
    """A user's star (relevant to us) or dismissal (not for us) of a notice; the
    installation's relevance model is retrained from every decision
    (``tracker.opportunities.relevance``).
    Returns what happened to the model, in words. Flushes; the caller commits."""
    from sqlalchemy import select

    from tracker.db.models import Notice, NoticeMark, utcnow
    from tracker.errors import NotFoundError, UserError

    if mark not in MARKS:
        raise UserError(f"mark: {mark!r} is not one of {', '.join(MARKS)}")
    if session.get(Notice, notice_pk) is None:
        raise NotFoundError(f"no notice with id {notice_pk}")
    row = session.scalars(
        select(NoticeMark).where(NoticeMark.notice_pk == notice_pk, NoticeMark.user_id == user.id)
    ).first()
    if row is None:
        row = NoticeMark(notice_pk=notice_pk, user_id=user.id, mark=mark)
        session.add(row)
    row.mark, row.created_at = mark, utcnow()
    session.flush()
    model = train_model(session)
    if model is None:
        return "The relevance model needs at least 3 relevant and 3 irrelevant examples."
    return f"Relevance model retrained on {model.examples} decisions."
