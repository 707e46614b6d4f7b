"""Bulk writes and chunked ``IN`` queries on Core tables (the ingest's and derive's fast path).

- :func:`chunked` and :func:`select_in`: an ``IN`` list of any length, sent in chunks of
  :data:`IN_CHUNK` values (SQLite allows at most 32,766 bound values per statement, and
  long lists make slow plans on both backends).
- :func:`bulk_insert`: ``INSERT`` many uniform rows through the driver's executemany.
- :func:`fit`: cut strings to their column length (PostgreSQL refuses longer values;
  ORM writes are checked instead, ``tracker.db.validation``).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any, TypeVar, cast

from sqlalchemy import JSON, URL, Connection, Dialect, Engine, Row, String, Table, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

T = TypeVar("T")

IN_CHUNK = 500  # values per ``IN`` list

# table name → {column name: VARCHAR length}
_LENGTHS: dict[str, dict[str, int]] = {}

# (table, column keys, dialect) → (SQL, column names in bind order, [(index, bind
# processor)], [(index, max length)], positional paramstyle)
_INSERTS: dict[
    tuple[str, tuple[str, ...], str],
    tuple[str, list[str], list[tuple[int, Any]], list[tuple[int, int]], bool],
] = {}


def table_of(model: type[Any]) -> Table:
    """The Core ``Table`` of a mapped class (typed: ``__table__`` is declared a ``FromClause``)."""
    return cast(Table, model.__table__)


def chunked(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (the last one shorter)."""
    items = values if isinstance(values, list) else list(values)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def select_in(
    executor: Session | Connection,
    columns: Sequence[Any],
    column: Any,
    values: Iterable[Any],
    *where: Any,
    size: int = IN_CHUNK,
) -> Iterator[Row[*tuple[Any, ...]]]:
    """Rows of ``SELECT columns WHERE column IN (values) AND where...``, the values sent in
    chunks of ``size`` (one statement per chunk; rows in the database's order per chunk)."""
    for chunk in chunked(values, size):
        yield from executor.execute(select(*columns).where(column.in_(chunk), *where))


def select_in_plain(
    executor: Session | Connection,
    columns: Sequence[Any],
    column: Any,
    values: Iterable[Any],
    where: str = "",
    size: int = IN_CHUNK,
) -> Iterator[tuple[Any, ...]]:
    """:func:`select_in` for columns whose values need no type processing (integers,
    strings; booleans come back as the driver gives them): the SQL is written here and
    sent through the driver, without compiling a statement and coercing every value of
    the ``IN`` list per call (the ingest's lookups, a few per batch of 500 notices).
    ``where``: a further SQL condition without parameters."""
    conn = executor.connection() if isinstance(executor, Session) else executor
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    head = (  # names from the table metadata; every value is a bound parameter
        f"SELECT {', '.join(f'{c.table.name}.{c.name}' for c in columns)} "  # noqa: S608
        f"FROM {column.table.name} WHERE {column.table.name}.{column.name} IN ("
    )
    tail = f") AND {where}" if where else ")"
    for chunk in chunked(values, size):
        sql = head + ", ".join([mark] * len(chunk)) + tail
        yield from conn.exec_driver_sql(sql, tuple(chunk))


def column_lengths(table: Any) -> dict[str, int]:
    """{column name: length} of the table's ``VARCHAR(n)`` columns (cached per table)."""
    lengths = _LENGTHS.get(table.name)
    if lengths is None:
        lengths = {
            c.name: c.type.length
            for c in table.columns
            if isinstance(c.type, String) and c.type.length is not None
        }
        _LENGTHS[table.name] = lengths
    return lengths


