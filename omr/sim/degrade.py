"""What scanners, photocopiers and people do to a marked page, as recorded operations.

A degradation is a dict `{"name": ..., <parameters>}`; a page's list is planned once
(`plan_page`, random, per profile) and applied by `apply` deterministically, so the list in the
truth reproduces the image (`omr.sim.corpus.render_marked_page(..., degradations=...)`).
Stages, in order: paper (contrast, folds, covered/torn corner marks, a blot on the code), geometry
(perspective, scale, rotation, 90°/180° turns, shift, all in one warp onto a scanner canvas that
is larger than the paper so corner marks are never cut off), scanner (streaks, dust, blur, noise,
bitonal). JPEG quality is applied when the file is written. The effects themselves are in
`omr.sim.effects`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.sim.effects import NOISE_LEVELS, PAPER_EFFECTS, SCANNER_EFFECTS, PageInfo, noise_page

#: reasons of pages a reader must refuse (truth `reason` when `expect` is unreadable)
REASONS = {
    "qr_damaged": "the sheet code (QR) is covered by a blot and cannot be decoded",
    "not_a_ballot": "the page is noise, not a ballot",
}
#: the order in which operations are applied (anything else is metadata)
PAPER_OPS = ("paper", "fold", "cover_fiducial", "torn_corner", "qr_blot")
GEOMETRY_OPS = ("perspective", "scale", "rotate", "turn", "shift", "canvas")
SCANNER_OPS = ("streak", "dust", "blur", "noise", "bitonal")


@dataclass(frozen=True)
class Profile:
    """Probability of each degradation per page (scan-mode ones per sheet)."""

    name: str
    rotate: float = 0.0
    rotate_large: float = 0.0
    turn180: float = 0.0
    turn90: float = 0.0
    shift: float = 0.0
    shift_sigma_mm: float = 3.0
    scale: float = 0.0
    perspective: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    jpeg_low: float = 0.0
    jpeg_range: tuple[int, int] = (70, 95)
    bitonal: float = 0.0
    streak: float = 0.0
    fold: float = 0.0
    paper: float = 0.0
    dust: float = 0.0
    dark_background: float = 0.0
    fiducial_damaged: float = 0.0
    colour: float = 0.0
    qr_blot: float = 0.0
    #: two corner marks torn off or covered: still a readable page (the code and the box
    #: borders fix it), not a cause to refuse
    fiducials_missing: float = 0.0
    other_form: float = 0.0
    noise_page: float = 0.0


PROFILES: dict[str, Profile] = {
    "clean": Profile("clean", jpeg_range=(92, 95)),
    "mixed": Profile(
        "mixed", rotate=0.7, rotate_large=0.04, turn180=0.05, turn90=0.02, shift=0.5,
        scale=0.1, perspective=0.08, blur=0.3, noise=0.4, jpeg_low=0.05, bitonal=0.06,
        streak=0.05, fold=0.08, paper=0.12, dust=0.2, dark_background=0.03,
        fiducial_damaged=0.01, colour=0.2, qr_blot=0.003, fiducials_missing=0.003,
        other_form=0.003, noise_page=0.002),
    "hard": Profile(
        "hard", rotate=1.0, rotate_large=0.15, turn180=0.12, turn90=0.05, shift=0.8,
        shift_sigma_mm=6.0, scale=0.3, perspective=0.25, blur=0.5, noise=0.6, jpeg_low=0.2,
        bitonal=0.12, streak=0.15, fold=0.2, paper=0.25, dust=0.4, dark_background=0.1,
        fiducial_damaged=0.03, colour=0.2, qr_blot=0.01, fiducials_missing=0.01,
        other_form=0.01, noise_page=0.005),
}


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def plan_scan_mode(rng: np.random.Generator, profile: Profile, fmt: str) -> list[dict]:
    """Per-sheet scanner settings: colour or bitonal, and the JPEG quality (a JPEG file, or a
    JPEG-compressed TIFF page as scanners write them; bitonal TIFF pages are CCITT G4)."""
    ops: list[dict] = []
    bitonal = rng.random() < profile.bitonal
    if bitonal:
        method = "dither" if rng.random() < 0.1 else "threshold"
        ops.append({"name": "bitonal", "method": method})
    elif rng.random() < profile.colour:
        ops.append({"name": "colour"})
    if fmt == "jpg" or (fmt == "tiff" and not bitonal):
        lo, hi = (40, 60) if rng.random() < profile.jpeg_low else profile.jpeg_range
        ops.append({"name": "jpeg", "quality": 92 if bitonal else int(rng.integers(lo, hi + 1))})
    return ops


def plan_page(rng: np.random.Generator, profile: Profile, page: PageInfo,
              scan_mode: list[dict], unreadable: str | None = None) -> list[dict]:
    """A random list of degradations for one page; `unreadable` forces one unreadable cause."""
    p, ops = profile, []
    bitonal = any(o["name"] == "bitonal" for o in scan_mode)
    # a dithered scan of a blurred or noisy page breaks the QR code's module edges apart
    dither = any(o.get("method") == "dither" for o in scan_mode)
    if rng.random() < p.paper:
        ops.append({"name": "paper", "paper": int(rng.integers(205, 246)),
                    "ink": int(rng.integers(0, 71))})
    if rng.random() < p.fold:
        ops.append(_plan_fold(rng, page))
    damaged: list[int] = []
    if rng.random() < p.fiducials_missing:
        damaged = [int(c) for c in rng.choice(4, 2, replace=False)]
    elif rng.random() < p.fiducial_damaged:
        damaged = [int(rng.integers(0, 4))]
    for corner in damaged:
        if corner != 1 and rng.random() < 0.5:  # top-right is torn into the QR code: cover it
            ops.append({"name": "torn_corner", "corner": corner,
                        "leg_mm": round(float(rng.uniform(29, 34)), 2), "seed": _seed(rng)})
        else:
            ops.append({"name": "cover_fiducial", "corner": corner,
                        "grey": int(rng.integers(235, 256)),
                        "pad_mm": round(float(rng.uniform(1.5, 3.0)), 2)})
    if unreadable == "qr_damaged":
        ops.append({"name": "qr_blot", "seed": _seed(rng)})
    geo = _plan_geometry(rng, p, page, allow_perspective=not damaged)
    if geo or damaged:
        dark = rng.random() < p.dark_background
        bg = int(rng.integers(30, 90)) if dark else int(rng.choice([255, 255, int(
            rng.integers(215, 246))]))
        geo.append({"name": "canvas", "margin_mm": round(float(rng.uniform(0, 8)), 2),
                    "background": bg})
    ops += geo
    if rng.random() < p.streak:
        h = page_homography(ops, page)[0]
        for _ in range(int(rng.integers(1, 4))):
            ops.append(_plan_streak(rng, page, h))
    if rng.random() < p.dust:
        ops.append({"name": "dust", "count": int(rng.integers(5, 60)), "seed": _seed(rng)})
    if rng.random() < p.blur and not dither:
        top = 0.8 if bitonal else 1.4
        ops.append({"name": "blur", "sigma_px": round(float(rng.uniform(0.5, top)) *
                                                      page.dpi / 200, 2)})
    if rng.random() < p.noise and not dither:
        levels = [v for v in NOISE_LEVELS if not bitonal or v <= 4]
        ops.append({"name": "noise", "sigma": int(rng.choice(levels)), "seed": _seed(rng)})
    if bitonal:
        mode = next(o for o in scan_mode if o["name"] == "bitonal")
        ops.append(_plan_bitonal(mode["method"], ops, rng))
    return ops


def _plan_geometry(rng: np.random.Generator, p: Profile, page: PageInfo,
                   allow_perspective: bool) -> list[dict]:
    ops: list[dict] = []
    if allow_perspective and rng.random() < p.perspective:
        d = rng.uniform(-1.5, 1.5, (4, 2)).round(2)
        ops.append({"name": "perspective", "corners_mm": d.tolist()})
    if rng.random() < p.scale:
        ops.append({"name": "scale", "factor": round(float(rng.uniform(0.95, 1.05)), 4)})
    if rng.random() < p.rotate_large:
        deg = float(rng.uniform(3, 15)) * float(rng.choice([-1, 1]))
        ops.append({"name": "rotate", "deg": round(deg, 3)})
    elif rng.random() < p.rotate:
        ops.append({"name": "rotate", "deg": round(float(np.clip(rng.normal(0, 0.8), -2, 2)), 3)})
    u = rng.random()
    if u < p.turn180:
        ops.append({"name": "turn", "deg": 180})
    elif u < p.turn180 + p.turn90:
        ops.append({"name": "turn", "deg": int(rng.choice([90, 270]))})
    if rng.random() < p.shift:
        dx, dy = np.clip(rng.normal(0, p.shift_sigma_mm, 2), -15, 15)
        ops.append({"name": "shift", "dx_mm": round(float(dx), 2), "dy_mm": round(float(dy), 2)})
    return ops


def _plan_fold(rng: np.random.Generator, page: PageInfo) -> dict:
    """A crease across the page; half of them run through a row of boxes."""
    if rng.random() < 0.75:
        if page.boxes_mm and rng.random() < 0.5:
            b = page.boxes_mm[int(rng.integers(len(page.boxes_mm)))]
            pos = b[1] + b[3] * float(rng.uniform(0.2, 0.8))
        else:
            pos = float(rng.uniform(30, page.height_mm - 30))
        axis = "h"
    else:
        pos, axis = float(rng.uniform(30, page.width_mm - 30)), "v"
    dark = rng.random() < 0.4
    return {"name": "fold", "axis": axis, "pos_mm": round(pos, 2),
            "angle_deg": round(float(rng.normal(0, 0.6)), 3),
            "level": int(rng.integers(120, 185) if dark else rng.integers(200, 236)),
            "width_px": int(rng.integers(1, 4))}


def _plan_streak(rng: np.random.Generator, page: PageInfo, h: np.ndarray) -> dict:
    """A dark vertical scanner line; most cross a column of boxes. None crosses the QR code
    (a code it made unreadable would make the page's truth a guess)."""
    x, y, s, _ = page.code_mm
    corners = np.array([[x, y, 1], [x + s, y, 1], [x + s, y + s, 1], [x, y + s, 1]]) @ h.T
    code_x = corners[:, 0] / corners[:, 2]
    lo, hi = code_x.min() - 6, code_x.max() + 6
    for _ in range(50):
        if page.boxes_mm and rng.random() < 0.7:
            b = page.boxes_mm[int(rng.integers(len(page.boxes_mm)))]
            q = h @ np.array([b[0] + b[2] * rng.uniform(0.15, 0.85), b[1] + b[3] / 2, 1.0])
        else:
            q = h @ np.array([rng.uniform(0, page.width_mm), page.height_mm / 2, 1.0])
        x_px = q[0] / q[2]
        if not lo <= x_px <= hi:
            break
    else:
        x_px = hi + 10
    return {"name": "streak", "x_px": int(max(0, x_px)), "width_px": int(rng.integers(1, 4)),
            "level": int(rng.integers(0, 110))}


def _plan_bitonal(method: str, ops: list[dict], rng: np.random.Generator) -> dict:
    """Bitonal settings after the scanner's auto-levels (black and white points from any
    contrast change): a threshold between the paper and the lightest pencil, or a dither."""
    paper = next((o for o in ops if o["name"] == "paper"), {"paper": 255, "ink": 0})
    v = float(rng.uniform(198, 212))
    level = round(paper["ink"] + v * (paper["paper"] - paper["ink"]) / 255.0)
    return {"name": "bitonal", "method": method, "level": level, "black": paper["ink"]}


# --- geometry -------------------------------------------------------------------------------


def page_homography(ops: list[dict], page: PageInfo) -> tuple[np.ndarray, tuple[int, int]]:
    """The map from page millimetres to output pixels, and the output size (w, h) in px."""
    sx, sy = page.px_per_mm
    w_px, h_px = round(page.width_mm * sx), round(page.height_mm * sy)
    geo = {o["name"]: o for o in ops if o["name"] in GEOMETRY_OPS}
    to_px = np.diag([sx, sy, 1.0])
    if not geo:
        return to_px, (w_px, h_px)
    corners = np.array([[0, 0], [page.width_mm, 0], [page.width_mm, page.height_mm],
                        [0, page.height_mm]], dtype=np.float64)
    m = np.eye(3)
    if "perspective" in geo:
        moved = corners + np.asarray(geo["perspective"]["corners_mm"], dtype=np.float64)
        m = cv2.getPerspectiveTransform(corners.astype(np.float32), moved.astype(np.float32))
    centre = np.array([page.width_mm / 2, page.height_mm / 2])
    a = np.deg2rad(geo.get("rotate", {}).get("deg", 0.0) + geo.get("turn", {}).get("deg", 0))
    s = geo.get("scale", {}).get("factor", 1.0)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    about = rot @ np.diag([s, s, 1.0]) @ np.array([[1, 0, -centre[0]], [0, 1, -centre[1]],
                                                    [0, 0, 1]])
    shift = geo.get("shift", {"dx_mm": 0.0, "dy_mm": 0.0})
    rel = about @ m  # page mm -> mm relative to the canvas centre, before the shift
    pts = cv2.perspectiveTransform(corners[None].astype(np.float64), rel)[0]
    pts += [shift["dx_mm"], shift["dy_mm"]]
    turned = geo.get("turn", {}).get("deg", 0) in (90, 270)
    base_w, base_h = (page.height_mm, page.width_mm) if turned else (page.width_mm,
                                                                     page.height_mm)
    margin = geo.get("canvas", {}).get("margin_mm", 0.0)
    half_w = max(base_w / 2 + margin, float(np.abs(pts[:, 0]).max()) + 1.0)
    half_h = max(base_h / 2 + margin, float(np.abs(pts[:, 1]).max()) + 1.0)
    place = np.array([[1, 0, half_w + shift["dx_mm"]], [0, 1, half_h + shift["dy_mm"]],
                      [0, 0, 1]])
    h = to_px @ place @ rel
    return h, (round(2 * half_w * sx), round(2 * half_h * sy))


def apply(image: np.ndarray, ops: list[dict], page: PageInfo) -> tuple[np.ndarray, np.ndarray]:
    """Apply `ops` to a marked page image (grey or RGB uint8, page pixels, modified in place
    where possible); returns the scanned image and the page-mm -> image-px homography."""
    bg = next((o["background"] for o in ops if o["name"] == "canvas"), 255)
    for op in ops:
        if op["name"] in PAPER_OPS:
            image = PAPER_EFFECTS[op["name"]](image, op, page, bg)
    h, size = page_homography(ops, page)
    if any(o["name"] in GEOMETRY_OPS for o in ops):
        to_page_px = np.diag([page.px_per_mm[0], page.px_per_mm[1], 1.0])
        warp = h @ np.linalg.inv(to_page_px)
        border = (bg,) * 3 if image.ndim == 3 else bg
        image = cv2.warpPerspective(image, warp, size, flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    for op in ops:
        if op["name"] in SCANNER_OPS:
            image = SCANNER_EFFECTS[op["name"]](image, op, page)
    return image, h


__all__ = ["GEOMETRY_OPS", "PAPER_OPS", "PROFILES", "REASONS", "SCANNER_OPS", "PageInfo", "Profile",
           "apply", "noise_page", "page_homography", "plan_page", "plan_scan_mode"]
