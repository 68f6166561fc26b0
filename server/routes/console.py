"""The operator console: meetings, their figures, ballots to print, batches, hall links, reports."""

from __future__ import annotations

import shutil
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from server import auth, i18n, reports
from server.fields import Name, Text
from server.intake import Job
from server.routes.common import Id, meeting_or_404, render, store_of
from server.uploads import UploadRefused, display_name, stage_uploads
from tally import accounts
from tally.accounts import Identity
from tally.db import Batch
from tally.formupload import MAX_FORM_FILE_BYTES, UploadedFile, uploaded_forms
from tally.ledger import meeting_ledger
from tally.meetings import (
    ALL_CATEGORIES,
    FormText,
    MeetingError,
    create_meeting,
    list_meetings,
    meeting_forms,
    meeting_specs,
    update_meeting,
)
from tally.results import meeting_results
from tally.review.queue import review_queue

router = APIRouter(include_in_schema=False)
UPLOADS_DIRNAME = "uploads"


def parse_counts(text: str | None, what: str) -> dict[str, int] | None:
    """'leader=10,middle=30' (or one number for forms without categories) -> a dict; None for
    an empty field."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.isdigit():
        return {ALL_CATEGORIES: int(text)}
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit() or not key.strip():
            raise MeetingError("{what} {text!r}: write category=count pairs, e.g. "
                               "leader=10,middle=30,staff=60 (or one number)",
                               what=what, text=text)
        out[key.strip()] = int(value)
    return out


def parse_int(text: str | None, what: str) -> int | None:
    if text is None or not text.strip():
        return None
    if not text.strip().isdigit():
        raise MeetingError("{what} {text!r} must be a whole number ≥ 0", what=what, text=text)
    return int(text.strip())


def parse_issued(text: str | None) -> tuple[int | None, dict[str, int] | None]:
    """发出: one number for the meeting, or form=count pairs (one 发出 per form)."""
    if text is None or not text.strip() or text.strip().isdigit():
        return parse_int(text, "发出 / issued"), None
    return None, parse_counts(text, "发出 / issued")


async def read_specs(files: list[UploadFile], max_spec_bytes: int) -> list[FormText]:
    forms = []
    for f in files:
        if not f.filename and not f.size:
            continue
        data = await f.read(max_spec_bytes + 1)
        name = f.filename or "spec.yaml"
        if len(data) > max_spec_bytes:
            raise MeetingError("{name}: a form spec is a small YAML file (at most {kib} KiB, "
                               "max_spec_bytes)", name=name, kib=max_spec_bytes // 1024)
        try:
            forms.append(FormText(data.decode("utf-8"), name))
        except UnicodeDecodeError:
            raise MeetingError("{name}: not a UTF-8 text file; save the spec as UTF-8 YAML",
                               name=name) from None
    return forms


async def read_form_files(files: list[UploadFile] | None) -> list[UploadedFile]:
    """The files of learned forms' folders uploaded beside their specs."""
    out = []
    for f in files or []:
        if not f.filename and not f.size:
            continue
        data = await f.read(MAX_FORM_FILE_BYTES + 1)
        out.append(UploadedFile(display_name(f.filename, "file"), data))
    return out


@router.get("/")
def home(request: Request, who: Identity = Depends(auth.viewer)) -> Response:
    with store_of(request).session(readonly=True) as s:
        meetings = [(m, list(meeting_forms(s, m.id).values())) for m in list_meetings(s)]
    return render(request, "home.html", meetings=meetings, error=None, values={})


@router.post("/meetings")
async def create_meeting_page(
    request: Request,
    name: Annotated[Name, Form(max_length=120)],
    forms: Annotated[list[UploadFile], File()],
    expected: Annotated[Text, Form(max_length=500)] = "",
    present: Annotated[Text, Form(max_length=500)] = "",
    issued: Annotated[Text, Form(max_length=20)] = "",
    form_files: Annotated[list[UploadFile] | None, File()] = None,
    who: Identity = Depends(auth.operator),
) -> Response:
    """Create a meeting from uploaded form specs (a learned form's with the files of its
    folder: targets.json, reference image); errors come back on the form."""
    values = {"name": name, "expected": expected, "present": present, "issued": issued}
    try:
        texts = await read_specs(forms, request.app.state.settings.limits.max_spec_bytes)
        files = await read_form_files(form_files)
        with uploaded_forms(texts, files) as ready:
            m = create_meeting(store_of(request), name=name, forms=ready, actor=who.username,
                               expected=parse_counts(expected, "应到 / expected"),
                               present=parse_counts(present, "实到 / present"),
                               issued=parse_int(issued, "发出 / issued"))
    except MeetingError as exc:
        with store_of(request).session(readonly=True) as s:
            meetings = [(m, list(meeting_forms(s, m.id).values())) for m in list_meetings(s)]
        return render(request, "home.html", status_code=400, meetings=meetings,
                      error=i18n.shown_error_text(exc, i18n.lang_of(request)), values=values)
    return RedirectResponse(f"/meetings/{m.id}", status_code=303)


