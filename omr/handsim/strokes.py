"""Pen strokes as paths with pressure, and their rasterisation into an ink-coverage patch.

A `Stroke` is one pen-down-to-pen-up path in page millimetres: points, and per point the line
width (mm) and the ink's opacity (0..1), both following the pressure. `rasterize` turns strokes
into an alpha patch (0 = no ink, 1 = the pen's full ink) at a given dpi: each segment is a
round-capped line anti-aliased by supersampling; overlapping strokes of ink darken each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MM_PER_INCH = 25.4
#: strokes are drawn on a grid this many times finer than the page, then averaged down
SUPERSAMPLE = 4
#: sub-pixel precision of the segment end points (cv2's fixed-point shift)
FIXED_BITS = 3
FIXED = 1 << FIXED_BITS


@dataclass
class Stroke:
    """One continuous pen path: points (N, 2) in page mm, width_mm (N,), opacity (N,)."""

    points_mm: np.ndarray
    width_mm: np.ndarray
    opacity: np.ndarray

    def bounds_mm(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) including half the widest line."""
        r = float(self.width_mm.max()) / 2
        lo = self.points_mm.min(axis=0) - r
        hi = self.points_mm.max(axis=0) + r
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


@dataclass
class InkPatch:
    """Ink coverage `alpha` (h, w) float32 whose top-left pixel is (x0_px, y0_px) on the page."""

    x0_px: int
    y0_px: int
    alpha: np.ndarray


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int
           ) -> np.ndarray:
    """n points on the cubic Bezier curve p0..p3 (each shape (2,)), endpoints included."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2
            + t ** 3 * p3)


def smooth_path(knots_mm: np.ndarray, per_span: int = 8) -> np.ndarray:
    """A Catmull-Rom curve through the knots (K, 2): the way a hand joins its turning points."""
    k = np.asarray(knots_mm, dtype=float)
    if len(k) < 3:
        return np.linspace(k[0], k[-1], max(2, per_span))
    ext = np.vstack([2 * k[0] - k[1], k, 2 * k[-1] - k[-2]])
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        c1 = p1 + (p2 - p0) / 6
        c2 = p2 - (p3 - p1) / 6
        seg = bezier(p1, c1, c2, p2, per_span + 1)
        out.append(seg if i == len(ext) - 3 else seg[:-1])
    return np.vstack(out)


def pressure_profile(n: int, rng: np.random.Generator, *, attack: float = 0.12,
                     release: float = 0.2, wobble: float = 0.08) -> np.ndarray:
    """Pressure 0..1 along a stroke: the pen lands, presses, and lifts (a flick at the end)."""
    s = np.linspace(0.0, 1.0, n)
    land = np.clip(s / max(attack, 1e-3), 0.0, 1.0) ** 0.5
    lift = np.clip((1.0 - s) / max(release, 1e-3), 0.0, 1.0) ** 0.7
    drift = 1.0 + wobble * np.sin(2 * np.pi * (s * rng.uniform(0.6, 1.8) + rng.uniform()))
    return np.clip(0.35 + 0.65 * np.minimum(land, lift) * drift, 0.05, 1.0)


def rasterize(strokes: list[Stroke], dpi: float, page_shape_px: tuple[int, int],
              *, soft_px: float = 1.0) -> InkPatch | None:
    """Ink coverage of the strokes on the page raster (None when nothing lands on the page).

    Each stroke is drawn as round-capped segments on a grid `SUPERSAMPLE` times finer than the
    page and averaged down (anti-aliasing). Within one stroke the coverage is the maximum over
    its segments (segments are drawn in order of opacity, the darker over the lighter: a path
    does not darken where its own segments join); separate strokes combine as layers of ink,
    1-(1-a)(1-b). `soft_px` above 1 blurs the edge (a felt tip's bleed).
    """
    if not strokes:
        return None
    k = dpi / MM_PER_INCH
    bounds = np.array([s.bounds_mm() for s in strokes])
    x0 = max(0, int(np.floor(bounds[:, 0].min() * k)) - 2)
    y0 = max(0, int(np.floor(bounds[:, 1].min() * k)) - 2)
    x1 = min(page_shape_px[1], int(np.ceil(bounds[:, 2].max() * k)) + 2)
    y1 = min(page_shape_px[0], int(np.ceil(bounds[:, 3].max() * k)) + 2)
    if x1 <= x0 or y1 <= y0:
        return None
    ss = SUPERSAMPLE
    total = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    fine = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss), dtype=np.uint8)
    origin = np.array([x0, y0], dtype=np.float64)
    for stroke in strokes:
        fine[:] = 0
        p = ((stroke.points_mm * k - origin) * ss * FIXED).round().astype(np.int64)
        w = np.maximum(1, np.round(stroke.width_mm * k * ss)).astype(int)
        o = np.clip(np.round(stroke.opacity * 255), 0, 255).astype(int)
        if len(p) == 1:
            p = np.vstack([p, p])
            w, o = np.repeat(w, 2), np.repeat(o, 2)
        seg_w = np.maximum(w[:-1], w[1:])
        seg_o = (o[:-1] + o[1:]) // 2
        for i in np.argsort(seg_o, kind="stable"):
            cv2.line(fine, (int(p[i, 0]), int(p[i, 1])), (int(p[i + 1, 0]), int(p[i + 1, 1])),
                     int(seg_o[i]), int(seg_w[i]), cv2.LINE_8, FIXED_BITS)
        if soft_px > 1.0:
            fine = cv2.GaussianBlur(fine, (0, 0), (soft_px - 1.0) * ss / 2 + 0.5)
        cov = cv2.resize(fine, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        cov = cov.astype(np.float32) / 255.0
        total = 1.0 - (1.0 - total) * (1.0 - cov)
    return InkPatch(x0, y0, total)
