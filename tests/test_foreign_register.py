"""Reading foreign forms: registration on the reference, form choice, fingerprints."""

from __future__ import annotations

import numpy as np
import pytest

from omr.engine import read_page
from omr.fingerprint import distance, same_sheet
from omr.layout import FormLayout
from omr.reference import ReferenceLimits, apply, match_reference, page_features, refine
from tests import foreign_helpers as F
from tests import omr_helpers as H

MM_PER_INCH = 25.4
TOLERANCE_MM = 0.3


def _layouts(*names: str) -> dict[str, FormLayout]:
    out = {}
    for name in names:
        layout = F.foreign_form(name)
        out[layout.id] = layout
    return out


def _marked(name: str, votes: list[tuple[str, str]], seed: int = 0, kind: str = "tick",
            size: float = 1.0) -> np.ndarray:
    page = F.foreign_blank(name)
    doc = F.foreign_layout_of(name)
    for i, (field, option) in enumerate(votes):
        H.draw_mark(page, H.box_rect(doc, field, option), kind, dpi=F.DPI, seed=seed * 100 + i,
                    size=size)
    return page


VOTES = [("category", "middle"), ("team.politics", "good"), ("leader.P310012", "competent"),
         ("leader.P310031", "excellent")]


@pytest.mark.parametrize(("angle", "scale", "shift"), [
    (0.0, 1.0, (0.0, 0.0)), (1.5, 1.0, (4.0, -3.0)), (-2.5, 0.97, (-6.0, 5.0)),
    (0.7, 1.03, (2.0, 8.0))])
def test_registration_recovers_a_known_transform(angle: float, scale: float,
                                                 shift: tuple[float, float]) -> None:
    page = _marked("evaluation", VOTES)
    scan = H.scan(page, angle_deg=angle, scale=scale, shift_mm=shift, blur_px=0.7, noise=3,
                  jpeg_quality=85, dpi=F.DPI)
    layouts = _layouts("evaluation")
    reading = read_page(scan, layouts, source="t.jpg#1")
    assert reading.status == "ok", reading.reason
    for field, option in VOTES:
        assert reading.marks[field].marked == [option]
    assert sum(len(m.marked) for m in reading.marks.values()) == len(VOTES)
    # where the truth puts every box corner (page mm -> page px -> scan px)
    m = H.scan_matrix(page.shape, angle_deg=angle, scale=scale, shift_mm=shift, dpi=F.DPI)
    k = F.DPI / MM_PER_INCH
    boxes = np.array([b["rect_mm"] for b in F.foreign_layout_of("evaluation")["pages"][0]["boxes"]])
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])
    truth = (corners * k) @ m[:, :2].T + m[:, 2]
    got = apply(reading.page_to_image, corners)
    error_mm = np.linalg.norm(got - truth, axis=1).max() / (k * scale)
    assert error_mm <= TOLERANCE_MM


def test_a_page_of_another_form_is_unknown_form() -> None:
    scan = H.scan(_marked("evaluation", VOTES), angle_deg=0.8, dpi=F.DPI)
    reading = read_page(scan, _layouts("satisfaction", "recommendation"), source="t.jpg#1")
    assert reading.status == "unknown_form", reading.reason
    assert "matches none" in reading.reason or "does not hold" in reading.reason


def test_a_mixed_stack_sorts_itself() -> None:
    layouts = _layouts("satisfaction", "evaluation")
    scan = H.scan(_marked("evaluation", VOTES), angle_deg=-1.0, dpi=F.DPI)
    reading = read_page(scan, layouts, source="t.jpg#1")
    assert reading.form == F.foreign_layout_of("evaluation")["form"]["id"]
    blank = H.scan(F.foreign_blank("satisfaction"), angle_deg=0.5, dpi=F.DPI)
    reading = read_page(blank, layouts, source="u.jpg#1")
    assert reading.form == F.foreign_layout_of("satisfaction")["form"]["id"]
    assert reading.status == "blank"


def test_a_rescanned_sheet_keeps_its_fingerprint_and_another_sheet_does_not() -> None:
    layouts = _layouts("evaluation")
    sheet = _marked("evaluation", VOTES, seed=1)
    # the same choices by another voter: a tick of another size, or a cross
    other_voters = [_marked("evaluation", VOTES, seed=2, size=0.75),
                    _marked("evaluation", VOTES, seed=3, kind="cross")]
    first = read_page(H.scan(sheet, angle_deg=0.4, shift_mm=(1, 2), noise=3, jpeg_quality=85,
                             dpi=F.DPI, seed=1), layouts, source="a.jpg#1")
    again = read_page(H.scan(sheet, angle_deg=-1.1, scale=1.01, shift_mm=(-3, 1), noise=3,
                             blur_px=0.6, jpeg_quality=80, dpi=F.DPI, seed=2), layouts,
                      source="b.jpg#1")
    assert first.fingerprint and again.fingerprint
    assert first.marks == again.marks
    assert same_sheet(first.fingerprint, again.fingerprint), distance(first.fingerprint,
                                                                      again.fingerprint)
    for image in other_voters:
        other = read_page(H.scan(image, angle_deg=0.4, shift_mm=(1, 2), noise=3,
                                 jpeg_quality=85, dpi=F.DPI, seed=1), layouts, source="c.jpg#1")
        assert other.marks == first.marks and other.fingerprint
        assert not same_sheet(first.fingerprint, other.fingerprint), distance(
            first.fingerprint, other.fingerprint)
    assert first.serial != again.serial  # the serial is the source and page
    assert "fingerprint" in first.to_dict()


