"""What every read model shares: whose accounts a user sees (``account_scope``, the
rule lives in ``tracker.users``), the "still running" rule, the app's cache of
whole-database aggregates, the settings and rules a page is given (``PageEnv``) and the
one conversion to plain values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, any_, bindparam, func, or_
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from tracker.config import Settings
from tracker.messages import Message
from tracker.rules import Rules, load_rules
from tracker.users import account_scope as account_scope  # re-exported for the pages

log = logging.getLogger(__name__)


def in_scope(column: Any, ids: list[int] | None) -> Any:
    """SQL condition: ``column`` is one of ``ids`` (every row when ids is None)."""
    return column.in_(ids) if ids is not None else True


def among_ids(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """SQL condition: integer ``column`` is one of ``ids``. On PostgreSQL one array
    parameter (``= ANY(%s::INTEGER[])``): the statement is the same text whatever the
    number of ids, so the driver and the server parse it once, where ``IN`` with a
    parameter per id is a new statement for every length; ``IN`` elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    return column.in_(ids)


def iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def num(value: Decimal | float | None) -> float | None:
    """A stored amount as a float; None stays None (unknown is not 0)."""
    return float(value) if value is not None else None


_ATOMS = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime, Decimal})
_FIELDS: dict[type, tuple[str, ...] | None] = {}  # a dataclass's field names, by type


def _field_names(cls: type) -> tuple[str, ...] | None:
    try:
        return _FIELDS[cls]
    except KeyError:
        is_record = dataclasses.is_dataclass(cls)
        names = tuple(f.name for f in dataclasses.fields(cls)) if is_record else None
        _FIELDS[cls] = names
        return names


def _plain(value: Any, text: bool) -> Any:
    """``value`` with records as dicts (``text``: messages as their English text)."""
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls is dict:
        return {k: v if type(v) in _ATOMS else _plain(v, text) for k, v in value.items()}
    if cls is list:
        return [v if type(v) in _ATOMS else _plain(v, text) for v in value]
    if isinstance(value, Message):
        return value.render() if text else value
    names = _field_names(cls)
    if names is not None:
        out = {}
        for name in names:
            v = getattr(value, name)
            out[name] = v if type(v) in _ATOMS else _plain(v, text)
        return out
    if isinstance(value, dict):
        return {k: _plain(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, text) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v, text) for v in value)
    return value


def plain(value: Any) -> Any:
    """A record (or list of records) as plain values for templates and CSV: the one place
    a dataclass becomes a dict. Domain messages (``tracker.messages.Message``) stay
    messages, for the template's ``msg`` filter to translate; a list or tuple of records
    becomes a list."""
    if isinstance(value, list | tuple):
        return [_plain(v, False) for v in value]
    return _plain(value, False)


def fields_of(record: Any) -> dict[str, Any]:
    """A record's fields as a template's context, the values as they are (templates read
    records by attribute: ``{{ b.title }}``)."""
    return {name: getattr(record, name) for name in _field_names(type(record)) or ()}


def to_json(value: Any) -> Any:
    """As ``plain``, with every domain message as its English text (the API's JSON, the
    command line's JSON)."""
    if isinstance(value, list | tuple):
        return [_plain(v, True) for v in value]
    return _plain(value, True)


def plain_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [_plain(r, False) for r in rows]


STALE_SECONDS = 240.0  # how long past its ttl an aggregate is served while it is rebuilt
MAX_REBUILDS = 2  # background rebuilds at once per app (each holds a database connection)


