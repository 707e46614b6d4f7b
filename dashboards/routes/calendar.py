"""The per-user iCalendar feed, protected by a revocable token instead of a login."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dashboards.web import db_session, page_env, today
from tracker.errors import NotFoundError
from tracker.pages.base import PageEnv
from tracker.pages.calendar import calendar_feed
from tracker.users import user_for_calendar_token

router = APIRouter()


def _base_url(request: Request) -> str:
    """The tracker's public address (as the profile page shows the calendar URL)."""
    return request.app.state.base_url or str(request.base_url).rstrip("/")


@router.get("/calendar/{token}.ics")
def calendar(
    request: Request,
    token: str,
    session: Session = Depends(db_session),
    day: dt.date = Depends(today),
    env: PageEnv = Depends(page_env),
) -> Response:
    user = user_for_calendar_token(session, token)
    if user is None:
        raise NotFoundError("unknown or revoked calendar token")
    return Response(
        calendar_feed(session, user, day, env, base_url=_base_url(request)),
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'inline; filename="tracker.ics"'},
    )
