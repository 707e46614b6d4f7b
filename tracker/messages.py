"""Text the domain writes for people (score reasons, fit reasons, date sources, errors).

The domain never formats a sentence in one language: it returns a ``Message``, an English
gettext msgid with named values. ``str(message)`` is the English text (the CLI, logs and
the API's ``text`` field); the web app translates the msgid through its catalog
(``tracker/locale/nb/LC_MESSAGES/messages.po``, extracted from ``tracker/`` with the
``N_`` keyword) and fills in the values, which may themselves be messages.

    >>> m = N_("Deadline in %(days)s days", days=12)
    >>> str(m)
    'Deadline in 12 days'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Translate = Callable[[str], str]


@dataclass(frozen=True)
class Message:
    """An English msgid with named ``%(name)s`` values, translated where it is shown."""

    msgid: str
    values: Mapping[str, Any] = field(default_factory=dict)
    literal: bool = False  # a pattern of other messages (``join``): not in the catalog

    def render(self, translate: Translate | None = None) -> str:
        """The text, translated by ``translate`` (msgid -> text); English without one."""
        text = translate(self.msgid) if translate and not self.literal else self.msgid
        if not self.values:
            return text
        values = {  # a value may be a message too (or a Text carrying one)
            k: render(v, translate) if isinstance(v, Message | Text) else v
            for k, v in self.values.items()
        }
        return text % values

    def __str__(self) -> str:
        return self.render()


class Text(str):
    """A message's English text that keeps the message: a plain ``str`` wherever text
    goes (JSON, CSV, comparisons; ``dataclasses.asdict`` copies it whole), translated where
    it is shown (:func:`render`, the dashboards' ``msg`` filter).

    >>> t = Text(N_("Deadline in %(days)s days", days=12))
    >>> t == "Deadline in 12 days", t.message.msgid
    (True, 'Deadline in %(days)s days')
    """

    message: Message

    def __new__(cls, message: Message) -> Text:
        text = super().__new__(cls, message.render())
        text.message = message
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the message
        return (Text, (self.message,))


def N_(msgid: str, **values: Any) -> Message:  # noqa: N802 - the gettext marker's usual name
    """Mark ``msgid`` for the catalog and bind its values (no translation here)."""
    return Message(msgid, values)


def join(parts: list[Message | str], sep: str = "; ") -> Message:
    """Several messages as one (each translated on its own)."""
    keys = {f"p{i}": p for i, p in enumerate(parts)}
    return Message(sep.join(f"%({k})s" for k in keys), keys, literal=True)


def render(value: Any, translate: Translate | None = None) -> str:
    """A message or plain text, translated when it is a message (or a :class:`Text`)."""
    if isinstance(value, Text):
        value = value.message
    if isinstance(value, Message):
        return value.render(translate)
    return "" if value is None else str(value)


def _pattern(msgid: str, *, within: bool = False) -> re.Pattern[str]:
    """A message's English text as a regular expression, a named group per value.
    ``within`` (a message searched for inside longer text): a value at the very end runs
    to the end of that part of the text (up to a ``;`` between notes), not one character
    as a lazy group would; a whole text is matched in full (``fullmatch``) instead."""
    parts = re.split(r"%\((\w+)\)s", msgid)
    last = len(parts) - 2 if within and parts[-1] == "" else -1
    rx = "".join(
        re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^;]+)" if i == last else f"(?P<{p}>.+?)"
        for i, p in enumerate(parts)
    )
    return re.compile(rx)


def recognise(text: str | None, known: Sequence[Message]) -> Text | str | None:
    """Stored English text that the domain wrote from ``known`` messages (a contract's
    notes, kept as text in the database) made a :class:`Text` again, so that pages can
    translate it: each part that reads as one of the messages becomes that message with
    its values; anything else (a note a user typed) stays as it is. Text with none of
    them comes back unchanged."""
    if not text:
        return text
    compiled = [(m.msgid, _pattern(m.msgid, within=True)) for m in known]
    out: list[str] = []
    values: dict[str, Any] = {}
    pos = 0
    while True:
        found = [(rx.search(text, pos), msgid) for msgid, rx in compiled]
        hits = [(m, msgid) for m, msgid in found if m is not None and m.end() > m.start()]
        if not hits:
            break
        m, msgid = min(hits, key=lambda h: h[0].start())
        out.append(text[pos : m.start()].replace("%", "%%"))
        key = f"p{len(values)}"
        values[key] = Message(msgid, m.groupdict())
        out.append(f"%({key})s")
        pos = m.end()
    if not values:
        return text
    out.append(text[pos:].replace("%", "%%"))
    return Text(Message("".join(out), values, literal=True))


def recognise_whole(text: str | None, known: Sequence[Message]) -> Text | str | None:
    """``text`` as the first of ``known`` messages it reads as in full (its values
    recognised the same way, for a message inside a message); otherwise unchanged."""
    if not text:
        return text
    for message in known:
        hit = _pattern(message.msgid).fullmatch(text)
        if hit is not None:
            values = {k: recognise_whole(v, known) for k, v in hit.groupdict().items()}
            return Text(Message(message.msgid, values))
    return text
