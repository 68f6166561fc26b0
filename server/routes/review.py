"""The review queue: items with image crops, decided one by one (keyboard-driven page); a
sheet found by serial (its pages, states, decisions, image) and voided with a reason; a page
keyed by hand from its image and confirmed by a second login (`tally.manual`); the ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from server import auth, i18n
from server.fields import Name, Text
from server.routes.common import Id, meeting_or_404, render, store_of
from tally.accounts import Identity
from tally.db import Page
from tally.ledger import find_sheet, meeting_ledger
from tally.manual import HandMarks, confirm, enter, entry_form, marks_from_form
from tally.meetings import MeetingError
from tally.readings import reason_codes
from tally.review.crops import render_crop
from tally.review.decisions import decide, writein_names
from tally.review.errors import ReviewError
from tally.review.items import Crop, ReviewItem
from tally.review.queue import review_queue

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
    items = queue_json(request, meeting_id)
    with store_of(request).session(readonly=True) as s:
        names = writein_names(s, meeting_id)
        codes = _reason_codes(s, meeting_id, {i["page_id"] for i in items if not i["field"]})
    return render(request, "review.html", m=m, items=items, codes=codes,
                  can_decide=auth.RANK[who.role] >= auth.RANK["operator"], writein_names=names)


def _reason_codes(s: Session, meeting_id: int, page_ids: set[int]) -> dict[int, str]:
    """The reason code of each page a sheet item is about (its refusal, else its reading's):
    what `i18n.reason` falls back on when the sentence has no known shape."""
    return reason_codes(s, meeting_id, page_ids)


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


# -- the ledger, a sheet by serial, void, manual entry -------------------------------------------

@router.get("/meetings/{meeting_id}/ledger.json")
def ledger_json(request: Request, meeting_id: Id,
                who: Identity = Depends(auth.viewer)) -> Response:
    """The sheet ledger (`tally.ledger.Ledger.to_json`): fed = the sum of the states."""
    meeting_or_404(request, meeting_id)
    with store_of(request).session(readonly=True) as s:
        return JSONResponse(meeting_ledger(s, meeting_id).to_json())


@router.get("/meetings/{meeting_id}/find")
def find_page(request: Request, meeting_id: Id,
              serial: Annotated[Name, Query(max_length=16)] = "",
              who: Identity = Depends(auth.viewer)) -> Response:
    """A sheet by its serial: pages, states, decisions, the image; void / unvoid it."""
    m = meeting_or_404(request, meeting_id)
    found, error = None, None
    if serial:
        with store_of(request).session(readonly=True) as s:
            try:
                found = find_sheet(s, meeting_id, serial)
            except MeetingError as exc:
                error = i18n.error_text(exc, i18n.lang_of(request))
    return render(request, "sheet.html", status_code=404 if error else 200, m=m,
                  serial=serial, found=found, error=error,
                  can_decide=auth.RANK[who.role] >= auth.RANK["operator"])


@router.post("/meetings/{meeting_id}/pages/{page_id}/void")
def void_sheet(request: Request, meeting_id: Id, page_id: Id,
               why: Annotated[Text, Form(max_length=500)] = "",
               kind: Annotated[Name, Form(max_length=8)] = "void",
               serial: Annotated[Name, Form(max_length=16)] = "",
               who: Identity = Depends(auth.operator)) -> Response:
    """Void (or unvoid) the sheet of a page, also one that read OK; a reason is required."""
    meeting_or_404(request, meeting_id)
    if kind not in ("void", "unvoid"):
        raise HTTPException(422, "kind must be void or unvoid")
    decide_item(request, meeting_id, str(page_id), kind, "", why, who)
    return RedirectResponse(f"/meetings/{meeting_id}/find?serial={serial}", status_code=303)


def _entry_page(request: Request, meeting_id: Id, page_id: Id, who: Identity, *,
                form_id: str | None = None, page_no: int | None = None,
                error: str | None = None, values: dict[str, Any] | None = None) -> Response:
    m = meeting_or_404(request, meeting_id)
    with store_of(request).session(readonly=True) as s:
        shown = entry_form(s, meeting_id, page_id, form_id=form_id, page_no=page_no)
        names = writein_names(s, meeting_id)
    entry = shown.entry
    return render(request, "enter.html", status_code=400 if error else 200, m=m, f=shown,
                  entry=entry, error=error, values=values or {},
                  can_confirm=entry is not None and not entry.confirmed
                  and entry.entered_by != who.username,
                  can_decide=auth.RANK[who.role] >= auth.RANK["operator"],
                  writein_names=names)


@router.get("/meetings/{meeting_id}/pages/{page_id}/enter")
def enter_page(request: Request, meeting_id: Id, page_id: Id,
               form: Annotated[Name | None, Query(max_length=40)] = None,
               page: Annotated[int | None, Query(ge=1, le=100)] = None,
               who: Identity = Depends(auth.viewer)) -> Response:
    """The page's image beside its form's fields as inputs, to key its marks by hand; an entry
    awaiting confirmation is shown with its marks for a second login to confirm."""
    return _entry_page(request, meeting_id, page_id, who, form_id=form, page_no=page)


@router.post("/meetings/{meeting_id}/pages/{page_id}/enter")
async def enter_marks(request: Request, meeting_id: Id, page_id: Id,
                      who: Identity = Depends(auth.operator)) -> Response:
    """Record the marks keyed from the image (fields `mark:<field>`, `name:<field>:<option>`,
    `form`, `page`, `serial`, `why`); they count once another login confirms them."""
    posted = await request.form()
    values = {k: posted.getlist(k) for k in posted}
    one = {k: str(v[0]) if v else "" for k, v in values.items()}
    marks, names = marks_from_form(values)
    form_id, page_text = one.get("form", ""), one.get("page", "1")
    try:
        if not page_text.isdigit():
            raise ReviewError("page {page!r} must be a number", page=page_text)
        enter(store_of(request), meeting_id, page_id,
              HandMarks(form_id, one.get("serial", ""), int(page_text), marks, names),
              who=who.username, why=one.get("why", ""))
    except ReviewError as exc:
        return _entry_page(request, meeting_id, page_id, who, form_id=form_id or None,
                           page_no=int(page_text) if page_text.isdigit() else None,
                           error=i18n.error_text(exc, i18n.lang_of(request)),
                           values=one | {"marks": marks})
    request.app.state.bus.publish(meeting_id, "decision", {"item": f"{page_id}:enter"})
    return RedirectResponse(f"/meetings/{meeting_id}/pages/{page_id}/enter", status_code=303)


@router.post("/meetings/{meeting_id}/pages/{page_id}/confirm")
def confirm_marks(request: Request, meeting_id: Id, page_id: Id,
                  why: Annotated[Text, Form(max_length=500)] = "",
                  who: Identity = Depends(auth.operator)) -> Response:
    """A second, different login confirms the entry against the image: it counts from now."""
    meeting_or_404(request, meeting_id)
    try:
        confirm(store_of(request), meeting_id, page_id, who=who.username, why=why)
    except ReviewError as exc:
        return _entry_page(request, meeting_id, page_id, who,
                           error=i18n.error_text(exc, i18n.lang_of(request)))
    request.app.state.bus.publish(meeting_id, "decision", {"item": f"{page_id}:confirm"})
    return RedirectResponse(f"/meetings/{meeting_id}/pages/{page_id}/enter", status_code=303)
