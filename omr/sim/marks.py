"""How people mark a ballot: pens, ticks, crosses, circles, fills, scribbles and handwriting.

Shapes are built in page millimetres (origin top-left, y down) and inked onto a `Surface` (the
page image plus its pixel scale) by multiplying the paper with the pen's colour, so marks darken
printed lines the way ink does. A pencil is light (40–60 % darkness) and grainy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from forms.fonts import FONT_PATH

Rect = tuple[float, float, float, float]  # x, y, w, h in mm
Polyline = np.ndarray  # (n, 2) points in mm

PEN_RGB: dict[str, tuple[int, int, int]] = {
    "black": (28, 28, 34),
    "blue": (32, 58, 168),
    "red": (196, 38, 44),
    "pencil": (62, 62, 66),
}
_SUBPIXEL_BITS = 3
_GRAIN_TILE_PX = 256


@dataclass(frozen=True)
class Pen:
    """What a voter writes with: colour, opacity (pencil 0.4–0.6, ink ~1) and stroke width."""

    kind: str
    rgb: tuple[int, int, int]
    opacity: float
    width_mm: float

    @property
    def textured(self) -> bool:
        return self.kind == "pencil"

    def describe(self) -> dict:
        return {"pen": self.kind, "opacity": round(self.opacity, 2),
                "width_mm": round(self.width_mm, 2)}


def make_pen(kind: str, width_mm: float = 0.6, opacity: float | None = None) -> Pen:
    """A pen of `kind` (black, blue, red, pencil); a pencil defaults to 50 % darkness."""
    if kind not in PEN_RGB:
        raise ValueError(f"unknown pen {kind!r}; use one of {sorted(PEN_RGB)}")
    if opacity is None:
        opacity = 0.5 if kind == "pencil" else 0.97
    return Pen(kind, PEN_RGB[kind], opacity, width_mm)


def random_pen(rng: np.random.Generator) -> Pen:
    """Black and blue ball-point pens mostly, some red, some pencil (40–60 % darkness)."""
    kind = str(rng.choice(["black", "blue", "red", "pencil"], p=[0.45, 0.35, 0.08, 0.12]))
    width_mm = float(rng.uniform(0.4, 1.0))
    opacity = float(rng.uniform(0.4, 0.6)) if kind == "pencil" else float(rng.uniform(0.9, 1.0))
    return Pen(kind, PEN_RGB[kind], opacity, width_mm)


@lru_cache(maxsize=1)
def _grain_tile() -> np.ndarray:
    """Pencil grain: blurred noise around 1.0 (fixed, so runs are reproducible)."""
    rng = np.random.default_rng(20261120)
    noise = rng.standard_normal((_GRAIN_TILE_PX, _GRAIN_TILE_PX)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.8)
    noise /= noise.std() + 1e-6
    return np.clip(0.9 + 0.28 * noise, 0.35, 1.25).astype(np.float32)


class Surface:
    """A page image (grey (h, w) or RGB (h, w, 3) uint8) with its pixels-per-mm scale."""

    def __init__(self, image: np.ndarray, px_per_mm: tuple[float, float]) -> None:
        self.image = image
        self.px_per_mm = px_per_mm

    @property
    def colour(self) -> bool:
        return self.image.ndim == 3

    def to_px(self, points_mm: np.ndarray) -> np.ndarray:
        return np.asarray(points_mm, dtype=np.float64) * np.asarray(self.px_per_mm)

    def ink(self, pen: Pen, strokes: Sequence[Polyline] = (), fills: Sequence[Polyline] = (),
            rng: np.random.Generator | None = None, width_scale: float = 1.0) -> None:
        """Draw `strokes` (polylines) and `fills` (polygons), in mm, with `pen`."""
        if not strokes and not fills:
            return
        width_px = max(1, round(pen.width_mm * width_scale * self.px_per_mm[0]))
        pts = [self.to_px(s) for s in (*strokes, *fills)]
        allpts = np.vstack(pts)
        pad = width_px + 2
        h, w = self.image.shape[:2]
        x0 = max(0, int(np.floor(allpts[:, 0].min())) - pad)
        y0 = max(0, int(np.floor(allpts[:, 1].min())) - pad)
        x1 = min(w, int(np.ceil(allpts[:, 0].max())) + pad)
        y1 = min(h, int(np.ceil(allpts[:, 1].max())) + pad)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        scale = 1 << _SUBPIXEL_BITS
        offset = np.array([x0, y0], dtype=np.float64)
        for poly in pts[len(strokes):]:
            q = np.rint((poly - offset) * scale).astype(np.int32)
            cv2.fillPoly(mask, [q], 255, cv2.LINE_AA, _SUBPIXEL_BITS)
        for poly in pts[:len(strokes)]:
            q = np.rint((poly - offset) * scale).astype(np.int32)
            cv2.polylines(mask, [q], False, 255, width_px, cv2.LINE_AA, _SUBPIXEL_BITS)
        self.blend(mask, x0, y0, pen, rng)

    def blend(self, mask: np.ndarray, x0: int, y0: int, pen: Pen,
              rng: np.random.Generator | None = None) -> None:
        """Ink a coverage mask (uint8, 255 = full stroke) whose top-left is at (x0, y0) px."""
        h, w = self.image.shape[:2]
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + mask.shape[1], w), min(y0 + mask.shape[0], h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        alpha = mask[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0].astype(np.float32)
        alpha *= pen.opacity / 255.0
        if pen.textured:
            alpha *= _grain(alpha.shape, rng if rng is not None else np.random.default_rng(0))
            np.clip(alpha, 0.0, 1.0, out=alpha)
        region = self.image[cy0:cy1, cx0:cx1]
        if self.colour:
            keep = 1.0 - alpha[..., None] * (1.0 - np.asarray(pen.rgb, np.float32) / 255.0)
        else:
            luma = (0.299 * pen.rgb[0] + 0.587 * pen.rgb[1] + 0.114 * pen.rgb[2]) / 255.0
            keep = 1.0 - alpha * (1.0 - luma)
        region[:] = np.rint(region * keep).astype(np.uint8)


def _grain(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A pencil-grain field of `shape`, cut from the tile at a random offset."""
    tile = _grain_tile()
    gy, gx = (int(v) for v in rng.integers(0, _GRAIN_TILE_PX, 2))
    rolled = np.roll(tile, (-gy, -gx), axis=(0, 1))
    reps = (-(-shape[0] // _GRAIN_TILE_PX), -(-shape[1] // _GRAIN_TILE_PX))
    return np.tile(rolled, reps)[:shape[0], :shape[1]]


# --- shapes, in mm -------------------------------------------------------------------------


def _curve(p0: np.ndarray, p1: np.ndarray, bow: float, n: int = 14) -> Polyline:
    """A quadratic curve from p0 to p1 whose middle is pushed sideways by `bow` mm."""
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    ctrl = (p0 + p1) / 2 + bow * normal
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t ** 2 * p1


def _place(unit_pts: np.ndarray, rect: Rect, scale: float, angle_deg: float,
           shift_mm: np.ndarray) -> np.ndarray:
    """Map points given in box units (0..1 across, 0..1 down) into the box, scaled and slanted."""
    x, y, w, h = rect
    centre = np.array([x + w / 2, y + h / 2])
    pts = (unit_pts - 0.5) * np.array([w, h]) * scale
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + centre + shift_mm


def tick(rect: Rect, rng: np.random.Generator, overshoot: bool = False) -> list[Polyline]:
    """A √: a short down-stroke then a long up-stroke, varied in size and slant."""
    j = rng.uniform(-0.05, 0.05, (3, 2))
    unit = np.array([[0.16, 0.50], [0.40, 0.88], [0.88, 0.10]]) + j
    pts = _place(unit, rect, rng.uniform(0.7, 1.05), rng.normal(0, 7),
                 rng.uniform(-0.5, 0.5, 2) * np.array([0.6, 0.25]))
    if overshoot:  # the long stroke runs past the box's top-right edge a little
        d = pts[2] - pts[1]
        pts[2] = pts[2] + d / np.hypot(*d) * rng.uniform(0.6, 1.4)
    down = _curve(pts[0], pts[1], rng.uniform(-0.3, 0.3), 6)
    up = _curve(pts[1], pts[2], rng.uniform(-0.6, 0.3), 12)
    return [np.vstack([down, up[1:]])]


def cross(rect: Rect, rng: np.random.Generator) -> list[Polyline]:
    """A ×: two crossing diagonals."""
    j = rng.uniform(-0.06, 0.06, (4, 2))
    unit = np.array([[0.18, 0.15], [0.84, 0.86], [0.82, 0.14], [0.17, 0.87]]) + j
    pts = _place(unit, rect, rng.uniform(0.7, 1.05), rng.normal(0, 5), rng.uniform(-0.3, 0.3, 2))
    return [_curve(pts[0], pts[1], rng.uniform(-0.3, 0.3)),
            _curve(pts[2], pts[3], rng.uniform(-0.3, 0.3))]


def circle(rect: Rect, rng: np.random.Generator) -> list[Polyline]:
    """A ○ drawn in one stroke that overlaps its start a little."""
    x, y, w, h = rect
    s = rng.uniform(0.75, 1.0)
    cx = x + w / 2 + rng.uniform(-0.4, 0.4)
    cy = y + h / 2 + rng.uniform(-0.25, 0.25)
    start = rng.uniform(0, 2 * np.pi)
    t = np.linspace(start, start + 2 * np.pi + rng.uniform(0.2, 0.7), 40)
    wobble = 1.0 + 0.05 * np.sin(3 * t + rng.uniform(0, 6))
    rx, ry = 0.40 * w * s * wobble, 0.40 * h * s * wobble
    return [np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])]


