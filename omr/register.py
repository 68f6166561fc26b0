"""Registration: where the page's millimetres fall in the image.

1. The QR code's corners give a coarse similarity (page mm -> image px): position, scale and
   orientation (any angle, so a page turned 90°/180°/270° is handled with no image rotation).
2. Each corner fiducial (a solid 5 mm square; an outline of one where a bitonal threshold
   hollowed it, its holes are filled) is searched for in a window around where the coarse
   transform puts it, outside the QR symbol; a candidate must be a dark square of the right size.
3. A homography from 4 fiducials (an affine map from 3) maps page mm to image px; the QR corners
   are mapped back as an independent check (a fiducial that disagrees is dropped when 3 others
   agree with the code).
4. With fewer fiducials (cut off by skew and shift, folded over, damaged) the code and the ones
   found give a first map (`Registration.partial`), and the printed borders of the boxes
   themselves are the anchors that fix it (`omr.refine`). No anchor set is trusted alone: the
   page is read only when the borders of the boxes sit where the final map puts them.
5. Then (`omr.engine`) the printed borders of the boxes measure the registration error where it
   matters; over `max_error_mm` the page is refused, with the anchors that failed named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from forms.layout_json import PageDoc
from omr.code import CodeHit

#: order of the layout's fiducials, for messages
CORNER_NAMES = ("top-left", "top-right", "bottom-right", "bottom-left")


@dataclass(frozen=True)
class RegistrationLimits:
    """Tolerances of registration, each named with its unit."""

    #: half-side of the square searched around each predicted fiducial centre: first the
    #: near window, then (when nothing is found there) the far one
    fiducial_near_mm: float = 7.0
    fiducial_search_mm: float = 14.0
    #: a fiducial's dark area may be this fraction smaller / larger than printed (blur, toner)
    fiducial_area_tolerance: float = 0.45
    #: fewest fiducials that still pin the page (3 fix an affine map)
    min_fiducials: int = 3
    #: the mapped QR corners may miss the decoded ones by this much
    code_error_mm: float = 1.5
    #: the fiducials may depart this far from the best affine fit (perspective; a least-squares
    #: residual, so each corner may be moved by up to about this much)
    perspective_mm: float = 4.0
    #: the printed box borders may lie this far from where the homography puts them (the
    #: registration error, measured box by box in `omr.score`; checked in `omr.engine`): more,
    #: and the page is refused - the measured area keeps 0.6 mm clear of the border
    max_error_mm: float = 0.8


@dataclass
class Registration:
    """Page millimetres -> image pixels, with what it was fitted from."""

    #: 3x3 homography: [x_px, y_px, 1] ~ H @ [x_mm, y_mm, 1]
    page_to_image: np.ndarray
    #: mean scale of the map (image pixels per page millimetre)
    px_per_mm: float
    #: fiducial centres found (image px), None where a fiducial was missing or damaged
    fiducials_px: list[np.ndarray | None]
    #: grey level of the printed black (the fiducials' ink), and of the paper around them
    black_level: float
    paper_level: float
    #: worst distance between the mapped and decoded QR corners
    code_error_mm: float
    #: True when fewer than 3 fiducials fixed the map: it is a first estimate that the box
    #: borders must confirm and refine (`omr.refine`)
    partial: bool = False
    #: the anchors the map was fitted to: page mm and where they are in the image (the QR
    #: symbol's corners, then the fiducials used)
    anchors_mm: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    anchors_px: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def missing(self) -> list[str]:
        """Names of the corner marks not found (for the operator)."""
        return [CORNER_NAMES[i] for i, f in enumerate(self.fiducials_px) if f is None]


class RegistrationError(ValueError):
    """The page cannot be registered; `str(exc)` says why, for the operator."""


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) src -> dst as a 3x3 matrix.

    `src`, `dst`: (N, 2) point arrays, N >= 2. Reflections are not allowed.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    a = (s * d).sum()  # sum of dot products
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()  # sum of cross products
    norm = (s * s).sum()
    ca, sa = a / norm, b / norm
    m = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])
    m[:2, 2] = md - m[:2, :2] @ ms
    return m


def apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through the 3x3 matrix `h` (with the perspective divide)."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    out = pts @ h[:2, :2].T + h[:2, 2]
    w = pts @ h[2, :2] + h[2, 2]
    return out / w[:, None]


def code_corners_mm(code_mm: list[float], modules: int, quiet_modules: int = 2) -> np.ndarray:
    """The symbol corners (TL, TR, BR, BL) of a QR code printed in the square `code_mm`."""
    x, y, size, _ = code_mm
    module = size / (modules + 2 * quiet_modules)
    a, b = x + quiet_modules * module, y + quiet_modules * module
    c = a + modules * module
    d = b + modules * module
    return np.array([[a, b], [c, b], [c, d], [a, d]], np.float64)


def find_fiducial(
    grey: np.ndarray, centre_px: np.ndarray, side_px: float, search_px: float,
    area_tolerance: float, avoid_px: np.ndarray | None = None,
) -> tuple[np.ndarray, float, float] | None:
    """Search a window of half-side `search_px` around `centre_px` for a solid dark square
    (or the outline of one: a bitonal threshold that hollows solids).

    `avoid_px`: a polygon ((K, 2) image px) no candidate may lie in (the QR symbol, whose
    finder patterns are dark squares too). Returns (centre (x, y) in image px, grey level of
    its ink, grey level of the paper around it), or None when no candidate has the right size,
    squareness and solidity.
    """
    h, w = grey.shape[:2]
    x0, y0 = int(max(0, centre_px[0] - search_px)), int(max(0, centre_px[1] - search_px))
    x1, y1 = int(min(w, centre_px[0] + search_px + 1)), int(min(h, centre_px[1] + search_px + 1))
    if x1 - x0 < side_px or y1 - y0 < side_px:
        return None
    avoid = None if avoid_px is None else np.asarray(avoid_px, np.float64) - (x0, y0)
    hit = _square_in(np.ascontiguousarray(grey[y0:y1, x0:x1]), side_px, area_tolerance,
                     np.asarray(centre_px, np.float64) - (x0, y0), avoid)
    if hit is None:
        return None
    return hit[0] + np.array([x0, y0], np.float64), hit[1], hit[2]


def _square_in(window: np.ndarray, side_px: float, area_tolerance: float,
               centre_px: np.ndarray, avoid_px: np.ndarray | None = None
               ) -> tuple[np.ndarray, float, float] | None:
    """The solid dark square of about `side_px` nearest `centre_px` in `window` (its centre,
    its ink's grey level, the paper's), not inside the polygon `avoid_px`."""
    # a box blur of ~1/7 of the side: noise and dithering (a bitonal scan) turn into grey
    blur = max(3, int(side_px / 7) | 1)
    window = cv2.blur(window, (blur, blur))
    dark_level, paper = quantiles(window[::2, ::2], (0.01, 0.9))
    if paper - dark_level < 40:
        return None  # no contrast: nothing printed here
    thresh = (dark_level + paper) / 2.0
    # an opening with a kernel 0.4 of the square's side keeps the square and drops what is
    # thinner: scanner streaks and table rules touching it, text, the QR code's modules
    k = max(3, int(0.4 * side_px) | 1)  # odd: the opening must not shift the square
    dark = (window < thresh).astype(np.uint8)
    mask = cv2.morphologyEx(_fill_holes(dark), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    area_px = side_px * side_px
    best: tuple[float, int] | None = None
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        bw, bh = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        if not (1 - area_tolerance) * area_px <= area <= (1 + area_tolerance) * area_px:
            continue
        if not (0.75 * side_px <= min(bw, bh) and max(bw, bh) <= 1.6 * side_px):
            continue
        roi = labels[stats[i, 1]:stats[i, 1] + bh, stats[i, 0]:stats[i, 0] + bw] == i
        rw, rh = _rectangle_sides(roi.view(np.uint8), area)
        if not (0.75 * side_px <= rh and rw <= 1.3 * side_px):
            continue
        if area < 0.85 * rw * rh or rw > 1.25 * rh:
            continue  # not solid, or not square
        if avoid_px is not None and cv2.pointPolygonTest(
                avoid_px.astype(np.float32).reshape(-1, 1, 2),
                (float(centroids[i][0]), float(centroids[i][1])), False) >= 0:
            continue  # a finder pattern of the QR code
        dist = float(np.hypot(*(centroids[i] - centre_px)))
        if best is None or dist < best[0]:
            best = (dist, i)
    if best is None:
        return None
    i = best[1]
    # the ink's level from its dark pixels only (a hollowed square's holes are paper)
    ink = float(np.median(window[(labels == i) & (dark > 0)]))
    return centroids[i].astype(np.float64), ink, float(paper)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """A 0/1 uint8 mask with the holes of its shapes filled: the paper not reachable from the
    window's edge becomes ink (a hollowed solid square is solid again)."""
    h, w = mask.shape
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flood[1:-1, 1:-1] = mask
    cv2.floodFill(flood, None, (0, 0), 2)  # the paper reached from outside, through the border
    return (flood[1:-1, 1:-1] != 2).astype(np.uint8)


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles (0..1, nearest rank) of an array; np.partition, without np.percentile's cost."""
    flat = values.ravel()
    ranks = [round(q * (flat.size - 1)) for q in qs]
    return np.partition(flat, ranks)[ranks].astype(np.float64)


