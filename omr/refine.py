"""The printed box borders as anchors: fix a first map that too few corner marks gave.

When a sheet lost corner marks (cut off by skew and shift, folded over, damaged), the QR code and
the marks left give a first map (`omr.register`, `Registration.partial`). Every box is printed
with a border, and there are dozens of them across the sheet: each one found near where the map
puts it says where the map is off there. The map is refitted to them (RANSAC, so a box whose
border is hidden by a scribble or a fill cannot pull it) together with the code's corners and the
marks found, in rounds of narrowing search: an affine map while the first estimate may still be
millimetres off far from the code, then a homography. The result is trusted only when, searched
at the ordinary reach, the borders of most boxes sit where it puts them (`omr.engine` measures
the registration error on them as for any page); else the page is refused, never guessed.
Pure: arrays in, a map or a reason out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from omr.register import Registration, apply, local_scale
from omr.score import ScoreSettings, sample_boxes


@dataclass(frozen=True)
class RefineSettings:
    """How the box borders refine a partial map (units in the names)."""

    #: search reach (and paper kept round each box) of each round: wide first
    rounds_mm: tuple[tuple[float, float], ...] = ((3.0, 3.5), (1.6, 2.0))
    #: fewest boxes whose border must be found to refit the map
    min_boxes: int = 8
    #: RANSAC: a box's border may miss the fitted map by this much and still count
    inlier_mm: float = 0.5
    #: share of the boxes whose borders can be measured that must be found in the last round
    min_found_share: float = 0.8


class RefineError(ValueError):
    """The box borders do not fix the page's geometry; `str(exc)` says how far it got."""


def refine_on_borders(grey: np.ndarray, rects_mm: np.ndarray, reg: Registration,
                      score: ScoreSettings, settings: RefineSettings = RefineSettings()
                      ) -> Registration:
    """A map refitted to the printed borders of the boxes `rects_mm` ((N, 4) page mm, their
    insides) found near where `reg` puts them; raises RefineError when too few are found."""
    h = reg.page_to_image
    centres = rects_mm[:, :2] + rects_mm[:, 2:] / 2
    found_share = 0.0
    for k, (reach_mm, ring_mm) in enumerate(settings.rounds_mm):
        wide = replace(score, border_search_mm=reach_mm, ring_mm=ring_mm)
        samples = sample_boxes(grey, h, rects_mm, reg.black_level, wide)
        measured = samples.border_measured
        ok = measured & np.isfinite(samples.border_offset_mm).all(1)
        found_share = float(ok.sum()) / max(int(measured.sum()), 1)
        if ok.sum() < settings.min_boxes:
            raise RefineError(f"the box borders were found on {int(ok.sum())} of "
                              f"{int(measured.sum())} boxes")
        src = np.concatenate([centres[ok], reg.anchors_mm])
        dst = np.concatenate([apply(h, centres[ok] + samples.border_offset_mm[ok]),
                              reg.anchors_px])
        tol_px = settings.inlier_mm * reg.px_per_mm
        last = k == len(settings.rounds_mm) - 1
        fitted = _fit(src, dst, tol_px, homography=last)
        if fitted is None:
            raise RefineError("the box borders found do not agree on one map")
        h = fitted
    if found_share < settings.min_found_share:
        raise RefineError(f"the box borders were found on only {found_share:.0%} of the boxes")
    return replace(reg, page_to_image=h, px_per_mm=local_scale(h, centres.mean(0)),
                   partial=False)


def _fit(src: np.ndarray, dst: np.ndarray, tol_px: float, *, homography: bool
         ) -> np.ndarray | None:
    """RANSAC fit src -> dst: a 3x3 homography, or an affine map as 3x3; None when it fails."""
    s, d = src.astype(np.float32), dst.astype(np.float32)
    if homography:
        h, _ = cv2.findHomography(s, d, cv2.RANSAC, tol_px, maxIters=500)
        return None if h is None else h.astype(np.float64)
    a, _ = cv2.estimateAffine2D(s, d, method=cv2.RANSAC, ransacReprojThreshold=tol_px,
                                maxIters=500)
    return None if a is None else np.vstack([a.astype(np.float64), [0.0, 0.0, 1.0]])
