"""The fixed vocabularies of the tracker as StrEnums.

Each value is the string stored in the database and shown in the JSON (a ``StrEnum``
member *is* that string: ``Role.KAM == "kam"``), so no migration follows from using them.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role (``users.role``)."""

    KAM = "kam"
    BID = "bid"
    DIRECTOR = "director"
    ADMIN = "admin"


class LinkStatus(StrEnum):
    """A buyer→account link's status (``notice_links.status``, ``contract_accounts.status``)."""

    CONFIRMED = "confirmed"
    SUGGESTED = "suggested"
    REJECTED = "rejected"


class Phase(StrEnum):
    """An opportunity's phase (``opportunities.phase``), in the tracker's order."""

    WATCHING = "watching"
    DIALOGUE_OPEN = "dialogue_open"
    INFLUENCE_OPEN = "influence_open"
    DRAFTING = "drafting"
    OVERDUE = "overdue"
    PUBLISHED = "published"
    EVALUATION = "evaluation"
    AWARDED = "awarded"
    RUNNING = "running"


class Extension(StrEnum):
    """What a modification notice says of a contract's end (``contracts.extension``)."""

    PROBABLY_EXTENDED = "probably_extended"


# Influence can still be exercised in these phases (tracker.opportunities.windows.INFLUENCE_PHASES).
OPEN_PHASES: tuple[Phase, ...] = (Phase.DIALOGUE_OPEN, Phase.INFLUENCE_OPEN, Phase.DRAFTING)
