"""Lines across the page seen only inside boxes: a fold or a streak lined up through a column.

`omr.lines` erases a streak or a fold that crosses a box and goes on outside it. Some scans
show such a line only inside the boxes: a small-window bitonal threshold keeps a fold's faint
shadow black only where the printed border pulls the local mean up, and erases it on the open
paper between. What is left is the same short straight stroke, at one place on the page, in
every box of a column (or a row) the line runs through.

The principle: ink that lies on one straight line, at one place on the page, through three
boxes or more of different rows (a line along the page's height) or of different columns (along
its width), is a line across the page, not a voter's marks - voters' strokes never line up to a
third of a millimetre from row to row. Such a box is no sure mark unless what is left of its ink
besides the line is one by itself; nor is it empty (the ink is visible): a person looks.
`omr.decide` makes it doubtful; a tick crossed by the line stays a mark.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.score import BoxInk, BoxSamples, ScoreSettings, axis_mm

#: width of the band a line is looked for in (mm): a fold's stroke, blurred and a little
#: slanted over a box's height, stays inside it
BAND_MM = 1.0
#: how far beyond the band its line is left out when what else the box holds is measured (mm):
#: the blurred edges of the stroke
EDGE_MM = 0.35
#: share of the measured area's rows (or columns) the band must hold ink in: a straight stroke
#: through the box, not a tick's foot
BAND_COVER = 0.5
#: the stroke must run along the page's axis: its centre may drift this much across it per
#: unit along it (about 5 degrees; a tick's strokes slant far more) ...
MAX_SLOPE = 0.09
#: ... and stay this close to a straight line (mm, root mean square)
MAX_WOBBLE_MM = 0.25
#: how far apart (mm, across the line) the strokes of different boxes may lie to be one line
ALIGN_TOL_MM = 0.35
#: boxes, in different rows (or columns), that one line must run through
MIN_BOXES = 3
#: boxes with more ink than this hold a mark whatever crosses them (`omr.engine`'s lines-only
#: bound)
MAX_FILL = 0.45


@dataclass(frozen=True)
class AlignedLines:
    """Per box: does one line across the page run through it (`aligned`), and the share of its
    measured area that is ink once that line's band is left out (`off_line_fill`)."""

    aligned: np.ndarray
    off_line_fill: np.ndarray


@dataclass(frozen=True)
class _Stroke:
    box: int
    axis: int  # 0: along the page's height (x is fixed), 1: along its width (y is fixed)
    at_mm: float  # the line's page coordinate across it
    other_mm: tuple[float, float]  # the box's extent along the line (to tell rows apart)
    off_fill: float


def aligned_lines(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
                  settings: ScoreSettings) -> AlignedLines:
    """Find lines across the page that show as one straight stroke in `MIN_BOXES` boxes or more.

    `ink.masks` are the boxes' ink masks over their measured areas (`omr.score.box_fill`);
    `rects_mm` the boxes' insides (x, y, w, h, page mm); only boxes with at least `min_fill`
    ink (and at most `MAX_FILL`) are looked at."""
    n = len(ink.fill)
    aligned = np.zeros(n, bool)
    off_fill = np.asarray(ink.fill, np.float64).copy()
    ppm = settings.sample_px_per_mm
    band_px = max(2, round(BAND_MM * ppm))
    edge_px = round(EDGE_MM * ppm)
    wobble_px = MAX_WOBBLE_MM * ppm
    # where each box's best band lies (cheap, all at once); the straightness of what is in it
    # only for boxes whose band lines up with two others
    found: list[tuple[_Stroke, np.ndarray, int]] = []
    for group, (index, masks) in zip(samples.groups, ink.masks, strict=True):
        pick = np.nonzero((ink.fill[index] >= min_fill) & (ink.fill[index] <= MAX_FILL))[0]
        if not len(pick):
            continue
        xs = axis_mm(group.size_mm[0], settings)[group.inner[1]]
        ys = axis_mm(group.size_mm[1], settings)[group.inner[0]]
        chosen = masks[pick]
        for axis, stack, along in ((0, chosen, xs),
                                   (1, np.ascontiguousarray(chosen.transpose(0, 2, 1)), ys)):
            starts, cover = _bands(stack, band_px)
            for k in np.nonzero(cover >= BAND_COVER)[0]:
                box = int(index[pick[k]])
                x, y, w, h = (float(v) for v in rects_mm[box])
                centre_mm = float(along[starts[k]:starts[k] + band_px].mean())
                at, extent = (x + centre_mm, (y, y + h)) if axis == 0 else (y + centre_mm,
                                                                             (x, x + w))
                found.append((_Stroke(box, axis, at, extent, 0.0), stack[k], int(starts[k])))
    candidates = [(s, m, st) for s, m, st in found if _partners(s, [f[0] for f in found])]
    strokes = []
    for stroke, mask, start in candidates:
        rest = _straight_rest(mask, start, band_px, edge_px, wobble_px)
        if rest is not None:
            strokes.append(_Stroke(stroke.box, stroke.axis, stroke.at_mm, stroke.other_mm, rest))
    for stroke in strokes:
        if _partners(stroke, strokes):
            aligned[stroke.box] = True
            off_fill[stroke.box] = min(off_fill[stroke.box], stroke.off_fill)
    return AlignedLines(aligned, off_fill)


