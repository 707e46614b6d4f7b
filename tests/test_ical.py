"""iCalendar export (tracker.formats.ical): RFC 5545 output with stable UIDs."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar

from tracker.formats.ical import build_calendar, calendar_events

NOW = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)

OPP = {
    "key": "retender:c1:1",
    "title": "Rammeavtale IKT-utstyr",
    "buyer": "Sykehusinnkjøp HF",
    "account": "Sykehusinnkjøp HF",
    "published": False,
    "influence_opens": dt.date(2025, 9, 30),
    "drafting_starts": dt.date(2026, 9, 30),
    "expected_publication": dt.date(2027, 3, 30),
    "expected_deadline": dt.date(2027, 4, 29),
    "expiry": dt.date(2027, 9, 30),
    "budget_window": {
        "start": dt.date(2026, 10, 1),
        "end": dt.date(2027, 3, 31),
        "status": "open",
        "buyer_type": "health_trust",
        "milestones": [{"name": "assignment document", "date": dt.date(2027, 1, 31)}],
    },
    "reason": "Agreement ... influence is still possible for 122 days, until publication",
}
BID = {
    "notice_id": "8b7c3f3e-1111-2222-3333-444455556666",
    "title": "Kjøp av servere",
    "buyer": "NAV",
    "deadline": dt.date(2026, 12, 20),
    "url": "https://doffin.no/notices/2026-100001",
}


def _events(data: bytes) -> dict[str, dict]:
    cal = Calendar.from_ical(data)
    out = {}
    for ev in cal.walk("VEVENT"):
        out[str(ev["UID"])] = {
            "summary": str(ev["SUMMARY"]),
            "start": ev.decoded("DTSTART"),
            "end": ev.decoded("DTEND"),
        }
    return out


def test_calendar_has_every_kind_of_event_with_stable_uids() -> None:
    data = build_calendar([OPP, BID], now=NOW, language="en")
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert b"VERSION:2.0" in data and b"PRODID:" in data
    events = _events(data)
    summaries = {e["summary"]: e["start"] for e in events.values()}
    assert summaries["Influence window opens: Rammeavtale IKT-utstyr (Sykehusinnkjøp HF)"] == (
        dt.date(2025, 9, 30)
    )
    assert summaries[
        "Specification drafting starts: Rammeavtale IKT-utstyr (Sykehusinnkjøp HF)"
    ] == dt.date(2026, 9, 30)
    assert summaries[
        "Influence window closes, expected publication: Rammeavtale IKT-utstyr (Sykehusinnkjøp HF)"
    ] == dt.date(2027, 3, 30)
    assert summaries["Agreement ends: Rammeavtale IKT-utstyr (Sykehusinnkjøp HF)"] == dt.date(
        2027, 9, 30
    )
    assert summaries["Budget window opens: Sykehusinnkjøp HF (until 2027-03-31)"] == dt.date(
        2026, 10, 1
    )
    assert summaries["Budget window closes: Sykehusinnkjøp HF"] == dt.date(2027, 3, 31)
    assert summaries["Budget milestone (Sykehusinnkjøp HF): assignment document"] == dt.date(
        2027, 1, 31
    )
    assert summaries["Tender deadline: Kjøp av servere (NAV)"] == dt.date(2026, 12, 20)
    for e in events.values():  # all-day events
        assert e["end"] - e["start"] == dt.timedelta(days=1)
    # a later export (other DTSTAMP, other order) has the same UIDs
    again = _events(build_calendar([BID, OPP], now=NOW + dt.timedelta(days=3), language="en"))
    assert set(again) == set(events)
    assert all(uid.endswith("@tender-tracker") for uid in events)


def test_published_opportunity_shows_its_deadline_not_the_window() -> None:
    published = {
        **OPP,
        "published": True,
        "competition_notice_id": BID["notice_id"],
        "expected_deadline": dt.date(2026, 12, 20),
    }
    events = calendar_events(published, language="en")
    kinds = {e.summary.split(":")[0] for e in events}
    assert "Influence window opens" not in kinds
    assert "Tender deadline" in kinds
    # the same competition from the bid list is one event, not two
    data = build_calendar([published, BID], now=NOW, language="en")
    assert data.count(b"SUMMARY:Tender deadline") == 1


def test_budget_windows_shared_by_opportunities_are_one_event() -> None:
    other = {**OPP, "key": "retender:c2:1", "title": "Annen avtale"}
    data = build_calendar([OPP, other], now=NOW, language="en")
    assert data.count(b"SUMMARY:Budget window opens") == 1
    assert data.count(b"SUMMARY:Agreement ends") == 2


def test_dates_as_iso_strings_and_missing_dates() -> None:
    item = {
        "key": "planning:x:2",
        "title": "PIN",
        "influence_opens": "2026-01-10",
        "drafting_starts": None,
        "expected_publication": "2026-07-01",
        "budget_window": None,
    }
    events = calendar_events(item, language="en")
    assert [e.date for e in events] == [dt.date(2026, 1, 10), dt.date(2026, 7, 1)]
    cal = Calendar.from_ical(build_calendar([item], now=NOW, language="en"))
    assert len(cal.walk("VEVENT")) == 2


def test_special_characters_are_escaped() -> None:
    item = {**OPP, "title": "Avtale; del 1, lot A\nny linje"}
    cal = Calendar.from_ical(build_calendar([item], now=NOW, language="en"))
    assert any("Avtale; del 1, lot A\nny linje" in str(e["SUMMARY"]) for e in cal.walk("VEVENT"))


def test_overdue_opportunity_is_not_taken_for_a_published_one() -> None:
    # Rows without the ``published`` flag infer it from the phase: "overdue" (the contract
    # ended, no competition seen) has no tender deadline, but its expiry and windows.
    item = {k: v for k, v in OPP.items() if k != "published"}
    item |= {"phase": "overdue", "expiry": dt.date(2026, 11, 23)}
    summaries = {e.summary for e in calendar_events(item, language="en")}
    assert "Agreement ends: Rammeavtale IKT-utstyr (Sykehusinnkjøp HF)" in summaries
    assert any(s.startswith("Influence window closes") for s in summaries)
    assert not any(s.startswith("Tender deadline") for s in summaries)
    running = {e.summary for e in calendar_events(item | {"phase": "running"}, language="en")}
    assert any(s.startswith("Tender deadline") for s in running)


def test_one_event_per_opportunity_and_date_for_every_account_with_links() -> None:
    # the same agreement at two accounts: stored keys differ only by the account id
    a = {**OPP, "key": "retender:c1:3", "account": "Helse Sør-Øst RHF", "notice_pk": 7}
    b = {**OPP, "key": "retender:c1:4", "account": "Helse Vest RHF", "notice_pk": 7}
    cal = Calendar.from_ical(build_calendar([a, b], now=NOW, base_url="https://t.example/"))
    expiry = [e for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("Avtalen utløper")]
    assert len(expiry) == 1
    assert str(expiry[0]["URL"]) == "https://t.example/notices/7"
    description = str(expiry[0]["DESCRIPTION"])
    assert "Helse Sør-Øst RHF" in description and "Helse Vest RHF" in description
    assert "https://t.example/notices/7" in description


def test_deadline_with_its_time_is_a_timed_event_in_oslo() -> None:
    bid = {**BID, "notice_pk": 12, "deadline_at": "2026-12-20T11:00:00+00:00"}
    # the opportunity knows the day only; the bid knows the time: one timed event
    opp = {
        **OPP,
        "published": True,
        "competition_notice_id": BID["notice_id"],
        "expected_deadline": dt.date(2026, 12, 20),
    }
    data = build_calendar([opp, bid], now=NOW, base_url="https://t.example")
    cal = Calendar.from_ical(data)
    deadlines = [e for e in cal.walk("VEVENT") if "Tilbudsfrist" in str(e["SUMMARY"])]
    assert len(deadlines) == 1
    ev = deadlines[0]
    assert str(ev["SUMMARY"]) == "Tilbudsfrist kl. 12.00: Kjøp av servere (NAV)"
    assert ev["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert ev.decoded("DTEND") == dt.datetime(2026, 12, 20, 11, 0, tzinfo=dt.UTC)
    assert b"DTEND;TZID=Europe/Oslo:20261220T120000" in data
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Oslo"]
    assert str(ev["URL"]) == "https://t.example/notices/12"
    # summer time: 13:00+02:00 stays 13.00 (not 11:00 UTC)
    summer = {**bid, "deadline_at": "2023-06-05T13:00:00+02:00"}
    assert "kl. 13.00" in calendar_events(summer)[0].summary


def test_the_reason_reads_in_the_feeds_language() -> None:
    """The opportunity's reason (a domain message, tracker.opportunities.explain) is in the
    feed's language, its days as the reader writes them; the English feed keeps English."""
    from tracker.opportunities.explain import explain
    from tracker.opportunities.windows import compute_timeline
    from tracker.rules import load_rules

    rules = load_rules().window_rules(None)
    tl = compute_timeline(dt.date(2026, 11, 28), rules, expiry=dt.date(2027, 9, 30))
    item = OPP | {"reason": explain(tl, dt.date(2026, 11, 28), title="IKT-utstyr")}
    for language, words, absent in [
        ("nb", ["Avtalen IKT-utstyr utløper 30.09.2027", "ny konkurranse ventes"], "expected"),
        ("en", ["Agreement IKT-utstyr ends 30.09.2027", "re-tender expected"], "utløper"),
    ]:
        cal = Calendar.from_ical(build_calendar([item], now=NOW, language=language))
        [opens] = [e for e in cal.walk("VEVENT") if "influence-opens" in str(e["UID"])]
        description = str(opens["DESCRIPTION"])
        assert all(w in description for w in words), (language, description)
        assert absent not in description


