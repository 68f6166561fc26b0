"""Render compiled page plans to a printable PDF with reportlab.

Every copy gets its own serial in its QR code; the CJK font is embedded (subset), so the PDF
prints the same on a machine without it. Painting only: geometry comes from `forms.layout`.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable, Iterable

import numpy as np
import segno
import zxingcpp
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from forms.cardcode import encode_serial
from forms.code import make_payload
from forms.fonts import FONT_NAME, register_font
from forms.layout import CompiledLayout
from forms.plan import Line, PagePlan, Rect, Text

SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: safe to read aloud
FAUX_BOLD_STROKE_PT = 0.35


def random_serials(count: int, length: int = 10) -> list[str]:
    """Unguessable, distinct sheet tokens for a real meeting (see DOMAIN.md).

    In the order drawn, not sorted: a sorted list would put the tokens in handing-out order,
    so a token's rank would tell where in the stack its sheet was.
    """
    out: dict[str, None] = {}
    while len(out) < count:
        out.setdefault("".join(secrets.choice(SERIAL_ALPHABET) for _ in range(length)))
    return list(out)


def sequential_serials(count: int, start: int = 1) -> list[str]:
    """Test-deck serials: 000001, 000002, ..."""
    return [f"{n:06d}" for n in range(start, start + count)]


def render_pdf(
    compiled: CompiledLayout,
    layout_hash: str,
    serials: Iterable[str],
    progress: Callable[[int], None] | None = None,
    *,
    machine_marks: bool = True,
    overlay: Callable[[Canvas, PagePlan, str], None] | None = None,
) -> bytes:
    """One copy of every page per serial, in order; returns the PDF bytes.

    `machine_marks=False` prints the sheet as another printer would: no corner marks, timing
    track, QR code or serial (a foreign form, read by its reference image: `forms.foreign`).
    `overlay(canvas, plan, serial)` paints over each page before it is finished (a test deck's
    pre-printed marks: `forms.testdeck`)."""
    register_font()
    buf = io.BytesIO()
    w_mm, h_mm = compiled.pages[0].width_mm, compiled.pages[0].height_mm
    # the initial font is the embedded one: else every page names an unembedded Helvetica,
    # which print-shop preflight reports as a missing font
    canvas = Canvas(buf, pagesize=(w_mm * mm, h_mm * mm), pageCompression=1,
                    initialFontName=FONT_NAME)
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
                _paint_static(canvas, plan, machine_marks)
                canvas.endForm()
                made.add(form_name)
            canvas.doForm(form_name)
            if overlay is not None:
                overlay(canvas, plan, serial)
            if not machine_marks:
                canvas.showPage()
                continue
            payload = make_payload(compiled.spec.id, layout_hash, plan.page, serial)
            _qr(canvas, plan, payload)
            _serial_text(canvas, plan, serial)
            if plan.serial_code:
                _serial_cells(canvas, plan, serial)
            canvas.showPage()
        if progress:
            progress(n)
    canvas.save()
    return buf.getvalue()


def _y(plan: PagePlan, y_mm: float) -> float:
    return (plan.height_mm - y_mm) * mm


def _paint_static(c: Canvas, plan: PagePlan, machine_marks: bool = True) -> None:
    c.setFillGray(0)
    c.setStrokeGray(0)
    for x, y, w, h in (plan.fiducials_mm + plan.timing_mm) if machine_marks else []:
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


_QR_VERSIONS: dict[int, int] = {}


def _qr_version(payload: str) -> int:
    """segno's QR version for a payload (byte mode, level Q: it depends on the length only)."""
    if len(payload) not in _QR_VERSIONS:
        version = segno.make_qr(payload, error="q", boost_error=False).version
        _QR_VERSIONS[len(payload)] = int(version)
    return _QR_VERSIONS[len(payload)]


def qr_matrix(payload: str) -> list[list[bool]]:
    """The modules of the sheet code (True = dark), without quiet zone.

    The version is segno's choice for the payload (what `omr` assumes when it re-encodes a
    text); zxing-cpp encodes the symbol, 20x faster than segno's mask search, which made
    5,000 copies take a minute.
    """
    version = _qr_version(payload)
    if not hasattr(zxingcpp, "create_barcode"):  # zxing-cpp < 3.0 only reads: segno, slowly
        qr = segno.make_qr(payload, error="q", boost_error=False, version=version)
        return [[bool(v) for v in row] for row in qr.matrix]
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="Q",
                                   version=version)
    return (np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128).tolist()


def _qr(c: Canvas, plan: PagePlan, payload: str) -> None:
    """The QR code as filled rectangles (one per dark run), quiet zone inside code_mm.

    Drawn in module units (origin at the symbol's top-left corner, y down), so the path is
    short integers written directly: reportlab's float formatting of ~300 rectangles per
    page was most of the time of a 5,000-copy run.
    """
    matrix = qr_matrix(payload)
    n = len(matrix)
    border = 2  # modules of quiet zone inside the printed square
    x0, y0, size_mm, _ = plan.code_mm
    module_mm = size_mm / (n + 2 * border)
    ops: list[str] = []
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                ops.append(f"{start} {r} {col - start} 1 re")
            else:
                col += 1
    c.saveState()
    c.setFillGray(0)
    c.transform(module_mm * mm, 0, 0, -module_mm * mm, (x0 + border * module_mm) * mm,
                _y(plan, y0 + border * module_mm))
    c.addLiteral("\n".join(ops) + "\nf")
    c.restoreState()


def _serial_cells(c: Canvas, plan: PagePlan, serial: str) -> None:
    """A card-reader form's serial as solid cells of the reader grid (`forms.cardcode`)."""
    c.setFillGray(0)
    for bit, (_, (x, y, w, h)) in zip(encode_serial(serial), plan.serial_code, strict=True):
        if bit:
            c.rect(x * mm, _y(plan, y + h), w * mm, h * mm, stroke=0, fill=1)


def _serial_text(c: Canvas, plan: PagePlan, serial: str) -> None:
    x0, y0, size_mm, _ = plan.code_mm
    c.setFont(FONT_NAME, 6.5)
    c.drawCentredString((x0 + size_mm / 2) * mm, _y(plan, y0 + size_mm + 2.6), f"No.{serial}")
