"""omr.handsim: the independent hand-mark and scanner model, its truth and its scorer.

Small and fast: a few sheets, mostly at 150-200 dpi. The model must be deterministic per seed,
produce every degradation it claims, and write truth that agrees with the pixels.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from PIL import Image
from typer.testing import CliRunner

from omr.handsim import bitonal
from omr.handsim.blank import BlankFactory, composite_matches_full, load_form
from omr.handsim.deck import DeckJob, generate, make_sheet
from omr.handsim.encode import encode
from omr.handsim.folder import load_truth_folder
from omr.handsim.placement import cut_corners, fiducials_off, lost
from omr.handsim.scanner import KINDS, ScanSettings, draw_settings, scan
from omr.handsim.score import score
from omr.handsim.sheet import mark_sheet
from omr.handsim.voters import MarkPlan, SheetPlan
from omr.reading import FieldMarks, Reading
from scanner.images import iter_bytes
from server.cli import app
from server.cli.handbench import read_folder

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "examples" / "evaluation.yaml"
CARD = ROOT / "examples" / "evaluation-cardreader.yaml"
FIELD_REPORT = Path("/work/shared/field-reports/2026-12-omr")
MM_PER_INCH = 25.4


@pytest.fixture(scope="module")
def form():
    return load_form(EVAL)


@pytest.fixture(scope="module")
def factory(form):
    return BlankFactory(form)


def _rect_px(rect_mm, dpi):
    k = dpi / MM_PER_INCH
    x, y, w, h = rect_mm
    return (int(np.ceil(x * k - 0.5)), int(np.ceil(y * k - 0.5)),
            int(np.floor((x + w) * k - 0.5)) + 1, int(np.floor((y + h) * k - 0.5)) + 1)


# -- blank sheets -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [EVAL, CARD])
def test_composited_blank_matches_a_full_render_and_decodes_the_same(spec):
    f = BlankFactory(load_form(spec))
    f.prepare(["000001", "000002"])
    for dpi in (150, 200, 400):
        f.sheet("000001", 1, dpi)  # the static page comes from another serial
        _, diff = composite_matches_full(f, "000002", 1, dpi)
        assert diff <= 2, f"composite differs from the full render by {diff} grey levels"
        texts = {hit.text for img in (f.sheet("000002", 1, dpi), f.full("000002", 1, dpi))
                 for hit in zxingcpp.read_barcodes(img)}
        assert len(texts) == 1 and texts.pop().endswith("|000002")


# -- determinism --------------------------------------------------------------------------------

def test_same_seed_same_files_other_seed_other_files():
    a = make_sheet(DeckJob(str(EVAL), "mixed", 5, 1), 3, "forms/evaluation.yaml")
    b = make_sheet(DeckJob(str(EVAL), "mixed", 5, 1), 3, "forms/evaluation.yaml")
    c = make_sheet(DeckJob(str(EVAL), "mixed", 6, 1), 3, "forms/evaluation.yaml")
    assert a[0]["data"] == b[0]["data"] and a[0]["entry"] == b[0]["entry"]
    assert a[0]["data"] != c[0]["data"]


def test_the_number_of_workers_does_not_change_the_files(tmp_path, monkeypatch):
    import omr.handsim.deck as deck

    monkeypatch.setattr(deck, "CHUNK", 1)  # one sheet per task: both workers draw
    one = generate(EVAL, tmp_path / "one", 3, seed=8, profile="hard", workers=1)
    two = generate(EVAL, tmp_path / "two", 3, seed=8, profile="hard", workers=2)
    assert one == two
    for entry in one:
        assert (tmp_path / "one" / entry["image"]).read_bytes() == \
            (tmp_path / "two" / entry["image"]).read_bytes()


def test_deck_truth_is_in_the_field_report_format(tmp_path):
    truth = generate(EVAL, tmp_path, 2, seed=11, profile="mixed")
    on_disk = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert on_disk == truth and len(truth) == 2
    layout = load_form(EVAL).layout
    for entry in truth:
        assert set(entry) <= {"image", "form", "boxes", "model", "refuse"}
        assert entry["model"] == "handsim" and (tmp_path / entry["image"]).is_file()
        assert (tmp_path / entry["form"]).is_file()
        assert set(entry["boxes"]) == {f["id"] for f in layout["fields"]}
        for options in entry["boxes"].values():
            assert set(options.values()) <= {"clear", "empty", "cancel", "faint"}
        pages = list(iter_bytes((tmp_path / entry["image"]).read_bytes(), entry["image"]))
        assert pages[0].ok


# -- marks: truth agrees with the pixels --------------------------------------------------------

def _planned_sheet(form, factory, dpi, colour, seed=2):
    page = form.layout["pages"][0]
    fields = [f for f in form.layout["fields"] if f["page"] == 1]
    rows = [f for f in fields if f["id"].startswith("leader.")]
    shapes = ["tick", "cross", "circle", "slash", "dot", "fill", "tick", "fill"]
    pens = ["ballpoint-blue", "ballpoint-black", "gel-black", "felt-tip", "pencil-hb",
            "pencil-2b", "gel-blue", "pencil-hb"]
    plan = SheetPlan(style="mixed", pens=pens)
    for i, (shape, pen) in enumerate(zip(shapes, pens, strict=True)):
        force = 0.45 if i == 6 else 1.0  # one much lighter mark
        plan.marks.append(MarkPlan(rows[i]["id"], rows[i]["options"][i % 4], "clear", shape,
                                   pen, force, i))
    for i, shape in enumerate(["scribble-out", "hatch-tick", "fill-scribble-out"]):
        plan.marks.append(MarkPlan(rows[8 + i]["id"], rows[8 + i]["options"][1], "cancel",
                                   shape, "ballpoint-blue", 1.1, 20 + i))
    plan.marks.append(MarkPlan(rows[12]["id"], "basic", "faint", "faint-tick", "pencil-hb",
                               0.3, 30))
    plan.strays = [(rows[13]["id"], o) for o in rows[13]["options"]]
    rng = np.random.default_rng(seed)
    blank = factory.sheet("000009", 1, dpi)
    marked = mark_sheet(blank, page, fields, plan, dpi, rng, colour=colour)
    return page, blank, marked


def plan_row(form, i):
    return [f for f in form.layout["fields"] if f["id"].startswith("leader.")][i]["id"]


@pytest.mark.parametrize("dpi,colour", [(150, False), (200, True)])
def test_truth_agrees_with_the_ink(form, factory, dpi, colour):
    page, blank, marked = _planned_sheet(form, factory, dpi, colour)
    grey = marked.rgb if marked.rgb.ndim == 2 else marked.rgb.min(axis=2)
    labels = {"clear": 0, "cancel": 0, "faint": 0}
    for box in page["boxes"]:
        label = marked.truth[box["field"]][box["option"]]
        x0, y0, x1, y1 = _rect_px(box["rect_mm"], dpi)
        darker = blank[y0:y1, x0:x1].astype(int) - grey[y0:y1, x0:x1].astype(int)
        ink = marked.ink_in_box.get((box["field"], box["option"]), 0.0)
        if label == "empty":
            assert ink == 0.0, f"{box['field']}/{box['option']}: voter ink in an empty box"
            assert darker.max() <= 0, f"{box['field']}/{box['option']}: empty box darkened"
        else:
            labels[label] += 1
        if label in ("clear", "cancel"):
            assert darker.max() >= 40, f"{box['field']}/{box['option']}: {label} not visible"
        if label == "faint":
            assert 0 < darker.max() <= 45, "a faint mark must be barely visible"
    assert labels == {"clear": 8, "cancel": 3, "faint": 1}, marked.notes
    # the strays were drawn beside an empty row: ink beside its boxes, none inside them
    row = [b for b in page["boxes"] if b["field"] == plan_row(form, 13)]
    xs = [_rect_px(b["rect_mm"], dpi) for b in row]
    x0, y0 = min(r[0] for r in xs) - 10, min(r[1] for r in xs) - 10
    x1, y1 = max(r[2] for r in xs) + 10, max(r[3] for r in xs) + 10
    beside = (blank[y0:y1, x0:x1].astype(int) - grey[y0:y1, x0:x1].astype(int)) > 30
    assert beside.any(), "no stray mark was drawn beside the row"
    assert all(marked.truth[b["field"]][b["option"]] == "empty" for b in row)


def test_cancellations_run_well_past_the_box(form, factory):
    page, blank, marked = _planned_sheet(form, factory, 200, False)
    k = 200 / MM_PER_INCH
    for box in page["boxes"]:
        if marked.truth[box["field"]][box["option"]] != "cancel":
            continue
        x, y, w, h = box["rect_mm"]
        # ink in the strip 1-1.5 mm beyond the box's left or right border
        strips = [(x - 1.5, x - 1.0), (x + w + 1.0, x + w + 1.5)]
        found = False
        for a, b in strips:
            region = (blank.astype(int) - marked.rgb.astype(int))[
                int(y * k):int((y + h) * k), int(a * k):int(b * k)]
            found |= bool((region > 40).any())
        assert found, f"{box['field']}/{box['option']}: the scribble stays inside the box"


# -- scanners -----------------------------------------------------------------------------------

def test_every_degradation_is_produced():
    rng = np.random.default_rng(0)
    settings = [draw_settings(rng, p) for p in ("mixed", "hard") for _ in range(400)]
    assert {s.kind for s in settings} == set(KINDS)
    assert {s.dpi for s in settings} >= {150, 200, 300, 400, 600}
    assert max(abs(s.skew_deg) for s in settings) > 12
    assert all(abs(s.skew_deg) <= 15 for s in settings)
    for name, test in {
        "corner cut": lambda s: bool(s.corner_cut), "bed": lambda s: s.bed_mm > 0,
        "tint": lambda s: s.paper_tint != (1.0, 1.0, 1.0), "light": lambda s: s.light_falloff,
        "photocopy": lambda s: s.photocopy, "blur": lambda s: s.blur_px > 0.2,
        "noise": lambda s: s.noise_grey, "dust": lambda s: s.dust,
        "streaks": lambda s: s.streaks, "folds": lambda s: s.folds,
        "low jpeg quality": lambda s: s.jpeg_quality < 60,
    }.items():
        assert any(test(s) for s in settings), f"no scan with {name}"
    hard = settings[400:]
    assert all(s.blur_px > 0 or s.noise_grey for s in hard)
    clean = draw_settings(rng, "clean")
    assert clean.skew_deg == 0 and not clean.streaks and clean.kind == "jpeg-grey"


def _paper_with_square(dpi=200):
    k = dpi / MM_PER_INCH
    paper = np.full((int(60 * k), int(60 * k), 3), 245, np.uint8)
    a, b = int(20 * k), int(25 * k)  # a solid 5 mm square, like a corner mark
    paper[a:b, a:b] = 10
    return paper, (a, b)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.startswith("tiff-")
                                  and k.removeprefix("tiff-") in bitonal.BITONAL_KINDS])
def test_bitonal_kinds_are_bitonal_files(kind):
    paper, _ = _paper_with_square()
    rng = np.random.default_rng(1)
    s = draw_settings(rng, "mixed")
    s.kind, s.dpi = kind, 200
    s.bitonal = {"global": {"level": 140}, "sauvola": {"window_px": 41, "k": 0.3},
                 "hollow": {"window_px": 11, "offset": 10}, "dither": {}}[kind[5:]]
    s.photocopy = 0.0
    image, _ = scan(paper, s, rng)
    assert image.dtype == bool
    data, suffix = encode(image, kind, 200, 80)
    assert suffix == ".tif"
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "1"
        assert set(np.unique(np.asarray(im.convert("L")))) <= {0, 255}


def test_hollow_threshold_hollows_solid_corner_marks(factory, form):
    dpi = 200
    blank = factory.sheet("000001", 1, dpi)
    s = ScanSettings(dpi=dpi, kind="tiff-hollow", bitonal={"window_px": 11, "offset": 10})
    image, _ = scan(np.repeat(blank[:, :, None], 3, axis=2), s, np.random.default_rng(0))
    k = dpi / MM_PER_INCH
    for x, y, w, h in form.layout["pages"][0]["fiducials_mm"]:
        cx, cy = int((x + w / 2) * k), int((y + h / 2) * k)
        centre = image[cy - 5:cy + 5, cx - 5:cx + 5]
        edge = image[int(y * k) + 1:int((y + h) * k) - 1, int(x * k) + 1:int(x * k) + 3]
        assert not centre.any(), "the corner mark's inside should come out white"
        assert edge.mean() > 0.8, "its outline stays black"
    # the global threshold keeps it solid
    s.kind, s.bitonal = "tiff-global", {"level": 128}
    solid, _ = scan(np.repeat(blank[:, :, None], 3, axis=2), s, np.random.default_rng(0))
    x, y, w, h = form.layout["pages"][0]["fiducials_mm"][0]
    assert solid[int((y + h / 2) * k), int((x + w / 2) * k)]


def test_a_vote_a_bitonal_threshold_erased_is_faint_on_that_image(form, factory):
    from omr.handsim.deck import _survival

    page, blank, marked = _planned_sheet(form, factory, 200, False)
    s = ScanSettings(dpi=200, kind="tiff-global", bitonal={"level": 60})  # a very light setting
    image, m = scan(marked.rgb, s, np.random.default_rng(0))
    empty, _ = scan(blank, s, np.random.default_rng(0))
    _survival(image, empty, m, page, marked, 200)
    changed = [n.split(":")[0].split("/") for n in marked.notes if "erased" in n]
    assert changed, "a light mark under a level-60 threshold should be gone"
    assert all(marked.truth[f][o] == "faint" for f, o in changed)
    s.bitonal = {"level": 200}  # a dark setting keeps every vote
    marked2 = _planned_sheet(form, factory, 200, False)[2]
    image, m = scan(marked2.rgb, s, np.random.default_rng(0))
    empty, _ = scan(blank, s, np.random.default_rng(0))
    _survival(image, empty, m, page, marked2, 200)
    assert not [n for n in marked2.notes if "erased" in n]


def test_on_a_skewed_scan_only_ink_inside_the_box_keeps_a_vote_clear():
    """The survival of a vote is measured inside the box, not in its bounding rectangle: on a
    skewed scan that rectangle's corners take in the printed border, which a threshold moves
    by a pixel wherever a mark changed the grey round it (pixels that are no vote)."""
    from types import SimpleNamespace

    from omr.handsim.deck import _survival

    dpi, k = 200, 200 / MM_PER_INCH
    a = np.radians(5.0)
    m = np.array([[np.cos(a), -np.sin(a), 30.0], [np.sin(a), np.cos(a), 10.0]])
    x, y, w, h = 20.0, 20.0, 6.0, 5.0
    page = {"boxes": [{"field": "f", "option": "o", "rect_mm": [x, y, w, h]}]}
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]) * k @ m[:, :2].T
    corners += m[:, 2]
    blank = np.zeros((400, 400), bool)
    border = np.zeros((400, 400), np.uint8)  # what differs from the blank: the border alone
    cv2.polylines(border, [corners.round().astype(np.int32)], True, 1, thickness=4)
    marked = SimpleNamespace(truth={"f": {"o": "clear"}}, notes=[])
    _survival(border.astype(bool), blank, m, page, marked, dpi)
    assert marked.truth["f"]["o"] == "faint", "nothing of the vote is inside its box"
    # ink inside the box keeps it clear
    inside = border.copy()
    centre = corners.mean(axis=0).round().astype(int)
    cv2.circle(inside, (int(centre[0]), int(centre[1])), 6, 1, -1)
    marked = SimpleNamespace(truth={"f": {"o": "clear"}}, notes=[])
    _survival(inside.astype(bool), blank, m, page, marked, dpi)
    assert marked.truth["f"]["o"] == "clear"


def test_dither_keeps_grey_as_dot_density():
    grey = np.full((64, 64), 128, np.uint8)
    black = bitonal.floyd_steinberg(grey)
    assert 0.4 < black.mean() < 0.6


def test_corner_cut_loses_corner_marks_but_not_the_code_or_boxes(form):
    page = form.layout["pages"][0]
    dpi = 150
    k = dpi / MM_PER_INCH
    page_px = (round(297 * k), round(210 * k))
    rng = np.random.default_rng(4)
    done = 0
    for want in ([0], [3], [2, 3], [0, 3]):
        s = ScanSettings(dpi=dpi, skew_deg=float(rng.normal(0, 2)), corner_cut=want)
        if cut_corners(s, page, page_px, rng):
            done += 1
            assert fiducials_off(s, page, page_px) == want
            assert lost(s, page, page_px) is None
    assert done >= 3
    s = ScanSettings(dpi=dpi, shift_mm=(40.0, 0.0))
    assert lost(s, page, page_px) == "QR code off the scan"


# -- scorer -------------------------------------------------------------------------------------

def _reading(image, marks, status="ok"):
    return Reading(source=f"{image}#1", status=status, form="jt2026-eval", page=1,
                   marks={f: FieldMarks(list(m), list(d)) for f, (m, d) in marks.items()})


def test_scorer_counts_planted_errors(form):
    boxes = {"team.politics": {"good": "clear", "fair_good": "empty", "average": "empty",
                               "poor": "empty"},
             "team.leadership": {"good": "cancel", "fair_good": "clear", "average": "empty",
                                 "poor": "faint"}}
    truth = [{"image": "a.jpg", "form": "f.yaml", "boxes": boxes},
             {"image": "b.jpg", "form": "f.yaml", "boxes": boxes},
             {"image": "c.jpg", "form": "f.yaml", "boxes": boxes, "refuse": "QR code off"},
             {"image": "d.jpg", "form": "f.yaml", "boxes": boxes}]
    readings = {
        # lost vote (politics/good read empty), phantom (politics/average), cancel counted
        ("a.jpg", 1): _reading("a.jpg", {"team.politics": (["average"], []),
                                         "team.leadership": (["good", "fair_good"], [])}),
        # all right: the cancel and the faint mark go to review, one clear to review
        ("b.jpg", 1): _reading("b.jpg", {"team.politics": ([], ["good"]),
                                         "team.leadership": (["fair_good"], ["good", "poor"])},
                               "review"),
        ("c.jpg", 1): Reading(source="c.jpg#1", status="unreadable", reason="QR code unreadable"),
        ("d.jpg", 1): Reading(source="d.jpg#1", status="unreadable",
                              reason="only 2 of 4 corner marks found (missing: top-left)"),
    }
    s = score(truth, readings, {"f.yaml": form.layout})
    assert (s.lost, s.phantom, s.cancel_counted) == (1, 1, 1)
    assert s.faint_read_empty == 1 and s.count("faint", "review") == 1
    assert s.clear_to_review == 1 and s.clear_review_rate == pytest.approx(1 / 4)
    assert s.count("cancel", "review") == 1
    assert (s.refused, s.refused_expected, s.refused_unexpected) == (2, 1, 1)
    assert s.reasons == {"only # of # corner marks found": 1}
    assert s.sheets == 4 and s.sheets_read == 2 and s.positions == 16


def test_scorer_counts_a_write_in_to_review_apart():
    truth = [{"image": "a.jpg", "form": "f.yaml",
              "boxes": {"pos.chief": {"P1": "clear", "writein1": "clear"}}}]
    reading = _reading("a.jpg", {"pos.chief": ([], ["P1", "writein1"])}, "review")
    s = score(truth, {("a.jpg", 1): reading}, {})
    assert s.clear_to_review == 1 and s.writein_to_review == 1
    assert s.clear_review_rate == pytest.approx(1 / 2)


@pytest.mark.skipif(not (FIELD_REPORT / "truth.json").is_file(), reason="no field report here")
def test_field_report_folder_scores():
    tf = load_truth_folder(FIELD_REPORT)
    assert len(tf.layouts) == 4
    readings = read_folder(tf, workers=1)
    s = score(tf.truth, readings, tf.layouts)
    assert s.sheets == len(tf.truth) == 10
    assert s.sheets_read + s.refused == s.sheets
    assert s.truth["clear"] > 0 and s.truth["cancel"] > 0


# -- command line -------------------------------------------------------------------------------

def test_cli_simulate_hand_then_truthdeck(tmp_path):
    runner = CliRunner()
    out = tmp_path / "deck"
    result = runner.invoke(app, ["simulate", "--model", "hand", "--form", str(EVAL), "-o",
                                 str(out), "--sheets", "2", "--seed", "4", "--profile", "clean"])
    assert result.exit_code == 0, result.output
    assert len(json.loads((out / "truth.json").read_text(encoding="utf-8"))) == 2
    result = runner.invoke(app, ["bench", "truthdeck", str(out), "--workers", "1", "--json"])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.output)
    assert doc["sheets"] == 2 and "lost" in doc and "targets" in doc
    again = runner.invoke(app, ["simulate", "--model", "hand", "--form", str(EVAL), "-o",
                                str(out), "--sheets", "1"])
    assert again.exit_code == 2  # the folder is not empty and --force was not given


def test_cli_bench_accuracy_model_hand(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "accuracy", "--model", "hand", "--form", str(EVAL),
                                 "--sheets", "2", "--profile", "clean", "--workers", "1",
                                 "--keep", str(tmp_path / "deck"), "--json"])
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.output)
    assert doc["sheets"] == 2 and set(doc["targets"]) >= {"no lost vote (clear read empty)"}
    assert (tmp_path / "deck" / "truth.json").is_file()
    bad = runner.invoke(app, ["bench", "accuracy", "--model", "nope"])
    assert bad.exit_code == 2
