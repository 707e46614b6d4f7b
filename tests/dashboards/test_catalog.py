"""Every user-facing template string goes through the gettext catalog, and the Norwegian
catalog translates each one.

Strings are extracted from the templates with Babel (as ``pybabel extract -F
dashboards/babel.cfg`` does) and compared with the compiled ``nb`` catalog; the menu
labels of the route modules count too. A second check reads the templates with Jinja's
lexer and fails on words written outside ``_()``/``{% trans %}`` (text between tags and
the human-readable attributes title, placeholder, aria-label, data-confirm).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file, extract_python
from babel.messages.pofile import read_po

from dashboards.app import _route_modules
from tracker import i18n

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "dashboards" / "templates"
OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}
# Words that read the same in both languages (names, formats, units).
SAME_IN_BOTH = {
    "CSV", "XLSX", "Doffin", "CPV", "API", "JSON", "Authorization", "Bearer", "token",
    "tracker", "ingest", "derive", "pending", "run", "once", "rules", "toml", "OpenAPI",
}  # fmt: skip


def _extracted() -> dict[str, list[str]]:
    """msgid -> where, from every template (partials too: pybabel's directory walk skips
    folders starting with '_', so files are read one by one)."""
    found: dict[str, list[str]] = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        for lineno, message, _comments, _context in extract_from_file(
            "jinja2", str(path), options=OPTIONS
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault(msgid, []).append(f"{path.relative_to(TEMPLATES)}:{lineno}")
    return found


def _catalog():
    with i18n.po_path("nb").open("rb") as fh:
        return read_po(fh, locale="nb")


def test_every_template_string_is_in_the_norwegian_catalog() -> None:
    extracted = _extracted()
    assert len(extracted) > 300, "the templates hardly use the catalog"
    catalog = _catalog()
    missing = []
    for msgid, where in sorted(extracted.items()):
        entry = catalog.get(msgid)
        text = entry.string if entry is not None else None
        if isinstance(text, tuple):
            text = text[0] if all(text) else ""
        if entry is None or not text or entry.fuzzy:
            missing.append(f"{msgid!r} ({where[0]})")
    assert not missing, f"{len(missing)} template strings without a Norwegian translation: " + (
        "; ".join(missing[:20])
    )


def _domain_messages() -> dict[str, list[str]]:
    """msgid -> where, for every ``N_("...")`` in tracker/ and dashboards/ (messages the
    domain writes, and the web app's one-time messages after a change)."""
    found: dict[str, list[str]] = {}
    paths = [*(ROOT / "tracker").rglob("*.py"), *(ROOT / "dashboards").rglob("*.py")]
    for path in sorted(paths):
        with path.open("rb") as fh:
            for lineno, _func, message, _comments in extract_python(fh, ["N_"], [], {}):
                msgid = message[0] if isinstance(message, tuple) else message
                if msgid:
                    found.setdefault(msgid, []).append(f"{path.relative_to(ROOT)}:{lineno}")
    return found


def test_every_domain_message_is_in_the_norwegian_catalog() -> None:
    """Reasons, date sources and other sentences the domain writes (``N_``) are shown in
    Norwegian: each has a translation with the same named values."""
    catalog = _catalog()
    missing = []
    for msgid, where in sorted(_domain_messages().items()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{msgid!r} ({where[0]})")
            continue
        names = set(re.findall(r"%\((\w+)\)", msgid))
        if set(re.findall(r"%\((\w+)\)", entry.string)) != names:
            missing.append(f"{msgid!r}: the translation's values differ ({where[0]})")
    assert not missing, f"{len(missing)} domain messages without a Norwegian translation: " + (
        "; ".join(missing[:20])
    )


def test_menu_labels_are_in_the_catalog() -> None:
    catalog = _catalog()
    labels = [label for mod in _route_modules() for label, _p, _r in getattr(mod, "NAV", [])]
    assert labels
    missing = [label for label in labels if not (catalog.get(label) and catalog.get(label).string)]
    assert not missing, f"menu labels without a translation: {missing}"


def test_the_compiled_catalog_translates() -> None:
    token = i18n.set_language("nb")
    try:
        assert i18n.gettext("Log out") == "Logg ut"
        assert (
            i18n.ngettext("%(num)d notice", "%(num)d notices", 2) % {"num": 2} == "2 kunngjøringer"
        )
    finally:
        i18n._current.reset(token)
    token = i18n.set_language("en")
    try:
        assert i18n.gettext("Log out") == "Log out"
    finally:
        i18n._current.reset(token)


ATTR = re.compile(r'\b(?:title|placeholder|aria-label|data-confirm|data-label|alt)="([^"]*)"')
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-zÆØÅæøå]{2,}", text) if w not in SAME_IN_BOTH]


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_no_text_outside_the_catalog(path: Path) -> None:
    """Jinja constructs are blanked out; what is left between tags, and in the attributes
    people read, must have no words."""
    source = JINJA.sub("\u00a7", path.read_text(encoding="utf-8"))
    loose = []
    for n, line in enumerate(source.splitlines(), 1):
        for attr in ATTR.findall(line):
            if _words(attr):
                loose.append(f"line {n}: attribute {attr!r}")
    text = re.sub(r"<[^>]*>", "\n", source)
    text = re.sub(r"&[a-z]+;", " ", text)
    for chunk in text.splitlines():
        if _words(chunk):
            loose.append(chunk.strip()[:60])
    assert not loose, f"{path.name}: text outside the catalog: {loose[:10]}"


def test_no_bare_percent_sign_in_a_template_string() -> None:
    """Jinja's new-style gettext formats every string with ``%``: a bare ``%`` (``_("Price
    %")``) raises "incomplete format" when the page renders; write ``%%`` or rephrase."""
    bad = [
        f"{msgid!r} ({where[0]})"
        for msgid, where in _extracted().items()
        if re.search(r"%(?![(%])", msgid)
    ]
    assert not bad, "; ".join(bad)


def test_no_message_is_translated_twice() -> None:
    """A msgid written twice in the .po file is merged silently by Babel (the last one
    wins): one entry per msgid, so a reviewer reads the translation that is used."""
    ids: dict[str, int] = {}
    lines = i18n.po_path("nb").read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if line.startswith('msgid "') and line != 'msgid ""':
            assert line not in ids, f"{line} on lines {ids[line]} and {lineno}"
            ids[line] = lineno
