"""The effects behind `omr.sim.degrade`'s operations, applied to page images in place or anew.

Paper effects (before the scanner's warp) take the page in page pixels and the canvas background;
scanner effects take the scan. Each is deterministic for its recorded parameters (those with
randomness carry a `seed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

NOISE_TILE_PX = 1024
NOISE_LEVELS = (2, 4, 6, 9, 12)
#: bitonal threshold when an operation gives none (a hand-written one in a test)
BITONAL_LEVEL = 180


@dataclass(frozen=True)
class PageInfo:
    """What planning and applying need to know about a page (millimetres, top-left origin)."""

    width_mm: float
    height_mm: float
    px_per_mm: tuple[float, float]
    dpi: int
    boxes_mm: tuple[tuple[float, float, float, float], ...]
    fiducials_mm: tuple[tuple[float, float, float, float], ...]
    code_mm: tuple[float, float, float, float]


def _paper_tone(image: np.ndarray, op: dict, page: PageInfo, bg: int) -> np.ndarray:
    lo, hi = op["ink"], op["paper"]
    lut = np.rint(lo + np.arange(256) * (hi - lo) / 255.0).astype(np.uint8)
    return cv2.LUT(image, lut)


def _fold(image: np.ndarray, op: dict, page: PageInfo, bg: int) -> np.ndarray:
    """A crease: a thin light or dark line right across the page."""
    sx, sy = page.px_per_mm
    h, w = image.shape[:2]
    t = np.tan(np.deg2rad(op["angle_deg"]))
    if op["axis"] == "h":
        y0 = op["pos_mm"] * sy
        p0, p1 = (0.0, y0), (float(w), y0 + t * w)
    else:
        x0 = op["pos_mm"] * sx
        p0, p1 = (x0, 0.0), (x0 + t * h, float(h))
    pad = op["width_px"] + 3
    bx0 = max(0, int(min(p0[0], p1[0])) - pad)
    by0 = max(0, int(min(p0[1], p1[1])) - pad)
    bx1 = min(w, int(max(p0[0], p1[0])) + pad)
    by1 = min(h, int(max(p0[1], p1[1])) + pad)
    if bx1 <= bx0 or by1 <= by0:
        return image
    mask = np.zeros((by1 - by0, bx1 - bx0), np.uint8)
    pt = [(round((p[0] - bx0) * 8), round((p[1] - by0) * 8)) for p in (p0, p1)]
    cv2.line(mask, pt[0], pt[1], 255, op["width_px"], cv2.LINE_AA, 3)
    shade = 1.0 - mask.astype(np.float32) * ((1.0 - op["level"] / 255.0) / 255.0)
    region = image[by0:by1, bx0:bx1]
    region[:] = np.rint(region * (shade[..., None] if image.ndim == 3 else shade)).astype(
        np.uint8)
    return image


def _corner_xy(page: PageInfo, corner: int) -> tuple[float, float]:
    return [(0.0, 0.0), (page.width_mm, 0.0), (page.width_mm, page.height_mm),
            (0.0, page.height_mm)][corner]


def _cover_fiducial(image: np.ndarray, op: dict, page: PageInfo, bg: int) -> np.ndarray:
    x, y, w, h = page.fiducials_mm[op["corner"]]
    pad = op["pad_mm"]
    sx, sy = page.px_per_mm
    p0 = (int((x - pad) * sx), int((y - pad) * sy))
    p1 = (int((x + w + pad) * sx), int((y + h + pad) * sy))
    cv2.rectangle(image, p0, p1, (op["grey"],) * 3 if image.ndim == 3 else op["grey"], -1)
    return image


def _torn_corner(image: np.ndarray, op: dict, page: PageInfo, bg: int) -> np.ndarray:
    """The corner torn off along a ragged edge from leg_mm along one side to leg_mm down the
    other (the corner mark, at most 26 mm from the corner along that diagonal, goes with it)."""
    rng = np.random.default_rng(op["seed"])
    cx, cy = _corner_xy(page, op["corner"])
    ux, uy = (1.0 if cx == 0 else -1.0), (1.0 if cy == 0 else -1.0)
    leg = op["leg_mm"]
    t = np.linspace(0.0, 1.0, 9)
    along = leg - np.abs(rng.normal(0, 0.6, t.size))  # ragged, never nearer the corner mark
    edge = np.column_stack([cx + ux * along * (1 - t), cy + uy * along * t])
    outside = np.array([[cx - ux * 5, cy + uy * leg], [cx - ux * 5, cy - uy * 5],
                        [cx + ux * leg, cy - uy * 5]])
    pts = np.vstack([edge, outside])
    px = np.rint(pts * np.asarray(page.px_per_mm) * 8).astype(np.int32)
    cv2.fillPoly(image, [px], (bg,) * 3 if image.ndim == 3 else bg, cv2.LINE_AA, 3)
    return image


def _qr_blot(image: np.ndarray, op: dict, page: PageInfo, bg: int) -> np.ndarray:
    """An ink blot covering most of the QR code (all three finder patterns)."""
    rng = np.random.default_rng(op["seed"])
    x, y, s, _ = page.code_mm
    sx, sy = page.px_per_mm
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    r = s * (0.62 + 0.08 * np.sin(3 * t + rng.uniform(0, 6)) + rng.uniform(0, 0.06, t.size))
    cx, cy = x + s / 2 + rng.uniform(-1, 1), y + s / 2 + rng.uniform(-1, 1)
    pts = np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t) * 0.85])
    px = np.rint(pts * [sx, sy] * 8).astype(np.int32)
    ink = (int(rng.integers(20, 60)),) * 3 if image.ndim == 3 else int(rng.integers(20, 60))
    cv2.fillPoly(image, [px], ink, cv2.LINE_AA, 3)
    return image


PAPER_EFFECTS = {"paper": _paper_tone, "fold": _fold, "cover_fiducial": _cover_fiducial,
          "torn_corner": _torn_corner, "qr_blot": _qr_blot}


def _streak(image: np.ndarray, op: dict, page: PageInfo) -> np.ndarray:
    x0 = min(op["x_px"], image.shape[1] - 1)
    band = image[:, x0:x0 + op["width_px"]]
    np.minimum(band, op["level"], out=band)
    return image


def _dust(image: np.ndarray, op: dict, page: PageInfo) -> np.ndarray:
    rng = np.random.default_rng(op["seed"])
    h, w = image.shape[:2]
    for _ in range(op["count"]):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        v = int(rng.integers(0, 120))
        colour = (v,) * 3 if image.ndim == 3 else v
        if rng.random() < 0.85:
            cv2.circle(image, c, int(rng.integers(0, 3)), colour, -1, cv2.LINE_AA)
        else:  # a hair
            d = rng.normal(0, 12, 2)
            cv2.line(image, c, (int(c[0] + d[0]), int(c[1] + d[1])), colour, 1, cv2.LINE_AA)
    return image


def _blur(image: np.ndarray, op: dict, page: PageInfo) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), op["sigma_px"])


@lru_cache(maxsize=len(NOISE_LEVELS))
def _noise_tiles(sigma: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7000 + sigma)
    n = rng.normal(0, sigma, (NOISE_TILE_PX, NOISE_TILE_PX))
    return (np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8))


def _noise(image: np.ndarray, op: dict, page: PageInfo) -> np.ndarray:
    """Gaussian sensor noise, added block by block from a fixed tile (no page-sized temporary)."""
    pos, neg = _noise_tiles(op["sigma"])
    rng = np.random.default_rng(op["seed"])
    oy, ox = (int(v) for v in rng.integers(0, NOISE_TILE_PX, 2))
    h, w = image.shape[:2]
    t = NOISE_TILE_PX
    for y0 in range(-oy, h, t):
        for x0 in range(-ox, w, t):
            ys, xs = max(y0, 0), max(x0, 0)
            ye, xe = min(y0 + t, h), min(x0 + t, w)
            p = pos[ys - y0:ye - y0, xs - x0:xe - x0]
            n = neg[ys - y0:ye - y0, xs - x0:xe - x0]
            if image.ndim == 3:
                p, n = p[..., None], n[..., None]
            roi = image[ys:ye, xs:xe]
            np.add(roi, np.minimum(p, 255 - roi), out=roi)
            np.subtract(roi, np.minimum(n, roi), out=roi)
    return image


@lru_cache(maxsize=1)
def _bayer8() -> np.ndarray:
    b = np.array([[0, 2], [3, 1]])
    for _ in range(2):
        b = np.block([[4 * b, 4 * b + 2], [4 * b + 3, 4 * b + 1]])
    return ((b + 0.5) / 64.0).astype(np.float32)


def _bitonal(image: np.ndarray, op: dict, page: PageInfo) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if op["method"] == "threshold":
        return np.where(grey > op.get("level", BITONAL_LEVEL), 255, 0).astype(np.uint8)
    # ordered dither after levelling: `black` maps to 0 and the threshold level to 7/8
    black = op.get("black", 0)
    span = max(1.0, (op.get("level", BITONAL_LEVEL) - black) / 0.875)
    levelled = np.clip((grey.astype(np.float32) - black) / span, 0.0, 1.0)
    h, w = grey.shape
    reps = (-(-h // 8), -(-w // 8))
    return np.where(levelled > np.tile(_bayer8(), reps)[:h, :w], 255, 0).astype(np.uint8)


SCANNER_EFFECTS = {"streak": _streak, "dust": _dust, "blur": _blur, "noise": _noise,
            "bitonal": _bitonal}


def noise_page(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A page of random blotchy texture and grain (h, w): not a ballot."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (shape[0] // 16 + 1, shape[1] // 16 + 1)).astype(np.float32)
    img = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 30, shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)
