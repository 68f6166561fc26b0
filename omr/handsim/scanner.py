"""Scanners: what happens between the marked paper and the image file.

`ScanSettings` holds every parameter of one scan: resolution, output kind (grey or colour
JPEG/PNG, bitonal TIFF by one of `bitonal.BITONAL_KINDS`), geometry (skew, shift, a page larger
or smaller than the scan area, the bed around it) and what paper, lamp, glass and optics do
(paper tint, uneven light, photocopy gain, blur, streaks, dust, folds, noise). `draw_settings`
draws them for a profile (clean, mixed, hard); `scan` applies them to an RGB paper raster and
returns the scanned image with the page -> image transform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from omr.handsim.bitonal import BITONAL_KINDS
from omr.handsim.pens import LUMA

MM_PER_INCH = 25.4
PROFILES = ("clean", "mixed", "hard")
#: linear interpolation of half-resolution noise lowers its spread by about this much
NOISE_INTERPOLATION_GAIN = 1.6
DPIS = (150, 200, 240, 300, 400, 600)
DPI_WEIGHTS = (0.12, 0.38, 0.06, 0.32, 0.08, 0.04)
KINDS = ("jpeg-grey", "jpeg-colour", "png-grey", "png-colour", "tiff-grey",
         *(f"tiff-{k}" for k in BITONAL_KINDS))
KIND_WEIGHTS = (0.34, 0.14, 0.08, 0.04, 0.04, 0.12, 0.10, 0.08, 0.06)


@dataclass
class ScanSettings:
    dpi: int = 200
    kind: str = "jpeg-grey"
    jpeg_quality: int = 85
    bitonal: dict = field(default_factory=dict)
    skew_deg: float = 0.0
    shift_mm: tuple[float, float] = (0.0, 0.0)
    #: scan area beyond the page on each side (mm); 0: the scan is cut at the page size
    bed_mm: float = 0.0
    bed_grey: int = 40
    paper_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    light_falloff: float = 0.0  # darkest corner's loss of light (0..1)
    light_angle_deg: float = 0.0
    photocopy: float = 0.0  # 0: none; 1: strong contrast gain, toner speckle
    blur_px: float = 0.0
    noise_grey: float = 0.0
    dust: int = 0
    streaks: list[tuple[float, float, float]] = field(default_factory=list)  # x_mm, w_px, delta
    folds: list[tuple[str, float, float]] = field(default_factory=list)  # axis, at_mm, strength
    corner_cut: list[int] = field(default_factory=list)  # fiducials meant to fall off the scan

    def to_dict(self) -> dict:
        return asdict(self)


def draw_settings(rng: np.random.Generator, profile: str,
                  page_size_mm: tuple[float, float] = (210.0, 297.0)) -> ScanSettings:
    """One scan's settings for a profile: clean (straight, plain grey JPEG at 200 dpi),
    mixed (what a hall of scanners gives), hard (every degradation on, and stronger)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown scan profile {profile!r}; use one of {', '.join(PROFILES)}")
    s = ScanSettings()
    if profile == "clean":
        s.jpeg_quality = 92
        return s
    hard = profile == "hard"
    s.dpi = int(rng.choice(DPIS, p=np.array(DPI_WEIGHTS)))
    s.kind = str(rng.choice(KINDS, p=np.array(KIND_WEIGHTS) / sum(KIND_WEIGHTS)))
    s.jpeg_quality = int(rng.integers(45, 80) if hard else rng.integers(60, 96))
    s.bitonal = _bitonal_params(s.kind.removeprefix("tiff-"), s.dpi, rng)

    def on(p_mixed: float, p_hard: float) -> bool:
        return bool(rng.random() < (p_hard if hard else p_mixed))

    r = rng.random()
    if (hard and r < 0.5) or (not hard and r < 0.04):
        s.skew_deg = float(rng.uniform(3, 15) * rng.choice([-1, 1]))
    elif not hard and r < 0.14:
        s.skew_deg = float(rng.uniform(1.5, 4) * rng.choice([-1, 1]))
    else:
        s.skew_deg = float(rng.normal(0, 0.7))
    s.shift_mm = (float(rng.normal(0, 2.0)), float(rng.normal(0, 2.0)))
    if on(0.45, 0.5):
        s.bed_mm = float(rng.uniform(2, 12))
        s.bed_grey = int(rng.choice([int(rng.integers(10, 70)), int(rng.integers(200, 250))]))
    if abs(s.skew_deg) > 1.0 and on(0.85, 0.5):
        # most scanners take in more than the page: a skewed page then still fits
        a = np.deg2rad(abs(s.skew_deg))
        w, h = page_size_mm
        need = max((w * np.cos(a) + h * np.sin(a) - w) / 2, (w * np.sin(a) + h * np.cos(a) - h) / 2)
        s.bed_mm = max(s.bed_mm, float(need + rng.uniform(1, 5)))
    if on(0.07, 0.35):
        s.corner_cut = sorted(int(i) for i in rng.choice(4, size=int(rng.integers(1, 3)),
                                                          replace=False))
        s.bed_mm = 0.0
        s.bed_grey = int(rng.integers(10, 250))
    if on(0.3, 0.9):
        s.paper_tint = (float(rng.uniform(0.93, 1.0)), float(rng.uniform(0.9, 0.99)),
                        float(rng.uniform(0.78, 0.97)))
    if on(0.3, 0.9):
        s.light_falloff = float(rng.uniform(0.05, 0.3 if hard else 0.18))
        s.light_angle_deg = float(rng.uniform(0, 360))
    if on(0.08, 0.6):
        s.photocopy = float(rng.uniform(0.3, 1.0))
    if on(0.35, 0.9):
        s.blur_px = float(rng.uniform(0.3, 1.8 if hard else 1.1)) * s.dpi / 200
    s.noise_grey = float(rng.uniform(0.5, 9.0 if hard else 4.0))
    if on(0.25, 0.9):
        s.dust = int(rng.integers(3, 60 if hard else 25))
    if on(0.08, 0.6):
        s.streaks = [(float(rng.uniform(10, 200)), float(rng.uniform(1, 4)) * s.dpi / 200,
                      float(rng.choice([-1, 1]) * rng.uniform(25, 110)))
                     for _ in range(int(rng.integers(1, 4)))]
    if on(0.1, 0.6):
        s.folds = [(str(rng.choice(["h", "v"])), float(rng.uniform(0.3, 0.7)),
                    float(rng.uniform(0.3, 1.0))) for _ in range(int(rng.integers(1, 3)))]
    return s


