"""Account work the KAM records: contacts with their roles, activities and plan notes.

Permission rule (checked here, so every caller gets it): a KAM changes only accounts
whose ``Account.kam_email`` is their e-mail; director and admin change every account;
the bid team changes none. A refused change raises ``PermissionDeniedError``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.db.models import Account, Activity, Contact, User
from tracker.errors import NotFoundError, PermissionDeniedError, UserError
from tracker.users import can_edit_account

CONTACT_ROLES = ("decision_maker", "influencer", "recommender", "user")
CONTACT_ROLE_LABELS = {
    "decision_maker": "decision maker",
    "influencer": "influencer",
    "recommender": "recommender",
    "user": "user",
}
ACTIVITY_KINDS = ("meeting", "call", "email", "workshop", "demo", "visit", "other")
MAX_TEXT = 10_000


def _account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError(f"no account with id {account_id}")
    return account


def check_can_edit(user: User, account: Account) -> None:
    if not can_edit_account(user, account.kam_email):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not change account {account.name!r}: "
            "only its KAM, a director or an admin may"
        )


def _text(value: str | None, field: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise UserError(f"{field}: required")
    if len(text) > limit:
        raise UserError(f"{field}: at most {limit} characters")
    return text


def add_contact(
    session: Session,
    user: User,
    account_id: int,
    *,
    name: str,
    role: str,
    title: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    notes: str | None = None,
) -> Contact:
    account = _account(session, account_id)
    check_can_edit(user, account)
    if role not in CONTACT_ROLES:
        raise UserError(f"role: {role!r} is not one of {', '.join(CONTACT_ROLES)}")
    contact = Contact(
        account_id=account.id,
        name=_text(name, "name", required=True, limit=200),
        role=role,
        title=_text(title, "title", limit=200) or None,
        email=_text(email, "email", limit=320) or None,
        phone=_text(phone, "phone", limit=64) or None,
        notes=_text(notes, "notes") or None,
    )
    session.add(contact)
    session.flush()
    return contact


def delete_contact(session: Session, user: User, contact_id: int) -> None:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    check_can_edit(user, _account(session, contact.account_id))
    session.delete(contact)
    session.flush()


def add_activity(
    session: Session,
    user: User,
    account_id: int,
    *,
    kind: str,
    text: str,
    happened_on: dt.date,
    opportunity_key: str | None = None,
) -> Activity:
    account = _account(session, account_id)
    check_can_edit(user, account)
    if kind not in ACTIVITY_KINDS:
        raise UserError(f"kind: {kind!r} is not one of {', '.join(ACTIVITY_KINDS)}")
    activity = Activity(
        account_id=account.id,
        opportunity_key=(opportunity_key or None),
        user_email=user.email,
        kind=kind,
        text=_text(text, "text", required=True),
        happened_on=happened_on,
    )
    session.add(activity)
    session.flush()
    return activity


def set_plan_notes(session: Session, user: User, account_id: int, notes: str) -> Account:
    account = _account(session, account_id)
    check_can_edit(user, account)
    account.plan_notes = _text(notes, "plan_notes", limit=50_000) or None
    session.flush()
    return account


def list_contacts(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Contact)
        .where(Contact.account_id == account_id)
        .order_by(Contact.role, Contact.name, Contact.id)
    )
    return [
        {
            "id": c.id,
            "name": c.name,
            "title": c.title,
            "email": c.email,
            "phone": c.phone,
            "role": c.role,
            "role_label": CONTACT_ROLE_LABELS.get(c.role, c.role),
            "notes": c.notes,
        }
        for c in rows
    ]


def list_activities(session: Session, account_id: int, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Activity)
        .where(Activity.account_id == account_id)
        .order_by(Activity.happened_on.desc(), Activity.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": a.id,
            "kind": a.kind,
            "text": a.text,
            "happened_on": a.happened_on,
            "user_email": a.user_email,
            "opportunity_key": a.opportunity_key,
        }
        for a in rows
    ]