def note_aligned_lines(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
                       settings: ScoreSettings) -> None:
    """Set `ink.aligned_line` and `ink.off_line_fill` from `aligned_lines`."""
    found = aligned_lines(ink, samples, rects_mm, min_fill, settings)
    ink.aligned_line, ink.off_line_fill = found.aligned, found.off_line_fill


def _partners(stroke: _Stroke, strokes: list[_Stroke]) -> bool:
    """Do `MIN_BOXES` - 1 other boxes, in other rows (or columns), hold a stroke at the same
    place across the same axis?"""
    others = {s.box for s in strokes
              if s.axis == stroke.axis and s.box != stroke.box
              and abs(s.at_mm - stroke.at_mm) <= ALIGN_TOL_MM
              and not _overlap(s.other_mm, stroke.other_mm)}
    return len(others) + 1 >= MIN_BOXES


def _bands(masks: np.ndarray, band_px: int) -> tuple[np.ndarray, np.ndarray]:
    """For each mask of (N, rows, cols): the first column of the band of `band_px` columns that
    holds ink in the most rows, and the share of rows it holds ink in."""
    n, rows, cols = masks.shape
    if cols <= band_px or rows == 0:
        return np.zeros(n, int), np.zeros(n)
    flat = np.ascontiguousarray(masks).reshape(n * rows, cols).view(np.uint8)
    # a running OR over band_px columns: ink anywhere in [c, c + band_px)
    spread = cv2.dilate(flat, np.ones((1, band_px), np.uint8), anchor=(0, 0),
                        borderType=cv2.BORDER_CONSTANT, borderValue=0)
    covered = spread.reshape(n, rows, cols).sum(1)[:, :cols - band_px + 1]
    starts = covered.argmax(1)
    return starts, covered[np.arange(n), starts] / rows


def _straight_rest(mask: np.ndarray, start: int, band_px: int, edge_px: int,
                   wobble_px: float) -> float | None:
    """When the ink in the band from column `start` (`band_px` wide, `edge_px` more either side)
    runs straight down it (`MAX_SLOPE`, `wobble_px`): the fill of `mask` without that band;
    else None."""
    lo, hi = max(0, start - edge_px), start + band_px + edge_px
    band = mask[:, lo:hi]
    rows_in = np.nonzero(band.any(axis=1))[0]
    if len(rows_in) < 2:
        return None
    cols = np.arange(band.shape[1], dtype=np.float64)
    centres = (band[rows_in] * cols).sum(axis=1) / band[rows_in].sum(axis=1)
    r = rows_in.astype(np.float64) - rows_in.mean()
    slope = float((r * (centres - centres.mean())).sum() / (r * r).sum())
    wobble = float(np.sqrt(np.mean((centres - centres.mean() - slope * r) ** 2)))
    if abs(slope) > MAX_SLOPE or wobble > wobble_px:
        return None
    rest = mask.copy()
    rest[:, lo:hi] = False
    return float(rest.mean())


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Do two extents overlap (the same row, or the same column, of boxes)?"""
    return a[0] < b[1] and b[0] < a[1]
