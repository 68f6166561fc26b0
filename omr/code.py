"""Find and decode the sheet's QR code with zxing-cpp: its text and where its corners are.

Tried in order until one decodes: the corners of a half-size copy (the code's corner of an upright
page first: about 1 ms at 200 dpi), the whole half-size copy, the full image, the
full image averaged over less than half a module (an error-diffusion bitonal scan's dither
becomes the grey it encodes, which the decoder's binarizer can read), the full image closed
(a grey closing thinner than a module: a hair or a thin line across a finder pattern is wiped
out), and the same with scanner streaks (dark image columns running through the
code) painted over from their neighbours first. The corner points orient the page:
`CodeHit.corners_px` are the symbol's own top-left, top-right, bottom-right and bottom-left
corners (quiet zone excluded), wherever the page was turned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

#: a scan at or above this many pixels per millimetre is first tried at half size
HALF_SIZE_MIN_PX_PER_MM = 6.5
#: assumed long side of the sheet when estimating the resolution from the image size
NOMINAL_LONG_SIDE_MM = 297.0
#: printed module size of the sheet code (20 mm square, ~37 modules with its quiet zone)
MODULE_MM = 0.54
#: the corner regions (share of the width, of the height) searched first: the code is in the
#: top-right corner of a page, even shifted by 15 mm and turned by 15 degrees
CORNER_SHARE = (0.5, 0.33)
#: an image column darker than the paper over this share of its height is a scanner streak
STREAK_COLUMN_SHARE = 0.8
SCANTALLY_PREFIX = "ST1|"
#: a dithered scan is averaged over this share of a module before decoding again
DITHER_BLUR_MODULES = 0.4
#: ... and, in each corner first, by a Gaussian of this share of a module (its sigma)
DITHER_SIGMA_MODULES = 0.3


@dataclass(frozen=True)
class CodeHit:
    """A decoded QR code: its text, its symbol corners in image pixels and its size."""

    text: str
    #: (4, 2) float: the symbol's top-left, top-right, bottom-right, bottom-left corners (x, y)
    corners_px: np.ndarray
    #: modules per side (21 for version 1, +4 per version)
    modules: int


def find_code(grey: np.ndarray, *, px_per_mm: float | None = None) -> CodeHit | None:
    """The sheet code in a grey uint8 image, or None when no QR code can be decoded.

    A Scantally code ("ST1|…") is preferred when several codes are found. `px_per_mm` (the scan
    resolution, when known; else estimated from the image size) chooses the attempts.
    """
    if px_per_mm is None:
        px_per_mm = max(grey.shape[:2]) / NOMINAL_LONG_SIDE_MM
    for image, scale, offset in _attempts(grey, px_per_mm):
        hit = _decode(image, scale, offset)
        if hit is not None:
            return hit
    return None


def _attempts(grey: np.ndarray, px_per_mm: float
              ) -> Iterator[tuple[np.ndarray, float, tuple[int, int]]]:
    """(image, its scale to full size, its offset in the full image) to try, cheapest first;
    each made only when needed."""
    half = px_per_mm >= HALF_SIZE_MIN_PX_PER_MM

    def shrink(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)

    scale = 2.0 if half else 1.0
    # the code's corner of an upright page first, then the other corners (a page turned)
    h, w = grey.shape[:2]
    ch, cw = 2 * int(h * CORNER_SHARE[1] / 2), 2 * int(w * CORNER_SHARE[0] / 2)
    corners = ((w - cw, 0), (0, h - ch), (0, 0), (w - cw, h - ch))
    for x0, y0 in corners:
        corner = grey[y0:y0 + ch, x0:x0 + cw]
        yield (shrink(corner) if half else corner), scale, (x0, y0)
    if half:
        yield shrink(grey), scale, (0, 0)
    yield grey, 1.0, (0, 0)
    # dither averaged into grey: less than half a module, so modules stay apart; first by a
    # Gaussian of `DITHER_SIGMA_MODULES` in each corner (a blurred scan dithered afterwards
    # keeps its modules' edges only as a density of dots), then by a box over the whole page
    sigma = MODULE_MM * px_per_mm * DITHER_SIGMA_MODULES
    for x0, y0 in corners:
        corner = grey[y0:y0 + ch, x0:x0 + cw]
        yield cv2.GaussianBlur(corner, (0, 0), sigma), 1.0, (x0, y0)
    dither = max(3, int(MODULE_MM * px_per_mm * DITHER_BLUR_MODULES) | 1)
    yield cv2.blur(grey, (dither, dither)), 1.0, (0, 0)
    # a grey closing thinner than a module wipes out hairs and thin lines, keeps the modules
    size = max(3, int(MODULE_MM * px_per_mm * 0.75) | 1)
    kernel = np.ones((size, size), np.uint8)
    cleaners: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda g: cv2.morphologyEx(g, cv2.MORPH_CLOSE, kernel),
        lambda g: cv2.morphologyEx(unstreak(g), cv2.MORPH_CLOSE, kernel),
    ]
    for clean in cleaners:
        yield clean(grey), 1.0, (0, 0)


def unstreak(grey: np.ndarray) -> np.ndarray:
    """A copy with every streak column (dark over most of the image height: a dirty scanner
    sensor pixel) replaced by the nearest clean column to its left or right."""
    small = grey[::4]
    paper = np.percentile(small[:, ::4], 90)
    dark_share = (small < paper * 0.7).mean(0)
    streak = dark_share > STREAK_COLUMN_SHARE
    if not streak.any():
        return grey
    out = grey.copy()
    clean = np.flatnonzero(~streak)
    if clean.size == 0:
        return grey
    for col in np.flatnonzero(streak):
        nearest = clean[np.argmin(np.abs(clean - col))]
        out[:, col] = grey[:, nearest]
    return out


def _decode(image: np.ndarray, scale: float, offset: tuple[int, int]) -> CodeHit | None:
    found = zxingcpp.read_barcodes(
        np.ascontiguousarray(image), formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False,
        try_downscale=False, try_invert=False,
    )
    if not found:
        return None
    found.sort(key=lambda b: not b.text.startswith(SCANTALLY_PREFIX))
    best = found[0]
    pos = best.position
    pts = np.array(
        [(p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)],
        dtype=np.float64,
    )
    # zxing reports integer pixel corners of the symbol's outer edge
    return CodeHit(best.text, (pts + 0.5) * scale - 0.5 + np.array(offset, np.float64),
                   _modules(best))


def _modules(barcode: zxingcpp.Barcode) -> int:
    """Symbol size in modules from the decoder's version; by re-encoding the text otherwise."""
    extra = getattr(barcode, "extra", None) or {}
    try:
        version = int(extra.get("Version", ""))
    except (TypeError, ValueError):
        version = 0
    if 1 <= version <= 40:
        return 17 + 4 * version
    import segno  # as forms.render makes the code

    return int(segno.make_qr(barcode.text, error="q", boost_error=False).symbol_size(border=0)[0])
