"""The families of the field report (../shared/field-reports/2026-12-omr), made afresh here.

Each test draws its own sheets (tests/omr_helpers) so that a fix holds for the family, not for
the report's ten images: a mark lighter than the voter's others is never read away; a box
scribbled over past its border is doubtful for a voter who fills boxes as for one who ticks; a
stray dash poking into a box is never a vote; a sheet whose corner marks are cut off, hollowed by
a bitonal threshold or folded over is read from the anchors left.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr.code import find_code
from omr.engine import read_page
from omr.layout import parse_layouts
from omr.register import RegistrationLimits, register
from tally.recount import compare_readings
from tests import omr_helpers as H

DOC = H.layout("evaluation")
LAYOUTS = parse_layouts({DOC["form"]["id"]: DOC})
FIELDS = [f for f in DOC["fields"] if f["page"] == 1]
K = 200 / H.MM_PER_INCH


def _votes(seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    return {f["id"]: [f["options"][int(rng.integers(len(f["options"])))]]
            for f in FIELDS if rng.random() < 0.9}


def _read(image: np.ndarray):
    return read_page(image, LAYOUTS, source="t.png#1", dpi=200)


def _draw(img: np.ndarray, votes: dict[str, list[str]], kind: str, ink: int, pen_mm: float,
          seed: int) -> None:
    for i, (field, options) in enumerate(sorted(votes.items())):
        for option in options:
            H.draw_mark(img, H.box_rect(DOC, field, option), kind, ink=ink, pen_mm=pen_mm,
                        seed=seed * 100 + i)


def _decision(reading, field: str, option: str) -> str:
    m = reading.marks[field]
    return "marked" if option in m.marked else "doubtful" if option in m.doubtful else "empty"


def _none_lost_none_invented(reading, votes: dict[str, list[str]]) -> tuple[int, int]:
    """Assert no voted box of page 1 is read empty and no other box marked; (how many of the
    others are read empty, how many there are)."""
    empty = total = 0
    for f in FIELDS:
        for option in f["options"]:
            call = _decision(reading, f["id"], option)
            if option in votes.get(f["id"], []):
                assert call != "empty", (f["id"], option, reading.scores[f["id"]])
            else:
                assert call != "marked", (f["id"], option, reading.scores[f["id"]])
                empty += call == "empty"
                total += 1
    return empty, total


@pytest.mark.parametrize(("kind", "ink", "pen_mm", "blur_px", "sure"), [
    ("tick", 150, 0.35, 0.8, True),  # an HB pencil tick, blurred
    ("cross", 165, 0.3, 0.6, True),
    ("circle", 140, 0.4, 1.0, True),
    ("tick", 195, 0.45, 0.5, False),  # barely grey: a person decides, it is never empty
])
def test_a_mark_lighter_than_the_voters_others_is_never_read_empty(
        kind: str, ink: int, pen_mm: float, blur_px: float, sure: bool) -> None:
    votes = _votes(1)
    light = sorted(votes)[::4]  # every fourth voted row in a lighter pen
    img = H.blank_sheet("evaluation", "000201")
    _draw(img, {f: o for f, o in votes.items() if f not in light}, "tick", H.BLACK_PEN, 0.6, 1)
    _draw(img, {f: votes[f] for f in light}, kind, ink, pen_mm, 2)
    reading = _read(H.scan(img, angle_deg=0.8, blur_px=blur_px, noise=3, jpeg_quality=85))
    assert reading.read, reading.reason
    for f in light:
        assert _decision(reading, f, votes[f][0]) in ("marked", "doubtful"), (f, reading.scores[f])
    for f, options in votes.items():
        if f not in light:
            assert reading.marks[f].marked == options, f
    if sure:  # visible, sure ink: counted, not sent to a person
        assert sum(_decision(reading, f, votes[f][0]) == "marked" for f in light) == len(light)


@pytest.mark.parametrize("ink", [205, 215])
def test_a_sheet_of_light_hb_pencil_on_a_quiet_grey_scan_is_counted(ink: int) -> None:
    """Every mark of the sheet in an HB pencil whose crosses average a darkness near 0.17, on
    a quiet grey scan (noise 2.5 grey levels): over the faintest ink a person sees (0.12) and
    several times the paper's own grain, so the voter's ordinary marks are counted, none sent
    to a person (they were all sent as "grain", judged against the faintest visible ink
    rather than against the grain)."""
    votes = _votes(3)
    img = H.blank_sheet("evaluation", "000213")
    _draw(img, votes, "cross", ink, 0.6, 3)
    reading = _read(H.scan(img, angle_deg=0.6, blur_px=1.4, noise=2.5, seed=3))
    assert reading.status == "ok", reading.reason
    for f, options in votes.items():
        assert reading.marks[f].marked == options, (f, reading.scores[f])


def _scribble_past_border(img: np.ndarray, rect_mm: list[float], ink: int, seed: int) -> None:
    """A box scribbled out: dense strokes running 1-2 mm past its border all round."""
    rng = np.random.default_rng(seed)
    x, y, w, h = rect_mm
    over = rng.uniform(1.0, 2.0)
    y0, y1 = y - over, y + h + over
    for i, v in enumerate(np.linspace(y0, y1, 9)):
        a = (x - over + rng.uniform(-0.3, 0.3), v)
        b = (x + w + over + rng.uniform(-0.3, 0.3), v + rng.uniform(-0.4, 0.4))
        p, q = (a, b) if i % 2 else (b, a)
        cv2.line(img, (round(p[0] * K), round(p[1] * K)), (round(q[0] * K), round(q[1] * K)),
                 int(ink), max(1, round(1.1 * K)), cv2.LINE_AA)


@pytest.mark.parametrize(("style", "ink"), [("fill", H.BLACK_PEN), ("fill", 110),
                                            ("tick", H.BLACK_PEN)])
def test_a_box_scribbled_over_past_its_border_is_doubtful_for_every_voter_style(
        style: str, ink: int) -> None:
    votes = _votes(2)
    rows = sorted(votes)
    cancelled = rows[1::5]
    img = H.blank_sheet("evaluation", "000202")
    _draw(img, votes, style, ink, 0.6, 3)
    for i, f in enumerate(cancelled):  # the voter scribbles out the vote and marks another
        option = votes[f][0]
        _scribble_past_border(img, H.box_rect(DOC, f, option), ink, i)
    reading = _read(H.scan(img, angle_deg=-0.6, blur_px=0.7, noise=3, jpeg_quality=85))
    assert reading.read, reading.reason
    for f in cancelled:
        assert _decision(reading, f, votes[f][0]) == "doubtful", (f, reading.scores[f])
    for f in rows:
        if f not in cancelled:
            assert reading.marks[f].marked == votes[f], f


def test_a_stray_dash_poking_into_an_empty_box_is_never_a_vote() -> None:
    votes = _votes(3)
    img = H.blank_sheet("evaluation", "000203")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 4)
    strays = []
    for f in sorted(votes)[::3]:
        options = [o for o in next(x for x in FIELDS if x["id"] == f)["options"]
                   if o not in votes[f]]
        x, y, w, h = H.box_rect(DOC, f, options[0])
        # a dash from the neighbouring cell running a third of the way into the box
        for ink in (H.BLACK_PEN, 120):
            cv2.line(img, (round((x + w + 3) * K), round((y + h / 2) * K)),
                     (round((x + w * 0.66) * K), round((y + h / 2 + 0.3) * K)), ink,
                     max(1, round(0.45 * K)), cv2.LINE_AA)
        strays.append((f, options[0]))
    reading = _read(H.scan(img, angle_deg=0.4, blur_px=0.6, noise=2))
    assert reading.read, reading.reason
    for f, option in strays:
        assert _decision(reading, f, option) != "marked", (f, option)
        assert reading.marks[f].marked == votes[f]


@pytest.mark.parametrize("axis", ["column", "row"])
def test_a_fold_seen_only_inside_the_boxes_of_a_column_or_row_is_never_a_vote(axis: str) -> None:
    """A small-window bitonal threshold can keep a fold's shadow only inside the boxes: the same
    short straight stroke, at one place on the page, in every box the fold runs through. Such
    boxes are never sure marks (doubtful: the ink is visible), and a tick the fold crosses is
    still a vote."""
    votes = _votes(5)
    img = H.blank_sheet("evaluation", "000205")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 6)
    if axis == "column":  # down the 称职 column of the leaders
        boxes = [(f["id"], "competent") for f in FIELDS if f["id"].startswith("leader.")]
        x0, _, w0, _ = H.box_rect(DOC, *boxes[0])
        at = x0 + 0.3 * w0
    else:  # along the row of one leader
        field = next(f for f in FIELDS if f["id"].startswith("leader.") and f["id"] in votes)
        boxes = [(field["id"], o) for o in field["options"]]
        _, y0, _, h0 = H.box_rect(DOC, *boxes[0])
        at = y0 + 0.6 * h0
    for f, option in boxes:
        x, y, w, h = H.box_rect(DOC, f, option)
        ends = (((at, y + 0.15 * h), (at, y + 0.85 * h)) if axis == "column"
                else ((x + 0.15 * w, at), (x + 0.85 * w, at)))
        H.draw_line(img, *ends, width_mm=0.5, grey=H.BLACK_PEN)
    reading = _read(H.scan(img, angle_deg=0.6, blur_px=0.5, noise=2))
    assert reading.read, reading.reason
    crossed = 0
    for f, option in boxes:
        if option in votes.get(f, []):
            crossed += 1
            assert _decision(reading, f, option) == "marked", (f, option)
        else:
            assert _decision(reading, f, option) == "doubtful", (f, option)
    assert crossed and len(boxes) - crossed >= 2
    for f in votes:  # nothing else moved
        assert set(votes[f]) - {o for g, o in boxes if g == f} <= set(reading.marks[f].marked)


@pytest.mark.parametrize(("angle_deg", "at"), [(12.0, 0.45), (-10.0, 0.5), (8.0, 0.3)])
def test_a_streak_down_the_scanners_column_seen_only_inside_boxes_is_never_a_vote(
        angle_deg: float, at: float) -> None:
    """A scanner streak runs down the scanner's column; on a sheet fed skewed it crosses the
    page at the skew, through boxes of different columns, and a small-window threshold may
    keep it only inside the boxes. The same straight stroke on one line of the scan in three
    boxes or more is a line across the page, not votes: doubtful, and a tick it crosses is
    still a vote (before: most such boxes were counted)."""
    votes = _votes(23)
    img = H.blank_sheet("evaluation", "000223")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 8)
    grey = H.scan(img, angle_deg=angle_deg, blur_px=0.5, noise=2)
    m = H.scan_matrix(img.shape, angle_deg=angle_deg)
    first = next(f for f in FIELDS if f["id"].startswith("leader."))
    x, y, w, h = H.box_rect(DOC, first["id"], first["options"][1])
    column = round((m @ np.array([(x + at * w) * K, (y + h / 2) * K, 1.0]))[0])
    streak = np.zeros(grey.shape, np.uint8)
    cv2.line(streak, (column, 0), (column, grey.shape[0] - 1), 1, 3)
    inside = np.zeros(grey.shape, np.uint8)
    crossed = []
    for f in FIELDS:
        for option in f["options"]:
            bx, by, bw, bh = H.box_rect(DOC, f["id"], option)
            corners = np.array([[bx + 0.3, by + 0.3], [bx + bw - 0.3, by + 0.3],
                                [bx + bw - 0.3, by + bh - 0.3], [bx + 0.3, by + bh - 0.3]]) * K
            one = np.zeros(grey.shape, np.uint8)
            cv2.fillPoly(one, [(corners @ m[:, :2].T + m[:, 2]).round().astype(np.int32)], 1)
            if (one & streak).sum() > 20:
                crossed.append((f["id"], option))
                inside |= one
    grey[(streak & inside) > 0] = 40
    reading = _read(grey)
    assert reading.read, reading.reason
    assert len(crossed) >= 5
    for f, option in crossed:
        if option in votes.get(f, []):
            assert _decision(reading, f, option) == "marked", (f, option)
        else:
            assert _decision(reading, f, option) != "marked", (f, option)


def _ring_round(img: np.ndarray, rect_mm: list[float], ink: int, pen_mm: float,
                rng: np.random.Generator) -> None:
    """A voter's ○ drawn round a box (not inside it): an ellipse past its border all round,
    a little off centre and tilted, as a hand draws it."""
    x, y, w, h = rect_mm
    cx, cy = x + w / 2 + rng.normal(0, 0.3), y + h / 2 + rng.normal(0, 0.3)
    axes = (w / 2 + rng.uniform(1.0, 2.0), h / 2 + rng.uniform(1.0, 2.0))
    cv2.ellipse(img, (round(cx * K * 16), round(cy * K * 16)),
                (round(axes[0] * K * 16), round(axes[1] * K * 16)), rng.uniform(-10, 10), 0,
                360, int(ink), max(1, round(pen_mm * K)), cv2.LINE_AA, 4)


@pytest.mark.parametrize(("ink", "pen_mm", "counted_share"), [
    (H.BLACK_PEN, 0.5, 0.9), (70, 0.35, 0.9),
    (140, 0.45, 0.5),  # a light pen's ring, drawn wide of the border, is seen on fewer sides
])
def test_a_circle_drawn_round_a_box_is_a_vote_on_a_grey_scan_and_never_empty(
        ink: int, pen_mm: float, counted_share: float) -> None:
    """A ○ drawn round the box, nothing inside, is the voter's mark: counted on a grey scan
    (which keeps solid ink solid, so the ring cannot be what is left of a hollowed fill), the
    boxes beside it never; on a bitonal scan the same ring goes to a person, never empty."""
    rng = np.random.default_rng(ink)
    votes = _votes(7)
    img = H.blank_sheet("evaluation", "000207")
    for field, options in votes.items():
        for option in options:
            _ring_round(img, H.box_rect(DOC, field, option), ink, pen_mm, rng)
    grey = _read(H.scan(img, angle_deg=0.8, blur_px=0.7, noise=2, jpeg_quality=80))
    assert grey.read, grey.reason
    flat = H.scan(img, angle_deg=0.8, blur_px=0.7)
    bitonal = _read(np.where(flat < 160, 0, 255).astype(np.uint8))
    assert bitonal.read, bitonal.reason
    counted = 0
    for f in FIELDS:
        for option in f["options"]:
            chosen = option in votes.get(f["id"], [])
            on_grey = _decision(grey, f["id"], option)
            if not chosen:  # a neighbour's ring may reach its band: doubtful at worst
                assert on_grey != "marked", (f["id"], option)
                assert _decision(bitonal, f["id"], option) != "marked", (f["id"], option)
                continue
            assert on_grey != "empty" and _decision(bitonal, f["id"], option) != "empty"
            counted += on_grey == "marked"
    assert counted >= counted_share * sum(len(v) for v in votes.values()), counted


def test_a_light_pencil_ring_round_a_box_is_never_read_empty() -> None:
    """An HB pencil's ○ round each voted box, blurred by the scan to a darkness under the
    faintest visible in a box (0.12) but far over the quiet paper's grain: one long stroke a
    person sees at a glance. Every such box goes to a person (or counts); none is read empty
    (they were all empty: the band along the border was read at the in-box level), and no
    box beside them is a vote."""
    rng = np.random.default_rng(200)
    votes = _votes(17)
    img = H.blank_sheet("evaluation", "000217")
    for field, options in votes.items():
        for option in options:
            _ring_round(img, H.box_rect(DOC, field, option), 200, 0.35, rng)
    reading = _read(H.scan(img, angle_deg=0.6, blur_px=1.0, noise=1.5, jpeg_quality=80))
    assert reading.read, reading.reason
    _none_lost_none_invented(reading, votes)


def _ovals_tracing(img: np.ndarray, votes: dict[str, list[str]], ink: int, pen_mm: float,
                   rng: np.random.Generator) -> None:
    """An oval round each voted box that runs on its printed border for stretches and only a
    little inside or outside it elsewhere, as a hand draws one tightly round the box."""
    for field, options in votes.items():
        for option in options:
            x, y, w, h = H.box_rect(DOC, field, option)
            cx, cy = x + w / 2 + rng.normal(0, 0.15), y + h / 2 + rng.normal(0, 0.15)
            axes = (w / 2 + rng.uniform(0.2, 0.9), h / 2 + rng.uniform(0.0, 0.5))
            cv2.ellipse(img, (round(cx * K * 16), round(cy * K * 16)),
                        (round(axes[0] * K * 16), round(axes[1] * K * 16)),
                        rng.uniform(-4, 4), 0, 360, ink, max(1, round(pen_mm * K)),
                        cv2.LINE_AA, 4)


@pytest.mark.parametrize("ink", [130, 150])
def test_a_light_oval_tracing_a_boxs_border_is_never_read_empty(ink: int) -> None:
    """A pencil oval drawn round a box that runs on its printed border for long stretches
    (where the print hides it) and only a little inside or outside it elsewhere: too little
    of it is off the border for a ring, but the band along the border holds far more ink than
    the page's other boxes do there - a person looks. The boxes beside it are never votes."""
    votes = _votes(13)
    img = H.blank_sheet("evaluation", "000213")
    _ovals_tracing(img, votes, ink, 0.35, np.random.default_rng(ink))
    reading = _read(H.scan(img, angle_deg=0.5, blur_px=1.6, noise=2, jpeg_quality=70))
    assert reading.read, reading.reason
    _none_lost_none_invented(reading, votes)