def _bitonal_params(kind: str, dpi: int, rng: np.random.Generator) -> dict:
    if kind == "global":
        return {"level": int(rng.integers(100, 185))}
    if kind == "sauvola":
        return {"window_px": round(rng.uniform(3.0, 8.0) / MM_PER_INCH * dpi),
                "k": float(rng.uniform(0.15, 0.4))}
    if kind == "hollow":  # a window a little wider than a pen line, far narrower than a mark
        return {"window_px": round(rng.uniform(0.9, 2.2) / MM_PER_INCH * dpi),
                "offset": float(rng.uniform(6, 18))}
    return {}


def page_to_scan(s: ScanSettings, page_px: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """(2x3 affine page px -> scan px, scan size (H, W)) for the settings' geometry."""
    h, w = page_px
    k = s.dpi / MM_PER_INCH
    bed = round(s.bed_mm * k)
    H, W = h + 2 * bed, w + 2 * bed
    m = cv2.getRotationMatrix2D((w / 2, h / 2), s.skew_deg, 1.0)
    m[0, 2] += bed + s.shift_mm[0] * k
    m[1, 2] += bed + s.shift_mm[1] * k
    return m, (H, W)


def _fold(img: np.ndarray, axis: str, at: float, strength: float, k: float) -> None:
    """A crease: a thin shadow line with a lighter band beside it (the paper's two slopes)."""
    h, w = img.shape[:2]
    n = h if axis == "h" else w
    pos = int(at * n)
    idx = np.arange(n, dtype=np.float32)
    d = (idx - pos) / k  # mm from the crease
    gain = 1.0 - 0.22 * strength * np.exp(-(d / 0.35) ** 2) \
        + 0.05 * strength * np.exp(-((d - 2.5) / 2.0) ** 2) \
        - 0.05 * strength * np.exp(-((d + 2.5) / 2.0) ** 2)
    lo, hi = max(0, pos - int(8 * k)), min(n, pos + int(8 * k))
    g = gain[lo:hi].astype(np.float32)
    extra = (None,) * (img.ndim - 2)
    if axis == "h":
        band = img[lo:hi].astype(np.float32) * g[(slice(None), None, *extra)]
        img[lo:hi] = np.clip(band, 0, 255).astype(np.uint8)
    else:
        band = img[:, lo:hi].astype(np.float32) * g[(None, slice(None), *extra)]
        img[:, lo:hi] = np.clip(band, 0, 255).astype(np.uint8)


def is_colour(s: ScanSettings) -> bool:
    return s.kind.endswith("-colour")


def scan(paper_rgb: np.ndarray, s: ScanSettings, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray]:
    """(scanned image, page -> scan affine). The image is RGB uint8 for colour kinds, grey
    uint8 for grey kinds, bool (True = black) for bitonal kinds. A grey scanner's work is
    done on one channel (its luma), a colour scanner's on three; every step is a saturating
    uint8 operation, as in the scanner's own pipeline."""
    k = s.dpi / MM_PER_INCH
    colour = is_colour(s)
    img = paper_rgb
    if not colour and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if s.folds:
        img = img.copy()
        for axis, at, strength in s.folds:
            _fold(img, axis, at, strength, k)
    m, (H, W) = page_to_scan(s, img.shape[:2])
    bed = (s.bed_grey,) * 3 if colour else s.bed_grey
    out = cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=bed)
    if s.blur_px > 0.2:  # optics first: the lamp and the sensor come after the lens
        out = cv2.GaussianBlur(out, (0, 0), s.blur_px)
    tint = np.asarray(s.paper_tint, np.float64)
    if not colour:
        tint = np.array([float(np.dot(LUMA, tint))])
    if s.light_falloff:
        gain = _light(H, W, s.light_falloff, s.light_angle_deg)
        if colour:
            gain = cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB)
        out = cv2.multiply(out, gain, scale=1.0 / 255)
        out = cv2.multiply(out, tuple(tint) + (0.0,) * (4 - len(tint)))
    elif (tint < 1).any():
        out = cv2.multiply(out, tuple(tint) + (0.0,) * (4 - len(tint)))
    if s.photocopy:
        out = _photocopy(out, s.photocopy, rng)
    for x_mm, w_px, delta in s.streaks:
        x0, x1 = max(0, int(x_mm * k)), min(W, int(x_mm * k) + max(1, round(w_px)))
        band = out[:, x0:x1]
        out[:, x0:x1] = (cv2.add(band, round(delta)) if delta > 0
                         else cv2.subtract(band, round(-delta)))
    if s.dust:
        _dust(out, s.dust, k, rng)
    if s.noise_grey:
        out = _noise(out, s.noise_grey, rng)
    if colour or s.kind in ("jpeg-grey", "png-grey", "tiff-grey"):
        return out, m
    from omr.handsim.bitonal import to_bitonal

    return to_bitonal(out, s.kind.removeprefix("tiff-"), s.bitonal), m


