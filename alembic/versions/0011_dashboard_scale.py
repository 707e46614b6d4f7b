"""dashboard scale: the latest notice versions by id and by issue day

Revision ID: 0011_dashboard_scale
Revises: 0010_supplier_summaries

Indexes only. The KAM home counts each account's linked notices (latest versions) and
lists the notices of the last 14 days at the KAM's accounts: ``notices.is_latest`` is
tested for a few thousand linked notices. Without an index that holds it, PostgreSQL
hashes a sequential scan of every notice (bench/dashboard.py --scale 200000: 40-55 ms
per query, ten times that at 2 M notices). Two partial indexes over the latest versions:

- ``ix_notices_latest_id``: the id with the issue and publication dates (PostgreSQL
  ``INCLUDE``): an index-only probe per linked notice, its issue day included;
- ``ix_notices_latest_issued``: the issue day (``coalesce(issue_date,
  publication_date)``, as the pages write it) with the id: the notices of a few days.

The bid list and the director's queue show the intention notices still in their challenge
period (``contracts.challenge_until`` from today on): a sequential scan of every contract
(45 ms at 200,000 contracts) for a handful of rows. ``ix_contracts_challenge_until`` holds
the few contracts that have one.

Their condition is written as the queries write it (``is_latest IS true``; SQLite
``is_latest IS 1``): PostgreSQL uses a partial index only when it can prove the query's
condition implies the index's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_dashboard_scale"
down_revision: str | None = "0010_supplier_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_LATEST = sa.text("is_latest IS true")
SQLITE_LATEST = sa.text("is_latest IS 1")


def upgrade() -> None:
    op.create_index(
        "ix_notices_latest_id",
        "notices",
        ["id"],
        postgresql_where=PG_LATEST,
        postgresql_include=["issue_date", "publication_date"],
        sqlite_where=SQLITE_LATEST,
    )
    op.create_index(
        "ix_notices_latest_issued",
        "notices",
        [sa.text("coalesce(issue_date, publication_date)"), "id"],
        postgresql_where=PG_LATEST,
        sqlite_where=SQLITE_LATEST,
    )


    op.create_index(
        "ix_contracts_challenge_until",
        "contracts",
        ["challenge_until", "id"],
        postgresql_where=sa.text("challenge_until IS NOT NULL"),
        sqlite_where=sa.text("challenge_until IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_contracts_challenge_until", table_name="contracts")
    op.drop_index("ix_notices_latest_issued", table_name="notices")
    op.drop_index("ix_notices_latest_id", table_name="notices")