class PageCache:
    """Whole-database aggregates (pipeline, incumbency, uncovered accounts, the list of
    open competitions) reused for ``ttl`` seconds per database, name and day. One per app
    (``app.state.cache``), created with it: nothing global to clear between tests.

    Past its ``ttl`` a value is still served for ``stale_s`` seconds while a background
    thread builds the next with a session of its own (stale while revalidate): at 2 M
    notices the open competitions take 4 s and the pipeline 6 s to build, and no request
    should wait for that once they have been built. At most ``MAX_REBUILDS`` run at once
    (more stale values wait for a later request); a rebuild that failed is not tried in
    the background again within ``ttl``. Older than ``ttl + stale_s``, or bound to one
    connection (a test's transaction, an in-memory SQLite database), the request builds it.
    """

    def __init__(
        self, stale_s: float = STALE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # key -> (when its build started, the value, its ttl)
        self._values: dict[tuple[Any, ...], tuple[float, Any, float]] = {}
        self._refreshing: set[tuple[Any, ...]] = set()
        self._failed: dict[tuple[Any, ...], float] = {}  # key -> when a rebuild failed
        self._lock = threading.Lock()
        self.stale_s = stale_s
        self._clock = clock

    def max_age(self, ttl: float) -> int:
        """How old, in seconds, a value built with ``ttl`` may be when it is shown."""
        return int(ttl + self.stale_s)

    def get(
        self,
        session: Session,
        name: Hashable,
        today: dt.date,
        build: Callable[[Session], Any],
        ttl: float,
    ) -> Any:
        """``build(session)`` once per database, name and day within ``ttl`` seconds (then
        rebuilt as the class says); the value is shared between requests, so callers must
        not change it. ``build`` must use the session it is given."""
        bind = session.get_bind()
        engine = bind.engine if isinstance(bind, Connection) else bind
        key = (str(engine.url), id(bind), name, today)
        now = self._clock()
        with self._lock:
            hit = self._values.get(key)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
            if hit is not None and now - hit[0] < ttl + self.stale_s and _shareable(bind):
                if self._may_rebuild(key, now, ttl):
                    self._refreshing.add(key)
                    threading.Thread(
                        target=self._refresh,
                        args=(bind, key, build, ttl),
                        name=f"page-cache {name!r}",
                        daemon=True,
                    ).start()
                return hit[1]
        value = build(session)
        self._store(key, now, value, ttl)
        return value

    def _may_rebuild(self, key: tuple[Any, ...], now: float, ttl: float) -> bool:
        """(Under the lock.) No rebuild of ``key`` running or failed within ``ttl``, and
        fewer than ``MAX_REBUILDS`` running."""
        failed = self._failed.get(key)
        return (
            key not in self._refreshing
            and len(self._refreshing) < MAX_REBUILDS
            and (failed is None or now - failed >= ttl)
        )

    def _store(self, key: tuple[Any, ...], started: float, value: Any, ttl: float) -> None:
        """Keep ``value`` unless a newer one was stored meanwhile; forget values too old to
        be shown (another day's, an account set nobody asks for any more)."""
        with self._lock:
            current = self._values.get(key)
            if current is None or current[0] <= started:
                self._values[key] = (started, value, ttl)
            self._failed.pop(key, None)
            now = self._clock()
            too_old = [
                k for k, (at, _, limit) in self._values.items() if now - at >= limit + self.stale_s
            ]
            for old in too_old:
                del self._values[old]

    def _refresh(
        self, engine: Engine, key: tuple[Any, ...], build: Callable[[Session], Any], ttl: float
    ) -> None:
        started = self._clock()
        try:
            with Session(engine) as session:
                value = build(session)
        except Exception:  # shown stale until then; past ttl + stale_s a request builds it
            log.exception("page cache: rebuilding %r failed", key[2])
            with self._lock:
                self._failed[key] = self._clock()
        else:
            self._store(key, started, value, ttl)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def refreshing(self) -> int:
        """How many values are being rebuilt in the background now."""
        with self._lock:
            return len(self._refreshing)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._failed.clear()


def _shareable(bind: Any) -> bool:
    """A background thread may open its own session on ``bind``: an engine whose pool
    hands out separate connections (not a test's connection, not one shared in-memory
    SQLite connection)."""
    return isinstance(bind, Engine) and not isinstance(bind.pool, StaticPool | SingletonThreadPool)


class NoCache(PageCache):
    """Builds every time (the command line, the exports)."""

    def get(self, session: Session, name: Hashable, today: dt.date,
            build: Callable[[Session], Any], ttl: float) -> Any:  # fmt: skip
        return build(session)

    def max_age(self, ttl: float) -> int:
        return 0  # built for this call


def still_running(today: dt.date, *, unknown_end: bool) -> Any:
    """SQL condition, the one "still running" rule of every list (expiries, incumbency,
    the account's contracts): a contract runs on ``today`` while its base end or its
    latest end is on or after ``today``, or when a modification notice says it was
    probably extended (ask the buyer); an expected contract (a competition without an
    award seen) only once its expected award date has passed; a contract whose end is
    unknown counts only with ``unknown_end`` (incumbency: the supplier still holds it;
    the expiries list has no date to put it at unless asked)."""
    from tracker.db.models import Contract
    from tracker.enums import Extension

    alive = [
        Contract.end_date >= today,
        Contract.latest_end >= today,
        Contract.extension == Extension.PROBABLY_EXTENDED,
    ]
    if unknown_end:
        alive.append(and_(Contract.end_date.is_(None), Contract.latest_end.is_(None)))
    return and_(
        or_(*alive),
        or_(Contract.expected.is_not(True), Contract.expected_award <= today),
    )


def known_by(today: dt.date) -> Any:
    """SQL condition on a query joined (outer) to the contract's ``Notice``: a contract
    known only from a notice issued after ``today`` is not known yet (no hindsight)."""
    from tracker.db.models import Notice

    issued = func.coalesce(Notice.issue_date, Notice.publication_date)
    return or_(Notice.id.is_(None), issued.is_(None), issued <= today)


@dataclass(frozen=True)
class PageEnv:
    """What a read model is given instead of reading the environment: the settings the
    app (or the command) was started with, the rules of that version of the rules file,
    and the cache of aggregates (the app's; none on the command line)."""

    settings: Settings
    rules: Rules
    cache: PageCache = field(default_factory=lambda: NoCache())

    @property
    def ours(self) -> frozenset[str]:
        """Our organisation numbers (setting ``our_orgnrs``): "us" in every list."""
        return frozenset(self.settings.our_orgnr_list)

    @classmethod
    def of(cls, settings: Settings, cache: PageCache | None = None) -> PageEnv:
        """The env of ``settings``: its rules file read once per file version."""
        return cls(settings, load_rules(settings=settings), cache or NoCache())