def _noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise, Gaussian with about `sigma` grey levels (each channel its own, as each
    colour has its own sensor line); drawn on a half-resolution grid and interpolated (a
    sensor's noise is not quite white)."""
    h, w = img.shape[:2]
    noise = np.empty(((h + 1) // 2, (w + 1) // 2, *img.shape[2:]), np.uint8)
    cv2.setRNGSeed(int(rng.integers(2**31)))  # seeded per scan: the same files every run
    channels = img.shape[2] if img.ndim == 3 else 1
    cv2.randn(noise, (128.0,) * channels, (float(sigma) * NOISE_INTERPOLATION_GAIN,) * channels)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)
    up, down = cv2.subtract(noise, 128), cv2.subtract(np.full_like(noise, 128), noise)
    return cv2.subtract(cv2.add(img, up), down)


def _light(h: int, w: int, falloff: float, angle_deg: float) -> np.ndarray:
    """A lamp brighter on one side and in the middle: a gain (uint8, 255 = 1) of 1 - falloff
    at its worst."""
    y, x = np.mgrid[0:h:16, 0:w:16].astype(np.float32)
    a = np.deg2rad(angle_deg)
    lin = ((x / w - 0.5) * np.cos(a) + (y / h - 0.5) * np.sin(a)) + 0.5
    rad = ((x / w - 0.5) ** 2 + (y / h - 0.5) ** 2) * 2
    small = (1.0 - falloff * np.clip(0.7 * lin + 0.3 * rad, 0, 1)) * 255
    return cv2.resize(small.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)


def _photocopy(out: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of a copy: greys pushed apart (light greys to white, mid greys darker), and
    toner speckle on the paper."""
    lo, hi = 40 * amount, 255 - 35 * amount
    v = np.arange(256, dtype=np.float64)
    lut = (np.clip((v - lo) / (hi - lo), 0, 1) ** (1 + 0.6 * amount) * 255 + 0.5)
    out = cv2.LUT(out, lut.astype(np.uint8))
    h, w = out.shape[:2]
    n = int(amount * h * w / 4000)
    ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
    dark = rng.uniform(0.2, 0.7, n)
    out[ys, xs] = (out[ys, xs] * (dark[:, None] if out.ndim == 3 else dark)).astype(np.uint8)
    return out


def _dust(out: np.ndarray, count: int, k: float, rng: np.random.Generator) -> None:
    """Specks and short hairs on the glass (dark), anywhere on the scan."""
    h, w = out.shape[:2]
    for _ in range(count):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        grey = int(rng.uniform(20, 140))
        colour = (grey,) * 3 if out.ndim == 3 else grey
        if rng.random() < 0.8:
            r = max(1, int(rng.uniform(0.05, 0.35) * k))
            cv2.circle(out, (x, y), r, colour, -1, lineType=cv2.LINE_AA)
        else:
            pts = np.cumsum(rng.normal(0, 0.6 * k, (6, 2)), axis=0) + np.array([x, y])
            cv2.polylines(out, [pts.astype(np.int32)], False, colour, 1, cv2.LINE_AA)