def meeting_context(request: Request, meeting_id: Id) -> dict[str, object]:
    m = meeting_or_404(request, meeting_id)
    store = store_of(request)
    results = meeting_results(store, meeting_id)
    with store.session(readonly=True) as s:
        open_items = len(review_queue(s, meeting_id))
        specs = meeting_specs(s, meeting_id)
        ledger = meeting_ledger(s, meeting_id)
    # in the specs' order (the order printed on the sheets), each category once
    categories = list({c.id: c.label for sp in specs.values() if sp.categories
                       for c in sp.categories.options}.items())
    with store.session(readonly=True) as s:  # the select keeps the stack's category
        last_category = s.scalars(select(Batch.category).where(Batch.meeting_id == meeting_id)
                                  .order_by(Batch.id.desc()).limit(1)).first()
    intake = request.app.state.intake
    jobs = sorted(intake.jobs(meeting_id), key=lambda j: j.started_at, reverse=True)
    return {"m": m, "results": results, "open_items": open_items, "categories": categories,
            "ledger": ledger, "last_category": last_category,
            "jobs": [j.view() for j in jobs],
            "jobs_json": [i18n.shown_job(j.view().model_dump(mode="json"), i18n.lang_of(request))
                          for j in jobs],
            "tokens": accounts.display_tokens(store, meeting_id),
            "new_hall_url": None}


@router.get("/meetings/{meeting_id}")
def meeting_page(request: Request, meeting_id: Id,
                 who: Identity = Depends(auth.viewer)) -> Response:
    return render(request, "meeting.html", **meeting_context(request, meeting_id))


@router.get("/meetings/{meeting_id}/live.json")
def live_json(request: Request, meeting_id: Id,
              who: Identity = Depends(auth.viewer)) -> JSONResponse:
    """The figures the meeting page's live refresh (console.js) shows: each form's result with
    its notices and row labels in the reader's language (`i18n.shown_result`)."""
    meeting_or_404(request, meeting_id)
    lang = i18n.lang_of(request)
    return JSONResponse([i18n.shown_result(f.result, lang).model_dump(mode="json", by_alias=True)
                         for f in meeting_results(store_of(request), meeting_id).forms])


@router.post("/meetings/{meeting_id}/facts")
def update_facts(request: Request, meeting_id: Id,
                 expected: Annotated[Text, Form(max_length=500)] = "",
                 present: Annotated[Text, Form(max_length=500)] = "",
                 issued: Annotated[Text, Form(max_length=20)] = "",
                 who: Identity = Depends(auth.operator)) -> Response:
    """Record 应到 / 实到 / 发出 (one number, or per form: form=count,…), logged in the
    meeting's audit chain."""
    meeting_or_404(request, meeting_id)
    total, per_form = parse_issued(issued)
    update_meeting(store_of(request), meeting_id, actor=who.username,
                   expected=parse_counts(expected, "应到 / expected"),
                   present=parse_counts(present, "实到 / present"),
                   issued=total, issued_by_form=per_form)
    request.app.state.bus.publish(meeting_id, "meeting", {"by": who.username})
    return RedirectResponse(f"/meetings/{meeting_id}", status_code=303)


@router.post("/meetings/{meeting_id}/forms/{form_id}/ballots")
def print_ballots(request: Request, meeting_id: Id, form_id: str,
                  copies: Annotated[int, Form(ge=1, le=reports.MAX_COPIES)] = 1,
                  test_deck: Annotated[bool, Form()] = False,
                  who: Identity = Depends(auth.operator)) -> Response:
    """The ballots PDF; real sheets' random serials are recorded as the printed set."""
    meeting_or_404(request, meeting_id)
    d = reports.ballots_pdf(store_of(request), meeting_id, form_id, copies,
                            actor=who.username, test_deck=test_deck)
    return Response(d.content, media_type=d.media_type,
                    headers={"Content-Disposition": d.disposition()})