def test_a_torn_off_half_is_refused_with_the_reason() -> None:
    page = _marked("evaluation", VOTES)
    page[page.shape[0] // 3:, :] = 255  # two thirds of the sheet missing
    reading = read_page(H.scan(page, dpi=F.DPI), _layouts("evaluation"), source="t.jpg#1")
    assert reading.status in ("unreadable", "unknown_form")
    assert reading.reason


def test_matching_as_arrays_keeps_the_pairs_of_opencv_knn_match() -> None:
    """`match_reference` pairs features with `cv2.batchDistance`; the pairs passing the ratio
    test are the ones `BFMatcher.knnMatch(k=2)` gives (the slower way it was done)."""
    import cv2

    model = next(iter(F.foreign_form("evaluation").pages.values())).reference
    page = H.scan(_marked("evaluation", VOTES), angle_deg=1.5, scale=1.02, shift_mm=(2, -1),
                  blur_px=0.7, noise=3, dpi=F.DPI)
    limits = ReferenceLimits()
    _, descriptors = page_features(page, model.page_size_mm, F.DPI, limits)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(model.descriptors, descriptors, k=2)
    want = {(m.queryIdx, m.trainIdx) for m, n in pairs if m.distance < limits.match_ratio
            * n.distance}
    dist, nearest = cv2.batchDistance(model.descriptors, descriptors, cv2.CV_32S,
                                      normType=cv2.NORM_HAMMING, K=2)
    good = np.nonzero((nearest[:, 1] >= 0) & (dist[:, 0] < limits.match_ratio * dist[:, 1]))[0]
    assert len(want) > 200
    assert {(int(i), int(nearest[i, 0])) for i in good} == want


def test_the_fine_fit_on_patches_cut_once_is_the_fit_on_patches_cut_per_page() -> None:
    """The reference's anchor patches are cut when it is prepared; a model without them (cut
    on every page, as before) registers the page the same."""
    from dataclasses import replace

    model = next(iter(F.foreign_form("evaluation").pages.values())).reference
    assert len(model.anchor_patches) == len(model.anchors_px)
    assert sum(p is not None for p in model.anchor_patches) >= 8
    page = H.scan(_marked("evaluation", VOTES), angle_deg=-0.8, scale=0.99, shift_mm=(-2, 3),
                  blur_px=0.7, noise=3, dpi=F.DPI)
    points, descriptors = page_features(page, model.page_size_mm, F.DPI)
    match = match_reference(model, points, descriptors)
    assert match is not None
    cached = refine(model, page, match)
    per_page = refine(replace(model, anchor_patches=()), page, match)
    assert cached.anchors == per_page.anchors >= 8
    assert np.allclose(cached.page_to_image, per_page.page_to_image, rtol=0, atol=1e-9)
    assert cached.residual_mm < 0.3


def test_the_fingerprint_text_is_one_hex_digit_per_cell() -> None:
    from omr.fingerprint import CELLS, PREFIX, _levels, fingerprint

    mask = np.zeros((40, 40), bool)
    mask[5:30, 8:12] = True
    mask[20:24, 5:35] = True
    text = fingerprint({7: mask, 3: np.zeros((40, 40), bool)})
    want = "".join(f"{v:x}" for v in _levels(mask).ravel())
    assert text == f"{PREFIX}7:{want}" and len(want) == CELLS * CELLS and set(want) != {"0"}


def test_percentile_from_the_histogram_is_numpys() -> None:
    from omr.reference import percentile_u8

    rng = np.random.default_rng(11)
    for trial in range(300):
        n = int(rng.integers(1, 5000))
        spread = int(rng.integers(1, 256))  # few levels: many ties, as on paper
        values = rng.integers(0, spread, n).astype(np.uint8)
        for q in (0, 10, 25, 50, 90, 95, 100, 33.3):
            assert percentile_u8(values, q) == float(np.percentile(values, q)), (trial, q)
    page = H.scan(_marked("evaluation", VOTES), dpi=F.DPI)
    assert percentile_u8(page[::8, ::8], 90) == float(np.percentile(page[::8, ::8], 90))
    assert percentile_u8(np.array([1.5, 2.5]), 50) == 2.0  # not uint8: numpy's own


def test_sub_pixel_peaks_are_the_parabola_through_three_cells() -> None:
    from omr.reference import _peak_offsets

    scores = np.zeros((3, 5, 5), np.float32)
    scores[0, 2, 1:4] = (0.5, 0.9, 0.7)  # a peak at x=2 leaning right
    scores[0, 1:4, 2] = (0.6, 0.9, 0.6)  # symmetric in y
    scores[1, 0, 4] = 1.0  # at the corner of the search: kept whole
    scores[2, 2, 2] = 0.5  # flat around it: 0.5 - 2 * 0.5 bends down, exactly 0 offset
    at = np.array([[2, 2], [4, 0], [2, 2]])
    got = _peak_offsets(scores, at)
    a, b, c = 0.5, 0.9, 0.7
    assert np.isclose(got[0, 0], 2 + 0.5 * (a - c) / (a - 2 * b + c)) and got[0, 0] > 2
    assert got[0, 1] == 2.0
    assert got[1].tolist() == [4.0, 0.0] and got[2].tolist() == [2.0, 2.0]
