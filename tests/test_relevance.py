"""Relevance (tracker.opportunities.relevance): one capability profile, and a learned model that
can only
reorder and flag. On the real notices, with their hand labels for the example IT profile."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, REAL
from tracker.db.models import BidDecision, KeyValue, Notice, NoticeMark, User
from tracker.notices.eforms import parse_notice
from tracker.notices.files import ingest_paths
from tracker.opportunities.profile import ItemText, item_fit, item_from_parsed, notice_texts
from tracker.opportunities.relevance import (
    fit_model,
    relevance,
    stored_model,
    train_model,
    training_examples,
)
from tracker.rules import default_rules, parse_rules

PROFILE = default_rules().profile()
LABELS = {
    r["doffin_id"]: (int(r["relevant"]), r["reason"])
    for r in csv.DictReader(
        (FIXTURES / "relevance" / "it-profile-labels.csv").open(encoding="utf-8", newline="")
    )
}


def _real(doffin_id: str) -> ItemText:
    [path] = [p for p in REAL.glob("*.xml") if doffin_id in p.name]
    return item_from_parsed(parse_notice(path.read_bytes()))


def test_every_real_notice_is_labelled_with_a_reason() -> None:
    ids = {next(k for k in LABELS if k in p.name) for p in REAL.glob("*.xml")}
    assert ids == set(LABELS) and len(LABELS) == 57
    assert all(reason.strip() for _, reason in LABELS.values())


# The out-of-profile examples among the real notices: kiosk, parking, canteen,
# guard services, cleaning and waste (and meeting catering).
OUT_OF_PROFILE = {
    "2023-664435": "kiosk",
    "2022-642893": "parkering",
    "2024-111341": "kantine",
    "2022-927623": "vakt",
    "2024-106969": "main CPV 90512000",
    "2023-661116": "renholdsverk",
    "2023-307227": "møtemat",
}


@pytest.mark.parametrize("doffin_id", sorted(OUT_OF_PROFILE))
def test_kiosk_parking_canteen_guard_and_cleaning_are_never_fit(doffin_id: str) -> None:
    fit = item_fit(PROFILE, _real(doffin_id))
    assert fit.fit is False and fit.strength == 0
    assert fit.reason.startswith("out of profile") and OUT_OF_PROFILE[doffin_id] in fit.reason


@pytest.mark.parametrize(
    ("title", "cpv", "text"),
    [
        ("Drift av kiosk og kafé", "72000000", "IT-drift, servere, lisenser og nettverk"),
        ("Parkeringssystem med programvare og lisenser", "48000000", "IT"),
        ("Kantinedrift med IKT-utstyr", "30200000", "PC og nettverk"),
        ("Vakt- og sikkerhetstjenester inkl. IT-sikkerhet", "79713000", "IT"),
        ("Renhold av datasenter og serverrom", "90910000", "IT-infrastruktur, servere"),
        ("Rammeavtale", "90910000", "IT, programvare og lisenser"),  # cleaning by its CPV
    ],
)
def test_negative_words_and_codes_win_over_it_words(title: str, cpv: str, text: str) -> None:
    assert not PROFILE.fit([cpv], cpv, title, text).fit


@pytest.mark.parametrize(
    ("title", "cpv", "text", "fit"),
    [
        ("Bærbare PC-er til skolene", "39000000", "", True),  # keyword in the title
        ("Rammeavtale", "48000000", "", True),  # main CPV ours
        ("Rammeavtale", "35120000", "kamera med lagringsservere og klienter", False),
        ("Toppsystem", "35120000", "kamerasystem med servere og klienter", True),  # two words
        ("Drift av parkering", "63712400", "", False),
        ("Drift av skolens systemer", "79000000", "", False),  # 'drift' is no keyword
        ("Skyss: billettautomater", "34000000", "", False),  # 'sky' is no keyword
        ("it is fine", "79000000", "", False),  # IT only in capitals
        ("Lisenser for kartprogram", "22000000", "", True),  # lisens* matches lisenser
    ],
)
def test_keywords_match_on_word_boundaries(title: str, cpv: str, text: str, fit: bool) -> None:
    assert PROFILE.fit([cpv], cpv, title, text).fit is fit


def test_another_cpv_needs_a_keyword_in_the_description() -> None:
    cpvs = ["35120000", "48000000"]  # the metro video-management system (2023-604437)
    alone = PROFILE.fit(cpvs, "35120000", "Toppsystem VMS - T-banen", "kamerasystem")
    assert not alone.fit and "only an additional CPV" in alone.reason
    both = PROFILE.fit(cpvs, "35120000", "Toppsystem", "med lagringsservere og klienter")
    assert both.fit and "48000000 Programvare og informasjonssystemer" in both.reason
    assert both.cpvs == (("48000000", "Programvare og informasjonssystemer"),)


def test_cpv_prefixes_carry_their_norwegian_names() -> None:
    assert PROFILE.labels["48"] == "Programvare og informasjonssystemer"
    assert PROFILE.labels["302"] == "Datautstyr og -materiell"
    # a code we excluded under our prefixes (field data collection) is not ours
    excluded = PROFILE.fit(["72314000"], "72314000", "Feltundersøkelser", "")
    assert not excluded.fit and excluded.negatives == ("72314000",)
    assert "is excluded from our profile" in excluded.reason


def test_rule_profile_precision_on_the_labelled_real_notices() -> None:
    chosen = relevant = hits = 0
    for path in REAL.glob("*.xml"):
        label, _ = LABELS[next(k for k in LABELS if k in path.name)]
        fit = item_fit(PROFILE, item_from_parsed(parse_notice(path.read_bytes()))).fit
        chosen += fit
        relevant += label
        hits += fit and label
    precision, recall = hits / chosen, hits / relevant
    print(f"rule profile on {len(LABELS)} labelled notices: precision {precision:.2f}, "
          f"recall {recall:.2f}")  # fmt: skip
    assert precision >= 0.9  # the target (bench/relevance.py prints the detail)


def test_per_account_profile_overrides() -> None:
    rules = parse_rules(
        '[accounts."Helse Sør-Øst RHF".profile]\n'
        'cpv_prefixes = ["302", "48", "72", "33"]\nkeywords = ["IT", "medisinsk utstyr"]\n',
        "team.toml",
    )
    angio = _real("2023-100718")
    assert not item_fit(rules.profile(), angio).fit
    assert item_fit(rules.profile("Helse Sør-Øst RHF"), angio).fit is False  # 33 is negative
    rules = parse_rules(
        '[accounts."Helse Sør-Øst RHF".profile]\ncpv_prefixes = ["33"]\n'
        "negative_cpv_prefixes = []\n",
        "team.toml",
    )
    assert item_fit(rules.profile("Helse Sør-Øst RHF"), angio).fit
    assert not item_fit(rules.profile("Forsvaret"), angio).fit


def _labelled() -> tuple[list[ItemText], list[int]]:
    items, labels = [], []
    for path in sorted(REAL.glob("*.xml")):
        items.append(item_from_parsed(parse_notice(path.read_bytes())))
        labels.append(LABELS[next(k for k in LABELS if k in path.name)][0])
    return items, labels


def test_learned_model_is_transparent_and_equals_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tracker.opportunities.relevance import tokens

    items, labels = _labelled()
    model = fit_model(items, labels)
    assert model is not None and model.examples == 57 and model.positives == 10
    vec = TfidfVectorizer(analyzer=tokens, sublinear_tf=True, norm="l2", smooth_idf=True)
    x = vec.fit_transform(items)
    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000).fit(x, labels)
    for item, p in zip(items, clf.predict_proba(x)[:, 1], strict=True):
        assert model.score(item) == pytest.approx(p, abs=1e-9)
    why = model.explain(_real("2023-336496"))  # e-book lending system
    assert why["score"] > model.flag_at and why["up"]
    assert all(w["weight"] > 0 for w in why["up"]) and all(w["weight"] < 0 for w in why["down"])


def test_too_few_examples_give_no_model() -> None:
    items, labels = _labelled()
    pos = [i for i, y in zip(items, labels, strict=True) if y][:2]
    neg = [i for i, y in zip(items, labels, strict=True) if not y][:10]
    assert fit_model(pos + neg, [1, 1] + [0] * 10) is None


def test_the_model_only_reorders_and_flags_never_hides_an_in_profile_item() -> None:
    items, labels = _labelled()
    # a model that learned the opposite of the labels
    model = fit_model(items, [1 - y for y in labels])
    assert model is not None
    for item, y in zip(items, labels, strict=True):
        r = relevance(PROFILE, item, model)
        if r["fit"]:
            assert r["shown"] and not r["flagged"]
        else:
            flag = not r["negatives"] and r["learned"]["score"] >= model.flag_at
            assert r["shown"] == r["flagged"] == flag
    vms = relevance(PROFILE, _real("2023-604437"), model)
    assert vms["fit"] and vms["shown"] and vms["learned"]["score"] < model.flag_at
    # what the profile excludes on purpose is never flagged, whatever the model says
    kiosk = relevance(PROFILE, _real("2023-664435"), model)
    assert kiosk["negatives"] and not kiosk["flagged"] and not kiosk["shown"]


def test_the_flag_threshold_comes_from_held_out_team_examples() -> None:
    items, labels = _labelled()
    model = fit_model(items, labels)
    assert model is not None and 0 < model.flag_at < 1
    # the stored form keeps it
    from tracker.opportunities.relevance import LearnedModel

    assert LearnedModel.from_dict(model.as_dict()).flag_at == model.flag_at


def test_training_from_decisions_marks_and_confirmed_links(
    engine: Engine, tracker_env: dict[str, str]
) -> None:
    assert ingest_paths(engine, [REAL])["failed"] == 0
    with Session(engine) as s:
        user = User(email="kam@example.no", role="kam", password_hash="x")
        s.add(user)
        s.flush()
        files = {next(k for k in LABELS if k in p.name): p for p in REAL.glob("*.xml")}
        ids = {}
        for doffin_id, path in files.items():
            nid = parse_notice(path.read_bytes()).notice_id
            ids[doffin_id] = s.scalar(
                select(Notice.id).where(Notice.notice_id == nid, Notice.is_latest.is_(True))
            )
        assert train_model(s) is None and stored_model(s) is None  # nothing learned yet
        relevant = [k for k, (y, _) in LABELS.items() if y][:5]
        other = [k for k, (y, _) in LABELS.items() if not y][:5]
        for k in relevant[:3]:
            s.add(NoticeMark(notice_pk=ids[k], user_id=user.id, mark="star"))
        for k in other[:3]:
            s.add(NoticeMark(notice_pk=ids[k], user_id=user.id, mark="dismiss"))
        s.add(BidDecision(notice_pk=ids[relevant[3]], decision="bid", decided_by="d", why="x"))
        s.add(BidDecision(notice_pk=ids[other[3]], decision="no-bid", decided_by="d", why="x"))
        s.flush()
        examples = training_examples(s)
        assert sorted((y, w) for _, y, w, _ in examples) == [(0, 1.0)] * 4 + [(1, 1.0)] * 4
        model = train_model(s, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        s.commit()
        assert model is not None and model.examples == 8 and model.positives == 4
        row = s.get(KeyValue, "relevance_model")
        assert row is not None and row.value["coef"] and row.value["vocabulary"]
        loaded = stored_model(s)
        assert loaded is not None and loaded.coef == model.coef
        # a human-confirmed account link is a weak positive
        from tracker.db.models import NoticeLink

        link = s.scalars(select(NoticeLink).where(NoticeLink.notice_pk == ids[relevant[4]])).first()
        if link is not None:
            link.status, link.decided_by = "confirmed", "kam@example.no"
            s.flush()
            weak = [w for pk_, _, w, why in training_examples(s) if why == "confirmed link"]
            assert weak == [0.25]


def test_stored_notice_reads_like_the_parsed_one(
    engine: Engine, tracker_env: dict[str, str]
) -> None:
    assert ingest_paths(engine, [REAL])["failed"] == 0
    with Session(engine) as s:
        rows = s.execute(select(Notice.id, Notice.notice_id).where(Notice.is_latest)).all()
        texts = notice_texts(s, [r.id for r in rows])
    parsed = {}
    for path in REAL.glob("*.xml"):
        n = parse_notice(path.read_bytes())
        parsed[n.notice_id] = item_from_parsed(n)
    for pk, nid in rows:
        assert texts[pk] == parsed[nid], nid
