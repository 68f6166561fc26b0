"""Find the answer targets on a scanned blank: squares, rectangles, circles, ovals, □ glyphs.

A target is a small closed outline whose inside is (nearly) empty paper: a hole of an ink
component that is little more than the hole's own border. Table cells are holes too, but of the
table's whole line network (their component is much larger than the cell), and a glyph's hole
(口 in 部) belongs to the whole glyph: neither is taken. The shape is told by how much of its
bounding box the hole covers (a rectangle nearly all, an ellipse pi/4).

Then `reading_order` numbers them: rows by their centre height (a row is the targets whose
centres lie within half a target height), left to right within a row.
When no blank is at hand, `learn_from_sheets` learns from filled sheets of the form: each is laid
onto the first (ORB + RANSAC, then ECC), a target is one found empty on any of them, and the
reference is every pixel's lightest (a bubble marked on every sheet is not found).
A target whose inside holds a printed letter or digit is a target: its inside may be up to
`max_inside_ink` ink; the readers lift that print (`omr.foreign.print_masks`).
Pure: uint8 grey image + its dpi in, targets in page millimetres out.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class LearnSettings:
    """What counts as an answer target (units in the names)."""

    #: inside size of a target, each side
    min_side_mm: float = 2.5
    max_side_mm: float = 20.0
    #: longer side over shorter side
    max_aspect: float = 3.0
    #: the outline's ink component may reach this far beyond the inside (its border)
    max_border_mm: float = 1.2
    #: share of the inside that may be ink (a bubble's printed letter)
    max_inside_ink: float = 0.35
    #: grey level below which a pixel is ink (None: Otsu's)
    ink_level: int | None = None


@dataclass(frozen=True)
class Target:
    """One answer target: the inside of its outline, page mm, and its shape."""

    rect_mm: tuple[float, float, float, float]
    shape: Literal["rectangle", "ellipse"]
    row: int = 0
    col: int = 0


def find_targets(grey: np.ndarray, dpi: float, settings: LearnSettings = LearnSettings()
                 ) -> list[Target]:
    """The answer targets of a blank (`grey` uint8 at `dpi`), in reading order."""
    k = dpi / MM_PER_INCH
    if settings.ink_level is None:
        level, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        level = float(np.clip(level, 64, 200)) + 1  # a pure black-and-white page: 0
    else:
        level = settings.ink_level
    ink = (grey < level).astype(np.uint8)
    contours, hierarchy = cv2.findContours(ink, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    found = []
    lo, hi = settings.min_side_mm * k, settings.max_side_mm * k
    for i, (_, _, _, parent) in enumerate(hierarchy):
        if parent < 0:
            continue  # an outer contour: ink, not a hole
        x, y, w, h = cv2.boundingRect(contours[i])
        if not (lo <= w <= hi and lo <= h <= hi) or max(w, h) > settings.max_aspect * min(w, h):
            continue
        px, py, pw, ph = cv2.boundingRect(contours[parent])
        border = settings.max_border_mm * k
        if (x - px > border or y - py > border or px + pw - x - w > border
                or py + ph - y - h > border):
            continue  # a table cell or a glyph's hole: its ink reaches far beyond it
        hole = np.zeros((h + 2, w + 2), np.uint8)
        cv2.drawContours(hole, [contours[i]], -1, 1, -1, offset=(1 - x, 1 - y))
        area = float(hole.sum())
        inside = ink[y:y + h, x:x + w][hole[1:-1, 1:-1] > 0]
        # the contour runs on the hole's edge pixels (paper); a letter inside is ink
        if inside.size == 0 or float(inside.mean()) > settings.max_inside_ink:
            continue
        cover = area / float(w * h)
        if cover >= 0.88:
            shape: Literal["rectangle", "ellipse"] = "rectangle"
        elif 0.68 <= cover <= 0.86:
            shape = "ellipse"
        else:
            continue  # a bracket's gap, a triangle, a ragged hole
        # a hole's contour runs on the ink pixels around it: the inside is one pixel in
        found.append(Target(((x + 1) / k, (y + 1) / k, (w - 2) / k, (h - 2) / k), shape))
    return reading_order(_dedupe(found))


def _dedupe(targets: list[Target]) -> list[Target]:
    """Drop a target nested in another (a double outline): keep the inner one."""
    out = []
    for t in targets:
        x, y, w, h = t.rect_mm
        inner = any(o is not t and o.rect_mm[0] >= x and o.rect_mm[1] >= y
                    and o.rect_mm[0] + o.rect_mm[2] <= x + w and o.rect_mm[1] + o.rect_mm[3]
                    <= y + h for o in targets)
        if not inner:
            out.append(t)
    return out


def reading_order(targets: list[Target]) -> list[Target]:
    """Targets sorted into rows (top to bottom) and columns (left to right), with their row and
    column numbers (1-based; the column counts within the row)."""
    if not targets:
        return []
    todo = sorted(targets, key=lambda t: t.rect_mm[1] + t.rect_mm[3] / 2)
    rows: list[list[Target]] = []
    for t in todo:
        cy = t.rect_mm[1] + t.rect_mm[3] / 2
        if rows:
            last = rows[-1]
            ref_cy = np.mean([r.rect_mm[1] + r.rect_mm[3] / 2 for r in last])
            ref_h = np.mean([r.rect_mm[3] for r in last])
            if abs(cy - ref_cy) <= 0.5 * max(ref_h, t.rect_mm[3]):
                last.append(t)
                continue
        rows.append([t])
    out = []
    for r, row in enumerate(rows, 1):
        for c, t in enumerate(sorted(row, key=lambda t: t.rect_mm[0]), 1):
            out.append(Target(tuple(round(v, 3) for v in t.rect_mm), t.shape, r, c))
    return out


def overlay(grey: np.ndarray, dpi: float, rects_mm: list[tuple[float, float, float, float]],
            labels: list[str], shapes: list[str] | None = None,
            problems: set[int] | None = None) -> np.ndarray:
    """The blank (RGB) with each target outlined and labelled (ASCII): red, or orange for the
    indices in `problems` (a target no field takes)."""
    k = dpi / MM_PER_INCH
    out = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    thick = max(1, round(0.25 * k))
    scale = max(0.3, 0.12 * k / 3)
    for i, ((x, y, w, h), label) in enumerate(zip(rects_mm, labels, strict=True)):
        colour = (255, 140, 0) if problems and i in problems else (220, 0, 0)
        p0, p1 = (round(x * k), round(y * k)), (round((x + w) * k), round((y + h) * k))
        if shapes and shapes[i] == "ellipse":
            centre = ((p0[0] + p1[0]) // 2, (p0[1] + p1[1]) // 2)
            cv2.ellipse(out, centre, ((p1[0] - p0[0]) // 2, (p1[1] - p0[1]) // 2), 0, 0, 360,
                        colour, thick)
        else:
            cv2.rectangle(out, p0, p1, colour, thick)
        cv2.putText(out, label, (p0[0], p0[1] - thick - 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 200), max(1, thick // 2), cv2.LINE_AA)
    return out


class AlignError(ValueError):
    """A sheet could not be laid onto the first one (`learn_from_sheets`); `sheet` is its
    1-based number (0 until known)."""

    def __init__(self, message: str, sheet: int = 0) -> None:
        super().__init__(message)
        self.sheet = sheet


#: ORB features sought on each sheet for aligning it onto the first
ALIGN_FEATURES = 6000
#: the ECC refinement runs on the sheets resampled to this many px per mm
ALIGN_PX_PER_MM = 4.0


def align_sheets(frame: np.ndarray, sheet: np.ndarray, dpi: float) -> np.ndarray:
    """Homography (3 x 3) taking `frame` px to `sheet` px: ORB + RANSAC, then ECC."""
    orb = cv2.ORB_create(ALIGN_FEATURES)
    kf, df = orb.detectAndCompute(frame, None)
    ks, ds = orb.detectAndCompute(sheet, None)
    if df is None or ds is None or len(kf) < 20 or len(ks) < 20:
        raise AlignError("too few features to align it on the first sheet")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(df, ds, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 20:
        raise AlignError(f"only {len(good)} features match the first sheet: another form?")
    src = np.float32([kf[m.queryIdx].pt for m in good])
    dst = np.float32([ks[m.trainIdx].pt for m in good])
    h, inlier = cv2.findHomography(src, dst, cv2.RANSAC, 3.0, maxIters=4000, confidence=0.999)
    if h is None or int(inlier.sum()) < 20:
        raise AlignError("its features agree on no single placement: another form?")
    # ECC on both at a common smaller scale refines the fit to a fraction of a pixel there
    s = min(1.0, ALIGN_PX_PER_MM * MM_PER_INCH / dpi)
    scale = np.diag([s, s, 1.0])
    small_f = cv2.resize(frame, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    small_s = cv2.resize(sheet, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    warp = (scale @ h @ np.linalg.inv(scale)).astype(np.float32)
    with contextlib.suppress(cv2.error):  # ECC did not converge: ORB's fit stands
        _, warp = cv2.findTransformECC(
            cv2.GaussianBlur(small_f, (5, 5), 0).astype(np.float32),
            cv2.GaussianBlur(small_s, (5, 5), 0).astype(np.float32),
            warp, cv2.MOTION_HOMOGRAPHY,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6), None, 5)
    return np.linalg.inv(scale) @ warp.astype(np.float64) @ scale


def learn_from_sheets(sheets: list[np.ndarray], dpi: float,
                      settings: LearnSettings = LearnSettings()
                      ) -> tuple[np.ndarray, list[Target]]:
    """Learn a form from filled sheets when no blank is at hand (uint8 grey at `dpi`; the
    first is the frame): each is laid onto the first (ORB + RANSAC, then ECC); the targets are
    those found on any sheet (a box marked on one shows empty on another; one marked on every
    sheet is not found), and the reference returned is every pixel's lightest over the laid
    sheets (the voters' marks mostly gone). AlignError names the sheet (1-based) that could
    not be laid on the first."""
    frame = sheets[0]
    k = dpi / MM_PER_INCH
    blank = frame.copy()
    found = list(find_targets(frame, dpi, settings))
    for i, sheet in enumerate(sheets[1:], 2):
        try:
            h = align_sheets(frame, sheet, dpi)
        except AlignError as exc:
            raise AlignError(f"sheet {i}: {exc}", i) from None
        laid = cv2.warpPerspective(sheet, h, (frame.shape[1], frame.shape[0]),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        np.maximum(blank, laid, out=blank)
        back = np.linalg.inv(h)
        for t in find_targets(sheet, dpi, settings):
            x, y, w, hh = t.rect_mm
            centre = back @ np.array([(x + w / 2) * k, (y + hh / 2) * k, 1.0])
            cx, cy = centre[0] / centre[2] / k, centre[1] / centre[2] / k
            if not any(abs(cx - (o.rect_mm[0] + o.rect_mm[2] / 2)) < o.rect_mm[2] / 2
                       and abs(cy - (o.rect_mm[1] + o.rect_mm[3] / 2)) < o.rect_mm[3] / 2
                       for o in found):
                found.append(Target((cx - w / 2, cy - hh / 2, w, hh), t.shape))
    return blank, reading_order(found)
