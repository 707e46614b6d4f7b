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


class OpportunityKind(StrEnum):
    """What an opportunity comes from (``opportunities.kind``)."""

    RETENDER = "retender"  # a contract that expires
    PLANNING = "planning"  # a planning notice (PIN, pre-market consultation)
    DIALOGUE = "dialogue"  # a market dialogue: influence open until its response deadline
    COMPETITION = "competition"  # a published competition


class NoticeKind(StrEnum):
    """What a pre-tender notice is, read from its content (``tracker.notices.pretender``
    ``Reading.kind``)."""

    MARKET_DIALOGUE = "market_dialogue"
    PLANNED_COMPETITION = "planned_competition"
    CALL_FOR_COMPETITION = "call_for_competition"
    QUALIFICATION_SYSTEM = "qualification_system"
    OTHER = "other"


class RunKind(StrEnum):
    """What a recorded run did (``runs.kind``)."""

    CRAWL = "crawl"
    INGEST = "ingest"
    STEP = "step"
    CYCLE = "cycle"


class RunState(StrEnum):
    """A run's outcome (``runs.outcome``)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    PARTIAL = "partial"


class AlertKind(StrEnum):
    """What an alert is about (``alert_subscriptions.kind``, ``alert_log.kind``)."""

    WINDOW_OPENING = "window_opening"
    WINDOW_CLOSING = "window_closing"
    DRAFTING_START = "drafting_start"
    BUDGET_WINDOW = "budget_window"
    EXPIRY = "expiry"
    NEW_NOTICE = "new_notice"
    DIALOGUE_OPEN = "dialogue_open"
    TENDER_DEADLINE = "tender_deadline"
    BID_DECISION = "bid_decision"


class AlertState(StrEnum):
    """Where an alert is on its way out (``alert_log.status``): pending until a channel
    accepted it; failed is a cause that will not change (a refused recipient, a webhook
    that is gone) after the permanent attempts."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DROPPED = "dropped"
    FAILED = "failed"


class Channel(StrEnum):
    """How an alert is sent (``alert_subscriptions.channel``)."""

    EMAIL = "email"
    DIGEST = "digest"
    WEBHOOK = "webhook"


class Decision(StrEnum):
    """A bid/no-bid decision (``bid_decisions.decision``)."""

    BID = "bid"
    NO_BID = "no-bid"


class Recommendation(StrEnum):
    """What a bid score recommends (advice, never a decision)."""

    BID = "bid"
    CONSIDER = "consider"
    NO_BID = "no-bid"


class BidState(StrEnum):
    """Our bid's status on a competition and its outcome (``bid_statuses.status``)."""

    QUALIFYING = "qualifying"
    BIDDING = "bidding"
    SUBMITTED = "submitted"
    WON = "won"
    LOST = "lost"


class Capacity(StrEnum):
    """The bid team's capacity for a competition (``bid_assessments.capacity``)."""

    AVAILABLE = "available"
    STRETCHED = "stretched"
    NONE = "none"


class DeliveryRisk(StrEnum):
    """The bid team's delivery risk of a competition (``bid_assessments.delivery_risk``)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Incumbent(StrEnum):
    """Who holds the agreement being re-tendered."""

    US = "us"
    COMPETITOR = "competitor"
    UNKNOWN = "unknown"


# Influence can still be exercised in these phases (tracker.opportunities.windows.INFLUENCE_PHASES).
OPEN_PHASES: tuple[Phase, ...] = (Phase.DIALOGUE_OPEN, Phase.INFLUENCE_OPEN, Phase.DRAFTING)
