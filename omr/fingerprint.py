"""A sheet's fingerprint: what the voter put in the boxes, coarse enough to survive a re-scan.

A foreign form has no serial printed on it, so a sheet fed twice must be recognised by its
image. Every copy of a blank is printed the same; what differs is the voter's ink. So the
fingerprint is taken on the registered boxes (page millimetres, not image pixels): for each box
holding ink, the ink's shape on a `CELLS` x `CELLS` grid over the box (a cell is set when at
least `CELL_SHARE` of it is ink). A re-scan registers the same strokes within a fraction of a
millimetre; two voters who ticked the same boxes still drew different ticks.

Text form: ``fp2:<box>:<hex>;<box>:<hex>;…`` (boxes in layout order); "" when no box holds ink
(a blank sheet counts for nothing, fed twice or not). `distance` compares two of them.
"""

from __future__ import annotations

import cv2
import numpy as np

CELLS = 12
CELL_SHARE = 0.4
PREFIX = "fp2:"
#: two fingerprints at most this far apart (`distance`) are taken as the same sheet. Measured
#: (tests/test_foreign_product.py): a re-scan (another angle within 2 degrees, scale +-2%, blur,
#: JPEG 70) is at most 0.08 from the first scan; the same choices ticked by another hand with
#: only the simulator's 3% jitter at least 0.15 (a person's ticks differ far more). A false
#: match loses a vote, a missed one counts a sheet twice: the line sits nearer the re-scans
SAME_SHEET_MAX_DISTANCE = 0.11


def fingerprint(ink_masks: dict[int, np.ndarray]) -> str:
    """The fingerprint of a page from the ink masks (bool (h, w) per box index) of its boxes
    holding ink."""
    parts = []
    for index in sorted(ink_masks):
        bits = _cells(ink_masks[index])
        if bits.any():
            value = int("".join("1" if b else "0" for b in bits.ravel()), 2)
            parts.append(f"{index}:{value:0{CELLS * CELLS // 4}x}")
    return PREFIX + ";".join(parts) if parts else ""


def _cells(mask: np.ndarray) -> np.ndarray:
    """(CELLS, CELLS) bool: the cells of `mask` at least CELL_SHARE ink."""
    share = cv2.resize(mask.astype(np.float32), (CELLS, CELLS), interpolation=cv2.INTER_AREA)
    return share >= CELL_SHARE


def _parse(text: str) -> dict[int, int]:
    if not text.startswith(PREFIX):
        return {}
    out = {}
    for part in text[len(PREFIX):].split(";"):
        if part:
            box, value = part.split(":")
            out[int(box)] = int(value, 16)
    return out


def distance(a: str, b: str) -> float:
    """0 (same ink) .. 1 (nothing shared): the share of inked cells, over both sheets' inked
    boxes, set in one but not the other; a box inked on one sheet only counts all its cells.
    1.0 when either sheet has no ink (a blank sheet matches nothing)."""
    pa, pb = _parse(a), _parse(b)
    if not pa or not pb:
        return 1.0
    differ = union = 0
    for box in set(pa) | set(pb):
        x, y = pa.get(box, 0), pb.get(box, 0)
        differ += bin(x ^ y).count("1")
        union += bin(x | y).count("1")
    return differ / union if union else 1.0


def same_sheet(a: str, b: str) -> bool:
    """Do two fingerprints come from the same sheet (fed twice)?"""
    return distance(a, b) <= SAME_SHEET_MAX_DISTANCE
