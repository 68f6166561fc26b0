"""The layout JSON (`scantally.layout/1`, see ARCHITECTURE.md): models, hash and JSON Schema.

`rect_mm` is the inside of a printed box. Optional keys beyond the core interface:
`boxes[].grid` (reader grid [row, column] for OMR card readers: row 0 is the first timing mark
from the top, column c spans c..c+1 column pitches from the page's left edge), `pages[].regions`
(write-in lines and the comment area, for review crops), `pages[].timing_mm`,
`pages[].serial_code` (a card-reader form's serial as pre-printed grid cells, `forms.cardcode`),
`fields[].group` and `fields[].person` (the stable person id of a candidate or leader).

A form Scantally did not print (`forms.foreign`) has `pages[].registration` (kind `reference`:
its reference image - the scanned blank - with the image's dpi and size; page mm = reference px
x 25.4 / dpi) instead of `fiducials_mm` and `code_mm`, and its boxes may carry `shape`
(`rectangle`, `ellipse`: an ellipse is inscribed in `rect_mm`). Our own forms never carry these
keys, so their documents and hashes are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forms import geometry as g

if TYPE_CHECKING:  # the layout compiler (reportlab, fonts) is not needed to read a layout
    from forms.layout import CompiledLayout

LAYOUT_SCHEMA = "scantally.layout/1"
Rect4 = list[float]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FormRef(_M):
    id: str
    kind: Literal["recommendation", "evaluation", "satisfaction"]
    title: str
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the layout content")


class BoxDoc(_M):
    field: str
    option: str
    rect_mm: Rect4 = Field(min_length=4, max_length=4)
    grid: list[int] | None = Field(default=None, min_length=2, max_length=2)
    shape: Literal["rectangle", "ellipse"] | None = Field(
        default=None, description="printed target's shape (foreign forms); rectangle if absent")


class RegionDoc(_M):
    id: str
    kind: Literal["writein", "comment"]
    rect_mm: Rect4 = Field(min_length=4, max_length=4)
    field: str | None = None
    option: str | None = None


class SerialCodeDoc(_M):
    """A card-reader form's serial, printed as solid cells of the reader grid (`forms.cardcode`):
    bit k is cell `grid[k]`, printed at `rects_mm[k]` when 1."""

    scheme: Literal["scantally.cardcode/1"]
    grid: list[list[int]]
    rects_mm: list[Rect4]


class MarkersDoc(_M):
    """Four printed corner markers, one near each corner: `image` (a path relative to the
    layout) shows one, `width_share` its width over the page image's width, `centres_mm` where
    their centres lie on the page (top-left first, clockwise)."""

    image: str
    width_share: float = Field(gt=0, lt=0.5)
    centres_mm: list[list[float]] = Field(min_length=4, max_length=4)


class ReferenceRegistrationDoc(_M):
    """A foreign form's page is registered against a reference image of its blank (no marks of
    ours): `image` names it (a path relative to the layout file), `image_sha256` pins its
    content, `dpi` and `size_px` ([width, height]) tie its pixels to page millimetres."""

    kind: Literal["reference"]
    image: str
    image_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    dpi: float = Field(gt=0)
    size_px: list[int] = Field(min_length=2, max_length=2)
    #: the sheet lies on a dark background (a photo, a lid-open scan): find its edges first
    page_edges: bool = False
    #: false when the reference does not show the answer targets (an imported template's
    #: bubbles erased from a marked scan): what is printed in them is then estimated per page
    targets_shown: bool = True
    #: printed corner markers (OMRChecker's CropOnMarkers): found first, they place the page
    markers: MarkersDoc | None = None


class PageDoc(_M):
    page: int = Field(ge=1)
    fiducials_mm: list[Rect4] | None = Field(default=None, min_length=4, max_length=4)
    code_mm: Rect4 | None = Field(default=None, min_length=4, max_length=4)
    registration: ReferenceRegistrationDoc | None = None
    boxes: list[BoxDoc]
    regions: list[RegionDoc] = []
    timing_mm: list[Rect4] = []
    serial_code: SerialCodeDoc | None = None

    @model_validator(mode="after")
    def _registered(self) -> PageDoc:
        ours = self.fiducials_mm is not None and self.code_mm is not None
        if ours == (self.registration is not None):
            raise ValueError(f"page {self.page}: give either fiducials_mm and code_mm (a form "
                             "we print) or registration (a foreign form), not both or neither")
        return self


class FieldDoc(_M):
    id: str
    label: str
    page: int = Field(ge=1)
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    options: list[str] = Field(min_length=1)
    group: str | None = None
    person: str | None = None


class LayoutDoc(_M):
    schema_: Literal["scantally.layout/1"] = Field(alias="schema")
    form: FormRef
    page_size_mm: list[float] = Field(min_length=2, max_length=2)
    grid_pitch_mm: list[float] | None = Field(
        default=None, description="reader grid [row, column] pitch when a timing track is printed"
    )
    pages: list[PageDoc] = Field(min_length=1)
    fields: list[FieldDoc] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


CARD_CODE_SCHEME = "scantally.cardcode/1"


def _r(v: float) -> float:
    return round(float(v), 3)


def layout_to_dict(compiled: CompiledLayout) -> dict:
    """The layout JSON of a compiled form, with its content hash filled in."""
    spec = compiled.spec
    pages = []
    for p in compiled.pages:
        pages.append({
            "page": p.page,
            "fiducials_mm": [[_r(v) for v in f] for f in p.fiducials_mm],
            "code_mm": [_r(v) for v in p.code_mm],
            "boxes": [
                {"field": b.field, "option": b.option, "rect_mm": [_r(v) for v in b.rect_mm]}
                | ({"grid": list(b.grid)} if b.grid is not None else {})
                for b in p.boxes
            ],
            "regions": [
                {"id": r.id, "kind": r.kind, "rect_mm": [_r(v) for v in r.rect_mm]}
                | ({"field": r.field, "option": r.option} if r.field else {})
                for r in p.regions
            ],
            "timing_mm": [[_r(v) for v in t] for t in p.timing_mm],
        } | ({"serial_code": {
            "scheme": CARD_CODE_SCHEME,
            "grid": [list(cell) for cell, _ in p.serial_code],
            "rects_mm": [[_r(v) for v in rect] for _, rect in p.serial_code],
        }} if p.serial_code else {}))
    fields = [
        {"id": f.id, "label": f.label, "page": f.page, "min": f.min, "max": f.max,
         "options": list(f.options), "group": f.group}
        | ({"person": f.person} if f.person else {})
        for f in compiled.fields
    ]
    doc = {
        "schema": LAYOUT_SCHEMA,
        "form": {"id": spec.id, "kind": spec.kind, "title": spec.title, "hash": ""},
        "page_size_mm": list(g.PAPER_SIZES_MM[spec.paper]),
        "pages": pages,
        "fields": fields,
    }
    if spec.timing_track:
        doc["grid_pitch_mm"] = [g.GRID_ROW_PITCH_MM, g.GRID_COL_PITCH_MM]
    doc["form"]["hash"] = layout_hash(doc)
    return doc


def layout_hash(doc: dict) -> str:
    """sha256 over the canonical JSON of the layout with the hash field blanked."""
    blank = {**doc, "form": {**doc["form"], "hash": ""}}
    canonical = json.dumps(blank, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def layout_json_schema() -> dict:
    schema = LayoutDoc.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://scantally.invalid/schemas/layout-1.json"
    schema["description"] = __doc__.strip()
    return schema


def validate_layout(doc: dict) -> LayoutDoc:
    model = LayoutDoc.model_validate(doc)
    if layout_hash(doc) != doc["form"]["hash"]:
        raise ValueError("layout hash does not match its content; the layout was edited")
    return model
