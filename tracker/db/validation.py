"""Every ORM write is checked against its columns before it reaches the database.

PostgreSQL refuses a string longer than its ``VARCHAR(n)`` and any NUL character in
text; SQLite stores both silently. Checking in ``before_flush`` makes both backends
refuse the same values with the same clear ``UserError`` ("<table>.<column>: at most
300 characters") instead of a database error (a 500 on the pages): an activity key
longer than its column, a pasted NUL byte. Bulk ingest writes (Core inserts) cut or
clean their values themselves (``tracker.db.bulk.fit``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, event, inspect
from sqlalchemy.orm import Session

from tracker.errors import UserError


def check_instance(obj: Any) -> None:
    """Raise ``UserError`` for a string attribute too long for its column or holding NUL."""
    state = inspect(obj)
    table = state.mapper.local_table
    for prop in state.mapper.column_attrs:
        column = prop.columns[0]
        value = state.dict.get(prop.key)
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise UserError(f"{table.name}.{column.name}: contains a NUL byte")
        length = column.type.length if isinstance(column.type, String) else None
        if length is not None and len(value) > length:
            raise UserError(
                f"{table.name}.{column.name}: at most {length} characters ({len(value)} given)"
            )


@event.listens_for(Session, "before_flush")
def _check_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty):
        check_instance(obj)
