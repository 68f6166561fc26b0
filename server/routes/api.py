"""The JSON API (documented at /docs): meetings, figures, review, batches for stations, events.

Pydantic models at the boundary; every call is one call into `tally` (or `server.intake`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from forms.text import find_control
from server import auth, i18n
from server.fields import Name, Text, refused
from server.intake import JobView
from server.routes.common import (
    REVOKED,
    Id,
    events_until_closing,
    meeting_or_404,
    sse,
    sse_response,
    store_of,
)
from server.routes.console import start_upload_job
from server.routes.review import decide_item, queue_json
from tally import accounts
from tally.accounts import Identity
from tally.db import Meeting
from tally.ingest import IngestRefused, parse_reading
from tally.meetings import FormText, create_meeting, list_meetings, meeting_forms, update_meeting
from tally.results import meeting_results
from tally.rules import TallyResult

router = APIRouter(prefix="/api", tags=["api"])
MAX_READING_CHARS = 1_000_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    csrf_token: str = Field(description="send as X-CSRF-Token on POST/PUT/PATCH/DELETE")


class FormView(BaseModel):
    id: str
    kind: str
    title: str
    layout_hash: str


class MeetingView(BaseModel):
    id: int
    name: str
    unit: str
    date: str
    expected: dict[str, int]
    present: dict[str, int]
    issued: int | None
    serials_recorded: bool
    forms: list[FormView]


class SpecText(_In):
    yaml: Text = Field(max_length=512 * 1024, description="the form spec, as YAML text")
    source: Name = Field(default="spec.yaml", max_length=200,
                        description="a name for messages")


Count = Annotated[int, Field(ge=0, le=1_000_000)]
CategoryKey = Annotated[Name, Field(max_length=40)]


class MeetingCreate(_In):
    name: Name = Field(min_length=1, max_length=120)
    forms: list[SpecText] = Field(min_length=1, max_length=10)
    expected: dict[CategoryKey, Count] | None = None
    present: dict[CategoryKey, Count] | None = None
    issued: Count | None = None


class FactsUpdate(_In):
    expected: dict[CategoryKey, Count] | None = None
    present: dict[CategoryKey, Count] | None = None
    issued: Count | None = None


class DecisionIn(_In):
    #: `cancel`: 涂改作废, the voter marked the box and struck it out (not a vote)
    kind: Literal["marked", "empty", "writein", "cancel", "void", "unvoid", "accept", "dismiss"]
    text: Name = Field(default="", max_length=80, description="the write-in name (writein)")
    why: Text = Field(default="", max_length=500, description="the reason")


class DecisionView(BaseModel):
    id: int
    item: str
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]
    who: str


class CropView(BaseModel):
    label: str
    url: str


class ReviewItemView(BaseModel):
    id: str
    kind: str
    page_id: Id
    source: str
    form: str | None
    page: int | None
    serial: str | None
    field: str | None
    option: str | None
    label: str
    reason: str
    choices: list[str]
    state: dict[str, Any]
    score: float | None
    resolved: bool
    crops: list[CropView]


class BatchOpen(_In):
    device: Text = Field(default="", max_length=120)
    station: Name = Field(default="", max_length=80)
    category: Name | None = Field(default=None, max_length=40)


class BatchView(BaseModel):
    batch_id: Id
    job_id: str


class PageResult(BaseModel):
    source: str
    outcome: str
    message: str
    page_id: Id | None
    duplicate_of: int | None
    form: str | None
    page: int | None
    serial: str | None


class TokenView(BaseModel):
    id: int
    label: str
    created_by: str
    created_at: str
    revoked: bool


class NewToken(BaseModel):
    id: int
    token: str
    url: str


class TokenCreate(_In):
    label: Name = Field(default="", max_length=80)


def meeting_view(request: Request, m: Meeting) -> MeetingView:
    with store_of(request).session(readonly=True) as s:
        forms = meeting_forms(s, m.id)
    return MeetingView(id=m.id, name=m.name, unit=m.unit, date=str(m.date or ""),
                       expected=m.expected, present=m.present, issued=m.issued,
                       serials_recorded=m.serials_recorded,
                       forms=[FormView(id=f.form_id, kind=f.kind, title=f.title,
                                       layout_hash=f.layout_hash) for f in forms.values()])


@router.get("/me", response_model=Me)
def me(request: Request, who: Identity = Depends(auth.viewer)) -> Me:
    """Who is logged in, and the CSRF token to send with changes."""
    return Me(username=who.username, display_name=who.display_name, role=who.role,
              csrf_token=auth.csrf_for_session(auth.session_token(request)))


@router.get("/meetings", response_model=list[MeetingView])
def meetings(request: Request, who: Identity = Depends(auth.viewer)) -> list[MeetingView]:
    with store_of(request).session(readonly=True) as s:
        rows = list_meetings(s)
    return [meeting_view(request, m) for m in rows]


@router.post("/meetings", response_model=MeetingView, status_code=201)
def new_meeting(request: Request, body: MeetingCreate,
                who: Identity = Depends(auth.operator)) -> MeetingView:
    """Create a meeting from form specs (YAML text); 400 with the line and field of a bad spec."""
    m = create_meeting(store_of(request), name=body.name,
                       forms=[FormText(f.yaml, f.source) for f in body.forms],
                       actor=who.username, expected=body.expected, present=body.present,
                       issued=body.issued)
    return meeting_view(request, m)


@router.get("/meetings/{meeting_id}", response_model=MeetingView)
def meeting(request: Request, meeting_id: Id,
            who: Identity = Depends(auth.viewer)) -> MeetingView:
    return meeting_view(request, meeting_or_404(request, meeting_id))


@router.patch("/meetings/{meeting_id}/facts", response_model=MeetingView)
def facts(request: Request, meeting_id: Id, body: FactsUpdate,
          who: Identity = Depends(auth.operator)) -> MeetingView:
    """Record 应到 / 实到 / 发出 (only the ones given; logged)."""
    meeting_or_404(request, meeting_id)
    m = update_meeting(store_of(request), meeting_id, actor=who.username,
                       expected=body.expected, present=body.present, issued=body.issued)
    request.app.state.bus.publish(meeting_id, "meeting", {"by": who.username})
    return meeting_view(request, m)


@router.get("/meetings/{meeting_id}/tally", response_model=list[TallyResult])
def tally(request: Request, meeting_id: Id,
          who: Identity = Depends(auth.viewer)) -> list[TallyResult]:
    """The figures of each form (`scantally tally --json`), with reconciliation and alarms."""
    meeting_or_404(request, meeting_id)
    return [f.result for f in meeting_results(store_of(request), meeting_id).forms]


@router.get("/meetings/{meeting_id}/review", response_model=list[ReviewItemView])
def review(request: Request, meeting_id: Id, include_resolved: bool = False,
           who: Identity = Depends(auth.viewer)) -> list[dict[str, Any]]:
    meeting_or_404(request, meeting_id)
    return queue_json(request, meeting_id, include_resolved)


@router.post("/meetings/{meeting_id}/review/{item_id}", response_model=DecisionView)
def decide(request: Request, meeting_id: Id, item_id: str, body: DecisionIn,
           who: Identity = Depends(auth.operator)) -> dict[str, Any]:
    """Decide one review item (signed by the logged-in user, logged with before/after/why)."""
    meeting_or_404(request, meeting_id)
    return decide_item(request, meeting_id, item_id, body.kind, body.text, body.why, who)


@router.post("/meetings/{meeting_id}/uploads", response_model=JobView, status_code=202)
def upload(request: Request, meeting_id: Id, files: Annotated[list[UploadFile], File()],
           category: Annotated[Name, Form(max_length=40)] = "",
           who: Identity = Depends(auth.operator)) -> JobView:
    """Upload scans (images, PDFs, ZIPs); they are read and ingested in the background."""
    return start_upload_job(request, meeting_id, files, category, who).view()


@router.get("/meetings/{meeting_id}/jobs", response_model=list[JobView])
def jobs(request: Request, meeting_id: Id,
         who: Identity = Depends(auth.viewer)) -> list[JobView]:
    meeting_or_404(request, meeting_id)
    return [j.view() for j in request.app.state.intake.jobs(meeting_id)]


@router.post("/meetings/{meeting_id}/batches", response_model=BatchView, status_code=201)
def open_batch(request: Request, meeting_id: Id, body: BatchOpen,
               who: Identity = Depends(auth.operator)) -> BatchView:
    """Open a batch for a station that reads sheets itself and sends readings + images."""
    meeting_or_404(request, meeting_id)
    batch, job = request.app.state.intake.open_api_batch(
        meeting_id, operator=who.username, device=body.device, station=body.station,
        category=body.category)
    return BatchView(batch_id=batch.batch_id, job_id=job.id)


def _api_batch(request: Request, meeting_id: Id, batch_id: Id):  # type: ignore[no-untyped-def]
    found = request.app.state.intake.api_batch(batch_id)
    if found is None or found[0].meeting_id != meeting_id:
        raise HTTPException(404, f"batch #{batch_id} is not open on this server for meeting "
                                 f"#{meeting_id}; open one with POST /api/meetings/"
                                 f"{meeting_id}/batches")
    return found


@router.post("/meetings/{meeting_id}/batches/{batch_id}/pages", response_model=PageResult)
def add_page(request: Request, meeting_id: Id, batch_id: Id,
             reading: Annotated[Text, Form(max_length=MAX_READING_CHARS,
                                          description="the reading JSON of the page")],
             image: Annotated[UploadFile, File(description="the page image as scanned")],
             who: Identity = Depends(auth.operator)) -> PageResult:
    """Ingest one page read elsewhere: stored, counted once, audit-logged (refused: 422)."""
    batch, job = _api_batch(request, meeting_id, batch_id)
    try:
        parsed = json.loads(reading)
    except ValueError as exc:
        raise HTTPException(422, f"reading is not JSON: {exc}") from None
    found = find_control(parsed, ("body", "reading"))  # a "\u0000" escaped inside the JSON
    if found is not None:
        raise refused(found)
    try:  # outside JSON is parsed once, here at the edge
        given = parse_reading(parsed)
    except IngestRefused as exc:
        raise HTTPException(422, str(exc)) from None
    data = image.file.read()
    result = request.app.state.intake.ingest(batch, given.reading, data, job,
                                             printed_hash=given.layout_hash)
    if result.outcome == "refused":
        raise HTTPException(422, result.message)
    return PageResult(**result.to_json())


@router.post("/meetings/{meeting_id}/batches/{batch_id}/close", response_model=JobView)
def close(request: Request, meeting_id: Id, batch_id: Id,
          who: Identity = Depends(auth.operator)) -> JobView:
    _api_batch(request, meeting_id, batch_id)
    return request.app.state.intake.close_api_batch(batch_id).view()  # type: ignore[no-any-return]


@router.get("/meetings/{meeting_id}/tokens", response_model=list[TokenView])
def tokens(request: Request, meeting_id: Id,
           who: Identity = Depends(auth.operator)) -> list[TokenView]:
    meeting_or_404(request, meeting_id)
    return [TokenView(id=t.id, label=t.label, created_by=t.created_by,
                      created_at=t.created_at.isoformat(), revoked=t.revoked_at is not None)
            for t in accounts.display_tokens(store_of(request), meeting_id)]


@router.post("/meetings/{meeting_id}/tokens", response_model=NewToken, status_code=201)
def new_token(request: Request, meeting_id: Id, body: TokenCreate,
              who: Identity = Depends(auth.operator)) -> NewToken:
    """A hall display token for this meeting (shown once; logged in the meeting's chain)."""
    meeting_or_404(request, meeting_id)
    token, row = accounts.create_display_token(store_of(request), meeting_id,
                                               actor=who.username, label=body.label)
    url = str(request.base_url).rstrip("/") + f"/hall/{meeting_id}?token={token}"
    return NewToken(id=row.id, token=token, url=url)


@router.get("/meetings/{meeting_id}/events", response_class=Response,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "SSE: sheet, job, decision, meeting, aggregate"}})
async def events(request: Request, meeting_id: Id,
                 who: Identity = Depends(auth.viewer)) -> Response:
    """The console's live stream: every committed sheet (with its outcome and message), job
    progress, decisions, and the recomputed aggregate."""
    meeting_or_404(request, meeting_id)
    bus, feeds = request.app.state.bus, request.app.state.feeds
    allowed = auth.stream_access(request)
    lang = i18n.lang_of(request)  # the job cards' reasons in the console's language

    async def stream() -> AsyncIterator[str]:
        feeds.ensure(meeting_id)
        async with bus.subscribe(meeting_id) as sub:
            for job in request.app.state.intake.jobs(meeting_id):
                yield sse("job", i18n.shown_job(job.view().model_dump(mode="json"), lang))
            async for ev in events_until_closing(request, sub, allowed):
                if ev is REVOKED:
                    yield sse("revoked", {})
                    return
                if ev is None:
                    yield ": ping\n\n"
                    continue
                yield sse(ev.kind, i18n.shown_job(ev.data, lang) if ev.kind == "job"
                          else ev.data, ev.seq)

    return sse_response(stream())

