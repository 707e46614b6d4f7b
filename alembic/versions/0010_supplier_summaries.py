"""supplier and buyer summaries: the market summaries per supplier, for what the pages count
of "ours"; a buyer's terms and procedures

Revision ID: 0010_supplier_summaries
Revises: 0009_market_aggregates

The director's market page counted our contracts live (the expiring value, the share of
wallet, the award notices naming us): at the issue's full size "us" is the largest supplier
with 9,000 contracts, and those three passes took most of its 350-500 ms. Three tables hold
the same sums per supplier (``tracker.market.supplier_facts``); "ours" (a setting) is
applied when they are read. Two more hold a buyer's contracts per term (in days) and per
procedure (``tracker.market.buyer_terms``): the buyer page read all of them (8,000 for the
busiest buyer) for its terms, extension habit and procedures. Created empty: ``tracker.db.migrate.upgrade`` counts them
(the app's summary version rises with them), as no migration runs app code.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_supplier_summaries"
down_revision: str | None = "0009_market_aggregates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_supplier_expiry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_key", sa.String(length=600), nullable=False),
        sa.Column("at_accounts", sa.Boolean(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("value_kind", sa.String(length=16), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("own_n", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=24, scale=2), nullable=True),
        sa.Column("shared", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_supplier_expiry")),
    )
    op.create_index(
        "ix_market_supplier_expiry_key_month",
        "market_supplier_expiry",
        ["supplier_key", "year", "month"],
    )
    op.create_index(
        "ix_market_supplier_expiry_year_month", "market_supplier_expiry", ["year", "month"]
    )
    op.create_table(
        "market_supplier_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_key", sa.String(length=600), nullable=False),
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
            name=op.f("fk_market_supplier_months_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_supplier_months")),
    )
    op.create_index(
        "ix_market_supplier_months_key_month",
        "market_supplier_months",
        ["supplier_key", "year", "month"],
    )
    op.create_index(
        "ix_market_supplier_months_account_id", "market_supplier_months", ["account_id"]
    )
    op.create_table(
        "market_supplier_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_key", sa.String(length=600), nullable=False),
        sa.Column("notice_pk", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("with_value", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=24, scale=2), nullable=True),
        sa.Column("shared", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_supplier_notices")),
    )
    op.create_index(
        "ix_market_supplier_notices_key_year",
        "market_supplier_notices",
        ["supplier_key", "year", "notice_pk"],
    )


    op.create_table(
        "market_buyer_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_key", sa.String(length=600), nullable=False),
        sa.Column("base_days", sa.Integer(), nullable=True),
        sa.Column("option_days", sa.Integer(), nullable=True),
        sa.Column("end_year", sa.Integer(), nullable=True),
        sa.Column("end_month", sa.Integer(), nullable=True),
        sa.Column("extended", sa.Boolean(), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("frameworks", sa.Integer(), nullable=False),
        sa.Column("modified", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_buyer_terms")),
    )
    op.create_index("ix_market_buyer_terms_buyer_key", "market_buyer_terms", ["buyer_key"])
    op.create_table(
        "market_buyer_procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_key", sa.String(length=600), nullable=False),
        sa.Column("procedure_type", sa.String(length=32), nullable=True),
        sa.Column("ident", sa.String(length=64), nullable=True),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_buyer_procedures")),
    )
    op.create_index(
        "ix_market_buyer_procedures_key",
        "market_buyer_procedures",
        ["buyer_key", "procedure_type", "ident"],
    )


def downgrade() -> None:
    # The app's marker of filled summaries goes with them (upgrading again counts them).
    op.execute(sa.text("DELETE FROM kv WHERE key = 'market_summaries'"))
    op.drop_index("ix_market_buyer_procedures_key", table_name="market_buyer_procedures")
    op.drop_table("market_buyer_procedures")
    op.drop_index("ix_market_buyer_terms_buyer_key", table_name="market_buyer_terms")
    op.drop_table("market_buyer_terms")
    op.drop_index("ix_market_supplier_notices_key_year", table_name="market_supplier_notices")
    op.drop_table("market_supplier_notices")
    op.drop_index("ix_market_supplier_months_account_id", table_name="market_supplier_months")
    op.drop_index("ix_market_supplier_months_key_month", table_name="market_supplier_months")
    op.drop_table("market_supplier_months")
    op.drop_index("ix_market_supplier_expiry_year_month", table_name="market_supplier_expiry")
    op.drop_index("ix_market_supplier_expiry_key_month", table_name="market_supplier_expiry")
    op.drop_table("market_supplier_expiry")
