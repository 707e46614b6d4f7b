"""The web app: ``create_app()`` builds a FastAPI app serving server-rendered pages.

Every module in ``dashboards/routes/`` that defines ``router`` is included (HTML pages,
left out of the OpenAPI description); a module may also define ``api_router`` (JSON
under ``/api``, described at ``/api/openapi.json``) and ``NAV`` (menu entries as
``(label, path, roles or None)``). Adding a file there is enough to add pages.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboards import routes as routes_pkg
from dashboards.web import (
    CSRFError,
    LoginRequired,
    authenticate,
    csrf_protect,
    user_language,
    validate_input,
)
from tracker.config import Settings, load_settings
from tracker.config import session_secret as config_session_secret
from tracker.db.engine import get_engine
from tracker.errors import NotFoundError, PermissionDeniedError, TrackerError
from tracker.i18n import set_language
from tracker.ops.runtime import tune_gc
from tracker.pages.base import PageCache

HERE = Path(__file__).resolve().parent
SESSION_MAX_AGE = 12 * 3600
log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds CSP and friends to every response; pages are not cached (sales data)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"%00" in raw.lower()


class RequestGuard:
    """Refuses bad input before any route, form parser or database sees it.

    - a body larger than ``max_bytes``: 413 at once from its Content-Length, or as soon
      as a streamed body passes the limit (never read whole: no 180 MB read before CSRF);
    - a NUL byte (raw or ``%00``) in the path, the query or a form or JSON body: 400
      (PostgreSQL cannot store NUL in text; no field of the product needs one).
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, msg: str):
        if scope["path"].startswith("/api/"):
            response: Response = JSONResponse({"detail": msg}, status_code=status)
        else:
            response = PlainTextResponse(msg, status_code=status)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if "\x00" in scope["path"] or _has_nul(raw_path) or _has_nul(scope["query_string"]):
            await self._refuse(scope, receive, send, 400, "a NUL byte is not allowed in a URL")
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").strip()
        if length and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(
                scope, receive, send, 413, f"request body over {self.max_bytes} bytes"
            )
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and not length:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(
                    scope, receive, send, 413, f"request body over {self.max_bytes} bytes"
                )
                return
        ctype = headers.get(b"content-type", b"").lower()
        if (
            b"\x00" in body
            or (b"urlencoded" in ctype and b"%00" in body.lower())
            or (b"json" in ctype and b"\\u0000" in body.lower())
        ):
            await self._refuse(scope, receive, send, 400, "a NUL byte is not allowed in a field")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RedactTokens(logging.Filter):
    """Keeps calendar tokens out of access logs (``/calendar/<token>.ics``)."""

    _pattern = re.compile(r"(/calendar/)[^/\s\"?]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                self._pattern.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        if isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1[redacted]", record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def session_secret(settings: Settings) -> str:
    """The configured secret, else ``$TRACKER_HOME/session_secret`` (created 0600, written
    atomically; ``tracker.config.session_secret``)."""
    return config_session_secret(settings)


def _route_modules() -> list[Any]:
    mods = []
    for info in sorted(pkgutil.iter_modules(routes_pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module(f"{routes_pkg.__name__}.{info.name}"))
    return mods


def _newstyle_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    """jinja2.ext's newstyle ``gettext`` for ``translate``: called directly, not through
    ``Context.call`` and the ``_`` alias; the ``%`` formatting (which escapes the values
    and turns ``%%`` into ``%``) is skipped only when the text has no ``%`` to format."""

    @pass_context
    def gettext(context: Context, string: str, /, **variables: Any) -> str:
        rv = translate(string)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)  # noqa: S704 - the catalog's text, as jinja2.ext marks it
        if not variables and "%" not in rv:
            return rv
        return rv % variables

    return gettext


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's environment with a shorter way to ``row.name`` on a plain dict: the item
    at once, where Jinja first asks for an attribute and catches the AttributeError (a
    tenth of the account page's time). Names of dict's own attributes (``items``,
    ``get``...) and missing keys go Jinja's way, so every lookup gives what it gave."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _templates() -> Jinja2Templates:
    env = _Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(enabled_extensions=("html", "svg", "xml"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # shipped templates: no stat() of every template per request
        extensions=["jinja2.ext.i18n"],
    )
    from dashboards import filters
    from tracker import i18n
    from tracker.formats import labels

    # gettext reads the request's language (tracker.i18n), so macros imported into a
    # template translate too; every user-facing string goes through the catalog
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    # ``_`` and ``gettext`` as jinja2.ext's newstyle gettext does them (translated, Markup
    # when autoescaping, always a format string), minus two indirections per call: a page
    # makes thousands of calls (the account page at 200k notices: 5,700)
    env.globals["_"] = env.globals["gettext"] = _newstyle_gettext(i18n.gettext)
    env.globals["current_language"] = i18n.current_language
    env.globals["languages"] = i18n.LANGUAGES
    env.filters.update(filters.FILTERS)
    env.globals.update(filters.GLOBALS)
    env.filters.update(labels.FILTERS)
    return Jinja2Templates(env=env)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    user = getattr(request.state, "user", None)
    set_language(getattr(user, "language", None))
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "message": message,
            "user": getattr(request.state, "user", None),
            "nav": request.app.state.nav,
            "csrf_token": request.session.get("csrf", ""),
            "flashes": [],
        },
        status_code=status,
    )


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    cache: PageCache | None = None,
) -> FastAPI:
    """Build the app for ``settings`` (default: ``load_settings()``) and ``engine``;
    ``cache``: where whole-database aggregates are kept between requests (default: a
    new ``PageCache`` of this app; ``NoCache()`` builds them on every request)."""
    settings = settings or load_settings()
    engine = engine or get_engine(settings=settings)
    tune_gc()  # tracker.ops.runtime: a tenth of a large page's CPU went to the collector
    app = FastAPI(
        title="Tender tracker API",
        description="Read-only JSON API of the tender tracker. Log in first, or send "
        "`Authorization: Bearer <API token>` (create one on your profile page).",
        version="1",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[
            Depends(validate_input),
            Depends(authenticate),
            Depends(user_language),
            Depends(csrf_protect),
        ],
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.cache = cache if cache is not None else PageCache()  # tracker.pages
    settings.today()  # a bad TRACKER_TODAY stops the app here, not on the first page
    app.state.templates = _templates()
    # The configured public URL only when it was set (env or file); else each page uses
    # the URL the request came in on (the port the server really runs on).
    configured = settings.sources.get("base_url", "default") != "default"
    app.state.base_url = (
        str(settings.values.get("base_url") or "").rstrip("/") if configured else ""
    )
    nav: list[tuple[str, str, tuple[str, ...] | None]] = []
    for mod in _route_modules():
        if hasattr(mod, "router"):
            app.include_router(mod.router, include_in_schema=False)
        if hasattr(mod, "api_router"):
            app.include_router(mod.api_router)
        nav.extend(getattr(mod, "NAV", []))
    nav.sort(key=lambda item: NAV_ORDER.get(item[1], 99))
    app.state.nav = nav

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    _error_handlers(app)
    _middleware(app, settings)
    install_log_redaction()
    return app


def _error_handlers(app: FastAPI) -> None:
    """Errors as pages (or JSON for the API): login, permission, CSRF, not found, a bad
    value, any other tracker error."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "login required"}, status_code=401)
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(PermissionDeniedError)
    async def _denied(request: Request, exc: PermissionDeniedError) -> Response:
        return _error(request, 403, str(exc))

    @app.exception_handler(CSRFError)
    async def _csrf(request: Request, exc: CSRFError) -> Response:
        return _error(request, 403, "the form expired or was not sent by this site; reload it")

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(
            ".".join(str(p) for p in err.get("loc", ())[1:]) or "request" for err in exc.errors()
        )
        return _error(request, 400, f"invalid value for: {fields}")

    @app.exception_handler(TrackerError)
    async def _tracker_error(request: Request, exc: TrackerError) -> Response:
        return _error(request, 400, str(exc))


def _middleware(app: FastAPI, settings: Settings) -> None:
    """Signed session cookie, request guard, security headers; proxy headers outermost
    when trusted proxies are configured."""
    https = app.state.base_url.startswith("https://")
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie="tracker_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=https,
    )
    app.add_middleware(RequestGuard, max_bytes=int(settings.max_request_bytes))
    app.add_middleware(SecurityHeaders)
    trusted = [h.strip() for h in str(settings.trusted_proxies or "").split(",") if h.strip()]
    if trusted:  # outermost: the client address is the real one before anything reads it
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)


NAV_ORDER = {
    "/": 0,
    "/accounts": 1,
    "/bids": 2,
    "/director": 3,
    "/search": 4,
    "/me": 8,
    "/health": 9,
    "/admin/users": 10,
}
