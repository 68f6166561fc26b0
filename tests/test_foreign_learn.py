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


def _digit_sheet(filled: set[int], shift_px: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A 200 dpi sheet of 3 x 10 bubbles with a digit printed in each (the `filled` ones shaded
    over), among printed words for matching, shifted by `shift_px`."""
    k = 200 / 25.4
    page = np.full((round(120 * k), round(120 * k)), 255, np.uint8)
    rng = np.random.default_rng(5)
    for i in range(40):
        for x_mm in (4, 30, 56):
            word = "".join(chr(65 + c) for c in rng.integers(0, 26, 5))
            cv2.putText(page, word, (round((x_mm + rng.uniform(0, 6)) * k),
                                     round((5 + 2.8 * i) * k)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.55, 0, 2, cv2.LINE_AA)
    for n in range(30):
        col, row = divmod(n, 10)
        cx, cy = round((90 + col * 7) * k), round((20 + row * 7) * k)
        cv2.circle(page, (cx, cy), round(2.2 * k), 0, 2, cv2.LINE_AA)
        # a bold digit, as printed in OMR bubbles: it covers most of the bubble's middle
        cv2.putText(page, str(row), (cx - 7, cy + 7), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 2,
                    cv2.LINE_AA)
        if n in filled:
            cv2.circle(page, (cx, cy), round(2.0 * k), 90, -1)
    m = np.float32([[1, 0, shift_px[0]], [0, 1, shift_px[1]]])
    return cv2.warpAffine(page, m, (page.shape[1], page.shape[0]), borderValue=255)


def test_targets_with_a_printed_digit_inside_are_found() -> None:
    assert len(find_targets(_digit_sheet(set()), 200)) == 30


def test_learned_from_filled_sheets_when_no_blank_is_at_hand() -> None:
    from omr.learn import learn_from_sheets

    sheets = [_digit_sheet({0, 11, 22}), _digit_sheet({0, 5, 17}, (7, -4)),
              _digit_sheet({0, 11, 29}, (-3, 6))]
    assert len(find_targets(sheets[0], 200)) == 27
    blank, found = learn_from_sheets(sheets, 200)
    # every bubble empty on some sheet is found, once; bubble 0 is marked on all three
    assert len(found) == 29
    k = 200 / 25.4
    centres = np.array([(t.rect_mm[0] + t.rect_mm[2] / 2, t.rect_mm[1] + t.rect_mm[3] / 2)
                        for t in found])
    want = np.array([(90 + 7 * (n // 10), 20 + 7 * (n % 10)) for n in range(1, 30)])
    assert np.hypot(*(centres[:, None] - want[None]).T).min(0).max() < 0.5  # each once, in place
    # the reference keeps each pixel's lightest: bubble 11 (marked on sheets 1 and 3) is paper
    # inside on the blank, bubble 0 stays shaded
    y11, x11 = round((20 + 7) * k), round((90 + 7) * k)
    assert blank[y11 - 5:y11 - 2, x11 + 3:x11 + 6].mean() > 200
    y0, x0 = round(20 * k), round(90 * k)
    assert blank[y0 - 5:y0 - 2, x0 + 3:x0 + 6].mean() < 150


def test_a_sheet_of_another_form_is_refused_by_number() -> None:
    from omr.learn import AlignError, learn_from_sheets

    with pytest.raises(AlignError) as err:
        learn_from_sheets([_digit_sheet(set()), np.full((900, 900), 255, np.uint8)], 200)
    assert err.value.sheet == 2


def test_a_bubbles_printed_digit_is_print_and_a_shading_over_it_a_mark(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Learned from a blank whose bubbles hold printed digits, the reference's own ink in each
    target is lifted as print: no digit is read as a mark, and a shading over one is."""
    from typer.testing import CliRunner

    from forms.load import load_spec
    from omr.engine import read_page
    from omr.layout import FormLayout
    from server.cli import app
    from server.cli.learn import foreign_doc, with_reference

    cv2.imwrite(str(tmp_path / "blank.png"), _digit_sheet(set()))
    out = tmp_path / "form"
    r = CliRunner().invoke(app, ["form", "learn", str(tmp_path / "blank.png"), "--dpi", "200",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    spec = load_spec(out / "form.yaml")
    lay = with_reference(out / "form.yaml", spec,
                         FormLayout.parse(foreign_doc(out / "form.yaml", spec)))
    shaded = {3, 14, 25}  # (column, row): (0, 3), (1, 4), (2, 5)
    reading = read_page(_digit_sheet(shaded, (2, 3)), {lay.id: lay}, source="s.png")
    marked = {(f, o) for f, m in reading.marks.items() for o in m.marked}
    assert marked == {(f"leader.r{n % 10 + 1:02d}", f"o{n // 10 + 1}") for n in shaded}
    assert reading.status == "ok"
    assert not any(m.doubtful for m in reading.marks.values())