def solid(rect: Rect, rng: np.random.Generator) -> list[Polyline]:
    """A box filled solid (a ragged polygon over nearly all of it): a fill polygon list."""
    x, y, w, h = rect
    e = rng.uniform(-0.25, 0.35, 8)
    poly = np.array([
        [x - e[0], y - e[1]], [x + w / 2, y - e[2]], [x + w + e[3], y - e[1]],
        [x + w + e[4], y + h / 2], [x + w + e[3], y + h + e[5]], [x + w / 2, y + h + e[6]],
        [x - e[7], y + h + e[5]], [x - e[0], y + h / 2],
    ])
    return [poly]


def partial(rect: Rect, rng: np.random.Generator) -> tuple[list[Polyline], float]:
    """A partial fill covering 45–80 % of the box; returns (fill polygons, covered fraction)."""
    x, y, w, h = rect
    frac = float(rng.uniform(0.45, 0.8))
    if rng.random() < 0.5:  # a block from the left or the right
        cw = w * frac
        left = x if rng.random() < 0.5 else x + w - cw
        r = rng.uniform(-0.2, 0.2, 4)
        poly = np.array([[left + r[0], y + 0.1], [left + cw + r[1], y + 0.1],
                         [left + cw + r[2], y + h - 0.1], [left + r[3], y + h - 0.1]])
    else:  # a blob in the middle, area frac * w * h (an ellipse reaches 0.785 at most)
        frac = min(frac, 0.74)
        k = np.sqrt(frac / (np.pi / 4))
        t = np.linspace(0, 2 * np.pi, 36, endpoint=False)
        rr = 1.0 + 0.04 * np.sin(4 * t + rng.uniform(0, 6))
        poly = np.column_stack([x + w / 2 + k * w / 2 * rr * np.cos(t),
                                y + h / 2 + k * h / 2 * rr * np.sin(t)])
    return [poly], frac


