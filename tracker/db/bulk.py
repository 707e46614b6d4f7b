"""Bulk writes and chunked ``IN`` queries on Core tables (the ingest's and derive's fast path).

- :func:`chunked` and :func:`select_in`: an ``IN`` list of any length, sent in chunks of
  :data:`IN_CHUNK` values (SQLite allows at most 32,766 bound values per statement, and
  long lists make slow plans on both backends).
- :func:`bulk_insert`: ``INSERT`` many uniform rows through the driver's executemany.
- :func:`fit`: cut strings to their column length (PostgreSQL refuses longer values;
  ORM writes are checked instead, ``tracker.db.validation``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Row, String, Table, insert, select
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
