"""Notice search with filters (text, CPV, buyer, account, dates, phase) and pagination.

Every filter is optional and they combine with AND. Queries stay bounded: one page of
notices, one query for the page's buyers, and one COUNT. Indexes used:
``notices.issue_date``, ``notices.main_cpv``, ``notices.subtype``, ``notices.is_latest``,
``notice_buyers.orgnr``, ``notice_links.account_id``.

Text is matched case- and accent-folded on SQLite and PostgreSQL alike (``fold``): "Sykehusinnkjop"
finds "Sykehusinnkjøp". A full CPV code finds what its prefix finds (``normalise_cpv``); an
orgnr may be written with spaces (``normalise_orgnr``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from tracker.db.bulk import chunked
from tracker.db.models import Notice, NoticeBuyer, NoticeLink
from tracker.errors import UserError
from tracker.notices.subtypes import PHASE_SUBTYPES, phase_of

if TYPE_CHECKING:  # tracker.rules imports the bid and window rules
    from tracker.rules import Rules

MAX_PER_PAGE = 200
EXPORT_LIMIT = 10_000

PHASES = tuple(PHASE_SUBTYPES)  # the phase filter: planning, competition, award, ...


@dataclass
class NoticeFilters:
    text: str | None = None
    cpv: str | None = None
    buyer: str | None = None
    account_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    phase: str | None = None
    latest_only: bool = True

    def as_query(self) -> dict[str, str]:
        """The non-empty filters as URL query parameters (for links and exports)."""
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if key == "latest_only":
                if not value:
                    out["all_versions"] = "1"
            elif value not in (None, ""):
                out[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out


# Letters folded for search, on both backends (SQLite's lower() folds ASCII only): the
# Nordic letters and the accented letters of Norwegian and Swedish names to plain ones.
_FOLD = {
    "æ": "ae",
    "Æ": "ae",
    "ø": "o",
    "Ø": "o",
    "å": "a",
    "Å": "a",
    "é": "e",
    "É": "e",
    "ä": "a",
    "Ä": "a",
    "ö": "o",
    "Ö": "o",
    "ü": "u",
    "Ü": "u",
}  # fmt: skip  (each letter is one nested replace(): SQLite's parser allows few dozen)
_ORGNR_NOISE = re.compile(r"^(?:NO)?\s*|\s*(?:MVA)?$", re.IGNORECASE)


def fold(text: str) -> str:
    """``text`` lower-cased with accents and Nordic letters folded: "Sykehusinnkjøp" and
    "SYKEHUSINNKJOP" both give "sykehusinnkjop" (the same as ``fold_sql`` in the database)."""
    return "".join(_FOLD.get(ch, ch) for ch in unicodedata.normalize("NFC", text)).lower()


def fold_sql(column: Any) -> Any:
    """The SQL expression of ``fold`` over ``column`` (nested replace, then lower)."""
    expr = column
    for src, dst in _FOLD.items():
        expr = func.replace(expr, src, dst)
    return func.lower(expr)


def normalise_cpv(value: str) -> str:
    """A CPV code or prefix as the prefix to search: the check digit and the trailing
    zeros of a full code go (72000000-5 and 72000000 are division 72; 72200000 is 722),
    keeping at least the two digits of the division. Raises ValueError for non-digits."""
    code = re.sub(r"\s+", "", value)
    code = re.sub(r"-\d$", "", code)
    if not code.isdigit():
        raise ValueError(value)
    if len(code) == 8:
        code = code.rstrip("0")
        code = code.ljust(2, "0")
    return code


def normalise_orgnr(value: str) -> str | None:
    """A Norwegian organisation number written with spaces, dots or "NO ... MVA" as its nine
    digits, else None."""
    digits = re.sub(r"[\s.]", "", _ORGNR_NOISE.sub("", value.strip()))
    return digits if re.fullmatch(r"\d{9}", digits) else None


def parse_filters_checked(params: dict[str, Any]) -> tuple[NoticeFilters, dict[str, str]]:
    """Filters from query parameters and the errors per field (``{field: message}``); a
    field with an error is left out of the filters."""
    errors: dict[str, str] = {}

    def text(name: str, limit: int = 200) -> str | None:
        value = str(params.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = f"{name}: at most {limit} characters"
            return None
        return value or None

    def date(name: str) -> dt.date | None:
        value = text(name, 10)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            errors[name] = f"{name}: {value!r} is not a date YYYY-MM-DD"
            return None

    account = text("account_id", 12)
    if account is not None and not account.isdigit():
        errors["account_id"] = f"account_id: {account!r} is not a number"
        account = None
    cpv = text("cpv", 20)
    if cpv is not None:
        try:
            cpv = normalise_cpv(cpv)
        except ValueError:
            errors["cpv"] = (
                f"cpv: {cpv!r} is not a CPV code or prefix (digits, e.g. 72 or 72000000-5)"
            )
            cpv = None
    phase = text("phase", 20)
    if phase is not None and phase not in PHASES:
        errors["phase"] = f"phase: {phase!r} is not one of {', '.join(PHASES)}"
        phase = None
    buyer = text("buyer")
    if buyer is not None:
        buyer = normalise_orgnr(buyer) or buyer
    filters = NoticeFilters(
        text=text("text"),
        cpv=cpv,
        buyer=buyer,
        account_id=int(account) if account else None,
        date_from=date("date_from"),
        date_to=date("date_to"),
        phase=phase,
        latest_only=not params.get("all_versions"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["date_to"] = "date_to: before date_from"
    return filters, errors


def parse_filters(params: dict[str, Any]) -> NoticeFilters:
    """Filters from query parameters; raise ``UserError`` naming a bad field."""
    filters, errors = parse_filters_checked(params)
    if errors:
        raise UserError("; ".join(errors.values()))
    return filters


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(f: NoticeFilters) -> Select[Any]:
    q = select(Notice.id)
    if f.latest_only:
        q = q.where(Notice.is_latest.is_(True))
    if f.text:
        pattern = _like(fold(f.text))
        q = q.where(
            or_(
                fold_sql(Notice.title).like(pattern, escape="\\"),
                fold_sql(Notice.description).like(pattern, escape="\\"),
                Notice.source_id == f.text,
                Notice.notice_id == f.text,
                Notice.procedure_id == f.text,
            )
        )
    if f.cpv:
        q = q.where(Notice.main_cpv.startswith(f.cpv))
    if f.buyer:
        cond = (
            NoticeBuyer.orgnr == f.buyer
            if re.fullmatch(r"\d{9}", f.buyer)
            else fold_sql(NoticeBuyer.name).like(_like(fold(f.buyer)), escape="\\")
        )
        q = q.where(exists().where(and_(NoticeBuyer.notice_pk == Notice.id, cond)))
    if f.account_id is not None:
        q = q.where(
            exists().where(
                and_(
                    NoticeLink.notice_pk == Notice.id,
                    NoticeLink.account_id == f.account_id,
                    NoticeLink.status != "rejected",
                )
            )
        )
    if f.date_from:
        q = q.where(Notice.issue_date >= f.date_from)
    if f.date_to:
        q = q.where(Notice.issue_date <= f.date_to)
    if f.phase:
        q = q.where(Notice.subtype.in_(sorted(PHASE_SUBTYPES[f.phase])))
    return q


def notice_rows(
    session: Session, ids: list[int], rules: Rules, account: str | None = None
) -> list[dict[str, Any]]:
    """Plain rows for notice ids (in the given order), with their buyers' names and the
    capability profile's ``fit`` (``tracker.opportunities.relevance.relevance``; the profile of
    ``account`` when given).

    ``rules``: the rules the caller was started with.
    """
    from tracker.opportunities.profile import notice_texts
    from tracker.opportunities.relevance import relevance, stored_model

    if not ids:
        return []
    profile = rules.profile(account)
    model = stored_model(session)
    texts = notice_texts(session, ids)
    notices = {
        n.id: n
        for n in session.execute(
            select(
                Notice.id,
                Notice.source,
                Notice.source_id,
                Notice.notice_id,
                Notice.version,
                Notice.subtype,
                Notice.issue_date,
                Notice.title,
                Notice.main_cpv,
                Notice.estimated_value,
                Notice.currency,
                Notice.procedure_type,
                Notice.is_test,
            ).where(Notice.id.in_(ids))
        )
    }
    buyers: dict[int, list[str]] = {}
    for notice_pk, name, orgnr in session.execute(
        select(NoticeBuyer.notice_pk, NoticeBuyer.name, NoticeBuyer.orgnr)
        .where(NoticeBuyer.notice_pk.in_(ids))
        .order_by(NoticeBuyer.notice_pk, NoticeBuyer.position)
    ):
        buyers.setdefault(notice_pk, []).append(name or orgnr or "?")
    out = []
    for pk in ids:
        n = notices.get(pk)
        if n is None:
            continue
        out.append(
            {
                "id": n.id,
                "source": n.source,
                "source_id": n.source_id,
                "notice_id": n.notice_id,
                "version": n.version,
                "subtype": n.subtype,
                "phase": phase_of(n.subtype),
                "issue_date": n.issue_date,
                "title": n.title,
                "buyers": buyers.get(n.id, []),
                "main_cpv": n.main_cpv,
                "estimated_value": n.estimated_value,
                "currency": n.currency,
                "procedure_type": n.procedure_type,
                "is_test": n.is_test,
                "fit": relevance(profile, texts[n.id], model) if n.id in texts else None,
            }
        )
    return out


def search_notices(
    session: Session, filters: NoticeFilters, rules: Rules, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """One page of notices matching ``filters``, newest first (``fit`` by ``rules``).

    Returns ``{"items", "total", "page", "pages", "per_page", "filters"}``.
    """
    per_page = max(1, min(int(per_page), MAX_PER_PAGE))
    base = _filtered(filters)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, int(page)), pages)  # a page beyond the last shows the last
    ids = list(
        session.scalars(
            base.order_by(Notice.issue_date.desc().nulls_last(), Notice.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return {
        "items": notice_rows(session, ids, rules),
        "total": total,
        "page": page,
        "pages": pages,
        "per_page": per_page,
        "filters": filters.as_query(),
    }


def export_notices(
    session: Session, filters: NoticeFilters, rules: Rules, limit: int = EXPORT_LIMIT
) -> list[dict[str, Any]]:
    """Every matching notice (at most ``limit``), newest first, for CSV/XLSX export."""
    ids = list(
        session.scalars(
            _filtered(filters)
            .order_by(Notice.issue_date.desc().nulls_last(), Notice.id.desc())
            .limit(limit)
        )
    )
    rows = []
    for chunk in chunked(ids):
        rows.extend(notice_rows(session, chunk, rules))
    for row in rows:
        row["buyers"] = "; ".join(row["buyers"])
    return rows
