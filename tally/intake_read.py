"""What the intake pipeline does to one page: the part that runs in the OMR worker processes.

- `read_encoded(task, layouts)`: a page's encoded bytes (JPEG/PNG/TIFF as the scanner sent them)
  -> decoded here with `scanner.images.decode_bytes` -> `omr.engine.read_page` -> a `Reading`.
  A page that cannot be decoded is an `unreadable` reading with the decoder's reason.
- `card_reading(bitmap, layout, page, ...)`: a card reader's mark bitmap mapped through the form's
  reader grid (`hardware.grid.bitmap_to_marks`) into the same reading JSON, and `bitmap_png` its
  picture (kept as the page's image: one 8 px cell per grid cell, the cell's centre pixel black
  for a mark, so the bitmap can be recovered from the stored image).

Imports no database code: a worker process loads only omr, scanner and hardware.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hardware.grid import bitmap_to_marks, card_serial, gridded_boxes, serial_code_cells
from omr.engine import read_page
from omr.reading import FieldMarks, Reading, failed
from scanner.images import decode_bytes

#: pixels per reader-grid cell in a card's stored picture
CELL_PX = 8
#: most cells named in a "marks outside the boxes" reason
MAX_CELLS_NAMED = 6


@dataclass(frozen=True)
class PageTask:
    """One page for a worker: its label and encoded bytes; `error` set when the page is known
    to be undecodable (the bytes, if any, are only kept as evidence)."""

    source: str
    data: bytes | None
    dpi: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class PageRead:
    """A worker's answer: the reading and the seconds spent decoding and reading."""

    reading: Reading
    seconds: float


def read_encoded(task: PageTask, layouts: dict[str, dict]) -> PageRead:
    """Decode `task.data` and read its (first) page; never raises for bad content."""
    start = time.perf_counter()
    if task.error is not None or not task.data:
        reason = task.error or "the device delivered no image for this page; re-scan the sheet"
        return PageRead(failed(task.source, "unreadable", reason), time.perf_counter() - start)
    try:
        pages = decode_bytes(task.data, task.source)
        page = pages[0]
        if page.image is None:
            reading = failed(task.source, "unreadable", page.error or "cannot be decoded")
        else:
            reading = read_page(page.image, layouts, source=task.source,
                                dpi=page.dpi or task.dpi)
    except Exception as exc:  # one page's engine error stays that page's
        reading = failed(task.source, "unreadable",
                         f"internal error: {type(exc).__name__}: {exc}; report it")
    return PageRead(reading, time.perf_counter() - start)


# -- the worker processes ---------------------------------------------------------------------

#: the layouts of the meeting, set once per worker process by `init_worker`
_worker_layouts: dict[str, dict] | None = None


def init_worker(layouts: dict[str, dict]) -> None:
    """Pool initializer: keep the layouts; one OpenCV thread (one process per core already)."""
    global _worker_layouts
    _worker_layouts = layouts
    cv2.setNumThreads(1)


def ping() -> int:
    """A no-op task that makes the pool start its worker processes."""
    return os.getpid()


def read_in_worker(task: PageTask) -> PageRead:
    """The pool's task: `read_encoded` with the layouts this worker was started with."""
    assert _worker_layouts is not None, "init_worker was not run in this process"
    return read_encoded(task, _worker_layouts)


# -- card readers -----------------------------------------------------------------------------

def card_form(layouts: Mapping[str, dict], wanted: str | None = None) -> tuple[str, int]:
    """(form id, page) of the meeting's form a card reader reads: the one whose layout places
    boxes in a reader grid. ValueError when there is none, or several and `wanted` is None."""
    gridded = {fid: p["page"] for fid, lay in layouts.items() for p in lay["pages"]
               if any("grid" in b for b in p["boxes"])}
    if wanted is not None:
        if wanted not in gridded:
            raise ValueError(f"form {wanted!r} is not a card-reader form of this meeting "
                             f"(card-reader forms: {', '.join(sorted(gridded)) or 'none'})")
        return wanted, gridded[wanted]
    if not gridded:
        raise ValueError("no form of this meeting is laid out for a card reader (a form with "
                         "timing_track: true); scan its sheets with an image scanner instead")
    if len(gridded) > 1:
        raise ValueError(f"several forms of this meeting suit a card reader "
                         f"({', '.join(sorted(gridded))}); say which one this stack is")
    return next(iter(gridded.items()))


