"""Lines across the page seen only inside boxes: a fold or a streak lined up through a column.

`omr.lines` erases a streak or a fold that crosses a box and goes on outside it. Some scans
show such a line only inside the boxes: a small-window bitonal threshold keeps a fold's faint
shadow black only where the printed border pulls the local mean up, and erases it on the open
paper between. What is left is the same short straight stroke, at one place on the page, in
every box of a column (or a row) the line runs through.

The principle: ink that lies on one straight line, at one place on the page, through three
boxes or more of different rows (a line along the page's height) or of different columns (along
its width), is a line across the page, not a voter's marks - voters' strokes never line up to a
third of a millimetre from row to row. A fold lies along the paper's axes; a scanner streak
runs down the scanner's columns (or along its rows), which on a sheet fed skewed cross the
page at the skew: both directions are looked along (`page_to_image` gives the scanner's).
Such a box is no sure mark unless what is left of its ink besides the line is one by itself;
nor is it empty (the ink is visible): a person looks.
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
    #: 0: down the page (x = at + slope * y), 1: across it (y = at + slope * x); 2 and 3 the
    #: same along the scanner's columns and rows (the slopes of `scan_slopes`)
    axis: int
    at_mm: float  # where the line crosses the page's edge (x at y = 0, or y at x = 0)
    other_mm: tuple[float, float]  # the box's extent along the line (to tell rows apart)
    off_fill: float


def aligned_lines(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
                  settings: ScoreSettings,
                  page_to_image: np.ndarray | None = None) -> AlignedLines:
    """Find lines across the page that show as one straight stroke in `MIN_BOXES` boxes or more.

    `ink.masks` are the boxes' ink masks over their measured areas (`omr.score.box_fill`);
    `rects_mm` the boxes' insides (x, y, w, h, page mm); only boxes with at least `min_fill`
    ink (and at most `MAX_FILL`) are looked at. Lines are looked for along the page's axes
    and, when `page_to_image` shows the page fed skewed by more than `MAX_SLOPE`, along the
    scanner's too (`scan_slopes`)."""
    n = len(ink.fill)
    aligned = np.zeros(n, bool)
    off_fill = np.asarray(ink.fill, np.float64).copy()
    ppm = settings.sample_px_per_mm
    band_px = max(2, round(BAND_MM * ppm))
    edge_px = round(EDGE_MM * ppm)
    wobble_px = MAX_WOBBLE_MM * ppm
    # where each box's best band lies (cheap, all at once); the straightness of what is in it
    # only for boxes whose band lines up with two others
    slopes = [(0.0, 0.0)]
    if page_to_image is not None:
        scan = scan_slopes(page_to_image, rects_mm)
        if max(abs(scan[0]), abs(scan[1])) > MAX_SLOPE:
            slopes.append(scan)
    strokes: list[_Stroke] = []
    for family, (slope_v, slope_h) in enumerate(slopes):
        strokes += _strokes(ink, samples, rects_mm, min_fill, settings, family,
                            (slope_v, slope_h), band_px, edge_px, wobble_px)
    for stroke in strokes:
        if _partners(stroke, strokes):
            aligned[stroke.box] = True
            off_fill[stroke.box] = min(off_fill[stroke.box], stroke.off_fill)
    return AlignedLines(aligned, off_fill)


