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
    strokes: list[_Stroke] = []
    for group, (index, masks) in zip(samples.groups, ink.masks, strict=True):
        xs = axis_mm(group.size_mm[0], settings)[group.inner[1]]
        ys = axis_mm(group.size_mm[1], settings)[group.inner[0]]
        for j in np.nonzero((ink.fill[index] >= min_fill) & (ink.fill[index] <= MAX_FILL))[0]:
            box = int(index[j])
            x, y, w, h = (float(v) for v in rects_mm[box])
            for axis, mask, along in ((0, masks[j], xs), (1, masks[j].T, ys)):
                stroke = _band(mask, band_px, edge_px, MAX_WOBBLE_MM * ppm)
                if stroke is None:
                    continue
                start, rest = stroke
                centre_mm = float(along[start:start + band_px].mean())
                if axis == 0:
                    strokes.append(_Stroke(box, 0, x + centre_mm, (y, y + h), rest))
                else:
                    strokes.append(_Stroke(box, 1, y + centre_mm, (x, x + w), rest))
    for stroke in strokes:
        partners = {s.box for s in strokes
                    if s.axis == stroke.axis and s.box != stroke.box
                    and abs(s.at_mm - stroke.at_mm) <= ALIGN_TOL_MM
                    and not _overlap(s.other_mm, stroke.other_mm)}
        if len(partners) + 1 >= MIN_BOXES:
            aligned[stroke.box] = True
            off_fill[stroke.box] = min(off_fill[stroke.box], stroke.off_fill)
    return AlignedLines(aligned, off_fill)


def note_aligned_lines(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
                       settings: ScoreSettings) -> None:
    """Set `ink.aligned_line` and `ink.off_line_fill` from `aligned_lines`."""
    found = aligned_lines(ink, samples, rects_mm, min_fill, settings)
    ink.aligned_line, ink.off_line_fill = found.aligned, found.off_line_fill


def _band(mask: np.ndarray, band_px: int, edge_px: int,
          wobble_px: float) -> tuple[int, float] | None:
    """The band of `band_px` columns of `mask` (rows x columns) whose columns hold ink in the
    most rows, when that is at least `BAND_COVER` of them and its ink runs straight down it
    (`MAX_SLOPE`, `wobble_px`): (its first column, the fill of the mask without it and
    `edge_px` more columns either side); else None."""
    rows, cols = mask.shape
    if cols <= band_px or rows == 0:
        return None
    per_col = mask.astype(np.int32)
    # rows holding ink anywhere in each band: a running OR over band_px columns
    windows = np.lib.stride_tricks.sliding_window_view(per_col, band_px, axis=1)
    covered = windows.any(axis=2).sum(axis=0)
    start = int(np.argmax(covered))
    if covered[start] < BAND_COVER * rows:
        return None
    lo, hi = max(0, start - edge_px), start + band_px + edge_px
    band = mask[:, lo:hi]
    rows_in = np.nonzero(band.any(axis=1))[0]
    cols = np.arange(band.shape[1], dtype=np.float64)
    centres = (band[rows_in] * cols).sum(axis=1) / band[rows_in].sum(axis=1)
    slope, offset = np.polyfit(rows_in.astype(np.float64), centres, 1)
    wobble = float(np.sqrt(np.mean((centres - (slope * rows_in + offset)) ** 2)))
    if abs(slope) > MAX_SLOPE or wobble > wobble_px:
        return None
    rest = mask.copy()
    rest[:, lo:hi] = False
    return start, float(rest.mean())


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Do two extents overlap (the same row, or the same column, of boxes)?"""
    return a[0] < b[1] and b[0] < a[1]
