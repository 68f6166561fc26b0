"""Put a voter's plan on paper: each mark's strokes, in its pen's ink, on the blank raster.

`mark_sheet(paper_grey, page_layout, plan, dpi, rng)` returns the marked paper (RGB uint8), the
truth of every box of the page, and per box the strongest voter ink (0..1) inside its rect:
the check that truth and pixels agree (an `empty` box holds no voter ink at all). A vote that
comes out lighter than `CLEAR_MIN_DARKNESS` is drawn again harder, a faint mark is scaled to
`FAINT_DARKNESS` (barely visible): no mark is left in the band where a person could not say.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from omr.handsim import marks as mk
from omr.handsim.pens import PENS, Pen
from omr.handsim.strokes import InkPatch, rasterize
from omr.handsim.voters import MarkPlan, SheetPlan

MM_PER_INCH = 25.4
#: a vote's ink (99th percentile inside its box) darkens the paper at least this much (0..1)
CLEAR_MIN_DARKNESS = 0.22
#: a faint mark's strongest ink darkens the paper this much (a range, drawn per mark)
FAINT_DARKNESS = (0.04, 0.11)
#: a vote leaves at least this much ink area inside its box (mm^2 of half-covered pixels)
CLEAR_MIN_AREA_MM2 = 0.8
#: voter ink below this coverage is no ink (the truth check's zero)
NO_INK = 1e-3
#: room kept free before a neighbouring box (mm): votes, and cancellations running past
VOTE_GAP_MM = 0.6
CANCEL_GAP_MM = 0.4
#: a box with no neighbour on a side may be overrun this far (mm)
OPEN_SIDE_MM = 6.0
ATTEMPTS = 6

Box = tuple[str, str]


@dataclass
class MarkedPage:
    rgb: np.ndarray  # (H, W, 3) uint8, or (H, W) for a grey scan
    truth: dict[str, dict[str, str]]
    ink_in_box: dict[Box, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _cells(boxes: list[dict], gap_mm: float) -> dict[Box, mk.Cell]:
    """Per box, how far a mark may reach before the next box's rect (less `gap_mm`)."""
    r = np.array([b["rect_mm"] for b in boxes], dtype=float)
    x0, y0, x1, y1 = r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]
    out: dict[Box, mk.Cell] = {}
    for i, b in enumerate(boxes):
        # boxes near the same row (or column), diagonal neighbours included: conservative
        rows = (y0 < y1[i] + OPEN_SIDE_MM) & (y1 > y0[i] - OPEN_SIDE_MM)
        cols = (x0 < x1[i] + OPEN_SIDE_MM) & (x1 > x0[i] - OPEN_SIDE_MM)
        left = x1[(x1 <= x0[i]) & rows]
        right = x0[(x0 >= x1[i]) & rows]
        up = y1[(y1 <= y0[i]) & cols]
        down = y0[(y0 >= y1[i]) & cols]
        out[(b["field"], b["option"])] = (
            (left.max() + gap_mm) if len(left) else x0[i] - OPEN_SIDE_MM,
            (up.max() + gap_mm) if len(up) else y0[i] - OPEN_SIDE_MM,
            (right.min() - gap_mm) if len(right) else x1[i] + OPEN_SIDE_MM,
            (down.min() - gap_mm) if len(down) else y1[i] + OPEN_SIDE_MM,
        )
    return out


