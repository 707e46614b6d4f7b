"""Prospects: Norwegian public buyers in the notices that match no key account.

A buyer is public by the business register (``tracker.accounts.registry.is_public_body``,
the one rule), else by its eForms legal type (BT-11) or a public body's name ending.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from tracker.accounts.registry import is_public_body
from tracker.db.models import Notice, NoticeBuyer, NoticeLink, Organisation
from tracker.linking.matching import buyer_key
from tracker.linking.names import full_key, is_valid_orgnr
from tracker.notices.text import clean_name

# eForms buyer legal types (BT-11) of public authorities and public undertakings.
PUBLIC_LEGAL_TYPES = frozenset(
    {
        "cga",
        "ra",
        "la",
        "body-pl",
        "body-pl-cga",
        "body-pl-ra",
        "body-pl-la",
        "def-cont",
        "grp-p-aut",
        "pub-undert",
        "pub-undert-cga",
        "pub-undert-ra",
        "pub-undert-la",
        "rl-aut",
    }
)
_PUBLIC_NAME_ENDINGS = (" kommune", " fylkeskommune", " hf", " rhf", " iks", " sf")


def is_public_buyer(
    name: str | None,
    org_form: str | None = None,
    sector_code: str | None = None,
    legal_type: str | None = None,
) -> bool:
    """Public sector from the business register (org form, sector code: the register's
    rule, ``tracker.accounts.registry.is_public_body``), else from the notice data."""
    if org_form or sector_code:
        org = Organisation(name=name or "", org_form=org_form, sector_code=sector_code)
        return is_public_body(org)
    if legal_type and legal_type.lower() in PUBLIC_LEGAL_TYPES:
        return True
    lowered = " " + full_key(name)
    return lowered.endswith(_PUBLIC_NAME_ENDINGS)


def prospects(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Norwegian public buyers that match no account, ranked by notice count, then value.

    Test notices are left out; value is the sum of the notices' estimated values (NOK
    and other currencies are not mixed: only NOK and blank currency count).
    """
    linked = exists().where(
        and_(NoticeLink.buyer_pk == NoticeBuyer.id, NoticeLink.status != "rejected")
    )
    rows = session.execute(
        select(
            NoticeBuyer.orgnr,
            NoticeBuyer.name,
            NoticeBuyer.legal_type,
            Notice.id,
            Notice.issue_date,
            Notice.estimated_value,
            Notice.currency,
            Organisation.org_form,
            Organisation.sector_code,
            Organisation.register_name,
        )
        .join(Notice, Notice.id == NoticeBuyer.notice_pk)
        .outerjoin(Organisation, Organisation.id == NoticeBuyer.organisation_id)
        .where(
            Notice.is_latest.is_(True),
            Notice.is_test.is_(False),
            ~linked,
            # Norwegian buyers only: TED and the SDK samples bring foreign ones.
            or_(NoticeBuyer.country == "NOR", NoticeBuyer.orgnr.is_not(None)),
        )
    ).all()
    groups: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = buyer_key(r.orgnr, r.name)
        if key == "name:":
            continue
        g = groups.get(key)
        if g is None:
            g = groups[key] = {
                "buyer_key": key,
                "orgnr": r.orgnr if r.orgnr and is_valid_orgnr(r.orgnr) else None,
                "name": clean_name(r.register_name or r.name),
                "org_form": r.org_form,
                "sector_code": r.sector_code,
                "public": False,
                "notices": set(),
                "value": Decimal(0),
                "last_notice": None,
            }
        g["public"] = g["public"] or is_public_buyer(
            r.name, r.org_form, r.sector_code, r.legal_type
        )
        if r.id not in g["notices"]:
            g["notices"].add(r.id)
            if r.estimated_value is not None and (r.currency or "NOK") == "NOK":
                g["value"] += r.estimated_value
        if r.issue_date and (g["last_notice"] is None or r.issue_date > g["last_notice"]):
            g["last_notice"] = r.issue_date
    ranked = sorted(
        (g for g in groups.values() if g["public"]),
        key=lambda g: (-len(g["notices"]), -g["value"], g["name"]),
    )
    out = []
    for g in ranked[:limit]:
        last: dt.date | None = g["last_notice"]
        out.append(
            {
                "buyer_key": g["buyer_key"],
                "orgnr": g["orgnr"],
                "name": g["name"],
                "org_form": g["org_form"],
                "sector_code": g["sector_code"],
                "notices": len(g["notices"]),
                "value": float(g["value"]),
                "last_notice": last.isoformat() if last else None,
            }
        )
    return out
