"""Blank sheets from our own renderer: a form spec -> PDF (`forms.render`) -> grey raster.

The static page is rasterised once per (page, dpi); each sheet then gets only its own variable
areas (QR code with its serial caption, and a card-reader form's serial cells) rasterised from
that sheet's PDF page and pasted in. `composite_matches_full` checks that this equals a full
render of the same sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from forms.layout import CompiledLayout, compile_layout
from forms.layout_json import layout_to_dict
from forms.load import load_spec
from forms.render import render_pdf

MM_PER_INCH = 25.4
PT_PER_MM = 72.0 / MM_PER_INCH
#: margin around a variable area, so the pasted crop carries the whole anti-aliased edge
PASTE_MARGIN_MM = 3.0
#: the serial caption sits under the QR code (`forms.render._serial_text`): room for it
CAPTION_BELOW_MM = 4.5
#: sheets rendered into one PDF at a time (reportlab's per-document cost is then shared)
PDF_CHUNK = 64
#: extra pixels rendered around a crop (pdfium rounds a crop's size)
CROP_PAD_PX = 2


@dataclass
class Form:
    """A compiled form: its spec path, layout JSON (dict) and compiled page plans."""

    spec_path: Path
    compiled: CompiledLayout
    layout: dict

    @property
    def layout_hash(self) -> str:
        return self.layout["form"]["hash"]

    @property
    def page_size_mm(self) -> tuple[float, float]:
        w, h = self.layout["page_size_mm"]
        return float(w), float(h)


def load_form(spec_path: str | Path) -> Form:
    """Load and compile a spec (SpecError / LayoutError as `forms` raises them)."""
    compiled = compile_layout(load_spec(spec_path))
    return Form(Path(spec_path), compiled, layout_to_dict(compiled))


def variable_areas_mm(form: Form, page: int) -> list[tuple[float, float, float, float]]:
    """The areas [x, y, w, h] (mm) that change from sheet to sheet on `page`."""
    plan = form.compiled.pages[page - 1]
    m = PASTE_MARGIN_MM
    x, y, s, _ = plan.code_mm
    areas = [(x - m, y - m, s + 2 * m, s + CAPTION_BELOW_MM + 2 * m)]
    if plan.serial_code:
        rects = np.array([r for _, r in plan.serial_code], dtype=float)
        x0, y0 = rects[:, 0].min(), rects[:, 1].min()
        x1, y1 = (rects[:, 0] + rects[:, 2]).max(), (rects[:, 1] + rects[:, 3]).max()
        areas.append((x0 - m, y0 - m, x1 - x0 + 2 * m, y1 - y0 + 2 * m))
    return areas


def _px_box(area_mm: tuple[float, float, float, float], dpi: float,
            shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Whole-pixel box (x0, y0, x1, y1) covering an area, clipped to the page raster."""
    k = dpi / MM_PER_INCH
    x, y, w, h = area_mm
    x0, y0 = max(0, int(np.floor(x * k))), max(0, int(np.floor(y * k)))
    x1, y1 = min(shape[1], int(np.ceil((x + w) * k))), min(shape[0], int(np.ceil((y + h) * k)))
    return x0, y0, x1, y1


def _render(page: pdfium.PdfPage, dpi: float) -> np.ndarray:
    """Grey uint8 raster of a whole PDF page."""
    return page.render(scale=dpi / 72.0, grayscale=True).to_numpy().copy()


def _render_padded(page: pdfium.PdfPage, dpi: float, box_px: tuple[int, int, int, int],
                   full_px: tuple[int, int]) -> tuple[np.ndarray, int, int]:
    """(raster of the box grown by CROP_PAD_PX on every side, its x0, its y0 in page px).

    pdfium crops in points, (left, bottom, right, top), and places the crop's raster to its
    own rounding: `_crop_offset` finds where it really lands once per page and dpi."""
    scale = dpi / 72.0
    x0, y0, x1, y1 = box_px
    h, w = full_px
    ex0, ey0 = max(0, x0 - CROP_PAD_PX), max(0, y0 - CROP_PAD_PX)
    ex1, ey1 = min(w, x1 + CROP_PAD_PX), min(h, y1 + CROP_PAD_PX)
    crop = (ex0 / scale, (h - ey1) / scale, (w - ex1) / scale, ey0 / scale)
    return page.render(scale=scale, grayscale=True, crop=crop).to_numpy(), ex0, ey0