class _Canvas:
    """The sheet being marked: RGB paper and the voter ink found in every box."""

    def __init__(self, paper_grey: np.ndarray, boxes: list[dict], dpi: float, colour: bool
                 ) -> None:
        # a grey scan sees only the inks' luma: mark a grey sheet then (3x less work)
        self.rgb = np.repeat(paper_grey[:, :, None], 3, axis=2) if colour else paper_grey.copy()
        self.dpi = dpi
        self.k = dpi / MM_PER_INCH
        self.keys = [(b["field"], b["option"]) for b in boxes]
        r = np.array([b["rect_mm"] for b in boxes], dtype=float) * self.k
        # whole pixels whose centre lies inside the rect
        self.rect_px = np.stack([np.ceil(r[:, 0] - 0.5), np.ceil(r[:, 1] - 0.5),
                                 np.floor(r[:, 0] + r[:, 2] - 0.5) + 1,
                                 np.floor(r[:, 1] + r[:, 3] - 0.5) + 1], axis=1).astype(int)
        self.ink = dict.fromkeys(self.keys, 0.0)

    def ink_per_box(self, patch: InkPatch) -> dict[Box, float]:
        """The strongest coverage of `patch` inside each box rect it reaches."""
        h, w = patch.alpha.shape
        px0, py0 = patch.x0_px, patch.y0_px
        r = self.rect_px
        ax0, ay0 = np.maximum(r[:, 0], px0), np.maximum(r[:, 1], py0)
        ax1, ay1 = np.minimum(r[:, 2], px0 + w), np.minimum(r[:, 3], py0 + h)
        out: dict[Box, float] = {}
        for i in np.nonzero((ax1 > ax0) & (ay1 > ay0))[0]:
            v = float(patch.alpha[ay0[i] - py0:ay1[i] - py0, ax0[i] - px0:ax1[i] - px0].max())
            if v > NO_INK:
                out[self.keys[i]] = v
        return out

    def box_alpha(self, patch: InkPatch, key: Box) -> np.ndarray:
        x0, y0, x1, y1 = self.rect_px[self.keys.index(key)]
        h, w = patch.alpha.shape
        ax0, ay0 = max(x0, patch.x0_px), max(y0, patch.y0_px)
        ax1, ay1 = min(x1, patch.x0_px + w), min(y1, patch.y0_px + h)
        if ax1 <= ax0 or ay1 <= ay0:
            return np.zeros(0, np.float32)
        return patch.alpha[ay0 - patch.y0_px:ay1 - patch.y0_px,
                           ax0 - patch.x0_px:ax1 - patch.x0_px].ravel()

    def lay(self, patch: InkPatch, pen: Pen) -> None:
        h, w = patch.alpha.shape
        y0, x0 = patch.y0_px, patch.x0_px
        region = self.rgb[y0:y0 + h, x0:x0 + w].astype(np.float32)
        if region.ndim == 3:
            region *= 1.0 - patch.alpha[:, :, None] * (1.0 - np.asarray(pen.ink_rgb, np.float32))
        else:
            region *= 1.0 - patch.alpha * np.float32(pen.darkness(1.0))
        self.rgb[y0:y0 + h, x0:x0 + w] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        for key, v in self.ink_per_box(patch).items():
            self.ink[key] = max(self.ink[key], v)


def _paths(m: MarkPlan, rect: mk.Rect, vote_cell: mk.Cell, cancel_cell: mk.Cell, pen: Pen,
           hand: mk.Hand, rng: np.random.Generator) -> list[mk.Path]:
    shape = m.shape.removeprefix("faint-")
    if shape == "fill":
        past = rng.uniform(0.0, 0.6) if rng.random() < 0.35 else 0.0
        paths = mk.fill(rect, hand, rng, pen.width_mm, past_mm=past)
        return mk.fit_cell(paths, rect, vote_cell, pen.width_mm)
    if shape in mk.VOTE_SHAPES:
        paths = mk.VOTE_SHAPES[shape](rect, hand, rng)
        return mk.fit_cell(paths, rect, vote_cell, pen.width_mm)
    if shape == "scribble-out":
        under = mk.fit_cell(mk.tick(rect, hand, rng), rect, vote_cell, pen.width_mm)
        return under + mk.fit_cell(mk.scribble_out(rect, cancel_cell, hand, rng, pen.width_mm),
                                   rect, cancel_cell, pen.width_mm)
    if shape == "hatch-tick":
        under = mk.fit_cell(mk.tick(rect, hand, rng), rect, vote_cell, pen.width_mm)
        return under + mk.fit_cell(mk.hatch(rect, cancel_cell, hand, rng), rect, cancel_cell,
                                   pen.width_mm)
    if shape == "fill-scribble-out":
        under = mk.fill(rect, hand, rng, pen.width_mm)
        return under + mk.fit_cell(mk.scribble_out(rect, cancel_cell, hand, rng, pen.width_mm),
                                   rect, cancel_cell, pen.width_mm)
    raise ValueError(f"unknown mark shape {m.shape!r}")


def _draw(canvas: _Canvas, paths: list[mk.Path], pen: Pen, force: float,
          rng: np.random.Generator) -> InkPatch | None:
    strokes = [pen.stroke(p, pr, force, rng) for p, pr in paths]
    soft_px = max(1.0, pen.bleed_mm * canvas.k * 2)
    patch = rasterize(strokes, canvas.dpi, canvas.rgb.shape[:2], soft_px=soft_px)
    if patch is not None:
        patch.alpha = pen.texture(patch.alpha, rng)
    return patch


def _intrudes(canvas: _Canvas, patch: InkPatch, own: Box | None) -> bool:
    return any(key != own for key in canvas.ink_per_box(patch))


