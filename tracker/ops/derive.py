"""What follows an ingest: account links from buyers, and contracts from results.

``after_ingest(session, notice_pks, rules)`` is called by ``tracker.notices.ingest`` after every
committed batch with the primary keys of the notices that were new or updated; the
Ingestor commits afterwards. The work is set-based per batch (a handful of queries for
the whole batch, bulk inserts), so it keeps up with the ingest rate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tracker.contracts.build import derive_contracts
from tracker.linking.links import build_index, link_notices
from tracker.market import buyer_notices, changes, facts
from tracker.rules import Rules, load_rules


def after_ingest(
    session: Session, notice_pks: list[int], rules: Rules | None = None
) -> dict[str, Any]:
    """Link the buyers of freshly stored notices to accounts, then derive their contracts.

    Links come first so that the contracts' accounts are taken from them; the market
    summaries follow the contracts changed (``tracker.market.changes``) and the notices
    (``tracker.market.buyer_notices``). ``rules``: those the ingest was given (the
    configured ones when None). Flushes; the caller commits. Returns
    {"links": counts, "contracts": counts}.
    """
    if not notice_pks:
        return {"links": {}, "contracts": {}}
    index = build_index(session)
    links = link_notices(session, notice_pks, index=index, refresh_contracts=False)
    # The market summaries follow what deriving these notices changes (tracker.market).
    with changes.tracking(session, facts.contracts_of_notices(session, notice_pks)) as change:
        contracts = derive_contracts(
            session, notice_pks, rules=rules if rules is not None else load_rules()
        )
        change.also(contracts.pop("contract_ids", None) or [])
    buyer_notices.refresh(session, notice_pks)
    return {"links": links, "contracts": contracts}
