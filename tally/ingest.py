"""Ingest: store a page's image and reading together, count each printed sheet page once.

`ingest_page(store, batch, reading, image)` is the one path every caller takes (the CLI, the
web console, the kill -9 test). For one page it
1. checks the reading against the meeting (another meeting's form, another version of the
   form, fields the layout does not have → `refused`, nothing written);
2. writes the image to the content-addressed store, durably, BEFORE any row names it;
3. in one transaction inserts the page row and its audit entry. The unique constraints decide
   what counts: an image already stored (same SHA-256) is reported `already` and nothing is
   added; a second image of a sheet page already counted (same form, serial, page) is kept as a
   `duplicate` row pointing at the original and never counted. A lost race between stations is
   an IntegrityError, and the transaction is re-run (`Store.write`) to decide again.
A crash at any point leaves either nothing or an orphan image file (harmless, collected by
`ImageStore.collect_garbage`); re-ingesting the same files is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from forms.text import TextError, clean_name, clean_text, find_control
from tally import audit
from tally.db import Batch, Meeting, Page, PrintedSerial, utc_now
from tally.images import sha256_hex
from tally.meetings import MeetingError, categories_of, meeting_forms, meeting_specs
from tally.model import PageStatus
from tally.store import Store

Outcome = Literal["ok", "review", "unreadable", "unknown_serial", "blank", "duplicate",
                  "already", "refused"]
STATUSES: tuple[PageStatus, ...] = ("ok", "review", "unreadable", "unknown_form", "blank")
#: reading statuses whose page can count (given a form, page and serial)
COUNTABLE = ("ok", "review", "blank")


class IngestRefused(ValueError):
    """A page that must not enter this meeting; the message names it and says what to do."""


@dataclass(frozen=True)
class IngestResult:
    source: str
    outcome: Outcome
    message: str = ""
    page_id: int | None = None
    duplicate_of: int | None = None
    form_id: str | None = None
    page_no: int | None = None
    serial: str | None = None

    @property
    def counted(self) -> bool:
        return self.outcome in ("ok", "review")

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "outcome": self.outcome, "message": self.message,
                "page_id": self.page_id, "duplicate_of": self.duplicate_of,
                "form": self.form_id, "page": self.page_no, "serial": self.serial}


@dataclass(frozen=True)
class FormCheck:
    """What a reading of one form must agree with: its layout hash, pages and fields."""

    layout_hash: str
    pages: int
    #: field id -> (page, options)
    fields: dict[str, tuple[int, frozenset[str]]]


@dataclass(frozen=True)
class BatchContext:
    """An open batch: everything `ingest_page` needs to know about the meeting, read once."""

    meeting_id: int
    meeting_name: str
    batch_id: int
    actor: str
    forms: dict[str, FormCheck]
    #: the printed serial set was recorded when the batch opened (for the `unknown_serial` flag)
    serials_recorded: bool


def open_batch(store: Store, meeting_id: int, *, station: str = "", device: str = "",
               operator: str = "", category: str | None = None) -> BatchContext:
    """Start a batch (a stack fed at a station); `category` when assigned per batch."""
    with store.session(readonly=True) as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise MeetingError(f"no meeting #{meeting_id}")
        name, serials_recorded = m.name, m.serials_recorded
        forms = {fid: FormCheck(f.layout_hash, len(f.layout["pages"]),
                                {x["id"]: (x["page"], frozenset(x["options"]))
                                 for x in f.layout["fields"]})
                 for fid, f in meeting_forms(s, meeting_id).items()}
        cats = categories_of(meeting_specs(s, meeting_id).values())
    if category is not None and category not in cats:
        raise MeetingError(f"--category {category!r} is not a voter category of meeting "
                           f"{name!r}; use one of {', '.join(sorted(cats)) or '(none)'}")
    try:  # typed by people (CLI options, API fields): no NUL, NFC, no invisible characters
        station, device, operator = clean_name(station), clean_text(device), clean_name(operator)
    except TextError as exc:
        raise MeetingError(f"the batch's station, device or operator {exc}") from None
    actor = operator or station or "ingest"

    def work(s: Session) -> int:
        b = Batch(meeting_id=meeting_id, station=station, device=device, operator=operator,
                  category=category)
        s.add(b)
        s.flush()
        audit.record(s, "batch", b, actor, "batch.open")
        return b.id

    return BatchContext(meeting_id, name, store.write(work), actor, forms, serials_recorded)


def close_batch(store: Store, batch: BatchContext) -> None:
    def work(s: Session) -> None:
        b = s.get(Batch, batch.batch_id)
        assert b is not None
        b.ended_at = utc_now()
        s.flush()
        audit.record(s, "batch", b, batch.actor, "batch.close")

    store.write(work)


def as_reading_dict(reading: Any) -> tuple[dict[str, Any], list[list[float]] | None]:
    """A reading as its JSON dict plus the page's registration (3x3, page mm -> image px) when
    known, from omr's `Reading`, a dict (a "page_to_image" key is taken out) or JSON text."""
    matrix = None
    if hasattr(reading, "to_dict"):
        matrix = getattr(reading, "page_to_image", None)
        reading = reading.to_dict()
    if isinstance(reading, str | bytes):
        try:
            reading = json.loads(reading)
        except ValueError as exc:
            raise IngestRefused(f"a reading must be JSON: {exc}") from None
    if not isinstance(reading, Mapping):
        raise IngestRefused(f"a reading must be a JSON object, not {type(reading).__name__}")
    data = dict(reading)
    matrix = data.pop("page_to_image", matrix)
    if matrix is not None:
        try:
            matrix = [[float(v) for v in row] for row in matrix]
        except (TypeError, ValueError):
            raise IngestRefused("page_to_image must be a 3x3 matrix of numbers") from None
        if len(matrix) != 3 or any(len(row) != 3 for row in matrix):
            raise IngestRefused("page_to_image must be a 3x3 matrix of numbers")
    return data, matrix