def _strokes(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
             settings: ScoreSettings, family: int, slopes: tuple[float, float], band_px: int,
             edge_px: int, wobble_px: float) -> list[_Stroke]:
    """The straight strokes, in boxes lined up with two others, along one family of directions:
    lines x = at + slope_v * y (down the page) and y = at + slope_h * x (across it)."""
    found: list[tuple[_Stroke, np.ndarray, int, int, np.ndarray, float]] = []
    for group, (index, masks) in zip(samples.groups, ink.masks, strict=True):
        pick = np.nonzero((ink.fill[index] >= min_fill) & (ink.fill[index] <= MAX_FILL))[0]
        if not len(pick):
            continue
        xs = axis_mm(group.size_mm[0], settings)[group.inner[1]]
        ys = axis_mm(group.size_mm[1], settings)[group.inner[0]]
        chosen = masks[pick]
        for axis, stack, along, across, slope in (
                (0, chosen, xs, ys, slopes[0]),
                (1, np.ascontiguousarray(chosen.transpose(0, 2, 1)), ys, xs, slopes[1])):
            stack = _sheared(stack, slope)
            starts, cover = _bands(stack, band_px)
            mid_mm = float(across[len(across) // 2])  # the shear leaves this row in place
            for k in np.nonzero(cover >= BAND_COVER)[0]:
                box = int(index[pick[k]])
                x, y, w, h = (float(v) for v in rects_mm[box])
                # where the line crosses the page's edge (x at y = 0, or y at x = 0) is this
                # plus where it crosses the box's middle row (mm from its inside edge)
                base = (x - slope * (y + mid_mm)) if axis == 0 else (y - slope * (x + mid_mm))
                at = base + float(along[starts[k]:starts[k] + band_px].mean())
                extent = (y, y + h) if axis == 0 else (x, x + w)
                found.append((_Stroke(box, axis + 2 * family, at, extent, 0.0), stack[k],
                              int(starts[k]), int(chosen[k].sum()), along, base))
    # the bands' places are known to a band's width: lined up within twice the tolerance
    # first, then measured to a fraction of a sample and held to it
    lined_up = [f[0] for f in found]
    strokes = []
    for stroke, mask, start, total, along, base in found:
        if not _partners(stroke, lined_up, 2 * ALIGN_TOL_MM):
            continue
        band = _straight_band(mask, start, band_px, edge_px, wobble_px)
        if band is not None:
            count, column = band
            at = base + float(np.interp(column, np.arange(len(along)), along))
            strokes.append(_Stroke(stroke.box, stroke.axis, at, stroke.other_mm,
                                   (total - count) / mask.size))
    return strokes


def scan_slopes(page_to_image: np.ndarray, rects_mm: np.ndarray) -> tuple[float, float]:
    """How the scanner's columns and rows cross the page (at the middle of its boxes): the
    page-x drift per mm of page-y along an image column, and the page-y drift per mm of
    page-x along an image row."""
    h = np.asarray(page_to_image, np.float64)
    cx = float(np.mean(rects_mm[:, 0] + rects_mm[:, 2] / 2)) if len(rects_mm) else 0.0
    cy = float(np.mean(rects_mm[:, 1] + rects_mm[:, 3] / 2)) if len(rects_mm) else 0.0
    p = h @ np.array([cx, cy, 1.0])
    # the local affine map's matrix (page mm -> image px) at that point
    jac = (h[:2, :2] * p[2] - np.outer(p[:2], h[2, :2])) / (p[2] * p[2])
    inv = np.linalg.inv(jac)
    down, across = inv @ np.array([0.0, 1.0]), inv @ np.array([1.0, 0.0])
    return (float(down[0] / down[1]) if abs(down[1]) > 1e-9 else 0.0,
            float(across[1] / across[0]) if abs(across[0]) > 1e-9 else 0.0)


def _sheared(masks: np.ndarray, slope: float) -> np.ndarray:
    """(N, rows, cols) masks with each row moved left by `slope` x its distance (in rows)
    from the middle row: a line with that slope comes out straight down the columns."""
    if not slope:
        return masks
    _, rows, cols = masks.shape
    shift = np.rint(slope * (np.arange(rows) - rows // 2)).astype(int)
    src = np.arange(cols)[None, :] + shift[:, None]  # (rows, cols) column read for each one
    ok = (src >= 0) & (src < cols)
    out = masks[:, np.arange(rows)[:, None], np.clip(src, 0, cols - 1)]
    return out & ok[None]


def note_aligned_lines(ink: BoxInk, samples: BoxSamples, rects_mm: np.ndarray, min_fill: float,
                       settings: ScoreSettings, page_to_image: np.ndarray | None = None) -> None:
    """Set `ink.aligned_line` and `ink.off_line_fill` from `aligned_lines`."""
    found = aligned_lines(ink, samples, rects_mm, min_fill, settings, page_to_image)
    ink.aligned_line, ink.off_line_fill = found.aligned, found.off_line_fill


def _partners(stroke: _Stroke, strokes: list[_Stroke], tol_mm: float = ALIGN_TOL_MM) -> bool:
    """Do `MIN_BOXES` - 1 other boxes, in other rows (or columns), hold a stroke at the same
    place (within `tol_mm`) across the same axis?"""
    others = {s.box for s in strokes
              if s.axis == stroke.axis and s.box != stroke.box
              and abs(s.at_mm - stroke.at_mm) <= tol_mm
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


def _straight_band(mask: np.ndarray, start: int, band_px: int, edge_px: int,
                   wobble_px: float) -> tuple[int, float] | None:
    """When the ink in the band from column `start` (`band_px` wide, `edge_px` more either side)
    runs straight down it (`MAX_SLOPE`, `wobble_px`): how many ink pixels the band holds (the
    line's, to leave out of the box's fill) and the column (fractional) it crosses the middle
    row at; else None."""
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
    mid = mask.shape[0] // 2  # the line's column at the middle row, to a fraction of one
    return int(band.sum()), lo + float(centres.mean() + slope * (mid - rows_in.mean()))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Do two extents overlap (the same row, or the same column, of boxes)?"""
    return a[0] < b[1] and b[0] < a[1]
