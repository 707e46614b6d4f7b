"""Factories: database rows with sensible defaults, built on ``tracker.db.models``.

In the manner of warehouse's ``tests/common/db``: a test names only what it checks and
the factory fills in the rest. Every factory adds its row to the session and flushes
(so ids are set), takes any column as a keyword argument, and makes unique values
(names, e-mails, keys) from a counter when none is given. Traits are keyword arguments
that add the related rows a test usually wants:

- ``add_notice(..., account=acct)`` links the notice's buyer to the account, and
  ``deadline=`` gives it a lot with that submission deadline;
- ``add_contract(..., account=acct, supplier="Atea AS")`` adds the buyer and supplier
  parties and the link to the account;
- ``add_opportunity(session, key, account, expiry=...)`` takes its dates as keywords.

The notice rows carry the bytes of a real Doffin notice (tests/fixtures) with their
parsed fields set by hand: fast, and enough for what reads rows (pages, alerts, exports);
a test of the parser or the ingest ingests the real file instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from tracker.db.models import (
    Account,
    Contract,
    ContractAccount,
    ContractParty,
    Lot,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Opportunity,
    Organisation,
    User,
)

REAL_NOTICE = (
    Path(__file__).resolve().parent / "fixtures" / "notices" / "doffin-real" / "2024-110489.xml"
)
DEFAULT_DAY = dt.date(2024, 1, 15)

_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


def _add(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def add_user(session: Session, email: str | None = None, role: str = "kam", **columns: Any) -> User:
    """A user who can log in with nothing (``password_hash`` is no argon2 hash)."""
    values: dict[str, Any] = {"password_hash": "x", "active": True, **columns}
    return _add(session, User(email=email or f"user{_next()}@example.test", role=role, **values))


def add_account(
    session: Session, name: str | None = None, kam_email: str | None = None, **columns: Any
) -> Account:
    """A key account (tier ``streamline`` and buyer type ``other`` unless given)."""
    return _add(session, Account(name=name or f"Konto {_next()}", kam_email=kam_email, **columns))


def add_organisation(
    session: Session, orgnr: str | None = None, name: str | None = None, **columns: Any
) -> Organisation:
    """An organisation keyed by its orgnr (or by its name when it has none)."""
    name = name or f"Virksomhet {_next()}"
    key = orgnr or f"name:{name.lower()}|NOR"
    return _add(session, Organisation(key=key, orgnr=orgnr, name=name, **columns))


def add_notice(
    session: Session,
    notice_id: str | None = None,
    *,
    issue_date: dt.date = DEFAULT_DAY,
    title: str = "Rammeavtale om IT-drift",
    account: Account | None = None,
    deadline: dt.datetime | None = None,
    version: str = "01",
    main_cpv: str | None = None,
    **columns: Any,
) -> Notice:
    """A Doffin competition notice (subtype 16) of NOK 2.5 M, with one buyer.

    ``account``: the buyer is named after it and linked to it (method orgnr).
    ``deadline``: one lot with that submission deadline.
    """
    notice_id = notice_id or f"2024-{100000 + _next()}"
    raw = REAL_NOTICE.read_bytes()
    values: dict[str, Any] = {
        "source": "doffin",
        "source_id": notice_id,
        "notice_type": "cn-standard",
        "subtype": "16",
        "raw_xml": zlib.compress(raw),
        "raw_sha256": hashlib.sha256(raw).hexdigest(),
        "parser_version": "test",
        "estimated_value": Decimal("2500000"),
        "currency": "NOK",
        **columns,
    }
    notice = Notice(
        notice_id=notice_id,
        version=version,
        issue_date=issue_date,
        title=title,
        main_cpv=main_cpv,
        **values,
    )
    notice.buyers.append(NoticeBuyer(name=account.name if account else "Kjøper", position=0))
    if deadline is not None:
        notice.lots.append(Lot(lot_id="LOT-0001", submission_deadline=deadline, position=0))
    _add(session, notice)
    if account is not None:
        link = NoticeLink(
            notice_pk=notice.id,
            buyer_pk=notice.buyers[0].id,
            account_id=account.id,
            method="orgnr",
            confidence=1.0,
        )
        _add(session, link)
    return notice


def add_contract(
    session: Session,
    key: str | None = None,
    *,
    account: Account | None = None,
    supplier: str | None = None,
    start_date: dt.date | None = DEFAULT_DAY,
    end_date: dt.date | None = DEFAULT_DAY.replace(year=DEFAULT_DAY.year + 4),
    **columns: Any,
) -> Contract:
    """A contract imported from a CRM (source ``import``) running four years.

    ``account``: a buyer party named after it and a confirmed link to it.
    ``supplier``: a supplier party of that name.
    """
    values: dict[str, Any] = {
        "source": "import",
        "title": "Drift av IT-infrastruktur",
        "end_source": "import",
        **columns,
    }
    contract = _add(
        session,
        Contract(
            key=key or f"contract-{_next()}", start_date=start_date, end_date=end_date, **values
        ),
    )
    if account is not None:
        _add(session, _party(contract, "buyer", account.name))
        _add(
            session,
            ContractAccount(
                contract_id=contract.id, account_id=account.id, method="import", confidence=1.0
            ),
        )
    if supplier is not None:
        _add(session, _party(contract, "supplier", supplier))
    return contract


def _party(contract: Contract, role: str, name: str) -> ContractParty:
    return ContractParty(contract_id=contract.id, role=role, party_key=name.lower(), name=name)


def add_opportunity(
    session: Session,
    key: str | None = None,
    account: Account | None = None,
    **columns: Any,
) -> Opportunity:
    """A re-tender opportunity of ``account`` (dates as keywords: ``expiry=``...)."""
    key = key or f"opp-{_next()}"
    values: dict[str, Any] = {
        "kind": "retender",
        "title": f"Re-tender {key}",
        "buyer_name": account.name if account else None,
        **columns,
    }
    return _add(session, Opportunity(key=key, account_id=account.id if account else None, **values))
