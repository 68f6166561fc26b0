"""The parts of a stored page a review item shows (`mark_crops`, in page millimetres) and
their pictures (`render_crop`: a PNG cut from the stored image, upright)."""

from __future__ import annotations

import cv2
import numpy as np
from sqlalchemy.orm import Session

from omr.layout import FormLayout
from scanner.images import iter_bytes
from tally.db import Page
from tally.formstore import meeting_layouts
from tally.review.errors import ReviewError
from tally.review.items import Crop
from tally.store import Store

#: margins around a crop, and the resolution crops are rendered at
BOX_MARGIN_MM = 4.0
ROW_MARGIN_MM = 2.5
CROP_PX_PER_MM = 8.0
PAGE_PX_PER_MM = 3.0


def mark_crops(layout: FormLayout | None, row: Page, f: str, o: str) -> tuple[Crop, ...]:
    """What a box item shows of its page (by its form's layout): the box, its write-in line,
    its row; the whole page when the layout has no such box."""
    page = layout.pages.get(row.page_no or 0) if layout is not None else None
    if page is None or layout is None:
        return (Crop("page", None),)
    box = next((b.rect_mm for b in page.boxes if b.field == f and b.option == o), None)
    if box is None:
        return (Crop("page", None),)
    x, y, w, h = box
    crops = [Crop("box", (x - BOX_MARGIN_MM, y - BOX_MARGIN_MM, w + 2 * BOX_MARGIN_MM,
                          h + 2 * BOX_MARGIN_MM))]
    region = next((r.rect_mm for r in page.regions if r.id == f"{f}.{o}"), None)
    if region is not None:
        crops.append(Crop("write-in line", _union(region, box, BOX_MARGIN_MM)))
    page_w = float(layout.doc.page_size_mm[0])
    crops.append(Crop("row", (0.0, y - ROW_MARGIN_MM, page_w, h + 2 * ROW_MARGIN_MM)))
    return tuple(crops)


def _union(a: list[float], b: list[float], margin: float) -> tuple[float, float, float, float]:
    x0, y0 = min(a[0], b[0]) - margin, min(a[1], b[1]) - margin
    x1, y1 = max(a[0] + a[2], b[0] + b[2]) + margin, max(a[1] + a[3], b[1] + b[3]) + margin
    return (x0, y0, x1 - x0, y1 - y0)


def render_crop(store: Store, session: Session, page_id: int,
                rect_mm: tuple[float, float, float, float] | None, *,
                px_per_mm: float | None = None) -> bytes:
    """A PNG of part of a stored page, upright, mapped through the page's registration when the
    engine found one, else by scaling the printed page onto the image. The image is verified
    against its SHA-256 first (ImageMissing / ImageTampered)."""
    row = session.get(Page, page_id)
    if row is None:
        raise ReviewError("no page #{page}", page=page_id)
    data = store.images.get(row.sha256, what=f"page #{row.id} ({row.source})")
    first = next(iter_bytes(data, row.source or row.sha256), None)  # a stored image is one page
    if first is None or first.image is None:
        raise ReviewError("page #{page}: the stored image cannot be decoded ({error})",
                          page=row.id, error=first.error if first else "empty")
    image = first.image
    layout = meeting_layouts(session, row.meeting_id).get(row.form_id or "")
    page_w, page_h = (layout.doc.page_size_mm if layout else
                      (210.0, 210.0 * image.shape[0] / image.shape[1]))
    if row.page_to_image is not None:
        to_image = np.asarray(row.page_to_image, dtype=np.float64)
    else:
        to_image = np.diag([image.shape[1] / page_w, image.shape[0] / page_h, 1.0])
    if rect_mm is None:
        rect_mm, scale = (0.0, 0.0, float(page_w), float(page_h)), px_per_mm or PAGE_PX_PER_MM
    else:
        scale = px_per_mm or CROP_PX_PER_MM
    x, y, w, h = rect_mm
    crop_to_mm = np.array([[1 / scale, 0, x], [0, 1 / scale, y], [0, 0, 1]], dtype=np.float64)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    crop = cv2.warpPerspective(image, to_image @ crop_to_mm, size,
                               flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        raise ReviewError("page #{page}: cannot encode the crop", page=row.id)
    return png.tobytes()
