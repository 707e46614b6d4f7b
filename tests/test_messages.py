"""Domain messages (tracker.messages): English where text goes, translated where shown."""

from __future__ import annotations

import copy
import json
import pickle

from tracker.messages import N_, Text, join, render

NB = {
    "Deadline in %(days)s days": "Frist om %(days)s dager",
    "from the notice's end date": "fra kunngjøringens sluttdato",
    "%(source)s, read %(day)s": "%(source)s, lest %(day)s",
}


def test_english_without_a_catalog_and_the_catalog_where_shown() -> None:
    m = N_("Deadline in %(days)s days", days=12)
    assert str(m) == "Deadline in 12 days"
    assert m.render(lambda s: NB.get(s, s)) == "Frist om 12 dager"


def test_a_value_that_is_a_message_is_translated_too() -> None:
    source = Text(N_("from the notice's end date"))
    m = N_("%(source)s, read %(day)s", source=source, day="01.03.2023")
    assert str(m) == "from the notice's end date, read 01.03.2023"
    assert m.render(NB.get) == "fra kunngjøringens sluttdato, lest 01.03.2023"


def test_joined_messages_translate_one_by_one_and_the_pattern_is_not_looked_up() -> None:
    m = join([N_("Deadline in %(days)s days", days=3), "free text"])
    looked_up: list[str] = []

    def translate(s: str) -> str:
        looked_up.append(s)
        return NB.get(s, s)

    assert m.render(translate) == "Frist om 3 dager; free text"
    assert looked_up == ["Deadline in %(days)s days"]


def test_text_is_english_text_that_keeps_its_message() -> None:
    t = Text(N_("Deadline in %(days)s days", days=5))
    assert t == "Deadline in 5 days" and json.dumps({"t": t}) == '{"t": "Deadline in 5 days"}'
    assert render(t, NB.get) == "Frist om 5 dager"
    for copied in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert copied == t and render(copied, NB.get) == "Frist om 5 dager"
    assert render(None) == "" and render("plain", NB.get) == "plain"


def test_the_notes_the_tracker_wrote_read_back_as_messages_and_user_notes_stay() -> None:
    """contracts.notes keeps English text; the tracker's own parts come back as messages
    (tracker.contracts.notes), a user's words stay as they were typed."""
    import datetime as dt

    from tracker.contracts.notes import FROM_MODIFICATION, extended_note, readable_notes

    stored = f"{FROM_MODIFICATION}; {extended_note(dt.date(2022, 12, 9), dt.date(2023, 3, 31))}"
    assert stored == (
        "from a modification notice; the original award notice is not stored; probably "
        "extended: modification notice 2022-12-09 112 days before the end"
    )
    nb = {
        FROM_MODIFICATION.msgid: "fra en endringskunngjøring",
        "probably extended: modification notice %(day)s %(days)s days before the end": (
            "trolig forlenget: endringskunngjøring %(day)s, %(days)s dager før slutten"
        ),
    }
    notes = readable_notes(stored)
    assert notes == stored  # English wherever text goes (JSON, CSV)
    assert render(notes, lambda s: nb.get(s, s)) == (
        "fra en endringskunngjøring; trolig forlenget: endringskunngjøring 2022-12-09, "
        "112 dager før slutten"
    )
    typed = "Avtalen forlenges muntlig; sjekk med innkjøper (50 % sannsynlig)"
    assert readable_notes(typed) == typed and render(readable_notes(typed), nb.get) == typed


def test_a_value_at_the_end_of_a_message_is_read_whole_inside_notes_and_alone() -> None:
    """A message ending with its value (``... to %(day)s``) is recognised with the whole
    value inside notes (up to the next ``;``), not its first character, and a text that is
    one message keeps a value with a ``;`` in it (a quote from a notice)."""
    from tracker.messages import recognise, recognise_whole

    option = N_("option until %(day)s")
    known = (option, N_("from a notice"))
    nb = {"option until %(day)s": "opsjon til %(day)s", "from a notice": "fra en kunngjøring"}
    notes = recognise("typed by hand; option until 2027-01-01; from a notice", known)
    assert render(notes, lambda s: nb.get(s, s)) == (
        "typed by hand; opsjon til 2027-01-01; fra en kunngjøring"
    )
    assert isinstance(notes, Text)
    assert [v.values for v in notes.message.values.values()] == [{"day": "2027-01-01"}, {}]
    quote = recognise_whole("option until 'mars; eller april'", known)
    assert isinstance(quote, Text) and quote.message.values == {"day": "'mars; eller april'"}
