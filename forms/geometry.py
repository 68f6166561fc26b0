"""Fixed sheet geometry that the printer and the reader agree on (millimetres, y downward)."""

from __future__ import annotations

PAPER_SIZES_MM: dict[str, tuple[float, float]] = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}

FIDUCIAL_SIZE_MM = 5.0
#: distance from the page edge to the fiducial's outer edge
FIDUCIAL_INSET_MM = 8.0
CODE_SIZE_MM = 20.0
#: smallest printed mark box (inside), per the issue: at least 5 x 4 mm
MIN_BOX_W_MM = 5.0
MIN_BOX_H_MM = 4.0
BOX_BORDER_MM = 0.35

#: timing track along the left edge, for OMR card readers
TIMING_X_MM = 2.5
TIMING_W_MM = 4.0
TIMING_H_MM = 1.5
#: reader grid pitch: rows follow the timing marks, columns are fixed by the reader
GRID_ROW_PITCH_MM = 6.35  # 1/4 inch
GRID_COL_PITCH_MM = 6.35
#: the serial code of a card-reader form (`forms.cardcode`): two reader columns in the right
#: margin (right of the content, left of the corner marks), from this grid row down, one solid
#: cell per bit 1, row by row
SERIAL_CODE_COLS = (30, 31)
SERIAL_CODE_FIRST_ROW = 2
SERIAL_CODE_CELL_W_MM = 4.0
SERIAL_CODE_CELL_H_MM = 2.8


def fiducial_rects_mm(page_w_mm: float, page_h_mm: float) -> list[list[float]]:
    """The four corner fiducials as [x, y, w, h]: TL, TR, BR, BL."""
    s, i = FIDUCIAL_SIZE_MM, FIDUCIAL_INSET_MM
    return [
        [i, i, s, s],
        [page_w_mm - i - s, i, s, s],
        [page_w_mm - i - s, page_h_mm - i - s, s, s],
        [i, page_h_mm - i - s, s, s],
    ]


def code_rect_mm(page_w_mm: float) -> list[float]:
    """The QR code square, top right, just inside the top-right fiducial."""
    x = page_w_mm - FIDUCIAL_INSET_MM - FIDUCIAL_SIZE_MM - 2.0 - CODE_SIZE_MM
    return [x, FIDUCIAL_INSET_MM, CODE_SIZE_MM, CODE_SIZE_MM]
