"""Page plans: what is drawn where (millimetres, origin top-left, y down), and the page flow.

The layout compiler fills `PagePlan`s with drawing items; `forms.render` only paints them and
`forms.layout_json` only reports the boxes. So printed and reported geometry cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from forms import geometry as g
from forms.cardcode import CODE_BITS
from forms.fonts import missing_glyphs, pt_to_mm, text_width_mm

NO_LINE_START = set("，。、；：！？）》」』”’,.;:!?)")


class LayoutError(ValueError):
    """The spec is valid but cannot be laid out; the message says what to change."""


@dataclass(frozen=True)
class Text:
    x_mm: float
    y_mm: float  # baseline
    text: str
    size_pt: float
    anchor: Literal["start", "middle", "end"] = "start"
    bold: bool = False


@dataclass(frozen=True)
class Line:
    x1_mm: float
    y1_mm: float
    x2_mm: float
    y2_mm: float
    width_mm: float = 0.25


@dataclass(frozen=True)
class Rect:
    x_mm: float
    y_mm: float
    w_mm: float
    h_mm: float
    fill: bool = False
    stroke_mm: float = 0.25


@dataclass(frozen=True)
class MarkBox:
    field: str
    option: str
    rect_mm: tuple[float, float, float, float]  # inside of the printed border
    grid: tuple[int, int] | None = None


@dataclass(frozen=True)
class Region:
    """A non-box area of interest: a write-in line or the free comment area."""

    id: str
    kind: Literal["writein", "comment"]
    rect_mm: tuple[float, float, float, float]
    field: str | None = None
    option: str | None = None


@dataclass
class PagePlan:
    page: int
    width_mm: float
    height_mm: float
    items: list[Text | Line | Rect] = field(default_factory=list)
    boxes: list[MarkBox] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    timing_mm: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: card-reader forms: the serial code's cells in bit order, (row, col) and rect
    serial_code: list[tuple[tuple[int, int], tuple[float, float, float, float]]] = field(
        default_factory=list)

    @property
    def fiducials_mm(self) -> list[list[float]]:
        return g.fiducial_rects_mm(self.width_mm, self.height_mm)

    @property
    def code_mm(self) -> list[float]:
        return g.code_rect_mm(self.width_mm)


def check_text(text: str, where: str) -> None:
    bad = missing_glyphs(text)
    if bad:
        chars = "".join(bad)
        raise LayoutError(
            f"{where}: the ballot font cannot draw {chars!r} "
            f"(U+{ord(bad[0]):04X}); use a common character or spell it differently"
        )


def fit_lines(
    text: str, width_mm: float, size_pt: float, min_pt: float, max_lines: int, where: str
) -> tuple[list[str], float]:
    """Shrink then wrap `text` into `width_mm`; LayoutError if it still does not fit."""
    check_text(text, where)
    size = size_pt
    while size >= min_pt - 1e-9:
        if text_width_mm(text, size) <= width_mm:
            return [text], size
        size -= 0.5
    size = min_pt
    lines = _wrap(text, width_mm, size)
    if len(lines) > max_lines:
        raise LayoutError(
            f"{where}: text {text!r} is too long for its {width_mm:.0f} mm cell; shorten it"
        )
    # balance the lines: the narrowest width that needs no more lines (not "局领导班子成 / 员")
    narrow = text_width_mm(text, size) / len(lines)
    while narrow < width_mm:
        balanced = _wrap(text, narrow, size)
        if len(balanced) <= len(lines):
            return balanced, size
        narrow += 0.5
    return lines, size


def _wrap(text: str, width_mm: float, size: float) -> list[str]:
    """Greedy wrap at `size`; a closing punctuation mark never starts a line (禁则)."""
    lines: list[str] = []
    current = ""
    for ch in text:
        fits = text_width_mm(current + ch, size) <= width_mm
        if not fits and current and ch not in NO_LINE_START:
            lines.append(current)
            current = ch.lstrip()
        else:
            current += ch
    if current:
        lines.append(current)
    return lines


class Flow:
    """Pages and a vertical cursor; starts a new page when a block does not fit."""

    def __init__(self, paper: str, timing: bool, title: str, max_pages: int) -> None:
        self.width_mm, self.height_mm = g.PAPER_SIZES_MM[paper]
        self.timing = timing
        self.title = title
        self.max_pages = max_pages
        self.left_mm = 18.0
        self.right_mm = self.width_mm - 18.0
        if timing:  # tables end on a reader column line: let the header rules end there too
            self.right_mm = math.floor(self.right_mm / g.GRID_COL_PITCH_MM) * g.GRID_COL_PITCH_MM
        self.bottom_mm = self.height_mm - 17.0
        self.pages: list[PagePlan] = []
        self.y_mm = 0.0
        self.on_new_page: list = []  # callbacks(flow) run at the top of a continuation page
        self.new_page()

    @property
    def page(self) -> PagePlan:
        return self.pages[-1]

    @property
    def content_w_mm(self) -> float:
        return self.right_mm - self.left_mm

    def new_page(self) -> None:
        if len(self.pages) >= self.max_pages:
            raise LayoutError(
                f"the content needs more than {self.max_pages} pages; split the meeting into "
                "several forms, use fewer rows, or use paper: A3"
            )
        plan = PagePlan(len(self.pages) + 1, self.width_mm, self.height_mm)
        self.pages.append(plan)
        if self.timing:
            plan.timing_mm = timing_marks_mm(self.height_mm)
            plan.serial_code = serial_code_cells(self.height_mm)
            _, (x, y, w, h) = plan.serial_code[-1]
            plan.items.append(Text(x + w, y + h + 3.2, "卡号编码 请勿涂写", 6, "end"))
        if plan.page == 1:
            self.y_mm = 12.0
        else:
            plan.items.append(
                Text(self.left_mm, 22.0, f"{self.title}（续）", 14, "start", bold=True)
            )
            self.y_mm = g.FIDUCIAL_INSET_MM + g.CODE_SIZE_MM + 4.0
            for cb in self.on_new_page:
                cb(self)

    def ensure(self, height_mm: float) -> None:
        if self.y_mm + height_mm > self.bottom_mm + 1e-6:
            self.new_page()
            if self.y_mm + height_mm > self.bottom_mm + 1e-6:
                raise LayoutError(
                    f"a block {height_mm:.0f} mm tall cannot fit on one page; make it smaller"
                )

    def snap_y(self) -> None:
        """In timing-track mode, move the cursor down to the next reader grid line."""
        if self.timing:
            self.y_mm = snap_up(self.y_mm, g.GRID_ROW_PITCH_MM)

    def row_height(self, height_mm: float) -> float:
        """In timing-track mode, the nearest whole number of grid pitches (at least one)."""
        if self.timing:
            return max(1, round(height_mm / g.GRID_ROW_PITCH_MM)) * g.GRID_ROW_PITCH_MM
        return height_mm

    def text(self, x: float, y: float, s: str, size: float, anchor="start", bold=False) -> None:
        self.page.items.append(Text(x, y, s, size, anchor, bold))

    def baseline(self, top_mm: float, height_mm: float, size_pt: float) -> float:
        """Baseline that centres a line of CJK text of `size_pt` in a band."""
        return top_mm + height_mm / 2 + pt_to_mm(size_pt) * 0.36


def snap_up(value: float, pitch: float) -> float:
    return math.ceil(value / pitch - 1e-6) * pitch


def timing_marks_mm(page_h_mm: float) -> list[tuple[float, float, float, float]]:
    """One mark per reader row, centred in the row, on the left edge of the page."""
    p = g.GRID_ROW_PITCH_MM
    first, last = timing_row_range(page_h_mm)
    return [
        (g.TIMING_X_MM, r * p + (p - g.TIMING_H_MM) / 2, g.TIMING_W_MM, g.TIMING_H_MM)
        for r in range(first, last + 1)
    ]


def timing_row_range(page_h_mm: float) -> tuple[int, int]:
    """Absolute grid rows that carry a timing mark: below the top margin to above the bottom."""
    p = g.GRID_ROW_PITCH_MM
    return math.ceil(15.0 / p), math.floor((page_h_mm - 15.0) / p) - 1


def serial_code_cells(
        page_h_mm: float) -> list[tuple[tuple[int, int], tuple[float, float, float, float]]]:
    """The cells of the serial code in bit order (row by row, left to right), each as its
    reader cell (row from the first timing mark, column) and the rect of its printed mark."""
    p_row, p_col = g.GRID_ROW_PITCH_MM, g.GRID_COL_PITCH_MM
    first, last = timing_row_range(page_h_mm)
    w, h = g.SERIAL_CODE_CELL_W_MM, g.SERIAL_CODE_CELL_H_MM
    cells = []
    for r in range(first + g.SERIAL_CODE_FIRST_ROW, last + 1):
        for c in g.SERIAL_CODE_COLS:
            rect = (c * p_col + (p_col - w) / 2, r * p_row + (p_row - h) / 2, w, h)
            cells.append(((r - first, c), rect))
    assert len(cells) >= CODE_BITS, "the serial code does not fit its rows"
    return cells[-CODE_BITS:]


def grid_cell(rect_mm: tuple[float, float, float, float], page_h_mm: float) -> tuple[int, int]:
    """(row, column) of the reader grid holding a box: row counted from the first timing mark."""
    x, y, w, h = rect_mm
    p_row, p_col = g.GRID_ROW_PITCH_MM, g.GRID_COL_PITCH_MM
    first, _ = timing_row_range(page_h_mm)
    return int((y + h / 2) // p_row) - first, int((x + w / 2) // p_col)
