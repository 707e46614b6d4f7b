"""Link the buyers of notices (and of contracts) to key accounts.

Each buyer is matched to accounts by, in order of confidence:

============================  ==========  ============================================
method                        confidence  when
============================  ==========  ============================================
``orgnr``                     1.00        the buyer's orgnr is one of the account's
``parent``                    0.90        a parent in the business register (followed
                                          up the chain) is the account's and the account
                                          includes sub-units
``name`` / ``alias``          0.85        normalised names are equal (mojibake repaired,
                                          case, spacing, legal suffixes)
``department``                0.80        the body before "v/" is the account
                                          ("Forsvaret v/Forsvarets logistikkorganisasjon")
``central_purchasing``        per body    the buyer buys on behalf of the account
                                          (configurable map, Sykehusinnkjøp HF → health
                                          trusts); when the notice names a region or
                                          trust, only the accounts of that region keep
                                          the link, with ``region_confidence``
``name_prefix``               0.50        the buyer's name starts with the account's name
                                          ("NAV Tiltak Rogaland" → NAV)
============================  ==========  ============================================

A name match whose buyer has a valid orgnr that the account does not list drops to
0.60. Links below ``SUGGEST_BELOW`` are "suggested"; a KAM's confirm or reject is kept
in ``link_decisions`` (by buyer orgnr, or normalised name when there is none) and wins
over the computed status on every relink.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from tracker.config import load_settings
from tracker.db.models import (
    Account,
    AccountAlias,
    AccountOrgnr,
    Contract,
    ContractAccount,
    ContractParty,
    LinkDecision,
    Lot,
    Notice,
    NoticeBuyer,
    NoticeLink,
    Organisation,
    User,
    utcnow,
)
from tracker.enums import LinkStatus
from tracker.errors import ConfigError, NotFoundError, PermissionDeniedError, UserError
from tracker.linking.names import (
    clean_name,
    full_key,
    is_prefix_key,
    is_valid_orgnr,
    match_key,
    parent_name,
)

SUGGEST_BELOW = 0.75
CONFIDENCE = {
    "orgnr": 1.0,
    "parent": 0.9,
    "name": 0.85,
    "alias": 0.85,
    "department": 0.8,
    "name_prefix": 0.5,
    "manual": 1.0,
}
ORGNR_CONFLICT_CONFIDENCE = 0.6
MAX_PARENT_DEPTH = 6
CHUNK = 2000

# The built-in map, shipped as package data (examples/central_purchasing.yaml points to it).
DEFAULT_CENTRAL_PURCHASING_FILE = (
    Path(__file__).resolve().parents[1] / "data" / "central_purchasing.yaml"
)
REGION_CONFIDENCE_STEP = 0.1  # default raise when a notice names the account's own region


# --------------------------------------------------------------------------- the matcher


@dataclass(frozen=True)
class Match:
    account_id: int
    method: str
    confidence: float
    body: int | None = None  # index in ``AccountIndex.central`` for central_purchasing


def terms_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for whole-word terms: case-insensitive, except all-capital ones ("UNN").

    A term never matches inside a longer word or hyphenated name ("Helse Nord" is not in
    "Helse Nord-Trøndelag"). None when there are no terms.
    """
    parts = []
    for term in sorted({str(t).strip() for t in terms if str(t).strip()}, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in term.split())
        parts.append(f"(?-i:{body})" if term.isupper() and len(term) <= 5 else body)
    if not parts:
        return None
    return re.compile(rf"(?<![\w-])(?:{'|'.join(parts)})(?![\w-])", re.IGNORECASE)


@dataclass
class Region:
    name: str
    pattern: re.Pattern[str] | None
    account_ids: set[int]


