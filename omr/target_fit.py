"""Per-target refinement of a foreign page: each box moved onto its printed outline, locally.

The homography fitted on the reference's anchors (`omr.reference.refine`) holds the page as a
whole. Two things it cannot hold: a page bent in the scanner (the rows at the bottom of a long
bubble grid lie a millimetre off a plane's fit), and an imported template whose bubble
coordinates were measured on another print (the template's boxes sit off this print by a
fraction of a millimetre, everywhere). Where the reference does not show the targets (an
imported answer sheet: `registration.targets_shown: false`), nothing of the reference pins
them; the page itself does: every bubble's printed outline.

`local_offsets` finds, for every box, where an outline of the box's own shape and size
correlates best within +-`SEARCH_MM` of the fitted place, compared on a band about the outline
only (a printed letter or a voter's fill inside does not count), at the outline size that
correlates best over the page; fits one smooth field to the offsets clearly found (a
quadratic in x and y, by least squares, leaving out boxes far from it: a fill or a stray mark
moves its own peak, not the field); then gives each box the median offset of the kept
outlines within `NEIGHBOUR_MM` (a photographed sheet curls in ways no polynomial follows), or
the field's where there are too few. Boxes move with their neighbours, never one by one.
Measured on the OMRChecker samples: tests/foreign_real.py. Pure: page mm in, page mm out.
"""

from __future__ import annotations

import cv2
import numpy as np

#: sampling resolution of the search
PX_PER_MM = 8.0
#: how far a box's outline is looked for around its fitted place
SEARCH_MM = 1.5
#: an outline found with at least this correlation counts for its neighbours
MIN_CORRELATION = 0.25
#: fewest outlines found for the boxes to move at all
MIN_FOUND = 30
#: the field is fitted this many times, leaving out boxes this far from the last fit
FIT_ROUNDS = 3
OUTLIER_MM = 0.4
#: width of the printed outline the boxes are matched with, and of the band on each side of
#: it they are compared on
OUTLINE_MM = 0.3
BAND_MM = 0.4
#: a box takes the median offset of the outlines found within NEIGHBOUR_MM of it (at least
#: MIN_NEIGHBOURS of them, those the fit kept); with fewer, the smooth field's
NEIGHBOUR_MM = 10.0
MIN_NEIGHBOURS = 4
#: sizes of the outline looked for, as a share of the box's
OUTLINE_SCALES = (0.7, 0.8, 0.9, 1.0, 1.1)



