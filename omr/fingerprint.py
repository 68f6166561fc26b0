"""A sheet's fingerprint: what the voter put in the boxes, coarse enough to survive a re-scan.

A foreign form has no serial printed on it, so a sheet fed twice must be recognised by its
image. Every copy of a blank is printed the same; what differs is the voter's ink. So the
fingerprint is taken on the registered boxes (page millimetres, not image pixels): for each box
holding ink, the ink's share of each cell of a `CELLS` x `CELLS` grid over the box (softened
over part of a cell first, kept in `LEVELS` steps). A re-scan registers the same strokes within
a fraction of a millimetre; two voters who ticked the same boxes still drew different ticks.

Text form: ``fp3:<box>:<hex digit per cell>;…`` (boxes in layout order); "" when no box holds
ink (a blank sheet counts for nothing, fed twice or not). `distance` compares two of them.
"""

from __future__ import annotations

import numpy as np

CELLS = 12
#: a cell's ink share is kept in LEVELS steps (one hex digit)
LEVELS = 15
BLUR_CELLS = 0.3
PREFIX = "fp3:"
#: two fingerprints at most this far apart (`distance`) are taken as the same sheet.
#: Measured through registration and reading (tests/test_foreign_product.py): a re-scan
#: (another angle within 2.5 degrees, scale +-3%, blur, noise, JPEG 60) is at most 0.05 from
#: the first scan; the same choices ticked by another simulated hand (only the simulator's 3%
#: jitter: a person's ticks differ far more) at least 0.086. A false match loses a vote, a
#: missed one counts a sheet twice; the line is between them
SAME_SHEET_MAX_DISTANCE = 0.07


#: hex digit (ASCII byte) of each level
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def fingerprint(ink_masks: dict[int, np.ndarray]) -> str:
    """The fingerprint of a page from the ink masks (bool (h, w) per box index) of its boxes
    holding ink."""
    parts = []
    for index in sorted(ink_masks):
        levels = _levels(ink_masks[index])
        if levels.any():
            parts.append(f"{index}:" + _HEX[levels.ravel()].tobytes().decode("ascii"))
    return PREFIX + ";".join(parts) if parts else ""


def _levels(mask: np.ndarray) -> np.ndarray:
    """(CELLS, CELLS) int: the ink share of each cell of `mask`, in 0..LEVELS."""
    import cv2  # not at import: `tally.ingest` compares fingerprints without reading images

    ink = mask.astype(np.float32)
    # softened over half a cell first: a stroke registered a little off moves its shares a
    # little, not from one cell to the next
    sigma = BLUR_CELLS * max(ink.shape) / CELLS
    if sigma > 0:
        ink = cv2.GaussianBlur(ink, (0, 0), sigma)
    share = cv2.resize(ink, (CELLS, CELLS), interpolation=cv2.INTER_AREA)
    return np.clip(np.round(share * LEVELS), 0, LEVELS).astype(int)


def _parse(text: str) -> dict[int, np.ndarray]:
    if not text.startswith(PREFIX):
        return {}
    out = {}
    for part in text[len(PREFIX):].split(";"):
        box, _, digits = part.partition(":")
        if len(digits) == CELLS * CELLS:
            out[int(box)] = np.array([int(c, 16) for c in digits]).reshape(CELLS, CELLS)
    return out


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        a[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def distance(a: str, b: str) -> float:
    """0 (same ink) .. 1 (nothing shared): over both sheets' inked boxes, the ink in one and
    not the other over all the ink (cell shares, each box compared at the best of the shifts
    by up to one cell: registration differs a little between two scans of one sheet); a box
    inked on one sheet only counts all its ink. 1.0 when either sheet has no ink."""
    pa, pb = _parse(a), _parse(b)
    if not pa or not pb:
        return 1.0
    differ = total = 0.0
    zero = np.zeros((CELLS, CELLS), int)
    for box in set(pa) | set(pb):
        x, y = pa.get(box, zero), pb.get(box, zero)
        differ += min(float(np.abs(x - _shifted(y, dy, dx)).sum())
                      for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        total += float(x.sum() + y.sum())
    return differ / total if total else 1.0


def same_sheet(a: str, b: str) -> bool:
    """Do two fingerprints come from the same sheet (fed twice)?"""
    return distance(a, b) <= SAME_SHEET_MAX_DISTANCE
