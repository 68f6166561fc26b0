"""Draw a reading on its page, for a person to check: boxes coloured by decision, with scores.

Green: marked; orange: doubtful; blue outline: empty. Each box's fill score is written beside
it; a banner at the top gives the status and reason. Returns a new BGR image (the scan is not
modified), scaled down to at most `max_width_px` wide.
"""

from __future__ import annotations

import cv2
import numpy as np

from omr.layout import Layouts, PageGeometry
from omr.reading import Reading
from omr.register import apply, local_scale

MARKED_BGR = (40, 170, 40)
DOUBTFUL_BGR = (0, 140, 255)
EMPTY_BGR = (200, 120, 40)
BANNER_BGR = {"ok": (40, 140, 40), "review": (0, 120, 230), "blank": (120, 120, 120),
              "unreadable": (30, 30, 200), "unknown_form": (150, 40, 150)}


def annotate(image: np.ndarray, reading: Reading, layouts: Layouts, *,
             max_width_px: int = 1400) -> np.ndarray:
    """The page `image` (grey or RGB uint8) with `reading` drawn on it, as a BGR uint8 image."""
    bgr = _to_bgr(image)
    scale = min(1.0, max_width_px / bgr.shape[1])
    if scale < 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    layout = layouts.get(reading.form or "")
    if reading.page_to_image is not None and layout is not None:
        h = np.diag([scale, scale, 1.0]) @ reading.page_to_image
        page = layout.pages.get(reading.page) if reading.page is not None else None
        if page is not None:
            _draw_boxes(bgr, h, page, reading)
            for x, y, w, hh in page.doc.fiducials_mm or []:  # none on a foreign form
                centre_mm = np.array([x + w / 2, y + hh / 2])
                c = apply(h, centre_mm[None])[0]
                radius_px = max(4, round(0.8 * w * local_scale(h, centre_mm)))
                cv2.circle(bgr, (round(c[0]), round(c[1])), radius_px, MARKED_BGR, 2,
                           cv2.LINE_AA)
    _banner(bgr, reading)
    return bgr


def _to_bgr(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(a, cv2.COLOR_RGB2BGR)


def _draw_boxes(bgr: np.ndarray, h: np.ndarray, page: PageGeometry, reading: Reading) -> None:
    font_scale = max(0.3, 0.00035 * bgr.shape[1])
    for box in page.boxes:
        field, option = box.field, box.option
        x, y, w, hh = box.rect_mm
        quad = apply(h, np.array([[x, y], [x + w, y], [x + w, y + hh], [x, y + hh]]))
        pts = np.rint(quad).astype(np.int32)
        marks = reading.marks.get(field)
        if marks and option in marks.marked:
            colour, thick = MARKED_BGR, 3
        elif marks and option in marks.doubtful:
            colour, thick = DOUBTFUL_BGR, 3
        else:
            colour, thick = EMPTY_BGR, 1
        cv2.polylines(bgr, [pts], True, colour, thick, cv2.LINE_AA)
        score = reading.scores.get(field, {}).get(option)
        if score is not None and (score >= 0.005 or thick > 1):
            org = (int(pts[:, 0].max()) + 3, int(pts[:, 1].max()))
            cv2.putText(bgr, f"{score:.2f}", org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour,
                        1, cv2.LINE_AA)


def _banner(bgr: np.ndarray, reading: Reading) -> None:
    width = bgr.shape[1]
    font_scale = max(0.4, 0.0006 * width)
    line_h = round(32 * font_scale)
    where = f"{reading.form or ''} p{reading.page or '?'}"
    text = f"{reading.status.upper()}  {reading.source}  {where}"
    lines = [_ascii(text), *_wrap(_ascii(reading.reason), width, font_scale)[:3]]
    cv2.rectangle(bgr, (0, 0), (width, line_h * len(lines) + 8),
                  BANNER_BGR.get(reading.status, (80, 80, 80)), -1)
    for i, line in enumerate(lines):
        cv2.putText(bgr, line, (8, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), 1, cv2.LINE_AA)


def _ascii(text: str) -> str:
    """Hershey fonts draw ASCII only."""
    return text.encode("ascii", "replace").decode("ascii")


def _wrap(text: str, width_px: int, font_scale: float) -> list[str]:
    if not text:
        return []
    per_line = max(20, int(width_px / (19 * font_scale)))
    words, lines, cur = text.split(), [], ""
    for word in words:
        if len(cur) + len(word) + 1 > per_line and cur:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    lines.append(cur)
    return lines
