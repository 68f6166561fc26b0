"""Foreign forms: a normal form spec whose boxes come from a scanned blank, not our compiler.

A foreign form's folder holds the spec (YAML, with a `foreign:` section), the reference image
of its blank, and `targets.json` (`scantally.targets/1`): every answer target found on the blank
(or imported from another tool), numbered in reading order, with its rectangle in page mm and
its shape. The spec's `foreign.fields` says which targets are which field's options; from these
`foreign_layout` makes an ordinary `scantally.layout/1` document whose page registers by the
reference image (`registration.kind: reference`), read by `omr` like any other.

Field ids are those our layout compiler gives (`spec_fields`), so `tally/` sees the same fields.
Knows nothing of images beyond their size and hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from forms.layout import FieldInfo
from forms.layout_json import LAYOUT_SCHEMA, layout_hash
from forms.spec import FormSpec

TARGETS_SCHEMA = "scantally.targets/1"
MM_PER_INCH = 25.4


class ForeignError(ValueError):
    """The foreign geometry does not fit the spec; the message says what to edit."""


class TargetDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1, description="target number, in reading order")
    rect_mm: list[float] = Field(min_length=4, max_length=4)
    shape: Literal["rectangle", "ellipse"] = "rectangle"
    #: row and column of the target in the grid learn found (1-based)
    row: int | None = None
    col: int | None = None


class ReferenceDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dpi: float = Field(gt=0)
    size_px: list[int] = Field(min_length=2, max_length=2)


class TargetsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["scantally.targets/1"] = Field(alias="schema", default=TARGETS_SCHEMA)
    reference: ReferenceDoc
    targets: list[TargetDoc]

    def dump(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, exclude_none=True),
                          ensure_ascii=False, indent=1) + "\n"


@dataclass
class ForeignForm:
    """A loaded foreign form: its spec, targets, layout JSON and where its reference is."""

    spec: FormSpec
    targets: TargetsDoc
    layout: dict
    reference_path: Path


def spec_fields(spec: FormSpec) -> list[FieldInfo]:
    """The fields of a spec with the ids and option order our layout compiler gives them
    (`forms.layout`), all on page 1 (a foreign form is one page)."""
    out: list[FieldInfo] = []
    cats = spec.categories
    if cats and cats.mode == "sheet":
        out.append(FieldInfo("category", cats.title, 1, 0, 1, [c.id for c in cats.options],
                             "category"))
    if spec.recommendation:
        for pos in spec.recommendation.positions:
            options = [c.id for c in pos.candidates] + [f"writein{k}"
                                                        for k in range(1, pos.writeins + 1)]
            out.append(FieldInfo(f"pos.{pos.id}", pos.title, 1, 0, pos.quota, options,
                                 "recommendation"))
    if spec.evaluation and spec.evaluation.team:
        team = spec.evaluation.team
        for dim in team.dimensions:
            out.append(FieldInfo(f"team.{dim.id}", f"领导班子·{dim.label}", 1, 0, 1,
                                 [lv.id for lv in team.levels], "team"))
    if spec.evaluation and spec.evaluation.individual:
        part = spec.evaluation.individual
        ids = [lv.id for lv in part.all_levels]
        for leader in part.leaders:
            if not part.rows:
                out.append(FieldInfo(f"leader.{leader.id}", leader.name, 1, 0, 1, ids,
                                     "individual", leader.id))
            for sub in part.rows:
                out.append(FieldInfo(f"leader.{leader.id}.{sub.id}", f"{leader.name}·{sub.label}",
                                     1, 0, 1, ids, "individual", leader.id))
    if spec.satisfaction:
        sat = spec.satisfaction
        for q in sat.overall:
            out.append(FieldInfo(f"q.{q.id}", q.label, 1, 0, 1, [lv.id for lv in sat.levels],
                                 "overall"))
        for p in sat.items:
            out.append(FieldInfo(f"item.{p.id}", p.name, 1, 0, 1,
                                 [lv.id for lv in sat.item_levels], "items", p.id))
    return out


def foreign_layout(spec: FormSpec, targets: TargetsDoc) -> dict:
    """The layout JSON of a foreign form (hash filled in); ForeignError naming what to fix."""
    if spec.foreign is None:
        raise ForeignError("the spec has no 'foreign:' section")
    fields = spec_fields(spec)
    by_id = {f.id: f for f in fields}
    by_n = {t.n: t for t in targets.targets}
    problems = []
    for fid in spec.foreign.fields:
        if fid not in by_id:
            problems.append(f"foreign.fields.{fid}: no such field in the spec (fields: "
                            f"{', '.join(list(by_id)[:6])}{', …' if len(by_id) > 6 else ''})")
    used: dict[int, str] = {}
    boxes = []
    for f in fields:
        numbers = spec.foreign.fields.get(f.id)
        if numbers is None:
            problems.append(f"foreign.fields: field {f.id} has no targets; list its "
                            f"{len(f.options)} target numbers")
            continue
        if len(numbers) != len(f.options):
            problems.append(f"foreign.fields.{f.id}: {len(numbers)} targets for "
                            f"{len(f.options)} options ({', '.join(f.options)})")
            continue
        for n, option in zip(numbers, f.options, strict=True):
            if n not in by_n:
                problems.append(f"foreign.fields.{f.id}: target {n} does not exist (1.."
                                f"{len(targets.targets)})")
            elif n in used:
                problems.append(f"foreign.fields.{f.id}: target {n} is also {used[n]}")
            else:
                used[n] = f"{f.id}/{option}"
                t = by_n[n]
                boxes.append({"field": f.id, "option": option,
                              "rect_mm": [round(float(v), 3) for v in t.rect_mm],
                              "shape": t.shape})
    if problems:
        raise ForeignError("; ".join(problems))
    ref = targets.reference
    dpi = ref.dpi
    page_mm = [round(ref.size_px[0] * MM_PER_INCH / dpi, 3),
               round(ref.size_px[1] * MM_PER_INCH / dpi, 3)]
    registration = {"kind": "reference", "image": ref.image, "image_sha256": ref.sha256,
                    "dpi": dpi, "size_px": list(ref.size_px)}
    if spec.foreign.page_edges:
        registration["page_edges"] = True
    if not spec.foreign.targets_shown:
        registration["targets_shown"] = False
    if spec.foreign.markers:
        w, h = page_mm
        registration["markers"] = {"image": spec.foreign.markers,
                                   "width_share": spec.foreign.marker_width_share,
                                   "centres_mm": [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]}
    doc = {
        "schema": LAYOUT_SCHEMA,
        "form": {"id": spec.id, "kind": spec.kind, "title": spec.title, "hash": ""},
        "page_size_mm": page_mm,
        "pages": [{"page": 1, "registration": registration, "boxes": boxes, "regions": [],
                   "timing_mm": []}],
        "fields": [
            {"id": f.id, "label": f.label, "page": 1, "min": f.min, "max": f.max,
             "options": list(f.options), "group": f.group} | ({"person": f.person}
                                                              if f.person else {})
            for f in fields
        ],
    }
    doc["form"]["hash"] = layout_hash(doc)
    return doc


def unused_targets(spec: FormSpec, targets: TargetsDoc) -> list[int]:
    """Target numbers no field lists (a target learned by mistake, or a field not written)."""
    used = {n for ns in (spec.foreign.fields.values() if spec.foreign else []) for n in ns}
    return [t.n for t in targets.targets if t.n not in used]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_foreign(spec_path: Path, spec: FormSpec) -> ForeignForm:
    """The targets, layout and reference path of a foreign spec loaded from `spec_path`;
    ForeignError when a file is missing or the reference changed since it was learned."""
    assert spec.foreign is not None
    base = spec_path.parent
    targets_path = base / spec.foreign.targets
    try:
        targets = TargetsDoc.model_validate_json(targets_path.read_text("utf-8"))
    except FileNotFoundError:
        raise ForeignError(f"{targets_path}: not found (it is written by `scantally form "
                           "learn` or `form import-omrchecker`)") from None
    except ValueError as exc:
        raise ForeignError(f"{targets_path}: not a targets file: {exc}") from None
    reference = base / spec.foreign.reference
    if not reference.is_file():
        raise ForeignError(f"{reference}: the reference image is missing")
    if file_sha256(reference) != targets.reference.sha256:
        raise ForeignError(f"{reference}: the image changed since its targets were found; "
                           "learn the form again")
    return ForeignForm(spec, targets, foreign_layout(spec, targets), reference)


def fields_from_layout(native: dict, targets: list[TargetDoc], page: int = 1,
                       tolerance_mm: float = 1.5) -> dict[str, list[int]]:
    """`foreign.fields` for a form we also lay out ourselves (printed by another printer, its
    targets learned from that print): each box of our layout's `page` takes the target whose
    rectangle is nearest (all four edges within `tolerance_mm`); ForeignError when a box has
    none."""
    out: dict[str, list[int]] = {}
    rects = [(t.n, t.rect_mm) for t in targets]
    for box in next(p for p in native["pages"] if p["page"] == page)["boxes"]:
        best = min(rects, key=lambda r: max(abs(a - b) for a, b in zip(r[1], box["rect_mm"],
                                                                       strict=True)))
        if max(abs(a - b) for a, b in zip(best[1], box["rect_mm"], strict=True)) > tolerance_mm:
            raise ForeignError(f"no target found for {box['field']}/{box['option']} at "
                               f"{box['rect_mm']}")
        out.setdefault(box["field"], []).append(best[0])
    return out
