"""omr.sim.degrade: degradations do what the truth records (checked on the images: the QR code
of an upside-down sheet is at the bottom left, a blot kills the code, a 97 % copy is smaller),
and no planned geometry ever pushes a corner mark off the scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zxingcpp

from omr.sim import degrade as dg
from omr.sim.corpus import load_form, render_page

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEC = EXAMPLES / "recommendation.yaml"
DPI = 150
MARKS = {"pos.director": ["P310012"], "pos.deputy": ["P310072", "P310093"]}
CANVAS = {"name": "canvas", "margin_mm": 6.0, "background": 255}


def _codes(image: np.ndarray) -> list[zxingcpp.Barcode]:
    return [b for b in zxingcpp.read_barcodes(image) if b.text.startswith("ST1|")]


def _centre(barcode: zxingcpp.Barcode) -> tuple[float, float]:
    p = barcode.position
    pts = [p.top_left, p.top_right, p.bottom_right, p.bottom_left]
    return sum(q.x for q in pts) / 4, sum(q.y for q in pts) / 4


def _fiducial_levels(page, image: np.ndarray) -> list[float]:
    """Mean grey level at the centre of each corner mark, through the recorded homography."""
    ctx = load_form(SPEC.resolve(), DPI)
    out = []
    for x, y, w, h in ctx.pages[0].info.fiducials_mm:
        q = page.mm_to_px @ [x + w / 2, y + h / 2, 1.0]
        cx, cy = int(q[0] / q[2]), int(q[1] / q[2])
        out.append(float(image[cy - 2:cy + 3, cx - 2:cx + 3].mean()))
    return out


@pytest.mark.parametrize("turn", [0, 180])
def test_upside_down_sheet_has_its_code_at_the_bottom_left(turn: int) -> None:
    ops = [{"name": "rotate", "deg": 1.5}, {"name": "turn", "deg": turn}, CANVAS]
    page = render_page(SPEC, MARKS, serial="004711", dpi=DPI, degradations=ops)
    codes = _codes(page.image)
    assert len(codes) == 1 and codes[0].text.endswith("|1|004711")
    x, y = _centre(codes[0])
    h, w = page.image.shape
    assert (x < w / 3 and y > 2 * h / 3) if turn == 180 else (x > 2 * w / 3 and y < h / 3)
    assert max(_fiducial_levels(page, page.image)) < 80


def test_quarter_turn_scans_landscape_and_keeps_the_code_readable() -> None:
    page = render_page(SPEC, MARKS, dpi=DPI, degradations=[{"name": "turn", "deg": 90}, CANVAS])
    h, w = page.image.shape
    assert w > h
    assert len(_codes(page.image)) == 1


def test_photocopy_at_97_percent_shrinks_the_corner_mark_spacing() -> None:
    plain = render_page(SPEC, MARKS, dpi=DPI)
    copy = render_page(SPEC, MARKS, dpi=DPI, degradations=[
        {"name": "scale", "factor": 0.97}, {"name": "rotate", "deg": -4.0},
        {"name": "shift", "dx_mm": 12.0, "dy_mm": -9.0}, CANVAS])

    def spacing(page) -> float:
        a = page.mm_to_px @ [10.5, 10.5, 1.0]
        b = page.mm_to_px @ [199.5, 10.5, 1.0]
        return float(np.hypot(*(a[:2] / a[2] - b[:2] / b[2])))

    assert spacing(copy) / spacing(plain) == pytest.approx(0.97, abs=1e-3)
    assert max(_fiducial_levels(copy, copy.image)) < 80


def test_blot_on_the_code_makes_it_unreadable_and_covered_corners_are_white() -> None:
    page = render_page(SPEC, MARKS, dpi=DPI, degradations=[
        {"name": "qr_blot", "seed": 3},
        {"name": "cover_fiducial", "corner": 0, "grey": 250, "pad_mm": 2.0},
        {"name": "torn_corner", "corner": 3, "leg_mm": 30.0, "seed": 1},
        {"name": "rotate", "deg": 2.0}, {"name": "canvas", "margin_mm": 5, "background": 70}])
    assert _codes(page.image) == []
    levels = _fiducial_levels(page, page.image)
    assert levels[0] > 200  # covered with white
    assert abs(levels[3] - 70) < 20  # torn off: the scanner's background shows
    assert max(levels[1], levels[2]) < 80


def test_streak_fold_bitonal_and_colour() -> None:
    ops = [{"name": "fold", "axis": "h", "pos_mm": 80.0, "angle_deg": 0.0, "level": 150,
            "width_px": 2},
           {"name": "streak", "x_px": 900, "width_px": 2, "level": 30},
           {"name": "bitonal", "method": "threshold", "level": 200}]
    page = render_page(SPEC, MARKS, dpi=DPI, degradations=ops)
    assert set(np.unique(page.image)) <= {0, 255}
    assert (page.image[:, 900] == 0).all()  # the streak runs through the whole page
    row = int(80.0 * DPI / 25.4)
    assert (page.image[row - 2:row + 3, 300:800] == 0).any(axis=0).mean() > 0.9  # the fold
    colour = render_page(SPEC, MARKS, pen="blue", dpi=DPI, degradations=[
        {"name": "colour"}, {"name": "jpeg", "quality": 60}])
    assert colour.image.ndim == 3
    x, y, w, h = load_form(SPEC.resolve(), DPI).pages[0].boxes[("pos.director", "P310012")]
    inside = colour.image[int((y + 1) * DPI / 25.4):int((y + h - 1) * DPI / 25.4),
                          int((x + 1) * DPI / 25.4):int((x + w - 1) * DPI / 25.4)].reshape(-1, 3)
    ink = inside[inside.sum(axis=1) < 500]
    assert len(ink) and ink[:, 2].mean() > ink[:, 0].mean() + 40  # blue ink stays blue


def test_apply_is_deterministic_for_the_recorded_operations() -> None:
    ops = [{"name": "dust", "count": 40, "seed": 9}, {"name": "noise", "sigma": 6, "seed": 4},
           {"name": "blur", "sigma_px": 1.1}, {"name": "rotate", "deg": 7.5}, CANVAS]
    a = render_page(SPEC, MARKS, dpi=DPI, degradations=ops, seed=2).image
    b = render_page(SPEC, MARKS, dpi=DPI, degradations=ops, seed=2).image
    c = render_page(SPEC, MARKS, dpi=DPI, degradations=ops[1:], seed=2).image
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_planned_geometry_never_cuts_a_corner_mark_off() -> None:
    info = load_form(SPEC.resolve(), DPI).pages[0].info
    profile = dg.PROFILES["hard"]
    names: set[str] = set()
    for i in range(400):
        rng = np.random.default_rng(i)
        scan = dg.plan_scan_mode(rng, profile, "jpg")
        ops = dg.plan_page(rng, profile, info, scan)
        names |= {o["name"] for o in ops + scan}
        h, (w_px, h_px) = dg.page_homography(ops, info)
        for x, y, w, hh in info.fiducials_mm:
            for cx, cy in ((x, y), (x + w, y + hh)):
                q = h @ [cx, cy, 1.0]
                assert 0 <= q[0] / q[2] < w_px and 0 <= q[1] / q[2] < h_px, ops
        rotate = next((o["deg"] for o in ops if o["name"] == "rotate"), 0.0)
        assert abs(rotate) <= 15
        shift = next((o for o in ops if o["name"] == "shift"), {"dx_mm": 0, "dy_mm": 0})
        assert max(abs(shift["dx_mm"]), abs(shift["dy_mm"])) <= 15
    assert names >= {"rotate", "turn", "shift", "scale", "perspective", "blur", "noise",
                     "streak", "fold", "paper", "dust", "bitonal", "jpeg", "canvas", "colour",
                     "cover_fiducial", "torn_corner"}
