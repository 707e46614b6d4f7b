"""Key accounts: import from YAML/CSV with validation, list and show.

File format (YAML uses the same keys, with lists for ``orgnr`` and ``aliases``)::

    name,orgnr,aliases,kam,team,tier,buyer_type,include_children,notes
    Forsvaret,988517860,Forsvarets logistikkorganisasjon,kari@example.no,Forsvar,star,state,true,

Rows are numbered as a spreadsheet shows them (the CSV header is row 1, the first
account row 2; the first YAML entry is row 1). A CSV may be comma or semicolon
separated (Excel in a Norwegian locale saves ``;``), with or without a BOM. An import
with any invalid row changes nothing unless ``skip_invalid`` is set; a re-import
updates accounts (matched by name) in place. A column (YAML key) left out of the file
leaves that field of existing accounts as it is (an empty cell clears it); accounts
whose fields do not change are reported ``unchanged``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from tracker.accounts.csvfile import sniff_delimiter
from tracker.db.models import (
    Account,
    AccountAlias,
    AccountOrgnr,
    Notice,
    NoticeBuyer,
    NoticeLink,
)
from tracker.errors import ImportValidationError, NotFoundError
from tracker.linking.names import match_key
from tracker.notices.text import clean_name
from tracker.orgnr import clean_orgnr

TIERS = ("star", "strategic", "status", "streamline")
BUYER_TYPES = ("state", "municipality", "county", "health_trust", "other")
FIELDS = (
    "name",
    "orgnr",
    "aliases",
    "kam",
    "team",
    "tier",
    "buyer_type",
    "include_children",
    "notes",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "ja", "1", "y"}
_FALSE = {"false", "no", "nei", "0", "n", ""}


@dataclass
class AccountRow:
    """One validated account from an import file."""

    row: int
    name: str
    orgnrs: list[str]
    aliases: list[str]
    kam: str | None
    team: str | None
    tier: str
    buyer_type: str
    include_children: bool
    notes: str | None
    # The fields the file gives (its columns or keys); the others stay as stored.
    given: frozenset[str] = frozenset(FIELDS)


@dataclass
class ImportResult:
    """What an import did: account names created, updated and unchanged, rows skipped."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[int | None, str, str]] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [{"row": r, "field": f, "message": m} for r, f, m in self.skipped],
        }


# --------------------------------------------------------------------------- reading


def _split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [str(v) for v in value if v is not None]
    else:
        items = str(value).split(";")
    return [i.strip() for i in items if i.strip()]


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Raw rows with their row numbers; raises ImportValidationError for an unreadable file."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ImportValidationError(source, [(None, "file", "does not exist")]) from exc
    except UnicodeDecodeError as exc:
        raise ImportValidationError(source, [(None, "file", f"not UTF-8: {exc}")]) from exc
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ImportValidationError(source, [(None, "file", f"not valid YAML: {exc}")]) from exc
        if isinstance(data, dict) and "accounts" in data:
            data = data["accounts"]
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ImportValidationError(
                source, [(None, "file", "expected a list of accounts (or a key 'accounts:')")]
            )
        rows: list[tuple[int, dict[str, Any]]] = []
        for i, entry in enumerate(data, start=1):
            if not isinstance(entry, dict):
                raise ImportValidationError(source, [(i, "row", "expected a mapping of fields")])
            rows.append((i, entry))
        return rows
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text), delimiter=sniff_delimiter(text, FIELDS))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "name" not in header:
            raise ImportValidationError(source, [(1, "header", "column 'name' is missing")])
        reader.fieldnames = header
        out = []
        for i, rec in enumerate(reader, start=2):
            if None in rec:
                raise ImportValidationError(source, [(i, "row", "more values than columns")])
            if not any((v or "").strip() for v in rec.values()):
                continue
            out.append((i, rec))
        return out
    raise ImportValidationError(
        source, [(None, "file", f"unknown file type {suffix!r} (use .yaml, .yml or .csv)")]
    )


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def validate_row(
    row: int, rec: dict[str, Any]
) -> tuple[AccountRow | None, list[tuple[int, str, str]]]:
    """Validate one raw record; returns the account or the problems (row, field, message)."""
    problems: list[tuple[int, str, str]] = []
    unknown = sorted(str(k) for k in rec if k not in FIELDS)
    for k in unknown:
        problems.append((row, k, f"unknown field (known: {', '.join(FIELDS)})"))
    name = clean_name(_opt_str(rec.get("name")))
    if not name:
        problems.append((row, "name", "is required"))
    elif len(name) > 300:
        problems.append((row, "name", "longer than 300 characters"))
    orgnrs: list[str] = []
    for raw in _split_list(rec.get("orgnr")):
        number, warning = clean_orgnr(raw)
        if number is None:
            problems.append((row, "orgnr", warning or f"{raw!r} is not an orgnr"))
        elif number not in orgnrs:
            orgnrs.append(number)
    aliases = []
    for a in _split_list(rec.get("aliases")):
        a = clean_name(a)
        if len(a) > 300:
            problems.append((row, "aliases", f"alias {a[:40]!r}... longer than 300 characters"))
        elif a and a not in aliases:
            aliases.append(a)
    kam = _opt_str(rec.get("kam"))
    if kam is not None and not _EMAIL.match(kam):
        problems.append((row, "kam", f"{kam!r} is not an e-mail address"))
    tier = (_opt_str(rec.get("tier")) or "streamline").lower()
    if tier not in TIERS:
        problems.append((row, "tier", f"{tier!r} is not one of {', '.join(TIERS)}"))
    buyer_type = (_opt_str(rec.get("buyer_type")) or "other").lower().replace(" ", "_")
    buyer_type = buyer_type.replace("-", "_")
    if buyer_type not in BUYER_TYPES:
        problems.append(
            (row, "buyer_type", f"{buyer_type!r} is not one of {', '.join(BUYER_TYPES)}")
        )
    raw_children = rec.get("include_children")
    include_children = False
    if isinstance(raw_children, bool):
        include_children = raw_children
    elif raw_children is not None:
        text = str(raw_children).strip().lower()
        if text in _TRUE:
            include_children = True
        elif text not in _FALSE:
            problems.append((row, "include_children", f"{raw_children!r} is not true or false"))
    team = _opt_str(rec.get("team"))
    if team and len(team) > 100:
        problems.append((row, "team", "longer than 100 characters"))
    if problems:
        return None, problems
    return (
        AccountRow(
            row=row,
            name=name,
            orgnrs=orgnrs,
            aliases=aliases,
            kam=kam.lower() if kam else None,
            team=team,
            tier=tier,
            buyer_type=buyer_type,
            include_children=include_children,
            notes=_opt_str(rec.get("notes")),
            given=frozenset(k for k in FIELDS if k in rec),
        ),
        [],
    )


