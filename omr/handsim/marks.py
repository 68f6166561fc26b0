"""Mark shapes as a hand draws them: paths (page mm) with pressure, one path per pen-down.

Every shape is drawn about a box (`rect_mm` = x, y, w, h, the inside of the printed border) and
must stay inside `cell_mm` (x0, y0, x1, y1): the room the box has before its neighbours start.
A shape that would leave its cell is shrunk about the box centre, the way a voter keeps a mark
off the next box. Ticks, crosses, circles, slashes, dots and dense scribble fills are votes;
a scribble running well past the box, or cross-hatching over a tick, cancels one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omr.handsim.strokes import bezier, pressure_profile, smooth_path

Rect = tuple[float, float, float, float]
Cell = tuple[float, float, float, float]
Path = tuple[np.ndarray, np.ndarray]  # points (N, 2) mm, pressure (N,)


@dataclass(frozen=True)
class Hand:
    """What stays the same across one voter's marks: size, slant and tidiness."""

    size: float = 1.0  # scale of ticks, crosses and circles against the box
    slant_deg: float = 0.0
    care: float = 0.7  # 1: neat and centred; 0: hasty

    @staticmethod
    def draw(rng: np.random.Generator) -> Hand:
        return Hand(size=float(rng.uniform(0.8, 1.35)), slant_deg=float(rng.normal(0, 7)),
                    care=float(rng.uniform(0.3, 1.0)))


def _rot(points: np.ndarray, centre: np.ndarray, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - centre) @ m.T + centre


def _centre(rect: Rect, hand: Hand, rng: np.random.Generator) -> np.ndarray:
    x, y, w, h = rect
    off = (1.0 - hand.care) * 0.18 + 0.04
    return np.array([x + w / 2 + rng.normal(0, off * w), y + h / 2 + rng.normal(0, off * h)])


def fit_cell(paths: list[Path], rect: Rect, cell: Cell, margin_mm: float) -> list[Path]:
    """Shrink the paths about the box centre until they (plus `margin_mm`) fit the cell."""
    x, y, w, h = rect
    c = np.array([x + w / 2, y + h / 2])
    pts = np.vstack([p for p, _ in paths])
    lo, hi = pts.min(axis=0) - margin_mm, pts.max(axis=0) + margin_mm
    scale = 1.0
    for axis, (a, b) in enumerate(((cell[0], cell[2]), (cell[1], cell[3]))):
        if lo[axis] < a:
            scale = min(scale, (c[axis] - a) / max(c[axis] - lo[axis], 1e-6))
        if hi[axis] > b:
            scale = min(scale, (b - c[axis]) / max(hi[axis] - c[axis], 1e-6))
    if scale >= 1.0:
        return paths
    return [((p - c) * scale + c, pr) for p, pr in paths]


