"""A form in a different hand (a county office's 测评表, □ characters for boxes): learned from its
blank with `scantally form learn`, named in YAML, and a deck of marked, badly scanned sheets read
back with every mark where it was drawn."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from forms.load import load_spec
from omr.engine import read_page
from omr.layout import FormLayout
from server.cli import app
from server.cli.learn import foreign_doc, with_reference
from tests import omr_helpers as H
from tests.foreign_county import DPI, county_blank, county_spec_yaml


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, FormLayout], dict]:
    folder = tmp_path_factory.mktemp("county")
    cv2.imwrite(str(folder / "blank.png"), county_blank())
    runner = CliRunner()
    result = runner.invoke(app, ["form", "learn", str(folder / "blank.png"), "--dpi", str(DPI),
                                 "-o", str(folder / "form")])
    assert result.exit_code == 0, result.output
    assert "learned 40 targets" in " ".join(result.output.split())
    spec_path = folder / "form" / "form.yaml"
    spec_path.write_text(county_spec_yaml(), "utf-8")  # what the person writes
    result = runner.invoke(app, ["form", "check", str(spec_path)])
    assert result.exit_code == 0, result.output
    assert (folder / "form" / "overlay.png").is_file()
    spec = load_spec(spec_path)
    doc = foreign_doc(spec_path, spec)
    layout = with_reference(spec_path, spec, FormLayout.parse(doc))
    return {layout.id: layout}, doc


def deck(layout: dict, sheets: int, seed: int) -> list[tuple[np.ndarray, dict[str, list[str]]]]:
    """Marked and scanned sheets of the county form with the votes drawn on each."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(sheets):
        page = county_blank()
        votes: dict[str, list[str]] = {}
        # one voter, one way of marking (a fill among ticks is a correction: doubtful)
        kind = ["tick", "cross", "tick", "fill"][int(rng.integers(4))]
        pen = int(rng.choice([H.BLACK_PEN, H.BLUE_PEN_GREY]))
        for i, f in enumerate(layout["fields"]):
            if rng.random() < 0.1:
                continue  # 弃权
            option = f["options"][int(rng.integers(len(f["options"])))]
            votes[f["id"]] = [option]
            rect = H.box_rect(layout, f["id"], option)
            H.draw_mark(page, rect, kind, dpi=DPI, ink=pen, size=float(rng.uniform(0.8, 1.1)),
                        seed=s * 100 + i)
        scan = H.scan(page, angle_deg=float(rng.uniform(-2.5, 2.5)),
                      scale=float(rng.uniform(0.98, 1.02)),
                      shift_mm=(float(rng.uniform(-5, 5)), float(rng.uniform(-5, 5))),
                      blur_px=float(rng.uniform(0, 1.0)), noise=float(rng.uniform(0, 5)),
                      jpeg_quality=int(rng.integers(60, 95)), dpi=DPI, seed=s)
        out.append((scan, votes))
    return out


def test_a_county_deck_reads_every_mark(county: tuple[dict[str, FormLayout], dict]) -> None:
    layouts, doc = county
    lost = phantom = review = refused = 0
    for k, (scan, votes) in enumerate(deck(doc, 6, seed=5)):
        reading = read_page(scan, layouts, source=f"c{k}.jpg#1")
        if reading.status in ("unreadable", "unknown_form"):
            refused += 1
            continue
        for f in doc["fields"]:
            m = reading.marks[f["id"]]
            want = set(votes.get(f["id"], []))
            lost += len(want - set(m.marked) - set(m.doubtful))
            phantom += len(set(m.marked) - want)
            review += len(set(m.doubtful))
    assert (lost, phantom, refused) == (0, 0, 0)
    assert review <= 1
