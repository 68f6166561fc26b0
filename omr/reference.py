"""Registration of a foreign form's page against the reference image of its blank.

A form Scantally did not print has none of our corner marks and no QR code; its layout names a
reference image instead (`registration.kind: reference`, `forms.layout_json`). Here:

1. `prepare_reference` (once per form page, at the edge): the reference, resampled to
   `work_px_per_mm`, its ORB features, and anchor patches (textured places away from the
   answer targets) for the fine fit.
2. `match_reference`: ORB features of the page, matched to the reference's (ratio test), a
   RANSAC homography; its inlier count says how well the page matches this form (form choice).
3. `refine`: each anchor patch is searched for within +-`refine_search_mm` around where the
   coarse homography puts it (normalised cross-correlation, sub-pixel); a least-squares
   homography over the anchors found is the result. The third-worst anchor residual is the
   registration error: beyond `max_residual_mm` the page is refused with the reason.
4. `find_page_quad`: the sheet's four corners when it lies on a dark background (a lid-open
   scan, a photo), used to keep the features on the sheet.

The result is a `page_to_image` homography (page mm -> image px), the same the engine's own
registration produces, so the boxes are read by the same scoring and decision code.
Pure functions over numpy arrays: no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class ReferenceLimits:
    """Tolerances of reference registration, each named with its unit."""

    #: resolution the features are matched at (2 px/mm is about 50 dpi; a page matching no
    #: form there is tried again at `fine_feature_px_per_mm`: small print, a low-resolution
    #: scan), and the anchors fitted at (4 px/mm, about 100 dpi)
    feature_px_per_mm: float = 2.0
    fine_feature_px_per_mm: float = 4.0
    work_px_per_mm: float = 4.0
    #: ORB features kept per image
    max_features: int = 1000
    #: Lowe's ratio test between the best and second-best descriptor match
    match_ratio: float = 0.8
    #: RANSAC reprojection threshold of the coarse homography
    ransac_mm: float = 1.0
    #: fewest RANSAC inliers for a page to match a form at all (a page of the right form has
    #: hundreds; another form set in the same house style, a few dozen: its title, its rules)
    min_inliers: int = 80
    #: another form within this share of the best form's inliers makes the choice ambiguous
    ambiguous_share: float = 0.8
    #: side of an anchor patch, and how far it is searched around its coarse place
    anchor_mm: float = 8.0
    refine_search_mm: float = 1.0
    #: a found anchor correlates at least this well with the reference
    anchor_min_correlation: float = 0.5
    #: fewest anchors found for the fine fit, and the share of those found that must agree
    min_anchors: int = 8
    min_anchor_share: float = 0.6
    #: the anchors may lie this far from the fitted homography (third-worst): more, refused
    max_residual_mm: float = 0.5
    #: keep anchors this far from any answer target (a mark must not move the fit)
    anchor_clearance_mm: float = 2.0


@dataclass(frozen=True)
class ReferenceModel:
    """A reference page, prepared for matching (picklable: plain arrays)."""

    page_size_mm: tuple[float, float]
    work_px_per_mm: float
    feature_px_per_mm: float
    #: the reference grey image at work resolution
    work: np.ndarray
    #: ORB keypoint positions (N, 2) in page mm, and their descriptors (N, 32) uint8, at
    #: feature_px_per_mm and at the fine resolution
    points_mm: np.ndarray
    descriptors: np.ndarray
    fine_points_mm: np.ndarray
    fine_descriptors: np.ndarray
    #: anchor patch centres (M, 2) in work px
    anchors_px: np.ndarray
    #: grey level of the printed black and of the paper in the reference
    black_level: float
    paper_level: float
    #: the reference's printed matter at work resolution: 0 printed, 255 paper
    printed: np.ndarray
    #: up to 4000 places (page mm) where the reference is printed black, to measure the black
    #: of a scan
    black_points_mm: np.ndarray
    #: the anchor patches cut from `work` (one per row of `anchors_px`; None where the patch is
    #: too flat to pin a point), cut once here rather than on every page
    anchor_patches: tuple[np.ndarray | None, ...] = field(default=(), compare=False)


@dataclass
class ReferenceMatch:
    """A page matched to a reference: the coarse homography and how well it holds."""

    #: 3x3: page mm -> image px, from the matched features
    page_to_image: np.ndarray
    inliers: int


@dataclass
class ReferenceRegistration:
    """Page millimetres -> image pixels, fitted on the reference's anchors."""

    page_to_image: np.ndarray
    px_per_mm: float
    #: third-worst anchor residual (mm), and how many anchors were used
    residual_mm: float
    anchors: int
    inliers: int