def test_a_large_teams_calendar_keeps_the_coming_dates_behind_years_of_past_ones(
    session,
) -> None:
    from sqlalchemy import insert

    from tests.factories import add_account
    from tracker.db.models import Opportunity
    from tracker.pages.calendar import MAX_OPPORTUNITIES, calendar_rows
    from tracker.rules import default_rules

    today = dt.date(2026, 6, 1)
    account = add_account(session, "Stor kunde")
    past = [
        {"key": f"past-{i}", "kind": "retender", "account_id": account.id,
         "title": f"Avsluttet {i}", "expected_publication": dt.date(2015, 1, 1)
         + dt.timedelta(days=i), "expiry": dt.date(2016, 1, 1) + dt.timedelta(days=i)}
        for i in range(2100)  # more than the 2,000 rows the calendar used to read
    ]  # fmt: skip
    session.execute(insert(Opportunity), past)
    coming = ("Skyplattform", "Nettverk")
    for n, title in enumerate(coming):
        session.add(Opportunity(key=f"coming-{n}", kind="retender", account_id=account.id,
                                title=title, expected_publication=dt.date(2026, 9, 1 + n),
                                expiry=dt.date(2027, 3, 1)))  # fmt: skip
    session.flush()
    rows = calendar_rows(
        session, today, account_ids=[account.id], rules=default_rules(), ours=frozenset()
    )
    titles = [r.get("title") for r in rows]
    assert [t for t in titles if t in coming] == list(coming)
    assert not [t for t in titles if t and t.startswith("Avsluttet")]
    assert len(titles) <= MAX_OPPORTUNITIES + 200  # the cap and the open competitions


def test_budget_milestones_in_the_feeds_language() -> None:
    def milestone_summaries(language: str) -> list[str]:
        events = _events(build_calendar([OPP], now=NOW, language=language))
        return [e["summary"] for uid, e in events.items() if "2027-01-31" in uid]

    (nb,) = milestone_summaries("nb")
    (en,) = milestone_summaries("en")
    assert nb.endswith(": oppdragsdokument") and en.endswith(": assignment document")
