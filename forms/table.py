"""Ruled tables with mark boxes, placed on a `Flow` (a page breaks between rows)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from forms import geometry as g
from forms.plan import Flow, LayoutError, Line, MarkBox, Rect, Region, fit_lines, grid_cell

OUTER_RULE_MM = 0.5
INNER_RULE_MM = 0.25
BOX_W_MM, BOX_H_MM = 8.0, 5.0
#: from a box's inside edge to the centre of the row rule above or below it, at least: keeps
#: about 0.5 mm of white between the box border and the rule (a tick stays off the rule)
BOX_CLEAR_MM = 1.0
TIMING_BOX_W_MM, TIMING_BOX_H_MM = 5.2, 4.2


@dataclass(frozen=True)
class Col:
    header: str
    width_mm: float | None  # None: takes the remaining width
    mark: bool = False
    align: str = "middle"


@dataclass(frozen=True)
class Cell:
    text: str = ""
    span: int = 1
    size_pt: float = 10.0
    min_pt: float = 7.5
    max_lines: int = 2
    align: str | None = None
    bold: bool = False
    #: a mark box in this cell: (field, option)
    mark: tuple[str, str] | None = None
    #: a write-in line region spanning this cell: (region id, field, option)
    writein: tuple[str, str, str] | None = None


class Table:
    def __init__(self, flow: Flow, cols: list[Col], where: str) -> None:
        self.flow = flow
        self.cols = cols
        self.where = where
        self.xs = self._place(cols)

    def _place(self, cols: list[Col]) -> list[tuple[float, float]]:
        f = self.flow
        marks = [c.mark for c in cols]
        first_mark = marks.index(True) if True in marks else len(cols)
        if any(not m for m in marks[first_mark:]):
            raise AssertionError("mark columns must come last in a table")
        right = f.right_mm
        out: list[tuple[float, float]] = [(0.0, 0.0)] * len(cols)
        if f.timing:
            p = g.GRID_COL_PITCH_MM
            right = math.floor(right / p) * p
        x = right
        for i in range(len(cols) - 1, first_mark - 1, -1):
            w = cols[i].width_mm or 16.0
            if f.timing:
                n = math.ceil(w / g.GRID_COL_PITCH_MM - 1e-6)
                w = (n + 1 - n % 2) * g.GRID_COL_PITCH_MM  # odd multiple: box at a cell centre
            x -= w
            out[i] = (x, w)
        fixed = sum(c.width_mm or 0.0 for c in cols[:first_mark])
        flex = [i for i in range(first_mark) if cols[i].width_mm is None]
        remaining = x - f.left_mm - fixed
        if remaining < 12.0 * max(1, len(flex)):
            raise LayoutError(
                f"{self.where}: {len(cols) - first_mark} rating columns do not fit across the "
                "page; use fewer levels or paper: A3"
            )
        cx = f.left_mm
        for i in range(first_mark):
            w = cols[i].width_mm or remaining / len(flex)
            if not flex and i == first_mark - 1:
                w += remaining  # no flex column: the last text column absorbs the slack
            out[i] = (cx, w)
            cx += w
        return out

    @property
    def left_mm(self) -> float:
        return self.xs[0][0]

    @property
    def right_mm(self) -> float:
        x, w = self.xs[-1]
        return x + w

    def row_height(self, height_mm: float, has_mark: bool) -> float:
        """The height a row asked to be `height_mm` tall gets (timing mode: whole pitches)."""
        f = self.flow
        if f.timing and has_mark:
            n = max(1, round(height_mm / g.GRID_ROW_PITCH_MM))
            return (n - 1 + n % 2) * g.GRID_ROW_PITCH_MM  # odd: the box sits at a cell centre
        return f.row_height(height_mm)

    def header(self, height_mm: float = 9.0, size_pt: float = 9.5) -> None:
        self.row([Cell(c.header, size_pt=size_pt, bold=True, align="middle") for c in self.cols],
                 height_mm, top_rule=True, shade=True)

    def row(
        self,
        cells: list[Cell],
        height_mm: float = 7.5,
        *,
        top_rule: bool = False,
        shade: bool = False,
        bottom_from_col: int = 0,
        keep_y: bool = False,
    ) -> float:
        """Draw one row at the cursor; return its top. `keep_y` leaves the cursor there."""
        f = self.flow
        f.snap_y()
        h = self.row_height(height_mm, any(c.mark for c in cells))
        f.ensure(h)
        f.snap_y()
        top = f.y_mm
        items = f.page.items
        if shade:
            items.append(Rect(self.left_mm, top, self.right_mm - self.left_mm, h, fill=True,
                              stroke_mm=0))
        if top_rule:
            items.append(Line(self.left_mm, top, self.right_mm, top, OUTER_RULE_MM))
        bx = self.xs[bottom_from_col][0]
        items.append(Line(bx, top + h, self.right_mm, top + h, INNER_RULE_MM))
        col = 0
        for cell in cells:
            x0 = self.xs[col][0]
            x1 = self.xs[col + cell.span - 1][0] + self.xs[col + cell.span - 1][1]
            self._cell(cell, col, x0, x1, top, h)
            col += cell.span
            # vertical rule at the cell's right edge (outer rules drawn thicker)
            width = OUTER_RULE_MM if col == len(self.cols) else INNER_RULE_MM
            items.append(Line(x1, top, x1, top + h, width))
        if col != len(self.cols):
            raise AssertionError(f"row spans {col} of {len(self.cols)} columns")
        items.append(Line(self.left_mm, top, self.left_mm, top + h, OUTER_RULE_MM))
        if not keep_y:
            f.y_mm = top + h
        return top

    def _cell(self, cell: Cell, col: int, x0: float, x1: float, top: float, h: float) -> None:
        f = self.flow
        if cell.mark:
            if f.timing:
                bw, bh = TIMING_BOX_W_MM, TIMING_BOX_H_MM
            else:
                bw, bh = BOX_W_MM, min(BOX_H_MM, round(h - 2 * BOX_CLEAR_MM, 3))
            if bh < g.MIN_BOX_H_MM:
                raise AssertionError(f"a {h} mm row is too low for a mark box")
            cx, cy = (x0 + x1) / 2, top + h / 2
            rect = (round(cx - bw / 2, 3), round(cy - bh / 2, 3), bw, bh)
            b = g.BOX_BORDER_MM
            f.page.items.append(Rect(rect[0] - b / 2, rect[1] - b / 2, bw + b, bh + b,
                                     stroke_mm=b))
            grid = grid_cell(rect, f.height_mm) if f.timing else None
            f.page.boxes.append(MarkBox(cell.mark[0], cell.mark[1], rect, grid))
        if cell.writein:
            rid, field, option = cell.writein
            pad = 1.5
            f.page.regions.append(Region(rid, "writein", (x0 + pad, top + 0.8, x1 - x0 - 2 * pad,
                                                          h - 1.6), field, option))
        if cell.text:
            align = cell.align or self.cols[col].align
            lines, size = fit_lines(cell.text, x1 - x0 - 2.0, cell.size_pt, cell.min_pt,
                                    cell.max_lines, self.where)
            line_h = size * 0.3528 * 1.2
            block = line_h * len(lines)
            first = f.baseline(top + (h - block) / 2, line_h, size)
            for i, text in enumerate(lines):
                x = {"start": x0 + 1.5, "middle": (x0 + x1) / 2, "end": x1 - 1.5}[align]
                f.text(x, first + i * line_h, text, size, align, cell.bold)

