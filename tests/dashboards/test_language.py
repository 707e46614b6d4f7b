"""Norwegian pages: the language switch, Oslo times, Norwegian dates and amounts, and a
label for every code (issue 14)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from dashboards import filters
from tests.dashboards.conftest import DIATERMI, USERS, csrf_from, notice_pk
from tracker import i18n
from tracker.db.engine import session_scope
from tracker.db.models import Lot, User
from tracker.formats import labels

DATA = Path(__file__).resolve().parents[2] / "tracker" / "data"
OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture
def nb() -> Iterator[None]:
    token = i18n.set_language("nb")
    yield
    i18n._current.reset(token)


@pytest.fixture
def en() -> Iterator[None]:
    token = i18n.set_language("en")
    yield
    i18n._current.reset(token)


@pytest.fixture
def norwegian_default() -> Iterator[None]:
    """The product default (the suite pins English for the older tests)."""
    original = i18n.DEFAULT_LANGUAGE
    i18n.DEFAULT_LANGUAGE = "nb"
    yield
    i18n.DEFAULT_LANGUAGE = original


def test_times_are_oslo_times(nb) -> None:
    # 2023-649037: deadline 13:00+02:00 was shown as "11:00"
    aware = dt.datetime(2023, 6, 5, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert filters.date(aware) == "05.06.2023 kl. 13.00"
    stored = dt.datetime(2023, 6, 5, 11, 0)  # the database keeps UTC, naive
    assert filters.date(stored) == "05.06.2023 kl. 13.00"
    assert filters.clock(stored) == "kl. 13.00"
    # 2022-902600 says 25.11 00:00+02:00, shown as "2022-11-24 22:00" (UTC): in Oslo
    # (CET, +01:00 in November) that instant is 23:00 the day before; the notice's
    # offset is a summer one, so the page shows the Oslo time of the instant it gives
    assert filters.date("2022-11-25T00:00:00+02:00") == "24.11.2022 kl. 23.00"
    assert filters.date("2022-11-25T00:00:00+01:00") == "25.11.2022 kl. 00.00"
    assert filters.day("2022-11-25T00:00:00+01:00") == "25.11.2022"
    assert filters.date("2022-11-24T23:00:00Z") == "25.11.2022 kl. 00.00"  # winter: +01:00
    # ...but the parser reads a summer offset written in winter as the buyer's Oslo time
    # (tracker.notices.xmlread.oslo_wall_clock), so the stored deadlines show as the notices say
    from tracker.notices.eforms import parse_notice

    real = Path(__file__).resolve().parents[1] / "fixtures" / "notices" / "doffin-real"
    for name, shown in [
        ("ContractNotice_cn-social_2022-902600.xml", "25.11.2022 kl. 00.00"),
        ("ContractNotice_cn-standard_2023-649037.xml", "17.03.2023 kl. 13.00"),
    ]:
        lot = parse_notice((real / name).read_bytes()).lots[0]
        assert filters.date(lot.submission_deadline) == shown, name
    assert filters.date(dt.date(2023, 2, 22)) == "22.02.2023"
    assert filters.date("2023-02-22") == "22.02.2023"


def test_amounts_in_norwegian(nb) -> None:
    assert filters.money(23_000_000, "NOK") == "23\u00a0000\u00a0000\u00a0kr"
    assert filters.money(30000000.0, "NOK") == "30\u00a0000\u00a0000\u00a0kr"
    assert filters.money(1500, "EUR") == "1\u00a0500\u00a0EUR"
    assert filters.mnok(23_000_000) == "23\u00a0mill.\u00a0kr"
    assert filters.mnok(2_400_000) == "2,4\u00a0mill.\u00a0kr"
    assert filters.pct(12.5) == "12,5"
    assert filters.days(0) == "i dag" and filters.days(3) == "3 dager igjen"
    assert filters.days(-1) == "for 1 dag siden"


def test_english_by_choice(en) -> None:
    assert filters.money(23_000_000, "NOK") == "23,000,000\u00a0NOK"
    assert filters.date(dt.datetime(2023, 6, 5, 11, 0)) == "05.06.2023 13:00"
    assert labels.lot("LOT-0002", 3) == "Lot 3"
    assert labels.phase("influence_open") == "influence window open"


def test_a_label_for_every_code(nb) -> None:
    with (DATA / "cpv.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    sample = rows[:: max(len(rows) // 50, 1)]
    for row in sample:
        assert labels.cpv(row["code"]) == row["nob"]
        assert labels.cpv(f"{row['code']}-5") == row["nob"]  # with its check digit
    assert labels.cpv("72") == next(r["nob"] for r in rows if r["code"] == "72000000")
    assert labels.framework("fa-wo-rc") == "Rammeavtale uten gjenåpning av konkurransen"
    assert labels.legal_type("body-pl") == "Offentligrettslig organ"
    assert labels.procedure("open") == "Åpen anbudskonkurranse"
    assert labels.subtype("16") == "Kunngjøring av konkurranse"
    assert labels.end_source("framework_default") == "standard for rammeavtaler (4 år)"
    assert labels.end_source("conclusion+duration") == "kontraktsinngåelse + varighet"
    assert labels.buyer_type("health_trust") == "helseforetak"
    assert labels.link_method("central_purchasing") == "innkjøpssentral"
    assert labels.confidence(0.7) == "70\u00a0%"
    assert labels.duration("31.00 MONTH") == "31 måneder"
    assert labels.duration("1 YEAR") == "1 år"
    assert labels.lot("LOT-0000") == "Delkontrakt 1"
    assert labels.lot("LOT-0000", 1) == ""  # one lot: no lot name
    assert labels.yes_no(True) == "ja"
    # the tracker's own vocabularies all have words
    from tracker.accounts.keyaccounts import BUYER_TYPES, TIERS
    from tracker.bids.decisions import BID_STATUSES, CAPACITIES, DECISIONS
    from tracker.bids.scoring import RECOMMENDATIONS
    from tracker.notices.search import PHASES as NOTICE_PHASES
    from tracker.opportunities.windows import PHASES

    for code in PHASES + NOTICE_PHASES:
        assert labels.phase(code) != code.replace("_", " ") or code in ("overdue",), code
        assert "_" not in labels.phase(code)
    for code in BID_STATUSES + DECISIONS + RECOMMENDATIONS + CAPACITIES:
        assert code in labels.STATUSES, code
    for code in BUYER_TYPES:
        assert code in labels.BUYER_TYPES, code
    for code in TIERS:
        assert code in labels.TIERS, code


def _client_nb(client_for, who: str):
    client = client_for(who)
    page = client.get("/me")
    res = client.post(
        "/me/language",
        data={"language": "nb", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert res.status_code == 303
    return client


@pytest.fixture
def reset_languages(world) -> Iterator[None]:
    yield
    with session_scope(world["engine"]) as s:
        s.execute(update(User).values(language=None))


def test_language_switch_on_the_profile_page(world, client_for, reset_languages) -> None:
    client = client_for("kam")
    assert '<html lang="en">' in client.get("/me").text  # the suite's default
    client = _client_nb(client_for, "kam")
    page = client.get("/me").text
    assert '<html lang="nb">' in page and "Logg ut" in page and "Språk lagret." in page
    with session_scope(world["engine"]) as s:
        assert s.scalar(select(User.language).where(User.email == USERS["kam"])) == "nb"
    # another user keeps their own language
    assert '<html lang="en">' in client_for("director").get("/me").text
    # a bad value is refused with its field named; no CSRF token, no change
    bad = client.post("/me/language", data={"language": "sv", "csrf_token": csrf_from(page)})
    assert bad.status_code == 400 and "language" in html.unescape(bad.text)
    assert client.post("/me/language", data={"language": "en"}).status_code == 403
    assert '<html lang="nb">' in client.get("/me").text


def test_norwegian_is_the_default(world, client_for, norwegian_default) -> None:
    page = client_for("bid").get("/bids?show=all").text
    assert '<html lang="nb">' in page and "Åpne konkurranser" in page


def test_bids_and_notice_pages_show_deadlines_in_oslo_time(
    world, client_for, reset_languages
) -> None:
    client = _client_nb(client_for, "kam")
    pk = notice_pk(world["engine"], DIATERMI)
    with session_scope(world["engine"]) as s:
        deadline = s.scalar(select(Lot.submission_deadline).where(Lot.notice_pk == pk))
    assert deadline is not None
    local = (deadline if deadline.tzinfo else deadline.replace(tzinfo=dt.UTC)).astimezone(OSLO)
    expected = f"{local:%d.%m.%Y} kl. {local:%H.%M}"
    notice = html.unescape(client.get(f"/notices/{pk}").text)
    summary = notice.split('id="summary"', 1)[1].split("</section>", 1)[0]
    assert expected in summary
    bids = html.unescape(client.get("/bids?show=all").text)
    row = bids.split(f'id="bid-{pk}"', 1)[1].split("</tr>", 1)[0]
    assert expected in row
    # the raw fields are folded away, codes keep their tooltip
    assert '<details class="card" id="fields">' in notice
    assert re.search(r'title="CPV \d{8}', notice)


def test_the_message_after_a_change_is_in_the_users_language(
    world, client_for, reset_languages
) -> None:
    """The one-time message after a change speaks the language of the user who acted,
    labels included (role names, not codes)."""
    admin = _client_nb(client_for, "admin")
    users = admin.get("/admin/users")
    with session_scope(world["engine"]) as s:
        kari = s.scalars(select(User).where(User.email == USERS["kam2"])).one()
        kari_id, kari_role = kari.id, kari.role
    res = admin.post(
        f"/admin/users/{kari_id}/role",
        data={"role": "director", "csrf_token": csrf_from(users.text)},
        follow_redirects=True,
    )
    flash = re.search(r'<p class="flash[^"]*" role="status">([^<]*)</p>', res.text)
    assert flash and flash.group(1) == f"{USERS['kam2']}: rolle salgsdirektør.", res.text[:3000]
    with session_scope(world["engine"]) as s:
        s.execute(update(User).where(User.id == kari_id).values(role=kari_role))


def test_every_score_component_has_a_label_in_both_languages() -> None:
    """The score's parts (tracker.bids.scoring.COMPONENTS) read in the user's language;
    the English label is the domain's own."""
    from tracker.bids.scoring import COMPONENTS

    assert {name for name, _ in COMPONENTS} == set(labels.SCORE_COMPONENTS)
    for name, english in COMPONENTS:
        en, nb = labels.SCORE_COMPONENTS[name]
        assert en == english and nb and nb != en


