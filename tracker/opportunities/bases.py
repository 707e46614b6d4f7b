"""The bases a planning notice gives for its dates (what the buyer stated and where), as
the opportunity's inputs store them: English text, written from the messages below, and
made messages again when a timeline is computed (``read_basis``), so that pages and alerts
show them in the reader's language.
"""

from __future__ import annotations

from tracker.messages import N_, Message, recognise_whole
from tracker.notices import pretender

PLANNED_FIELD = N_("planned date of the contract notice (BT-127)")
# A period found in the notice text, by how precisely the buyer stated it.
TEXT_PERIOD: dict[str, Message] = {
    "day": N_("notice text (day): '%(text)s'"),
    "week": N_("notice text (week): '%(text)s'"),
    "month": N_("notice text (month): '%(text)s'"),
    "quarter": N_("notice text (quarter): '%(text)s'"),
    "half": N_("notice text (half-year): '%(text)s'"),
    "year": N_("notice text (year): '%(text)s'"),
}
RESPONSE_DEADLINE = N_("response deadline: %(what)s")
DIALOGUE_DAY = N_("dialogue day: %(what)s")
# Where the deadline of a market dialogue was read (tracker.notices.pretender).
DEADLINE_FIELDS = pretender.DEADLINE_FIELDS.message
DEADLINE_FIELD = pretender.DEADLINE_FIELD.message
NOTICE_TEXT = pretender.NOTICE_TEXT.message

KNOWN = (
    PLANNED_FIELD, *TEXT_PERIOD.values(), RESPONSE_DEADLINE, DIALOGUE_DAY,
    DEADLINE_FIELDS, DEADLINE_FIELD, NOTICE_TEXT,
)  # fmt: skip


def planned_basis(source: str, precision: str, text: str) -> str:
    """The stored basis of a planned publication: the BT-127 field or the notice's words."""
    if source == pretender.PLANNED_FIELD_SOURCE:
        return str(PLANNED_FIELD)
    message = TEXT_PERIOD.get(precision)
    if message is None:
        return f"notice text ({precision}): '{text}'"
    return Message(message.msgid, {"text": text}).render()


def read_basis(text: str | None) -> str | None:
    """A stored basis as a message again (a :class:`Text`) when it is one of ``KNOWN``;
    anything else as it is."""
    return recognise_whole(text, KNOWN)
