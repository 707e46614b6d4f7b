"""The rules in force: shipped defaults (``rules.toml``), a user file, per-account overrides.

Every rule has a dotted key (``windows.influence_months_before_expiry``), a value, a
source, and an origin (``default``, the user file, or ``account <name>``). A user file
(setting ``rules_file`` / ``$TRACKER_RULES``) may set any known key, as a table with
``value`` (and optionally ``source``, ``unit``, ``note``) or as a bare value; dict values
are merged key by key (``publish_before_expiry_months = { open = 5 }`` keeps the other
procedures). Per-account overrides live under ``[accounts."<account name>"]`` with the
same keys, plus ``buyer_type``. A malformed file is refused with a ``ConfigError`` naming
the file, the key and the reason; nothing is half-applied.

    rules = load_rules()                              # defaults + user file
    wr = rules.window_rules("health_trust", account="Helse Sør-Øst RHF")  # cached
    sr = rules.scoring_rules()
    rules.show()                                      # rows for `tracker rules show`
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tracker.bids.scoring import COMPONENTS, ScoringRules
from tracker.config import Settings, load_settings
from tracker.errors import ConfigError
from tracker.opportunities.budget import BUDGET_ANCHORS, BudgetCalendar
from tracker.opportunities.profile import Profile, profile_from_values
from tracker.opportunities.window_rules import PROCEDURES, WindowRules

BUYER_TYPES: tuple[str, ...] = ("state", "municipality", "county", "health_trust", "other")
_MMDD = re.compile(r"^(\d{2})-(\d{2})$")
_ENTRY_KEYS = {"value", "source", "unit", "note", "range"}


@dataclass(frozen=True)
class Rule:
    """One rule in force."""

    key: str
    value: Any
    source: str
    unit: str | None = None
    note: str | None = None
    origin: str = "default"


def normalise_buyer_type(value: str | None) -> str:
    """``health trust``/``Health-Trust`` -> ``health_trust``; unknown or empty -> ``other``."""
    if not value:
        return "other"
    v = re.sub(r"[\s\-]+", "_", value.strip().lower())
    return v if v in BUYER_TYPES else "other"


def _is_entry(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and set(node) <= _ENTRY_KEYS


def _flatten(
    node: dict[str, Any], prefix: str, out: dict[str, Any], known: dict[str, Rule] | None = None
) -> None:
    for k, v in node.items():
        key = f"{prefix}{k}"
        leaf = known is not None and _template_for(key, known) is not None
        if leaf or _is_entry(v) or not isinstance(v, dict):
            out[key] = v
        else:
            _flatten(v, key + ".", out, known)


def _defaults() -> dict[str, Rule]:
    text = resources.files("tracker").joinpath("rules.toml").read_text(encoding="utf-8")
    flat: dict[str, Any] = {}
    _flatten(tomllib.loads(text), "", flat)
    out: dict[str, Rule] = {}
    for key, entry in flat.items():
        if not _is_entry(entry) or not entry.get("source"):
            raise ConfigError(f"tracker/rules.toml: {key}: every default needs value and source")
        out[key] = Rule(key, entry["value"], entry["source"], entry.get("unit"), entry.get("note"))
    return out


def _template_for(key: str, defaults: dict[str, Rule]) -> Rule | None:
    """The default a key is validated against; ``budget.<type>.window`` uses the default."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "budget" and parts[1] in (*BUYER_TYPES, "default"):
        if parts[2] == "window":
            return defaults["budget.default.window"]
        if parts[2] == "anchor":
            return defaults["budget.default.anchor"]
        if parts[2] == "milestones" and parts[1] != "default":
            return defaults["budget.state.milestones"]
    return defaults.get(key)


def _check_mmdd(value: Any, where: str) -> None:
    m = _MMDD.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"{where}: expected a date as MM-DD, got {value!r}")
    month, day = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or not 1 <= day <= (29 if month == 2 else 31):
        raise ValueError(f"{where}: no such day {value!r}")


