"""Indexes over the tables beyond those their columns declare: the pages' and the
harvest's hot rows (bench/dashboard.py, bench/market.py), PostgreSQL's unindexed foreign
keys, partial indexes (migrations 0004-0008)."""

from __future__ import annotations

from sqlalchemy import Index, func, text

from tracker.db.models.accounts import (
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
from tracker.db.models.notices import FetchFailure, IngestError, Lot, Notice, NoticeBuyer, Run
from tracker.db.models.ops import AlertLog
from tracker.db.models.work import BidDecision, Opportunity

# Scale (alembic 0008): foreign keys PostgreSQL does not index by itself, and
# partial indexes for the rows the pages and the harvest read at 2 M notices.
Index("ix_opportunities_contract_id", Opportunity.contract_id)
Index("ix_opportunities_notice_pk", Opportunity.notice_pk)
Index("ix_contracts_result_pk", Contract.result_pk)
Index("ix_contracts_modified_by_notice_pk", Contract.modified_by_notice_pk)
Index("ix_notices_superseded_by_id", Notice.superseded_by_id)
Index("ix_notices_changes_notice_pk", Notice.changes_notice_pk)
Index("ix_link_decisions_account_id", LinkDecision.account_id)
Index("ix_alert_log_user_id", AlertLog.user_id)
Index("ix_ingest_errors_run_id", IngestError.run_id)
Index("ix_runs_parent_id", Run.parent_id)
Index("ix_notices_source_source_id", Notice.source, Notice.source_id)
Index(
    "ix_opportunities_account_open",
    Opportunity.account_id,
    Opportunity.phase,
    Opportunity.expiry,
    postgresql_where=text("in_profile IS NOT false"),
    sqlite_where=text("in_profile IS NOT 0"),
)
Index(
    "ix_notices_current_issue",
    Notice.issue_date,
    postgresql_where=text("superseded_by_id IS NULL"),
    sqlite_where=text("superseded_by_id IS NULL"),
)
Index(
    "ix_fetch_failures_open",
    FetchFailure.source,
    FetchFailure.id,
    postgresql_where=text("resolved = false"),
    sqlite_where=text("resolved = 0"),
)
# Indexes the dashboard pages need (bench/dashboard.py: bounded page queries on 200k notices).
Index("ix_lots_submission_deadline", Lot.submission_deadline)  # open competitions
Index("ix_opportunities_competition_notice_pk", Opportunity.competition_notice_pk)  # bid scores
Index("ix_notice_links_account_status", NoticeLink.account_id, NoticeLink.status)  # links
Index("ix_notice_links_account_created", NoticeLink.account_id, NoticeLink.created_at)  # news
Index("ix_bid_decisions_decided_at", BidDecision.decided_at)  # latest decisions
Index(  # a KAM's contracts (expiries, incumbency) without reading contract_accounts rows
    "ix_contract_accounts_account_contract",
    ContractAccount.account_id,
    ContractAccount.contract_id,
    ContractAccount.status,
)
# Notices waiting for derivation (few or none): found without reading the notices table.
Index(
    "ix_notices_derive_pending",
    Notice.id,
    sqlite_where=text("derive_pending = 1"),
    postgresql_where=text("derive_pending"),
)
# Most opportunities have no competition notice: with table statistics SQLite scans the
# table for ``competition_notice_pk IN (...)`` on the full index above (bid scores of a
# page); this partial index holds only the set ones and is used by both backends.
Index(
    "ix_opportunities_competition_set",
    Opportunity.competition_notice_pk,
    sqlite_where=Opportunity.competition_notice_pk.is_not(None),
    postgresql_where=Opportunity.competition_notice_pk.is_not(None),
)
# Market pages (tracker.market, bench/market.py): a supplier's or buyer's contracts by
# party key without reading every party row; the expiring value by quarter reads the
# contracts whose hard expiry falls in the next 12 quarters through the same expression.
Index(
    "ix_contract_parties_key_role",
    ContractParty.party_key,
    ContractParty.role,
    ContractParty.contract_id,
)
Index("ix_contracts_expiry", func.coalesce(Contract.latest_end, Contract.end_date))
# A buyer's notices (competitions, awards, modifications) without a lookup per buyer row.
Index("ix_notice_buyers_orgnr_notice", NoticeBuyer.orgnr, NoticeBuyer.notice_pk)
Index("ix_market_party_facts_key_role", MarketPartyFact.party_key, MarketPartyFact.role)
Index("ix_market_party_pairs_key_role", MarketPartyPair.party_key, MarketPartyPair.role)
Index("ix_market_account_months_account_id", MarketAccountMonth.account_id)
Index("ix_market_expiry_months_year_month", MarketExpiryMonth.year, MarketExpiryMonth.month)
Index(  # covering: the page's counts and newest rows without reading the table
    "ix_market_buyer_notices_orgnr_kind_issue",
    MarketBuyerNotice.orgnr,
    MarketBuyerNotice.kind,
    MarketBuyerNotice.issue_date,
    MarketBuyerNotice.notice_pk,
    MarketBuyerNotice.lot_id,
    MarketBuyerNotice.lots,
    MarketBuyerNotice.tenders,
    MarketBuyerNotice.price_weight,
)
Index("ix_market_buyer_notices_notice_pk", MarketBuyerNotice.notice_pk)
# A party's name and orgnr without reading its rows (supplier and buyer page headings).
Index(
    "ix_contract_parties_key_role_name",
    ContractParty.party_key,
    ContractParty.role,
    ContractParty.orgnr,
    ContractParty.name,
)
# Contracts awarded in a date range (the share of wallet's current month).
Index(
    "ix_contracts_awarded_on",
    func.coalesce(Contract.conclusion_date, Contract.award_date, Contract.start_date),
)
# The latest notice versions (alembic 0011): an account's linked notices counted and the
# KAM home's notices of the last days without hashing a scan of every notice. The
# condition as the queries write it (``Notice.is_latest.is_(True)``), else PostgreSQL
# cannot prove the partial index applies.
Index(
    "ix_notices_latest_id",
    Notice.id,
    postgresql_where=text("is_latest IS true"),
    postgresql_include=["issue_date", "publication_date"],  # the issue day, index-only
    sqlite_where=text("is_latest IS 1"),
)
Index(
    "ix_notices_latest_issued",
    func.coalesce(Notice.issue_date, Notice.publication_date),
    Notice.id,
    postgresql_where=text("is_latest IS true"),
    sqlite_where=text("is_latest IS 1"),
)
# Intention notices still in their challenge period (bid list, director's queue): the few
# contracts that have a challenge period, without scanning every contract (alembic 0011).
Index(
    "ix_contracts_challenge_until",
    Contract.challenge_until,
    Contract.id,
    postgresql_where=text("challenge_until IS NOT NULL"),
    sqlite_where=text("challenge_until IS NOT NULL"),
)
