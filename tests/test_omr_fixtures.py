"""Hand-made scans in tests/fixtures/omr/ read exactly as their expected readings say.

photocopy97 (97 % photocopy, rotated, shifted), fold (a crease across a row of boxes), streak (a
scanner line through a column of boxes), pencil (a light pencil voter, grey JPEG at 150 dpi),
upside_down (fed the wrong way round). Regenerate with `python -m tests.omr_helpers`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omr import lines
from omr.engine import read_page
from scanner.images import iter_pages
from tests import omr_helpers as H

FIXTURES = sorted(H.FIXTURES.glob("*.json"))
LAYOUTS = {H.layout("evaluation")["form"]["id"]: H.layout("evaluation")}


def _image(expected_path: Path) -> tuple[np.ndarray, float | None, str]:
    name = H.fixture_file(expected_path.stem)
    page = next(iter(iter_pages(H.FIXTURES / name, name=name)))
    assert page.image is not None, page.error
    return page.image, page.dpi, page.source


def test_all_five_fixtures_are_there_and_small() -> None:
    assert {p.stem for p in FIXTURES} == {"photocopy97", "fold", "streak", "pencil",
                                         "upside_down"}
    total = sum(p.stat().st_size for p in H.FIXTURES.iterdir())
    assert total < 400_000


@pytest.mark.parametrize("expected_path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_reads_as_expected(expected_path: Path) -> None:
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    image, dpi, source = _image(expected_path)
    reading = read_page(image, LAYOUTS, source=source, dpi=dpi).to_dict()
    for key in ("source", "form", "page", "serial", "status"):
        assert reading[key] == expected[key], key
    assert reading["marks"] == expected["marks"]
    assert any(m["marked"] for m in reading["marks"].values())
    for field, opts in reading["scores"].items():
        assert all(0.0 <= v <= 1.0 for v in opts.values()), field


@pytest.mark.parametrize("name", ["fold", "streak"])
def test_fold_and_streak_are_found_and_erased_not_read(name: str, monkeypatch) -> None:
    """The line crosses empty boxes: without line removal they would not read empty."""
    found: list[int] = []
    real = lines.clear_lines

    def counting(*args, **kwargs) -> int:
        found.append(real(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr("omr.engine.clear_lines", counting)
    image, dpi, source = _image(H.FIXTURES / f"{name}.json")
    assert read_page(image, LAYOUTS, source=source, dpi=dpi).status == "ok"
    assert sum(found) >= 3  # the line crosses at least three empty boxes of its row / column

    monkeypatch.setattr("omr.engine.clear_lines", lambda *a, **k: 0)
    unfiltered = read_page(image, LAYOUTS, source=source, dpi=dpi)
    expected = json.loads((H.FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert unfiltered.to_dict()["marks"] != expected["marks"] or unfiltered.status != "ok"