def _rectangle_sides(mask: np.ndarray, area: float) -> tuple[float, float]:
    """(long, short) sides of the filled rectangle with the same second moments as `mask`
    (uint8 0/1): a filled a x b rectangle has central moments a^2/12 and b^2/12, at any angle."""
    m = cv2.moments(mask, binaryImage=True)
    cov = np.array([[m["mu20"], m["mu11"]], [m["mu11"], m["mu02"]]]) / max(area, 1.0)
    small, large = np.linalg.eigvalsh(cov)
    return float(np.sqrt(12.0 * large + 1.0)), float(np.sqrt(12.0 * max(small, 0.0) + 1.0))


def _search(grey: np.ndarray, centre_px: np.ndarray, side_px: float, px_per_mm: float,
            limits: RegistrationLimits, avoid_px: np.ndarray | None = None
            ) -> tuple[np.ndarray, float, float] | None:
    """A fiducial near its predicted place, else anywhere in the wide search window."""
    for reach_mm in (limits.fiducial_near_mm, limits.fiducial_search_mm):
        hit = find_fiducial(grey, centre_px, side_px, reach_mm * px_per_mm,
                            limits.fiducial_area_tolerance, avoid_px)
        if hit is not None:
            return hit
    return None


Found = tuple[np.ndarray, float, float]


