"""Reader grid <-> marks through a layout's `grid` cells."""

from __future__ import annotations

import numpy as np
import pytest

from omr.grid import bitmap_to_marks, grid_size, gridded_boxes, marks_to_bitmap
from omr.layout import FormLayout
from tests.omr_helpers import grid_layout


def box(field: str, option: str, row: int | None = None, col: int | None = None) -> dict:
    entry: dict = {"field": field, "option": option, "rect_mm": [10.0, 10.0, 5.0, 4.0]}
    if row is not None:
        entry["grid"] = [row, col]
    return entry


def sketch() -> dict:
    """Page 1: chair (3 options, column 4), rating (5 options, row 2), comment (image only);
    page 2: secretary."""
    return {
        "schema": "scantally.layout/1",
        "page_size_mm": [210.0, 297.0],
        "pages": [
            {
                "page": 1,
                "boxes": [
                    box("chair", "Ada", 0, 4),
                    box("chair", "Grace", 1, 4),
                    box("chair", "Edsger", 2, 4),
                    *[box("rating", str(v), 5, 1 + v) for v in range(1, 6)],
                    box("comment", "yes"),
                ],
            },
            {
                "page": 2,
                "boxes": [box("secretary", "Barbara", 3, 0), box("secretary", "Tony", 4, 0)],
            },
        ],
    }


def layout() -> FormLayout:
    """`sketch()` as a typed layout (parsed as any layout is, at the edge)."""
    return grid_layout(sketch())


def test_bitmap_to_marks() -> None:
    bitmap = np.zeros((8, 10), dtype=bool)
    bitmap[1, 4] = True  # chair: Grace
    bitmap[5, 3] = bitmap[5, 6] = True  # rating: 2 and 5
    bitmap[7, 9] = True  # a stray mark outside any box
    marks = bitmap_to_marks(bitmap, layout())
    assert marks == {
        "chair": {"marked": ["Grace"], "doubtful": []},
        "rating": {"marked": ["2", "5"], "doubtful": []},
    }
    assert list(marks) == ["chair", "rating"]


def test_unmarked_fields_are_listed_empty_and_pages_are_separate() -> None:
    empty = np.zeros((6, 7), dtype=np.uint8)
    assert bitmap_to_marks(empty, layout(), page=1) == {
        "chair": {"marked": [], "doubtful": []},
        "rating": {"marked": [], "doubtful": []},
    }
    ones = np.ones((5, 1), dtype=np.uint8)
    assert bitmap_to_marks(ones, layout(), page=2) == {
        "secretary": {"marked": ["Barbara", "Tony"], "doubtful": []}
    }


def test_round_trip_in_layout_order() -> None:
    marks = {"chair": {"marked": ["Edsger", "Ada"]}, "rating": ["4"]}
    bitmap = marks_to_bitmap(marks, layout(), 1, rows=6, cols=8)
    assert bitmap.shape == (6, 8) and bitmap.dtype == bool and int(bitmap.sum()) == 3
    assert bitmap[0, 4] and bitmap[2, 4] and bitmap[5, 5]
    back = bitmap_to_marks(bitmap, layout())
    assert back["chair"]["marked"] == ["Ada", "Edsger"]
    assert back["rating"]["marked"] == ["4"]


def test_grid_size_and_gridded_boxes() -> None:
    assert grid_size(layout(), 1) == (6, 7)
    assert grid_size(layout(), 2) == (5, 1)
    boxes = gridded_boxes(layout(), 1)
    assert len(boxes) == 8 and ("chair", "Ada", 0, 4) in boxes
    assert all(b[0] != "comment" for b in boxes)


def test_bitmap_smaller_than_the_grid_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"5 rows x 7 columns.*needs at least 6 rows x 7 columns"):
        bitmap_to_marks(np.zeros((5, 7), dtype=bool), layout())
    with pytest.raises(ValueError, match="needs at least 6 rows x 7 columns"):
        bitmap_to_marks(np.zeros((6, 6), dtype=bool), layout())
    with pytest.raises(ValueError, match="needs at least"):
        marks_to_bitmap({}, layout(), 1, rows=6, cols=3)
    with pytest.raises(ValueError, match="2-D"):
        bitmap_to_marks(np.zeros(42, dtype=bool), layout())


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ([1], r"boxes\.9\.grid\n.*at least 2 items"),  # refused by the layout's model
        ([1, -1], "grid must be"),
        ([1.5, 2], r"boxes\.9\.grid\.0\n.*valid integer"),  # likewise
        ([0, 4], "share"),
    ],
)
def test_bad_grid_cells_are_errors(cell: list, problem: str) -> None:
    doc = sketch()
    doc["pages"][0]["boxes"].append(
        {"field": "x", "option": "y", "rect_mm": [0, 0, 1, 1], "grid": cell}
    )
    with pytest.raises(ValueError, match=problem):
        bitmap_to_marks(np.zeros((9, 9), dtype=bool), grid_layout(doc))


def test_layout_errors() -> None:
    with pytest.raises(ValueError, match="no page 3"):
        bitmap_to_marks(np.zeros((9, 9), dtype=bool), layout(), page=3)
    wrong = {**sketch(), "schema": "scantally.layout/9"}
    with pytest.raises(ValueError, match=r"scantally\.layout/1"):
        bitmap_to_marks(np.zeros((9, 9), dtype=bool), grid_layout(wrong))
    with pytest.raises(ValueError, match="'chair' option 'Alan'"):
        marks_to_bitmap({"chair": ["Alan"]}, layout(), 1, rows=6, cols=7)
    with pytest.raises(ValueError, match="not the string"):
        marks_to_bitmap({"chair": "Ada"}, layout(), 1, rows=6, cols=7)
    with pytest.raises(ValueError, match="'secretary'"):  # on page 2, not page 1
        marks_to_bitmap({"secretary": ["Tony"]}, layout(), 1, rows=6, cols=7)
