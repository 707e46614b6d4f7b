"""Admin health page: last runs, failures, notices per day (inline SVG), ingest errors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.web import db_session, render, require_role, today
from tracker.db.models import User
from tracker.enums import Role
from tracker.ops.doctor import health_report

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["health"])
NAV = [("Health", "/health", (Role.ADMIN,))]


@router.get("/health")
def health(
    request: Request,
    user: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> Response:
    return render(request, "health.html", health_report(session, today(request)))


@api_router.get("/health", summary="Operations health (admin): runs, failures, alerts, lock")
def health_json(
    request: Request,
    user: User = Depends(require_role(Role.ADMIN)),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    report = health_report(session, today(request))
    report["chart"] = [{"day": b["day"], "notices": b["n"]} for b in report["chart"]["bars"]]
    return report
