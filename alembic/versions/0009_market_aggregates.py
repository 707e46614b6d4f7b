"""market aggregates: summaries of the contract facts for the market pages

Revision ID: 0009_market_aggregates
Revises: 0008

The supplier, buyer and director market pages added up every contract of a party (tens
of thousands for the busiest buyer) per request: bench/market.py at the issue's full size
(100,000 contracts) measured 0.4-5 s. Four summary tables hold the sums
(``tracker.market.facts``): per party, award year, main CPV, currency and value kind; per
party and counterpart; per account, award month and currency; per hard-expiry month. A fifth
holds a buyer's award, competition and modification notices as its page reads them
(``tracker.market.buyer_notices``: the busiest buyer has 40,000 notices, each a row lookup
in ``notices`` to test its subtype). Two indexes: a party's name and orgnr without its
rows, contracts by award day.

The tables are created empty: filling them is the app's (``tracker.db.migrate.upgrade``
counts the summaries again after the migrations when their version marker in ``kv`` is
missing or older than the code's, ``tracker.market.facts.refresh_if_stale``). A
migration runs years later against the schema of its day, and app code follows the
newest schema; so no migration imports from ``tracker``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_market_aggregates"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sums() -> list[sa.Column]:
    return [
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("with_value", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=24, scale=2), nullable=True),
        sa.Column("shared", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "market_party_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_key", sa.String(length=600), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("main_cpv", sa.String(length=10), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_kind", sa.String(length=16), nullable=True),
        *_sums(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_party_facts")),
    )
    op.create_table(
        "market_party_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_key", sa.String(length=600), nullable=False),
        sa.Column("other_key", sa.String(length=600), nullable=False),
        sa.Column("other_name", sa.String(length=500), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_kind", sa.String(length=16), nullable=True),
        *_sums(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_party_pairs")),
    )
    op.create_table(
        "market_account_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("spend_n", sa.Integer(), nullable=False),
        sa.Column("spend", sa.Numeric(precision=24, scale=2), nullable=True),
        sa.Column("frameworks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_market_account_months_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_account_months")),
    )
    op.create_table(
        "market_expiry_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_accounts", sa.Boolean(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_kind", sa.String(length=16), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("own_n", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=24, scale=2), nullable=True),
        sa.Column("shared", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_expiry_months")),
    )
    op.create_table(
        "market_buyer_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("orgnr", sa.String(length=9), nullable=True),
        sa.Column("notice_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("lot_id", sa.String(length=32), nullable=True),
        sa.Column("lots", sa.Integer(), nullable=True),
        sa.Column("tenders", sa.Integer(), nullable=True),
        sa.Column("price_weight", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_pk"],
            ["notices.id"],
            name=op.f("fk_market_buyer_notices_notice_pk_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_buyer_notices")),
    )
    op.create_index(
        "ix_market_buyer_notices_orgnr_kind_issue",
        "market_buyer_notices",
        ["orgnr", "kind", "issue_date", "notice_pk", "lot_id", "lots", "tenders", "price_weight"],
    )
    op.create_index("ix_market_buyer_notices_notice_pk", "market_buyer_notices", ["notice_pk"])
    op.create_index("ix_market_party_facts_key_role", "market_party_facts", ["party_key", "role"])
    op.create_index("ix_market_party_pairs_key_role", "market_party_pairs", ["party_key", "role"])
    op.create_index("ix_market_account_months_account_id", "market_account_months", ["account_id"])
    op.create_index("ix_market_expiry_months_year_month", "market_expiry_months", ["year", "month"])
    op.create_index(
        "ix_contract_parties_key_role_name",
        "contract_parties",
        ["party_key", "role", "orgnr", "name"],
    )
    op.create_index(
        "ix_contracts_awarded_on",
        "contracts",
        [sa.text("coalesce(conclusion_date, award_date, start_date)")],
    )


def downgrade() -> None:
    # The app's marker of filled summaries (tracker.market.facts.MARKER) goes with them, so
    # that upgrading again fills the new empty tables.
    op.execute(sa.text("DELETE FROM kv WHERE key = 'market_summaries'"))
    op.drop_index("ix_contracts_awarded_on", table_name="contracts")
    op.drop_index("ix_contract_parties_key_role_name", table_name="contract_parties")
    op.drop_index("ix_market_expiry_months_year_month", table_name="market_expiry_months")
    op.drop_index("ix_market_account_months_account_id", table_name="market_account_months")
    op.drop_index("ix_market_party_pairs_key_role", table_name="market_party_pairs")
    op.drop_index("ix_market_party_facts_key_role", table_name="market_party_facts")
    op.drop_index("ix_market_buyer_notices_notice_pk", table_name="market_buyer_notices")
    op.drop_index("ix_market_buyer_notices_orgnr_kind_issue", table_name="market_buyer_notices")
    op.drop_table("market_buyer_notices")
    op.drop_table("market_expiry_months")
    op.drop_table("market_account_months")
    op.drop_table("market_party_pairs")
    op.drop_table("market_party_facts")