def mark_sheet(paper_grey: np.ndarray, page_layout: dict, fields: list[dict], plan: SheetPlan,
               dpi: float, rng: np.random.Generator, *, colour: bool = True) -> MarkedPage:
    """Draw `plan` on the blank page raster; see the module docstring. The marked page is
    RGB (H, W, 3) when `colour`, else grey (H, W) as a grey scanner sees the inks."""
    boxes = page_layout["boxes"]
    canvas = _Canvas(paper_grey, boxes, dpi, colour)
    rects = {(b["field"], b["option"]): tuple(b["rect_mm"]) for b in boxes}
    vote_cells = _cells(boxes, VOTE_GAP_MM)
    cancel_cells = _cells(boxes, CANCEL_GAP_MM)
    hand = mk.Hand.draw(rng)
    truth = {f["id"]: dict.fromkeys(f["options"], "empty") for f in fields}
    notes: list[str] = []
    for m in sorted(plan.marks, key=lambda m: (m.truth == "cancel", m.order)):
        key = (m.field, m.option)
        pen = PENS[m.pen]
        force = m.force
        for _ in range(ATTEMPTS):
            paths = _paths(m, rects[key], vote_cells[key], cancel_cells[key], pen, hand, rng)
            patch = _draw(canvas, paths, pen, force, rng)
            if patch is None or _intrudes(canvas, patch, key):
                continue
            inside = canvas.box_alpha(patch, key)
            if not len(inside):
                continue
            if m.truth == "faint":
                target = rng.uniform(*FAINT_DARKNESS)
                patch.alpha *= np.float32(target / max(pen.darkness(float(inside.max())), 1e-6))
                break
            dark = pen.darkness(float(np.percentile(inside, 99)))
            area = float((inside > 0.5).sum()) / canvas.k ** 2
            if dark >= CLEAR_MIN_DARKNESS and area >= CLEAR_MIN_AREA_MM2:
                break
            force *= 1.35
        else:
            notes.append(f"{m.field}/{m.option}: {m.shape} could not be drawn; left out")
            continue
        canvas.lay(patch, pen)
        truth[m.field][m.option] = m.truth
    _strays(canvas, plan, rects, rng, PENS[plan.pens[0]])
    _writeins(canvas, plan, page_layout, rng, PENS[plan.pens[0]])
    return MarkedPage(canvas.rgb, truth, {k: v for k, v in canvas.ink.items() if v > 0}, notes)


def _strays(canvas: _Canvas, plan: SheetPlan, rects: dict[Box, mk.Rect],
            rng: np.random.Generator, pen: Pen) -> None:
    """Dashes and dots just outside a box: they must leave every box rect without ink."""
    for key in plan.strays:
        x, y, w, h = rects[key]
        for attempt in range(3):
            gap = rng.uniform(0.5, 1.6) + pen.width_mm / 2 + 0.3 * attempt
            side = int(rng.integers(4))
            length = rng.uniform(1.0, 3.5) if rng.random() < 0.7 else 0.15
            if side == 0:  # right of the box
                anchor, angle = np.array([x + w + gap + 0.2, y + rng.uniform(0, h)]), 90
            elif side == 1:  # below
                anchor, angle = np.array([x + rng.uniform(0, w), y + h + gap]), 0
            elif side == 2:  # left
                anchor, angle = np.array([x - gap - 0.2, y + rng.uniform(0, h)]), 90
            else:  # above
                anchor, angle = np.array([x + rng.uniform(0, w), y - gap]), 0
            # a dash runs along the side it lies beside, so its ends stay off the box
            paths = mk.dash(anchor, min(length, h if angle == 90 else w), angle +
                            rng.normal(0, 6), rng)
            patch = _draw(canvas, paths, pen, rng.uniform(0.6, 1.1), rng)
            if patch is not None and not _intrudes(canvas, patch, None):
                canvas.lay(patch, pen)
                break


def _writeins(canvas: _Canvas, plan: SheetPlan, page_layout: dict, rng: np.random.Generator,
              pen: Pen) -> None:
    regions = {(r.get("field"), r.get("option")): r["rect_mm"]
               for r in page_layout.get("regions", []) if r["kind"] == "writein"}
    for key in plan.writeins:
        if key in regions:
            patch = _draw(canvas, mk.handwriting(tuple(regions[key]), rng), pen, 1.0, rng)
            if patch is not None and not _intrudes(canvas, patch, None):
                canvas.lay(patch, pen)