@pytest.mark.parametrize(("ink", "pen_mm", "seed"), [(110, 0.4, 5), (100, 0.4, 8),
                                                   (120, 0.45, 7)])
def test_an_oval_drawn_round_a_box_partly_on_its_border_is_counted_on_a_grey_scan(
        ink: int, pen_mm: float, seed: int) -> None:
    """A ballpoint oval drawn round a box runs on the printed border for stretches, where the
    print hides it: off the border it lies round fewer of the directions from the box's
    centre than a wide ring does. On three sides or more, round half the directions and, in
    half of them, with ink opposite too, it is drawn round the box - the voter's ○ - on a scan
    that keeps solid ink solid; the boxes beside it are never votes (before: 6-12 of 20
    counted, the rest sent to a person)."""
    votes = _votes(17)
    img = H.blank_sheet("evaluation", "000217")
    _ovals_tracing(img, votes, ink, pen_mm, np.random.default_rng(seed))
    reading = _read(H.scan(img, angle_deg=0.5, blur_px=0.8, noise=2, jpeg_quality=80))
    assert reading.read, reading.reason
    _none_lost_none_invented(reading, votes)
    counted = sum(_decision(reading, f, o) == "marked" for f, v in votes.items() for o in v)
    assert counted >= 0.65 * sum(len(v) for v in votes.values()), counted