def register(
    grey: np.ndarray, page_layout: PageDoc, code: CodeHit, limits: RegistrationLimits,
) -> Registration:
    """Fit page mm -> image px for one layout page from its QR code and fiducials.

    `grey`: uint8 (H, W); `page_layout`: a page of the layout (fiducials_mm, code_mm);
    `code`: the decoded QR code. With 3 or 4 fiducials that agree with the code the map is
    final; with fewer it is `partial`, a first estimate from the code and the fiducials found
    that the box borders must confirm (`omr.refine`). Raises RegistrationError (reason for
    the operator) only when even a first estimate cannot be had.
    """
    if page_layout.code_mm is None or page_layout.fiducials_mm is None:
        raise RegistrationError(f"layout page {page_layout.page} has no corner marks and QR code "
                                "(a foreign form's page); load it as a foreign form")
    code_mm = code_corners_mm(page_layout.code_mm, code.modules)
    coarse = similarity(code_mm, code.corners_px)
    px_per_mm = float(np.hypot(coarse[0, 0], coarse[1, 0]))
    rects = np.asarray(page_layout.fiducials_mm, np.float64)
    centres_mm = rects[:, :2] + rects[:, 2:] / 2
    side_mm = float(rects[:, 2:].mean())
    predicted = apply(coarse, centres_mm)
    symbol = _grown(code.corners_px, QUIET_MM * px_per_mm)
    found: list[Found | None] = [
        _search(grey, p, side_mm * px_per_mm, px_per_mm, limits, symbol) for p in predicted]
    full = _full_fit(found, centres_mm, code_mm, code.corners_px, px_per_mm, limits)
    if full is not None:
        h, used, code_error_mm = full
        partial = False
    else:
        used = [i for i, f in enumerate(found) if f is not None]
        h = _anchor_fit(np.concatenate([code_mm, centres_mm[used]]),
                        np.concatenate([code.corners_px,
                                        np.array([found[i][0] for i in used]).reshape(-1, 2)]))
        code_error_mm = float(np.hypot(*(apply(h, code_mm) - code.corners_px).T).max()
                              ) / px_per_mm
        partial = True
    if used:
        black = float(np.median([found[i][1] for i in used]))  # type: ignore[index]
        paper = float(np.median([found[i][2] for i in used]))  # type: ignore[index]
    else:
        black, paper = _code_levels(grey, code.corners_px)
    return Registration(
        page_to_image=h,
        px_per_mm=local_scale(h, centres_mm.mean(0)),
        fiducials_px=[f[0] if f is not None and i in used else None
                      for i, f in enumerate(found)],
        black_level=black,
        paper_level=paper,
        code_error_mm=code_error_mm,
        partial=partial,
        anchors_mm=np.concatenate([code_mm, centres_mm[used]]),
        anchors_px=np.concatenate([code.corners_px, np.array(
            [found[i][0] for i in used]).reshape(-1, 2)]),  # type: ignore[index]
    )


