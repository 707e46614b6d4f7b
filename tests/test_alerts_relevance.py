"""Alerts put a market dialogue first and stay in the capability profile (real notices).

On 2023-11-27 Forsvarsmateriell asks the market about systems for electronic tests
(2023-101205, respond by 2023-12-15): its KAM gets a ``dialogue_open`` alert with the
deadline, the days left, the buyer's words and the rules for suppliers who take part.
Sykehusinnkjøp's RFI on instant payments (2023-100372) is a dialogue too, but outside the
IT profile: no alert unless the subscription asks for everything (``all=1``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.support.worlds import build_demo_world
from tracker.alerts.generation import alerts_for
from tracker.alerts.subscriptions import KINDS, default_subscriptions
from tracker.db.models import User
from tracker.rules import load_rules
from tracker.users import ensure_user

DAY = dt.date(2023, 11, 27)


def test_dialogue_alert_first_and_only_in_profile(engine: Engine, tracker_env: dict) -> None:
    build_demo_world(engine, DAY)
    with Session(engine) as s:
        for email in ("kari.nordmann@example.no", "ingrid.berg@example.no"):
            ensure_user(s, email, "kam", "a password for tests")
        s.commit()
        kari = s.scalar(select(User).where(User.email == "kari.nordmann@example.no"))
        ingrid = s.scalar(select(User).where(User.email == "ingrid.berg@example.no"))
        assert next(iter(KINDS)) == "dialogue_open"
        assert default_subscriptions("kam")[0][:2] == ("dialogue_open", "email")
        [alert] = alerts_for(
            s, kari, "dialogue_open", {}, DAY, "http://tracker", rules=load_rules()
        )
        assert alert.subject.startswith("Market dialogue: respond by 15.12.2023")
        assert "18 days left to respond" in alert.body
        assert "Account: Forsvarsmateriell" in alert.body
        assert "markedsundersøkelsen" in alert.body  # the buyer's words
        assert "Taking part:" in alert.body and "anskaffelser.no" in alert.body
        again = alerts_for(
            s, kari, "dialogue_open", {}, DAY + dt.timedelta(days=1), "", rules=load_rules()
        )
        assert [a.key for a in again] == [alert.key]  # one alert per dialogue, not per day
        # Ingrid's dialogue (instant payments) is outside the IT profile
        assert alerts_for(s, ingrid, "dialogue_open", {}, DAY, "", rules=load_rules()) == []
        everything = alerts_for(s, ingrid, "dialogue_open", {"all": 1}, DAY, "", rules=load_rules())
        assert [a for a in everything if "straksbetaling" in a.subject]
        # and no other alert of Ingrid's defaults is outside the profile
        for kind, _channel, params in default_subscriptions("kam"):
            for a in alerts_for(s, ingrid, kind, params, DAY, "", rules=load_rules()):
                assert "kiosk" not in a.subject.lower() and "parkering" not in a.subject.lower()


def test_alerts_speak_the_users_language(engine: Engine, tracker_env: dict) -> None:
    """A user who reads bokmål gets the e-mail in bokmål, days as dd.mm.åååå and times in
    Oslo time; the alert's key and payload stay ISO (the same event in either language)."""
    build_demo_world(engine, DAY)
    with Session(engine) as s:
        kari = ensure_user(s, "kari.nordmann@example.no", "kam", "a password for tests")
        kari.language = "en"
        s.commit()
        [english] = alerts_for(s, kari, "dialogue_open", {}, DAY, "http://t", rules=load_rules())
        kari.language = "nb"
        s.commit()
        [norsk] = alerts_for(s, kari, "dialogue_open", {}, DAY, "http://t", rules=load_rules())
    assert norsk.key == english.key and norsk.payload == english.payload
    assert norsk.payload["date"] == "2023-12-15"
    assert norsk.subject.startswith("Markedsdialog: svar innen 15.12.2023: System for Utvikling")
    lines = norsk.body.splitlines()
    assert lines[0] == "Markedsdialog åpen: 18 dager igjen til svarfristen"
    assert "Kunde: Forsvarsmateriell" in lines
    assert any(line.startswith("Svar innen: 15.12.2023") for line in lines), lines
    assert "Åpne: http://t/accounts/" in norsk.body
    for english_word in ("Account:", "Respond by", "days left", "Why:", "Open:"):
        assert english_word not in norsk.body, english_word