def test_two_specks_of_dust_in_a_slanting_row_are_no_slash() -> None:
    """Two specks of dust a few millimetres apart on a box's diagonal span it as a slash
    does, thin and slanting, but in two pieces: never a vote (a person looks, or it is
    empty); one stroke drawn the same way stays a mark."""
    votes = _votes(17)
    img = H.blank_sheet("evaluation", "000217")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 17)
    specked = []
    for f in FIELDS:
        free = [o for o in f["options"] if o not in votes.get(f["id"], [])]
        x, y, w, h = H.box_rect(DOC, f["id"], free[0])
        slant = float(np.degrees(np.arctan2(-0.6 * h, 0.6 * w)))
        for u, v in ((0.2, 0.8), (0.8, 0.2)):  # two short flecks, far apart on the diagonal
            cv2.ellipse(img, (round((x + u * w) * K * 16), round((y + v * h) * K * 16)),
                        (round(0.55 * K * 16), round(0.16 * K * 16)), slant, 0, 360, 0, -1,
                        cv2.LINE_AA, 4)
        specked.append((f["id"], free[0]))
    flat = H.scan(img, angle_deg=0.3, blur_px=0.8)
    reading = _read(np.where(flat < 140, 0, 255).astype(np.uint8))
    assert reading.read, reading.reason
    for field, option in specked:
        assert _decision(reading, field, option) != "marked", (field, option)
    for field, options in votes.items():
        assert set(options) <= set(reading.marks[field].marked), field


