"""The director's market analytics (``/director/market``), the market exports
(``/market-export/<list>.<csv|xlsx>``, through ``tracker.formats.exports.export``) and likely
bidders in the JSON API."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards import market_charts
from dashboards.routes.exports import export_option
from dashboards.routes.suppliers import ours
from dashboards.web import current_user, db_session, render, today
from tracker.db.models import User
from tracker.errors import NotFoundError, UserError
from tracker.formats.exports import DIALECTS, LANGUAGES, export
from tracker.i18n import say
from tracker.market import bidders
from tracker.market.buyer import buyer_page, competitions, price_weights, suppliers_at
from tracker.market.director import DirectorMarket, director_market, rows_of
from tracker.market.supplier import supplier_page, supplier_wins
from tracker.messages import N_

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["market"])
NAV = [("Market", "/director/market", ("director", "admin"))]


def expiring_chart(m: DirectorMarket) -> dict[str, Any] | None:
    """Per quarter: awarded value (kind tender, own values, NOK) expiring, ours and theirs."""
    groups = []
    for name, start in m.quarters:
        ours = sum(
            float(r.value or 0)
            for r in m.expiring
            if r.start == start and r.ours and r.currency == "NOK" and r.value_kind == "tender"
        )
        theirs = sum(
            float(r.value or 0)
            for r in m.expiring
            if r.start == start and not r.ours and r.currency == "NOK" and r.value_kind == "tender"
        )
        groups.append(
            (
                name,
                [
                    (say(N_("ours")), ours or None, "quality"),
                    (say(N_("others")), theirs or None, "bar"),
                ],
            )
        )
    title = say(N_("Expiring contract value per quarter"))
    return market_charts.grouped_bars(groups, title, unit="NOK")


def _scope(params: dict[str, str]) -> str:
    return params.get("scope") or "accounts"


@router.get("/director/market")
def director_market_page(
    request: Request,
    scope: str = "accounts",
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    m = director_market(session, day, scope=scope, ours=ours(request))
    latest_year = max((w.year for w in m.wallet), default=None)
    return render(
        request,
        "market_director.html",
        {"m": m, "expiring_chart": expiring_chart(m), "latest_year": latest_year},
    )


@api_router.get(
    "/director/market",
    summary="Market analytics: expiring value by quarter, share of wallet, win/loss, coverage",
    description="scope: accounts (contracts of our accounts, default) or all.",
)
def director_market_json(
    request: Request,
    scope: str = "accounts",
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> dict[str, Any]:
    m = director_market(session, day, scope=scope, ours=ours(request))
    return {
        "today": m.today,
        "scope": m.scope,
        "quarters": [{"quarter": q, "start": s} for q, s in m.quarters],
        "expiring": rows_of(m.expiring),
        "wallet": rows_of(m.wallet),
        "win_loss": rows_of(m.win_loss),
        "coverage": rows_of(m.coverage),
    }


@api_router.get(
    "/bidders/contracts/{contract_id}", summary="Likely bidders for a contract's re-tender"
)
def bidders_contract_json(
    request: Request, contract_id: int, session: Session = Depends(db_session)
) -> dict[str, Any]:
    found = bidders.for_contracts(session, [contract_id], ours(request))
    if contract_id not in found:
        raise NotFoundError(f"no contract {contract_id}")
    return found[contract_id].as_dict()


@api_router.get("/bidders/notices/{notice_pk}", summary="Likely bidders for an open competition")
def bidders_notice_json(
    request: Request, notice_pk: int, session: Session = Depends(db_session)
) -> dict[str, Any]:
    found = bidders.for_competitions(session, [notice_pk], ours(request))
    if notice_pk not in found:
        raise NotFoundError(f"no notice {notice_pk}")
    return found[notice_pk].as_dict()


# --------------------------------------------------------------------------- exports


def _groups(groups: Any, **extra: Any) -> list[dict[str, Any]]:
    """Groups with their value sums → one row per group, currency and value kind."""
    rows = []
    for g in groups:
        base = {**extra, **{k: v for k, v in dataclasses.asdict(g).items() if k != "values"}}
        if not g.values:
            rows.append(base)
        for v in g.values:
            rows.append({**base, **v.as_dict()})
    return rows


def _key(params: dict[str, str]) -> str:
    key = params.get("key", "").strip()
    if not key:
        raise UserError("key: required (a supplier or buyer key: orgnr or name:…)")
    return key


def _orgnr(session: Session, params: dict[str, str], day: dt.date) -> str | None:
    return buyer_page(session, _key(params), day).orgnr


def _wins(items: Any) -> list[dict[str, Any]]:
    return [dataclasses.asdict(w) for w in items]


Builder = Callable[[Session, dt.date, dict[str, str], list[str]], list[dict[str, Any]]]
EXPORTS: dict[str, Builder] = {
    "supplier-buyers": lambda s, d, p, o: _groups(supplier_page(s, _key(p), d, o).by_buyer),
    "supplier-cpv": lambda s, d, p, o: _groups(supplier_page(s, _key(p), d, o).by_cpv),
    "supplier-years": lambda s, d, p, o: _groups(supplier_page(s, _key(p), d, o).by_year),
    "supplier-held": lambda s, d, p, o: _wins(supplier_wins(s, _key(p), d, held_only=True)),
    "supplier-wins": lambda s, d, p, o: _wins(supplier_wins(s, _key(p), d)),
    "supplier-meets-us": lambda s, d, p, o: rows_of(supplier_page(s, _key(p), d, o).meets_us),
    "buyer-cpv-years": lambda s, d, p, o: _groups(buyer_page(s, _key(p), d).by_cpv_year),
    "buyer-years": lambda s, d, p, o: _groups(buyer_page(s, _key(p), d).by_year),
    "buyer-procedures": lambda s, d, p, o: rows_of(buyer_page(s, _key(p), d).procedures),
    "buyer-competitions": lambda s, d, p, o: rows_of(competitions(s, _orgnr(s, p, d))[0]),
    "buyer-price-weights": lambda s, d, p, o: rows_of(price_weights(s, _orgnr(s, p, d))[0]),
    "buyer-suppliers": lambda s, d, p, o: _groups(suppliers_at(s, _key(p), None)),
    "market-expiring": lambda s, d, p, o: rows_of(
        director_market(s, d, _scope(p), ours=o).expiring
    ),
    "market-wallet": lambda s, d, p, o: rows_of(director_market(s, d, ours=o).wallet),
    "market-win-loss": lambda s, d, p, o: rows_of(director_market(s, d, ours=o).win_loss),
    "market-coverage": lambda s, d, p, o: rows_of(director_market(s, d, ours=o).coverage),
}


@router.get("/market-export/{name}.{fmt}")
def market_export(
    request: Request,
    name: str,
    fmt: str,
    user: User = Depends(current_user),
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
) -> Response:
    builder = EXPORTS.get(name)
    if builder is None or fmt not in ("csv", "xlsx"):
        raise NotFoundError(f"no export {name}.{fmt}; lists: {', '.join(sorted(EXPORTS))}")
    params = dict(request.query_params)
    rows = builder(session, day, params, ours(request))
    language = export_option(params, "lang", LANGUAGES, getattr(user, "language", None) or "nb")
    dialect = export_option(params, "dialect", DIALECTS, "excel")
    content, media_type = export(rows, fmt, sheet=name, language=language, dialect=dialect)
    return Response(
        content,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{name}-{day.isoformat()}.{fmt}"'},
    )
