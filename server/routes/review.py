"""The review queue: items with image crops, decided one by one (keyboard-driven page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from server import auth
from server.fields import Name, Text
from server.routes.common import Id, meeting_or_404, render, store_of
from tally.accounts import Identity
from tally.db import Page
from tally.review import Crop, ReviewItem, decide, render_crop, review_queue

router = APIRouter(include_in_schema=False)
MAX_MM = 1000.0


def item_json(meeting_id: Id, i: ReviewItem) -> dict[str, Any]:
    def crop(c: Crop) -> dict[str, Any]:
        url = f"/meetings/{meeting_id}/pages/{i.page_id}/crop.png"
        if c.rect_mm is not None:
            x, y, w, h = (round(v, 2) for v in c.rect_mm)
            url += f"?x={x}&y={y}&w={w}&h={h}"
        return {"label": c.label, "url": url}

    return i.to_json(crop)


def queue_json(request: Request, meeting_id: Id, include_resolved: bool = False
               ) -> list[dict[str, Any]]:
    with store_of(request).session(readonly=True) as s:
        items = review_queue(s, meeting_id, include_resolved=include_resolved)
    # in the queue's order: the least certain marks first (SDAPS), then the rest
    return [item_json(meeting_id, i) for i in items]


@router.get("/meetings/{meeting_id}/review")
def review_page(request: Request, meeting_id: Id,
                who: Identity = Depends(auth.viewer)) -> Response:
    m = meeting_or_404(request, meeting_id)
    return render(request, "review.html", m=m, items=queue_json(request, meeting_id),
                  can_decide=auth.RANK[who.role] >= auth.RANK["operator"])


def decide_item(request: Request, meeting_id: Id, item_id: str, kind: str, text: str,
                why: str, who: Identity) -> dict[str, Any]:
    d = decide(store_of(request), meeting_id, item_id, kind, who=who.username, why=why,
               text=text)
    request.app.state.bus.publish(meeting_id, "decision", {"item": item_id, "kind": d.kind})
    return {"id": d.id, "item": item_id, "kind": d.kind, "before": d.before, "after": d.after,
            "who": d.who}


@router.post("/meetings/{meeting_id}/review/decide")
def decide_form(request: Request, meeting_id: Id,
                item: Annotated[Name, Form(max_length=200)],
                kind: Annotated[Name, Form(max_length=16)],
                text: Annotated[Name, Form(max_length=80)] = "",
                why: Annotated[Text, Form(max_length=500)] = "",
                who: Identity = Depends(auth.operator)) -> Response:
    """The page's fallback without JavaScript: decide, then back to the queue."""
    meeting_or_404(request, meeting_id)
    decide_item(request, meeting_id, item, kind, text, why, who)
    return RedirectResponse(f"/meetings/{meeting_id}/review", status_code=303)


@router.get("/meetings/{meeting_id}/pages/{page_id}/crop.png")
def crop(request: Request, meeting_id: Id, page_id: Id,
         x: Annotated[float | None, Query(ge=-50, le=MAX_MM)] = None,
         y: Annotated[float | None, Query(ge=-50, le=MAX_MM)] = None,
         w: Annotated[float | None, Query(gt=0, le=MAX_MM)] = None,
         h: Annotated[float | None, Query(gt=0, le=MAX_MM)] = None,
         who: Identity = Depends(auth.viewer)) -> Response:
    """A PNG crop of a stored page (millimetres on the printed page; none: the whole page).
    Logged-in users only: images never leave for the hall."""
    meeting_or_404(request, meeting_id)
    store = store_of(request)
    rect = None
    if None not in (x, y, w, h):
        rect = (float(x), float(y), float(w), float(h))  # type: ignore[arg-type]
    elif any(v is not None for v in (x, y, w, h)):
        raise HTTPException(422, "give all of x, y, w, h (millimetres) or none")
    with store.session(readonly=True) as s:
        row = s.get(Page, page_id)
        if row is None or row.meeting_id != meeting_id:
            raise HTTPException(404, f"no page #{page_id} in this meeting")
        png = render_crop(store, s, page_id, rect)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})
