"""Helpers shared by the route modules: rendering, looking a meeting up, SSE framing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import HTTPException, Path, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from server import auth, i18n
from tally.db import Meeting
from tally.store import Store

#: ids in paths: positive and within a database integer
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: the browser waits this long before reconnecting a dropped stream
SSE_RETRY_MS = 1000
SSE_HEARTBEAT_S = 15.0
#: how often an idle stream looks whether the server is stopping
SSE_POLL_S = 1.0
#: how often an open stream asks again whether its user or display token may still see it
AUTH_RECHECK_S = 1.0


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page with the user, the language and the CSRF token in its context. Before login a
    fresh pre-login CSRF cookie is set along (double submit)."""
    templates: Jinja2Templates = request.app.state.templates
    who = auth.identity(request)
    pre_csrf = None
    if who is None:
        pre_csrf = request.cookies.get(auth.PRE_CSRF_COOKIE) or auth.new_pre_csrf()
        csrf = pre_csrf
    else:
        csrf = auth.csrf_for_session(auth.session_token(request))
    lang = i18n.lang_of(request)
    response = templates.TemplateResponse(
        request, template, {"who": who, "csrf": csrf, "lang": lang, **context},
        status_code=status_code)
    if pre_csrf is not None:
        response.set_cookie(auth.PRE_CSRF_COOKIE, pre_csrf, **auth.cookie_args(request))
    return response


def meeting_or_404(request: Request, meeting_id: int) -> Meeting:
    with store_of(request).session(readonly=True) as s:
        m = s.get(Meeting, meeting_id)
    if m is None:
        raise HTTPException(404, f"no meeting #{meeting_id}")
    return m


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


#: yielded once by `events_until_closing` when the stream's access was revoked, then it ends
REVOKED = object()


async def events_until_closing(request: Request, sub: Any,
                               allowed: Callable[[], bool] | None = None) -> AsyncIterator[Any]:
    """The subscription's events, and None after every heartbeat interval without one; ends
    when the server is stopping. `allowed` (a blocking check, run in a thread) is asked at
    least every `AUTH_RECHECK_S`: once it says no, `REVOKED` is yielded and the stream ends,
    so a disabled user, a logout, a role change or a revoked token stops it within ~1 s."""
    closing = request.app.state.closing
    quiet = 0.0
    next_check = time.monotonic() + AUTH_RECHECK_S
    while not closing.is_set():
        wait = SSE_POLL_S if allowed is None else min(
            SSE_POLL_S, max(next_check - time.monotonic(), 0.0))
        ev = await sub.get(timeout=wait) if wait > 0 else None
        if allowed is not None and time.monotonic() >= next_check:
            if not await asyncio.to_thread(allowed):
                yield REVOKED
                return
            next_check = time.monotonic() + AUTH_RECHECK_S
        if ev is not None:
            quiet = 0.0
            yield ev
            continue
        quiet += wait
        if quiet >= SSE_HEARTBEAT_S:
            quiet = 0.0
            yield None


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    async def framed() -> AsyncIterator[str]:
        yield f"retry: {SSE_RETRY_MS}\n\n"
        async for chunk in stream:
            yield chunk

    return StreamingResponse(framed(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