def _cut(raster: np.ndarray, ex0: int, ey0: int, box_px: tuple[int, int, int, int],
         offset: tuple[int, int]) -> np.ndarray | None:
    x0, y0, x1, y1 = box_px
    dy, dx = offset
    top, left = y0 - ey0 + dy, x0 - ex0 + dx
    if top < 0 or left < 0:
        return None
    part = raster[top:top + y1 - y0, left:left + x1 - x0]
    return part if part.shape == (y1 - y0, x1 - x0) else None


def _crop_offset(raster: np.ndarray, ex0: int, ey0: int, box_px: tuple[int, int, int, int],
                 reference: np.ndarray) -> tuple[int, int]:
    """The (dy, dx) at which a padded crop matches the full render of the same sheet best."""
    x0, y0, x1, y1 = box_px
    want = reference[y0:y1, x0:x1].astype(np.int16)
    best, best_err = (0, 0), None
    for dy in range(-CROP_PAD_PX, CROP_PAD_PX + 1):
        for dx in range(-CROP_PAD_PX, CROP_PAD_PX + 1):
            part = _cut(raster, ex0, ey0, box_px, (dy, dx))
            if part is None:
                continue
            err = int(np.abs(part.astype(np.int16) - want).sum())
            if best_err is None or err < best_err:
                best, best_err = (dy, dx), err
    return best


@dataclass
class BlankFactory:
    """Makes blank sheets of one form with given serials, at any dpi (cached static pages)."""

    form: Form
    _static: dict[tuple[int, float], np.ndarray] = field(default_factory=dict)
    _docs: dict[str, pdfium.PdfDocument] = field(default_factory=dict)
    _page_of: dict[str, int] = field(default_factory=dict)
    #: per (page, dpi): where pdfium's crop of each variable area lands (dy, dx)
    _offsets: dict[tuple[int, float], list[tuple[int, int]]] = field(default_factory=dict)

    def prepare(self, serials: list[str]) -> None:
        """Render the PDF pages of these serials in chunks (call before `sheet`)."""
        todo = [s for s in serials if s not in self._page_of]
        for start in range(0, len(todo), PDF_CHUNK):
            chunk = todo[start:start + PDF_CHUNK]
            pdf = render_pdf(self.form.compiled, self.form.layout_hash, chunk)
            doc = pdfium.PdfDocument(pdf)
            for i, serial in enumerate(chunk):
                self._docs[serial] = doc
                self._page_of[serial] = i * len(self.form.compiled.pages)

    def forget(self, serials: list[str]) -> None:
        for s in serials:
            self._docs.pop(s, None)
            self._page_of.pop(s, None)

    def _pdf_page(self, serial: str, page: int) -> pdfium.PdfPage:
        if serial not in self._page_of:
            self.prepare([serial])
        return self._docs[serial][self._page_of[serial] + page - 1]

    def full(self, serial: str, page: int, dpi: float) -> np.ndarray:
        """A full render of one sheet's page (the reference for the composite)."""
        return _render(self._pdf_page(serial, page), dpi)

    def sheet(self, serial: str, page: int, dpi: float) -> np.ndarray:
        """Grey uint8 (H, W) raster of `page` of the sheet with `serial`, at `dpi`."""
        key = (page, float(dpi))
        if key not in self._static:
            self._static[key] = self.full(serial, page, dpi)
            self._offsets[key] = []
            reference = self._static[key]
            for area in variable_areas_mm(self.form, page):
                box = _px_box(area, dpi, reference.shape)
                raster, ex0, ey0 = _render_padded(self._pdf_page(serial, page), dpi, box,
                                                  reference.shape)
                self._offsets[key].append(_crop_offset(raster, ex0, ey0, box, reference))
        # always pasted, the first sheet too: a sheet's pixels must not depend on which sheet
        # a worker happened to draw first
        out = self._static[key].copy()
        pdf_page = self._pdf_page(serial, page)
        for area, offset in zip(variable_areas_mm(self.form, page), self._offsets[key],
                                strict=True):
            box = _px_box(area, dpi, out.shape)
            raster, ex0, ey0 = _render_padded(pdf_page, dpi, box, out.shape)
            part = _cut(raster, ex0, ey0, box, offset)
            if part is None:  # cannot happen with a sane offset; never paste a wrong area
                return self.full(serial, page, dpi)
            x0, y0, x1, y1 = box
            out[y0:y1, x0:x1] = part
        return out


def composite_matches_full(factory: BlankFactory, serial: str, page: int, dpi: float
                           ) -> tuple[bool, int]:
    """(identical, largest grey difference) of the composited sheet vs its full render."""
    a = factory.sheet(serial, page, dpi).astype(np.int16)
    b = factory.full(serial, page, dpi).astype(np.int16)
    diff = int(np.abs(a - b).max()) if a.shape == b.shape else 255
    return diff == 0, diff
