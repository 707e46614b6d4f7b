"""A value that never prints (settings, logs, reprs)."""

from __future__ import annotations


class Secret:
    """A secret value that prints as ``***`` (settings, logs, reprs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None):
        self._value = value or None

    def reveal(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret(None)"

    __str__ = __repr__
