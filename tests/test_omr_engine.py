"""read_page on whole synthetic sheets: geometry, marks, cancels, every way a page is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.engine import read_page
from omr.layout import Layouts, parse_layouts
from omr.register import RegistrationLimits
from tests import omr_helpers as H

DOC = H.layout("evaluation")
LAYOUTS = parse_layouts({DOC["form"]["id"]: DOC})
FIELDS = [f for f in DOC["fields"] if f["page"] == 1]


def _votes() -> dict[str, list[str]]:
    """A valid evaluation ballot: one option per row, a few rows left empty."""
    return {f["id"]: [f["options"][(i * 7) % len(f["options"])]]
            for i, f in enumerate(FIELDS) if i % 6 != 5}


def _sheet(votes: dict[str, list[str]], kind: str = "tick", ink: int = H.BLACK_PEN,
           pen_mm: float = 0.5, serial: str = "000001") -> np.ndarray:
    img = H.blank_sheet("evaluation", serial)
    for i, (field, options) in enumerate(sorted(votes.items())):
        for option in options:
            H.draw_mark(img, H.box_rect(DOC, field, option), kind, ink=ink, pen_mm=pen_mm, seed=i)
    return img


def _read(image: np.ndarray, layouts: Layouts | None = None, **kw: object):
    return read_page(image, LAYOUTS if layouts is None else layouts, source="t.png#1", **kw)


def _assert_votes(reading, votes: dict[str, list[str]]) -> None:
    assert reading.status == "ok", reading.reason
    for f in FIELDS:
        assert reading.marks[f["id"]].marked == votes.get(f["id"], []), f["id"]
        assert reading.marks[f["id"]].doubtful == []
        assert set(reading.scores[f["id"]]) == set(f["options"])


VOTES = _votes()
SHEET = _sheet(VOTES)


@pytest.mark.parametrize("scan", [
    {"angle_deg": 15.0, "bed_margin_mm": 40.0},
    {"angle_deg": -15.0, "bed_margin_mm": 40.0, "shift_mm": (15.0, -15.0)},
    {"turns": 1, "angle_deg": 3.0},
    {"turns": 2, "angle_deg": -1.0, "blur_px": 1.0, "noise": 6.0, "jpeg_quality": 60},
    {"turns": 3},
    {"scale": 0.95, "shift_mm": (-12.0, 9.0)},
    {"scale": 1.05, "bed_margin_mm": 20.0},
])
def test_geometry_rotation_turns_shift_and_scale(scan: dict) -> None:
    reading = _read(H.scan(SHEET, **scan))
    _assert_votes(reading, VOTES)
    assert reading.serial == "000001" and reading.page == 1 and reading.form == DOC["form"]["id"]
    assert reading.registration_error_mm is not None
    assert reading.registration_error_mm < 0.5


def test_mild_perspective_is_modelled_by_the_homography() -> None:
    h, w = SHEET.shape
    k = 200 / H.MM_PER_INCH
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + np.float32([[1.5, -1.0], [-1.2, 1.4], [1.0, 1.5], [-1.5, -1.2]]) * k
    warped = cv2.warpPerspective(SHEET, cv2.getPerspectiveTransform(src, dst), (w, h),
                                 borderValue=255)
    _assert_votes(_read(warped), VOTES)


@pytest.mark.parametrize("kind", ["tick", "cross", "circle", "fill"])
def test_every_mark_style_reads(kind: str) -> None:
    _assert_votes(_read(H.scan(_sheet(VOTES, kind), noise=3, jpeg_quality=80)), VOTES)


def test_a_light_pencil_voter_is_read_like_a_pen() -> None:
    sheet = _sheet(VOTES, ink=150, pen_mm=0.35)
    reading = _read(H.scan(sheet, blur_px=0.8, noise=3, jpeg_quality=75))
    _assert_votes(reading, VOTES)


def test_colour_scan_with_red_and_blue_pens() -> None:
    votes = VOTES
    grey = H.blank_sheet("evaluation")
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    for i, (field, options) in enumerate(sorted(votes.items())):
        colour = (200, 30, 40) if i % 2 else (30, 60, 170)
        x, y, w, h = H.box_rect(DOC, field, options[0])
        k = 200 / H.MM_PER_INCH
        pts = np.array([[x + 0.2 * w, y + 0.5 * h], [x + 0.4 * w, y + 0.9 * h],
                        [x + 0.85 * w, y + 0.1 * h]]) * k
        cv2.polylines(rgb, [np.rint(pts).astype(np.int32)], False, colour, 4, cv2.LINE_AA)
    _assert_votes(_read(rgb), votes)


def test_stray_marks_outside_boxes_never_count() -> None:
    sheet = SHEET.copy()
    k = 200 / H.MM_PER_INCH
    x, y, _, _ = H.box_rect(DOC, "leader.P310012", "excellent")
    # a signature-like scrawl in the margin, a line through the names column, a dot near a box
    cv2.line(sheet, (round(25 * k), round((y + 2) * k)), (round(70 * k), round((y + 3) * k)),
             30, 3)
    cv2.circle(sheet, (round((x - 2.5) * k), round((y + 2.5) * k)), 4, 20, -1)
    cv2.putText(sheet, "Wang", (round(30 * k), round(275 * k)), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                2.0, 20, 3)
    _assert_votes(_read(sheet), VOTES)


def test_blank_sheet_and_blank_back() -> None:
    blank = _read(H.scan(H.blank_sheet("evaluation"), noise=3, jpeg_quality=80))
    assert blank.status == "blank" and blank.reason == "no marks"
    assert all(m.marked == [] and m.doubtful == [] for m in blank.marks.values())
    paper = np.clip(np.full((2339, 1654), 240.0) + np.random.default_rng(3).normal(0, 5, (
        2339, 1654)), 0, 255).astype(np.uint8)
    back = _read(paper)
    assert back.status == "blank" and back.reason == "blank back" and back.form is None


def test_a_faint_smudge_is_doubtful_and_the_page_goes_to_review() -> None:
    sheet = SHEET.copy()
    field = next(f["id"] for f in FIELDS if f["id"] not in VOTES)
    x, y, _, _ = H.box_rect(DOC, field, "good" if field.startswith("team") else "excellent")
    k = 200 / H.MM_PER_INCH
    cv2.line(sheet, (round((x + 3) * k), round((y + 2.5) * k)),
             (round((x + 4.2) * k), round((y + 2.7) * k)), 40, 4)
    reading = _read(sheet)
    assert reading.status == "review"
    assert reading.marks[field].doubtful and not reading.marks[field].marked
    assert "faint" in reading.reason


def test_cancelled_marks_from_the_simulator_go_to_review() -> None:
    from pathlib import Path

    from omr.sim.corpus import render_page

    marks = {f["id"]: [f["options"][0]] for f in FIELDS[1:12]}
    for style in ("scribble", "solid"):
        page = render_page(Path(H.EXAMPLES / "evaluation.yaml"), marks,
                           cancelled={"leader.P310318": ["basic"]}, cancel_style=style,
                           style="tick", pen="blue", seed=5)
        reading = _read(page.image)
        assert reading.status == "review", style
        assert reading.marks["leader.P310318"].doubtful == ["basic"]
        assert reading.marks["leader.P310318"].marked == []
        for field, options in marks.items():
            assert reading.marks[field].marked == options


def _cover_fiducial(img: np.ndarray, i: int) -> None:
    k = 200 / H.MM_PER_INCH
    x, y, w, h = DOC["pages"][0]["fiducials_mm"][i]
    img[round((y - 1) * k):round((y + h + 1) * k), round((x - 1) * k):round((x + w + 1) * k)] \
        = 250


@pytest.mark.parametrize("lost", [(3,), (3, 0), (1, 2), (0, 1, 2), (0, 1, 2, 3)])
def test_corner_marks_lost_the_code_and_the_box_borders_fix_the_page(lost: tuple[int, ...]
                                                                      ) -> None:
    sheet = SHEET.copy()
    for i in lost:
        _cover_fiducial(sheet, i)
    _assert_votes(_read(H.scan(sheet, angle_deg=4.0, shift_mm=(3.0, -2.0))), VOTES)


def test_without_enough_anchors_a_warped_sheet_is_refused_naming_the_lost_marks() -> None:
    sheet = SHEET.copy()
    for i in (0, 3):
        _cover_fiducial(sheet, i)
    # a sheet crumpled in waves of 2.5 mm: no one map puts the box borders where they are
    warped = H.crumpled(sheet, DOC["pages"][0]["code_mm"])
    refused = _read(warped)
    assert refused.status == "unreadable"
    assert "corner marks found (missing: top-left" in refused.reason, refused.reason
    assert "bottom-left" in refused.reason and "box borders" in refused.reason
    assert refused.serial == "000001" and refused.marks == {}


def test_a_page_partly_off_the_scan_is_refused_never_read_as_empty() -> None:
    k = 200 / H.MM_PER_INCH
    lowest = max(b["rect_mm"][1] for b in DOC["pages"][0]["boxes"])
    assert lowest > 240  # the scan below ends above the last rows of boxes
    cropped = np.ascontiguousarray(SHEET[:round(240 * k)])
    refused = _read(cropped)
    assert refused.status == "unreadable"
    assert "off the scan" in refused.reason


def test_unreadable_qr_code() -> None:
    sheet = SHEET.copy()
    x, y, s, _ = DOC["pages"][0]["code_mm"]
    k = 200 / H.MM_PER_INCH
    cv2.circle(sheet, (round((x + s / 2) * k), round((y + s / 2) * k)), round(0.45 * s * k), 30,
               -1)
    reading = _read(sheet)
    assert reading.status == "unreadable" and reading.reason.startswith("QR code unreadable")
    assert reading.form is None and reading.marks == {}


def test_warped_sheet_is_refused_with_the_registration_error() -> None:
    h, w = SHEET.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bulge = 2.0 * 200 / H.MM_PER_INCH * np.sin(np.pi * xx / w) * np.sin(np.pi * yy / h)
    warped = cv2.remap(SHEET, xx + bulge, yy + bulge / 2, cv2.INTER_LINEAR, borderValue=255)
    reading = _read(warped)
    assert reading.status == "unreadable"
    assert reading.reason.startswith("registration error") and "0.8 mm limit" in reading.reason
    assert reading.marks == {}


def test_sheet_of_another_form_and_of_another_version() -> None:
    other = H.layout("satisfaction")
    page = H.blank_sheet("satisfaction", "000009")
    reading = _read(page)
    assert reading.status == "unknown_form"
    assert reading.form == other["form"]["id"] and other["form"]["id"] in reading.reason
    both = _read(page, {**LAYOUTS, **parse_layouts({other["form"]["id"]: other})})
    assert both.status == "blank" and both.form == other["form"]["id"]
    edited = {**DOC, "form": {**DOC["form"], "hash": "0" * 64}}
    stale = _read(SHEET, parse_layouts({DOC["form"]["id"]: edited}))
    assert stale.status == "unknown_form" and "another version" in stale.reason


def test_random_noise_and_tiny_or_odd_arrays_are_refused_with_a_reason() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (2339, 1654), dtype=np.uint8)
    reading = _read(noise)
    assert reading.status == "unreadable" and "QR code" in reading.reason
    for odd in (np.zeros((50, 40), np.uint8), np.zeros((300, 300), np.float32),
                np.zeros((300, 300, 2), np.uint8)):
        refused = _read(odd)
        assert refused.status == "unreadable" and "image is" in refused.reason


def test_tight_limits_are_used() -> None:
    # corner marks that "disagree" with the code leave the page to the box borders...
    reading = _read(SHEET, limits=RegistrationLimits(code_error_mm=0.0001))
    _assert_votes(reading, VOTES)
    # ...whose registration error is held to its limit
    reading = _read(SHEET, limits=RegistrationLimits(max_error_mm=0.0001))
    assert reading.status == "unreadable" and "registration error" in reading.reason


@pytest.mark.parametrize("dpi", [150, 300])
def test_other_resolutions(dpi: int) -> None:
    votes = {f["id"]: [f["options"][-1]] for f in FIELDS[:8]}
    img = H.blank_sheet("evaluation", "000077", dpi=dpi)
    for i, (field, options) in enumerate(sorted(votes.items())):
        H.draw_mark(img, H.box_rect(DOC, field, options[0]), "cross", dpi=dpi, seed=i)
    reading = _read(H.scan(img, angle_deg=2.0, dpi=dpi, blur_px=dpi / 200, noise=3,
                           jpeg_quality=80), dpi=dpi)
    _assert_votes(reading, votes)


@pytest.mark.parametrize("dpi", [150, 200])
def test_a_black_streak_crossed_by_a_fold_in_an_empty_box_is_erased(dpi: int) -> None:
    """Seen in a simulated corpus: a black scanner streak down one column of boxes and a grey
    fold across one row met in an empty box; the two lines together inked it past the fill
    that line removal was tried below, and it read marked. Both lines are erased now."""
    leaders = [f for f in FIELDS if f["id"].startswith("leader.")]
    row = leaders[4]["id"]
    votes = {row: ["excellent"], leaders[2]["id"]: ["basic"]}
    img = H.blank_sheet("evaluation", "000777", dpi=dpi)
    for i, (field, options) in enumerate(sorted(votes.items())):
        for option in options:
            H.draw_mark(img, H.box_rect(DOC, field, option), "circle", dpi=dpi, seed=i)
    x, y, w, h = H.box_rect(DOC, row, "competent")
    # the fold: a grey crease right across the row, through the middle of its boxes
    H.draw_line(img, (0, y + h / 2 + 0.4), (210, y + h / 2 - 0.2), width_mm=0.9, grey=146,
                dpi=dpi)
    page = H.scan(img, angle_deg=0.1, blur_px=0.6, noise=4, dpi=dpi, seed=7)
    # grey recycled paper, ink not quite black (as the corpus sheet was: paper 205, ink 62)
    page = np.rint(205 - (255 - page.astype(np.float64)) * (205 - 62) / 255).astype(np.uint8)
    # the streak: three black image columns through the competent column
    centre_px = np.array([x + w * 0.55, y + h / 2]) * dpi / H.MM_PER_INCH
    col = round((H.scan_matrix(img.shape, angle_deg=0.1, dpi=dpi) @ [*centre_px, 1.0])[0])
    page[:, col:col + 3] = 9
    reading = _read(page, dpi=dpi)
    assert reading.status == "ok", reading.reason
    assert reading.marks[row].marked == ["excellent"] and reading.marks[row].doubtful == []
    assert reading.scores[row]["competent"] < 0.03
    assert reading.marks[leaders[2]["id"]].marked == ["basic"]
