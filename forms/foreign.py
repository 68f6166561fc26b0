"""Foreign forms: a normal form spec whose boxes come from a scanned blank, not our compiler.

A foreign form's folder holds the spec (YAML, with a `foreign:` section), the reference image
of its blank, and `targets.json` (`scantally.targets/1`): every answer target found on the blank
(or imported from another tool), numbered in reading order, with its rectangle in page mm and
its shape. The spec's `foreign.fields` says which targets are which field's options; from these
`foreign_layout` makes an ordinary `scantally.layout/1` document whose page registers by the
reference image (`registration.kind: reference`), read by `omr` like any other.

A form of several pages has a blank per page (`TargetsDoc.later_pages`, added by `form learn
--add-page`); each target says its page, and a field is on the page of its targets.

Field ids are those our layout compiler gives (`spec_fields`), so `tally/` sees the same fields.
Knows nothing of images beyond their size and hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
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
    #: the page of the form it is printed on (a form of several pages: `TargetsDoc.later_pages`)
    page: int = Field(default=1, ge=1)


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
    #: the blanks of pages 2, 3, ... of a form of several pages (`reference` is page 1's);
    #: each page registers by its own
    later_pages: list[ReferenceDoc] = Field(default_factory=list)

    def page_reference(self, page: int) -> ReferenceDoc:
        return self.reference if page == 1 else self.later_pages[page - 2]

    @property
    def page_count(self) -> int:
        return 1 + len(self.later_pages)

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
    #: page -> its reference image (page 1: `reference_path`)
    page_references: dict[int, Path] = field(default_factory=dict)


def spec_fields(spec: FormSpec) -> list[FieldInfo]:
    """The fields of a spec with the ids and option order our layout compiler gives them
    (`forms.layout`), all on page 1 (`foreign_layout` puts each on the page of its targets)."""
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
    boxes: dict[int, list[dict]] = {k: [] for k in range(1, targets.page_count + 1)}
    for t in targets.targets:
        if t.page > targets.page_count:
            problems.append(f"target {t.n} is on page {t.page}, but the targets file has "
                            f"{targets.page_count} page(s) of reference")
    for i, f in enumerate(fields):
        numbers = spec.foreign.fields.get(f.id)
        if numbers is None:
            problems.append(f"foreign.fields: field {f.id} has no targets; list its "
                            f"{len(f.options)} target numbers")
            continue
        if len(numbers) != len(f.options):
            problems.append(f"foreign.fields.{f.id}: {len(numbers)} targets for "
                            f"{len(f.options)} options ({', '.join(f.options)})")
            continue
        pages = {by_n[n].page for n in numbers if n in by_n}
        if len(pages) > 1:
            problems.append(f"foreign.fields.{f.id}: its targets are on pages "
                            f"{', '.join(map(str, sorted(pages)))}; a field is on one page")
            continue
        page = pages.pop() if pages else 1
        fields[i] = replace(f, page=page)
        for n, option in zip(numbers, f.options, strict=True):
            if n not in by_n:
                problems.append(f"foreign.fields.{f.id}: target {n} does not exist (1.."
                                f"{len(targets.targets)})")
            elif n in used:
                problems.append(f"foreign.fields.{f.id}: target {n} is also {used[n]}")
            else:
                used[n] = f"{f.id}/{option}"
                t = by_n[n]
                boxes[page].append({"field": f.id, "option": option,
                                    "rect_mm": [round(float(v), 3) for v in t.rect_mm],
                                    "shape": t.shape})
    if problems:
        raise ForeignError("; ".join(problems))
    page_mm = _page_mm(targets.reference)
    for k in range(2, targets.page_count + 1):
        if max(abs(a - b) for a, b in zip(_page_mm(targets.page_reference(k)), page_mm,
                                          strict=True)) > 2.0:
            raise ForeignError(f"the reference of page {k} is "
                               f"{_page_mm(targets.page_reference(k))} mm, page 1's {page_mm} "
                               "mm: the pages of a form are one paper size")
    doc = {
        "schema": LAYOUT_SCHEMA,
        "form": {"id": spec.id, "kind": spec.kind, "title": spec.title, "hash": ""},
        "page_size_mm": page_mm,
        "pages": [{"page": k, "registration": _registration(spec, targets.page_reference(k),
                                                            page_mm),
                   "boxes": boxes[k], "regions": [], "timing_mm": []}
                  for k in range(1, targets.page_count + 1)],
        "fields": [
            {"id": f.id, "label": f.label, "page": f.page, "min": f.min, "max": f.max,
             "options": list(f.options), "group": f.group} | ({"person": f.person}
                                                              if f.person else {})
            for f in fields
        ],
    }
    doc["form"]["hash"] = layout_hash(doc)
    return doc


def _page_mm(ref: ReferenceDoc) -> list[float]:
    return [round(ref.size_px[0] * MM_PER_INCH / ref.dpi, 3),
            round(ref.size_px[1] * MM_PER_INCH / ref.dpi, 3)]


def _registration(spec: FormSpec, ref: ReferenceDoc, page_mm: list[float]) -> dict:
    """A page's `registration` (kind reference): its blank, and how to find the sheet."""
    assert spec.foreign is not None
    registration: dict = {"kind": "reference", "image": ref.image, "image_sha256": ref.sha256,
                          "dpi": ref.dpi, "size_px": list(ref.size_px)}
    if spec.foreign.page_edges:
        registration["page_edges"] = True
    if not spec.foreign.targets_shown:
        registration["targets_shown"] = False
    if spec.foreign.markers:
        w, h = page_mm
        registration["markers"] = {"image": spec.foreign.markers,
                                   "width_share": spec.foreign.marker_width_share,
                                   "centres_mm": [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]}
    return registration


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
    pages = {1: reference} | {k: base / targets.page_reference(k).image
                              for k in range(2, targets.page_count + 1)}
    for k, path in pages.items():
        if not path.is_file():
            raise ForeignError(f"{path}: the reference image of page {k} is missing")
        if file_sha256(path) != targets.page_reference(k).sha256:
            raise ForeignError(f"{path}: the image changed since its targets were found; "
                               "learn the form again")
    return ForeignForm(spec, targets, foreign_layout(spec, targets), reference, pages)


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