def _coerce(template: Any, value: Any, where: str) -> Any:
    """``value`` checked against the type of ``template`` (dicts merged); raises ValueError."""
    if isinstance(template, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(template, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if isinstance(template, int) and not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
        if value < 0:
            raise ValueError(f"{where}: must not be negative, got {value!r}")
        return value
    if isinstance(template, str):
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        if _MMDD.match(template):
            _check_mmdd(value, where)
        return value
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a table, got {value!r}")
        merged = copy.deepcopy(template)
        for k, v in value.items():
            if k not in template:
                known = ", ".join(template)
                raise ValueError(f"{where}.{k}: unknown key (known: {known})")
            merged[k] = _coerce(template[k], v, f"{where}.{k}")
        return merged
    if isinstance(template, list):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if template and isinstance(template[0], dict):
            proto = template[0]
            out = []
            for i, item in enumerate(value):
                if not isinstance(item, dict) or set(item) != set(proto):
                    raise ValueError(
                        f"{where}[{i}]: expected a table with {', '.join(proto)}, got {item!r}"
                    )
                coerced = {k: item[k] for k in proto}
                coerced["name"] = _coerce("", item["name"], f"{where}[{i}].name")
                _check_mmdd(item["date"], f"{where}[{i}].date")
                year = item["year"]
                if not isinstance(year, int) or isinstance(year, bool) or not -2 <= year <= 0:
                    raise ValueError(
                        f"{where}[{i}].year: expected -2, -1 or 0 (relative to the budget "
                        f"year t, the year the contract starts), got {year!r}"
                    )
                out.append(coerced)
            return out
        if not all(isinstance(x, str) for x in value):
            raise ValueError(f"{where}: expected a list of strings, got {value!r}")
        return list(value)
    return value


def _parse_overrides(
    node: dict[str, Any], defaults: dict[str, Rule], origin: str, fname: str
) -> dict[str, Rule]:
    flat: dict[str, Any] = {}
    _flatten(node, "", flat, defaults)
    out: dict[str, Rule] = {}
    for key, raw in flat.items():
        template = _template_for(key, defaults)
        if template is None:
            raise ConfigError(f"{fname}: {key}: unknown rule")
        if _is_entry(raw):
            value, source = raw["value"], raw.get("source") or origin
            unit, note = raw.get("unit", template.unit), raw.get("note")
        else:
            value, source, unit, note = raw, origin, template.unit, None
        try:
            value = _coerce(template.value, value, key)
        except ValueError as exc:
            raise ConfigError(f"{fname}: {exc}") from exc
        out[key] = Rule(key, value, str(source), unit, note, origin)
    return out


def _validate_combined(entries: dict[str, Rule], fname: str) -> None:
    proc = entries["windows.default_procedure"].value
    if proc not in PROCEDURES:
        raise ConfigError(
            f"{fname}: windows.default_procedure: expected one of {', '.join(PROCEDURES)}, "
            f"got {proc!r}"
        )
    for key, rule in entries.items():
        anchor = key.startswith("budget.") and key.endswith(".anchor")
        if anchor and rule.value not in BUDGET_ANCHORS:
            raise ConfigError(
                f"{fname}: {key}: expected one of {', '.join(BUDGET_ANCHORS)}, got {rule.value!r}"
            )
    bands = entries["windows.drafting_value_bands"].value
    if not bands["medium"] <= bands["large"] <= bands["largest"]:
        raise ConfigError(
            f"{fname}: windows.drafting_value_bands: medium <= large <= largest is required"
        )
    rec = entries["scoring.recommendation"].value
    if rec["bid"] < rec["consider"]:
        raise ConfigError(
            f"{fname}: scoring.recommendation: bid ({rec['bid']}) is below consider "
            f"({rec['consider']})"
        )
    w = entries["scoring.weights"].value
    if sum(w.values()) <= 0:
        raise ConfigError(f"{fname}: scoring.weights: the weights sum to zero")
    pw = entries["scoring.price_weight_percent"].value
    if pw["low"] >= pw["high"]:
        raise ConfigError(f"{fname}: scoring.price_weight_percent: low must be below high")
    dd = entries["scoring.deadline_days"].value
    if dd["tight"] > dd["comfortable"]:
        raise ConfigError(f"{fname}: scoring.deadline_days: tight must not exceed comfortable")


@dataclass
class Rules:
    """Rules in force: ``entries`` (global) and ``accounts`` (per-account overrides)."""

    entries: dict[str, Rule]
    accounts: dict[str, dict[str, Rule]] = field(default_factory=dict)
    account_buyer_types: dict[str, str] = field(default_factory=dict)
    account_names: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    _window_cache: dict[tuple[str, str | None], WindowRules] = field(default_factory=dict)
    _scoring: ScoringRules | None = None
    _profiles: dict[str | None, Profile] = field(default_factory=dict)

    def profile(self, account: str | None = None) -> Profile:
        """The capability profile (``tracker.opportunities.relevance.Profile``) in force for
        ``account``
        (its ``[accounts."<name>".profile]`` overrides on top of ``[profile]``); cached."""
        key = self._account_key(account)
        cached = self._profiles.get(key)
        if cached is None:
            values = {k: r.value for k, r in self.effective(account).items()}
            cached = self._profiles[key] = profile_from_values(values)
        return cached

    def _account_key(self, account: str | None) -> str | None:
        if not account:
            return None
        folded = account.casefold()
        return folded if folded in self.accounts or folded in self.account_buyer_types else None

    def effective(self, account: str | None = None) -> dict[str, Rule]:
        """All rules in force for ``account`` (global rules with its overrides on top)."""
        key = self._account_key(account)
        if key is None:
            return self.entries
        return {**self.entries, **self.accounts.get(key, {})}

    def value(self, key: str, account: str | None = None) -> Any:
        """The value of one rule (``KeyError`` for an unknown key)."""
        return self.effective(account)[key].value

    def buyer_type(self, buyer_type: str | None, account: str | None = None) -> str:
        """The buyer type that decides the budget calendar (an account override wins)."""
        key = self._account_key(account)
        if key is not None and key in self.account_buyer_types:
            return self.account_buyer_types[key]
        return normalise_buyer_type(buyer_type)

    def budget_calendar(self, buyer_type: str | None, account: str | None = None) -> BudgetCalendar:
        """The budget calendar of a buyer type (window and milestones) for an account."""
        bt = self.buyer_type(buyer_type, account)
        rules = self.effective(account)
        win = rules.get(f"budget.{bt}.window") or rules["budget.default.window"]
        anchor = rules.get(f"budget.{bt}.anchor") or rules["budget.default.anchor"]
        ms = rules.get(f"budget.{bt}.milestones")
        sm, sd = (int(x) for x in win.value["start"].split("-"))
        em, ed = (int(x) for x in win.value["end"].split("-"))
        milestones = tuple(
            (m["name"], int(m["date"][:2]), int(m["date"][3:]), int(m["year"]))
            for m in (ms.value if ms else [])
        )
        sources = win.source + (f"; milestones: {ms.source}" if ms and ms.value else "")
        return BudgetCalendar(bt, (sm, sd), (em, ed), milestones, sources, anchor.value)

    def window_rules(
        self, buyer_type: str | None = None, account: str | None = None
    ) -> WindowRules:
        """The ``WindowRules`` for a buyer type and account (cached: call it per item freely)."""
        raw = self._window_cache.get((buyer_type, account))  # type: ignore[arg-type]
        if raw is not None:
            return raw
        ck = (normalise_buyer_type(buyer_type), self._account_key(account))
        cached = self._window_cache.get(ck)
        if cached is not None:
            self._window_cache[(buyer_type, account)] = cached  # type: ignore[index]
            return cached
        r = {k: rule.value for k, rule in self.effective(account).items()}
        request, after = (
            r["durations.min_request_days"],
            r["durations.min_tender_days_after_request"],
        )
        tender_days = {p: request + after for p in PROCEDURES}
        tender_days["open"] = r["durations.min_tender_days_open"]
        ye = r["windows.year_end_window"]
        year_end = None
        if ye["enabled"]:
            s, e = ye["start"].split("-"), ye["end"].split("-")
            year_end = ((int(s[0]), int(s[1])), (int(e[0]), int(e[1])))
        lead = dict(r["windows.publish_before_expiry_months"])
        months, bands = r["windows.drafting_months_by_value"], r["windows.drafting_value_bands"]
        drafting_bands = (
            (0, months["small"], "small"),
            (bands["medium"], months["medium"], "medium"),
            (bands["large"], months["large"], "large"),
            (bands["largest"], months["largest"], "largest"),
        )
        default_proc = r["windows.default_procedure"]
        wr = WindowRules(
            influence_months=r["windows.influence_months_before_expiry"],
            drafting_months=r["windows.drafting_months_before_publication"],
            lead_months=MappingProxyType(lead),
            tender_days=MappingProxyType(tender_days),
            evaluation_days=r["durations.evaluation_days"],
            standstill_days=r["durations.standstill_days"],
            pin_expected_months=r["windows.pin_expected_months_to_notice"],
            default_procedure=default_proc,
            budget=self.budget_calendar(buyer_type, account),
            year_end=year_end,
            drafting_bands=drafting_bands,
            dialogue_days=r["windows.dialogue_days_without_deadline"],
        )
        self._window_cache[ck] = wr
        self._window_cache[(buyer_type, account)] = wr  # type: ignore[index]
        return wr

    def scoring_rules(self) -> ScoringRules:
        """The ``ScoringRules`` (weights, factors, capability profile); cached."""
        if self._scoring is None:
            r = {k: rule.value for k, rule in self.entries.items()}
            dd, pw, rec = (
                r["scoring.deadline_days"],
                r["scoring.price_weight_percent"],
                r["scoring.recommendation"],
            )
            self._scoring = ScoringRules(
                weights=dict(r["scoring.weights"]),
                tier_factor=dict(r["scoring.tier_factor"]),
                incumbent_factor=dict(r["scoring.incumbent_factor"]),
                deadline_comfortable=dd["comfortable"],
                deadline_tight=dd["tight"],
                price_low=pw["low"],
                price_high=pw["high"],
                bid_at=rec["bid"],
                consider_at=rec["consider"],
                no_fit_caps_at_no_bid=r.get("scoring.no_fit_caps_at_no_bid", True),
                suggested_link_factor=r.get("scoring.suggested_link_factor", 0.5),
                cpv_prefixes=tuple(p.replace("-", "") for p in r["profile.cpv_prefixes"]),
                keywords=tuple(r["profile.keywords"]),
                profile=self.profile(),
                min_value=r["profile.min_value"],
                sweet_low=r["profile.sweet_spot"]["low"],
                sweet_high=r["profile.sweet_spot"]["high"],
                max_value=r["profile.max_value"],
                national_threshold=r["thresholds.national"],
                eea_threshold_state=r["thresholds.eea_goods_services_state"],
                eea_threshold_other=r["thresholds.eea_goods_services_other"],
            )
        return self._scoring

    def unknown_accounts(self, names: Iterable[str]) -> list[str]:
        """The per-account override keys (``[accounts."<name>"]``, as written) that match
        none of ``names`` (the account names, case-insensitive): such overrides apply to
        nothing, usually a typo or an alias instead of the account's name."""
        known = {n.casefold() for n in names if n}
        keys = set(self.accounts) | set(self.account_buyer_types)
        return sorted(self.account_names.get(k, k) for k in keys if k not in known)

    def show(self) -> list[dict[str, Any]]:
        """Rows for display: ``scope`` (``global`` or ``account <name>``), key, value, unit,
        source, origin, note."""
        rows = [
            {"scope": "global", **_rule_row(rule)}
            for rule in sorted(self.entries.values(), key=lambda r: r.key)
        ]
        for acc, entries in sorted(self.accounts.items()):
            name = self.account_names.get(acc, acc)
            rows += [
                {"scope": f"account {name}", **_rule_row(rule)}
                for rule in sorted(entries.values(), key=lambda r: r.key)
            ]
        for acc, bt in sorted(self.account_buyer_types.items()):
            name = self.account_names.get(acc, acc)
            rows.append(
                {
                    "scope": f"account {name}",
                    "key": "buyer_type",
                    "value": bt,
                    "unit": None,
                    "source": "rules file",
                    "origin": f"account {name}",
                    "note": None,
                }
            )
        return rows


def _rule_row(rule: Rule) -> dict[str, Any]:
    return {
        "key": rule.key,
        "value": rule.value,
        "unit": rule.unit,
        "source": rule.source,
        "origin": rule.origin,
        "note": rule.note,
    }


def parse_rules(text: str, fname: str = "<rules>", base: Rules | None = None) -> Rules:
    """Rules from a user file's text on top of ``base`` (default: the shipped defaults)."""
    base = base or default_rules()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{fname}: not valid TOML: {exc}") from exc
    defaults = base.entries
    accounts_node = data.pop("accounts", {})
    if not isinstance(accounts_node, dict):
        raise ConfigError(f'{fname}: accounts: expected tables [accounts."<name>"]')
    entries = {**defaults, **_parse_overrides(data, defaults, f"file {fname}", fname)}
    _validate_combined(entries, fname)
    accounts = {k: dict(v) for k, v in base.accounts.items()}
    buyer_types = dict(base.account_buyer_types)
    names = dict(base.account_names)
    for name, node in accounts_node.items():
        names[name.casefold()] = name
        if not isinstance(node, dict):
            raise ConfigError(f"{fname}: accounts.{name}: expected a table")
        node = dict(node)
        if "buyer_type" in node:
            bt = node.pop("buyer_type")
            if not isinstance(bt, str) or normalise_buyer_type(bt) != bt.strip().lower().replace(
                " ", "_"
            ):
                raise ConfigError(
                    f"{fname}: accounts.{name}.buyer_type: expected one of "
                    f"{', '.join(BUYER_TYPES)}, got {bt!r}"
                )
            buyer_types[name.casefold()] = normalise_buyer_type(bt)
        overrides = _parse_overrides(node, defaults, f"account {name}", f"{fname}: accounts.{name}")
        accounts.setdefault(name.casefold(), {}).update(overrides)
        _validate_combined({**entries, **accounts[name.casefold()]}, fname)
    return Rules(
        entries=entries,
        accounts=accounts,
        account_buyer_types=buyer_types,
        account_names=names,
        files=[*base.files, fname],
    )


_DEFAULT: Rules | None = None


def default_rules() -> Rules:
    """The shipped defaults only."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Rules(entries=_defaults(), files=["tracker/rules.toml"])
    return _DEFAULT


def rules_path(path: str | Path | None = None, *, settings: Settings | None = None) -> Path | None:
    """The user rules file ``path`` (default: setting ``rules_file``/$TRACKER_RULES); None:
    the shipped defaults alone. Raises ConfigError when the file does not exist."""
    if path is None:
        path = (settings or load_settings()).values.get("rules_file")
    if not path:
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{p}: rules file does not exist")
    return p


def rules_text(
    path: str | Path | None = None, *, settings: Settings | None = None
) -> tuple[str, str]:
    """(text, name) of the user rules file in force (:func:`rules_path`), for a process
    that must derive with the same rules elsewhere; ("", "the shipped defaults") without
    one. Raises ConfigError when it cannot be read."""
    p = rules_path(path, settings=settings)
    if p is None:
        return "", "the shipped defaults"
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read rules file: {exc}") from exc


def load_rules(path: str | Path | None = None, *, settings: Settings | None = None) -> Rules:
    """Defaults plus the user file ``path`` (default: setting ``rules_file``/$TRACKER_RULES)."""
    p = rules_path(path, settings=settings)
    if p is None:
        return default_rules()
    try:
        stat = p.stat()
        version = (str(p.resolve()), stat.st_mtime_ns, stat.st_size)
        cached = _PARSED.get(version)
        if cached is not None:
            return cached
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read rules file: {exc}") from exc
    rules = parse_rules(text, str(p))
    if len(_PARSED) > 16:  # old versions of edited files
        _PARSED.clear()
    _PARSED[version] = rules
    return rules


# Rules parsed per file version (path, modification time, size): a page asks for the
# rules on every request and gets the parsed ones until the file changes. Rules are not
# changed after parsing (their own caches only grow), so they can be shared.
_PARSED: dict[tuple[str, int, int], Rules] = {}


__all__ = [
    "BUYER_TYPES",
    "COMPONENTS",
    "Rule",
    "Rules",
    "default_rules",
    "load_rules",
    "normalise_buyer_type",
    "parse_rules",
]
