"""`scantally read` and `scantally bench`: output, order, exit codes, annotated pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from server.cli import app
from tests import omr_helpers as H

SPEC = str(H.EXAMPLES / "evaluation.yaml")
runner = CliRunner()


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two marked sheets and a page of another form, in a folder (natural order 2 < 10)."""
    d = tmp_path_factory.mktemp("scans")
    doc = H.layout("evaluation")
    for n, option in ((2, "leader"), (10, "middle")):
        sheet = H.blank_sheet("evaluation", f"0000{n:02d}")
        H.draw_mark(sheet, H.box_rect(doc, "category", option), "tick")
        (d / f"sheet-{n}.jpg").write_bytes(H.encode_jpeg(sheet, 200, quality=80))
    Image.fromarray(H.blank_sheet("satisfaction", "000003")).save(d / "sheet-3.png")
    return d


def test_read_json_lines_in_input_order(scans: Path) -> None:
    files = [str(scans / "sheet-10.jpg"), str(scans / "sheet-2.jpg")]
    result = runner.invoke(app, ["read", "--form", SPEC, *files, "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [r["source"] for r in lines] == [f"{files[0]}#1", f"{files[1]}#1"]
    assert [r["marks"]["category"]["marked"] for r in lines] == [["middle"], ["leader"]]
    assert all(r["status"] == "ok" and r["reason"] == "" for r in lines)


def test_read_a_folder_with_a_foreign_sheet_exits_1_and_says_why(scans: Path) -> None:
    result = runner.invoke(app, ["read", "--form", SPEC, str(scans), "--json",
                                 "--workers", "2"])
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [Path(r["source"]).name for r in lines] == ["sheet-2.jpg#1", "sheet-3.png#1",
                                                       "sheet-10.jpg#1"]
    foreign = lines[1]
    assert foreign["status"] == "unknown_form" and "not loaded" in foreign["reason"]


def test_two_forms_read_a_mixed_stack(scans: Path) -> None:
    result = runner.invoke(app, ["read", "--form", SPEC, "--form",
                                 str(H.EXAMPLES / "satisfaction.yaml"), str(scans), "--json",
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    statuses = [json.loads(x)["status"] for x in result.stdout.splitlines()
                if x.startswith("{")]
    assert statuses == ["ok", "blank", "ok"]


def test_read_annotates_and_prints_for_people(scans: Path, tmp_path: Path) -> None:
    out = tmp_path / "ann"
    result = runner.invoke(app, ["read", "--form", SPEC, str(scans / "sheet-2.jpg"),
                                 "--annotate", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout and "category=leader" in result.stdout
    pngs = list(out.glob("*.png"))
    assert len(pngs) == 1 and Image.open(pngs[0]).mode == "RGB"


@pytest.mark.parametrize("args, message", [
    (["read", "--form", SPEC, "/nonexistent/scan.jpg"], "no such file"),
    (["read", "--form", "/nonexistent/spec.yaml", SPEC], "spec"),
])
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output.lower()


def test_read_without_a_form_is_a_usage_error(scans: Path) -> None:
    result = runner.invoke(app, ["read", str(scans)])
    assert result.exit_code == 2


def test_bench_accuracy_on_a_small_corpus(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "accuracy", "--form", SPEC, "--sheets", "6",
                                 "--seed", "3", "--workers", "1", "--json",
                                 "--keep", str(tmp_path / "corpus")])
    doc = json.loads(result.stdout[result.stdout.index("{"):])
    assert doc["sheets"] == 6 and doc["positions"] > 400
    assert doc["misreads"] == 0
    assert result.exit_code == (0 if all(doc["targets"].values()) else 1)
    assert (tmp_path / "corpus" / "truth.json").is_file()


def test_bench_omr_prints_both_rates_and_memory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "omr", "--sheets", "10", "--rounds", "1",
                                 "--workers", "1", "--keep", str(tmp_path / "sheets")])
    assert result.exit_code == 0, result.output
    for text in ("decode only", "engine (decode + read)", "engine / decode-only rate",
                 "peak RSS"):
        assert text in result.stdout
    assert all(Image.open(p).mode == "L" for p in (tmp_path / "sheets").glob("*.jpg"))
