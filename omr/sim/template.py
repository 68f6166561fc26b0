"""Printed pages as images: each page rendered once per dpi, the per-sheet QR code pasted in.

Rasterising a PDF is the slow part of simulating, so the static page (everything but the QR code
and the "No.<serial>" line under it) is drawn once with `forms.render`'s painter and rasterised
with pdfium; each sheet then gets its QR code drawn with the exact module geometry of
`forms.render._qr` (area-sampled, like pdfium's anti-aliasing) and its serial line in the same
font. The result matches a pdfium render of `render_pdf` to within anti-aliasing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pypdfium2 as pdfium
import segno
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from forms.code import make_payload
from forms.fonts import FONT_PATH, register_font
from forms.layout import CompiledLayout
from forms.render import _paint_static

MM_PER_INCH = 25.4
QR_BORDER_MODULES = 2  # as in forms.render._qr
SERIAL_TEXT_PT = 6.5
SERIAL_BASELINE_BELOW_CODE_MM = 2.6


def mm_to_px(value_mm: float, dpi: float) -> float:
    """A length in millimetres as pixels at `dpi`."""
    return value_mm * dpi / MM_PER_INCH


@dataclass
class PageTemplate:
    """One printed page of a form at one dpi, without its per-sheet code."""

    form_id: str
    layout_hash: str
    page: int
    dpi: int
    code_mm: tuple[float, float, float, float]
    image: np.ndarray  # uint8 grey, white paper, shape (height_px, width_px)
    #: pixels per millimetre along x and y (pdfium stretches the page to whole pixels)
    px_per_mm: tuple[float, float]

    def sheet(self, serial: str) -> np.ndarray:
        """A fresh copy of the page with the QR code and serial line of sheet `serial`."""
        out = self.image.copy()
        payload = make_payload(self.form_id, self.layout_hash, self.page, serial)
        paste_qr(out, payload, self.code_mm, self.px_per_mm)
        _serial_line(out, serial, self.code_mm, self.px_per_mm, self.dpi)
        return out


def render_templates(compiled: CompiledLayout, layout_hash: str, dpi: int) -> list[PageTemplate]:
    """Rasterise every page of `compiled` once at `dpi` (grey, 8 bit)."""
    register_font()
    plan0 = compiled.pages[0]
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=(plan0.width_mm * mm, plan0.height_mm * mm))
    for plan in compiled.pages:
        _paint_static(canvas, plan)
        canvas.showPage()
    canvas.save()
    doc = pdfium.PdfDocument(buf.getvalue())
    out = []
    try:
        for plan, pdf_page in zip(compiled.pages, doc, strict=True):
            bitmap = pdf_page.render(scale=dpi / 72.0, grayscale=True)
            image = np.array(bitmap.to_pil().convert("L"))
            scale = (image.shape[1] / plan.width_mm, image.shape[0] / plan.height_mm)
            out.append(PageTemplate(compiled.spec.id, layout_hash, plan.page, dpi,
                                    tuple(plan.code_mm), image, scale))
    finally:
        doc.close()
    return out


def _coverage(edges_px: np.ndarray, size_px: int) -> np.ndarray:
    """Coverage matrix (len(edges)-1, size_px): how much of each pixel each interval covers."""
    lo, hi = edges_px[:-1, None], edges_px[1:, None]
    px = np.arange(size_px, dtype=np.float64)[None, :]
    return np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0.0, 1.0)


def paste_qr(image: np.ndarray, payload: str, code_mm: tuple[float, ...],
             px_per_mm: tuple[float, float]) -> None:
    """Draw the QR code of `payload` into `image` (grey, in place) where forms.render puts it."""
    qr = segno.make_qr(payload, error="q", boost_error=False)
    matrix = np.array([list(row) for row in qr.matrix], dtype=np.float64)
    n = matrix.shape[0]
    x0_mm, y0_mm, size_mm, _ = code_mm
    module_mm = size_mm / (n + 2 * QR_BORDER_MODULES)
    sx, sy = px_per_mm
    left_px, top_px = int(np.floor(x0_mm * sx)), int(np.floor(y0_mm * sy))
    span_px = int(np.ceil(size_mm * max(sx, sy))) + 2
    steps = np.arange(n + 1) + QR_BORDER_MODULES
    cols = _coverage((x0_mm + steps * module_mm) * sx - left_px, span_px)
    rows = _coverage((y0_mm + steps * module_mm) * sy - top_px, span_px)
    dark = np.clip(rows.T @ matrix @ cols, 0.0, 1.0)
    region = image[top_px:top_px + span_px, left_px:left_px + span_px]
    h, w = region.shape
    region[:] = np.minimum(region, np.rint(255.0 * (1.0 - dark[:h, :w])).astype(np.uint8))


@lru_cache(maxsize=8)
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size=size_px, index=0)


def _serial_line(image: np.ndarray, serial: str, code_mm: tuple[float, ...],
                 px_per_mm: tuple[float, float], dpi: int) -> None:
    """The "No.<serial>" line centred under the QR code, as forms.render._serial_text draws it."""
    x0_mm, y0_mm, size_mm, _ = code_mm
    size_px = max(6, round(SERIAL_TEXT_PT / 72.0 * dpi))
    font = _font(size_px)
    text = f"No.{serial}"
    cx = (x0_mm + size_mm / 2) * px_per_mm[0]
    base = (y0_mm + size_mm + SERIAL_BASELINE_BELOW_CODE_MM) * px_per_mm[1]
    left, top, right, bottom = font.getbbox(text, anchor="ms")
    x0, y0 = int(cx + left) - 1, int(base + top) - 1
    w, h = int(right - left) + 3, int(bottom - top) + 3
    patch = Image.new("L", (w, h), 0)
    ImageDraw.Draw(patch).text((cx - x0, base - y0), text, fill=255, font=font, anchor="ms")
    ink = np.asarray(patch, dtype=np.uint8)
    region = image[y0:y0 + h, x0:x0 + w]
    region[:] = np.minimum(region, 255 - ink[:region.shape[0], :region.shape[1]])
