"""Business-register enrichment of organisations (Brønnøysund Enhetsregisteret).

``orgnrs_to_enrich`` lists the buyer and winner orgnrs not yet looked up; the brreg
spider fetches them (``/enheter``, then ``/underenheter`` on 404, then each parent up
to the top) and the pipeline calls ``apply_register_record`` for every answer:
name, org form, sector code and parent go on the ``organisations`` row; numbers the
register does not know are kept with ``register_status='unknown'``.
``is_public_body`` reads those fields (pure).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from tracker.db.models import NoticeBuyer, Organisation, ResultWinner, utcnow
from tracker.orgnr import is_valid_orgnr

# Organisation forms of public bodies (domain.md): state, state agency, municipality,
# county, municipal and county enterprises, state enterprise, inter-municipal company.
PUBLIC_ORG_FORMS = frozenset({"STAT", "ORGL", "KOMM", "FYLK", "KF", "FKF", "SF", "IKS"})
# Institutional sector codes of general government (SN2012): 6100 state administration,
# 6500 municipal administration.
PUBLIC_SECTOR_CODES = frozenset({"6100", "6500"})
# Health trusts (state-owned, sector 6100 or the state enterprise sectors) end in HF/RHF.
HEALTH_TRUST_SECTOR_CODES = frozenset({"6100", "1110", "1120"})


def orgnrs_to_enrich(session: Session, refresh: bool = False) -> list[str]:
    """Valid buyer and winner orgnrs not yet enriched (all of them with ``refresh``)."""
    referenced = union(
        select(NoticeBuyer.orgnr).where(NoticeBuyer.orgnr.is_not(None)),
        select(ResultWinner.orgnr).where(ResultWinner.orgnr.is_not(None)),
    ).subquery()
    orgnrs = {str(o) for o in session.scalars(select(referenced.c[0]))}
    if not refresh:
        done = (
            set(
                session.scalars(
                    select(Organisation.orgnr).where(
                        Organisation.orgnr.in_(orgnrs), Organisation.enriched_at.is_not(None)
                    )
                )
            )
            if orgnrs
            else set()
        )
        orgnrs -= done
    return sorted(o for o in orgnrs if is_valid_orgnr(o))


def enriched_orgnrs(session: Session) -> set[str]:
    """Orgnrs already looked up in the register (to stop following parents twice)."""
    return set(
        session.scalars(
            select(Organisation.orgnr).where(
                Organisation.orgnr.is_not(None), Organisation.enriched_at.is_not(None)
            )
        )
    )


def _code(record: dict[str, Any], field: str) -> str | None:
    value = record.get(field)
    if isinstance(value, dict):
        value = value.get("kode")
    return str(value) if value else None


def apply_register_record(
    session: Session, orgnr: str, kind: str, record: dict[str, Any] | None
) -> Organisation:
    """Store one register answer on the organisation with ``orgnr`` (created if new).

    ``kind`` is ``enhet``, ``underenhet`` or ``unknown`` (no record: 404 on both).
    """
    org = session.scalar(select(Organisation).where(Organisation.orgnr == orgnr))
    if org is None:
        org = session.scalar(select(Organisation).where(Organisation.key == orgnr))
    name = str((record or {}).get("navn") or "").strip() or None
    if org is None:
        org = Organisation(key=orgnr, orgnr=orgnr, name=name or orgnr, country="NOR")
        session.add(org)
    org.register_status = kind
    org.enriched_at = utcnow()
    if record is not None:
        org.register_name = name
        org.org_form = _code(record, "organisasjonsform")
        org.sector_code = _code(record, "institusjonellSektorkode")
        parent = str(record.get("overordnetEnhet") or "").strip() or None
        org.parent_orgnr = parent if parent and parent != orgnr else None
    session.flush()
    return org


def is_public_body(org: Organisation) -> bool:
    """True for public bodies by org form, sector code, or a health trust's HF/RHF name."""
    if org.org_form and org.org_form.upper() in PUBLIC_ORG_FORMS:
        return True
    if org.sector_code and org.sector_code in PUBLIC_SECTOR_CODES:
        return True
    name = (org.register_name or org.name or "").upper().strip()
    return bool(org.sector_code in HEALTH_TRUST_SECTOR_CODES and name.endswith((" HF", " RHF")))


def parent_chain(session: Session, orgnr: str, limit: int = 10) -> list[Organisation]:
    """The organisation with ``orgnr`` and its register parents up to the top."""
    chain: list[Organisation] = []
    seen: set[str] = set()
    current: str | None = orgnr
    while current and current not in seen and len(chain) < limit:
        seen.add(current)
        org = session.scalar(select(Organisation).where(Organisation.orgnr == current))
        if org is None:
            break
        chain.append(org)
        current = org.parent_orgnr
    return chain