def scribble(rect: Rect, rng: np.random.Generator) -> list[Polyline]:
    """A dense back-and-forth scribble over the whole box (a voter cancelling a mark)."""
    x, y, w, h = rect
    strokes = []
    for layer in range(int(rng.integers(1, 3))):
        n = int(rng.integers(7, 12))
        over = rng.uniform(0.0, 0.6)
        if layer == 0 and rng.random() < 0.6:  # vertical zig-zag travelling across
            xs = np.linspace(x - over * 0.5, x + w + over * 0.5, 2 * n)
            ys = np.where(np.arange(2 * n) % 2 == 0, y - over * 0.6, y + h + over * 0.6)
        else:  # horizontal zig-zag travelling down
            ys = np.linspace(y - over * 0.4, y + h + over * 0.4, 2 * n)
            xs = np.where(np.arange(2 * n) % 2 == 0, x - over, x + w + over)
        pts = np.column_stack([xs, ys]) + rng.normal(0, 0.15, (2 * n, 2))
        strokes.append(pts)
    return strokes


# --- handwriting and strays ----------------------------------------------------------------


@lru_cache(maxsize=16)
def _hand_font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size=size_px, index=0)


def handwrite(surface: Surface, text: str, rect: Rect, pen: Pen, rng: np.random.Generator,
              char_mm: float = 4.0) -> None:
    """Write `text` into `rect` like a hand: jittered, slanted glyphs of varying size."""
    x, y, w, h = rect
    sx, sy = surface.px_per_mm
    char_mm = min(char_mm, h * 0.85)
    cursor = x + rng.uniform(1.0, min(12.0, max(1.5, w - len(text) * char_mm * 1.1)))
    slant = rng.normal(0, 4)
    line_y = y + (h - char_mm) / 2
    extra_px = max(0, round((min(pen.width_mm, 0.7) - 0.35) * sx))
    for ch in text:
        size_mm = char_mm * rng.uniform(0.85, 1.05)
        size_px = max(8, round(size_mm * sy))
        font = _hand_font(size_px)
        pad = size_px // 2
        img = Image.new("L", (size_px + 2 * pad, size_px + 2 * pad), 0)
        ImageDraw.Draw(img).text((pad, pad), ch, fill=255, font=font)
        glyph = np.asarray(img)
        c = (glyph.shape[1] / 2, glyph.shape[0] / 2)
        m = cv2.getRotationMatrix2D(c, slant + rng.normal(0, 5), rng.uniform(0.92, 1.05))
        m[0, 1] += rng.normal(0, 0.08)  # shear
        glyph = cv2.warpAffine(glyph, m, (glyph.shape[1], glyph.shape[0]))
        if extra_px:
            glyph = cv2.dilate(glyph, np.ones((extra_px, extra_px), np.uint8))
        gx = round(cursor * sx) - pad
        gy = round((line_y + rng.normal(0, 0.25)) * sy) - pad
        surface.blend(glyph, gx, gy, pen, rng)
        cursor += size_mm * rng.uniform(1.0, 1.2)
        if cursor + char_mm > x + w:
            break