def test_the_reason_beside_each_opportunity_reads_in_norwegian(
    world, client_for, reset_languages
) -> None:
    """The one-line reason (tracker.opportunities.explain) was English on Norwegian pages."""
    client = _client_nb(client_for, "kam")
    page = html.unescape(client.get("/?all=1").text)
    reasons = re.findall(r'<tr class="reason"><td colspan="\d+"><small class="muted">([^<]+)', page)
    assert reasons, "no opportunity reason on the KAM home"
    for reason in reasons:
        assert re.search(
            r"\b(Avtalen|Kontrakten|Konkurranse|Markedsdialog|Forhåndskunngjøring)\b", reason
        ), reason
        assert not re.search(r"\b(ends|expected|influence|Agreement)\b", reason), reason
        assert not re.search(r"\d{4}-\d{2}-\d{2}", reason), reason  # days as dd.mm.åååå


def test_notice_pages_have_no_english_left_in_norwegian(world, client_for, reset_languages) -> None:
    """Every real notice's page in bokmål: what it asks before the competition, why nothing
    was awarded, where each fact was read and the contract notes are Norwegian (they were
    English, marked lang="en")."""
    from tracker.db.models import Notice

    client = _client_nb(client_for, "kam")
    with session_scope(world["engine"]) as s:
        pks = list(s.scalars(select(Notice.id)))
    assert len(pks) > 40
    english = re.compile(
        r"lang=\"en\"|\(text \(|notice field|asks the market|call for competition|"
        r"no winner chosen|award has not been seen|coming competition"
    )
    seen = {"pretender": 0, "evidence": 0}
    for pk in pks:
        page = html.unescape(client.get(f"/notices/{pk}").text)
        found = english.search(page)
        assert found is None, (pk, page[found.start() - 80 : found.end() + 80])
        seen["pretender"] += 'id="pretender"' in page
        seen["evidence"] += "teksten (" in page
    assert seen["pretender"] >= 10 and seen["evidence"] >= 5, seen


