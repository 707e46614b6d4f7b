"""Links of notice buyers (and contract buyers) to key accounts, kept in the database.

The rules are :mod:`tracker.linking.matching`; here the account index is built from the
accounts, every latest notice's buyers are (re)linked, contracts take the links of their
notices, and a KAM's confirm or reject is remembered for the buyer and account.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import Table, delete, select, update
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
from tracker.linking.matching import (
    CONFIDENCE,
    AccountIndex,
    CentralBody,
    Match,
    Region,
    buyer_key,
    link_status,
    terms_pattern,
)
from tracker.linking.names import full_key, match_key
from tracker.rules import Rules

MAX_PARENT_DEPTH = 6
CHUNK = 2000

# The built-in map, shipped as package data (examples/central_purchasing.yaml points to it).
DEFAULT_CENTRAL_PURCHASING_FILE = (
    Path(__file__).resolve().parents[1] / "data" / "central_purchasing.yaml"
)


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
                if o is not None:  # matched by the IN list: never None
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


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
    for (bkey, _aid), decision in decisions.items():
        by_buyer_decisions[bkey].append(decision)
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
        for remembered in by_buyer_decisions.get(bkey, ()):
            if remembered.status == "confirmed" and remembered.account_id not in matched:
                matches.append(Match(remembered.account_id, "manual", CONFIDENCE["manual"]))
        for m in matches:
            d = decisions.get((bkey, m.account_id))
            wanted[(r.id, m.account_id)] = {
                "notice_pk": r.notice_pk,
                "method": m.method,
                "confidence": m.confidence,
                "status": link_status(m.confidence, d.status if d else None),
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
            _table(NoticeLink).insert(), [{"created_at": now, **row} for row in new_rows]
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
                    link_status(m.confidence, d.status if d else None),
                )
    session.execute(delete(ContractAccount).where(ContractAccount.contract_id.in_(ids)))
    if wanted:
        session.execute(
            _table(ContractAccount).insert(),
            [{"contract_id": c, "account_id": a, **w} for (c, a), w in wanted.items()],
        )
    return len(wanted)


# --------------------------------------------------------------------------- decisions


def decide_link(
    session: Session,
    link_id: int,
    status: str,
    user_email: str | None,
    *,
    rules: Rules,
    ours: Iterable[str] = (),
) -> dict[str, Any]:
    """Confirm or reject a link; remembered for this buyer and account on every relink. Commits.

    The decision applies to every notice of the same buyer (orgnr, or normalised name).
    The account's stored opportunities are then recomputed for the day they were last
    computed for, so that a rejected link's opportunity leaves the account at once (and a
    confirmed one's arrives), not at the next daily run (with ``rules`` and our own orgnrs
    ``ours``). Only that account's: its links are the only ones the decision changes, and
    a rebuild of every account takes minutes at millions of notices.
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
    recomputed = recompute_after_decision(
        session, rules=rules, ours=ours, account_ids=[link.account_id]
    )
    return {
        "recomputed_for": recomputed,
        "link_id": link_id,
        "buyer_key": bkey,
        "account_id": link.account_id,
        "status": status,
        "links_changed": len(same_buyer),
    }


def decide_link_as(
    session: Session,
    user: User,
    link_id: int,
    status: str,
    *,
    rules: Rules,
    ours: Iterable[str] = (),
) -> None:
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
    decide_link(session, link_id, status, user.email, rules=rules, ours=ours)
    if status == LinkStatus.CONFIRMED:  # a confirmed link is a weak sign of relevance
        train_model(session)


def recompute_after_decision(
    session: Session,
    *,
    rules: Rules,
    ours: Iterable[str] = (),
    account_ids: Iterable[int] | None = None,
) -> dt.date | None:
    """Recompute the stored opportunities (of ``account_ids`` only, when given) for the day
    of their last recompute (what the pages show), and commit; None when they were never
    computed (the daily run will)."""
    from sqlalchemy import func

    from tracker.db.models import Opportunity
    from tracker.opportunities.build import recompute

    day = session.scalar(select(func.max(Opportunity.computed_for)))
    if day is None:
        return None
    ids = None if account_ids is None else list(account_ids)
    recompute(session, day, rules=rules, ours=ours, account_ids=ids)
    session.commit()
    return day
