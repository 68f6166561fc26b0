"""Write-in lines (另推): is a name written on a line whose box is not marked?

DOMAIN.md: a name written without a marked box is no vote, but a person must look at it (the
voter may have forgotten the mark). The engine never reads the name (no OCR); it only says that
a write-in line holds handwriting, and the reading lists it under ``writein_ink``
(``"<field>.<option>"``) for the review queue.

A line's cell (the layout's ``regions`` of kind ``writein``) is sampled exactly like a box
(`omr.score.sample_boxes`: darkness against its own paper, its ruled border outside the measured
area) and the straight lines that cross it and go on in the scan (streaks, folds) are erased
like a box's (`omr.lines.clear_lines`). Ink is what is darker than the voter's ink threshold.
Of it, what is left of a line too faint to be erased (a run along the cell longer than
`line_min_length_mm`) and specks smaller than `speck_max_mm2` (dust) are dropped; the rest must
cover `min_ink_mm2`, span `min_span_mm` along the line and hold a stroke `min_height_mm` tall.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from forms.layout_json import RegionDoc
from omr.lines import clear_lines
from omr.score import ScoreSettings, sample_boxes


@dataclass(frozen=True)
class WriteinSettings:
    """How write-in lines are measured (units in the names)."""

    #: a straight run along the line at least this long is a fold or a rule, not handwriting
    #: (a name of five characters in a thick pen, touching, is shorter)
    line_min_length_mm: float = 20.0
    #: ink specks up to this area are dust
    speck_max_mm2: float = 0.25
    #: handwriting left after the above must cover this much...
    min_ink_mm2: float = 1.2
    #: ...and span this far along the line, and one stroke of it must be this tall (the thin
    #: bits of a light fold are not a character)
    min_span_mm: float = 2.0
    min_height_mm: float = 1.2


def writein_ink(grey: np.ndarray, page_to_image: np.ndarray, regions: list[RegionDoc],
                black_level: float, threshold: float,
                score_settings: ScoreSettings = ScoreSettings(),
                settings: WriteinSettings = WriteinSettings()) -> list[str]:
    """The ids (``"<field>.<option>"``) of the `regions` (layout write-in regions) that hold
    handwriting; `threshold`: the page's ink darkness (`omr.score.ink_threshold`)."""
    if not regions:
        return []
    rects = np.array([r.rect_mm for r in regions], np.float64)
    # sampled like boxes, and straight lines that cross them and go on are erased like theirs
    samples = sample_boxes(grey, page_to_image, rects, black_level, score_settings)
    clear_lines(samples, np.arange(len(regions)), grey, page_to_image, rects, threshold,
                score_settings, printed_borders=False)
    found = set()
    for g in samples.groups:
        for j, i in enumerate(g.index):
            if _has_handwriting(g.dark[j][g.inner], threshold,
                                score_settings.sample_px_per_mm, settings):
                found.add(int(i))
    return [r.id for k, r in enumerate(regions) if k in found]


def _has_handwriting(dark: np.ndarray, threshold: float, ppm: float,
                     settings: WriteinSettings) -> bool:
    ink = (dark > threshold).astype(np.uint8)
    if not ink.any():
        return False
    # what is left of a fold or a rule too faint to be erased as a line: a run along the line
    along = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                             np.ones((1, max(3, round(settings.line_min_length_mm * ppm))),
                                     np.uint8))
    ink &= 1 - cv2.dilate(along, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    speck_px = settings.speck_max_mm2 * ppm * ppm
    kept = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] > speck_px]
    if not kept or max(stats[i, cv2.CC_STAT_HEIGHT] for i in kept) < settings.min_height_mm * ppm:
        return False  # nothing left, or only thin bits of a line: no character
    area_mm2 = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in kept) / (ppm * ppm)
    left = min(int(stats[i, cv2.CC_STAT_LEFT]) for i in kept)
    right = max(int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]) for i in kept)
    return area_mm2 >= settings.min_ink_mm2 and (right - left) / ppm >= settings.min_span_mm
