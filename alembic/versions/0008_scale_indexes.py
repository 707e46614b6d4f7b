"""scale: indexes for 2 M notices, 200,000 contracts and 2,000 accounts

Revision ID: 0008
Revises: 0007

Indexes only (no table rewrite). On PostgreSQL a foreign key has no index of its own:
the recompute deletes and relinks opportunities by contract and notice, and a notice's
deletion or supersession looks up ``notices.superseded_by_id``, ``contracts.result_pk``
and ``contracts.modified_by_notice_pk`` — each a sequential scan of millions of rows
without these. Partial indexes keep to the rows the pages read:

- ``ix_opportunities_account_open``: an account's opportunities in the profile
  (``in_profile`` not false), by phase and expiry: the KAM home and the account page;
- ``ix_notices_current_issue``: notices not superseded, by issue date (lists of the
  latest versions);
- ``ix_fetch_failures_open``: open fetch failures per source (every crawl's plan);
- ``ix_notices_source_source_id``: the harvest's "stored already?" lookups by source.

Both dialects take the partial indexes (PostgreSQL ``WHERE``, SQLite ``WHERE``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAIN = [
    ("ix_opportunities_contract_id", "opportunities", ["contract_id"]),
    ("ix_opportunities_notice_pk", "opportunities", ["notice_pk"]),
    ("ix_contracts_result_pk", "contracts", ["result_pk"]),
    ("ix_contracts_modified_by_notice_pk", "contracts", ["modified_by_notice_pk"]),
    ("ix_notices_superseded_by_id", "notices", ["superseded_by_id"]),
    ("ix_notices_changes_notice_pk", "notices", ["changes_notice_pk"]),
    ("ix_link_decisions_account_id", "link_decisions", ["account_id"]),
    ("ix_alert_log_user_id", "alert_log", ["user_id"]),
    ("ix_ingest_errors_run_id", "ingest_errors", ["run_id"]),
    ("ix_runs_parent_id", "runs", ["parent_id"]),
    ("ix_notices_source_source_id", "notices", ["source", "source_id"]),
]


def upgrade() -> None:
    for name, table, cols in PLAIN:
        op.create_index(name, table, cols)
    not_out = sa.text("in_profile IS NOT false")
    op.create_index(
        "ix_opportunities_account_open",
        "opportunities",
        ["account_id", "phase", "expiry"],
        postgresql_where=not_out,
        sqlite_where=sa.text("in_profile IS NOT 0"),
    )
    current = sa.text("superseded_by_id IS NULL")
    op.create_index(
        "ix_notices_current_issue",
        "notices",
        ["issue_date"],
        postgresql_where=current,
        sqlite_where=current,
    )
    open_ = sa.text("resolved = false")
    op.create_index(
        "ix_fetch_failures_open",
        "fetch_failures",
        ["source", "id"],
        postgresql_where=open_,
        sqlite_where=sa.text("resolved = 0"),
    )


def downgrade() -> None:
    for name in (
        "ix_fetch_failures_open",
        "ix_notices_current_issue",
        "ix_opportunities_account_open",
    ):
        op.drop_index(name)
    for name, table, _ in reversed(PLAIN):
        op.drop_index(name, table_name=table)