@dataclass
class CentralBody:
    name: str
    orgnrs: set[str]
    keys: set[str]
    account_ids: set[int]
    confidence: float
    regions: list[Region] = field(default_factory=list)
    region_confidence: float | None = None
    national: re.Pattern[str] | None = None

    def regions_named(self, text: str | None) -> set[str] | None:
        """Regions a notice text names; None when it names none or says it is national."""
        if not text or not self.regions:
            return None
        if self.national is not None and self.national.search(text):
            return None
        named = {r.name for r in self.regions if r.pattern is not None and r.pattern.search(text)}
        return named or None

    def confidence_for(self, account_id: int, text: str | None) -> float | None:
        """The link's confidence for this account given the notice text. Pure.

        None (no link) when the notice names only other regions than the account's; the
        region confidence when it names the account's; else the body's confidence.
        """
        named = self.regions_named(text)
        if named is None:
            return self.confidence
        own = {r.name for r in self.regions if account_id in r.account_ids}
        if not own:
            return self.confidence  # an account in no region: the text says nothing about it
        if own & named:
            if self.region_confidence is not None:
                return self.region_confidence
            return min(1.0, self.confidence + REGION_CONFIDENCE_STEP)
        return None


@dataclass
class AccountIndex:
    """Accounts prepared for matching (built once per linking run)."""

    by_orgnr: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_key: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    prefixes: list[tuple[str, int]] = field(default_factory=list)
    include_children: set[int] = field(default_factory=set)
    orgnrs_of: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    central: list[CentralBody] = field(default_factory=list)
    _cache: dict[tuple[Any, ...], list[Match]] = field(default_factory=dict, repr=False)

    @property
    def empty(self) -> bool:
        return not self.orgnrs_of and not self.by_key

    def match(
        self, orgnr: str | None, name: str | None, ancestors: Sequence[str] = ()
    ) -> list[Match]:
        """Best match per account for one buyer (orgnr, name, register parents nearest first)."""
        key = (orgnr, name, tuple(ancestors))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._match(orgnr, name, ancestors)
        return list(hit)

    def _match(self, orgnr: str | None, name: str | None, ancestors: Sequence[str]) -> list[Match]:
        best: dict[int, Match] = {}

        def offer(account_id: int, method: str, confidence: float, body: int | None = None) -> None:
            cur = best.get(account_id)
            if cur is None or confidence > cur.confidence:
                best[account_id] = Match(account_id, method, confidence, body)

        valid_orgnr = orgnr if orgnr and is_valid_orgnr(orgnr) else None
        if valid_orgnr:
            for a in self.by_orgnr.get(valid_orgnr, ()):
                offer(a, "orgnr", CONFIDENCE["orgnr"])
            for depth, anc in enumerate(ancestors):
                for a in self.by_orgnr.get(anc, ()):
                    if a in self.include_children:
                        offer(a, "parent", CONFIDENCE["parent"] - 0.02 * depth)

        def conflict(a: int) -> bool:
            return bool(valid_orgnr and self.orgnrs_of.get(a))

        key = match_key(name)
        if key:
            for a, how in self.by_key.get(key, {}).items():
                offer(a, how, ORGNR_CONFLICT_CONFIDENCE if conflict(a) else CONFIDENCE[how])
        head = parent_name(name)
        if head:
            for a in self.by_key.get(match_key(head), {}):
                ok = not conflict(a) or a in self.include_children
                offer(
                    a, "department", CONFIDENCE["department"] if ok else ORGNR_CONFLICT_CONFIDENCE
                )
        fkey = full_key(name)
        if fkey and self.prefixes:
            for prefix, a in self.prefixes:
                if a not in best and is_prefix_key(prefix, fkey):
                    offer(a, "name_prefix", CONFIDENCE["name_prefix"])
        for i, body in enumerate(self.central):
            if (valid_orgnr and valid_orgnr in body.orgnrs) or (key and key in body.keys):
                for a in body.account_ids:
                    if a not in best:
                        offer(a, "central_purchasing", body.confidence, i)
        return sorted(best.values(), key=lambda m: (-m.confidence, m.account_id))

    def for_notice(self, matches: list[Match], text: str | None) -> list[Match]:
        """Central-purchasing matches adjusted to the regions the notice text names."""
        out = []
        for m in matches:
            if m.body is None:
                out.append(m)
                continue
            conf = self.central[m.body].confidence_for(m.account_id, text)
            if conf is not None:
                out.append(Match(m.account_id, m.method, conf, m.body))
        return out