@pytest.mark.parametrize(("dpi", "blur_px"), [(200, 1.5), (300, 2.5), (400, 3.6)])
def test_a_blurred_scan_dithered_afterwards_keeps_its_code(dpi: int, blur_px: float) -> None:
    """A soft scan (out of focus) that the scanner then dithers to 1 bit keeps the code's
    modules only as a density of dots: the code is still found, and the sheet read."""
    from PIL import Image

    img = H.blank_sheet("evaluation", "000207", dpi=dpi)
    grey = cv2.GaussianBlur(img, (0, 0), blur_px)
    dots = np.asarray(Image.fromarray(grey).convert("1", dither=Image.Dither.FLOYDSTEINBERG))
    scanned = np.where(dots, 255, 0).astype(np.uint8)
    hit = find_code(scanned)
    assert hit is not None and hit.text.startswith("ST1|")
    reading = read_page(scanned, LAYOUTS, source="t.tif#1", dpi=dpi)
    assert reading.read, reading.reason


@pytest.mark.parametrize("dpi", [150, 200])
def test_a_pencil_sheet_dithered_coarsely_loses_no_vote_and_sends_few_empty_boxes(
        dpi: int) -> None:
    """An error-diffusion bitonal scan at 150-200 dpi of tinted paper marked in HB pencil: the
    paper is a density of lone dots and the pencil a slightly denser one. Averaged back into
    grey over a fixed area of paper, every tick is counted or doubtful, no empty box is a
    vote, and the empty boxes (dots of the paper's own grey) are read empty, not sent to a
    person (point-sampled, the dots' noise drowned the pencil and made most of them
    doubtful)."""
    from PIL import Image

    votes = _votes(11)
    img = H.blank_sheet("evaluation", "000211", dpi=dpi)
    img = np.minimum(img, 222).astype(np.uint8)  # tinted, recycled paper
    for i, (field, options) in enumerate(sorted(votes.items())):
        for option in options:
            H.draw_mark(img, H.box_rect(DOC, field, option), "tick", dpi=dpi, ink=140,
                        pen_mm=0.35, seed=1100 + i)
    grey = H.scan(img, angle_deg=0.6, blur_px=0.6 * dpi / 200, noise=2, dpi=dpi)
    dots = np.asarray(Image.fromarray(grey).convert("1", dither=Image.Dither.FLOYDSTEINBERG))
    reading = read_page(np.where(dots, 255, 0).astype(np.uint8), LAYOUTS, source="t.tif#1",
                        dpi=dpi)
    assert reading.read, reading.reason
    empty, total = _none_lost_none_invented(reading, votes)
    assert empty >= 0.95 * total, (empty, total)


