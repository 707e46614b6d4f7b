"""Languages of what users read (pages, alert e-mails and messages): Norwegian bokmål
(``nb``) by default, English (``en``) by choice.

Template strings and the domain's messages (``tracker.messages.N_``) are written in English
and translated through a gettext catalog,
``tracker/locale/<lang>/LC_MESSAGES/messages.po`` (extract them with
``pybabel extract -F dashboards/babel.cfg``). The ``.po`` file is the one source: it is
compiled in memory at start-up (no ``.mo`` file to build or forget), so ``make demo`` and
``make test`` work from a clean clone. English needs no catalog: the source strings are
English.

The language of a request is kept in a context variable set by ``dashboards.web.render``
from the logged-in user's preference (``users.language``; ``DEFAULT_LANGUAGE`` when the
user has none), so macros imported into a template and the formatting filters see it too;
outside a request (the alerts written for one user) ``speaking(language)`` sets it.
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from tracker.messages import Message

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
LANGUAGES: dict[str, str] = {"nb": "Norsk (bokmål)", "en": "English"}
# The language of a user who has not chosen one. Tests that assert English page text
# pin it to "en" (tests/conftest.py); the product default is Norwegian.
DEFAULT_LANGUAGE = "nb"

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("language", default=None)


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=8)
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``lang`` (English and unknown languages: no translation)."""
    path = po_path(lang)
    if lang == "en" or not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def normalize(lang: str | None) -> str:
    """A supported language code for ``lang`` (None or unknown: the default)."""
    if lang in LANGUAGES:
        return lang  # type: ignore[return-value]
    return DEFAULT_LANGUAGE


def current_language() -> str:
    return normalize(_current.get())


def set_language(lang: str | None) -> contextvars.Token:
    """Make ``lang`` the language of what is rendered next in this context."""
    return _current.set(normalize(lang))


def gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current_language()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current_language()).npgettext(context, singular, plural, n)


def tr(en: str, nb: str) -> str:
    """A short text given in both languages in code (labels of codes): the current one."""
    return nb if current_language() == "nb" else en


def say(message: Message) -> str:
    """A domain or route message (``tracker.messages.N_``) in the current language."""
    return message.render(gettext)


@contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Within the block, what is rendered speaks ``lang`` (None: the default language)."""
    token = set_language(lang)
    try:
        yield current_language()
    finally:
        _current.reset(token)