class ReferenceError(ValueError):
    """The page cannot be registered on the reference; `str(exc)` says why, `anchors_found`
    how many of the reference's patches were seen on it."""

    def __init__(self, message: str, anchors_found: int = 0) -> None:
        super().__init__(message)
        self.anchors_found = anchors_found


@lru_cache(maxsize=8)
def _orb(limits: ReferenceLimits) -> cv2.ORB:
    """The ORB detector of these limits, made once per process (it holds no per-image state)."""
    return cv2.ORB_create(nfeatures=limits.max_features, scaleFactor=1.2, nlevels=6,
                          edgeThreshold=15, patchSize=31, fastThreshold=10)


def _features(work: np.ndarray, limits: ReferenceLimits, mask: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    keypoints, descriptors = _orb(limits).detectAndCompute(work, mask)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in keypoints], np.float32), descriptors


def prepare_reference(reference: np.ndarray, dpi: float, targets_mm: np.ndarray | None = None,
                      limits: ReferenceLimits = ReferenceLimits()) -> ReferenceModel:
    """Prepare a reference page (`reference`: uint8 grey of the blank at `dpi`) for matching.

    `targets_mm` ((N, 4) x, y, w, h, page mm): the answer targets; features and anchors on
    them are dropped, since a voter's mark changes them."""
    ppm = limits.work_px_per_mm
    h_px, w_px = reference.shape[:2]
    size_mm = (w_px * MM_PER_INCH / dpi, h_px * MM_PER_INCH / dpi)
    work = cv2.resize(reference, (round(size_mm[0] * ppm), round(size_mm[1] * ppm)),
                      interpolation=cv2.INTER_AREA)
    keep = np.full(work.shape, 255, np.uint8)
    if targets_mm is not None and len(targets_mm):
        pad = limits.anchor_clearance_mm
        for x, y, w, h in np.asarray(targets_mm, np.float64):
            cv2.rectangle(keep, (int((x - pad) * ppm), int((y - pad) * ppm)),
                          (int((x + w + pad) * ppm), int((y + h + pad) * ppm)), 0, -1)
    fppm = limits.feature_px_per_mm
    found = []
    for f in (fppm, limits.fine_feature_px_per_mm):
        small = cv2.resize(reference, (round(size_mm[0] * f), round(size_mm[1] * f)),
                           interpolation=cv2.INTER_AREA)
        small_keep = cv2.resize(keep, (small.shape[1], small.shape[0]),
                                interpolation=cv2.INTER_NEAREST)
        points, descriptors = _features(small, limits, small_keep)
        found += [points / f, descriptors]
    anchors = _anchors(work, keep, limits)
    dark = work[work < 128]
    black = float(np.percentile(dark, 10)) if dark.size > 50 else 0.0
    paper = float(np.percentile(work, 90))
    printed = np.where(work < paper - PRINT_CONTRAST, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(work < black + 20)
    step = max(1, len(xs) // 4000)
    black_mm = np.column_stack([xs[::step], ys[::step]]).astype(np.float64) / ppm
    return ReferenceModel(size_mm, ppm, fppm, work, *found, anchors, black, paper, printed,
                          black_mm, anchor_patches(work, anchors, limits))


#: an anchor patch this flat (grey-level standard deviation) cannot pin a point
ANCHOR_MIN_STD = 8.0


def anchor_patches(work: np.ndarray, anchors_px: np.ndarray, limits: ReferenceLimits
                   ) -> tuple[np.ndarray | None, ...]:
    """The patch of `work` (side `anchor_mm`) about each anchor centre; None when too flat."""
    half = round(limits.anchor_mm * limits.work_px_per_mm / 2)
    side = 2 * half + 1
    out: list[np.ndarray | None] = []
    for cx, cy in anchors_px:
        x0, y0 = int(cx) - half, int(cy) - half
        tpl = work[y0:y0 + side, x0:x0 + side]
        out.append(np.ascontiguousarray(tpl) if tpl.std() >= ANCHOR_MIN_STD else None)
    return tuple(out)


#: a reference pixel this much darker than its paper is printed matter
PRINT_CONTRAST = 60


def _anchors(work: np.ndarray, keep: np.ndarray, limits: ReferenceLimits) -> np.ndarray:
    """Textured patch centres spread over the page: on a 6 x 8 grid of cells, the place of
    most gradient energy in each cell (patches must hold detail both ways to pin a point)."""
    ppm = limits.work_px_per_mm
    half = round(limits.anchor_mm * ppm / 2)
    edge = half + round(limits.refine_search_mm * ppm) + 2
    g = work.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    k = (2 * half + 1, 2 * half + 1)
    sxx, syy, sxy = (cv2.boxFilter(a, -1, k) for a in (gx * gx, gy * gy, gx * gy))
    # the smaller eigenvalue of the structure tensor: detail in both directions
    energy = (sxx + syy) / 2 - np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    clear = cv2.erode(keep, np.ones(k, np.uint8)) > 0
    energy[~clear] = 0
    energy[:edge, :] = 0
    energy[-edge:, :] = 0
    energy[:, :edge] = 0
    energy[:, -edge:] = 0
    h, w = work.shape
    floor = max(float(np.percentile(energy[energy > 0], 50)) if (energy > 0).any() else 0, 1.0)
    out = []
    for ys in np.array_split(np.arange(h), 8):
        for xs in np.array_split(np.arange(w), 6):
            cell = energy[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]
            j = int(np.argmax(cell))
            if cell.flat[j] > floor:
                out.append((xs[0] + j % cell.shape[1], ys[0] + j // cell.shape[1]))
    return np.array(out, np.float64).reshape(-1, 2)


def page_features(grey: np.ndarray, page_size_mm: tuple[float, float], dpi: float | None,
                  limits: ReferenceLimits = ReferenceLimits(),
                  quad_px: np.ndarray | None = None, fine: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """ORB features of a page: positions (N, 2) in image px and descriptors, found on the page
    resampled near `feature_px_per_mm` (the scale from the sheet's edges when found, else from
    `dpi`, else from the image fitting the page) and inside the sheet when its edges are known.
    """
    w_mm, h_mm = page_size_mm
    if quad_px is not None:
        side_px = np.linalg.norm(quad_px[1] - quad_px[0]) + np.linalg.norm(quad_px[2] - quad_px[3])
        px_per_mm = side_px / 2 / w_mm
    elif dpi:
        px_per_mm = dpi / MM_PER_INCH
    else:
        h, w = grey.shape
        px_per_mm = min(w / w_mm, h / h_mm)
    scale = (limits.fine_feature_px_per_mm if fine else limits.feature_px_per_mm) / px_per_mm
    small, scale = shrink(grey, scale)
    mask = None
    if quad_px is not None:
        mask = np.zeros(small.shape, np.uint8)
        cv2.fillConvexPoly(mask, np.round(quad_px * scale).astype(np.int32), 255)
    points, descriptors = _features(small, limits, mask)
    return points / scale, descriptors


def shrink(grey: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """`grey` resampled by about `scale` (halvings by pyrDown, fast, then a linear resize), and
    the exact scale of the result."""
    small, done = grey, 1.0
    while scale / done <= 0.5:
        small = cv2.pyrDown(small)
        done *= small.shape[1] / (grey.shape[1] * done)
    rest = scale / done
    if abs(rest - 1.0) > 0.02:
        small = cv2.resize(small, None, fx=rest, fy=rest, interpolation=cv2.INTER_LINEAR)
    return small, small.shape[1] / grey.shape[1]


def match_reference(model: ReferenceModel, points_px: np.ndarray, descriptors: np.ndarray,
                    limits: ReferenceLimits = ReferenceLimits(), fine: bool = False
                    ) -> ReferenceMatch | None:
    """The coarse homography page mm -> image px from the page's ORB features (`points_px`
    image px, `descriptors`) matched to the reference's; None when fewer than `min_inliers`
    agree (the page is not this form). `fine`: the features found at the fine resolution."""
    ref_points = model.fine_points_mm if fine else model.points_mm
    ref_descriptors = model.fine_descriptors if fine else model.descriptors
    if len(descriptors) < limits.min_inliers or len(ref_descriptors) < limits.min_inliers:
        return None
    # the two nearest page descriptors of each reference descriptor (brute force, Hamming),
    # as arrays: what BFMatcher.knnMatch(k=2) finds, without a DMatch object per pair
    distances, nearest = cv2.batchDistance(ref_descriptors, descriptors, cv2.CV_32S,
                                           normType=cv2.NORM_HAMMING, K=2)
    good = np.nonzero((nearest[:, 1] >= 0)
                      & (distances[:, 0] < limits.match_ratio * distances[:, 1]))[0]
    if len(good) < limits.min_inliers:
        return None
    src = ref_points[good]
    dst = points_px[nearest[good, 0]]
    # RANSAC's tolerance in image px: ransac_mm at the page's rough scale
    span_px = np.ptp(dst, axis=0).max() / max(np.ptp(src, axis=0).max(), 1.0)
    h, inlier = cv2.findHomography(src, dst, cv2.RANSAC, max(limits.ransac_mm * span_px, 1.0),
                                   maxIters=4000, confidence=0.999)
    if h is None:
        return None
    count = int(inlier.sum())
    if count < limits.min_inliers or not _plausible(h, model):
        return None
    return ReferenceMatch(h / h[2, 2], count)


def _plausible(h: np.ndarray, model: ReferenceModel) -> bool:
    """A homography that keeps the page a convex quadrilateral whose sides keep their ratio
    (within 25%): no reflection, no wild perspective."""
    ww, hh = model.page_size_mm
    corners = np.array([[0, 0], [ww, 0], [ww, hh], [0, hh]], np.float64)
    q = apply(h, corners)
    if not cv2.isContourConvex(np.round(q * 8).astype(np.int32)):
        return False
    a, b = q[1] - q[0], q[3] - q[0]
    if a[0] * b[1] - a[1] * b[0] <= 0:  # mirrored
        return False
    top, bottom = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])
    left, right = np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1])
    ratio = (left + right) / (top + bottom) / (hh / ww)
    return bool(0.75 < ratio < 1.33 and 0.75 < top / bottom < 1.33 and 0.75 < left / right
                < 1.33)


def refine(model: ReferenceModel, grey: np.ndarray, match: ReferenceMatch,
           limits: ReferenceLimits = ReferenceLimits()) -> ReferenceRegistration:
    """Fit the page (`grey`, uint8) on the reference's anchors, each searched within
    +-`refine_search_mm` of where the coarse homography puts it; `ReferenceError` when too
    few are found or they do not agree."""
    ppm = model.work_px_per_mm
    half = round(limits.anchor_mm * ppm / 2)
    reach = max(1, round(limits.refine_search_mm * ppm))
    side = 2 * half + 1
    big = side + 2 * reach
    work_to_image = match.page_to_image @ np.diag([1 / ppm, 1 / ppm, 1.0])
    patches = model.anchor_patches
    if len(patches) != len(model.anchors_px):  # a model made without its patches cut
        patches = anchor_patches(model.work, model.anchors_px, limits)
    centres, scores, tops = [], [], []
    for (cx, cy), tpl in zip(model.anchors_px, patches, strict=True):
        if tpl is None or tpl.shape != (side, side):
            continue
        x0, y0 = int(cx) - half, int(cy) - half
        # the page around the anchor, resampled into the reference's frame by the coarse map
        shift = np.array([[1, 0, x0 - reach], [0, 1, y0 - reach], [0, 0, 1]], np.float64)
        win = cv2.warpPerspective(grey, work_to_image @ shift, (big, big),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderValue=255)
        score = cv2.matchTemplate(win, tpl, cv2.TM_CCOEFF_NORMED)
        _, top, _, at = cv2.minMaxLoc(score)
        if top < limits.anchor_min_correlation:
            continue
        centres.append((cx, cy))
        scores.append(score)
        tops.append(at)
    src = np.array(centres, np.float64).reshape(-1, 2) / ppm
    found = np.zeros((0, 2))
    if centres:
        # the reference point (cx, cy) shows in the resampled page at (cx + dx, cy + dy)
        offsets = _peak_offsets(np.stack(scores), np.array(tops, np.intp)) - reach
        found = np.array(centres, np.float64) + offsets
    dst = apply(work_to_image, found) if len(found) else np.zeros((0, 2))
    if len(src) < limits.min_anchors:
        raise ReferenceError(
            f"only {len(src)} of {len(model.anchors_px)} reference patches found on the page "
            f"(at least {limits.min_anchors} needed): the sheet is damaged, covered or not this "
            "form; re-scan it", len(src))
    s, d = src, dst
    # anchors on what the voter wrote or a stain do not agree: RANSAC leaves them out
    rough = _mean_scale(match.page_to_image, model.page_size_mm)
    h, inlier = cv2.findHomography(s, d, cv2.RANSAC, limits.max_residual_mm * rough)
    keep = inlier.ravel() > 0 if h is not None else np.zeros(len(s), bool)
    if keep.sum() < max(limits.min_anchors, limits.min_anchor_share * len(s)):
        raise ReferenceError(
            f"only {int(keep.sum())} of {len(s)} reference patches agree on where the sheet "
            f"lies (within {limits.max_residual_mm:g} mm): the sheet is warped, folded or "
            "another print; re-scan it flat", int(keep.sum()))
    s, d = s[keep], d[keep]
    h, _ = cv2.findHomography(s, d, 0)
    h /= h[2, 2]
    px_per_mm = _mean_scale(h, model.page_size_mm)
    residual = np.sort(np.linalg.norm(apply(h, s) - d, axis=1)) / px_per_mm
    residual_mm = float(residual[-3])
    if residual_mm > limits.max_residual_mm:
        raise ReferenceError(
            f"the sheet does not fit its reference: residual {residual_mm:.2f} mm over the "
            f"{limits.max_residual_mm:g} mm limit (warped, folded or another print); re-scan "
            "it flat", len(s))
    return ReferenceRegistration(h, px_per_mm, residual_mm, len(s), match.inliers)


def _peak_offsets(scores: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(N, 2) sub-pixel x, y of each correlation peak: `scores` (N, n, n), its best cell `at`
    (N, 2) x, y refined by a parabola through the cell and its two neighbours along each axis
    (by at most half a cell); kept whole at the edge of the search, or where the three do not
    bend down."""
    rows = np.arange(len(scores))
    n = scores.shape[1]
    out = at.astype(np.float64)
    for axis in (0, 1):
        k = at[:, axis]
        inside = (k >= 1) & (k <= n - 2)
        j = np.clip(k, 1, n - 2)
        x, y = at[:, 0], at[:, 1]
        if axis == 0:
            a, b, c = (scores[rows, y, j + d].astype(np.float64) for d in (-1, 0, 1))
        else:
            a, b, c = (scores[rows, j + d, x].astype(np.float64) for d in (-1, 0, 1))
        den = a - 2 * b + c
        bend = inside & (den < 0)
        peak = np.clip(0.5 * (a - c) / np.where(bend, den, -1.0), -0.5, 0.5)
        out[:, axis] += np.where(bend, peak, 0.0)
    return out


def _mean_scale(h: np.ndarray, size_mm: tuple[float, float]) -> float:
    c = np.array([[size_mm[0] / 2, size_mm[1] / 2]])
    q = apply(h, np.concatenate([c, c + np.array([1.0, 0.0]), c + np.array([0.0, 1.0])]))
    return float((np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[0])) / 2)


def apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to (N, 2) points."""
    p = np.asarray(points, np.float64)
    q = p @ h[:, :2].T + h[:, 2]
    return q[:, :2] / q[:, 2:3]


def find_page_quad(grey: np.ndarray, min_share: float = 0.3) -> np.ndarray | None:
    """The sheet's corners (4, 2) image px, top-left first and clockwise, when it lies on a
    darker background; None when the image's border is paper (a flatbed scan) or no
    four-cornered sheet covering `min_share` of the image is found."""
    frame = np.concatenate([grey[:3, ::4].ravel(), grey[-3:, ::4].ravel(),
                            grey[::4, :3].ravel(), grey[::4, -3:].ravel()])
    paper = percentile_u8(grey[::8, ::8], 90)
    if float(np.median(frame)) > paper - 40:
        return None  # the border is paper: nothing to find
    small_scale = 800 / max(grey.shape)
    small = cv2.resize(grey, None, fx=small_scale, fy=small_scale, interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < min_share * small.size:
        return None
    hull = cv2.convexHull(c)
    quad = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(quad) != 4:
        return None
    return order_corners(quad.reshape(4, 2).astype(np.float64) / small_scale)


def percentile_u8(values: np.ndarray, q: float) -> float:
    """`float(np.percentile(values, q))` of uint8 `values`, from their histogram: exact (the
    two order statistics numpy interpolates between are counted; numpy itself is asked when
    they differ), and a fraction of a sort's time on a page's worth of pixels."""
    flat = np.ascontiguousarray(values).ravel()
    n = flat.size
    if n == 0 or flat.dtype != np.uint8:
        return float(np.percentile(values, q))
    cum = np.cumsum(np.bincount(flat, minlength=256))
    low = int(np.floor(q / 100 * (n - 1)))
    a, b = np.searchsorted(cum, [low, min(low + 1, n - 1)], side="right")
    return float(a) if a == b else float(np.percentile(flat, q))


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points ordered top-left, top-right, bottom-right, bottom-left."""
    p = np.asarray(points, np.float64)
    s, d = p.sum(1), p[:, 1] - p[:, 0]
    return np.array([p[np.argmin(s)], p[np.argmin(d)], p[np.argmax(s)], p[np.argmax(d)]])


def find_markers(grey: np.ndarray, marker: np.ndarray, marker_width_share: float
                 ) -> np.ndarray | None:
    """Centres (4, 2) image px of four corner markers (OMRChecker's `CropOnMarkers`), one per
    quarter of the image, top-left first and clockwise: `marker` (uint8 grey) is searched at
    0.4..1.4 x `marker_width_share` of the image's width. None when a quarter has no match
    scoring 0.5."""
    h, w = grey.shape
    base = marker_width_share * w / marker.shape[1]
    quarters = [(0, 0), (w // 2, 0), (w // 2, h // 2), (0, h // 2)]
    out = []
    for x0, y0 in quarters:
        part = grey[y0:y0 + h // 2, x0:x0 + w // 2]
        best = (-1.0, None)
        for f in np.linspace(0.4, 1.4, 26):
            size = max(8, round(marker.shape[1] * base * f))
            tpl = cv2.resize(marker, (size, round(size * marker.shape[0] / marker.shape[1])),
                             interpolation=cv2.INTER_AREA)
            if tpl.shape[0] >= part.shape[0] or tpl.shape[1] >= part.shape[1]:
                continue
            score = cv2.matchTemplate(part, tpl, cv2.TM_CCOEFF_NORMED)
            _, top, _, loc = cv2.minMaxLoc(score)
            if top > best[0]:
                best = (top, (x0 + loc[0] + tpl.shape[1] / 2, y0 + loc[1] + tpl.shape[0] / 2))
        if best[0] < 0.5 or best[1] is None:
            return None
        out.append(best[1])
    return np.array(out, np.float64)