def read_accounts_file(
    path: str | Path,
) -> tuple[list[AccountRow], list[tuple[int | None, str, str]]]:
    """Parse and validate an accounts file: (valid rows, problems). Touches no database."""
    path = Path(path)
    valid: list[AccountRow] = []
    problems: list[tuple[int | None, str, str]] = []
    seen_names: dict[str, int] = {}
    seen_orgnrs: dict[str, int] = {}
    for row, rec in _read_rows(path):
        acc, errs = validate_row(row, rec)
        if acc is not None:
            key = acc.name.casefold()
            if key in seen_names:
                errs.append((row, "name", f"{acc.name!r} already given in row {seen_names[key]}"))
            for o in acc.orgnrs:
                if o in seen_orgnrs:
                    errs.append((row, "orgnr", f"{o} already given in row {seen_orgnrs[o]}"))
        if errs:
            problems.extend(errs)
            continue
        assert acc is not None
        seen_names[acc.name.casefold()] = row
        for o in acc.orgnrs:
            seen_orgnrs[o] = row
        valid.append(acc)
    return valid, problems


# --------------------------------------------------------------------------- storing


def import_accounts(
    session: Session, path: str | Path, skip_invalid: bool = False, *, relink: bool = False
) -> ImportResult:
    """Import accounts from a YAML or CSV file; commits.

    Any invalid row raises ``ImportValidationError`` (listing every row and field) and
    changes nothing, unless ``skip_invalid``: then valid rows are stored and the bad ones
    are returned in ``ImportResult.skipped``. ``relink`` relinks every stored notice and
    contract to the accounts as they now are (``ImportResult.links`` has the counts).
    """
    rows, problems = read_accounts_file(path)
    if problems and not skip_invalid:
        raise ImportValidationError(str(path), problems)
    result = ImportResult(skipped=list(problems))
    existing = {
        a.name.casefold(): a
        for a in session.scalars(
            select(Account).options(selectinload(Account.orgnrs), selectinload(Account.aliases))
        )
    }
    try:
        for r in rows:
            acc = existing.get(r.name.casefold())
            if acc is None:
                acc = Account(name=r.name)
                session.add(acc)
                existing[r.name.casefold()] = acc
                result.created.append(r.name)
                _apply(session, acc, r, set(FIELDS))  # absent fields take their defaults
                continue
            before = _state(acc)
            acc.name = r.name
            _apply(session, acc, r, set(r.given))
            (result.updated if _state(acc) != before else result.unchanged).append(r.name)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if relink and (result.created or result.updated):
        from tracker.linking.links import link_notices, refresh_contract_accounts

        result.links = link_notices(session, refresh_contracts=False)
        refresh_contract_accounts(session)
        session.commit()
    return result


