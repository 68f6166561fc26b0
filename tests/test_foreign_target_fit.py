"""`omr.target_fit`: boxes moved onto their printed outlines on a page bent off the plane."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from omr.target_fit import local_offsets

K = 8.0  # px per mm of the synthetic page (the identity registration at this scale)
PAGE_MM = (120.0, 160.0)


def _page(bend: Callable[[float, float], tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """A grid of printed bubbles (3 mm rings with a letter-like bar inside) whose printed
    place is `bend(x, y)` mm off the template's; some bubbles filled. (page, template rects)"""
    page = np.full((round(PAGE_MM[1] * K), round(PAGE_MM[0] * K)), 250, np.uint8)
    rects = []
    rng = np.random.default_rng(3)
    for row in range(24):
        for col in range(12):
            x, y = 8.0 + col * 8.5, 8.0 + row * 6.0
            rects.append((x, y, 3.0, 3.0))
            dx, dy = bend(x, y)
            c = (round((x + 1.5 + dx) * K), round((y + 1.5 + dy) * K))
            cv2.circle(page, c, round(1.5 * K), 30, 2, cv2.LINE_AA)
            cv2.line(page, (c[0] - 3, c[1]), (c[0] + 3, c[1]), 60, 1)
            if rng.random() < 0.2:  # a voter's fill
                cv2.circle(page, c, round(1.3 * K), 40, -1, cv2.LINE_AA)
    return page, np.array(rects)


def _offsets(page: np.ndarray, rects: np.ndarray) -> np.ndarray:
    return local_offsets(page, np.diag([K, K, 1.0]), rects, np.ones(len(rects), bool), PAGE_MM)


def test_a_page_bent_at_the_bottom_gets_its_boxes_moved_onto_the_bubbles() -> None:
    def bend(x: float, y: float) -> tuple[float, float]:  # the lower rows sag up to 1.2 mm
        return 0.4 + 0.004 * x, 1.2 * (y / PAGE_MM[1]) ** 2

    page, rects = _page(bend)
    got = _offsets(page, rects)
    want = np.array([bend(x, y) for x, y, _, _ in rects])
    assert np.abs(got - want).max() <= 0.25, np.abs(got - want).max()


def test_a_page_where_the_template_fits_is_left_alone() -> None:
    page, rects = _page(lambda x, y: (0.0, 0.0))
    assert np.abs(_offsets(page, rects)).max() <= 0.2


def test_a_page_without_outlines_moves_nothing() -> None:
    page = np.full((round(PAGE_MM[1] * K), round(PAGE_MM[0] * K)), 250, np.uint8)
    rects = np.array([(8.0 + c * 8.5, 8.0 + r * 6.0, 3.0, 3.0) for r in range(10)
                      for c in range(10)])
    assert not _offsets(page, rects).any()
