"""Ingest: store a page's image and reading together, count each printed sheet page once.

`ingest_page(store, batch, reading, image)` is the one path every caller takes (the CLI, the
web console, the kill -9 test). For one page it
1. checks the reading against the meeting (another meeting's form, another version of the
   form, fields the layout does not have → `refused`, nothing written);
2. writes the image to the content-addressed store, durably, BEFORE any row names it;
3. in one transaction inserts the page row and its audit entry (a page that read but breaks a
   rule of the meeting, such as a serial printed for another form, is kept as `refused`, with
   its code and reason, so the ledger shows it). The unique constraints decide
   what counts: an image already stored (same SHA-256) is reported `already` and nothing is
   added; a second image of a sheet page already counted (same form, serial, page) is kept as a
   `duplicate` row pointing at the original and never counted. A lost race between stations is
   an IntegrityError, and the transaction is re-run (`Store.write`) to decide again.
A crash at any point leaves either nothing or an orphan image file (harmless, collected by
`ImageStore.collect_garbage`); re-ingesting the same files is idempotent. A test-deck sheet
(`tally.testmode`) fed to an official meeting is stored uncounted and comes back `refused`
with reason code `test_sheet`: it never counts, and the meeting's pages show it was fed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from forms.text import TextError, clean_name, clean_text, find_control
from omr.reading import STATUSES, Reading, ReasonCode, Status
from tally import audit
from tally.db import Batch, Meeting, Page, PrintedSerial, utc_now
from tally.fingerprints import note_fingerprint, same_sheet_page
from tally.formstore import meeting_layouts, meeting_specs
from tally.images import sha256_hex
from tally.meetings import MeetingError, categories_of
from tally.store import Store
from tally.testmode import is_test_mode, is_test_serial, refusal_reason

Outcome = Literal["ok", "review", "unreadable", "unknown_serial", "blank", "duplicate",
                  "already", "refused"]
#: reading statuses whose page can count (given a form, page and serial)
COUNTABLE = (Status.OK, Status.REVIEW, Status.BLANK)


@dataclass(frozen=True)
class Refusal:
    """Why ingest keeps a page that read but must not count (stored as a `refused` page, so it
    stays in the meeting's ledger with its image): a code for programs, a sentence for people."""

    code: str
    sentence: str


#: a printed serial of another form of the meeting on this sheet
SERIAL_OTHER_FORM = "serial_other_form"


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
    name, serials_recorded, forms, cats = _meeting_context(store, meeting_id)
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


def _meeting_context(store: Store, meeting_id: int
                     ) -> tuple[str, bool, dict[str, FormCheck], set[str]]:
    """What a batch needs to know of its meeting: name, serials recorded, forms, categories."""
    with store.session(readonly=True) as s:
        m = s.get(Meeting, meeting_id)
        if m is None:
            raise MeetingError(f"no meeting #{meeting_id}")
        forms = {fid: FormCheck(lay.hash, len(lay.pages),
                                {x.id: (x.page, frozenset(x.options)) for x in lay.fields})
                 for fid, lay in meeting_layouts(s, meeting_id).items()}
        return m.name, m.serials_recorded, forms, categories_of(
            meeting_specs(s, meeting_id).values())


def reopen_batch(store: Store, batch_id: int) -> BatchContext:
    """The context of a batch opened before (a job taken up again after a restart), to go on
    ingesting into it; MeetingError when there is no such batch or it is closed already."""
    with store.session(readonly=True) as s:
        b = s.get(Batch, batch_id)
        if b is None or b.ended_at is not None:
            raise MeetingError(f"batch #{batch_id} does not exist or is closed")
        meeting_id, actor = b.meeting_id, b.operator or b.station or "ingest"
    name, serials_recorded, forms, _cats = _meeting_context(store, meeting_id)
    return BatchContext(meeting_id, name, batch_id, actor, forms, serials_recorded)


def close_batch(store: Store, batch: BatchContext) -> None:
    def work(s: Session) -> None:
        b = s.get(Batch, batch.batch_id)
        assert b is not None
        b.ended_at = utc_now()
        s.flush()
        audit.record(s, "batch", b, batch.actor, "batch.close")

    store.write(work)


@dataclass(frozen=True)
class ReadingIn:
    """A reading that came from outside as JSON (a station's API call, a readings file),
    parsed once, here at the edge: the `Reading`, and the layout hash its sheet code printed
    (when the station sent one)."""

    reading: Reading
    layout_hash: str | None = None


def parse_reading(doc: object) -> ReadingIn:
    """A reading JSON object (or its text), as it came from outside, not trusted in any way ->
    `ReadingIn`, the one place it is parsed; IngestRefused when malformed.
    A `"page_to_image"` key (3x3, page mm -> image px) is taken as the page's registration."""
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise IngestRefused(f"a reading must be JSON: {exc}") from None
    if not isinstance(doc, Mapping):
        raise IngestRefused(f"a reading must be a JSON object, not {type(doc).__name__}")
    source = str(doc.get("source") or "(no source)")
    bad = find_control(doc)
    if bad is not None:  # PostgreSQL cannot store a NUL; no reading needs a control character
        raise IngestRefused(f"{source!r}: the reading's {'.'.join(map(str, bad))} holds a NUL "
                            "or another control character; fix the station's output")
    status = doc.get("status")
    if status not in STATUSES:
        detail = f" ({doc['reason']})" if doc.get("reason") else ""
        raise IngestRefused(f"{source}: not a Scantally reading: status {status!r} is not one "
                            f"of {', '.join(STATUSES)}{detail}")
    marks = doc.get("marks") or {}
    if not isinstance(marks, Mapping) or not all(isinstance(v, Mapping) for v in marks.values()):
        raise IngestRefused(f"{source}: 'marks' must be an object of fields, each an object")
    try:
        reading = Reading.from_dict(dict(doc))
    except ValueError as exc:
        raise IngestRefused(f"{source}: {exc}") from None
    matrix = doc.get("page_to_image")
    if matrix is not None:
        try:
            grid = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError):
            grid = None
        if grid is None or grid.shape != (3, 3):
            raise IngestRefused("page_to_image must be a 3x3 matrix of numbers")
        reading.page_to_image = grid
    printed = doc.get("layout_hash")
    return ReadingIn(reading, str(printed) if printed else None)


