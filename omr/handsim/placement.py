"""Where the page lands on the scan: shifts that cut corner marks off, and what truly is lost.

`cut_corners` moves the page (rejection sampling over shifts) so that the chosen corner marks
fall off the scan while the QR code and every box stay on it. `lost` says what a correct
reader cannot get back: the QR code or a box off the scan (then the sheet must be refused).
"""

from __future__ import annotations

import numpy as np

from omr.handsim.scanner import MM_PER_INCH, ScanSettings, page_to_scan

#: an area counts as on the scan when it is this far inside the scan's edge (mm)
ON_SCAN_MARGIN_MM = 1.0
#: a corner mark is off the scan when at most this share of its area is left on it
OFF_SHARE = 0.35
SHIFT_TRIES = 300


def _corners_px(rect_mm: list[float], k: float) -> np.ndarray:
    x, y, w, h = rect_mm
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) * k


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _inside(pts: np.ndarray, size: tuple[int, int], margin_px: float) -> bool:
    H, W = size
    return bool((pts[:, 0] >= margin_px).all() and (pts[:, 0] <= W - margin_px).all()
                and (pts[:, 1] >= margin_px).all() and (pts[:, 1] <= H - margin_px).all())


def _share_on(pts: np.ndarray, size: tuple[int, int]) -> float:
    """Share of a (small, nearly axis-aligned) quadrilateral on the scan, by sampling."""
    H, W = size
    s, t = np.meshgrid(np.linspace(0.05, 0.95, 7), np.linspace(0.05, 0.95, 7))
    s, t = s.ravel()[:, None], t.ravel()[:, None]
    a, b, c, d = pts
    grid = (1 - t) * ((1 - s) * a + s * b) + t * ((1 - s) * d + s * c)
    return float(((grid[:, 0] >= 0) & (grid[:, 0] < W) & (grid[:, 1] >= 0)
                  & (grid[:, 1] < H)).mean())


def lost(s: ScanSettings, page: dict, page_px: tuple[int, int]) -> str | None:
    """Why a correct reader must refuse this scan's geometry, or None when all it needs is
    on the scan (corner marks may be missing: the QR code and the printed grid are enough)."""
    k = s.dpi / MM_PER_INCH
    m, size = page_to_scan(s, page_px)
    if not _inside(_apply(m, _corners_px(page["code_mm"], k)), size, ON_SCAN_MARGIN_MM * k):
        return "QR code off the scan"
    for box in page["boxes"]:
        if not _inside(_apply(m, _corners_px(box["rect_mm"], k)), size, ON_SCAN_MARGIN_MM * k):
            return "boxes off the scan"
    return None


def fiducials_off(s: ScanSettings, page: dict, page_px: tuple[int, int]) -> list[int]:
    k = s.dpi / MM_PER_INCH
    m, size = page_to_scan(s, page_px)
    return [i for i, f in enumerate(page["fiducials_mm"])
            if _share_on(_apply(m, _corners_px(f, k)), size) <= OFF_SHARE]


def cut_corners(s: ScanSettings, page: dict, page_px: tuple[int, int],
                rng: np.random.Generator) -> bool:
    """Shift the page so exactly the fiducials in `s.corner_cut` are off the scan and nothing
    else is lost; True when found (else the shift is left as it was and corner_cut emptied)."""
    want = sorted(s.corner_cut)
    original = s.shift_mm
    w_mm, h_mm = page_px[1] / s.dpi * MM_PER_INCH, page_px[0] / s.dpi * MM_PER_INCH
    for _ in range(SHIFT_TRIES):
        dx = dy = 0.0
        for i in want:  # push toward the corners to cut
            fx = -1 if i in (0, 3) else 1
            fy = -1 if i in (0, 1) else 1
            dx += fx * rng.uniform(6, 16)
            dy += fy * rng.uniform(6, 16)
        s.shift_mm = (dx / len(want) + rng.normal(0, 2), dy / len(want) + rng.normal(0, 2))
        if abs(s.shift_mm[0]) > w_mm / 4 or abs(s.shift_mm[1]) > h_mm / 4:
            continue
        if fiducials_off(s, page, page_px) == want and lost(s, page, page_px) is None:
            return True
    s.shift_mm = original
    s.corner_cut = []
    return False