# Import field → Account attribute (orgnr and aliases are child rows).
_ATTRS = {
    "kam": "kam_email",
    "team": "team",
    "tier": "tier",
    "buyer_type": "buyer_type",
    "include_children": "include_children",
    "notes": "notes",
}


def _state(acc: Account) -> tuple[Any, ...]:
    """What an import can change of an account, to tell updated from unchanged."""
    return (
        acc.name,
        *(getattr(acc, attr) for attr in _ATTRS.values()),
        tuple(sorted(o.orgnr for o in acc.orgnrs)),
        tuple(sorted(a.alias for a in acc.aliases)),
    )


def _apply(session: Session, acc: Account, r: AccountRow, fields: set[str]) -> None:
    """Set the ``fields`` of ``acc`` from the row; the others stay as they are."""
    for name, attr in _ATTRS.items():
        if name in fields:
            setattr(acc, attr, getattr(r, name))
    _replace_children(session, acc, r, fields)


def _replace_children(session: Session, acc: Account, r: AccountRow, fields: set[str]) -> None:
    if "orgnr" in fields:
        have_orgnrs = {o.orgnr: o for o in acc.orgnrs}
        for o in list(acc.orgnrs):
            if o.orgnr not in r.orgnrs:
                acc.orgnrs.remove(o)
        for number in r.orgnrs:
            if number not in have_orgnrs:
                acc.orgnrs.append(AccountOrgnr(orgnr=number))
    if "aliases" in fields:
        have_aliases = {a.alias: a for a in acc.aliases}
        for a in list(acc.aliases):
            if a.alias not in r.aliases:
                acc.aliases.remove(a)
        for alias in r.aliases:
            if alias not in have_aliases:
                acc.aliases.append(AccountAlias(alias=alias, alias_key=match_key(alias)))
    session.flush()


# --------------------------------------------------------------------------- queries


def _account_fields(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "orgnr": sorted(o.orgnr for o in a.orgnrs),
        "aliases": sorted(x.alias for x in a.aliases),
        "kam": a.kam_email,
        "team": a.team,
        "tier": a.tier,
        "buyer_type": a.buyer_type,
        "include_children": a.include_children,
        "notes": a.notes,
    }


def get_account(session: Session, name_or_id: str | int) -> Account:
    """An account by id, exact name (any case) or alias; raises NotFoundError."""
    opts = (selectinload(Account.orgnrs), selectinload(Account.aliases))
    text = str(name_or_id).strip()
    if text.isdigit() and len(text) < 9:
        acc = session.get(Account, int(text), options=opts)
        if acc is not None:
            return acc
    acc = session.scalars(
        select(Account).options(*opts).where(func.lower(Account.name) == text.lower())
    ).first()
    if acc is not None:
        return acc
    key = match_key(text)
    for candidate in session.scalars(select(Account).options(*opts)):
        if match_key(candidate.name) == key or any(x.alias_key == key for x in candidate.aliases):
            return candidate
    if text.isdigit() and len(text) == 9:
        acc = session.scalars(
            select(Account).options(*opts).join(AccountOrgnr).where(AccountOrgnr.orgnr == text)
        ).first()
        if acc is not None:
            return acc
    raise NotFoundError(f"no account named {text!r} (see 'tracker accounts list')")


def account_detail(session: Session, account: Account) -> dict[str, Any]:
    """The account with its linked notices (every link, any status). Its contracts are
    read where the account page reads them (``tracker.pages.account.account_contract_rows``)."""
    links = session.execute(
        select(NoticeLink, Notice, NoticeBuyer)
        .join(Notice, Notice.id == NoticeLink.notice_pk)
        .join(NoticeBuyer, NoticeBuyer.id == NoticeLink.buyer_pk)
        .where(NoticeLink.account_id == account.id, Notice.is_latest.is_(True))
        .order_by(Notice.issue_date.desc(), Notice.id.desc(), NoticeLink.id)
    ).all()
    notices = [
        {
            "link_id": link.id,
            "notice_id": n.notice_id,
            "version": n.version,
            "source_id": n.source_id,
            "subtype": n.subtype,
            "issue_date": n.issue_date.isoformat() if n.issue_date else None,
            "title": n.title,
            "buyer_orgnr": b.orgnr,
            "buyer_name": clean_name(b.name),
            "method": link.method,
            "confidence": round(link.confidence, 2),
            "status": link.status,
            "decided_by": link.decided_by,
        }
        for link, n, b in links
    ]
    return {
        **_account_fields(account),
        "plan_notes": account.plan_notes,
        "notices": notices,
    }
