"""omr building blocks on synthetic arrays: reading JSON, geometry, fiducials, lines, decisions."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from omr.decide import Thresholds, decide
from omr.lines import clear_lines, find_lines
from omr.reading import FieldMarks, Reading, failed
from omr.register import apply, code_corners_mm, find_fiducial, local_scale, similarity
from omr.score import BoxInk, ScoreSettings, axis_mm, box_fill, sample_boxes

# -- reading JSON --------------------------------------------------------------------------------


def test_reading_json_has_exactly_the_interface_keys_and_round_trips() -> None:
    r = Reading("a.jpg#1", "review", "1 doubtful box(es)", form="f", page=1, serial="000001",
                marks={"q1": FieldMarks(["a"], ["b"])}, scores={"q1": {"a": 0.31234, "b": 0.05}},
                page_to_image=np.eye(3), registration_error_mm=0.1)
    doc = json.loads(r.to_json())
    assert list(doc) == ["source", "form", "page", "serial", "status", "reason", "reason_code",
                         "marks", "scores"]
    assert doc["reason_code"] == "doubtful_marks"
    assert doc["marks"] == {"q1": {"marked": ["a"], "doubtful": ["b"]}}
    assert doc["scores"] == {"q1": {"a": 0.312, "b": 0.05}}
    back = Reading.from_dict(doc)
    assert back.to_dict() == doc
    assert "\n" not in r.to_json()


def test_failed_reading_has_no_marks_and_nulls_for_unknown_code() -> None:
    doc = failed("x.png#1", "unreadable", "QR code unreadable").to_dict()
    assert doc["form"] is None and doc["page"] is None and doc["serial"] is None
    assert doc["marks"] == {} and doc["scores"] == {}
    assert doc["reason"] == "QR code unreadable"


def test_reading_from_dict_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="status"):
        Reading.from_dict({"source": "a", "status": "maybe"})


# -- geometry ------------------------------------------------------------------------------------


def test_similarity_recovers_rotation_scale_and_shift() -> None:
    src = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    angle = np.deg2rad(-97.0)
    rot = 7.9 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + [321.0, 54.0]
    m = similarity(src, dst)
    assert np.allclose(apply(m, src), dst, atol=1e-9)
    assert local_scale(m, np.array([5.0, 5.0])) == pytest.approx(7.9)


def test_code_corners_sit_inside_the_quiet_zone() -> None:
    corners = code_corners_mm([175.0, 8.0, 20.0, 20.0], modules=33)
    module = 20.0 / 37
    assert corners[0] == pytest.approx([175 + 2 * module, 8 + 2 * module])
    assert corners[2] == pytest.approx([195 - 2 * module, 28 - 2 * module])


def _square_page(angle_deg: float = 0.0, side_px: int = 40) -> tuple[np.ndarray, np.ndarray]:
    page = np.full((300, 300), 235, np.uint8)
    centre = np.array([150.0, 140.0])
    box = cv2.boxPoints(((centre[0], centre[1]), (side_px, side_px), angle_deg))
    cv2.fillConvexPoly(page, np.rint(box).astype(np.int32), 20)
    return page, centre


@pytest.mark.parametrize("angle", [0.0, 9.0, -15.0])
def test_find_fiducial_locates_a_rotated_square(angle: float) -> None:
    page, centre = _square_page(angle)
    hit = find_fiducial(page, centre + np.array([12.0, -9.0]), 40.0, 80.0, 0.45)
    assert hit is not None
    found, ink, paper = hit
    assert np.hypot(*(found - centre)) < 0.6
    assert ink < 60 and paper > 200


def test_find_fiducial_ignores_a_streak_through_it_and_rejects_wrong_shapes() -> None:
    page, centre = _square_page()
    page[:, 148:151] = 30  # a scanner streak through the mark and beyond
    hit = find_fiducial(page, centre, 40.0, 80.0, 0.45)
    assert hit is not None and np.hypot(*(hit[0] - centre)) < 1.0
    bar = np.full((300, 300), 235, np.uint8)
    bar[120:160, 60:240] = 20  # a filled box 4.5 x 1 of the size: not a fiducial
    assert find_fiducial(bar, np.array([150.0, 140.0]), 40.0, 80.0, 0.45) is None
    assert find_fiducial(np.full((300, 300), 235, np.uint8), centre, 40.0, 80.0, 0.45) is None


# -- line removal --------------------------------------------------------------------------------


BOX_MM = (20.0, 20.0, 8.0, 5.0)


def _page(draw) -> tuple[np.ndarray, np.ndarray]:
    """A 60 x 50 mm page at the sampling resolution with one printed box; `draw(page, px)`
    adds ink, `px(x_mm, y_mm)` giving pixel coordinates. Returns (page, page->image map)."""
    ppm = ScoreSettings().sample_px_per_mm
    page = np.full((round(50 * ppm), round(60 * ppm)), 250, np.uint8)

    def px(x_mm: float, y_mm: float) -> tuple[int, int]:
        return round(x_mm * ppm), round(y_mm * ppm)

    x, y, w, h = BOX_MM
    cv2.rectangle(page, px(x - 0.35, y - 0.35), px(x + w + 0.2, y + h + 0.2), 0,
                  max(1, round(0.35 * ppm)))
    draw(page, px)
    return page, np.diag([ppm, ppm, 1.0])


def _lines(page: np.ndarray, h: np.ndarray) -> list:
    settings = ScoreSettings()
    rects = np.array([BOX_MM])
    samples = sample_boxes(page, h, rects, 0.0, settings)
    g = samples.groups[0]
    return find_lines(g.dark[0], g.size_mm, g.inner, page, h, rects[0], 0.45, settings)


def _tick(page: np.ndarray, px) -> None:
    x, y = BOX_MM[:2]
    pts = np.array([px(x + 1.5, y + 2.5), px(x + 3, y + 4.3), px(x + 7, y + 0.8)], np.int32)
    cv2.polylines(page, [pts], False, 30, max(2, round(0.5 * ScoreSettings().sample_px_per_mm)))


def test_a_streak_crossing_the_page_is_found_a_tick_is_not() -> None:
    def streak_and_tick(page: np.ndarray, px) -> None:
        _tick(page, px)
        x0 = px(25.0, 0)[0]
        page[:, x0:x0 + 2] = 40

    lines = _lines(*_page(streak_and_tick))
    assert len(lines) == 1
    p, q, _ = lines[0]
    assert abs(p[0] - q[0]) < 1.5  # vertical
    assert _lines(*_page(_tick)) == []


def test_a_line_that_stops_outside_the_box_is_a_voters_stroke_not_a_streak() -> None:
    def stroke(page: np.ndarray, px) -> None:
        (x0, y0), (_, y1) = px(25.0, 18.0), px(25.0, 27.0)  # 2 mm beyond the box each way
        page[y0:y1, x0:x0 + 2] = 40

    assert _lines(*_page(stroke)) == []


def test_a_fold_across_a_box_with_a_streak_through_it_both_go() -> None:
    def fold_and_streak(page: np.ndarray, px) -> None:
        x0 = px(25.0, 0)[0]
        page[:, x0:x0 + 2] = 40
        cv2.line(page, px(0, 24.0), px(60, 24.4), 90, 2)

    page, h = _page(fold_and_streak)
    settings = ScoreSettings()
    rects = np.array([BOX_MM])
    samples = sample_boxes(page, h, rects, 0.0, settings)
    before = box_fill(samples, 0.3, settings).fill[0]
    assert before > 0.1
    assert clear_lines(samples, np.array([0]), page, h, rects, 0.3, settings) == 2
    assert box_fill(samples, 0.3, settings).fill[0] < 0.01


# -- decisions -----------------------------------------------------------------------------------


def _calls(fill: list[float], cover: list[float], solidity: list[float] | None = None,
           fields: list[str] | None = None, t: Thresholds | None = None,
           spread_mm: list[float] | None = None) -> list[str]:
    fields = fields or [f"f{i}" for i in range(len(fill))]
    ink = BoxInk(np.array(fill), np.array(cover),
                 np.array(spread_mm or [2.0] * len(fill)),
                 np.array(solidity or [0.6] * len(fill)))
    return [c.decision for c in decide(ink, fields, t or Thresholds())]


def test_three_way_thresholds() -> None:
    t = Thresholds()
    below = t.marginal_fill - 0.005
    between = (t.marginal_fill + t.definite_fill) / 2
    assert _calls([0.0, below, between, t.definite_fill], [0, 0, 0, 0]) == [
        "empty", "empty", "doubtful", "marked"]


def test_a_box_scribbled_over_by_a_ticking_voter_is_doubtful() -> None:
    fill = [0.25, 0.28, 0.3, 0.26, 0.98]
    cover = [0.0, 0.0, 0.05, 0.0, 0.95]
    solidity = [0.55, 0.6, 0.5, 0.62, 1.0]
    assert _calls(fill, cover, solidity) == ["marked"] * 4 + ["doubtful"]


def test_thick_crosses_in_small_boxes_are_strokes_a_solid_box_is_their_cancel() -> None:
    fill = [0.74, 0.68, 0.72, 1.0]
    cover = [0.36, 0.25, 0.72, 1.0]
    solidity = [0.8, 0.85, 0.82, 1.0]
    assert _calls(fill, cover, solidity) == ["marked"] * 3 + ["doubtful"]


def test_one_tick_and_one_scribble_the_scribble_is_doubtful() -> None:
    assert _calls([0.3, 0.97], [0.0, 0.9], [0.6, 1.0]) == ["marked", "doubtful"]


def test_a_voter_who_fills_every_box_is_read_as_marked() -> None:
    assert _calls([1.0, 0.99, 1.0], [1.0, 0.97, 1.0], [1.0, 0.99, 1.0]) == ["marked"] * 3


def test_a_voter_who_fills_boxes_partly_is_not_second_guessed() -> None:
    fill = [0.5, 0.55, 0.95, 0.6, 0.92]
    cover = [0.0, 0.1, 0.9, 0.1, 0.8]
    solidity = [0.98, 0.99, 1.0, 0.97, 1.0]
    assert _calls(fill, cover, solidity) == ["marked"] * 5


def test_a_single_thin_straight_line_is_doubtful_and_not_a_mark_to_compare_with() -> None:
    fields = ["row", "row"]
    assert _calls([0.3, 0.13], [0.0, 0.0], fields=fields, spread_mm=[2.0, 0.4]) == [
        "marked", "doubtful"]


def test_a_tick_crossed_out_beside_a_new_tick_is_doubtful_the_new_one_marked() -> None:
    fields = ["row", "row", "other"]
    assert _calls([0.66, 0.27, 0.3], [0.3, 0.0, 0.0], fields=fields) == [
        "doubtful", "marked", "marked"]


def test_a_box_covered_far_more_heavily_than_a_ticking_voters_marks_is_doubtful() -> None:
    # a blue-pen ticker scribbles a box out nearly solid (not quite all cells covered)
    fill = [0.22, 0.24, 0.21, 0.23, 0.94]
    cover = [0.0, 0.0, 0.0, 0.0, 0.77]
    solidity = [0.5, 0.55, 0.52, 0.5, 0.99]
    assert _calls(fill, cover, solidity) == ["marked"] * 4 + ["doubtful"]
    # a voter who fills boxes partly and one fully is not second-guessed
    assert _calls([0.5, 0.55, 0.95], [0.1, 0.1, 0.77], [0.98, 0.99, 1.0]) == ["marked"] * 3


def test_ink_past_the_border_makes_a_covered_box_doubtful_whoever_the_voter() -> None:
    from omr.score import BoxInk as Ink

    def calls(fill, cover, ring, solidity):
        ink = Ink(np.array(fill), np.array(cover), np.array([3.0] * len(fill)),
                  np.array(solidity), ring=np.array(ring))
        return [c.decision for c in decide(ink, [f"f{i}" for i in range(len(fill))],
                                           Thresholds())]

    # a voter who fills boxes: fills stay inside, the scribble-out runs past the border
    assert calls([0.97, 1.0, 0.99, 1.0], [0.9, 1.0, 0.95, 1.0], [0.01, 0.0, 0.02, 0.2],
                 [1.0] * 4) == ["marked"] * 3 + ["doubtful"]
    # and a box whose ink lies mostly round it (a scribble a bitonal scan hollowed)
    assert calls([0.25, 0.12], [0.0, 0.0], [0.0, 0.1], [0.5, 0.15]) == ["marked", "doubtful"]


def test_a_mark_far_heavier_than_the_voters_others_and_past_its_border_is_doubtful() -> None:
    """Twice the ink of the voter's other marks and a ring inked where theirs are clean: a
    scribble-out, not covered all over (a bitonal scan hollowed it, or the pen left gaps);
    the same heavy mark inside its border, or a ring without the weight, is a vote."""
    from omr.score import BoxInk as Ink

    def calls(fill, ring):
        n = len(fill)
        ink = Ink(np.array(fill), np.zeros(n), np.full(n, 2.5), np.full(n, 0.5),
                  ring=np.array(ring))
        return [c.decision for c in decide(ink, [f"f{i}" for i in range(n)], Thresholds())]

    ticks = [0.3, 0.25, 0.29, 0.34]
    assert calls([*ticks, 0.61], [0.0, 0.0, 0.01, 0.0, 0.23]) == ["marked"] * 4 + ["doubtful"]
    # a voter who slashes (thin strokes across the box, counted as slashes) and scribbles one
    # out: its weight is measured against the slashes
    n = 6
    ink = Ink(np.array([0.15, 0.16, 0.14, 0.16, 0.15, 0.84]), np.array([0.0] * 5 + [0.68]),
              np.array([0.5] * 5 + [3.1]), np.full(n, 0.5),
              ring=np.array([0.0] * 5 + [0.45]))
    ink.length_mm, ink.diagonal_mm = np.full(n, 6.5), np.full(n, 7.8)
    ink.off_centre, ink.angle_deg = np.full(n, 0.1), np.full(n, 40.0)
    ink.ink_dark = np.full(n, 0.7)
    assert [c.decision for c in decide(ink, [f"f{i}" for i in range(n)], Thresholds())] == [
        "marked"] * 5 + ["doubtful"]
    assert calls([*ticks, 0.61], [0.0] * 5) == ["marked"] * 5
    assert calls([*ticks, 0.45], [0.0, 0.0, 0.01, 0.0, 0.23]) == ["marked"] * 5


def test_a_fill_running_far_past_its_border_inks_its_ring() -> None:
    """A fill that overruns its border by a few millimetres on every side covers every
    row and column of the ring round the box: a band of ink, not printed rules running past
    the box (which are thin), so the ring is inked - and a covered box with it doubtful."""
    from omr.score import _ring_ink

    settings = ScoreSettings()
    size = (8.0, 5.0)
    xs, ys = axis_mm(size[0], settings), axis_mm(size[1], settings)
    over = 3.0  # past the patch: every row and column of the ring inked edge to edge
    ink = (((xs > -over) & (xs < size[0] + over))[None, :]
           & ((ys > -over) & (ys < size[1] + over))[:, None])[None]
    assert _ring_ink(ink, size, settings)[0] > 0.3
    rule = np.zeros_like(ink)
    rule[0, np.abs(ys - 2.5) < 0.2, :] = True  # a thin printed rule through the patch
    assert _ring_ink(rule, size, settings)[0] == 0.0


def test_a_fill_just_over_its_border_is_a_scribble_only_where_a_threshold_may_hollow_it() -> None:
    """A box covered all over whose ink crosses the band just outside its border on every side
    but leaves the ring beyond it clean (a felt-tip's fill spilling over the border): on a grey
    or colour scan, which shows a scribble-out's wide ring as it is, a vote; on a bitonal scan
    (or one not known), whose threshold may have hollowed a scribble's ring, doubtful."""
    from omr.score import BoxInk as Ink

    def call(solid_scan: bool, ring: float) -> str:
        ink = Ink(np.array([1.0, 0.97]), np.array([1.0, 0.95]), np.array([3.0, 3.0]),
                  np.array([1.0, 1.0]), ring=np.array([ring, 0.0]))
        ink.outside_sides = np.array([4, 0])
        ink.solid_scan = solid_scan
        return decide(ink, ["a", "b"], Thresholds())[0].decision

    assert call(solid_scan=True, ring=0.0) == "marked"
    assert call(solid_scan=False, ring=0.0) == "doubtful"
    # a scribble-out's wide ring is a cancellation on every scan
    assert call(solid_scan=True, ring=0.2) == "doubtful"


def test_ink_no_darker_than_the_scans_grain_is_never_a_sure_mark() -> None:
    """A page of light pencil, dithered: the voter's level falls to the paper's grain, and an
    empty box whose grain is a shade denser than the paper round it fills half the box at that
    level. A sure mark is sure on an absolute scale: ink averaging under `light_ink_ratio`
    times the faintest visible ink is doubtful, however much of the box it covers."""
    from omr.score import BoxInk as Ink

    ink = Ink(np.array([0.45, 0.3]), np.array([0.35, 0.1]), np.array([3.7, 2.5]),
              np.array([0.5, 0.4]), peak=np.array([0.2, 0.35]))
    ink.ink_dark = np.array([0.17, 0.25])
    # on that dithered page the faintest visible ink is the paper's own noise floor
    ink.visible_level = ink.grain_level = 0.134
    calls = decide(ink, ["a", "b"], Thresholds())
    assert [c.decision for c in calls] == ["doubtful", "marked"]
    assert "grain" in calls[0].why


def test_a_light_pencils_marks_on_a_quiet_scan_are_no_grain() -> None:
    """The same light ink (darkness 0.17) on a quiet grey scan, whose paper grain reaches
    0.05: over three times the grain, and over the faintest a person sees (0.12) - the marks
    of a light HB pencil, sure, not sent to a person one by one."""
    from omr.score import BoxInk as Ink

    ink = Ink(np.array([0.45, 0.3]), np.array([0.35, 0.1]), np.array([3.7, 2.5]),
              np.array([0.5, 0.4]), peak=np.array([0.2, 0.35]))
    ink.ink_dark = np.array([0.17, 0.25])
    ink.visible_level, ink.grain_level = 0.12, 0.05
    assert [c.decision for c in decide(ink, ["a", "b"], Thresholds())] == ["marked", "marked"]


def test_black_ink_is_never_grain_however_noisy_the_scan() -> None:
    """A small-window threshold's speckle raises the noise floor of a bitonal scan to 0.7, so
    that 1.5 times it is more than any ink can be. A pen's stroke, smoothed, averages 0.95:
    as dark as printed black, never grain - a mark. A clump of the threshold's speckle on a
    page whose grain is 0.5 averages 0.72: under 1.5 times the grain, doubtful."""
    from omr.score import BoxInk as Ink

    def call(ink_dark: float, grain: float) -> str:
        ink = Ink(np.array([0.3]), np.array([0.05]), np.array([3.0]), np.array([0.4]),
                  peak=np.array([1.0]))
        ink.ink_dark = np.array([ink_dark])
        ink.visible_level = ink.grain_level = grain
        ink.shades = False
        return decide(ink, ["a"], Thresholds())[0].decision

    assert call(0.95, 0.7) == "marked"
    assert call(0.72, 0.51) == "doubtful"


def test_visible_ink_is_never_empty_and_a_light_stroke_is_not_sure() -> None:
    from omr.score import BoxInk as Ink

    ink = Ink(np.array([0.01, 0.2, 0.15, 0.3]), np.zeros(4), np.array([0.0, 2.0, 0.9, 2.0]),
              np.array([1.0, 0.4, 0.9, 0.5]), visible=np.array([0.05, 0.25, 0.2, 0.35]),
              light=np.array([True, True, True, False]), peak=np.array([0.1, 0.3, 0.3, 0.9]))
    # visible ink in a box read as paper at the voter's level: doubtful, not empty; a light
    # tick: marked; a light single dash (one stroke wide): doubtful; the voter's own tick
    assert [c.decision for c in decide(ink, ["a", "b", "c", "d"], Thresholds())] == [
        "doubtful", "marked", "doubtful", "marked"]


def test_a_light_fill_a_threshold_thinned_to_dots_is_doubtful_never_empty() -> None:
    """On a thresholded bitonal scan a light pencil fill may leave only dots inside its box
    and its border inked wider: no ink at a glance (under the marginal fill), yet two signs
    together of a fill a person sees on the paper - doubtful. Either sign alone is what dust
    or a border out of place by a fraction leaves: empty. On a scan that keeps its shades the
    fill would show as grey, so the rule is not needed there."""
    from omr.score import BoxInk as Ink

    def call(mean_dark: float, border_mean_mm: float, shades: bool = False) -> str:
        ink = Ink(np.array([0.01]), np.array([0.0]), np.array([0.0]), np.array([1.0]),
                  visible=np.array([0.015]))
        ink.mean_dark = np.array([mean_dark])
        ink.border_excess_mean_mm = np.array([border_mean_mm])
        ink.shades = shades
        return decide(ink, ["a"], Thresholds())[0].decision

    assert call(0.009, 0.08) == "doubtful"
    assert call(0.009, 0.0) == "empty"  # dots alone: dust
    assert call(0.0005, 0.08) == "empty"  # a wider border alone: a box out of place
    assert call(0.009, 0.08, shades=True) == "empty"
