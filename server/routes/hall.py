"""The hall screen: one meeting's aggregates, live. Opens with a display token (`?token=`) of
that meeting, or for a logged-in user. Never an image, a serial or a write-in name: everything
sent is a `server.hall.HallAggregate` or a bare progress tick."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from server import auth, fonts
from server.hall import HallAggregate
from server.routes.common import (
    REVOKED,
    Id,
    events_until_closing,
    meeting_or_404,
    render,
    sse,
    sse_response,
)
from tally.results import meeting_specs_cached

router = APIRouter(tags=["hall"])


@router.get("/hall/{meeting_id}", include_in_schema=False)
def hall_page(request: Request, meeting_id: Id, token: str = "") -> Response:
    auth.hall_access(meeting_id, request)
    m = meeting_or_404(request, meeting_id)
    query = f"?token={token}" if token else ""
    return render(request, "hall.html", m=m, query=query,
                  extra_font=bool(_missing(request, meeting_id)))


def _missing(request: Request, meeting_id: Id) -> str:
    with request.app.state.store.session(readonly=True) as s:
        specs = meeting_specs_cached(s, meeting_id)
    return fonts.missing_chars("".join(sp.model_dump_json() for sp in specs.values()))


@router.get("/hall/{meeting_id}/data", response_model=HallAggregate)
async def hall_data(request: Request, meeting_id: Id, token: str = "") -> HallAggregate:
    """The hall's figures now (what the screen re-fetches after a reconnect)."""
    auth.hall_access(meeting_id, request)
    meeting_or_404(request, meeting_id)
    return await request.app.state.feeds.current(meeting_id)  # type: ignore[no-any-return]


@router.get("/hall/{meeting_id}/events", response_class=Response,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "SSE: `aggregate` (HallAggregate) and `progress` "
                                            "({page_id, committed_at}) events"}})
async def hall_events(request: Request, meeting_id: Id, token: str = "") -> Response:
    """Server-sent events: the full aggregate first, then each recomputation and a progress
    tick per committed sheet. The browser reconnects by itself (retry: 1000 ms)."""
    auth.hall_access(meeting_id, request)
    meeting_or_404(request, meeting_id)
    app = request.app
    bus, feeds = app.state.bus, app.state.feeds
    allowed = auth.stream_access(request, meeting_id)

    async def stream() -> AsyncIterator[str]:
        feeds.ensure(meeting_id)
        async with bus.subscribe(meeting_id) as sub:
            agg = await feeds.current(meeting_id)
            yield sse("aggregate", agg.model_dump(mode="json"))
            async for ev in events_until_closing(request, sub, allowed):
                if ev is REVOKED:
                    yield sse("revoked", {})
                    return
                if ev is None:
                    yield ": ping\n\n"
                elif ev.kind == "aggregate":
                    yield sse("aggregate", ev.data)
                elif ev.kind == "sheet":
                    yield sse("progress", {"page_id": ev.data.get("page_id"),
                                           "committed_at": ev.data.get("committed_at")})

    return sse_response(stream())


@router.get("/hall/{meeting_id}/font.ttf", include_in_schema=False)
def hall_font(request: Request, meeting_id: Id, token: str = "") -> Response:
    """Glyphs of the meeting's names that the base web font lacks (often empty)."""
    auth.hall_access(meeting_id, request)
    meeting_or_404(request, meeting_id)
    data = fonts.meeting_font(_missing(request, meeting_id))
    if not data:
        raise HTTPException(404, "no extra glyphs needed")
    return Response(data, media_type="font/ttf", headers={"Cache-Control": "private, max-age=3600"})