def _hollowing_threshold(grey: np.ndarray, window_px: int) -> np.ndarray:
    """A scanner's small-window dynamic threshold: solids wider than the window go hollow."""
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY,
                                 window_px | 1, 12)


@pytest.mark.parametrize("window_px", [15, 25])
def test_a_bitonal_scan_that_hollows_the_corner_marks_is_read(window_px: int) -> None:
    votes = _votes(4)
    img = H.blank_sheet("evaluation", "000204")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 5)
    x, y, w, _ = DOC["pages"][0]["fiducials_mm"][0]
    flat = _hollowing_threshold(img, window_px)
    assert flat[round((y + w / 2) * K), round((x + w / 2) * K)] == 255  # hollow: paper inside
    bitonal = _hollowing_threshold(H.scan(img, angle_deg=1.5, blur_px=0.6), window_px)
    reading = _read(bitonal)
    assert reading.status == "ok", reading.reason
    for f in FIELDS:
        assert reading.marks[f["id"]].marked == votes.get(f["id"], []), f["id"]


@pytest.mark.parametrize(("angle_deg", "cut_mm"), [(0.0, (24, 0)), (8.0, (22, 8)),
                                                   (-10.0, (0, 22))])
def test_a_sheet_with_corner_marks_cut_off_the_scan_is_read(angle_deg: float,
                                                           cut_mm: tuple[int, int]) -> None:
    votes = _votes(5)
    img = H.blank_sheet("evaluation", "000205")
    _draw(img, votes, "cross", H.BLACK_PEN, 0.5, 6)
    scanned = H.scan(img, angle_deg=angle_deg, bed_margin_mm=12.0, noise=2)
    left, bottom = (round(c * K) for c in cut_mm)
    cut = np.ascontiguousarray(scanned[:scanned.shape[0] - bottom or None, left:])
    hit = find_code(cut)
    assert hit is not None
    page_one = LAYOUTS[DOC["form"]["id"]].pages[1].doc
    assert register(cut, page_one, hit, RegistrationLimits()).missing  # marks lost
    reading = _read(cut)
    assert reading.status == "ok", reading.reason
    for f in FIELDS:
        assert reading.marks[f["id"]].marked == votes.get(f["id"], []), f["id"]