def signature(origin: np.ndarray, width_mm: float, height_mm: float,
              rng: np.random.Generator, vertical: bool = False) -> list[Polyline]:
    """A signature-like scrawl: loops travelling right, and an underline flourish."""
    t = np.linspace(0, 1, 120)
    loops = rng.uniform(4, 8)
    xs = width_mm * t + 0.22 * height_mm * np.sin(2 * np.pi * loops * t + rng.uniform(0, 6))
    ys = height_mm * (0.5 + 0.45 * np.sin(2 * np.pi * loops * t * rng.uniform(0.9, 1.1)
                                          + np.pi / 2) * (1 - 0.4 * t))
    main = np.column_stack([xs, ys])
    under = np.column_stack([np.linspace(-1, width_mm * 0.9, 20),
                             height_mm * 1.05 + np.linspace(0, -1.5, 20) ** 2 * 0.3])
    strokes = [main, under]
    if vertical:
        strokes = [s[:, ::-1] for s in strokes]  # running down the margin
    return [s + origin for s in strokes]


def dot(centre: np.ndarray, rng: np.random.Generator) -> list[Polyline]:
    """A small dot (a pen resting on the paper): a fill polygon."""
    r = rng.uniform(0.3, 0.7)
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    return [np.column_stack([centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)])]


def line(p0: np.ndarray, p1: np.ndarray, rng: np.random.Generator) -> list[Polyline]:
    """A pen line, slightly bowed."""
    return [_curve(p0, p1, rng.uniform(-1.0, 1.0), 20)]


def touches(polys: Sequence[Polyline], rects: Sequence[Rect], margin_mm: float) -> bool:
    """Whether any point of `polys` (sampled every ≤ 0.3 mm) lies within margin of a rect."""
    if not rects:
        return False
    pts = []
    for p in polys:
        seg = np.diff(p, axis=0)
        n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / 0.3)).astype(int)
        for a, d, k in zip(p[:-1], seg, n, strict=True):
            pts.append(a + d * (np.arange(k)[:, None] / k))
        pts.append(p[-1:])
    allp = np.vstack(pts)
    r = np.asarray(rects, dtype=np.float64)
    inside_x = (allp[:, None, 0] >= r[None, :, 0] - margin_mm) & (
        allp[:, None, 0] <= r[None, :, 0] + r[None, :, 2] + margin_mm)
    inside_y = (allp[:, None, 1] >= r[None, :, 1] - margin_mm) & (
        allp[:, None, 1] <= r[None, :, 1] + r[None, :, 3] + margin_mm)
    return bool((inside_x & inside_y).any())