def check_reading(batch: BatchContext, reading: Reading,
                  printed_hash: str | None = None) -> None:
    """Refuse a reading that does not belong to this meeting or does not fit its layout."""
    source = reading.source or "(no source)"
    status, form = reading.status, reading.form
    if form is None:
        if status in (Status.OK, Status.REVIEW):
            raise IngestRefused(f"{source}: a reading with status {status!r} must name its form")
        return
    check = batch.forms.get(form)
    if check is None:
        raise IngestRefused(
            f"{source}: this sheet is form {form!r}, which is not a form of meeting "
            f"{batch.meeting_name!r} (its forms: {', '.join(sorted(batch.forms))}); take it "
            "out of the stack, or ingest it into the meeting it belongs to")
    if status == Status.UNKNOWN_FORM:  # the engine knows the form id but not this printing
        raise IngestRefused(
            f"{source}: {reading.reason or 'not a sheet of this meeting'}; it is not a "
            f"sheet of meeting {batch.meeting_name!r} — take it out of the stack")
    if printed_hash and not check.layout_hash.startswith(printed_hash):
        raise IngestRefused(
            f"{source}: this sheet of form {form!r} was printed from another version of the form "
            f"(layout {printed_hash[:12]}, meeting {batch.meeting_name!r} has "
            f"{check.layout_hash[:12]}); it belongs to another meeting — take it out")
    page = reading.page
    if status in COUNTABLE and not (isinstance(page, int) and 1 <= page <= check.pages):
        raise IngestRefused(f"{source}: page {page!r} is not a page of form {form!r} "
                            f"(1-{check.pages})")
    serial = reading.serial
    if serial is not None and not (isinstance(serial, str) and 0 < len(serial) <= 16):
        raise IngestRefused(f"{source}: serial {serial!r} is not a sheet serial")
    for field, value in reading.marks.items():
        where = check.fields.get(field)
        if where is None or (isinstance(page, int) and where[0] != page):
            raise IngestRefused(f"{source}: field {field!r} is not on page {page} of form "
                                f"{form!r} in meeting {batch.meeting_name!r}; the reading was "
                                "made with another layout — re-read it with this meeting's forms")
        for options in (value.marked, value.doubtful):
            bad = set(options) - where[1]
            if bad:
                raise IngestRefused(f"{source}: field {field!r} of form {form!r} has no option "
                                    f"{sorted(bad)[0]!r}; re-read it with this meeting's forms")