def _outline(w_px: int, h_px: int, ellipse: bool, margin_px: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """The outline as drawn (dark on white) and the mask it is compared on: a band about the
    outline only - what is inside (a printed letter, a voter's fill) does not count."""
    tpl = np.full((h_px + 2 * margin_px, w_px + 2 * margin_px), 255, np.uint8)
    band = np.zeros_like(tpl)
    thick = max(1, round(OUTLINE_MM * PX_PER_MM))
    wide = thick + 2 * round(BAND_MM * PX_PER_MM)
    centre = (tpl.shape[1] // 2, tpl.shape[0] // 2)
    for image, value, width in ((tpl, 0, thick), (band, 255, wide)):
        if ellipse:
            cv2.ellipse(image, centre, (w_px // 2, h_px // 2), 0, 0, 360, value, width)
        else:
            cv2.rectangle(image, (margin_px, margin_px), (margin_px + w_px, margin_px + h_px),
                          value, width)
    return tpl, band


def _found(page: np.ndarray, rects_mm: np.ndarray, ellipses: np.ndarray, scale: float = 1.0
           ) -> tuple[np.ndarray, np.ndarray]:
    """Per box: the offset (mm) where its outline correlates best, and how well (0: not
    found)."""
    k = PX_PER_MM
    reach = round(SEARCH_MM * k)
    margin = round(BAND_MM * k) + 2
    found = np.zeros((len(rects_mm), 2))
    score = np.zeros(len(rects_mm))
    templates: dict[tuple[int, int, bool], tuple[np.ndarray, np.ndarray]] = {}
    for i, ((x, y, w, h), ellipse) in enumerate(zip(rects_mm, ellipses, strict=True)):
        key = (round(w * scale * k), round(h * scale * k), bool(ellipse))
        if key not in templates:
            templates[key] = _outline(*key, margin)
        tpl, band = templates[key]
        # the outline of this size, centred on the box
        x0 = round((x + w / 2) * k) - tpl.shape[1] // 2 - reach
        y0 = round((y + h / 2) * k) - tpl.shape[0] // 2 - reach
        x1, y1 = x0 + tpl.shape[1] + 2 * reach, y0 + tpl.shape[0] + 2 * reach
        if x0 < 0 or y0 < 0 or x1 > page.shape[1] or y1 > page.shape[0]:
            continue
        window = page[y0:y1, x0:x1]
        if window.std() < 4:
            continue
        s = cv2.matchTemplate(window, tpl, cv2.TM_CCOEFF_NORMED, mask=band)
        s = np.nan_to_num(s, nan=-1.0, posinf=-1.0, neginf=-1.0)
        sy, sx = np.unravel_index(int(np.argmax(s)), s.shape)
        if 0 < sx < s.shape[1] - 1 and 0 < sy < s.shape[0] - 1:  # a peak, not the edge
            found[i] = ((sx - reach) / k, (sy - reach) / k)
            score[i] = float(s[sy, sx])
    return found, score


def _terms(points_mm: np.ndarray, page_size_mm: tuple[float, float]) -> np.ndarray:
    u = points_mm[:, 0] / page_size_mm[0] - 0.5
    v = points_mm[:, 1] / page_size_mm[1] - 0.5
    return np.column_stack([np.ones_like(u), u, v, u * v, u * u, v * v])


def local_offsets(grey: np.ndarray, page_to_image: np.ndarray, rects_mm: np.ndarray,
                  ellipses: np.ndarray, page_size_mm: tuple[float, float]) -> np.ndarray:
    """(N, 2) page mm to add to each box's place (`rects_mm` (N, 4) x, y, w, h; `ellipses`
    (N,) bool: the box's outline is an ellipse); zeros where too few outlines are found."""
    k = PX_PER_MM
    size = (round(page_size_mm[0] * k), round(page_size_mm[1] * k))
    page = cv2.warpPerspective(grey, page_to_image @ np.diag([1 / k, 1 / k, 1.0]), size,
                               flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP, borderValue=255)
    # the printed outline may be smaller or larger than the box the template gives: the size
    # whose outlines correlate best is the print's (an outline of the wrong size matches
    # against one side of the print, off centre)
    tries = [_found(page, rects_mm, ellipses, s) for s in OUTLINE_SCALES]
    found, score = max(tries, key=lambda t: float(np.median(t[1])))
    good = score >= MIN_CORRELATION
    out = np.zeros((len(rects_mm), 2))
    if good.sum() < MIN_FOUND:
        return out
    centres = rects_mm[:, :2] + rects_mm[:, 2:] / 2
    terms = _terms(centres, page_size_mm)
    use = good.copy()
    for _ in range(FIT_ROUNDS):  # least squares, the outliers (fills, strays) left out
        coef, *_ = np.linalg.lstsq(terms[use], found[use], rcond=None)
        error = np.linalg.norm(terms @ coef - found, axis=1)
        use = good & (error <= OUTLIER_MM)
        if use.sum() < MIN_FOUND:
            return out
    field = np.clip(terms @ coef, -SEARCH_MM, SEARCH_MM)
    # where enough outlines about a box agree with one another, their median holds it (a
    # photographed sheet curls in ways no polynomial follows); elsewhere, the smooth field
    for i, c in enumerate(centres):
        near = use & (np.abs(centres - c).max(1) <= NEIGHBOUR_MM)
        out[i] = np.median(found[near], axis=0) if near.sum() >= MIN_NEIGHBOURS else field[i]
    return out
