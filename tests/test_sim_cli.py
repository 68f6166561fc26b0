"""`scantally simulate`: writes the images and truth.json, and exits 2 with a clear message on a
bad spec path, a bad option or a folder that already holds a corpus."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from omr.sim import load_truth
from server.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["simulate", *args])


def test_simulate_writes_images_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = _run("--form", str(EXAMPLES / "recommendation.yaml"), "--sheets", "3",
                  "--seed", "7", "-o", str(out), "--dpi", "100", "--format", "png",
                  "--serial-start", "41")
    assert result.exit_code == 0, result.output
    assert "wrote 3 sheet(s)" in result.output
    truth = load_truth(out / "truth.json")
    assert [s.serial for s in truth.sheets] == ["000041", "000042", "000043"]
    assert sorted(p.name for p in out.glob("sheet-*")) == [
        "sheet-00001.png", "sheet-00002.png", "sheet-00003.png"]
    assert truth.dpi == 100 and truth.form["id"] == "jt2026-rec"

    again = _run("--form", str(EXAMPLES / "recommendation.yaml"), "--sheets", "1",
                 "-o", str(out), "--dpi", "100")
    assert again.exit_code == 2 and "--force" in again.output
    forced = _run("--form", str(EXAMPLES / "recommendation.yaml"), "--sheets", "1",
                  "-o", str(out), "--dpi", "100", "--force", "--no-degrade")
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.glob("sheet-*")) == ["sheet-00001.jpg"]
    assert load_truth(out).sheets[0].pages[0].degradations == [{"name": "jpeg",
                                                               "quality": 95}]


def test_simulate_bad_spec_path_exits_2_with_a_message(tmp_path: Path) -> None:
    # a long path, as a station's folders give: the message names it whole, never wrapped
    missing = tmp_path / ("a-long-folder-name-" * 5) / "missing.yaml"
    result = _run("--form", str(missing), "--sheets", "2", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert str(missing) in result.output and "file not found" in result.output
    assert not (tmp_path / "out").exists()


def test_simulate_bad_options_exit_2(tmp_path: Path) -> None:
    spec = str(EXAMPLES / "evaluation.yaml")
    for args, message in ((["--format", "bmp"], "--format"),
                          (["--profile", "brutal"], "--profile"),
                          (["--category", "nobody"], "category 'nobody'")):
        result = _run("--form", spec, "--sheets", "1", "-o", str(tmp_path / "o"), *args)
        assert result.exit_code == 2, args
        assert message in result.output
