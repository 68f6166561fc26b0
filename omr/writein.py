"""Write-in lines (另推): is a name written on a line whose box is not marked?

DOMAIN.md: a name written without a marked box is no vote, but a person must look at it (the
voter may have forgotten the mark). The engine never reads the name (no OCR); it only says that
a write-in line holds handwriting, and the reading lists it under ``writein_ink``
(``"<field>.<option>"``) for the review queue.

A line's cell (the layout's ``regions`` of kind ``writein``) is resampled upright, like the
boxes (`omr.score`), shrunk by `margin_mm` so its ruled border never counts. Ink is what is
darker than the voter's ink threshold against the cell's own paper level. What is not
handwriting is dropped: straight runs longer than `line_min_length_mm` along the line (a fold,
a rule that slipped in), narrow runs down the whole cell that go on above and below it (a
scanner streak) and specks smaller than `speck_max_mm2` (dust). What is left must cover
`min_ink_mm2`, span `min_span_mm` along the line and hold a stroke `min_height_mm` tall.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from omr.register import apply


@dataclass(frozen=True)
class WriteinSettings:
    """How write-in lines are measured (units in the names)."""

    sample_px_per_mm: float = 6.0
    #: the cell's inside shrunk by this on every side: its ruled border never counts
    margin_mm: float = 0.8
    #: a straight run along the line at least this long is a fold or a rule, not handwriting
    #: (a name of five characters in a thick pen, touching, is shorter)
    line_min_length_mm: float = 20.0
    #: a run of ink at most this wide, down the whole cell and this far on above and below it,
    #: is a scanner streak (a pen's stroke stays in the cell)
    streak_max_width_mm: float = 1.6
    streak_reach_mm: float = 3.0
    #: ink specks up to this area are dust
    speck_max_mm2: float = 0.25
    #: handwriting left after the above must cover this much...
    min_ink_mm2: float = 1.2
    #: ...and span this far along the line, and one stroke of it must be this tall (the thin
    #: bits of a light fold are not a character)
    min_span_mm: float = 2.0
    min_height_mm: float = 1.2


def writein_ink(grey: np.ndarray, page_to_image: np.ndarray, regions: list[dict],
                black_level: float, threshold: float,
                settings: WriteinSettings = WriteinSettings()) -> list[str]:
    """The ids (``"<field>.<option>"``) of the `regions` (layout write-in regions) that hold
    handwriting; `threshold`: the page's ink darkness (`omr.score.ink_threshold`)."""
    out = []
    for r in regions:
        dark, inner = _darkness(grey, page_to_image, r["rect_mm"], black_level, settings)
        if _has_handwriting(dark, inner, threshold, settings):
            out.append(str(r["id"]))
    return out


def _darkness(grey: np.ndarray, page_to_image: np.ndarray, rect_mm: list[float],
              black_level: float, settings: WriteinSettings) -> tuple[np.ndarray, slice]:
    """The cell's inside (less the margin) resampled upright, with `streak_reach_mm` more above
    and below it: darkness 0..1 against the cell's paper, and the rows of the cell itself."""
    ppm, m, reach = settings.sample_px_per_mm, settings.margin_mm, settings.streak_reach_mm
    x, y, w, h = rect_mm
    x, w, h = x + m, w - 2 * m, h - 2 * m
    y = y + m - reach
    wp, hp = max(1, round(w * ppm)), max(1, round((h + 2 * reach) * ppm))
    cx, cy = x + w / 2, y + h / 2 + reach
    q = apply(page_to_image, np.array([[cx, cy], [cx + 1.0, cy], [cx, cy + 1.0]]))
    dx, dy = q[1] - q[0], q[2] - q[0]  # image px per page mm along x, y
    origin = q[0] + (-w / 2 + 0.5 / ppm) * dx + (-h / 2 - reach + 0.5 / ppm) * dy
    affine = np.array([[dx[0] / ppm, dy[0] / ppm, origin[0]],
                       [dx[1] / ppm, dy[1] / ppm, origin[1]]])
    patch = cv2.warpAffine(grey, affine, (wp, hp), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    patch = cv2.blur(patch, (3, 3))
    inner = slice(round(reach * ppm), hp - round(reach * ppm))
    paper = float(np.percentile(patch[inner], 75))
    span = max(paper - black_level, 30.0)
    return np.clip((paper - patch.astype(np.float32)) / span, 0.0, 1.0), inner


def _has_handwriting(dark: np.ndarray, inner: slice, threshold: float,
                     settings: WriteinSettings) -> bool:
    ppm = settings.sample_px_per_mm
    ink = (dark > threshold).astype(np.uint8)
    if not ink[inner].any():
        return False
    # a streak: a narrow run of ink down the cell and on beyond it, above and below
    down = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((ink.shape[0] - 1, 1), np.uint8))
    down[:, ~_narrow_runs(down.any(0), round(settings.streak_max_width_mm * ppm))] = 0
    ink, down = ink[inner], down[inner]
    # a fold or a rule: a straight run along the line
    along = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                             np.ones((1, max(3, round(settings.line_min_length_mm * ppm))),
                                     np.uint8))
    ink &= 1 - cv2.dilate(along | down, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    speck_px = settings.speck_max_mm2 * ppm * ppm
    kept = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] > speck_px]
    if not kept or max(stats[i, cv2.CC_STAT_HEIGHT] for i in kept) < settings.min_height_mm * ppm:
        return False  # nothing left, or only thin bits of a line: no character
    area_mm2 = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in kept) / (ppm * ppm)
    left = min(int(stats[i, cv2.CC_STAT_LEFT]) for i in kept)
    right = max(int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]) for i in kept)
    return area_mm2 >= settings.min_ink_mm2 and (right - left) / ppm >= settings.min_span_mm


def _narrow_runs(flags: np.ndarray, max_len: int) -> np.ndarray:
    """Where `flags` is True in runs of at most `max_len`."""
    edges = np.diff(flags.astype(np.int8), prepend=0, append=0)
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    out = np.zeros(len(flags), bool)
    for a, b in zip(starts, ends, strict=True):
        if b - a <= max_len:
            out[a:b] = True
    return out