def check_reading(batch: BatchContext, reading: dict[str, Any]) -> None:
    """Refuse a reading that does not belong to this meeting or does not fit its layout."""
    source = str(reading.get("source") or "(no source)")
    bad = find_control(reading)
    if bad is not None:  # PostgreSQL cannot store a NUL; no reading needs a control character
        raise IngestRefused(f"{source!r}: the reading's {'.'.join(map(str, bad))} holds a NUL "
                            "or another control character; fix the station's output")
    status = reading.get("status")
    if status not in STATUSES:
        detail = f" ({reading['reason']})" if reading.get("reason") else ""
        raise IngestRefused(f"{source}: not a Scantally reading: status {status!r} is not one "
                            f"of {', '.join(STATUSES)}{detail}")
    form = reading.get("form")
    if form is None:
        if status in ("ok", "review"):
            raise IngestRefused(f"{source}: a reading with status {status!r} must name its form")
        return
    check = batch.forms.get(form)
    if check is None:
        raise IngestRefused(
            f"{source}: this sheet is form {form!r}, which is not a form of meeting "
            f"{batch.meeting_name!r} (its forms: {', '.join(sorted(batch.forms))}); take it "
            "out of the stack, or ingest it into the meeting it belongs to")
    if status == "unknown_form":  # the engine knows the form id but not this printing of it
        raise IngestRefused(
            f"{source}: {reading.get('reason') or 'not a sheet of this meeting'}; it is not a "
            f"sheet of meeting {batch.meeting_name!r} — take it out of the stack")
    printed_hash = reading.get("layout_hash")
    if printed_hash and not check.layout_hash.startswith(str(printed_hash)):
        raise IngestRefused(
            f"{source}: this sheet of form {form!r} was printed from another version of the form "
            f"(layout {str(printed_hash)[:12]}, meeting {batch.meeting_name!r} has "
            f"{check.layout_hash[:12]}); it belongs to another meeting — take it out")
    page = reading.get("page")
    if status in COUNTABLE and not (isinstance(page, int) and 1 <= page <= check.pages):
        raise IngestRefused(f"{source}: page {page!r} is not a page of form {form!r} "
                            f"(1-{check.pages})")
    serial = reading.get("serial")
    if serial is not None and not (isinstance(serial, str) and 0 < len(serial) <= 16):
        raise IngestRefused(f"{source}: serial {serial!r} is not a sheet serial")
    marks = reading.get("marks") or {}
    if not isinstance(marks, Mapping):
        raise IngestRefused(f"{source}: 'marks' must be an object of fields")
    for field, value in marks.items():
        where = check.fields.get(field)
        if where is None or (isinstance(page, int) and where[0] != page):
            raise IngestRefused(f"{source}: field {field!r} is not on page {page} of form "
                                f"{form!r} in meeting {batch.meeting_name!r}; the reading was "
                                "made with another layout — re-read it with this meeting's forms")
        if not isinstance(value, Mapping):
            raise IngestRefused(f"{source}: marks of field {field!r} must be an object")
        for key in ("marked", "doubtful"):
            bad = set(value.get(key) or ()) - where[1]
            if bad:
                raise IngestRefused(f"{source}: field {field!r} of form {form!r} has no option "
                                    f"{sorted(bad)[0]!r}; re-read it with this meeting's forms")


def _count_key(reading: dict[str, Any]) -> str | None:
    form, page, serial = reading.get("form"), reading.get("page"), reading.get("serial")
    if reading["status"] in COUNTABLE and form and page and serial:
        return f"{form}|{serial}|{page}"
    return None


