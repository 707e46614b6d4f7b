"""The capability profile: ONE profile for every notice, opportunity, expiry and bid.

The profile (``[profile]`` in the rules, per-account overrides under
``[accounts."<name>".profile]``):

- ``cpv_prefixes``: CPV codes that are our work, shown with their Norwegian names
  (``tracker/data/cpv.tsv``); ``exclude_cpv_prefixes``: codes under them that are not;
- ``keywords``: matched on word boundaries (``lisens*`` matches words starting with
  "lisens"; all-capital keywords such as ``IT`` match case-sensitively);
- ``negative_keywords`` (in the title: out of profile whatever the CPV) and
  ``negative_cpv_prefixes`` (a main CPV there is out of profile unless the title names
  one of our keywords).

``Profile.fit(cpvs, main_cpv, title, text)`` gives a ``Fit``: whether the item is in the
profile, a 0..1 strength (the bid score's fit component) and the reason (a domain message's
text, ``tracker.messages.Text``: English, translated where it is shown). An item is in
the profile when nothing negative is in its title or main CPV and its main CPV is ours, its
title names a keyword, one of its other CPVs is ours and its description names a keyword,
or its description names two different keywords. ``ItemText`` is what the profile (and
the learned model, :mod:`tracker.opportunities.relevance`) reads of an item. Pure, but
for :func:`notice_texts`, which reads the texts of stored notices.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from tracker.messages import N_, Message, Text
from tracker.notices.codelists import codelist

TEXT_LIMIT = 4000  # characters of description kept for the profile and the model


def cpv_digits(code: str) -> str:
    return code.strip().split("-", 1)[0]


def cpv_prefix_label(prefix: str) -> str:
    """The Norwegian name of a CPV prefix (``48`` → the name of 48000000)."""
    code = (prefix + "0" * 8)[:8]
    entry = codelist("cpv").get(code)
    return entry.label if entry else prefix


_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class KeywordMatcher:
    """Keywords matched on word boundaries: ``IT`` (capitals: case-sensitive), ``lisens*``
    (words starting with it), ``data center`` (a phrase). Words are runs of letters and
    digits: "IT-tjenesten" holds the word "IT". Set lookups, not one big regex."""

    exact: frozenset[str]  # lower-case words
    exact_caps: frozenset[str]  # words in capitals, case-sensitive
    prefixes: tuple[str, ...]  # lower-case
    caps_prefixes: tuple[str, ...]
    phrases: re.Pattern[str] | None

    @classmethod
    def of(cls, keywords: Iterable[str]) -> KeywordMatcher:
        exact: set[str] = set()
        caps: set[str] = set()
        prefixes: list[str] = []
        caps_prefixes: list[str] = []
        phrases: list[str] = []
        for kw in (k.strip() for k in keywords):
            word = kw.rstrip("*")
            if not word:
                continue
            if not _WORDS.fullmatch(word):  # a phrase or a word with a hyphen
                tail = r"[^\W_]*" if kw.endswith("*") else ""
                phrases.append(rf"(?<![^\W_]){re.escape(word)}{tail}(?![^\W_])")
            elif kw.endswith("*"):
                (caps_prefixes if word.isupper() else prefixes).append(
                    word if word.isupper() else word.lower()
                )
            elif word.isupper():
                caps.add(word)
            else:
                exact.add(word.lower())
        pattern = re.compile("|".join(phrases), re.IGNORECASE) if phrases else None
        return cls(frozenset(exact), frozenset(caps), tuple(prefixes), tuple(caps_prefixes),
                   pattern)  # fmt: skip

    def found(self, text: str) -> list[str]:
        """The distinct matching words (lower-case) in order of appearance."""
        if not text:
            return []
        seen: dict[str, None] = {}
        exact, caps, prefixes, caps_prefixes = (
            self.exact, self.exact_caps, self.prefixes, self.caps_prefixes
        )  # fmt: skip
        for w in _WORDS.findall(text):
            low = w.lower()
            if (
                low in exact
                or w in caps
                or (prefixes and low.startswith(prefixes))
                or (caps_prefixes and w.startswith(caps_prefixes))
            ):
                seen.setdefault(low, None)
        if self.phrases is not None:
            for m in self.phrases.finditer(text):
                seen.setdefault(m.group(0).lower(), None)
        return list(seen)


@dataclass(frozen=True)
class Fit:
    """Whether an item is in the capability profile, how strongly (0..1) and why."""

    fit: bool
    strength: float
    reason: str
    cpvs: tuple[tuple[str, str], ...] = ()  # (code, Norwegian name of the matching prefix)
    keywords: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "fit": self.fit,
            "strength": round(self.strength, 2),
            "reason": self.reason,
            "cpvs": [{"code": c, "label": label} for c, label in self.cpvs],
            "keywords": list(self.keywords),
            "negatives": list(self.negatives),
        }


@dataclass(frozen=True)
class Profile:
    """The capability profile in force (globally or for one account)."""

    cpv_prefixes: tuple[str, ...] = ("302", "48", "72")
    keywords: tuple[str, ...] = ("IT", "programvare*", "software")
    exclude_cpv_prefixes: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()
    negative_cpv_prefixes: tuple[str, ...] = ()

    @cached_property
    def _kw(self) -> KeywordMatcher:
        return KeywordMatcher.of(self.keywords)

    @cached_property
    def _neg(self) -> KeywordMatcher:
        return KeywordMatcher.of(self.negative_keywords)

    @cached_property
    def labels(self) -> dict[str, str]:
        """Each CPV prefix with its Norwegian name."""
        return {p: cpv_prefix_label(p) for p in self.cpv_prefixes}

    def _ours(self, code: str) -> str | None:
        digits = cpv_digits(code)
        if any(digits.startswith(x) for x in self.exclude_cpv_prefixes):
            return None
        return next((p for p in self.cpv_prefixes if digits.startswith(p)), None)

    def fit(
        self,
        cpvs: Sequence[str],
        main_cpv: str | None,
        title: str,
        text: str = "",
    ) -> Fit:
        """The fit of one item: ``title`` (its title and lot titles), ``text`` (its
        descriptions), ``cpvs`` (all its CPV codes) and ``main_cpv``."""
        title, text = title or "", (text or "")[:TEXT_LIMIT]
        main = cpv_digits(main_cpv) if main_cpv else (cpv_digits(cpvs[0]) if cpvs else None)
        hits: dict[str, str] = {}
        for code in [*([main] if main else []), *cpvs]:
            prefix = self._ours(code)
            if prefix is not None:
                hits.setdefault(cpv_digits(code), prefix)
        main_hit = main is not None and main in hits
        kw_title = self._kw.found(title)
        kw_text = [k for k in self._kw.found(text) if k not in kw_title]
        neg_title = self._neg.found(title)
        neg_main = (
            main if main and any(main.startswith(p) for p in self.negative_cpv_prefixes) else None
        )
        excluded = (
            main if main and any(main.startswith(p) for p in self.exclude_cpv_prefixes) else None
        )
        cpv_pairs = tuple((c, self.labels[p]) for c, p in hits.items())
        kws = tuple(kw_title + kw_text)

        if neg_title:
            why = N_("out of profile: '%(keyword)s' in the title", keyword=neg_title[0])
            return Fit(False, 0.0, Text(why), cpv_pairs, kws, tuple(neg_title))
        if neg_main and not kw_title:
            label = cpv_prefix_label(neg_main[:2])
            why = N_("out of profile: main CPV %(cpv)s (%(label)s)", cpv=neg_main, label=label)
            return Fit(False, 0.0, Text(why), cpv_pairs, kws, (neg_main,))
        if excluded and not kw_title:
            why = N_("out of profile: main CPV %(cpv)s (%(label)s) is excluded from our profile",
                     cpv=excluded, label=cpv_prefix_label(excluded))  # fmt: skip
            return Fit(False, 0.0, Text(why), cpv_pairs, kws, (excluded,))
        found = _found(main, main_hit, cpv_pairs, hits, kw_title, kw_text)
        if found is None:
            why = N_("out of profile: %(why)s", why=_missing(cpv_pairs, hits, kw_text))
            return Fit(False, 0.0, Text(why), cpv_pairs, kws)
        strength = (0.6 if main_hit else 0.4 if hits else 0.0) + 0.4 * min(
            1.0, (len(kw_title) + 0.5 * len(kw_text)) / 2
        )
        found_text = str(found)
        extra = [k for k in kws if f"'{k}'" not in found_text][:3]
        if extra:
            why = N_("in profile: %(why)s; keywords %(keywords)s", why=found,
                     keywords=", ".join(extra))  # fmt: skip
        else:
            why = N_("in profile: %(why)s", why=found)
        return Fit(True, min(1.0, strength), Text(why), cpv_pairs, kws)


def _cpv_text(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{c} {label}" for c, label in pairs[:2])


def _found(
    main: str | None,
    main_hit: bool,
    cpv_pairs: tuple[tuple[str, str], ...],
    hits: Mapping[str, str],
    kw_title: list[str],
    kw_text: list[str],
) -> Message | None:
    """Why an item is in the profile; None when it is not."""
    if main_hit:
        return N_("main CPV %(cpvs)s", cpvs=_cpv_text([p for p in cpv_pairs if p[0] == main]))
    if kw_title:
        return N_("'%(keyword)s' in the title", keyword=kw_title[0])
    if hits and kw_text:
        return N_("CPV %(cpvs)s and '%(keyword)s' in the description",
                  cpvs=_cpv_text(cpv_pairs), keyword=kw_text[0])  # fmt: skip
    if len(kw_text) >= 2:
        return N_("'%(first)s' and '%(second)s' in the description",
                  first=kw_text[0], second=kw_text[1])  # fmt: skip
    return None


def _missing(
    cpv_pairs: tuple[tuple[str, str], ...], hits: Mapping[str, str], kw_text: list[str]
) -> Message:
    """What an item out of the profile lacks."""
    if hits:
        return N_("only an additional CPV (%(cpvs)s) and no profile keyword",
                  cpvs=_cpv_text(cpv_pairs))  # fmt: skip
    if kw_text:
        return N_("only one profile keyword ('%(keyword)s') in the description",
                  keyword=kw_text[0])  # fmt: skip
    return N_("no profile CPV or keyword")


def profile_from_values(values: Mapping[str, Any]) -> Profile:
    """A ``Profile`` from rule values keyed ``profile.<name>``."""

    def seq(key: str) -> tuple[str, ...]:
        return tuple(str(x).replace("-", "") if "cpv" in key else str(x) for x in values[key])

    return Profile(
        cpv_prefixes=seq("profile.cpv_prefixes"),
        keywords=seq("profile.keywords"),
        exclude_cpv_prefixes=seq("profile.exclude_cpv_prefixes"),
        negative_keywords=seq("profile.negative_keywords"),
        negative_cpv_prefixes=seq("profile.negative_cpv_prefixes"),
    )


# --------------------------------------------------------------------------- inputs


@dataclass
class ItemText:
    """What the profile and the model read of an item."""

    cpvs: list[str] = field(default_factory=list)
    main_cpv: str | None = None
    title: str = ""
    text: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpvs": self.cpvs,
            "main_cpv": self.main_cpv,
            "title": self.title,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ItemText:
        d = d or {}
        return cls(list(d.get("cpvs") or []), d.get("main_cpv"), d.get("title") or "",
                   d.get("text") or "")  # fmt: skip


def compose_item(notice: Any, lots: Sequence[Any]) -> ItemText:
    """What the profile and the model read of a notice (any object with ``title``,
    ``description``, ``main_cpv``, ``cpv_codes``) and its lots (``title``, ``description``,
    ``cpv_codes``): every CPV, the title with the lot titles, the descriptions."""
    cpvs = list(dict.fromkeys([*(notice.cpv_codes or []),
                               *(c for lot in lots for c in lot.cpv_codes or [])]))  # fmt: skip
    if notice.main_cpv and notice.main_cpv not in cpvs:
        cpvs.insert(0, notice.main_cpv)
    title, text = notice.title or "", notice.description or ""
    titles = [lot.title for lot in lots if lot.title and lot.title != title]
    descs = [d for d in (getattr(lot, "description", None) for lot in lots) if d and d not in text]
    return ItemText(
        cpvs,
        notice.main_cpv,
        " | ".join([title, *dict.fromkeys(titles)]) if titles else title,
        " ".join([text, *dict.fromkeys(descs)])[:TEXT_LIMIT],
    )


def notice_texts(session: Any, pks: Sequence[int]) -> dict[int, ItemText]:
    """``ItemText`` of stored notices by primary key (``compose_item``; chunked queries)."""
    from sqlalchemy import select

    from tracker.db.models import Lot, Notice

    out: dict[int, ItemText] = {}
    ids = sorted(set(pks))
    for i in range(0, len(ids), 2000):
        chunk = ids[i : i + 2000]
        notices = session.execute(
            select(Notice.id, Notice.title, Notice.description, Notice.main_cpv, Notice.cpv_codes)
            .where(Notice.id.in_(chunk))
        ).all()  # fmt: skip
        lots: dict[int, list[Any]] = defaultdict(list)
        for lot in session.execute(
            select(Lot.notice_pk, Lot.title, Lot.description, Lot.cpv_codes)
            .where(Lot.notice_pk.in_(chunk))
            .order_by(Lot.notice_pk, Lot.position, Lot.id)
        ):
            lots[lot.notice_pk].append(lot)
        for n in notices:
            out[n.id] = compose_item(n, lots[n.id])
    return out


def item_from_parsed(notice: Any) -> ItemText:
    """``ItemText`` of a parsed notice (``tracker.notices.eforms.ParsedNotice``): the same reading
    as ``notice_texts`` gives once it is stored."""
    return compose_item(notice, notice.lots)


def contract_item(title: str | None, main_cpv: str | None, notice: ItemText | None) -> ItemText:
    """What the profile reads of a contract (an expiry, a re-tender): its title and main
    CPV with the text and CPVs of the notice it came from."""
    item = notice or ItemText([], main_cpv, "", "")
    joined = item.title
    if title and title not in item.title:
        joined = f"{title} | {item.title}" if item.title else title
    cpvs = list(item.cpvs)
    if main_cpv and main_cpv not in cpvs:
        cpvs.insert(0, main_cpv)
    return ItemText(cpvs, item.main_cpv or main_cpv, joined, item.text)


def item_fit(profile: Profile, item: ItemText) -> Fit:
    """``profile.fit`` of ``item``, remembered for the last ``FIT_MEMO`` items: a pure
    function of the profile (a frozen value: another rules file gives another key) and the
    item's text, so a remembered fit is never stale; the pages show the same items again
    and again."""
    text = (item.text or "")[:TEXT_LIMIT]  # what fit reads of it
    return _fit(profile, tuple(item.cpvs), item.main_cpv, item.title, text)


FIT_MEMO = 8192  # items (their descriptions cut to TEXT_LIMIT characters: some 35 MB at most)


@lru_cache(maxsize=FIT_MEMO)
def _fit(
    profile: Profile, cpvs: tuple[str, ...], main_cpv: str | None, title: str, text: str
) -> Fit:
    return profile.fit(cpvs, main_cpv, title, text)