def _count_key(reading: Reading) -> str | None:
    form, page, serial = reading.form, reading.page, reading.serial
    if reading.status in COUNTABLE and form and page and serial:
        return f"{form}|{serial}|{page}"
    return None


def _already(existing: Page, source: str) -> IngestResult:
    return IngestResult(source, "already",
                        f"the same image as page #{existing.id} ({existing.source}), already "
                        "stored; not counted again", existing.id, existing.id,
                        existing.form_id, existing.page_no, existing.serial)


def ingest_json(store: Store, batch: BatchContext, doc: object, image: bytes | None, *,
                image_ref: str | None = None) -> IngestResult:
    """`ingest_page` for a reading that came as JSON (`parse_reading`); a malformed one comes
    back `refused`. `image_ref` names the image file a readings file gave, for the message."""
    try:
        given = parse_reading(doc)
    except IngestRefused as exc:
        source = doc.get("source", "") if isinstance(doc, Mapping) else ""
        return IngestResult(str(source), "refused", str(exc))
    return ingest_page(store, batch, given.reading, image, printed_hash=given.layout_hash,
                       image_ref=image_ref)


def ingest_page(store: Store, batch: BatchContext, reading: Reading, image: bytes | None, *,
                printed_hash: str | None = None, image_ref: str | None = None) -> IngestResult:
    """Store one page (see the module docstring). Never raises for a bad page: it comes back
    `refused` with the reason. `printed_hash`: the layout hash the sheet's code printed."""
    try:
        check_reading(batch, reading, printed_hash)
    except IngestRefused as exc:
        return IngestResult(reading.source, "refused", str(exc))
    source = reading.source[:500]
    if not image:
        missing = f" (image file {image_ref} not found or empty)" if image_ref else ""
        return IngestResult(source, "refused", f"{source}: no image came with this reading"
                            f"{missing}, so it cannot be kept for recount; re-scan the sheet")
    data = reading.to_dict()
    page_to_image = (None if reading.page_to_image is None else
                     [[float(v) for v in row] for row in reading.page_to_image])
    digest = sha256_hex(image)
    if store.images.path(digest).exists():  # stored before: skip the write if its row is there
        with store.session(readonly=True) as s:
            existing = s.scalars(select(Page).where(Page.meeting_id == batch.meeting_id,
                                                    Page.sha256 == digest)).first()
        if existing is not None:
            return _already(existing, source)
    store.images.put(image)
    counted_key = _count_key(reading)

    def work(s: Session) -> IngestResult:
        if s.get(Batch, batch.batch_id) is None:  # cleared when the meeting went official
            return IngestResult(source, "refused", f"{source}: batch #{batch.batch_id} no "
                                "longer exists (meeting "
                                f"{batch.meeting_name!r} went official and its test batches "
                                "were cleared); feed the stack again as a new batch")
        # a test-deck sheet in an official meeting is kept uncounted, refused (read here, in
        # the transaction: the meeting may have gone official since the batch opened)
        test_sheet = is_test_serial(reading.serial) and not is_test_mode(s, batch.meeting_id)
        key = None if test_sheet else counted_key
        same_image_or_sheet = Page.sha256 == digest if key is None else or_(
            Page.sha256 == digest, Page.count_key == key)
        hits = s.scalars(select(Page).where(Page.meeting_id == batch.meeting_id,
                                            same_image_or_sheet)).all()
        same = next((p for p in hits if p.sha256 == digest), None)
        if same is not None:
            return _already(same, source)
        original = next((p for p in hits if key is not None and p.count_key == key), None)
        if original is None and key is not None:  # no printed serial: the same ink?
            original = same_sheet_page(s, batch.meeting_id, reading)
        state = "duplicate" if original else ("counted" if key else "uncounted")
        refusal = _refusal(s, batch, reading) if state == "counted" else None
        if refusal is not None:
            state = "refused"
        status = str(reading.status)
        reason, doc = (refusal.sentence if refusal else reading.reason), data
        if test_sheet:
            status, reason = str(Status.UNREADABLE), refusal_reason(str(reading.serial),
                                                                     batch.meeting_name)
            doc = {**data, "status": status, "reason": reason,
                   "reason_code": str(ReasonCode.TEST_SHEET)}
        page = Page(meeting_id=batch.meeting_id, batch_id=batch.batch_id, sha256=digest,
                    image_bytes=len(image), source=source, form_id=reading.form,
                    page_no=reading.page, serial=reading.serial, status=status,
                    reason=reason, reading=doc,
                    page_to_image=page_to_image, state=state,
                    count_key=key if state == "counted" else None,
                    duplicate_of=original.id if original else None,
                    refusal=refusal.code if refusal else None)
        s.add(page)
        s.flush()
        note_fingerprint(s, page, reading)
        audit.record(s, "page", page, batch.actor, "page.ingest")
        if test_sheet:
            return IngestResult(source, "refused", f"{source}: {reason}", page.id, None,
                                page.form_id, page.page_no, page.serial)
        outcome, message = _outcome(s, batch, page, original)
        return IngestResult(source, outcome, message, page.id, page.duplicate_of, page.form_id,
                            page.page_no, page.serial)

    return store.write(work)