def test_each_box_has_a_certainty_and_the_page_its_thresholds() -> None:
    votes = _votes(6)
    img = H.blank_sheet("evaluation", "000206")
    _draw(img, votes, "tick", H.BLACK_PEN, 0.5, 7)
    rect = H.box_rect(DOC, FIELDS[0]["id"], FIELDS[0]["options"][-1])
    H.draw_mark(img, rect, "dot", ink=200)  # a faint dot: doubtful, not sure of anything
    reading = _read(H.scan(img, blur_px=0.5))
    doc = reading.to_dict()
    assert set(doc["certainty"]) == set(doc["scores"])
    for f, opts in doc["certainty"].items():
        assert set(opts) == set(doc["scores"][f]) and all(0 <= v <= 1 for v in opts.values())
    assert doc["thresholds"]["marginal_fill"] == 0.03 and "ink_visible" in doc["thresholds"]
    sure = [doc["certainty"][f][o[0]] for f, o in votes.items()]
    assert min(sure) > 0.5  # clear ticks are far from every threshold
    doubtful = [(f, o) for f, m in reading.marks.items() for o in m.doubtful]
    if doubtful:
        assert reading.least_certain < min(sure)
    # a recount says which threshold changed where the result changed
    later = dict(doc, status="review", thresholds={**doc["thresholds"], "marginal_fill": 0.05})
    whats = [w for w, _, _ in compare_readings(doc, later)]
    assert "status" in whats and "threshold marginal_fill" in whats
    assert compare_readings(doc, dict(doc, thresholds={})) == []
