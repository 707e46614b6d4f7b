"""The row of one contract from the notices of a derivation batch (no session here).

:class:`Batch` holds the plain rows :mod:`tracker.contracts.build` loaded for a batch of
procedures and caches what parallel suppliers share; :func:`build_awarded` gives the
contract of an awarded lot result, :func:`build_expected` the contract a competition with
no award seen is expected to give.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tracker.contracts.notes import EXPECTED, FROM_MODIFICATION
from tracker.contracts.terms import Period, Term, compute_term, fact_row
from tracker.contracts.values import (
    VEAT_SUBTYPES,
    ContractRules,
    Value,
    direct_award_of,
    framework_of,
    regime_of,
    value_of,
)
from tracker.linking.names import is_valid_orgnr, match_key
from tracker.notices.notice_text import TextFacts, read_facts
from tracker.notices.text import clean_name


@dataclass
class Desired:
    key: str
    values: dict[str, Any]
    buyers: list[dict[str, Any]]
    suppliers: list[dict[str, Any]]


def party(
    role: str, orgnr: str | None, name: str | None, organisation_id: int | None
) -> dict[str, Any]:
    valid = orgnr if orgnr and is_valid_orgnr(orgnr) else None
    return {
        "role": role,
        "party_key": valid or ("name:" + match_key(name))[:600],
        "organisation_id": organisation_id,
        "name": clean_name(name)[:500] or None,
        "orgnr": valid,
    }


def period_of(lot: Any) -> Period | None:
    if lot is None:
        return None
    return Period(
        start=lot.start_date,
        end=lot.end_date,
        duration_value=lot.duration_value,
        duration_unit=lot.duration_unit,
        max_renewals=lot.max_renewals,
        renewal_text=lot.renewal_description,
        options_text=lot.options_description,
    )


class Batch:
    """Rows of one derivation batch, and the text facts read so far (one read per text)."""

    def __init__(
        self, lots: dict, results: dict, winners: dict, buyers: dict, rules: ContractRules
    ):
        self.lots, self.results, self.winners, self.buyers = lots, results, winners, buyers
        self.rules = rules
        self._facts: dict[tuple[Any, ...], TextFacts] = {}
        self.shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._thresholds: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._buyers: dict[int, list[dict[str, Any]]] = {}

    def buyer_parties(self, notice_pk: int) -> list[dict[str, Any]]:
        """The buyers of a notice as contract parties (once per notice: parallel suppliers
        share them)."""
        found = self._buyers.get(notice_pk)
        if found is None:
            found = self._buyers[notice_pk] = [
                party("buyer", b.orgnr, b.name, b.organisation_id)
                for b in self.buyers.get(notice_pk, [])
            ]
        return found

    def lot_of(self, n: Any, lot_id: str | None) -> Any:
        own = self.lots.get(n.id, [])
        for lot in own:
            if lot.lot_id == lot_id:
                return lot
        return own[0] if len(own) == 1 else None

    def cn_lot(self, cn: Any, lot_id: str | None) -> Any:
        if cn is None:
            return None
        cn_lots = self.lots.get(cn.id, [])
        match = [x for x in cn_lots if x.lot_id == lot_id]
        if match:
            return match[0]
        return cn_lots[0] if len(cn_lots) == 1 else None

    def facts(
        self, n: Any, lot: Any, contract_title: str | None, cn: Any, is_mod: bool
    ) -> TextFacts:
        """What the texts of the contract say: the modification, the lot (note, options,
        renewals, description, title), the contract title, the notice, then the contract
        notice of the procedure."""
        lot_id = lot.lot_id if lot is not None else None
        key = (n.id, lot_id, contract_title, cn.id if cn is not None else None)
        found = self._facts.get(key)
        if found is not None:
            return found
        texts: list[tuple[str, str | None]] = []
        if is_mod:
            texts.append(("modification", n.modification_description))
        if lot is not None:
            texts += [
                ("lot note", lot.note),
                ("options", lot.options_description),
                ("renewals", lot.renewal_description),
                ("lot description", lot.description),
                ("lot title", lot.title),
            ]
        texts += [
            ("contract title", contract_title),
            ("note", n.note),
            ("description", n.description),
            ("title", n.title),
        ]
        if cn is not None and cn.id != n.id:
            cl = self.cn_lot(cn, lot_id)
            if cl is not None:
                texts += [
                    ("contract notice lot note", cl.note),
                    ("contract notice options", cl.options_description),
                    ("contract notice lot description", cl.description),
                    ("contract notice lot title", cl.title),
                ]
            texts += [
                ("contract notice note", cn.note),
                ("contract notice description", cn.description),
                ("contract notice title", cn.title),
            ]
        found = read_facts(_new_sentences(texts), modification=is_mod)
        self._facts[key] = found
        return found


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _new_sentences(texts: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """The texts without what an earlier text already said: a text another one holds is
    left out, and so are the sentences an earlier text has (a lot description often repeats
    the procedure's, give or take a sentence). Facts are read once, from the first text."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for where, text in texts:
        if not text or any(text in t for _, t in out):
            continue
        sentences = _SENTENCE_END.split(text)
        fresh = [x for x in sentences if x not in seen]
        seen.update(sentences)
        if fresh:
            out.append((where, text if len(fresh) == len(sentences) else " ".join(fresh)))
    return out


def _common(
    n: Any,
    lot: Any,
    cn: Any,
    cn_lot: Any,
    facts: TextFacts,
    result_flag: bool | None = None,
) -> tuple[bool, bool, str, bool, list[dict[str, Any]]]:
    """framework, direct award, regime, national and their evidence."""
    codes = [lot.framework_code if lot is not None else None]
    if cn_lot is not None:
        codes.append(cn_lot.framework_code)
    framework, fw_ev = framework_of(result_flag, codes, facts)
    direct, da_ev = direct_award_of(n, facts)
    domain = n.regulatory_domain or (cn.regulatory_domain if cn is not None else None)
    regime, national, basis = regime_of(domain, n.notice_type, n.subtype, facts)
    ev = [fw_ev, fact_row("regime", regime, basis, "high" if "text" not in basis else "medium")]
    if da_ev is not None:
        ev.append(da_ev)
    return framework, direct, regime, national, ev


def build_awarded(
    n: Any,
    r: Any,
    lot: Any,
    cn: Any,
    facts: TextFacts,
    ctx: Batch,
    is_mod: bool,
    single_award: bool,
    siblings_same: bool,
) -> Desired:
    """The contract of one awarded lot result (``key`` is set by the caller)."""
    lot_id = r.lot_id or (lot.lot_id if lot is not None else None)
    framework, direct, regime, national, common_ev, term = _shared(n, r, lot, cn, facts, ctx)
    ev = list(common_ev)
    parallel = r.parallel or 1
    value = _awarded_value(n, r, lot, facts, framework, single_award, siblings_same)
    if r.lot_mapped:
        ev.append(
            fact_row("lot", lot_id, f"the result's lot link is broken; {r.lot_mapped}", "high")
        )
    challenge = _challenge_until(n, direct, ctx, ev)
    per_year = facts.value_per_year
    title = r.contract_title or (lot.title if lot is not None else None) or n.title
    values = {
        "source": "notice",
        "notice_pk": n.id,
        "result_pk": r.id,
        "procedure_id": n.procedure_id,
        "lot_id": lot_id,
        "tender_id": r.tender_id,
        "title": title,
        "main_cpv": (lot.main_cpv if lot is not None else None) or n.main_cpv,
        **_value_values(value),
        "value_per_year": per_year.value if per_year is not None else None,
        "parallel_suppliers": parallel,
        "framework": framework,
        "direct_award": direct,
        "regime": regime,
        "national": national,
        "procedure_type": n.procedure_type
        or (facts.procedure.value if facts.procedure is not None else None),
        "conclusion_date": r.conclusion_date,
        "award_date": r.award_date,
        "modified_by_notice_pk": n.id if is_mod else None,
        "extension": None,
        "expected": False,
        "expected_award": None,
        "challenge_until": challenge,
        "notes": str(FROM_MODIFICATION) if is_mod else None,
        **_term_values(term, direct),
    }
    values["evidence"] = (
        ev
        + term.evidence
        + value.evidence
        + ([per_year.as_dict("value_per_year")] if per_year is not None else [])
        + _threshold_evidence(ctx, n, regime, value.amount, value.currency, False)
    )
    return Desired(
        key="",
        values=values,
        buyers=ctx.buyer_parties(n.id),
        suppliers=[
            party("supplier", w.orgnr, w.name, w.organisation_id) for w in ctx.winners.get(r.id, [])
        ],
    )


def _shared(n: Any, r: Any, lot: Any, cn: Any, facts: TextFacts, ctx: Batch) -> tuple[Any, ...]:
    """Framework, direct award, regime, national, their evidence and the term: parallel
    suppliers of one lot share everything but their tender, so it is computed once."""
    lot_id = r.lot_id or (lot.lot_id if lot is not None else None)
    shared_key = (n.id, lot_id, r.contract_title, r.conclusion_date, r.award_date, r.framework)
    shared = ctx.shared.get(shared_key)
    if shared is None:
        cn_lot = ctx.cn_lot(cn, lot_id) if cn is not None and cn.id != n.id else None
        framework, direct, regime, national, common_ev = _common(
            n, lot, cn, cn_lot, facts, r.framework
        )
        term = compute_term(
            lot=period_of(lot),
            cn_lot=period_of(cn_lot),
            conclusion=r.conclusion_date,
            award=r.award_date,
            notice_date=n.issue_date,
            framework=framework,
            facts=facts,
            max_years=ctx.rules.max_years(regime),
        )
        shared = ctx.shared[shared_key] = (framework, direct, regime, national, common_ev, term)
    return shared


def _awarded_value(
    n: Any,
    r: Any,
    lot: Any,
    facts: TextFacts,
    framework: bool,
    single_award: bool,
    siblings_same: bool,
) -> Value:
    return value_of(
        tender=r.tender_value,
        currency=r.currency,
        inferred=bool(r.value_inferred),
        result_max=r.framework_max_value,
        notice_max=n.result_framework_max,
        single_award=single_award,
        lot_max=lot.framework_max_value if lot is not None else None,
        procedure_max=n.framework_max_value,
        estimate=(lot.estimated_value if lot is not None else None) or n.estimated_value,
        estimate_currency=(lot.currency if lot is not None else None) or n.currency,
        parallel=r.parallel or 1,
        siblings_same_amount=siblings_same,
        framework=framework,
        facts=facts,
    )


def _value_values(value: Value) -> dict[str, Any]:
    return {
        "value": value.amount,
        "currency": value.currency,
        "value_kind": value.kind,
        "value_shared": value.shared,
    }


def _challenge_until(n: Any, direct: bool, ctx: Batch, ev: list[dict[str, Any]]) -> dt.date | None:
    """The end of the standstill after an intention notice (with its evidence in ``ev``)."""
    veat = (n.notice_type or "") == "veat" or (n.subtype or "") in VEAT_SUBTYPES
    if not (direct and veat and n.issue_date is not None):
        return None
    days = ctx.rules.intention_standstill_days
    challenge: dt.date = n.issue_date + dt.timedelta(days=days)
    ev.append(
        fact_row(
            "challenge_until",
            challenge,
            f"rule: after an intention notice the award can be challenged for {days} days "
            "before the contract is concluded (FOA § 21-5)",
            "high",
        )
    )
    return challenge


STATE_LEGAL_TYPES = frozenset({"cga", "body-pl-cga", "def-cont"})


def _threshold_evidence(
    ctx: Batch, n: Any, regime: str, amount: Decimal | None, currency: str | None, expected: bool
) -> list[dict[str, Any]]:
    """Where the value stands against the EEA threshold in force on the notice's date: an
    award notice is mandatory only above it (below, the award may never be published)."""
    if amount is None or (currency or "NOK") != "NOK":
        return []
    key = (n.id, regime, amount, expected)
    cached = ctx._thresholds.get(key)
    if cached is not None:
        return cached
    ctx._thresholds[key] = found_ev = _threshold_rows(ctx, n, regime, amount, expected)
    return found_ev


def _threshold_rows(
    ctx: Batch, n: Any, regime: str, amount: Decimal, expected: bool
) -> list[dict[str, Any]]:
    state = any((b.legal_type or "") in STATE_LEGAL_TYPES for b in ctx.buyers.get(n.id, []))
    found = ctx.rules.eea_threshold(n.issue_date, regime, n.contract_nature, state)
    if found is None:
        return []
    threshold, basis = found
    if amount >= threshold:
        what = "above the EEA threshold: an award notice is mandatory"
    elif expected:
        what = "below the EEA threshold: an award notice is not mandatory, it may never come"
    else:
        what = "below the EEA threshold"
    return [fact_row("eea_threshold", threshold, f"rule: {basis}; the value is {what}", "high")]


def _term_values(term: Term, direct: bool) -> dict[str, Any]:
    retender = "none" if term.end_source == "unlimited" else "not_assumed" if direct else "expected"
    return {
        "start_date": term.start,
        "start_source": term.start_source,
        "end_date": term.end,
        "end_source": term.end_source,
        "option_ends": [d.isoformat() for d in term.option_ends],
        "latest_end": term.latest,
        "latest_end_source": term.latest_source,
        "end_confidence": term.confidence,
        "options_text": term.options_text,
        "retender": retender,
        "max_renewals": term.max_renewals,
    }


def build_expected(proc: str, cn: Any, lot: Any, ctx: Batch) -> Desired | None:
    """The contract a competition is expected to give, from its own lot (no award seen)."""
    expected = _expected_award(cn, lot, ctx.rules)
    if expected is None:
        return None
    award, start, basis = expected
    facts = ctx.facts(cn, lot, None, None, False)
    framework, direct, regime, national, ev = _common(cn, lot, None, None, facts)
    if (cn.notice_type or "") == "cn-desg" and not framework:
        return None  # a design contest gives prizes, not a contract
    term = compute_term(
        lot=period_of(lot),
        framework=framework,
        facts=facts,
        max_years=ctx.rules.max_years(regime),
        expected_start=start,
    )
    single = len(ctx.lots.get(cn.id, [])) == 1
    value = value_of(
        tender=None,
        currency=lot.currency or cn.currency,
        lot_max=lot.framework_max_value,
        procedure_max=cn.framework_max_value if single else None,
        estimate=lot.estimated_value or (cn.estimated_value if single else None),
        estimate_currency=lot.currency or cn.currency,
        framework=framework,
        facts=facts,
    )
    ev.insert(0, fact_row("expected", award, basis, "low"))
    values = {
        "source": "notice",
        "notice_pk": cn.id,
        "result_pk": None,
        "procedure_id": cn.procedure_id,
        "lot_id": lot.lot_id,
        "tender_id": None,
        "title": lot.title or cn.title,
        "main_cpv": lot.main_cpv or cn.main_cpv,
        **_value_values(value),
        "value_per_year": None,
        "parallel_suppliers": None,
        "framework": framework,
        "direct_award": direct,
        "regime": regime,
        "national": national,
        "procedure_type": cn.procedure_type
        or (facts.procedure.value if facts.procedure is not None else None),
        "conclusion_date": None,
        "award_date": None,
        "modified_by_notice_pk": None,
        "extension": None,
        "expected": True,
        "expected_award": award,
        "challenge_until": None,
        "notes": str(EXPECTED),
        **_term_values(term, direct),
    }
    values["evidence"] = (
        ev
        + term.evidence
        + value.evidence
        + _threshold_evidence(ctx, cn, regime, value.amount, value.currency, True)
    )
    key = f"x:{proc}|{lot.lot_id}"[:300]
    return Desired(key=key, values=values, buyers=ctx.buyer_parties(cn.id), suppliers=[])


def _expected_award(cn: Any, lot: Any, rules: ContractRules) -> tuple[dt.date, dt.date, str] | None:
    """The expected award and start of a competition's lot, and how the award was found:
    the deadline (else the notice + 30 days, the minimum open tender period) + the
    evaluation period; None without either date."""
    deadline = lot.submission_deadline or lot.request_deadline
    if deadline is not None:
        base_day = deadline.date()
    elif cn.issue_date is not None:
        base_day = cn.issue_date + dt.timedelta(days=30)  # the minimum open tender period
    else:
        return None
    award = base_day + dt.timedelta(days=rules.evaluation_days)
    start = award + dt.timedelta(days=rules.standstill_days)
    basis = (
        f"no award seen: expected award = {'deadline' if deadline else 'notice + 30 days'} "
        f"+ {rules.evaluation_days} days evaluation (rule)"
    )
    return award, start, basis
