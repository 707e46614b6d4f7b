"""market: indexes of the supplier, buyer and director market pages

Revision ID: 0007
Revises: 0006

Contract parties by party key and role (a supplier's or a buyer's contracts, the likely
bidders at a buyer), notice buyers by orgnr with the notice (a buyer's competitions,
awards and modification notices), and contracts by their hard expiry (the end of the last option,
else the base end: ``coalesce(latest_end, end_date)``) for the expiring value by quarter.
Indexes only: no table is rewritten. Measured by bench/market.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_contract_parties_key_role",
        "contract_parties",
        ["party_key", "role", "contract_id"],
        unique=False,
    )
    op.create_index(
        "ix_contracts_expiry",
        "contracts",
        [sa.text("coalesce(latest_end, end_date)")],
        unique=False,
    )


    op.create_index(
        "ix_notice_buyers_orgnr_notice",
        "notice_buyers",
        ["orgnr", "notice_pk"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notice_buyers_orgnr_notice", table_name="notice_buyers")
    op.drop_index("ix_contracts_expiry", table_name="contracts")
    op.drop_index("ix_contract_parties_key_role", table_name="contract_parties")
