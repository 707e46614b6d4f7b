"""The factories build valid rows from defaults alone, and their traits add the related rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import (
    add_account,
    add_contract,
    add_notice,
    add_opportunity,
    add_organisation,
    add_user,
)
from tracker.db.models import ContractAccount, ContractParty, NoticeLink


def test_defaults_alone_make_distinct_valid_rows(session: Session) -> None:
    users = [add_user(session), add_user(session)]
    accounts = [add_account(session), add_account(session)]
    assert users[0].email != users[1].email and accounts[0].name != accounts[1].name
    assert add_organisation(session, "974760673").key == "974760673"
    assert add_notice(session).source == "doffin"
    assert add_contract(session).end_date == dt.date(2028, 1, 15)
    assert add_opportunity(session).kind == "retender"
    session.commit()


def test_traits_add_links_parties_and_lots(session: Session) -> None:
    nav = add_account(session, "NAV", "kari@example.test")
    deadline = dt.datetime(2024, 2, 1, 12, tzinfo=dt.UTC)
    notice = add_notice(session, "2024-1", account=nav, deadline=deadline)
    assert notice.buyers[0].name == "NAV" and notice.lots[0].submission_deadline == deadline
    assert session.scalar(select(NoticeLink.account_id)) == nav.id
    contract = add_contract(session, account=nav, supplier="Atea AS")
    roles = session.scalars(select(ContractParty.role).order_by(ContractParty.role)).all()
    assert roles == ["buyer", "supplier"]
    assert session.scalar(select(func.count()).select_from(ContractAccount)) == 1
    opp = add_opportunity(
        session, "opp-1", nav, expiry=dt.date(2025, 1, 1), contract_id=contract.id
    )
    assert (opp.buyer_name, opp.expiry) == ("NAV", dt.date(2025, 1, 1))
    session.commit()
