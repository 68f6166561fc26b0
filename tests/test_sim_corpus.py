"""omr.sim.corpus: same seed, same bytes (with any number of workers); the truth file round-trips
and follows its rules; unreadable cases carry their reason; multi-page forms and TIFF output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from omr.sim import load_truth
from omr.sim.corpus import generate
from omr.sim.degrade import REASONS, Profile
from omr.sim.truth import EXPECTS, TRUTH_SCHEMA

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DPI = 120


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_same_seed_same_files_whatever_the_workers(tmp_path: Path) -> None:
    spec = EXAMPLES / "recommendation.yaml"
    generate(spec, tmp_path / "a", 6, seed=11, dpi=DPI, profile="hard")
    generate(spec, tmp_path / "b", 6, seed=11, dpi=DPI, profile="hard", workers=2)
    generate(spec, tmp_path / "c", 6, seed=12, dpi=DPI, profile="hard")
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert len(a) == 7 and "truth.json" in a
    assert a == b
    assert sum(a[k] != c[k] for k in a) >= 6


def test_truth_file_round_trips_and_follows_its_rules(tmp_path: Path) -> None:
    truth = generate(EXAMPLES / "satisfaction.yaml", tmp_path, 12, seed=4, dpi=DPI,
                     serial_start=500)
    doc = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert doc["schema"] == TRUTH_SCHEMA and doc["form"]["id"] == "jt2026-sat"
    assert set(doc["form"]) == {"id", "hash", "spec"} and doc["dpi"] == DPI
    loaded = load_truth(tmp_path)
    assert loaded.to_dict() == truth.to_dict() == doc
    assert [s.serial for s in loaded.sheets] == [f"{n:06d}" for n in range(500, 512)]
    for sheet, page in loaded.pages():
        assert page.expect in EXPECTS
        assert loaded.image_path(page).is_file()
        assert loaded.by_source()[page.path_and_index] == (sheet, page)
        if page.expect in ("ok", "review", "blank"):
            assert page.expect == ("review" if any(page.cancelled.values()) else
                                   "ok" if any(page.marks.values()) else "blank")
        for fld, opts in page.marks.items():
            assert not set(opts) & set(page.cancelled.get(fld, []))
        if sheet.category is not None:
            assert page.marks["category"] == [sheet.category]


@pytest.mark.parametrize("cause", ["qr_damaged", "not_a_ballot", "other_form"])
def test_each_unreadable_case_is_recorded_with_its_reason(tmp_path: Path, cause: str) -> None:
    field = {"qr_damaged": "qr_blot", "not_a_ballot": "noise_page"}.get(cause, cause)
    profile = Profile(f"force-{cause}", **{field: 1.0})
    truth = generate(EXAMPLES / "evaluation.yaml", tmp_path, 2, seed=1, dpi=DPI,
                     profile=profile)
    for _, page in truth.pages():
        image = np.asarray(Image.open(truth.image_path(page)).convert("L"))
        codes = [b.text for b in zxingcpp.read_barcodes(image) if b.text.startswith("ST1|")]
        if cause == "other_form":
            assert page.expect == "unknown_form" and page.form not in (None, "jt2026-eval")
            assert codes and codes[0].split("|")[1] == page.form
            assert page.marks == {}
        else:
            assert page.expect == "unreadable" and page.reason == cause and cause in REASONS
        if cause in ("qr_damaged", "not_a_ballot"):
            assert codes == []


def test_two_corner_marks_lost_is_a_readable_page(tmp_path: Path) -> None:
    truth = generate(EXAMPLES / "evaluation.yaml", tmp_path, 2, seed=1, dpi=DPI,
                     profile=Profile("force-two-corners", fiducials_missing=1.0))
    for _, page in truth.pages():
        damaged = [d for d in page.degradations
                   if d["name"] in ("cover_fiducial", "torn_corner")]
        assert len({d["corner"] for d in damaged}) == 2
        assert page.expect in ("ok", "review", "blank")


def test_two_page_form_as_jpeg_files_and_as_bitonal_tiff(tmp_path: Path) -> None:
    spec = EXAMPLES / "evaluation-long.yaml"
    jpg = generate(spec, tmp_path / "jpg", 2, seed=2, dpi=DPI, category="staff")
    assert [p.file for _, p in jpg.pages()] == ["sheet-00001-p1.jpg", "sheet-00001-p2.jpg",
                                                "sheet-00002-p1.jpg", "sheet-00002-p2.jpg"]
    assert {s.category for s in jpg.sheets} == {"staff"}  # the batch's category
    bitonal = Profile("bitonal", bitonal=1.0)
    tif = generate(spec, tmp_path / "tif", 2, seed=2, dpi=DPI, fmt="tiff", profile=bitonal)
    assert [p.file for _, p in tif.pages()][:2] == ["sheet-00001.tiff#1", "sheet-00001.tiff#2"]
    assert sorted(p.name for p in (tmp_path / "tif").glob("*.tiff")) == [
        "sheet-00001.tiff", "sheet-00002.tiff"]
    with Image.open(tmp_path / "tif" / "sheet-00002.tiff") as im:
        assert im.n_frames == 2 and im.mode == "1"
        assert im.info["compression"] == "group4" and round(im.info["dpi"][0]) == DPI
        im.seek(1)
        assert im.size[0] > 0
    for _, page in tif.pages():
        assert page.degradation("bitonal") is not None and page.degradation("jpeg") is None
    grey = generate(spec, tmp_path / "grey", 1, seed=2, dpi=DPI, fmt="tiff", profile="clean")
    quality = grey.sheets[0].pages[1].degradation("jpeg")["quality"]
    with Image.open(tmp_path / "grey" / "sheet-00001.tiff") as im:  # as scanners write them
        assert im.n_frames == 2 and im.mode == "L" and im.info["compression"] == "jpeg"
    assert 92 <= quality <= 95


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    spec = EXAMPLES / "evaluation.yaml"
    with pytest.raises(ValueError, match="category 'nobody'"):
        generate(spec, tmp_path, 1, seed=0, category="nobody")
    with pytest.raises(ValueError, match="unknown format"):
        generate(spec, tmp_path, 1, seed=0, fmt="gif")
    with pytest.raises(ValueError, match="unknown profile"):
        generate(spec, tmp_path, 1, seed=0, profile="brutal")