def load_central_purchasing(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The central-purchasing map: from ``path``, the configured file, or the built-in one."""
    if path is None:
        path = load_settings().central_purchasing_file
    p = Path(path) if path else DEFAULT_CENTRAL_PURCHASING_FILE
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the central purchasing map: {exc}") from exc
    # Read once per file version (linking runs once per ingest batch), handed out as a copy.
    return copy.deepcopy(_read_central_purchasing(p, mtime))


@functools.lru_cache(maxsize=8)
def _read_central_purchasing(p: Path, _mtime_ns: int) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read the central purchasing map: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("central_purchasing")
    if not isinstance(data, list):
        raise ConfigError(f"{p}: expected a list under 'central_purchasing:'")
    for i, body in enumerate(data, start=1):
        if not isinstance(body, dict) or not body.get("name"):
            raise ConfigError(f"{p}: entry {i}: 'name' is required")
        for k in ("confidence", "region_confidence"):
            conf = body.get(k, 0.6)
            if not isinstance(conf, int | float) or not 0 < conf <= 1:
                raise ConfigError(f"{p}: entry {i}: {k} must be a number in (0, 1]")
        regions = body.get("regions") or []
        if not isinstance(regions, list):
            raise ConfigError(f"{p}: entry {i}: 'regions' must be a list")
        for j, region in enumerate(regions, start=1):
            if not isinstance(region, dict) or not region.get("name"):
                raise ConfigError(f"{p}: entry {i}, region {j}: 'name' is required")
            for k in ("terms", "accounts"):
                if not isinstance(region.get(k) or [], list):
                    raise ConfigError(f"{p}: entry {i}, region {j}: '{k}' must be a list")
        if not isinstance(body.get("national_terms") or [], list):
            raise ConfigError(f"{p}: entry {i}: 'national_terms' must be a list")
    return data


def build_index(session: Session, central: list[dict[str, Any]] | None = None) -> AccountIndex:
    """Load every account, its orgnrs and aliases, and resolve the central-purchasing map."""
    idx = AccountIndex()
    accounts = session.execute(
        select(Account.id, Account.name, Account.include_children, Account.buyer_type)
    ).all()
    by_name: dict[str, int] = {}
    by_type: dict[str, set[int]] = defaultdict(set)
    for aid, name, children, btype in accounts:
        if children:
            idx.include_children.add(aid)
        by_name[name.casefold()] = aid
        by_type[btype].add(aid)
        idx.by_key[match_key(name)].setdefault(aid, "name")
        idx.prefixes.append((full_key(name), aid))
    for aid, orgnr in session.execute(select(AccountOrgnr.account_id, AccountOrgnr.orgnr)):
        idx.by_orgnr[orgnr].add(aid)
        idx.orgnrs_of[aid].add(orgnr)
    for aid, alias, key in session.execute(
        select(AccountAlias.account_id, AccountAlias.alias, AccountAlias.alias_key)
    ):
        idx.by_key[key or match_key(alias)].setdefault(aid, "alias")
        idx.prefixes.append((full_key(alias), aid))
    idx.prefixes = [(p, a) for p, a in idx.prefixes if p]
    for body in load_central_purchasing() if central is None else central:
        buys = body.get("buys_for") or {}
        ids = set()
        for t in buys.get("buyer_types") or []:
            ids |= by_type.get(str(t), set())
        for n in buys.get("accounts") or []:
            if str(n).casefold() in by_name:
                ids.add(by_name[str(n).casefold()])
        orgnrs = {str(o) for o in body.get("orgnr") or []}
        keys = {match_key(body["name"])} | {match_key(a) for a in body.get("aliases") or []}
        # A body never "buys for" itself: its own account links by orgnr or name.
        own = set().union(*(idx.by_orgnr.get(o, set()) for o in orgnrs)) if orgnrs else set()
        for k in keys:
            own |= set(idx.by_key.get(k, {}))
        regions = []
        for region in body.get("regions") or []:
            pattern = terms_pattern([region["name"], *(region.get("terms") or [])])
            members = {
                by_name[str(n).casefold()]
                for n in region.get("accounts") or []
                if str(n).casefold() in by_name
            }
            if pattern is not None:
                members |= {aid for aid, name, *_ in accounts if pattern.search(name)}
            regions.append(Region(str(region["name"]), pattern, members))
        rc = body.get("region_confidence")
        idx.central.append(
            CentralBody(
                name=body["name"],
                orgnrs=orgnrs,
                keys=keys,
                account_ids=ids - own,
                confidence=float(body.get("confidence", 0.6)),
                regions=regions,
                region_confidence=float(rc) if rc is not None else None,
                national=terms_pattern(body.get("national_terms") or []),
            )
        )
    return idx


def buyer_key(orgnr: str | None, name: str | None) -> str:
    """Identity of a buyer for remembered decisions: orgnr, else ``name:<match key>``."""
    if orgnr and is_valid_orgnr(orgnr):
        return orgnr
    return "name:" + match_key(name)


def parent_chains(session: Session, orgnrs: Iterable[str]) -> dict[str, list[str]]:
    """Register parents of each orgnr, nearest first (``organisations.parent_orgnr`` chain)."""
    parent: dict[str, str | None] = {}
    todo = {o for o in orgnrs if o}
    for _ in range(MAX_PARENT_DEPTH):
        todo -= parent.keys()
        if not todo:
            break
        found: dict[str, str | None] = {}
        for chunk in _chunks(sorted(todo)):
            for o, p in session.execute(
                select(Organisation.orgnr, Organisation.parent_orgnr).where(
                    Organisation.orgnr.in_(chunk)
                )
            ):
                found[o] = p
        for o in todo:
            parent[o] = found.get(o)
        todo = {p for p in found.values() if p}
    chains: dict[str, list[str]] = {}
    for o in orgnrs:
        chain: list[str] = []
        cur = parent.get(o)
        while cur and cur not in chain and cur != o and len(chain) < MAX_PARENT_DEPTH:
            chain.append(cur)
            cur = parent.get(cur)
        chains[o] = chain
    return chains


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _status(confidence: float, decision: str | None) -> str:
    if decision in {"confirmed", "rejected"}:
        return decision
    return "confirmed" if confidence >= SUGGEST_BELOW else "suggested"


# --------------------------------------------------------------------------- notices


def link_notices(
    session: Session,
    notice_pks: Iterable[int] | None = None,
    *,
    index: AccountIndex | None = None,
    refresh_contracts: bool = True,
) -> dict[str, int]:
    """(Re)link every buyer of the given notices (default: all) to accounts; flushes.

    Only the latest version of a notice is linked; links of older versions are removed.
    Returns counts: buyers, links, confirmed, suggested, rejected, added, updated, removed.
    """
    idx = index or build_index(session)
    counts = dict.fromkeys(
        ("buyers", "links", "confirmed", "suggested", "rejected", "added", "updated", "removed"), 0
    )
    if notice_pks is None:
        pks = list(session.scalars(select(Notice.id).order_by(Notice.id)))
    else:
        pks = sorted(set(notice_pks))
    decisions = _decisions(session)
    for chunk in _chunks(pks):
        _link_chunk(session, list(chunk), idx, decisions, counts)
    if refresh_contracts and pks:
        ids: list[int] = []
        for chunk in _chunks(pks):
            ids.extend(session.scalars(select(Contract.id).where(Contract.notice_pk.in_(chunk))))
        refresh_contract_accounts(session, ids, index=idx, decisions=decisions)
    session.flush()
    return counts


def _decisions(session: Session) -> dict[tuple[str, int], LinkDecision]:
    return {(d.buyer_key, d.account_id): d for d in session.scalars(select(LinkDecision))}


def _link_chunk(
    session: Session,
    pks: list[int],
    idx: AccountIndex,
    decisions: dict[tuple[str, int], LinkDecision],
    counts: dict[str, int],
) -> None:
    rows = session.execute(
        select(NoticeBuyer.id, NoticeBuyer.notice_pk, NoticeBuyer.orgnr, NoticeBuyer.name)
        .join(Notice, Notice.id == NoticeBuyer.notice_pk)
        .where(NoticeBuyer.notice_pk.in_(pks), Notice.is_latest.is_(True))
    ).all()
    chains = parent_chains(session, {r.orgnr for r in rows if r.orgnr})
    by_buyer_decisions: dict[str, list[LinkDecision]] = defaultdict(list)
    for (bkey, _aid), d in decisions.items():
        by_buyer_decisions[bkey].append(d)
    wanted: dict[tuple[int, int], dict[str, Any]] = {}
    matched_rows = [(r, idx.match(r.orgnr, r.name, chains.get(r.orgnr or "", []))) for r in rows]
    texts = _notice_texts(
        session,
        sorted({r.notice_pk for r, ms in matched_rows if any(m.body is not None for m in ms)}),
    )
    for r, matches in matched_rows:
        counts["buyers"] += 1
        bkey = buyer_key(r.orgnr, r.name)
        if r.notice_pk in texts:
            matches = idx.for_notice(matches, texts[r.notice_pk])
        matched = {m.account_id for m in matches}
        for d in by_buyer_decisions.get(bkey, ()):
            if d.status == "confirmed" and d.account_id not in matched:
                matches.append(Match(d.account_id, "manual", CONFIDENCE["manual"]))
        for m in matches:
            d = decisions.get((bkey, m.account_id))
            wanted[(r.id, m.account_id)] = {
                "notice_pk": r.notice_pk,
                "method": m.method,
                "confidence": m.confidence,
                "status": _status(m.confidence, d.status if d else None),
                "decided_by": d.decided_by if d else None,
                "decided_at": d.decided_at if d else None,
            }
    existing = {
        (link.buyer_pk, link.account_id): link
        for link in session.scalars(select(NoticeLink).where(NoticeLink.notice_pk.in_(pks)))
    }
    stale = [link.id for k, link in existing.items() if k not in wanted]
    if stale:
        session.execute(delete(NoticeLink).where(NoticeLink.id.in_(stale)))
        counts["removed"] += len(stale)
    new_rows = []
    for (buyer_pk, account_id), w in wanted.items():
        link = existing.get((buyer_pk, account_id))
        counts["links"] += 1
        counts[w["status"]] += 1
        if link is None:
            new_rows.append({"buyer_pk": buyer_pk, "account_id": account_id, **w})
            continue
        if any(getattr(link, k) != v for k, v in w.items()):
            for k, v in w.items():
                setattr(link, k, v)
            counts["updated"] += 1
    if new_rows:
        now = utcnow()
        session.execute(
            NoticeLink.__table__.insert(), [{"created_at": now, **row} for row in new_rows]
        )
        counts["added"] += len(new_rows)


def _notice_texts(session: Session, pks: Sequence[int]) -> dict[int, str]:
    """Title, description and lot titles of each notice: where the regions are named."""
    parts: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(pks):
        for pk, title, description in session.execute(
            select(Notice.id, Notice.title, Notice.description).where(Notice.id.in_(chunk))
        ):
            parts[pk].extend(t for t in (title, description) if t)
        for pk, title in session.execute(
            select(Lot.notice_pk, Lot.title).where(Lot.notice_pk.in_(chunk))
        ):
            if title:
                parts[pk].append(title)
    return {pk: "\n".join(ps) for pk, ps in parts.items()}


# --------------------------------------------------------------------------- contracts


def refresh_contract_accounts(
    session: Session,
    contract_ids: Iterable[int] | None = None,
    *,
    index: AccountIndex | None = None,
    decisions: dict[tuple[str, int], LinkDecision] | None = None,
) -> int:
    """Recompute ``contract_accounts`` for the given contracts (default: all); flushes.

    A contract from a notice takes the links of that notice's buyers; a contract from an
    agreement page or import matches its buyer parties directly. Rejected links give no
    row. Returns the number of rows written.
    """
    ids = sorted(set(contract_ids)) if contract_ids is not None else None
    if ids is not None and not ids:
        return 0
    idx = index or build_index(session)
    decisions = decisions if decisions is not None else _decisions(session)
    written = 0
    all_ids = ids if ids is not None else list(session.scalars(select(Contract.id)))
    # Every contract write and link decision ends here: the market's account and expiry
    # summaries follow (tracker.market.changes; imported here: market is downstream).
    from tracker.market import changes, facts

    change = changes.start(session, all_ids, changes.ACCOUNT_TABLES) if ids is not None else None
    for chunk in _chunks(all_ids):
        written += _refresh_chunk(session, list(chunk), idx, decisions)
    session.flush()
    if change is not None:
        changes.finish(session, change)
    else:
        facts.refresh_accounts(session)
    return written


def _refresh_chunk(
    session: Session,
    ids: list[int],
    idx: AccountIndex,
    decisions: dict[tuple[str, int], LinkDecision],
) -> int:
    contracts = session.execute(
        select(Contract.id, Contract.notice_pk).where(Contract.id.in_(ids))
    ).all()
    notice_of = {cid: npk for cid, npk in contracts}
    wanted: dict[tuple[int, int], dict[str, Any]] = {}

    def offer(cid: int, aid: int, method: str, conf: float, status: str) -> None:
        if status == "rejected":
            return
        cur = wanted.get((cid, aid))
        rank = (status == "confirmed", conf)
        if cur is None or rank > (cur["status"] == "confirmed", cur["confidence"]):
            wanted[(cid, aid)] = {"method": method, "confidence": conf, "status": status}

    npks = sorted({n for n in notice_of.values() if n is not None})
    links_by_notice: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(npks):
        for link in session.execute(
            select(
                NoticeLink.notice_pk,
                NoticeLink.account_id,
                NoticeLink.method,
                NoticeLink.confidence,
                NoticeLink.status,
            ).where(NoticeLink.notice_pk.in_(chunk))
        ):
            links_by_notice[link.notice_pk].append(link)
    no_notice = [cid for cid, npk in notice_of.items() if npk is None]
    parties: dict[int, list[tuple[str | None, str | None]]] = defaultdict(list)
    if no_notice:
        for cid, orgnr, name in session.execute(
            select(ContractParty.contract_id, ContractParty.orgnr, ContractParty.name).where(
                ContractParty.contract_id.in_(no_notice), ContractParty.role == "buyer"
            )
        ):
            parties[cid].append((orgnr, name))
    chains = parent_chains(session, {o for ps in parties.values() for o, _ in ps if o})
    for cid, npk in notice_of.items():
        if npk is not None:
            for link in links_by_notice.get(npk, ()):
                offer(cid, link.account_id, link.method, link.confidence, link.status)
            continue
        for orgnr, name in parties.get(cid, ()):
            bkey = buyer_key(orgnr, name)
            for m in idx.match(orgnr, name, chains.get(orgnr or "", [])):
                d = decisions.get((bkey, m.account_id))
                offer(
                    cid,
                    m.account_id,
                    m.method,
                    m.confidence,
                    _status(m.confidence, d.status if d else None),
                )
    session.execute(delete(ContractAccount).where(ContractAccount.contract_id.in_(ids)))
    if wanted:
        session.execute(
            ContractAccount.__table__.insert(),
            [{"contract_id": c, "account_id": a, **w} for (c, a), w in wanted.items()],
        )
    return len(wanted)


# --------------------------------------------------------------------------- decisions


def decide_link(
    session: Session, link_id: int, status: str, user_email: str | None
) -> dict[str, Any]:
    """Confirm or reject a link; remembered for this buyer and account on every relink. Commits.

    The decision applies to every notice of the same buyer (orgnr, or normalised name).
    The stored opportunities are then recomputed for the day they were last computed for,
    so that a rejected link's opportunity leaves the account at once (and a confirmed
    one's arrives), not at the next daily run.
    """
    if status not in {"confirmed", "rejected"}:
        raise ValueError("status must be 'confirmed' or 'rejected'")
    link = session.get(NoticeLink, link_id)
    if link is None:
        raise NotFoundError(f"no link with id {link_id} (see 'tracker accounts show NAME')")
    buyer = session.get(NoticeBuyer, link.buyer_pk)
    assert buyer is not None
    bkey = buyer_key(buyer.orgnr, buyer.name)
    now = utcnow()
    decision = session.scalars(
        select(LinkDecision).where(
            LinkDecision.buyer_key == bkey, LinkDecision.account_id == link.account_id
        )
    ).first()
    if decision is None:
        decision = LinkDecision(buyer_key=bkey, account_id=link.account_id)
        session.add(decision)
    decision.status = status
    decision.decided_by = user_email
    decision.decided_at = now
    session.flush()
    # Apply to every link of the same buyer and account.
    same_buyer = [
        b.id
        for b in session.execute(
            select(NoticeBuyer.id, NoticeBuyer.orgnr, NoticeBuyer.name)
            .join(NoticeLink, NoticeLink.buyer_pk == NoticeBuyer.id)
            .where(NoticeLink.account_id == link.account_id)
        )
        if buyer_key(b.orgnr, b.name) == bkey
    ]
    for chunk in _chunks(same_buyer):
        session.execute(
            update(NoticeLink)
            .where(NoticeLink.buyer_pk.in_(chunk), NoticeLink.account_id == link.account_id)
            .values(status=status, decided_by=user_email, decided_at=now)
        )
    notice_pks = set()
    for chunk in _chunks(same_buyer):
        notice_pks |= set(
            session.scalars(select(NoticeBuyer.notice_pk).where(NoticeBuyer.id.in_(chunk)))
        )
    contract_ids: list[int] = []
    for chunk in _chunks(sorted(notice_pks)):
        contract_ids.extend(
            session.scalars(select(Contract.id).where(Contract.notice_pk.in_(chunk)))
        )
    refresh_contract_accounts(session, contract_ids)
    session.commit()
    recomputed = recompute_after_decision(session)
    return {
        "recomputed_for": recomputed,
        "link_id": link_id,
        "buyer_key": bkey,
        "account_id": link.account_id,
        "status": status,
        "links_changed": len(same_buyer),
    }


def decide_link_as(session: Session, user: User, link_id: int, status: str) -> None:
    """Confirm or reject a suggested link (the account's KAM, director or admin)."""
    from tracker.opportunities.relevance import train_model
    from tracker.users import can_edit_account

    if status not in (LinkStatus.CONFIRMED, LinkStatus.REJECTED):
        raise UserError(f"status: {status!r} is not confirmed or rejected")
    link = session.get(NoticeLink, link_id)
    if link is None:
        raise NotFoundError(f"no link with id {link_id}")
    account = session.get(Account, link.account_id)
    if account is None or not can_edit_account(user, account.kam_email):
        raise PermissionDeniedError(
            f"{user.email} ({user.role}) may not decide links of this account"
        )
    decide_link(session, link_id, status, user.email)
    if status == LinkStatus.CONFIRMED:  # a confirmed link is a weak sign of relevance
        train_model(session)


def recompute_after_decision(session: Session) -> dt.date | None:
    """Recompute the stored opportunities for the day of their last recompute (what the
    pages show), and commit; None when they were never computed (the daily run will)."""
    from sqlalchemy import func

    from tracker.db.models import Opportunity
    from tracker.opportunities.build import recompute

    day = session.scalar(select(func.max(Opportunity.computed_for)))
    if day is None:
        return None
    recompute(session, day)
    session.commit()
    return day


# --------------------------------------------------------------------------- prospects

PUBLIC_ORG_FORMS = frozenset({"STAT", "ORGL", "KOMM", "FYLK", "KF", "FKF", "SF", "IKS"})
PUBLIC_SECTOR_CODES = frozenset({"6100", "6500"})
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
    """Public sector from the business register (org form, sector code), else notice data.

    Uses ``tracker.accounts.registry.is_public_body`` when that module provides it.
    """
    if org_form or sector_code:
        registry_check = _registry_check()
        if registry_check is not None:
            org = Organisation(name=name or "", org_form=org_form, sector_code=sector_code)
            return bool(registry_check(org))
        form, sector = (org_form or "").upper(), sector_code or ""
        return form in PUBLIC_ORG_FORMS or sector in PUBLIC_SECTOR_CODES
    if legal_type and legal_type.lower() in PUBLIC_LEGAL_TYPES:
        return True
    lowered = " " + full_key(name)
    return lowered.endswith(_PUBLIC_NAME_ENDINGS)


def _registry_check() -> Any:
    try:
        from tracker.accounts import registry  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(registry, "is_public_body", None)


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