def _refusal(s: Session, batch: BatchContext, reading: Reading) -> Refusal | None:
    """A page that read and would count, refused by a rule of the meeting (kept, not counted)."""
    if batch.serials_recorded and reading.serial:
        printed = s.get(PrintedSerial, (batch.meeting_id, reading.serial))
        if printed is not None and printed.form_id not in (None, reading.form):
            return Refusal(SERIAL_OTHER_FORM,
                           f"serial {reading.serial} was printed on form {printed.form_id!r}, "
                           f"but this is a sheet of form {reading.form!r}: a copied or misprinted "
                           "sheet; not counted — set it aside for the team, or dismiss it with "
                           "a reason")
    return None


def _outcome(s: Session, batch: BatchContext, page: Page,
             original: Page | None) -> tuple[Outcome, str]:
    if page.state == "refused":
        return "refused", page.reason
    if original is not None and original.serial != page.serial:
        return "duplicate", (f"the same sheet as page #{original.id} ({original.source}): the "
                             "same ink, re-scanned (no serial on the sheet); kept as a "
                             "duplicate, not counted again")
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


def iter_readings_file(path: str | Path) -> Iterator[tuple[object, bytes | None, str | None]]:
    """Pre-computed readings (JSON lines), each with `"image": "<file>"` relative to the file's
    folder: (reading JSON, image bytes, image file named) to `ingest_json` without re-reading."""
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as exc:
                yield {"source": f"{p}:{n}", "status": None, "reason": f"bad JSON: {exc}"}, None, \
                    None
                continue
            image_path = doc.pop("image", None) if isinstance(doc, dict) else None
            data = None
            if image_path:
                try:
                    data = (p.parent / image_path).read_bytes()
                except OSError:
                    data = None
            if isinstance(doc, dict):
                doc.setdefault("source", image_path or f"{p}:{n}")
            yield doc, data, (str(image_path) if image_path else None)