def fit(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Cut strings of ``row`` to their column length (in place; returns ``row``)."""
    for name, length in column_lengths(table).items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > length:
            row[name] = value[:length]
    return row


def _compiled_insert(
    conn: Connection, table: Any, keys: tuple[str, ...]
) -> tuple[str, list[str], list[tuple[int, Any]], list[tuple[int, int]], bool]:
    dialect = conn.dialect
    cache_key = (table.name, keys, dialect.name)
    entry = _INSERTS.get(cache_key)
    if entry is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or []) if compiled.positional else list(keys)
        procs = [
            (i, proc)
            for i, name in enumerate(names)
            if (proc := table.c[name].type._cached_bind_processor(dialect)) is not None
        ]
        lengths = column_lengths(table)
        cuts = [(i, lengths[name]) for i, name in enumerate(names) if name in lengths]
        entry = (str(compiled), names, procs, cuts, bool(compiled.positional))
        _INSERTS[cache_key] = entry
    return entry


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """``INSERT`` many uniform rows (the keys of the first row) through the driver's
    executemany.

    The statement and the columns' bind processors (JSON, UTC datetimes, numerics) come
    from SQLAlchemy, compiled once per table and column set; only the per-row parameter
    handling of ``Session.execute`` is skipped (a third of the ingest time). Strings are
    cut to their column length here (PostgreSQL refuses longer values), so callers need
    not :func:`fit` the rows. ``_cached_bind_processor`` is SQLAlchemy's private per-dialect
    cache of a type's bind processor (stable across 2.0 releases).
    """
    if not rows:
        return
    conn = session.connection()
    sql, names, procs, cuts, positional = _compiled_insert(conn, table, tuple(rows[0]))
    get: Callable[[dict[str, Any]], Any]
    if len(names) == 1:
        name = names[0]

        def get(row: dict[str, Any]) -> tuple[Any, ...]:
            return (row[name],)
    else:
        get = operator.itemgetter(*names)
    params: list[Any] = []
    try:
        for row in rows:
            values = list(get(row))
            for i, length in cuts:
                value = values[i]
                if isinstance(value, str) and len(value) > length:
                    values[i] = value[:length]
            for i, proc in procs:
                value = values[i]
                if value is not None:
                    values[i] = proc(value)
            params.append(tuple(values) if positional else dict(zip(names, values, strict=True)))
    except (TypeError, ValueError) as exc:  # a value the column type refuses
        raise StatementError(f"{table.name}: {exc}", sql, None, exc) from exc
    conn.exec_driver_sql(sql, params)


# --------------------------------------------------------------------------- encoded rows
#
# The ingest's parsing workers (``tracker.notices.packed``) turn rows into the values the
# driver is given (bind-processed, cut to length) away from the database, so that the
# storing process only adds the keys it alone knows and calls executemany.

# (dialect name, driver) → a dialect instance (for the bind processors of its types)
_DIALECTS: dict[tuple[str, str], Dialect] = {}


def dialect_key(engine: Engine | Connection) -> tuple[str, str]:
    """(name, driver) of the dialect of ``engine``: what the workers encode rows for."""
    return engine.dialect.name, engine.dialect.driver


def dialect_for(key: tuple[str, str]) -> Dialect:
    """A dialect instance of (name, driver) (bind processors do not need a connection)."""
    dialect = _DIALECTS.get(key)
    if dialect is None:
        dialect = URL.create(f"{key[0]}+{key[1]}").get_dialect()()
        _DIALECTS[key] = dialect
    return dialect


def json_text(value: Any) -> str:
    """``json.dumps(value)``, with a shortcut for the common lists of strings (CPV codes,
    warnings, notice ids): each string as ``json.dumps`` writes it, the same separator."""
    if value.__class__ is list and all(item.__class__ is str for item in value):
        return "[" + ", ".join(map(_json_string, value)) + "]"
    return json.dumps(value)


class Encoder:
    """Turns the values of columns ``keys`` of ``table`` into what the driver of
    ``dialect`` is given: strings cut to their column length (as :func:`fit`), then each
    column type's bind processor (as ``bulk_insert``). JSON values become their
    ``json.dumps`` text on every backend: SQLite's processor is exactly that, and on
    PostgreSQL the statements cast the parameter (``%(x)s::JSON``), where the driver's
    ``Json`` wrapper would send the same text."""

    __slots__ = ("table", "keys", "_procs", "_cuts", "_plain", "_get")

    def __init__(self, table: Any, keys: Sequence[str], dialect: Dialect) -> None:
        self.table = table
        self.keys = tuple(keys)
        lengths = column_lengths(table)
        self._cuts = [(i, lengths[k]) for i, k in enumerate(self.keys) if k in lengths]
        procs: list[tuple[int, Any]] = []
        for i, k in enumerate(self.keys):
            type_ = table.c[k].type
            if isinstance(type_, JSON):
                proc = dialect._json_serializer or json_text  # type: ignore[attr-defined]
            else:
                proc = type_._cached_bind_processor(dialect)
            if proc is not None:
                procs.append((i, proc))
        self._procs = procs
        self._plain = not procs and not self._cuts
        get = operator.itemgetter(*self.keys)
        self._get = get if len(self.keys) > 1 else (lambda row: (get(row),))

    def values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """The encoded ``values`` (in the order of ``keys``)."""
        if self._plain:
            return tuple(values)
        out = list(values)
        try:
            for i, length in self._cuts:
                value = out[i]
                if isinstance(value, str) and len(value) > length:
                    out[i] = value[:length]
            for i, proc in self._procs:
                value = out[i]
                if value is not None:
                    out[i] = proc(value)
        except (TypeError, ValueError) as exc:  # a value the column type refuses
            raise EncodeError(self.table.name, exc) from exc
        return tuple(out)

    def row(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The encoded values of ``row`` (a dict with at least ``keys``)."""
        return self.values(self._get(row))


class EncodeError(Exception):
    """A value a column type refuses (raised by :class:`Encoder`; picklable)."""

    def __init__(self, table: str, exc: Exception) -> None:
        super().__init__(table, exc)
        self.table = table
        self.exc = exc

    def statement_error(self, sql: str | None = None) -> StatementError:
        """What ``bulk_insert`` raises for the same value (a ``SQLAlchemyError``)."""
        return StatementError(f"{self.table}: {self.exc}", sql, None, self.exc)


# (statement cache key, dialect name) → (SQL, permutation of the keys, positional)
_ENCODED: dict[tuple[Any, str], tuple[str, tuple[int, ...], bool, tuple[str, ...]]] = {}


def execute_encoded(
    session: Session,
    cache_key: Any,
    statement: Callable[[], Any],
    keys: Sequence[str],
    rows: list[tuple[Any, ...]],
) -> None:
    """executemany of ``statement()`` (compiled once per ``cache_key`` and dialect) with
    ``rows`` of values already encoded (:class:`Encoder`) in the order of ``keys``, the
    names of the statement's bind parameters."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    entry = _ENCODED.get((cache_key, dialect.name))
    if entry is None:
        compiled = statement().compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or []) if compiled.positional else tuple(keys)
        index = {k: i for i, k in enumerate(keys)}
        entry = (str(compiled), tuple(index[n] for n in names), bool(compiled.positional), names)
        _ENCODED[(cache_key, dialect.name)] = entry
    sql, order, positional, names = entry
    params: list[Any]
    if positional and order == tuple(range(len(keys))):
        params = rows
    elif positional:
        pick = operator.itemgetter(*order)
        params = [pick(row) for row in rows] if len(order) > 1 else [(r[order[0]],) for r in rows]
    else:
        params = [dict(zip(keys, row, strict=True)) for row in rows]
    conn.exec_driver_sql(sql, params)
