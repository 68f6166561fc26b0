"""Registration: where the page's millimetres fall in the image.

1. The QR code's corners give a coarse similarity (page mm -> image px): position, scale and
   orientation (any angle, so a page turned 90°/180°/270° is handled with no image rotation).
2. Each corner fiducial (a solid 5 mm square) is searched for in a window around where the coarse
   transform puts it; a candidate must be a solid dark square of the right size.
3. A homography from 4 fiducials (an affine map from 3) maps page mm to image px; the QR corners
   are mapped back as an independent check. Fewer than 3 fiducials, or a fit that misses, is a
   `RegistrationError` with a reason a person understands; the page is never read by guessing.
4. Then (`omr.engine`) the printed borders of the boxes, found in their patches, measure the
   registration error where it matters; over `max_error_mm` the page is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
    area_tolerance: float,
) -> tuple[np.ndarray, float, float] | None:
    """Search a window of half-side `search_px` around `centre_px` for a solid dark square.

    Returns (centre (x, y) in image px, grey level of its ink, grey level of the paper around
    it), or None when no candidate has the right size, squareness and solidity.
    """
    h, w = grey.shape[:2]
    x0, y0 = int(max(0, centre_px[0] - search_px)), int(max(0, centre_px[1] - search_px))
    x1, y1 = int(min(w, centre_px[0] + search_px + 1)), int(min(h, centre_px[1] + search_px + 1))
    if x1 - x0 < side_px or y1 - y0 < side_px:
        return None
    hit = _square_in(np.ascontiguousarray(grey[y0:y1, x0:x1]), side_px, area_tolerance,
                     np.asarray(centre_px, np.float64) - (x0, y0))
    if hit is None:
        return None
    return hit[0] + np.array([x0, y0], np.float64), hit[1], hit[2]


def _square_in(window: np.ndarray, side_px: float, area_tolerance: float,
               centre_px: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """The solid dark square of about `side_px` nearest `centre_px` in `window` (its centre,
    its ink's grey level, the paper's)."""
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
    mask = cv2.morphologyEx((window < thresh).astype(np.uint8), cv2.MORPH_OPEN,
                            np.ones((k, k), np.uint8))
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
        dist = float(np.hypot(*(centroids[i] - centre_px)))
        if best is None or dist < best[0]:
            best = (dist, i)
    if best is None:
        return None
    i = best[1]
    ink = float(np.median(window[labels == i]))
    return centroids[i].astype(np.float64), ink, float(paper)


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
            limits: RegistrationLimits) -> tuple[np.ndarray, float, float] | None:
    """A fiducial near its predicted place, else anywhere in the wide search window."""
    for reach_mm in (limits.fiducial_near_mm, limits.fiducial_search_mm):
        hit = find_fiducial(grey, centre_px, side_px, reach_mm * px_per_mm,
                            limits.fiducial_area_tolerance)
        if hit is not None:
            return hit
    return None


def register(
    grey: np.ndarray, page_layout: dict, code: CodeHit, limits: RegistrationLimits,
) -> Registration:
    """Fit page mm -> image px for one layout page from its QR code and fiducials.

    `grey`: uint8 (H, W); `page_layout`: a page of the layout JSON (fiducials_mm, code_mm);
    `code`: the decoded QR code. Raises RegistrationError (reason for the operator).
    """
    code_mm = code_corners_mm(page_layout["code_mm"], code.modules)
    coarse = similarity(code_mm, code.corners_px)
    px_per_mm = float(np.hypot(coarse[0, 0], coarse[1, 0]))
    rects = np.asarray(page_layout["fiducials_mm"], np.float64)
    centres_mm = rects[:, :2] + rects[:, 2:] / 2
    side_mm = float(rects[:, 2:].mean())
    predicted = apply(coarse, centres_mm)
    found = [_search(grey, p, side_mm * px_per_mm, px_per_mm, limits) for p in predicted]
    good = [i for i, f in enumerate(found) if f is not None]
    if len(good) < limits.min_fiducials:
        missing = ", ".join(CORNER_NAMES[i] for i in range(4) if found[i] is None)
        if not good:
            raise RegistrationError("no corner marks found (the sheet may be cut off, folded "
                                    "over or badly skewed); re-scan it")
        raise RegistrationError(f"only {len(good)} of 4 corner marks found (missing: {missing}); "
                                "re-scan the sheet straight and whole")
    src = centres_mm[good]
    dst = np.array([found[i][0] for i in good])  # type: ignore[index]
    if len(good) == 4:
        h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
        h = h.astype(np.float64)
        design = np.column_stack([src, np.ones(len(src))])
        affine = np.linalg.lstsq(design, dst, rcond=None)[0]  # (3, 2)
        off_mm = float(np.hypot(*(design @ affine - dst).T).max()) / px_per_mm
        if off_mm > limits.perspective_mm:
            raise RegistrationError(
                f"the corner marks are {off_mm:.1f} mm off a flat sheet (limit "
                f"{limits.perspective_mm:g} mm): the sheet is warped, folded or photographed "
                "at an angle; re-scan it flat"
            )
    else:
        h = np.vstack([cv2.getAffineTransform(src.astype(np.float32), dst.astype(np.float32)),
                       [0.0, 0.0, 1.0]])
    mapped = apply(h, code_mm)
    code_error_mm = float(np.hypot(*(mapped - code.corners_px).T).max()) / px_per_mm
    if code_error_mm > limits.code_error_mm:
        raise RegistrationError(
            f"corner marks and QR code disagree by {code_error_mm:.1f} mm (limit "
            f"{limits.code_error_mm:g} mm): a corner mark is damaged or the sheet is warped; "
            "re-scan it"
        )
    inks = [found[i][1] for i in good]  # type: ignore[index]
    papers = [found[i][2] for i in good]  # type: ignore[index]
    return Registration(
        page_to_image=h,
        px_per_mm=local_scale(h, centres_mm.mean(0)),
        fiducials_px=[f[0] if f is not None else None for f in found],
        black_level=float(np.median(inks)),
        paper_level=float(np.median(papers)),
        code_error_mm=code_error_mm,
    )


def local_scale(h: np.ndarray, point_mm: np.ndarray) -> float:
    """Image pixels per page millimetre of the map `h` near `point_mm` (geometric mean)."""
    p = np.asarray(point_mm, np.float64)
    pts = p + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    q = apply(h, pts)
    jac = np.column_stack([q[1] - q[0], q[2] - q[0]])
    return float(np.sqrt(abs(np.linalg.det(jac))))
