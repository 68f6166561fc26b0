"""The web app: `create_app(store)` wires the console, the hall screen and the JSON API.

Everything the routes share lives on `app.state`: the store, the event bus, the hall feeds, the
intake jobs, the settings and the templates. No module-level state: two apps (two stores) can
run in one process, as the tests do.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import auth, i18n
from server.events import EventBus
from server.fields import refuse_control_characters
from server.hall import HallFeeds
from server.intake import DeviceUnavailable, Intake
from server.reports import ReportError
from server.throttle import LoginGuard, LoginLimits
from server.uploads import UploadLimits, UploadRefused
from tally.accounts import AccountError
from tally.images import ImageError
from tally.ingest import IngestRefused
from tally.meetings import MeetingError
from tally.review.errors import ReviewError
from tally.store import Store

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
#: request bodies of anything but an upload route
SMALL_BODY_BYTES = 2 * 1024 * 1024
UPLOAD_PATH_SUFFIXES = ("/batches", "/pages", "/uploads")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
log = logging.getLogger("scantally.server")


@dataclass(frozen=True)
class ServerSettings:
    #: every cap on uploads, files, pages and jobs (`intake.limits.IntakeLimits`)
    limits: UploadLimits = field(default_factory=UploadLimits)
    #: threads reading uploaded pages (the OMR engine)
    read_threads: int = 2
    #: a one-time set-up token while no user exists (`scantally serve` prints its URL)
    setup_token: str | None = None
    station: str = ""
    hall_min_interval_s: float = 0.2
    hall_poll_s: float = 2.0
    #: processes recomputing the hall figures (0: a thread of the server process)
    hall_workers: int = 0
    #: opens a device URI (default: intake.devices.open_source); tests pass a fake
    open_source: Callable[[str], Any] | None = None
    #: login throttling and the bound on concurrent password hashing (`server.throttle`)
    login: LoginLimits = field(default_factory=LoginLimits)


class BodyLimit:
    """Refuse request bodies over the limit with 413 before the route sees them: by the
    Content-Length header at once, else by counting while the body streams in."""

    def __init__(self, app: ASGIApp, upload_bytes: int, small_bytes: int = SMALL_BODY_BYTES):
        self.app = app
        self.upload_bytes = upload_bytes
        self.small_bytes = small_bytes

    def limit_for(self, path: str) -> int:
        return self.upload_bytes if path.endswith(UPLOAD_PATH_SUFFIXES) else self.small_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(send, limit)
            return
        seen = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, tripped
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    tripped = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped and not started:
                started = True
                await self._too_large(send, limit)
                return
            if tripped:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not tripped:
                raise
            if not started:
                await self._too_large(send, limit)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        body = JSONResponse({"detail": f"upload too large: over the limit of "
                                       f"{limit / 1024 / 1024:,.0f} MiB{_setting(limit)}. Upload "
                                       "fewer files at a time; nothing was stored."},
                            status_code=413)
        await send({"type": "http.response.start", "status": 413,
                    "headers": body.raw_headers})
        await send({"type": "http.response.body", "body": body.body})


def _setting(limit: int) -> str:
    return "" if limit == SMALL_BODY_BYTES else " (max_request_bytes, `serve --max-upload-mb`)"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"),
                         (b"content-security-policy", CSP.encode())]
                if not static and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = headers + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, add_headers)


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path.endswith(("/data", "/events")):
        return True
    return "text/html" not in request.headers.get("accept", "")


def _error_page(request: Request, status: int, detail: Any) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", {"status": status,
                                                              "detail": detail},
                                      status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(auth.LoginRequired)
    async def login_required(request: Request, _exc: auth.LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "log in first (POST /login)"}, status_code=401)
        return RedirectResponse(auth.login_redirect(request), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        response = _error_page(request, exc.status_code, exc.detail)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
                    for e in exc.errors()]
        return _error_page(request, 422, problems)

    def bad_input(status: int) -> Callable[[Request, Exception], Any]:
        async def handler(request: Request, exc: Exception) -> Response:
            lang = i18n.lang_of(request)  # a spec's problems translated on pages only
            return _error_page(request, status, i18n.error_text(exc, lang) if wants_json(request)
                               else i18n.shown_error_text(exc, lang))
        return handler

    for kind in (MeetingError, ReviewError, AccountError, ReportError, IngestRefused):
        app.add_exception_handler(kind, bad_input(400))
    app.add_exception_handler(UploadRefused, bad_input(422))
    app.add_exception_handler(DeviceUnavailable, bad_input(503))
    app.add_exception_handler(ImageError, bad_input(409))


def create_app(store: Store, settings: ServerSettings | None = None) -> FastAPI:
    """The whole web app over an open store."""
    from server.routes import routers

    settings = settings or ServerSettings()
    bus = EventBus()
    feeds = HallFeeds(store, bus, min_interval_s=settings.hall_min_interval_s,
                      poll_s=settings.hall_poll_s, workers=settings.hall_workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await feeds.close()

    app = FastAPI(
        title="Scantally", version="1.0",
        summary="Ballot scanning and tally: operator console, hall screen and JSON API.",
        description="Log in with `POST /login` (form fields username, password, csrf_token "
                    "from the `scantally_csrf` cookie); then send the `scantally_session` "
                    "cookie, and on POST/PUT/PATCH/DELETE the `X-CSRF-Token` header (see "
                    "`GET /api/me`). Hall routes take a display token as `?token=`.",
        # /docs and /redoc are server.routes.docs: vendored assets, no CDN, no inline script
        docs_url=None, redoc_url=None, lifespan=lifespan,
        dependencies=[Depends(auth.csrf_check), Depends(refuse_control_characters)],
    )
    app.state.store = store
    app.state.settings = settings
    #: set when the server is stopping: open event streams end within a second
    app.state.closing = threading.Event()
    app.state.bus = bus
    app.state.login_guard = LoginGuard(settings.login)
    app.state.feeds = feeds
    app.state.intake = Intake(store, bus, read_threads=settings.read_threads,
                              open_source=settings.open_source, limits=settings.limits)
    for job in app.state.intake.recover():  # jobs a killed server left running
        log.warning("intake job %s (batch #%s): %s", job.id, job.batch_id,
                    job.note or job.error)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    i18n.install(templates)
    app.state.templates = templates
    _install_errors(app)
    for router in routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, upload_bytes=settings.limits.max_request_bytes)
    return app