def test_a_dated_cell_names_its_source_escaped_in_the_readers_language() -> None:
    """``dated`` (dashboards.filters): the date as dd.mm.åååå with its source in a tooltip
    and as small text; the basis quoted from a notice is escaped, never markup."""
    from dashboards.filters import dated
    from tracker.i18n import speaking

    row = {
        "expiry": "2027-03-31",
        "sources": {
            "expiry": {"kind": "notice", "basis": 'notice text: "<b>31.03.2027</b>"'},
            "expected_publication": {"kind": "rule", "basis": "x", "rule": "windows.a"},
        },
    }
    with speaking("nb"):
        html = str(dated(row, "expiry"))
        ruled = str(dated(row, "expected_publication", "2026-09-30"))
        plain = str(dated({"expiry": "2027-01-02"}, "expiry"))
    assert html.startswith('<span class="dated" title="kilde: notice – notice text: &#34;&lt;b&gt;')
    assert ">31.03.2027</span>" in html and "<b>" not in html
    assert "regel windows.a i rules.toml" in ruled and ">30.09.2026</span>" in ruled
    assert plain == "02.01.2027"


def test_the_pages_gettext_formats_and_escapes_as_jinjas_newstyle_gettext() -> None:
    """``_`` in the templates (dashboards.app, called without jinja2.ext's two
    indirections) gives what jinja2.ext's newstyle gettext gives: translated, values
    escaped, ``%%`` a percent sign, in bokmål and English."""
    from jinja2 import Environment

    from dashboards.app import _templates
    from tracker import i18n
    from tracker.i18n import speaking

    ours = _templates().env
    theirs = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    theirs.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    source = (
        "{{ _('source') }}|{{ _('rule %(rule)s in rules.toml', rule='<b>&') }}|"
        "{{ gettext('100 %% sure') }}|{{ _('Deadline in %(days)s days', days=3) }}"
    )
    for lang in ("nb", "en"):
        with speaking(lang):
            got = ours.from_string(source).render()
            assert got == theirs.from_string(source).render()
            assert "&lt;b&gt;&amp;" in got and "100 % sure" in got
    with speaking("nb"):
        assert ours.from_string(source).render().startswith("kilde|regel &lt;b&gt;&amp;")