def card_reading(bitmap: np.ndarray, layout: Mapping[str, Any], page: int, *, source: str,
                 serial: str) -> Reading:
    """The reading of one card: `ok` (or `blank` with no mark), `review` when marks fall outside
    every box (a stray mark, or another card type) or its printed serial code does not decode,
    `unreadable` when the grid does not fit.

    Its serial is the one printed in its code cells (`hardware.grid.card_serial`) when the
    layout prints one, so a card fed twice is the same sheet; else (no code, or a code that does
    not decode) `serial`, the batch-and-sequence name the caller gives."""
    form_id = str(layout["form"]["id"])
    who: dict[str, Any] = {"form": form_id, "page": page, "serial": serial}
    cells = np.asarray(bitmap).astype(bool)
    page_layout = next(p for p in layout["pages"] if p["page"] == page)
    timing = len(page_layout.get("timing_mm") or [])
    if cells.ndim == 2 and timing and cells.shape[0] != timing:
        return failed(source, "unreadable",
                      f"the reader counted {cells.shape[0]} timing marks, but form {form_id!r} "
                      f"has {timing}; check the card is this form and its edge is clean, then "
                      "re-feed it", **who)
    try:
        found = bitmap_to_marks(cells, layout, page)
        code_cells = serial_code_cells(layout, page)
        printed = card_serial(cells, layout, page) if code_cells else None
    except ValueError as exc:
        return failed(source, "unreadable", f"{exc}; re-feed the card", **who)
    if printed is not None:
        who["serial"] = printed
    boxes = gridded_boxes(layout, page)
    known = {(row, col) for _, _, row, col in boxes} | set(code_cells)
    stray = [(int(r), int(c)) for r, c in np.argwhere(cells) if (int(r), int(c)) not in known]
    marks = {f: FieldMarks(list(m["marked"]), []) for f, m in found.items()}
    scores: dict[str, dict[str, float]] = {}
    for field, option, row, col in boxes:
        scores.setdefault(field, {})[option] = 1.0 if cells[row, col] else 0.0
    if stray:
        named = ", ".join(f"[{r}, {c}]" for r, c in stray[:MAX_CELLS_NAMED])
        more = f" and {len(stray) - MAX_CELLS_NAMED} more" if len(stray) > MAX_CELLS_NAMED else ""
        status, reason = "review", (f"{len(stray)} mark(s) outside the form's boxes at reader "
                                    f"cell(s) {named}{more}: a stray mark, or not this card type")
    elif code_cells and printed is None:
        status, reason = "review", (
            f"the card's printed serial code does not read (a mark or a smudge in the 卡号编码 "
            f"area?); it is held as {serial}: check it was not fed before, then accept it")
    elif not any(m.marked for m in marks.values()):
        status, reason = "blank", "no marks"
    else:
        status, reason = "ok", ""
    return Reading(source, status, reason, **who, marks=marks, scores=scores)


def bitmap_png(bitmap: np.ndarray, identity: Mapping[str, str]) -> bytes:
    """A card's picture: white cells, black marked cells, a light grid between them; `identity`
    (device, sequence, serial, ...) goes in PNG text chunks, so two cards with the same marks
    are two different images (the store keeps one file per distinct image)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    cells = np.asarray(bitmap).astype(bool)
    picture = np.where(np.kron(cells, np.ones((CELL_PX, CELL_PX), bool)), 0, 255).astype(np.uint8)
    picture[::CELL_PX, :] = np.minimum(picture[::CELL_PX, :], 200)
    picture[:, ::CELL_PX] = np.minimum(picture[:, ::CELL_PX], 200)
    info = PngInfo()
    for key, value in identity.items():
        info.add_text(f"scantally.{key}", str(value))
    out = io.BytesIO()
    Image.fromarray(picture, "L").save(out, "PNG", pnginfo=info)
    return out.getvalue()


def card_identity(data: bytes) -> dict[str, str] | None:
    """The identity `bitmap_png` wrote into a card's picture (device, batch, sequence, serial,
    form), or None when `data` is not such a picture (a scanned image)."""
    from PIL import Image, UnidentifiedImageError

    if not data.startswith(b"\x89PNG"):
        return None
    try:
        with Image.open(io.BytesIO(data)) as picture:
            text = dict(getattr(picture, "text", {}) or {})
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    identity = {k.removeprefix("scantally."): str(v) for k, v in text.items()
                if k.startswith("scantally.")}
    return identity if {"form", "serial"} <= identity.keys() else None


def bitmap_from_png(data: bytes) -> np.ndarray:
    """The bitmap back from `bitmap_png`'s picture (for recount and tests)."""
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if picture is None:
        raise ValueError("not a PNG picture of a card")
    half = CELL_PX // 2
    return picture[half::CELL_PX, half::CELL_PX] < 128
