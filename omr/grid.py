"""Map a card reader's mark bitmap to a form's marks through the layout's reader grid.

A layout (``scantally.layout/1``, typed: `omr.layout.FormLayout`) places boxes on pages; a box
readable by a card reader has ``grid = [row, col]``, the 0-based cell of the reader's grid (row =
timing mark from the top, column = reader column from the left edge). Boxes without ``grid`` are
for image reading only and are ignored here.

The result has the shape of the image reading's ``marks``:
``{field: {"marked": [option, ...], "doubtful": []}}``. A card reader decides each cell itself and
sends no grey levels, so ``doubtful`` is always empty. Cells outside any box are ignored.

A layout printed with a timing track also prints the sheet's serial as solid cells
(``pages[].serial_code``, coded by `forms.cardcode`): `card_serial` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from forms.cardcode import CODE_BITS, decode_serial, encode_serial
from omr.layout import FormLayout

#: one gridded box: (field, option, row, col)
GridBox = tuple[str, str, int, int]


def gridded_boxes(layout: FormLayout, page: int = 1) -> list[GridBox]:
    """The boxes of `page` that carry a reader cell, in layout order; ValueError if malformed.

    Two boxes on the same cell, or a cell that is not two whole numbers >= 0, are errors (the
    layout's model already holds a cell to two whole numbers).
    """
    geometry = layout.pages.get(page)
    if geometry is None:
        raise ValueError(f"the layout has no page {page} (pages: {list(layout.pages)})")
    boxes: list[GridBox] = []
    taken: dict[tuple[int, int], str] = {}
    for box in geometry.boxes:
        cell = box.grid
        if cell is None:
            continue
        name = f"{box.field}/{box.option}"
        if len(cell) != 2 or not all(v >= 0 for v in cell):
            raise ValueError(
                f"box {name}: grid must be [row, col], whole numbers >= 0, got {cell!r}"
            )
        row, col = int(cell[0]), int(cell[1])
        if (row, col) in taken:
            raise ValueError(
                f"boxes {taken[(row, col)]} and {name} share reader cell [{row}, {col}] "
                f"on page {page}"
            )
        taken[(row, col)] = name
        boxes.append((box.field, box.option, row, col))
    return boxes


def serial_code_cells(layout: FormLayout, page: int = 1) -> list[tuple[int, int]]:
    """The reader cells of `page`'s pre-printed serial code in bit order (`forms.cardcode`);
    empty when the layout prints none (older layouts, forms without a timing track)."""
    geometry = layout.pages.get(page)
    code = geometry.doc.serial_code if geometry is not None else None
    if code is None:
        return []
    cells = [(int(r), int(c)) for r, c in code.grid]
    if len(cells) != CODE_BITS:
        raise ValueError(f"the layout's serial code on page {page} has {len(cells)} cells, "
                         f"not {CODE_BITS}; recompile the layout")
    return cells


def grid_size(layout: FormLayout, page: int = 1) -> tuple[int, int]:
    """(rows, cols): the smallest reader grid that holds every gridded box (and the serial
    code) of `page`."""
    cells = [(b[2], b[3]) for b in gridded_boxes(layout, page)]
    cells += serial_code_cells(layout, page)
    if not cells:
        return 0, 0
    return max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1


def card_serial(bitmap: np.ndarray, layout: FormLayout, page: int = 1) -> str | None:
    """The serial pre-printed on the card, from its code cells in `bitmap`; None when it does
    not decode (a mark in the code area, a missed cell: never guessed). ValueError when the
    layout prints no serial code or the bitmap is too small."""
    cells = serial_code_cells(layout, page)
    if not cells:
        raise ValueError(f"the layout prints no serial code on page {page}")
    grid = np.asarray(bitmap)
    _check_fits((grid.shape[0], grid.shape[1]), layout, page, "the bitmap")
    return decode_serial([bool(grid[r, c]) for r, c in cells])


def _check_fits(shape: tuple[int, int], layout: FormLayout, page: int, what: str) -> None:
    needed_rows, needed_cols = grid_size(layout, page)
    if shape[0] < needed_rows or shape[1] < needed_cols:
        raise ValueError(
            f"{what} is {shape[0]} rows x {shape[1]} columns, but the layout's grid for page "
            f"{page} needs at least {needed_rows} rows x {needed_cols} columns; check the "
            "reader's rows/cols and that the form matches the card type"
        )


def bitmap_to_marks(
    bitmap: np.ndarray, layout: FormLayout, page: int = 1
) -> dict[str, dict[str, list[str]]]:
    """Marks of every field with gridded boxes on `page`: ``{field: {"marked", "doubtful"}}``.

    `bitmap` is rows x cols, True (or non-zero) = mark. Fields without a mark get empty lists;
    options come in layout order. ValueError if the bitmap is smaller than the grid needs.
    """
    cells = np.asarray(bitmap)
    if cells.ndim != 2:
        raise ValueError(f"a bitmap is 2-D (rows x columns), got shape {cells.shape}")
    boxes = gridded_boxes(layout, page)
    _check_fits((cells.shape[0], cells.shape[1]), layout, page, "the bitmap")
    marks: dict[str, dict[str, list[str]]] = {}
    for field, option, row, col in boxes:
        entry = marks.setdefault(field, {"marked": [], "doubtful": []})
        if cells[row, col]:
            entry["marked"].append(option)
    return marks


def marks_to_bitmap(
    marks: Mapping[str, Mapping[str, Sequence[str]] | Sequence[str]],
    layout: FormLayout,
    page: int,
    rows: int,
    cols: int,
    serial: str | None = None,
) -> np.ndarray:
    """The rows x cols bitmap a reader would send for `marks` (the inverse of bitmap_to_marks)
    on a card printed with `serial` (its code cells set, when the layout prints one).

    `marks` maps a field to ``{"marked": [option, ...]}`` or straight to a list of options;
    ``doubtful`` is ignored. ValueError for an option with no gridded box on `page`, or a grid
    larger than rows x cols.
    """
    _check_fits((rows, cols), layout, page, "the requested bitmap")
    cell_of = {
        (field, option): (row, col) for field, option, row, col in gridded_boxes(layout, page)
    }
    bitmap = np.zeros((rows, cols), dtype=bool)
    for field, value in marks.items():
        options = value.get("marked", []) if isinstance(value, Mapping) else value
        if isinstance(options, str):
            raise ValueError(f"field {field}: give a list of options, not the string {options!r}")
        for option in options:
            if (field, option) not in cell_of:
                raise ValueError(
                    f"no gridded box for field {field!r} option {option!r} on page {page}"
                )
            bitmap[cell_of[(field, option)]] = True
    if serial is not None:
        for bit, cell in zip(encode_serial(serial), serial_code_cells(layout, page), strict=True):
            bitmap[cell] |= bit
    return bitmap
