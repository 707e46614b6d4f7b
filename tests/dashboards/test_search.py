"""Search that finds: full CPV codes as prefixes, accent- and case-folded text, orgnrs
with spaces, bad filters shown beside their field, pages clamped (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.db.models import Notice, NoticeBuyer
from tracker.notices.search import fold, normalise_cpv, normalise_orgnr


def _ids(client, query: str) -> list[int]:
    data = client.get(f"/api/notices?{query}").json()
    assert data["total"] == len(data["items"]) or data["pages"] > 1
    return [n["id"] for n in data["items"]]


def test_cpv_normalisation() -> None:
    assert normalise_cpv("72000000") == "72"
    assert normalise_cpv("72000000-5") == "72"
    assert normalise_cpv("72200000") == "722"
    assert normalise_cpv("30213100-6") == "302131"
    assert normalise_cpv("72") == "72"
    assert normalise_cpv("10000000") == "10"
    assert normalise_orgnr("916 879 067") == "916879067"
    assert normalise_orgnr("NO 916 879 067 MVA") == "916879067"
    assert normalise_orgnr("Sykehusinnkjøp") is None
    assert fold("SYKEHUSINNKJØP Ærlig Åsgård") == fold("sykehusinnkjop aerlig asgard")


def test_a_full_cpv_code_finds_what_its_prefix_finds(client_for, world) -> None:
    client = client_for("kam")
    with Session(world["engine"]) as s:
        cpvs = sorted({c for c in s.scalars(select(Notice.main_cpv).distinct()) if c})
    division = cpvs[0][:2]
    by_prefix = _ids(client, f"cpv={division}&all_versions=1")
    assert by_prefix
    assert _ids(client, f"cpv={division}000000&all_versions=1") == by_prefix
    assert _ids(client, f"cpv={division}000000-5&all_versions=1") == by_prefix
    # a full code of a notice finds it, with and without the check digit
    code = cpvs[-1]
    prefix = code.rstrip("0")
    found = _ids(client, f"cpv={prefix}")
    assert found and _ids(client, f"cpv={code}") == found == _ids(client, f"cpv={code}-3")


def test_text_is_case_and_accent_folded(client_for, world) -> None:
    client = client_for("kam")
    with Session(world["engine"]) as s:
        titles = dict(s.execute(select(Notice.id, Notice.title).where(Notice.is_latest)).all())
    word, pk = next(
        (w, pk)
        for pk, title in sorted(titles.items())
        for w in re.findall(r"\w+", title or "")
        if len(w) >= 6 and re.search("[æøåÆØÅ]", w)
    )
    plain = fold(word)
    assert plain.isascii() and plain != word.lower()
    for typed in (plain, plain.upper(), word, word.upper()):
        assert pk in _ids(client, f"text={typed}&per_page=200"), typed
    # the buyer's name too: "Sykehusinnkjop" finds "SYKEHUSINNKJØP HF" and "Sykehusinnkjøp HF"
    with_o = _ids(client, "buyer=Sykehusinnkjop")
    assert with_o and with_o == _ids(client, "buyer=SYKEHUSINNKJØP")


def test_orgnr_with_spaces(client_for, world) -> None:
    client = client_for("kam")
    with Session(world["engine"]) as s:
        orgnr = s.scalars(select(NoticeBuyer.orgnr).where(NoticeBuyer.orgnr.is_not(None))).first()
    spaced = f"{orgnr[:3]} {orgnr[3:6]} {orgnr[6:]}"
    plain = _ids(client, f"buyer={orgnr}")
    assert plain and _ids(client, f"buyer={spaced}") == plain
    assert _ids(client, f"buyer=NO {spaced} MVA") == plain


def test_a_bad_filter_keeps_the_form_and_shows_the_error_beside_its_field(client_for) -> None:
    client = client_for("kam")
    res = client.get("/search?text=kiosk&cpv=IT-tjenester&date_from=2023-01-01")
    assert res.status_code == 400
    html = res.text
    cpv_label = html.split('name="cpv"')[1].split("</label>")[0]
    assert 'id="err-cpv"' in cpv_label and "is not a CPV code" in cpv_label
    assert 'aria-invalid="true"' in html.split('name="cpv"')[1].split(">")[0]
    assert 'value="IT-tjenester"' in html  # kept as typed
    assert 'value="kiosk"' in html and 'value="2023-01-01"' in html
    assert 'id="err-text"' not in html
    res = client.get("/search?date_from=2023-02-01&date_to=2023-01-01")
    assert res.status_code == 400 and 'id="err-date_to"' in res.text
    # the API says it in one line naming the field
    api = client.get("/api/notices?cpv=IT")
    assert api.status_code == 400 and "cpv" in api.text


def test_page_beyond_the_last_is_clamped(client_for) -> None:
    client = client_for("kam")
    first = client.get("/api/notices").json()
    last = client.get(f"/api/notices?page={first['pages'] + 50}").json()
    assert last["page"] == first["pages"] and last["items"]
    html = client.get(f"/search?page={first['pages'] + 50}").text
    assert f"page {first['pages']} of {first['pages']}" in html
