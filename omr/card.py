"""Read an OMR card reader's mark bitmap: `read_card(bitmap, layout, page, ...) -> Reading`.

A card reader sends no image, only rows x columns of booleans (True = mark). `read_card` maps
them through the form's reader grid (`omr.grid`) into the same `Reading` an image gives, so
every reading of Scantally comes from this package. `card_picture` draws the bitmap as the
page's stored image (one `CELL_PX` cell per grid cell, its centre pixel black for a mark, the
card's identity in PNG text chunks) and `bitmap_from_picture` / `card_identity` read it back
(for recount). Pure: no files, no devices, no database.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from omr.grid import bitmap_to_marks, card_serial, gridded_boxes, serial_code_cells
from omr.layout import FormLayout, Layouts
from omr.reading import FieldMarks, Reading, ReasonCode, Status, failed

#: pixels per reader-grid cell in a card's stored picture
CELL_PX = 8
#: most cells named in a "marks outside the boxes" reason
MAX_CELLS_NAMED = 6


def card_form(layouts: Layouts,
              wanted: str | None = None) -> tuple[str, int]:
    """(form id, page) of the meeting's form a card reader reads: the one whose layout places
    boxes in a reader grid. ValueError when there is none, or several and `wanted` is None."""
    gridded = {fid: n for fid, lay in layouts.items() for n, p in lay.pages.items()
               if any(b.grid is not None for b in p.boxes)}
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


def read_card(bitmap: np.ndarray, layout: FormLayout, page: int, *, source: str,
              serial: str) -> Reading:
    """The reading of one card: `ok` (or `blank` with no mark), `review` when marks fall outside
    every box (a stray mark, or another card type) or its printed serial code does not decode,
    `unreadable` when the grid does not fit.

    Its serial is the one printed in its code cells (`omr.grid.card_serial`) when the layout
    prints one, so a card fed twice is the same sheet; else (no code, or a code that does not
    decode) `serial`, the batch-and-sequence name the caller gives."""
    form_id = layout.id
    who: dict[str, Any] = {"form": form_id, "page": page, "serial": serial}
    cells = np.asarray(bitmap).astype(bool)
    timing = len(layout.pages[page].doc.timing_mm)
    if cells.ndim == 2 and timing and cells.shape[0] != timing:
        return failed(source, Status.UNREADABLE,
                      f"the reader counted {cells.shape[0]} timing marks, but form {form_id!r} "
                      f"has {timing}; check the card is this form and its edge is clean, then "
                      "re-feed it", code=ReasonCode.CARD_TIMING, **who)
    try:
        found = bitmap_to_marks(cells, layout, page)
        code_cells = serial_code_cells(layout, page)
        printed = card_serial(cells, layout, page) if code_cells else None
    except ValueError as exc:
        return failed(source, Status.UNREADABLE, f"{exc}; re-feed the card",
                      code=ReasonCode.CARD_GRID, **who)
    if printed is not None:
        who["serial"] = printed
    boxes = gridded_boxes(layout, page)
    known = {(row, col) for _, _, row, col in boxes} | set(code_cells)
    stray = [(int(r), int(c)) for r, c in np.argwhere(cells) if (int(r), int(c)) not in known]
    marks = {f: FieldMarks(list(m["marked"]), []) for f, m in found.items()}
    scores: dict[str, dict[str, float]] = {}
    for field, option, row, col in boxes:
        scores.setdefault(field, {})[option] = 1.0 if cells[row, col] else 0.0
    code: ReasonCode | None = None
    if stray:
        named = ", ".join(f"[{r}, {c}]" for r, c in stray[:MAX_CELLS_NAMED])
        more = f" and {len(stray) - MAX_CELLS_NAMED} more" if len(stray) > MAX_CELLS_NAMED else ""
        status, reason = Status.REVIEW, (f"{len(stray)} mark(s) outside the form's boxes at "
                                         f"reader cell(s) {named}{more}: a stray mark, or not "
                                         "this card type")
        code = ReasonCode.CARD_STRAY_MARKS
    elif code_cells and printed is None:
        status, reason = Status.REVIEW, (
            f"the card's printed serial code does not read (a mark or a smudge in the 卡号编码 "
            f"area?); it is held as {serial}: check it was not fed before, then accept it")
        code = ReasonCode.CARD_CODE_UNREADABLE
    elif not any(m.marked for m in marks.values()):
        status, reason = Status.BLANK, "no marks"
    else:
        status, reason = Status.OK, ""
    return Reading(source, status, reason, **who, marks=marks, scores=scores, reason_code=code)


def card_picture(bitmap: np.ndarray, identity: Mapping[str, str]) -> bytes:
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
    """The identity `card_picture` wrote into a card's picture (device, batch, sequence, serial,
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


def bitmap_from_picture(data: bytes) -> np.ndarray:
    """The bitmap back from `card_picture`'s picture (for recount and tests)."""
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if picture is None:
        raise ValueError("not a PNG picture of a card")
    half = CELL_PX // 2
    return picture[half::CELL_PX, half::CELL_PX] < 128