def test_row_dot_name_in_the_templates_reads_as_in_jinja() -> None:
    """``row.name`` on a plain dict reads the item at once (dashboards.app._Environment);
    dict's own attributes, missing keys and objects read as Jinja reads them."""
    from types import SimpleNamespace

    from jinja2 import Environment

    from dashboards.app import _templates

    ours, theirs = _templates().env, Environment(autoescape=True)
    source = (
        "{{ d.title }}|{{ d['title'] }}|{{ d.items is callable }}|{{ d.missing is undefined }}"
        "|{{ o.title }}|{{ d.get('title') }}|{{ d.values is callable }}"
    )
    row = {"title": "<Skole>", "items": 3, "values": [1]}
    args = {"d": row, "o": SimpleNamespace(title="Kantine")}
    got = ours.from_string(source).render(**args)
    assert got == theirs.from_string(source).render(**args)
    assert got == "&lt;Skole&gt;|&lt;Skole&gt;|True|True|Kantine|&lt;Skole&gt;|True"


def test_a_reason_row_says_reason_note_funding_windows_and_fit_escaped() -> None:
    """``reason_row`` (dashboards.filters): the reason and note, the funding windows with
    dates as dd.mm.åååå, status, the primary one and milestones, and the profile's verdict,
    every value escaped; no row without a reason or note."""
    from dashboards.filters import reason_row
    from tracker.i18n import speaking

    window = {
        "start": "2025-10-01",
        "end": "2026-03-31",
        "status": "open",
        "buyer_type": "municipality",
        "milestones": [{"name": "<budsjett>", "date": "2025-11-15"}],
    }
    row = {
        "reason": "Rammeavtalen <utløper>",
        "note": "probably extended: ask the buyer",
        "budget_windows": {"publication": None, "contract_start": window},
        "budget_window": {"anchor": "contract_start"},
        "fit": {"reason": "in profile"},
    }
    with speaking("en"):
        html = str(reason_row(row, 5))
    assert html.startswith('<tr class="reason"><td colspan="5"><small class="muted">')
    assert "Rammeavtalen &lt;utløper&gt; · <strong>probably extended: ask the buyer" in html
    assert (
        "before the contract start 01.10.2025 – 31.03.2026 (open, primary: "
        "&lt;budsjett&gt; 15.11.2025)</small>" in html
    )
    assert "before the decision to procure" not in html and "<budsjett>" not in html
    assert html.endswith('<br><small class="muted">in profile</small></td></tr>')
    assert str(reason_row({"reason": None, "note": ""}, 5)) == ""


def test_budget_milestones_read_in_the_readers_language() -> None:
    from tracker.opportunities.budget import _window_of
    from tracker.rules import default_rules

    calendar = default_rules().budget_calendar("state")
    _, _, inside = _window_of(calendar, 2024)  # October 2023 to March 2024
    names = [name for name, _ in inside]
    assert "budget proposal presented (budget 2024)" in names  # stored as the rules say
    with i18n.speaking("nb"):
        shown = [labels.milestone(n) for n in names]
    assert "budsjettforslaget legges fram (budsjett 2024)" in shown
    assert "budsjettet vedtas av Stortinget (budsjett 2024)" in shown
    assert not [s for s in shown if "budget" in s], shown
    with i18n.speaking("en"):
        assert [labels.milestone(n) for n in names] == names
    with i18n.speaking("nb"):  # a user's own milestone is shown as written
        assert labels.milestone("kommunestyret vedtar (budget 2025)") == (
            "kommunestyret vedtar (budsjett 2025)"
        )
        assert labels.milestone("assignment document") == "oppdragsdokument"
        assert labels.milestone(None) == "–"
