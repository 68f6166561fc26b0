"""Streaks and folds: straight lines that cross a box and go on outside it are erased.

A scanner streak (a dirty sensor pixel: one image column dark down the whole page) or a fold
(a crease across the sheet) must never become a vote. For a box with some ink, each side is
probed just outside its printed border (at the cleanest of `PROBE_MM`); two narrow dark crossings
on different sides, joined by a dark straight path through the measured area, are a candidate;
a candidate is a line when, followed out in the scan itself, it stays dark for
`ScoreSettings.line_reach_mm` beyond both ends - a voter's stroke never does - and lies within
`LINE_MAX_TILT_DEG` of the page's axes, as streaks and folds do. Lines are erased
from the box's darkness patch one at a time (the next one is then measured without the first).
"""

from __future__ import annotations

import cv2
import numpy as np

from omr.register import apply
from omr.score import BoxSamples, ScoreSettings, is_bitonal, patch_mm


def clear_lines(samples: BoxSamples, boxes: np.ndarray, grey: np.ndarray,
                page_to_image: np.ndarray, rects_mm: np.ndarray, threshold: float,
                settings: ScoreSettings, *, printed_borders: bool = True) -> int:
    """Erase, in place, streaks and folds crossing the given boxes; returns how many were found.

    `boxes`: indices of the boxes to check (those with some ink); `threshold`: the ink level.
    `printed_borders`: each rectangle is a box with a printed border, and a line running along
    that border is never erased (`_along_border`); False for regions with no border drawn
    round them (write-in lines).
    """
    found = 0
    wanted = set(int(b) for b in boxes)
    for g in samples.groups:
        js = [j for j, box in enumerate(g.index) if int(box) in wanted]
        if not js:
            continue
        sub = g.dark[js]
        ends = _crossing_ends(sub, np.array(g.size_mm), threshold, settings)
        candidates = _candidates(ends, _near(sub), g.inner, threshold)
        for k in sorted(set(candidates[2].tolist())):  # only boxes with a candidate line
            patch, rect = g.dark[js[k]], rects_mm[g.index[js[k]]]
            mine = candidates[2] == k
            lines = _confirmed_lines(patch, candidates[0][mine], candidates[1][mine], grey,
                                     page_to_image, rect, threshold, settings, g.size_mm,
                                     printed_borders)
            # one line at a time: a line next to another is only measured right (its centre,
            # its width) once the other is gone; where a line was erased does not count
            # against one crossing it
            erased = np.zeros(patch.shape, bool)
            for _ in range(MAX_LINES_PER_BOX):
                if not lines:
                    break
                erased |= _erase(patch, *lines[0])
                found += 1
                lines = find_lines(patch, g.size_mm, g.inner, grey, page_to_image, rect,
                                   threshold, settings, erased,
                                   printed_borders=printed_borders)
    return found


#: most streaks and folds erased from one box
MAX_LINES_PER_BOX = 4


