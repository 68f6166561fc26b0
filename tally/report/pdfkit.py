"""Building blocks of the PDF report: styles, faux-bold headings, tables, numbered pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from forms.fonts import FONT_NAME

FAUX_BOLD_STROKE_PT = 0.35  # as forms/render.py: fill + stroke for the single-weight CJK font
INK = colors.HexColor("#1F1F1F")
MUTED = colors.HexColor("#5A6270")
RULE = colors.HexColor("#9AA3AF")
HEAD_BG = colors.HexColor("#DDE4EE")
STRIPE = colors.HexColor("#F5F7FA")
ALARM = colors.HexColor("#C00000")
CAUTION = colors.HexColor("#B35C00")
PAGE_W, PAGE_H = 210 * mm, 297 * mm
MARGIN_X = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X

BODY = ParagraphStyle("body", fontName=FONT_NAME, fontSize=10, leading=15.5, textColor=INK,
                      wordWrap="CJK", spaceAfter=4)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8.5, leading=12.5, textColor=MUTED,
                       spaceBefore=3)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8.5, leading=11, spaceAfter=0)
CELL_C = ParagraphStyle("cellc", parent=CELL, alignment=TA_CENTER)


class BoldText(Flowable):
    """One line of faux-bold text (headings), left-aligned or centred."""

    def __init__(self, text: str, size: float, *, align: str = "left", space_before: float = 6,
                 space_after: float = 4, colour: Any = INK, rule: bool = False) -> None:
        super().__init__()
        self.text, self.size, self.align, self.colour, self.rule = text, size, align, colour, rule
        self.spaceBefore, self.spaceAfter = space_before, space_after
        self.keepWithNext = True  # a heading never ends a page
        self._w = 0.0

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        self._w = avail_w
        return avail_w, self.size * 1.45 + (3 if self.rule else 0)

    def draw(self) -> None:
        c = self.canv
        width = stringWidth(self.text, FONT_NAME, self.size)
        x = (self._w - width) / 2 if self.align == "center" else 0
        y = (3 if self.rule else 0) + self.size * 0.35
        c.saveState()
        c.setFillColor(self.colour)
        c.setStrokeColor(self.colour)
        c.setLineWidth(FAUX_BOLD_STROKE_PT * self.size / 10)
        t = c.beginText()
        t.setFont(FONT_NAME, self.size)
        t.setTextRenderMode(2)
        t.setTextOrigin(x, y)
        t.textOut(self.text)
        c.drawText(t)
        if self.rule:
            c.setLineWidth(0.6)
            c.setStrokeColor(RULE)
            c.line(0, 0.5, self._w, 0.5)
        c.restoreState()


def h1(text: str) -> BoldText:
    return BoldText(text, 14, space_before=12, space_after=8, rule=True)


def h2(text: str) -> BoldText:
    return BoldText(text, 11.5, space_before=8, space_after=4)


def para(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(_esc(text), style)


def para_lines(first: str, second: str, style: ParagraphStyle = CELL,
               second_pt: float = 7.0) -> Paragraph:
    """Two lines in one cell, the second smaller (a name over its 职务)."""
    return Paragraph(f'{_esc(first)}<br/><font size="{second_pt:g}">{_esc(second)}</font>',
                     style)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def box(text: str, colour: Any, *, size: float = 11) -> Table:
    """A full-width coloured box with white text (alarms, provisional results)."""
    style = ParagraphStyle("box", parent=BODY, fontSize=size, leading=size * 1.5,
                           textColor=colors.white, alignment=TA_LEFT)
    t = Table([[Paragraph(_esc(text), style)]], colWidths=[CONTENT_W])
    t.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colour),
                           ("LEFTPADDING", (0, 0), (-1, -1), 8),
                           ("TOPPADDING", (0, 0), (-1, -1), 6),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 7)]))
    return t


def table(rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None, *,
          head_rows: int = 1, font_size: float = 8.5, spans: Sequence[tuple] = (),
          align_left_cols: Sequence[int] = (), extra: Sequence[tuple] = (),
          stripes: bool = True) -> Table:
    """A report table: header rows shaded and repeated on every page, striped body.

    Header texts are wrapped (centred) to their column's width.
    """
    head_style = ParagraphStyle("head", parent=CELL_C, fontSize=font_size,
                                leading=font_size * 1.25)
    data = [[Paragraph(_esc(c), head_style) if i < head_rows and isinstance(c, str) and c
             else c for c in r] for i, r in enumerate(rows)]
    t = Table(data, colWidths=list(widths) if widths else None, repeatRows=head_rows,
              hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), FONT_NAME, font_size),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if head_rows:
        style.append(("BACKGROUND", (0, 0), (-1, head_rows - 1), HEAD_BG))
    for i in range(head_rows, len(rows) if stripes else 0):
        if (i - head_rows) % 2 == 1:
            style.append(("BACKGROUND", (0, i), (-1, i), STRIPE))
    for col in align_left_cols:
        style.append(("ALIGN", (col, head_rows), (col, -1), "LEFT"))
    for (c0, r0), (c1, r1) in spans:
        style.append(("SPAN", (c0, r0), (c1, r1)))
    style.extend(extra)
    t.setStyle(TableStyle(style))
    return t


def key_values(rows: Sequence[Sequence[Any]], key_w: float, *, font_size: float = 8) -> Table:
    """A two-column table of labelled values (hashes, facts): keys shaded, values left."""
    return table(rows, [key_w, CONTENT_W - key_w], head_rows=0, font_size=font_size,
                 align_left_cols=(1,), extra=[("ALIGN", (1, 0), (1, -1), "LEFT"),
                                              ("BACKGROUND", (0, 0), (0, -1), HEAD_BG)])


def keep(*flowables: Flowable) -> KeepTogether:
    return KeepTogether(list(flowables))


def gap(h_mm: float) -> Spacer:
    return Spacer(1, h_mm * mm)


def numbered_canvas(header_left: str, header_right: str, footer_left: str,
                    footer_right: str = "", *, watermark: str = "") -> type[Canvas]:
    """A canvas class that prints a header rule and "第 k 页 共 n 页" on every page; with
    `watermark` (a test-mode meeting: "测试模式 · …") also a red banner above the header and
    the watermark's first word large and pale across the page."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            page = self._pageNumber
            self.saveState()
            self.setFont(FONT_NAME, 8)
            self.setFillColor(MUTED)
            top = PAGE_H - 12 * mm
            self.drawString(MARGIN_X, top, header_left)
            self.setFillColor(ALARM)
            self.drawRightString(PAGE_W - MARGIN_X, top, header_right)
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, top - 2.5 * mm, PAGE_W - MARGIN_X, top - 2.5 * mm)
            self.setFillColor(MUTED)
            self.drawCentredString(PAGE_W / 2, 10 * mm, f"第 {page} 页  共 {total} 页")
            self.drawString(MARGIN_X, 10 * mm, footer_left)
            if footer_right:
                self.drawRightString(PAGE_W - MARGIN_X, 10 * mm, footer_right)
            if watermark:
                self._watermark()
            self.restoreState()

        def _watermark(self) -> None:
            self.setFillColor(ALARM)
            self.rect(0, PAGE_H - 8 * mm, PAGE_W, 8 * mm, stroke=0, fill=1)
            self.setFillColor(colors.white)
            self.setFont(FONT_NAME, 11)
            self.drawCentredString(PAGE_W / 2, PAGE_H - 5.6 * mm, watermark)
            self.saveState()
            self.setFillColor(colors.Color(0.75, 0.0, 0.0, alpha=0.10))
            self.translate(PAGE_W / 2, PAGE_H / 2)
            self.rotate(35)
            self.setFont(FONT_NAME, 96)
            self.drawCentredString(0, -30, watermark.split()[0])
            self.restoreState()

    return NumberedCanvas