def tick(rect: Rect, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """A check mark: a short arm down, a sharp turn, a long arm up and to the right (a flick)."""
    _, _, w, h = rect
    c = _centre(rect, hand, rng)
    s = min(w, h * 1.6) * hand.size * rng.uniform(0.85, 1.2)
    a = c + np.array([-0.38, -0.02]) * s + rng.normal(0, 0.04, 2) * s
    b = c + np.array([-0.08, 0.42]) * s + rng.normal(0, 0.04, 2) * s
    e = c + np.array([rng.uniform(0.45, 0.75), rng.uniform(-0.75, -0.45)]) * s
    arm1 = bezier(a, a + (b - a) * 0.3 + rng.normal(0, 0.03, 2) * s,
                  a + (b - a) * 0.7, b, 8)
    bend = rng.normal(0, 0.06, 2) * s
    arm2 = bezier(b, b + (e - b) * 0.35 + bend, b + (e - b) * 0.7 + bend * 0.5, e, 14)
    pts = _rot(np.vstack([arm1, arm2[1:]]), c, hand.slant_deg)
    pr = pressure_profile(len(pts), rng, attack=0.1, release=0.35)
    return [(pts, pr)]


def cross(rect: Rect, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """Two strokes across the box, the second often shorter and quicker."""
    _, _, w, h = rect
    c = _centre(rect, hand, rng)
    sx, sy = w * 0.42 * hand.size, h * 0.48 * hand.size
    out = []
    for sign in (1, -1):
        p0 = c + np.array([-sx * sign, -sy]) * rng.uniform(0.8, 1.15, 2)
        p1 = c + np.array([sx * sign, sy]) * rng.uniform(0.8, 1.15, 2)
        bow = rng.normal(0, 0.08) * np.array([sy, -sx * sign])
        pts = bezier(p0, p0 + (p1 - p0) / 3 + bow, p0 + 2 * (p1 - p0) / 3 + bow, p1, 12)
        out.append((_rot(pts, c, hand.slant_deg * 0.5), pressure_profile(12, rng)))
    return out


def circle(rect: Rect, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """A loop round the box (or inside it): not closed exactly, the end overlapping the start."""
    _, _, w, h = rect
    c = _centre(rect, hand, rng)
    rx = w * rng.uniform(0.32, 0.62) * hand.size
    ry = h * rng.uniform(0.38, 0.75) * hand.size
    start = rng.uniform(0, 2 * np.pi)
    sweep = 2 * np.pi * rng.uniform(1.0, 1.18) * rng.choice([-1, 1])
    t = np.linspace(start, start + sweep, 40)
    wob = 1.0 + 0.06 * np.sin(t * rng.integers(2, 4) + rng.uniform(0, 6)) + \
        np.linspace(0, rng.normal(0, 0.08), len(t))
    pts = np.stack([c[0] + rx * wob * np.cos(t), c[1] + ry * wob * np.sin(t)], axis=1)
    return [(pts, pressure_profile(len(pts), rng, attack=0.06, release=0.12))]


def slash(rect: Rect, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """One stroke corner to corner, bottom-left to top-right."""
    _, _, w, h = rect
    c = _centre(rect, hand, rng)
    half = np.array([w * 0.45, -h * 0.5]) * hand.size * rng.uniform(0.75, 1.25)
    p0, p1 = c - half, c + half
    bow = rng.normal(0, 0.05) * np.array([h, w])
    pts = bezier(p0, p0 + (p1 - p0) / 3 + bow, p0 + 2 * (p1 - p0) / 3 + bow, p1, 12)
    return [(pts, pressure_profile(12, rng))]


def dot(rect: Rect, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """A small pressed blob near the centre: the pen turned once or twice on the spot."""
    c = _centre(rect, hand, rng)
    r = rng.uniform(0.35, 0.9)
    t = np.linspace(0, 2 * np.pi * rng.uniform(1.5, 3.0), 24)
    rad = r * np.linspace(0.2, 1.0, len(t))
    pts = np.stack([c[0] + rad * np.cos(t), c[1] + rad * 0.8 * np.sin(t)], axis=1)
    return [(pts, np.full(len(pts), 1.0))]


def zigzag(x0: float, y0: float, x1: float, y1: float, step_mm: float, angle_deg: float,
           rng: np.random.Generator, jitter_mm: float = 0.15) -> np.ndarray:
    """A back-and-forth scribble covering a rectangle, lines `step_mm` apart at `angle_deg`."""
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    a = np.deg2rad(angle_deg)
    # half extents of the rotated frame that covers the rectangle
    hw = abs((x1 - x0) / 2 * np.cos(a)) + abs((y1 - y0) / 2 * np.sin(a))
    hh = abs((x1 - x0) / 2 * np.sin(a)) + abs((y1 - y0) / 2 * np.cos(a))
    rows = max(2, int(np.ceil(2 * hh / step_mm)) + 1)
    knots = []
    for i in range(rows):
        v = -hh + i * 2 * hh / (rows - 1)
        reach = hw * rng.uniform(0.88, 1.05)
        u = reach if i % 2 == 0 else -reach
        knots.append([u, v + rng.normal(0, jitter_mm * 0.4)])
    k = np.array(knots)
    k += rng.normal(0, jitter_mm, k.shape)
    local = smooth_path(k, per_span=6)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = local @ m.T + c
    # clip to the rectangle: the hand turns at the border, not past it
    pts[:, 0] = np.clip(pts[:, 0], x0, x1)
    pts[:, 1] = np.clip(pts[:, 1], y0, y1)
    return pts


def fill(rect: Rect, hand: Hand, rng: np.random.Generator, pen_width_mm: float,
         past_mm: float = 0.0) -> list[Path]:
    """A dense scribble fill of the box (what "涂满" looks like by hand), `past_mm` over it."""
    x, y, w, h = rect
    inset = rng.uniform(-0.1, 0.35) * pen_width_mm
    ext = past_mm - inset
    step = pen_width_mm * rng.uniform(0.6, 1.05)
    angle = rng.choice([0.0, 0.0, 90.0, 45.0, -30.0]) + rng.normal(0, 5)
    paths = []
    passes = 1 if rng.random() < 0.6 else 2
    for k in range(passes):
        pts = zigzag(x - ext, y - ext, x + w + ext, y + h + ext, step, angle + 70 * k, rng,
                     jitter_mm=0.12)
        paths.append((pts, np.clip(pressure_profile(len(pts), rng, attack=0.03, release=0.03,
                                                    wobble=0.12), 0.6, 1.0)))
    return paths


def scribble_out(rect: Rect, cell: Cell, hand: Hand, rng: np.random.Generator,
                 pen_width_mm: float) -> list[Path]:
    """A cancellation: heavy scribbling over the box, running well past its border."""
    x, y, w, h = rect
    over_x = min(rng.uniform(1.8, 4.5), (x - cell[0]) - 0.2, (cell[2] - x - w) - 0.2)
    over_y = min(rng.uniform(0.6, 1.8), (y - cell[1]) - 0.2, (cell[3] - y - h) - 0.2)
    over_x, over_y = max(over_x, 0.8), max(over_y, 0.3)
    box = (x - over_x * rng.uniform(0.7, 1.0), y - over_y * rng.uniform(0.6, 1.0),
           x + w + over_x * rng.uniform(0.7, 1.0), y + h + over_y * rng.uniform(0.6, 1.0))
    paths = []
    for k in range(int(rng.integers(2, 4))):
        step = max(pen_width_mm, 0.35) * rng.uniform(0.7, 1.6)
        angle = rng.uniform(-25, 25) + (0 if k % 2 == 0 else rng.choice([60, 90, -60]))
        pts = zigzag(*box, step, angle, rng, jitter_mm=0.3)
        paths.append((pts, np.full(len(pts), 1.0)))
    return paths


def hatch(rect: Rect, cell: Cell, hand: Hand, rng: np.random.Generator) -> list[Path]:
    """Cross-hatching over the box: strokes one way, then the other, past the border."""
    x, y, w, h = rect
    over = min(rng.uniform(0.8, 2.5), (x - cell[0]) - 0.2, (cell[2] - x - w) - 0.2,
               (y - cell[1]) - 0.1 + 1.0)
    over = max(over, 0.5)
    box = (x - over, y - over * 0.5, x + w + over, y + h + over * 0.5)
    paths = []
    for angle in (45 + rng.normal(0, 8), -45 + rng.normal(0, 8)):
        step = rng.uniform(0.7, 1.3)
        pts = zigzag(*box, step, angle, rng, jitter_mm=0.2)
        paths.append((pts, np.full(len(pts), 1.0)))
    return paths


def dash(anchor_mm: np.ndarray, length_mm: float, angle_deg: float, rng: np.random.Generator
         ) -> list[Path]:
    """A short stray dash (a pen rested, a slip) centred on `anchor_mm`."""
    a = np.deg2rad(angle_deg)
    d = np.array([np.cos(a), np.sin(a)]) * length_mm / 2
    pts = bezier(anchor_mm - d, anchor_mm - d / 3, anchor_mm + d / 3 + rng.normal(0, 0.1, 2),
                 anchor_mm + d, 8)
    return [(pts, pressure_profile(8, rng, attack=0.2, release=0.3))]


def handwriting(region_mm: Rect, rng: np.random.Generator) -> list[Path]:
    """A name on a write-in line: two to four characters of short strokes, left to right."""
    x, y, w, h = region_mm
    size = min(h * 0.75, 5.5)
    chars = int(rng.integers(2, 5))
    paths = []
    left = x + rng.uniform(1.0, 4.0)
    base = y + h / 2 - size / 2
    for _ in range(chars):
        if left + size > x + w:
            break
        for _ in range(int(rng.integers(3, 8))):
            p0 = np.array([left, base]) + rng.uniform(0, size, 2)
            p1 = p0 + rng.normal(0, size * 0.35, 2)
            p1 = np.clip(p1, [left, base], [left + size, base + size])
            pts = bezier(p0, p0 + (p1 - p0) / 3 + rng.normal(0, 0.3, 2),
                         p0 + 2 * (p1 - p0) / 3, p1, 6)
            paths.append((pts, pressure_profile(6, rng)))
        left += size * rng.uniform(1.05, 1.3)
    return paths


VOTE_SHAPES = {"tick": tick, "cross": cross, "circle": circle, "slash": slash, "dot": dot}
