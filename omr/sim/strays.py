"""Stray marks outside the boxes: a signature in a margin, a dot, a pen line across table text.

None of them may touch a mark box (nor the corner marks, the code or a write-in line): a reader
must ignore them, and the truth counts them per page (`stray`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from omr.sim import marks as mk
from omr.sim.marks import Pen, Rect, Surface

BOX_CLEARANCE_MM = 1.5
KINDS = ("signature", "dot", "line")
KIND_P = (0.4, 0.3, 0.3)


def keepouts(boxes: Sequence[Rect], fiducials: Sequence[Rect], code: Rect,
             regions: Sequence[Rect]) -> list[Rect]:
    """Rectangles a stray must keep clear of (boxes get BOX_CLEARANCE_MM on top of its width)."""
    x, y, s, _ = code
    out = list(boxes)
    out += [(f[0] - 2, f[1] - 2, f[2] + 4, f[3] + 4) for f in fiducials]
    out.append((x - 2, y - 2, s + 4, s + 6))  # the code and the serial line under it
    out += [(r[0] - 0.5, r[1] - 0.5, r[2] + 1, r[3] + 1) for r in regions]
    return out


def draw_strays(surface: Surface, count: int, page_mm: tuple[float, float],
                boxes: Sequence[Rect], avoid: Sequence[Rect], pen: Pen,
                rng: np.random.Generator) -> int:
    """Draw up to `count` stray marks; returns how many were placed (each retried if it would
    come near a box or a keep-out)."""
    placed = 0
    margin = BOX_CLEARANCE_MM + pen.width_mm / 2
    for _ in range(count):
        kind = str(rng.choice(KINDS, p=KIND_P))
        for _try in range(25):
            strokes, fills = _shape(kind, page_mm, boxes, avoid, rng)
            if strokes is None:
                break
            if not mk.touches([*strokes, *fills], avoid, margin):
                surface.ink(pen, strokes, fills, rng)
                placed += 1
                break
    return placed


def _shape(kind: str, page_mm: tuple[float, float], boxes: Sequence[Rect],
           avoid: Sequence[Rect], rng: np.random.Generator):
    w, h = page_mm
    if kind == "dot":
        c = np.array([rng.uniform(15, w - 15), rng.uniform(15, h - 15)])
        return [], mk.dot(c, rng)
    if kind == "signature":
        sw, sh = rng.uniform(18, 34), rng.uniform(5, 9)
        bottom = max((r[1] + r[3] for r in avoid if 40 < r[1] < h - 20), default=h / 2) + 5
        if h - 20 - sh - bottom > 0 and rng.random() < 0.8:  # under the last table
            origin = np.array([rng.uniform(20, w - 20 - sw), rng.uniform(bottom, h - 20 - sh)])
            return mk.signature(origin, sw, sh, rng), []
        vertical = rng.random() < 0.5
        origin = np.array([rng.uniform(2, 16), rng.uniform(20, h - 60)]) if vertical else \
            np.array([rng.uniform(20, w - 20 - sw), rng.uniform(12, h - 20)])
        return mk.signature(origin, sw, sh if not vertical else 4, rng, vertical), []
    if not boxes:
        return None, None
    b = boxes[int(rng.integers(len(boxes)))]
    row_left = min(r[0] for r in boxes if abs(r[1] - b[1]) < 1.0)
    x0, x1 = 20.0, row_left - 3.0
    if x1 - x0 < 15:
        return None, None
    length = rng.uniform(15, min(60, x1 - x0))
    start = rng.uniform(x0, x1 - length)
    yc = b[1] + b[3] / 2
    p0 = np.array([start, yc + rng.uniform(-2, 2)])
    p1 = np.array([start + length, yc + rng.uniform(-3, 3)])
    return mk.line(p0, p1, rng), []
