"""Every table of a database as comparable content, independent of surrogate ids.

``snapshot(engine)`` gives, per table of ``tracker.db.models``, the sorted list of its
rows where

- surrogate integer primary keys (``id``) and timestamps (UTC datetime columns) are
  left out: they differ between two runs that store the same data;
- a foreign key is replaced by the content of the row it points to (recursively), so
  a contract party is compared by its contract's key, a winner by its result, lot and
  notice-id + version;
- JSON is compared as sorted JSON, binary columns by their SHA-256.

Two databases holding the same data give equal snapshots whatever order rows were
written in.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Engine, LargeBinary, select
from sqlalchemy.sql.schema import Table

from tracker.db.models import Base, UTCDateTime


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, float):
        return round(value, 9)
    return value


class _Canon:
    def __init__(self, engine: Engine, skip_tables: set[str]):
        self.rows: dict[str, dict[Any, dict[str, Any]]] = {}
        self.tables = {t.name: t for t in Base.metadata.sorted_tables}
        self.skip = skip_tables
        with engine.connect() as conn:
            for name, table in self.tables.items():
                pk = [c.name for c in table.primary_key.columns]
                found = {}
                for row in conn.execute(select(table)).mappings():
                    found[tuple(row[c] for c in pk)] = dict(row)
                self.rows[name] = found
        self.memo: dict[tuple[str, Any], Any] = {}

    def _surrogate(self, table: Table, column: str) -> bool:
        pk = [c.name for c in table.primary_key.columns]
        return pk == [column] and column == "id"

    def identity(self, table_name: str, key: Any, visiting: frozenset = frozenset()) -> Any:
        memo_key = (table_name, key)
        if memo_key in self.memo:
            return self.memo[memo_key]
        row = self.rows[table_name].get(key)
        if row is None:
            return ("missing", table_name)
        value = self.canonical(self.tables[table_name], row, visiting | {memo_key})
        self.memo[memo_key] = value
        return value

    def canonical(
        self, table: Table, row: dict[str, Any], visiting: frozenset = frozenset()
    ) -> Any:
        out = []
        for column in table.columns:
            name = column.name
            value = row[name]
            if self._surrogate(table, name) or isinstance(column.type, UTCDateTime):
                continue
            fks = list(column.foreign_keys)
            if fks:
                target = fks[0].column.table.name
                if target in self.skip:
                    continue
                if value is None:
                    out.append((name, None))
                elif (target, (value,)) in visiting:
                    out.append((name, "cycle"))
                else:
                    out.append((name, self.identity(target, (value,), visiting)))
                continue
            if isinstance(column.type, LargeBinary):
                out.append((name, _plain(value if value is not None else b"")))
                continue
            out.append((name, _plain(value)))
        return tuple(out)


def snapshot(engine: Engine, skip_tables: set[str] | None = None) -> dict[str, list[str]]:
    """{table: sorted rows (as text)} of every model table except ``skip_tables``."""
    skip = set(skip_tables or ())
    canon = _Canon(engine, skip)
    out: dict[str, list[str]] = {}
    for name, table in canon.tables.items():
        if name in skip:
            continue
        out[name] = sorted(repr(canon.canonical(table, row)) for row in canon.rows[name].values())
    return out


def differences(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, str]:
    """Tables whose content differs, with the counts and one example row each way."""
    diff = {}
    for name in sorted(set(a) | set(b)):
        ra, rb = a.get(name, []), b.get(name, [])
        if ra != rb:
            only_a = sorted(set(ra) - set(rb))[:1]
            only_b = sorted(set(rb) - set(ra))[:1]
            diff[name] = f"{len(ra)} vs {len(rb)} rows; only left: {only_a}; only right: {only_b}"
    return diff
