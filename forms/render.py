"""Render compiled page plans to a printable PDF with reportlab.

Every copy gets its own serial in its QR code; the CJK font is embedded (subset), so the PDF
prints the same on a machine without it. Painting only: geometry comes from `forms.layout`.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable

import segno
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from forms.code import make_payload
from forms.fonts import FONT_NAME, register_font
from forms.layout import CompiledLayout
from forms.plan import Line, PagePlan, Rect, Text

SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: safe to read aloud
FAUX_BOLD_STROKE_PT = 0.35


def random_serials(count: int, length: int = 10) -> list[str]:
    """Unguessable, distinct sheet tokens for a real meeting (see DOMAIN.md)."""
    out: set[str] = set()
    while len(out) < count:
        out.add("".join(secrets.choice(SERIAL_ALPHABET) for _ in range(length)))
    return sorted(out)


def sequential_serials(count: int, start: int = 1) -> list[str]:
    """Test-deck serials: 000001, 000002, ..."""
    return [f"{n:06d}" for n in range(start, start + count)]


def render_pdf(
    compiled: CompiledLayout,
    layout_hash: str,
    serials: Iterable[str],
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """One copy of every page per serial, in order; returns the PDF bytes."""
    register_font()
    buf = io.BytesIO()
    w_mm, h_mm = compiled.pages[0].width_mm, compiled.pages[0].height_mm
    canvas = Canvas(buf, pagesize=(w_mm * mm, h_mm * mm), pageCompression=1)
    canvas.setTitle(compiled.spec.title)
    canvas.setAuthor(compiled.spec.header.unit)
    canvas.setSubject(f"{compiled.spec.id} layout {layout_hash[:12]}")
    canvas.setCreator("Scantally")
    made: set[str] = set()
    for n, serial in enumerate(serials, 1):
        for plan in compiled.pages:
            form_name = f"page{plan.page}"  # the static page, drawn once, reused by every copy
            if form_name not in made:
                canvas.beginForm(form_name)
                _paint_static(canvas, plan)
                canvas.endForm()
                made.add(form_name)
            canvas.doForm(form_name)
            payload = make_payload(compiled.spec.id, layout_hash, plan.page, serial)
            _qr(canvas, plan, payload)
            _serial_text(canvas, plan, serial)
            canvas.showPage()
        if progress:
            progress(n)
    canvas.save()
    return buf.getvalue()


def _y(plan: PagePlan, y_mm: float) -> float:
    return (plan.height_mm - y_mm) * mm


def _paint_static(c: Canvas, plan: PagePlan) -> None:
    c.setFillGray(0)
    c.setStrokeGray(0)
    for x, y, w, h in plan.fiducials_mm:
        c.rect(x * mm, _y(plan, y + h), w * mm, h * mm, stroke=0, fill=1)
    for x, y, w, h in plan.timing_mm:
        c.rect(x * mm, _y(plan, y + h), w * mm, h * mm, stroke=0, fill=1)
    for item in plan.items:
        if isinstance(item, Rect):
            _rect(c, plan, item)
    for item in plan.items:
        if isinstance(item, Line):
            c.setLineWidth(item.width_mm * mm)
            c.setLineCap(2)
            c.line(item.x1_mm * mm, _y(plan, item.y1_mm), item.x2_mm * mm, _y(plan, item.y2_mm))
        elif isinstance(item, Text):
            _text(c, plan, item)


def _rect(c: Canvas, plan: PagePlan, r: Rect) -> None:
    if r.fill:
        c.setFillGray(0.9)
        c.rect(r.x_mm * mm, _y(plan, r.y_mm + r.h_mm), r.w_mm * mm, r.h_mm * mm, stroke=0, fill=1)
        c.setFillGray(0)
    else:
        c.setLineWidth(r.stroke_mm * mm)
        c.setLineJoin(0)
        c.rect(r.x_mm * mm, _y(plan, r.y_mm + r.h_mm), r.w_mm * mm, r.h_mm * mm, stroke=1, fill=0)


def _text(c: Canvas, plan: PagePlan, t: Text) -> None:
    x = t.x_mm * mm
    if t.anchor != "start":
        width = stringWidth(t.text, FONT_NAME, t.size_pt)
        x -= width / 2 if t.anchor == "middle" else width
    # Tr (render mode) persists in the graphics state and reportlab's text object assumes 0 at
    # BT, so a bold text (mode 2: fill + stroke, a faux bold for the single-weight CJK font) is
    # drawn inside save/restore.
    c.saveState()
    text = c.beginText()
    text.setFont(FONT_NAME, t.size_pt)
    if t.bold:
        c.setLineWidth(FAUX_BOLD_STROKE_PT)
        text.setTextRenderMode(2)
    text.setTextOrigin(x, _y(plan, t.y_mm))
    text.textOut(t.text)
    c.drawText(text)
    c.restoreState()


def _qr(c: Canvas, plan: PagePlan, payload: str) -> None:
    """The QR code as filled rectangles (one per dark run), quiet zone inside code_mm."""
    qr = segno.make_qr(payload, error="q", boost_error=False)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    border = 2  # modules of quiet zone inside the printed square
    x0, y0, size_mm, _ = plan.code_mm
    module_mm = size_mm / (n + 2 * border)
    c.setFillGray(0)
    path = c.beginPath()
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                x = x0 + (border + start) * module_mm
                y = y0 + (border + r) * module_mm
                path.rect(x * mm, _y(plan, y + module_mm), (col - start) * module_mm * mm,
                          module_mm * mm)
            else:
                col += 1
    c.drawPath(path, stroke=0, fill=1)


def _serial_text(c: Canvas, plan: PagePlan, serial: str) -> None:
    x0, y0, size_mm, _ = plan.code_mm
    c.setFont(FONT_NAME, 6.5)
    c.drawCentredString((x0 + size_mm / 2) * mm, _y(plan, y0 + size_mm + 2.6), f"No.{serial}")