def _already(existing: Page, source: str) -> IngestResult:
    return IngestResult(source, "already",
                        f"the same image as page #{existing.id} ({existing.source}), already "
                        "stored; not counted again", existing.id, existing.id,
                        existing.form_id, existing.page_no, existing.serial)


def ingest_page(store: Store, batch: BatchContext, reading: Any,
                image: bytes | None) -> IngestResult:
    """Store one page (see the module docstring). Never raises for a bad page: it comes back
    `refused` with the reason."""
    try:
        data, page_to_image = as_reading_dict(reading)
        image_ref = data.pop("image", None)
        check_reading(batch, data)
    except IngestRefused as exc:
        source = reading.get("source", "") if isinstance(reading, Mapping) else ""
        return IngestResult(str(source), "refused", str(exc))
    source = str(data.get("source") or "")[:500]
    if not image:
        missing = f" (image file {image_ref} not found or empty)" if image_ref else ""
        return IngestResult(source, "refused", f"{source}: no image came with this reading"
                            f"{missing}, so it cannot be kept for recount; re-scan the sheet")
    digest = sha256_hex(image)
    if store.images.path(digest).exists():  # stored before: skip the write if its row is there
        with store.session(readonly=True) as s:
            existing = s.scalars(select(Page).where(Page.meeting_id == batch.meeting_id,
                                                    Page.sha256 == digest)).first()
        if existing is not None:
            return _already(existing, source)
    store.images.put(image)
    key = _count_key(data)
    same_image_or_sheet = Page.sha256 == digest if key is None else or_(
        Page.sha256 == digest, Page.count_key == key)

    def work(s: Session) -> IngestResult:
        hits = s.scalars(select(Page).where(Page.meeting_id == batch.meeting_id,
                                            same_image_or_sheet)).all()
        same = next((p for p in hits if p.sha256 == digest), None)
        if same is not None:
            return _already(same, source)
        original = next((p for p in hits if key is not None and p.count_key == key), None)
        state = "duplicate" if original else ("counted" if key else "uncounted")
        page = Page(meeting_id=batch.meeting_id, batch_id=batch.batch_id, sha256=digest,
                    image_bytes=len(image), source=source, form_id=data.get("form"),
                    page_no=data.get("page"), serial=data.get("serial"), status=data["status"],
                    reason=str(data.get("reason") or ""), reading=data,
                    page_to_image=page_to_image, state=state,
                    count_key=key if state == "counted" else None,
                    duplicate_of=original.id if original else None)
        s.add(page)
        s.flush()
        audit.record(s, "page", page, batch.actor, "page.ingest")
        outcome, message = _outcome(s, batch, page, original)
        return IngestResult(source, outcome, message, page.id, page.duplicate_of, page.form_id,
                            page.page_no, page.serial)

    return store.write(work)


def _outcome(s: Session, batch: BatchContext, page: Page,
             original: Page | None) -> tuple[Outcome, str]:
    if original is not None:
        return "duplicate", (f"sheet {page.serial} page {page.page_no} was already read "
                             f"(page #{original.id}, {original.source}); kept as a duplicate, "
                             "not counted again")
    if page.state == "uncounted":
        if page.status == "blank":
            return "blank", "a blank page (no sheet code); not counted"
        return "unreadable", (f"{page.reason or page.status}; re-feed this sheet"
                              if page.status != "unknown_form" else
                              f"not a sheet of this meeting ({page.reason or 'no form code'}); "
                              "take it out of the stack or re-feed it")
    if batch.serials_recorded and s.get(PrintedSerial, (batch.meeting_id, page.serial)) is None:
        return "unknown_serial", (f"serial {page.serial} was not printed for this meeting "
                                  "(a forged sheet or another meeting's?); held for review, "
                                  "not counted until a reviewer accepts it")
    if page.status == "review":
        return "review", page.reason or "doubtful marks; see `scantally review`"
    return "ok", ""


def iter_readings_file(path: str | Path) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    """Pre-computed readings (JSON lines), each with `"image": "<file>"` relative to the file's
    folder: the (reading, image bytes) pairs to ingest without re-reading."""
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                reading = json.loads(line)
            except ValueError as exc:
                yield {"source": f"{p}:{n}", "status": None, "reason": f"bad JSON: {exc}"}, None
                continue
            image_path = reading.get("image") if isinstance(reading, dict) else None
            data = None
            if image_path:
                try:
                    data = (p.parent / image_path).read_bytes()
                except OSError:
                    data = None
            if isinstance(reading, dict):
                reading.setdefault("source", image_path or f"{p}:{n}")
            yield reading, data