def find_lines(
    dark: np.ndarray, size_mm: tuple[float, float], inner: tuple[slice, slice],
    grey: np.ndarray, page_to_image: np.ndarray, rect_mm: np.ndarray, threshold: float,
    settings: ScoreSettings, erased: np.ndarray | None = None, *,
    printed_borders: bool = True,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Straight dark lines crossing one box patch side to side and going on outside it.

    Each side of the box is probed along a line parallel to it, outside the border, at the
    cleanest of `PROBE_MM` (a table rule or a neighbouring box running along one distance hides
    a crossing there, not at the others); candidates join two narrow dark crossings on different
    sides through the measured area; a candidate is a line when the darkness holds all along it
    and, in the scan itself, for `line_reach_mm` beyond both ends. Returns (p, q, half width px)
    per line, p and q (x, y) patch coordinates on the probes. `erased`: pixels where lines were
    already erased (they neither hold a line nor interrupt one).
    """
    ends = _crossing_ends(dark[None], np.asarray(size_mm), threshold, settings)
    p, q, _ = _candidates(ends, _near(dark[None]), inner, threshold,
                          None if erased is None else erased[None])
    return _confirmed_lines(dark, p, q, grey, page_to_image, rect_mm, threshold, settings,
                            size_mm, printed_borders)


def _confirmed_lines(dark: np.ndarray, p: np.ndarray, q: np.ndarray, grey: np.ndarray,
                     page_to_image: np.ndarray, rect_mm: np.ndarray, threshold: float,
                     settings: ScoreSettings, size_mm: tuple[float, float],
                     printed_borders: bool) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """`_confirmed`, and with `printed_borders` none that runs along the box's border
    (`_along_border`): neither a candidate's crossings nor the line as measured where its
    darkness is."""
    if not printed_borders:
        return _confirmed(dark, p, q, grey, page_to_image, rect_mm, threshold, settings)
    off = ~_along_border(p, q, size_mm, settings)
    lines = _confirmed(dark, p[off], q[off], grey, page_to_image, rect_mm, threshold,
                       settings)
    if not lines:
        return lines
    along = _along_border(np.array([a for a, _, _ in lines]),
                          np.array([b for _, b, _ in lines]), size_mm, settings)
    return [line for line, on in zip(lines, along, strict=True) if not on]


#: distances (mm) outside a box's inside edge at which its sides are probed for crossing lines
#: (not the patch's outermost pixels: smoothing mixes them with the next patch)
PROBE_MM = (0.8, 1.1, 1.4, 1.75)


def _near(dark: np.ndarray) -> np.ndarray:
    """Darkest value within 1 px, for (N, hp, wp) patches (one dilation for all)."""
    n, hp, wp = dark.shape
    return cv2.dilate(dark.reshape(n * hp, wp), np.ones((3, 3), np.uint8)).reshape(n, hp, wp)


def _crossing_ends(dark: np.ndarray, size_mm: np.ndarray, threshold: float,
                   settings: ScoreSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Narrow dark crossings on the four side probes of (N, hp, wp) patches: (m, 2) x, y of
    their centres, (m,) the side of each (0 top, 1 right, 2 bottom, 3 left), (m,) the patch."""
    n, hp, wp = dark.shape
    ppm = settings.sample_px_per_mm
    ring = round(settings.ring_mm * ppm)
    x1, y1 = ring + round(size_mm[0] * ppm), ring + round(size_mm[1] * ppm)
    offsets = [round(d * ppm) for d in PROBE_MM]
    # candidate probe lines per side: (index along the other axis, is a row)
    sides = [
        ([ring - o for o in offsets if ring - o >= 0], True),
        ([x1 - 1 + o for o in offsets if x1 - 1 + o < wp], False),
        ([y1 - 1 + o for o in offsets if y1 - 1 + o < hp], True),
        ([ring - o for o in offsets if ring - o >= 0], False),
    ]
    max_run = _max_run(settings)
    parts_xy, parts_side, parts_box = [], [], []
    for side, (where, is_row) in enumerate(sides):
        if not where:
            continue
        lines = dark[:, where, :] if is_row else dark[:, :, where].transpose(0, 2, 1)
        cleanest = np.argmin(np.median(lines, axis=2), axis=1)  # (N,) the probe to use
        signal = lines[np.arange(n), cleanest]  # (N, L)
        on = _crossings(signal, threshold, max_run)
        # runs of crossing pixels, all patches at once: starts and ends in reading order
        edges = np.diff(on.astype(np.int8), axis=1, prepend=0, append=0)
        box, start = np.nonzero(edges == 1)
        end = np.nonzero(edges == -1)[1]
        narrow = end - start <= max_run
        box, mid = box[narrow], (start[narrow] + end[narrow] - 1) / 2.0
        fixed = np.asarray(where, np.float64)[cleanest[box]]
        parts_xy.append(np.column_stack([mid, fixed] if is_row else [fixed, mid]))
        parts_side.append(np.full(len(box), side))
        parts_box.append(box)
    xy = np.concatenate(parts_xy) if parts_xy else np.zeros((0, 2))
    side_of = np.concatenate(parts_side) if parts_side else np.zeros(0, int)
    box_of = np.concatenate(parts_box) if parts_box else np.zeros(0, int)
    return xy, side_of, box_of


def _reach_px(settings: ScoreSettings) -> int:
    """How far across a line its centre and width are looked for (0.6 mm)."""
    return max(3, round(0.6 * settings.sample_px_per_mm))


def _max_run(settings: ScoreSettings) -> int:
    return round(settings.line_max_width_mm * settings.sample_px_per_mm * 1.5)


def _candidates(
    ends: tuple[np.ndarray, np.ndarray, np.ndarray], near: np.ndarray,
    inner: tuple[slice, slice], threshold: float, erased: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of crossings (on different sides of one patch) joined by a dark straight path
    through the measured area: (p, q, patch index) arrays, all patches at once."""
    xy, side, box = ends
    same_box = (box[:, None] == box[None, :]) & (side[:, None] != side[None, :])
    i, j = np.nonzero(np.triu(same_box, 1))
    p, q, k = xy[i], xy[j], box[i]
    rows, cols = inner
    pts = p[:, None] + _ALONG[None, :, None] * (q - p)[:, None]  # (pairs, 25, 2)
    in_box = ((pts[..., 0] >= cols.start - 3) & (pts[..., 0] < cols.stop + 3)
              & (pts[..., 1] >= rows.start - 3) & (pts[..., 1] < rows.stop + 3)).sum(1)
    # between two probe points, inside the patch: no clipping needed
    yi = np.rint(pts[..., 1]).astype(int)
    xi = np.rint(pts[..., 0]).astype(int)
    dark = near[k[:, None], yi, xi] > 0.8 * threshold
    if erased is None:
        share = dark.mean(1)
    else:  # over the samples off the lines erased already (most of them must be)
        seen = ~erased[k[:, None], yi, xi]
        counted = seen.sum(1)
        share = np.where(counted >= 0.6 * seen.shape[1],
                         (dark & seen).sum(1) / np.maximum(counted, 1), 0.0)
    # a candidate must cross the measured area (+3 px: a line's width reaches in), stay dark
    # all along, and lie near one of the page's axes
    d = q - p
    tilt = np.degrees(np.arctan2(np.minimum(np.abs(d[:, 0]), np.abs(d[:, 1])),
                                 np.maximum(np.abs(d[:, 0]), np.abs(d[:, 1]))))
    keep = (in_box >= 5) & (share >= 0.92) & (tilt <= LINE_MAX_TILT_DEG)
    return p[keep], q[keep], k[keep]


#: a line whose centre stays this close to one of the box's inside edges (mm), at both ends,
#: runs along its printed border (the border lies outside that edge, about 0.5 mm wide)
ALONG_BORDER_MM = 0.6


def _along_border(p: np.ndarray, q: np.ndarray, size_mm: tuple[float, float],
                  settings: ScoreSettings) -> np.ndarray:
    """(m,) which candidate lines p->q (patch px) run along one side of the box's printed
    border. Such a line cannot be told from the border: it may be the border itself, thickened
    by ink drawn along it - what a bitonal threshold leaves of a fill's edge, a circle traced
    on the border, the same in the boxes above and below, which carry it on in the scan as a
    streak would go on. Erasing it would take that ink away and read a vote empty; kept, a
    true streak there adds at most a thin strip along the border (a doubtful box at worst:
    `omr.decide` never counts a single thin line as a vote)."""
    if not len(p):
        return np.zeros(0, bool)
    a, b = patch_mm(p, settings), patch_mm(q, settings)  # (x, y) mm from the inside edge
    w, h = size_mm
    out = np.zeros(len(p), bool)
    for axis, length in ((0, w), (1, h)):
        for edge in (0.0, length):
            out |= ((np.abs(a[:, axis] - edge) <= ALONG_BORDER_MM)
                    & (np.abs(b[:, axis] - edge) <= ALONG_BORDER_MM))
    return out


#: a streak runs down the scanner's columns and a fold along or across the sheet: both lie
#: within a skewed scan's tilt (15 degrees at most) of the page's axes. A stroke slanting more
#: than this across a box - a tick's long stroke, a cross's - is a voter's however far it runs
#: on (it may end on a table rule, which carries it on in the scan): never erased
LINE_MAX_TILT_DEG = 20.0


def _confirmed(dark: np.ndarray, p: np.ndarray, q: np.ndarray, grey: np.ndarray,
               page_to_image: np.ndarray, rect_mm: np.ndarray, threshold: float,
               settings: ScoreSettings) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The candidates p->q of one patch that go on in the scan: (p, q, half width) each."""
    lines = []
    reach = _reach_px(settings)
    # a voter's stroke stops within a millimetre or two of the border: seen at once on the
    # crossings' own line, before the line is measured (most candidates end here)
    going_on = _continue_all(grey, page_to_image, rect_mm, p, q, settings,
                             reach_mm=QUICK_REACH_MM, share=QUICK_SHARE)
    for a, b in zip(p[going_on], q[going_on], strict=True):
        # its exact centre and direction, to follow it outside; two streaks a few pixels
        # apart confuse the centre line: then the crossings' own line, as wide as both
        for line in (_refine(dark, a, b, threshold, reach),
                     _refine(dark, a, b, threshold, reach, move=False)):
            if _continues(grey, page_to_image, rect_mm, line[0], line[1], settings):
                lines.append(line)
                break
    return lines


#: a candidate must first stay dark over this share of the samples this far past both ends
#: (a lenient test on the unrefined line, so that no true line is turned away by it)
QUICK_REACH_MM = 3.0
QUICK_SHARE = 0.6

#: where a candidate line is sampled between its ends (fractions)
_ALONG = np.linspace(0.0, 1.0, 25)


def _crossings(signal: np.ndarray, threshold: float, max_run: int) -> np.ndarray:
    """Where dark lines cross probes: (N, L) darkness profiles -> (N, L) booleans.

    A crossing is a narrow peak (its white top-hat, of width `max_run`) darker than the ink
    threshold: a blurred table rule running beside a probe raises its floor, not a crossing."""
    kernel = np.ones((1, max_run + 2), np.uint8)
    floor = cv2.morphologyEx(signal.astype(np.float32), cv2.MORPH_OPEN, kernel,
                             borderType=cv2.BORDER_REPLICATE)
    return (signal > 0.6 * threshold) & (signal - floor > max(0.4 * threshold, 0.06))


#: a bitonal scan is averaged over this square (mm) before a line is followed in it
CONTINUE_MEAN_MM = 0.3
#: offsets of the 5 x 5 pixels round a sample point in which a line's darkest pixel is looked for
_NEAR_DY, _NEAR_DX = np.mgrid[-2:3, -2:3]


def _continue_all(grey: np.ndarray, h: np.ndarray, rect_mm: np.ndarray, p: np.ndarray,
                  q: np.ndarray, settings: ScoreSettings, *, reach_mm: float | None = None,
                  share: float = 0.85) -> np.ndarray:
    """Do the lines p[i]->q[i] ((C, 2) patch px, all of one box) stay dark in the scan (over
    `share` of the samples) for `reach_mm` (default line_reach_mm) past both ends? (C,)
    booleans, the lines of a box in one gather."""
    if not len(p):
        return np.zeros(0, bool)
    step = 1.0 / settings.sample_px_per_mm
    origin = rect_mm[:2] - settings.ring_mm + step / 2
    pm, qm = origin + p * step, origin + q * step  # (C, 2)
    u = (qm - pm) / np.linalg.norm(qm - pm, axis=1, keepdims=True)
    reach = np.arange(0.5, (reach_mm or settings.line_reach_mm) + 0.01, 0.5)
    n = len(reach)
    inside = pm[:, None] + np.array([0.35, 0.5, 0.65])[None, :, None] * (qm - pm)[:, None]
    pts_mm = np.concatenate([qm[:, None] + reach[None, :, None] * u[:, None],
                             pm[:, None] - reach[None, :, None] * u[:, None], inside], 1)
    c, count = pts_mm.shape[:2]
    pts = apply(h, pts_mm.reshape(-1, 2)).reshape(c, count, 2)
    gh, gw = grey.shape[:2]
    xi = np.clip(np.rint(pts[..., 0]).astype(int), 0, gw - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(int), 0, gh - 1)
    # the darkest within 2 px: a 1 px streak, a slightly bent line
    ny = np.clip(yi[..., None, None] + _NEAR_DY, 0, gh - 1)
    nx = np.clip(xi[..., None, None] + _NEAR_DX, 0, gw - 1)
    window = grey[ny, nx].reshape(c, count, -1)  # (C, P, 25)
    darkest = window.min(2).astype(np.float32)
    for i in range(c):
        if is_bitonal(window[i]):
            darkest[i] = _bitonal_darkest(grey, xi[i], yi[i], pts[i])
    line_grey = np.median(darkest[:, 2 * n:], axis=1).astype(np.float64)
    paper = np.percentile(grey[yi[:, :2 * n], xi[:, :2 * n]], 90, axis=1)
    cut = (line_grey + np.maximum(paper, line_grey + 40.0)) / 2.0
    dark = darkest[:, :2 * n] < cut[:, None]
    return (dark[:, :n].mean(1) >= share) & (dark[:, n:].mean(1) >= share)


def _bitonal_darkest(grey: np.ndarray, xi: np.ndarray, yi: np.ndarray, pts: np.ndarray
                     ) -> np.ndarray:
    """(P,) the darkest mean near each sample point (xi, yi; `pts` 0.5 mm apart) of a bitonal
    scan, which encodes grey as a density of black dots (dither, speckle): one dot of the
    paper's own is no line going on, so the pixels are averaged first."""
    gh, gw = grey.shape[:2]
    px_per_mm = float(np.hypot(*(pts[1] - pts[0]))) / 0.5
    k = max(3, int(CONTINUE_MEAN_MM * px_per_mm) | 1)
    r = 2 + k // 2
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    ny = np.clip(yi[:, None, None] + dy[None], 0, gh - 1)
    nx = np.clip(xi[:, None, None] + dx[None], 0, gw - 1)
    wide = grey[ny, nx].astype(np.float32)
    mean = cv2.blur(wide.reshape(-1, 2 * r + 1), (k, k)).reshape(wide.shape)
    return mean[:, k // 2:-(k // 2), k // 2:-(k // 2)].reshape(len(pts), -1).min(1)


def _continues(grey: np.ndarray, h: np.ndarray, rect_mm: np.ndarray, p: np.ndarray,
               q: np.ndarray, settings: ScoreSettings, *, reach_mm: float | None = None,
               share: float = 0.85) -> bool:
    """`_continue_all` for one line p->q."""
    return bool(_continue_all(grey, h, rect_mm, p[None], q[None], settings, reach_mm=reach_mm,
                              share=share)[0])


def _refine(dark: np.ndarray, p: np.ndarray, q: np.ndarray, threshold: float,
            reach_px: int, move: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Put the line p->q on the darkness centre line and measure its half width (px).

    At each point along the line, the darkness profile across it (within reach_px) gives the
    centre of its upper half (a printed border or a mark nearby pulls it little); a straight
    least-squares fit of those centres, refitted without the rows it misses by over 1.5 px (a
    mark crossing the line), moves p and q. The half width is how far the median profile stays
    above the ink threshold either side of the centre. `move` False: p->q as given, width only.
    """
    hp, wp = dark.shape
    d = q - p
    length = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / length
    t = np.linspace(0.0, 1.0, max(2, int(length) + 1))
    offsets = np.arange(-reach_px, reach_px + 1, dtype=np.float64)
    pts = (p[None, None] + t[:, None, None] * d[None, None]
           + offsets[None, :, None] * normal[None, None])
    xi = np.clip(np.rint(pts[..., 0]).astype(int), 0, wp - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(int), 0, hp - 1)
    w = dark[yi, xi].astype(np.float64)
    top = np.maximum(w - 0.5 * w.max(1, keepdims=True), 0.0)
    mass = top.sum(1)
    keep = mass > 0.05
    if move and keep.sum() >= 3:
        centre = (top[keep] * offsets[None]).sum(1) / mass[keep]
        fit = np.polyfit(t[keep], centre, 1)
        good = np.abs(np.polyval(fit, t[keep]) - centre) <= 1.5
        if good.sum() >= 3:
            fit = np.polyfit(t[keep][good], centre[good], 1)
        slope, intercept = fit
        p, q = p + intercept * normal, q + (intercept + slope) * normal
        shifted = np.rint(offsets[None] + (intercept + slope * t)[:, None]).astype(int)
        w = np.take_along_axis(w, np.clip(shifted + reach_px, 0, 2 * reach_px), 1)
    profile = np.median(w, axis=0)  # across the line; the median ignores a mark crossing it
    above = profile > 0.8 * threshold
    half = 1.0
    for r in range(1, reach_px):
        if above[reach_px - r] or above[reach_px + r]:
            half = r + 0.5
        else:
            break
    return p, q, half


def _erase(dark: np.ndarray, p: np.ndarray, q: np.ndarray, half_width_px: float) -> np.ndarray:
    """Set to 0, in place, the pixels within half_width_px + 1.5 of the line p->q; returns the
    mask of the pixels erased."""
    hp, wp = dark.shape
    yy, xx = np.mgrid[0:hp, 0:wp]
    d = q - p
    dist = np.abs((xx - p[0]) * d[1] - (yy - p[1]) * d[0]) / np.hypot(*d)
    band = dist <= half_width_px + 1.5
    dark[band] = 0.0
    return band
