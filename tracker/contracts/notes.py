"""The notes the tracker writes on a contract.

They are kept as English text in ``contracts.notes`` (beside whatever a user imported
there); :func:`readable_notes` turns the parts the tracker wrote back into messages, so
that the pages show them in the reader's language (``tracker.messages.recognise``).
"""

from __future__ import annotations

import datetime as dt

from tracker.messages import N_, Message, Text, recognise

FROM_MODIFICATION = N_("from a modification notice; the original award notice is not stored")
_BEFORE = "probably extended: modification notice %(day)s %(days)s days before the end"
_AFTER = "probably extended: modification notice %(day)s %(days)s days after the end"
KNOWN = (FROM_MODIFICATION, N_(_BEFORE), N_(_AFTER))


def extended_note(issued: dt.date, end: dt.date) -> Message:
    """The note on a contract a modification notice probably extended."""
    days = (issued - end).days
    return N_(_AFTER if days >= 0 else _BEFORE, day=issued.isoformat(), days=abs(days))


def readable_notes(notes: str | None) -> Text | str | None:
    """Stored notes with the tracker's own parts as translatable messages."""
    return recognise(notes, KNOWN)
