"""`omr.learn`: the targets of a blank we printed without our marks are found exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.learn import find_targets, reading_order
from tests import foreign_helpers as F
from tests.omr_helpers import layout

TOLERANCE_MM = 0.5


@pytest.mark.parametrize("name", ["evaluation", "recommendation", "satisfaction"])
def test_learn_finds_exactly_the_boxes_of_a_rendered_blank(name: str) -> None:
    blank = F.foreign_blank(name)
    found = find_targets(blank, F.DPI)
    boxes = np.array([b["rect_mm"] for b in layout(name)["pages"][0]["boxes"]])
    assert len(found) == len(boxes)
    got = np.array([t.rect_mm for t in found])
    for box in boxes:
        error = np.abs(got - box).max(1)
        assert error.min() <= TOLERANCE_MM, box
    assert {t.shape for t in found} == {"rectangle"}


def test_learn_tells_ellipses_and_numbers_in_reading_order() -> None:
    k = 200 / 25.4
    page = np.full((round(60 * k), round(100 * k)), 255, np.uint8)
    for row in range(2):
        for col in range(3):
            x, y = 10 + col * 20, 10 + row * 25
            if row == 0:
                cv2.ellipse(page, (round((x + 3) * k), round((y + 2) * k)),
                            (round(3 * k), round(2 * k)), 0, 0, 360, 0, 3)
            else:
                cv2.rectangle(page, (round(x * k), round(y * k)),
                              (round((x + 6) * k), round((y + 5) * k)), 0, 3)
    found = find_targets(page, 200)
    assert [t.shape for t in found] == ["ellipse"] * 3 + ["rectangle"] * 3
    assert [(t.row, t.col) for t in found] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


def test_a_table_cell_or_a_glyph_hole_is_not_a_target() -> None:
    k = 200 / 25.4
    page = np.full((round(60 * k), round(100 * k)), 255, np.uint8)
    # a 3 x 2 table of 15 x 8 mm cells: its cells are holes of the whole grid
    for i in range(4):
        cv2.line(page, (round((10 + 15 * i) * k), round(10 * k)),
                 (round((10 + 15 * i) * k), round(26 * k)), 0, 2)
    for j in range(3):
        cv2.line(page, (round(10 * k), round((10 + 8 * j) * k)),
                 (round(55 * k), round((10 + 8 * j) * k)), 0, 2)
    assert find_targets(page, 200) == []


def test_reading_order_of_nothing() -> None:
    assert reading_order([]) == []
