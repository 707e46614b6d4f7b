"""The data model (SQLAlchemy 2.0). Alembic migrations are generated from ``Base.metadata``.

One module per part of the flow: notices and harvest state (``notices``), accounts,
links and contracts (``accounts``), opportunities, bids, users and account work
(``work``), alerts and operations (``ops``); the shared column types and ``Base`` are in
``tracker.db.types``. Import the tables from here.
"""

from tracker.db.models import indexes  # noqa: F401 - registers the extra indexes on the tables
from tracker.db.models.accounts import (
    Account,
    AccountAlias,
    AccountOrgnr,
    Contract,
    ContractAccount,
    ContractParty,
    LinkDecision,
    NoticeLink,
)
from tracker.db.models.market import (
    MarketAccountMonth,
    MarketBuyerNotice,
    MarketExpiryMonth,
    MarketPartyFact,
    MarketPartyPair,
)
from tracker.db.models.notices import (
    AwardCriterion,
    FetchFailure,
    HarvestDay,
    IngestError,
    Lot,
    LotResult,
    Notice,
    NoticeBuyer,
    Organisation,
    ResultWinner,
    Run,
)
from tracker.db.models.ops import (
    AlertLog,
    AlertSubscription,
    KeyValue,
    Lock,
)
from tracker.db.models.work import (
    Activity,
    BidAssessment,
    BidDecision,
    BidStatus,
    Contact,
    LoginAttempt,
    LoginThrottle,
    NoticeMark,
    Opportunity,
    User,
)
from tracker.db.types import Base, UTCDateTime, utcnow

__all__ = [
    "MarketPartyFact",
    "MarketPartyPair",
    "MarketAccountMonth",
    "MarketExpiryMonth",
    "MarketBuyerNotice",
    "Base",
    "UTCDateTime",
    "utcnow",
    "Organisation",
    "Notice",
    "NoticeBuyer",
    "Lot",
    "AwardCriterion",
    "LotResult",
    "ResultWinner",
    "IngestError",
    "Run",
    "HarvestDay",
    "FetchFailure",
    "Account",
    "AccountOrgnr",
    "AccountAlias",
    "NoticeLink",
    "LinkDecision",
    "Contract",
    "ContractParty",
    "ContractAccount",
    "Opportunity",
    "BidDecision",
    "BidStatus",
    "BidAssessment",
    "NoticeMark",
    "User",
    "LoginThrottle",
    "LoginAttempt",
    "Contact",
    "Activity",
    "AlertSubscription",
    "AlertLog",
    "Lock",
    "KeyValue",
]
