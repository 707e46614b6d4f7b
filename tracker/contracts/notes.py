"""The notes the tracker writes on a contract.

They are kept as English text in ``contracts.notes`` (beside whatever a user imported
there); :func:`readable_notes` turns the parts the tracker wrote back into messages, so
that the pages show them in the reader's language (``tracker.messages.recognise``).
"""

from __future__ import annotations

import datetime as dt

from tracker.messages import N_, Message, Text, recognise, recognise_whole

FROM_MODIFICATION = N_("from a modification notice; the original award notice is not stored")
_BEFORE = "probably extended: modification notice %(day)s %(days)s days before the end"
_AFTER = "probably extended: modification notice %(day)s %(days)s days after the end"
EXPECTED = N_("expected: the competition's award has not been seen")
KNOWN = (FROM_MODIFICATION, EXPECTED, N_(_BEFORE), N_(_AFTER))


def extended_note(issued: dt.date, end: dt.date) -> Message:
    """The note on a contract a modification notice probably extended."""
    days = (issued - end).days
    return N_(_AFTER if days >= 0 else _BEFORE, day=issued.isoformat(), days=abs(days))


def readable_notes(notes: str | None) -> Text | str | None:
    """Stored notes with the tracker's own parts as translatable messages."""
    return recognise(notes, KNOWN)


# The note an opportunity carries from its contract (tracker.opportunities.drafts), stored
# as English in the opportunity's timeline and made a message again when it is read.
ASK_THE_BUYER = N_("probably extended: ask the buyer")
ASK_THE_BUYER_WHY = N_("probably extended: ask the buyer (%(why)s)")
EXPECTED_CONTRACT = N_("expected contract: the competition's award has not been seen")
_WHY = (
    N_("modification notice %(day)s %(days)s days before the end"),
    N_("modification notice %(day)s %(days)s days after the end"),
)


def opportunity_note(
    contract_notes: str | None, extension: str | None, expected: bool
) -> str | None:
    """The note an opportunity shows about its contract (English, as stored)."""
    if extension == "probably_extended":
        why = (contract_notes or "").partition("probably extended: ")[2]
        return (Message(ASK_THE_BUYER_WHY.msgid, {"why": why}) if why else ASK_THE_BUYER).render()
    if expected:
        return str(EXPECTED_CONTRACT)
    return None


def readable_opportunity_note(note: str | None) -> Text | str | None:
    """A stored opportunity note as a translatable message (a user's text as it is)."""
    return recognise_whole(note, (ASK_THE_BUYER_WHY, ASK_THE_BUYER, EXPECTED_CONTRACT, *_WHY))