#: the QR symbol's polygon is grown by this (its quiet zone) where fiducials are not searched
QUIET_MM = 1.0


def _full_fit(found: list[Found | None], centres_mm: np.ndarray, code_mm: np.ndarray,
              code_px: np.ndarray, px_per_mm: float, limits: RegistrationLimits
              ) -> tuple[np.ndarray, list[int], float] | None:
    """The map from all fiducials found (4: a homography, 3: an affine map) when they lie on
    a flat sheet and agree with the code; else from the best 3 of 4 that do; else None."""
    good = [i for i, f in enumerate(found) if f is not None]
    if len(good) < limits.min_fiducials:
        return None
    subsets = [good] + ([[j for j in good if j != i] for i in good] if len(good) == 4 else [])
    for used in subsets:
        src = centres_mm[used]
        dst = np.array([found[i][0] for i in used])  # type: ignore[index]
        if len(used) == 4:
            h = cv2.getPerspectiveTransform(src.astype(np.float32),
                                            dst.astype(np.float32)).astype(np.float64)
            design = np.column_stack([src, np.ones(len(src))])
            affine = np.linalg.lstsq(design, dst, rcond=None)[0]  # (3, 2)
            off_mm = float(np.hypot(*(design @ affine - dst).T).max()) / px_per_mm
            if off_mm > limits.perspective_mm:
                continue  # warped, folded, or one of them is no fiducial
        else:
            h = np.vstack([cv2.getAffineTransform(src.astype(np.float32),
                                                  dst.astype(np.float32)), [0.0, 0.0, 1.0]])
        code_error_mm = float(np.hypot(*(apply(h, code_mm) - code_px).T).max()) / px_per_mm
        if code_error_mm <= limits.code_error_mm:
            return h, used, code_error_mm
    return None


def _anchor_fit(src_mm: np.ndarray, dst_px: np.ndarray) -> np.ndarray:
    """Least-squares map through the anchors: an affine map once a fiducial far from the code
    is among them (3+ points not all of the code), else a similarity from the code alone."""
    if len(src_mm) >= 6:  # the code's 4 corners and 2 fiducials
        design = np.column_stack([src_mm, np.ones(len(src_mm))])
        affine = np.linalg.lstsq(design, dst_px, rcond=None)[0]  # (3, 2)
        return np.vstack([affine.T, [0.0, 0.0, 1.0]])
    return similarity(src_mm, dst_px)


def _grown(corners_px: np.ndarray, by_px: float) -> np.ndarray:
    """The polygon `corners_px` moved outwards from its centre by `by_px`."""
    c = corners_px.mean(0)
    d = corners_px - c
    return c + d * (1.0 + by_px / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1.0))[:, None]


def _code_levels(grey: np.ndarray, corners_px: np.ndarray) -> tuple[float, float]:
    """(ink, paper) grey levels from the QR symbol itself, when no fiducial is left: its dark
    modules are printed black like the fiducials."""
    x0, y0 = np.floor(corners_px.min(0)).astype(int)
    x1, y1 = np.ceil(corners_px.max(0)).astype(int)
    h, w = grey.shape[:2]
    window = grey[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if window.size == 0:
        return 0.0, 255.0
    ink, paper = quantiles(window, (0.15, 0.95))
    return float(ink), float(paper)


def local_scale(h: np.ndarray, point_mm: np.ndarray) -> float:
    """Image pixels per page millimetre of the map `h` near `point_mm` (geometric mean)."""
    p = np.asarray(point_mm, np.float64)
    pts = p + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    q = apply(h, pts)
    jac = np.column_stack([q[1] - q[0], q[2] - q[0]])
    return float(np.sqrt(abs(np.linalg.det(jac))))
