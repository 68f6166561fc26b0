"""The layout JSON of foreign forms: our own forms unchanged, a foreign layout valid."""

from __future__ import annotations

import json

import pytest

from forms.foreign import ForeignError, TargetsDoc, foreign_layout, spec_fields
from forms.layout import compile_layout
from forms.layout_json import layout_to_dict, validate_layout
from forms.load import load_spec
from tests import foreign_helpers as F
from tests.omr_helpers import EXAMPLES

#: hashes of our example forms before foreign forms existed: they must never change
OWN_HASHES = {
    "evaluation": "10b136a74f5e",
    "recommendation": "4a1b77434b35",
    "satisfaction": "8dcf1f2501ce",
    "evaluation-long": "817752ab5cd9",
    "evaluation-cardreader": "81279a08cd82",
}


@pytest.mark.parametrize("name", sorted(OWN_HASHES))
def test_our_layouts_keep_their_bytes_and_hash(name: str) -> None:
    doc = layout_to_dict(compile_layout(load_spec(EXAMPLES / f"{name}.yaml")))
    assert doc["form"]["hash"].startswith(OWN_HASHES[name])
    text = json.dumps(doc)
    assert "registration" not in text and "shape" not in text
    validate_layout(doc)


def test_foreign_layout_validates_and_has_our_field_ids() -> None:
    doc = F.foreign_layout_of("evaluation")
    validate_layout(doc)
    page = doc["pages"][0]
    assert page["registration"]["kind"] == "reference"
    assert "fiducials_mm" not in page and "code_mm" not in page
    native = layout_to_dict(compile_layout(load_spec(EXAMPLES / "evaluation.yaml")))
    assert [f["id"] for f in doc["fields"]] == [f["id"] for f in native["fields"]]
    assert [f["options"] for f in doc["fields"]] == [f["options"] for f in native["fields"]]


def test_a_page_needs_marks_or_a_reference_not_both() -> None:
    doc = F.foreign_layout_of("satisfaction")
    bad = json.loads(json.dumps(doc))
    bad["pages"][0]["fiducials_mm"] = [[0, 0, 5, 5]] * 4
    bad["pages"][0]["code_mm"] = [0, 0, 20, 20]
    with pytest.raises(ValueError, match="either fiducials_mm"):
        validate_layout(bad)


@pytest.mark.parametrize("name", ["evaluation", "recommendation", "satisfaction"])
def test_spec_fields_are_those_of_the_compiler(name: str) -> None:
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    ours = [(f.id, f.options, f.max, f.group, f.person) for f in spec_fields(spec)]
    compiled = [(f.id, f.options, f.max, f.group, f.person) for f in compile_layout(spec).fields]
    assert ours == compiled


def test_a_target_used_twice_is_named() -> None:
    spec = load_spec(EXAMPLES / "satisfaction.yaml")
    plain = F.foreign_layout_of("satisfaction")
    fields = {f["id"]: [1] * len(f["options"]) for f in plain["fields"]}
    bad = spec.model_copy(update={"foreign": spec.foreign.model_copy(update={"fields": fields})
                                  if spec.foreign else None})
    from forms.spec import ForeignGeometry

    bad = spec.model_copy(update={"foreign": ForeignGeometry(reference="r.png", fields=fields)})
    targets = TargetsDoc.model_validate({
        "reference": {"image": "r.png", "sha256": "0" * 64, "dpi": 200, "size_px": [10, 10]},
        "targets": [{"n": 1, "rect_mm": [1, 1, 5, 4]}]})
    with pytest.raises(ForeignError, match="target 1 is also"):
        foreign_layout(bad, targets)