def start_upload_job(request: Request, meeting_id: Id, files: list[UploadFile],
                     category: str | None, who: Identity) -> Job:
    """Check and stage the uploads, then start reading them; refused → nothing stored."""
    meeting_or_404(request, meeting_id)
    store = store_of(request)
    staging = store.data_dir / UPLOADS_DIRNAME / uuid.uuid4().hex
    try:
        staged = stage_uploads([(f.filename or "", f.file) for f in files], staging,
                               request.app.state.settings.limits)
        return request.app.state.intake.start_upload(  # type: ignore[no-any-return]
            meeting_id, staged, staging, operator=who.username, category=category or None)
    except (UploadRefused, MeetingError):
        shutil.rmtree(staging, ignore_errors=True)
        raise


@router.post("/meetings/{meeting_id}/batches")
def upload_batch(request: Request, meeting_id: Id,
                 files: Annotated[list[UploadFile], File()],
                 category: Annotated[Name, Form(max_length=40)] = "",
                 who: Identity = Depends(auth.operator)) -> Response:
    job = start_upload_job(request, meeting_id, files, category, who)
    return RedirectResponse(f"/meetings/{meeting_id}?job={job.id}#jobs", status_code=303)


@router.post("/meetings/{meeting_id}/device")
def device_batch(request: Request, meeting_id: Id,
                 uri: Annotated[Text, Form(min_length=1, max_length=300)],
                 category: Annotated[Name, Form(max_length=40)] = "",
                 who: Identity = Depends(auth.operator)) -> Response:
    """Acquire from a scanner in the background (intake.devices.open_source)."""
    meeting_or_404(request, meeting_id)
    job = request.app.state.intake.start_device(meeting_id, uri.strip(), operator=who.username,
                                                category=category or None)
    return RedirectResponse(f"/meetings/{meeting_id}?job={job.id}#jobs", status_code=303)


@router.post("/meetings/{meeting_id}/jobs/{job_id}/stop")
def stop_job(request: Request, meeting_id: Id, job_id: str,
             who: Identity = Depends(auth.operator)) -> Response:
    job = request.app.state.intake.job(job_id)
    if job is None or job.meeting_id != meeting_id:
        raise HTTPException(404, f"no job {job_id} in this meeting")
    job.stop.set()
    return RedirectResponse(f"/meetings/{meeting_id}#jobs", status_code=303)


@router.post("/meetings/{meeting_id}/tokens")
def new_display_token(request: Request, meeting_id: Id,
                      label: Annotated[Name, Form(max_length=80)] = "",
                      who: Identity = Depends(auth.operator)) -> Response:
    """A hall link for this meeting; the token is shown once, on the page this returns."""
    meeting_or_404(request, meeting_id)
    token, _row = accounts.create_display_token(store_of(request), meeting_id,
                                                actor=who.username, label=label)
    context = meeting_context(request, meeting_id)
    context["new_hall_url"] = str(request.base_url).rstrip("/") + \
        f"/hall/{meeting_id}?token={token}"
    return render(request, "meeting.html", **context)


@router.post("/meetings/{meeting_id}/tokens/{token_id}/revoke")
def revoke_display_token(request: Request, meeting_id: Id, token_id: Id,
                         who: Identity = Depends(auth.operator)) -> Response:
    meeting_or_404(request, meeting_id)
    accounts.revoke_display_token(store_of(request), meeting_id, token_id, actor=who.username)
    return RedirectResponse(f"/meetings/{meeting_id}#hall", status_code=303)


@router.get("/meetings/{meeting_id}/report.{fmt}")
def download_report(request: Request, meeting_id: Id, fmt: reports.ReportFormat,
                    form: str | None = None, who: Identity = Depends(auth.viewer)) -> Response:
    """The analysis report of one form (default: the first): pdf, xlsx or csv (a ZIP)."""
    meeting_or_404(request, meeting_id)
    d = reports.report(store_of(request), meeting_id, fmt, form_id=form,
                       operator=who.display_name or who.username,
                       station=request.app.state.settings.station)
    return Response(d.content, media_type=d.media_type,
                    headers={"Content-Disposition": d.disposition()})


@router.post("/meetings/{meeting_id}/official")
def go_official_page(request: Request, meeting_id: Id,
                     why: Annotated[Text, Form(min_length=1, max_length=500)],
                     who: Identity = Depends(auth.admin)) -> Response:
    """End the test phase (测试模式): the meeting's test data is cleared, logged with who and why
    (`tally.testmode.go_official`); refused while a batch is still being fed."""
    from tally.testmode import go_official

    meeting_or_404(request, meeting_id)
    go_official(store_of(request), meeting_id, actor=who.username, why=why)
    request.app.state.bus.publish(meeting_id, "meeting", {"by": who.username})
    return RedirectResponse(f"/meetings/{meeting_id}", status_code=303)
