"""What follows an ingest: contracts from results, and links from buyers to accounts.

``after_ingest(session, notice_pks)`` is called by ``tracker.ingest`` after every
committed batch with the primary keys of the notices that were new or updated.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def after_ingest(session: Session, notice_pks: list[int]) -> None:
    """Derive contracts and account links for freshly stored notices (issue 4 fills this)."""
    return None
