"""forms.layout and forms.layout_json: schemas, box sizes, page breaks and the reader grid."""

from __future__ import annotations

import copy
import json
from itertools import combinations, pairwise

import jsonschema
import pytest
import yaml

from forms import geometry as g
from forms.layout import compile_layout
from forms.layout_json import layout_to_dict, validate_layout
from forms.load import parse_spec
from tests.forms_helpers import (
    EXAMPLE_NAMES,
    EXAMPLES,
    ROOT,
    compiled,
    one_copy_pdf,
    raster,
    run_form,
    text_box_mm,
    yaml_data,
)

Rect = list[float]


def _schema(which: str) -> dict:
    result = run_form("schema", which)
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.fixture(scope="module")
def layout_schema() -> dict:
    return _schema("layout")


@pytest.mark.parametrize("paper", [None, "A3"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_layout_json_validates_against_its_schema_and_hash(
    name: str, paper: str | None, layout_schema: dict, tmp_path
) -> None:
    _, _, doc = compiled(name, paper)
    if paper is None:  # the CLI writes exactly the document the library makes
        out = tmp_path / "layout.json"
        result = run_form("layout", ROOT / "examples" / f"{name}.yaml", "-o", out)
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text(encoding="utf-8")) == doc
    jsonschema.Draft202012Validator(layout_schema).validate(doc)
    assert doc["schema"] == "scantally.layout/1"
    validate_layout(doc)
    edited = copy.deepcopy(doc)
    edited["pages"][0]["boxes"][0]["rect_mm"][0] += 1.0
    with pytest.raises(ValueError, match="hash does not match"):
        validate_layout(edited)
    broken = copy.deepcopy(doc)
    del broken["pages"][0]["boxes"][0]["rect_mm"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(layout_schema).validate(broken)


def test_spec_schema_validates_every_example_and_rejects_an_unknown_key() -> None:
    validator = jsonschema.Draft202012Validator(_schema("spec"))
    for path in EXAMPLES:
        validator.validate(yaml_data(path))
    data = yaml_data(ROOT / "examples" / "evaluation.yaml")
    data["header"]["venue"] = "礼堂"
    with pytest.raises(jsonschema.ValidationError, match="venue"):
        validator.validate(data)


@pytest.mark.parametrize("paper", ["A4", "A3"])
@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_boxes_are_big_enough_inside_the_page_and_apart(name: str, paper: str) -> None:
    _, _, doc = compiled(name, paper)
    width, height = doc["page_size_mm"]
    assert (width, height) == g.PAPER_SIZES_MM[paper]
    for page in doc["pages"]:
        reserved = [*page["fiducials_mm"], page["code_mm"], *page["timing_mm"]]
        rects = [b["rect_mm"] for b in page["boxes"]]
        for box in page["boxes"]:
            x, y, w, h = box["rect_mm"]
            assert w >= g.MIN_BOX_W_MM and h >= g.MIN_BOX_H_MM, box
            assert x >= 15.0 and x + w <= width - 15.0 and y >= 15.0 and y + h <= height - 15.0
            assert not any(_overlap(box["rect_mm"], r) for r in reserved), box
        for a, b in combinations(rects, 2):
            assert not _overlap(a, b), (a, b)


def _fields_on_one_page(doc: dict) -> None:
    pages: dict[str, set[int]] = {}
    options: dict[str, list[str]] = {}
    for page in doc["pages"]:
        for box in page["boxes"]:
            pages.setdefault(box["field"], set()).add(page["page"])
            options.setdefault(box["field"], []).append(box["option"])
    for field in doc["fields"]:
        assert pages[field["id"]] == {field["page"]}, field["id"]
        assert options[field["id"]] == field["options"], field["id"]


def test_long_evaluation_breaks_onto_two_pages_and_repeats_the_table_header() -> None:
    _, _, doc = compiled("evaluation-long")
    assert [p["page"] for p in doc["pages"]] == [1, 2]
    assert all(p["boxes"] for p in doc["pages"])
    _fields_on_one_page(doc)
    pdf = one_copy_pdf("evaluation-long")
    page2 = doc["pages"][1]
    top = min(b["rect_mm"][1] for b in page2["boxes"])
    for label, option in [("优秀", "excellent"), ("基本称职", "basic"), ("不称职", "incompetent")]:
        where = text_box_mm(pdf, 1, label)
        assert where is not None, f"no header '{label}' on page 2"
        box = next(b["rect_mm"] for b in page2["boxes"] if b["option"] == option)
        # the header label stands over its own column, just above the first row of boxes
        assert abs((where[0] + where[2] / 2) - (box[0] + box[2] / 2)) < 1.0
        assert top - 12.0 < where[1] + where[3] < top
    assert text_box_mm(pdf, 1, "姓名") is not None


def _spec_text(name: str, **changes: object) -> str:
    data = yaml_data(ROOT / "examples" / f"{name}.yaml")
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize("timing", [False, True])
@pytest.mark.parametrize("paper", ["A4", "A3"])
def test_no_field_spans_two_pages_whatever_the_break(paper: str, timing: bool) -> None:
    # position sizes chosen so that page breaks fall at different places of a block (the
    # timing track once made a position's measured height too small: it split over two pages)
    for sizes in [(5, 20, 12), (12, 30, 12), (20, 5, 12), (22, 20, 12), (30, 5, 12), (26, 14, 12)]:
        positions = [
            {"id": f"p{k}", "title": "副局长人选", "quota": 1,
             # namesakes must be told apart (forms.spec): each 王建国 has a profile of its own
             "candidates": [{"id": f"c{k}_{i}", "name": "王建国",
                             "profile": f"现任{k + 1}处第{i + 1}科科长"} for i in range(n)]}
            for k, n in enumerate(sizes)
        ]
        text = _spec_text("recommendation", paper=paper, timing_track=timing,
                          recommendation={"positions": positions})
        _fields_on_one_page(layout_to_dict(compile_layout(parse_spec(text))))
    for leaders, sub_rows in [(30, True), (70, False)]:
        data = yaml_data(ROOT / "examples" / "evaluation.yaml")
        data["evaluation"]["individual"]["sub_rows"] = sub_rows
        data["evaluation"]["individual"]["leaders"] = [
            {"id": f"L{i}", "name": "赵志强", "post": f"第{i + 1}副局长"} for i in range(leaders)
        ]
        data.update(paper=paper, timing_track=timing)
        doc = layout_to_dict(compile_layout(parse_spec(yaml.safe_dump(data, allow_unicode=True))))
        assert len(doc["pages"]) >= 2
        _fields_on_one_page(doc)


def test_timing_track_puts_every_box_at_the_centre_of_its_reader_cell() -> None:
    spec, _, doc = compiled("evaluation-cardreader")
    assert spec.timing_track
    leaders = spec.evaluation.individual.leaders if spec.evaluation.individual else []
    assert 6 <= len(leaders) <= 10
    row_pitch, col_pitch = doc["grid_pitch_mm"]
    assert (row_pitch, col_pitch) == (g.GRID_ROW_PITCH_MM, g.GRID_COL_PITCH_MM)
    pdf = one_copy_pdf("evaluation-cardreader")
    for index, page in enumerate(doc["pages"]):
        marks = page["timing_mm"]
        assert len(marks) >= 30
        # one mark per pitch, down the left edge, clear of the content
        for a, b in pairwise(marks):
            assert b[1] - a[1] == pytest.approx(row_pitch, abs=1e-3)
            assert a[0] == b[0] and a[0] + a[2] < 15.0
        cells = [tuple(b["grid"]) for b in page["boxes"]]
        assert len(cells) == len(set(cells)), "two boxes in one reader cell"
        for box in page["boxes"]:
            x, y, w, h = box["rect_mm"]
            row, col = box["grid"]
            assert 0 <= row < len(marks)
            mark = marks[row]  # row 0 = the first timing mark from the top
            assert y + h / 2 == pytest.approx(mark[1] + mark[3] / 2, abs=0.01), box
            assert y + h / 2 == pytest.approx(marks[0][1] + mark[3] / 2 + row * row_pitch,
                                              abs=0.01)
            assert x + w / 2 == pytest.approx((col + 0.5) * col_pitch, abs=0.01), box
            assert w >= g.MIN_BOX_W_MM and h >= g.MIN_BOX_H_MM
            # the whole box lies inside its cell
            assert mark[1] + mark[3] / 2 - row_pitch / 2 < y and \
                y + h < mark[1] + mark[3] / 2 + row_pitch / 2
            assert col * col_pitch < x and x + w < (col + 1) * col_pitch
        # a field's boxes share a reader row; its options take distinct columns
        by_field: dict[str, list[tuple[int, int]]] = {}
        for box in page["boxes"]:
            by_field.setdefault(box["field"], []).append(tuple(box["grid"]))
        for field, grid in by_field.items():
            assert len({r for r, _ in grid}) == 1, field
            assert len({c for _, c in grid}) == len(grid), field
        img = raster(pdf, index, 300)
        k = 300 / 25.4
        for x, y, w, h in marks:  # printed: solid black where timing_mm says
            block = img[round((y + 0.2) * k):round((y + h - 0.2) * k),
                        round((x + 0.2) * k):round((x + w - 0.2) * k)]
            assert block.size and block.max() < 80
    without = compiled("evaluation")[2]
    assert "grid_pitch_mm" not in without
    assert all("grid" not in b and not p["timing_mm"] for p in without["pages"]
               for b in p["boxes"])
