"""Typed layouts for the readers: a layout JSON parsed once at the edge, then read by attribute.

The layout JSON's schema is `forms.layout_json.LayoutDoc` (pydantic). It stays in `forms`, the
lowest layer, which `omr` may import (pyproject.toml's contract: server > intake > tally >
omr | hardware > scanner > forms), so there is one model of the document, not two. What the
engine adds here is what a reader needs per page, computed once per layout instead of once per
page read: a `PageGeometry` holds its page's boxes as one (n, 4) float64 array of `rects_mm`
(read-only) and the boxes' fields in order; a foreign form's page also carries the reference
prepared for matching (`omr.foreign.attach_references`, in memory only, never serialised).

Where a layout enters - a spec compiled (`server/cli/omr.py:load_layouts`), a stored layout
read (`tally.references.reading_layouts`, for `intake`: parsed, then a foreign form's reference
images from the store attached), a simulated corpus - it is validated once
(`FormLayout.parse`); the pool's workers receive the typed values once at their start, and
nothing on the page path validates again. Frozen dataclasses: safe to share between threads and
cheap to pickle to a worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from forms.layout_json import BoxDoc, FieldDoc, LayoutDoc, PageDoc, RegionDoc


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class PageGeometry:
    """One page of a layout, with its box rectangles as one array (page mm, x y w h)."""

    doc: PageDoc
    #: (n, 4) float64, the boxes' `rect_mm` in layout order; read-only
    rects_mm: np.ndarray
    #: each box's field id, in layout order
    box_fields: tuple[str, ...]
    #: a foreign page's reference prepared for matching (`omr.reference.ReferenceModel`)
    reference: Any = None
    #: a foreign page's corner-marker image (uint8 grey), when its registration names markers
    marker_image: np.ndarray | None = None
    #: the reference's print in every box for the default settings: (settings, masks)
    print_masks: tuple[Any, Any] | None = None

    @classmethod
    def of(cls, doc: PageDoc) -> PageGeometry:
        rects = np.array([b.rect_mm for b in doc.boxes], np.float64).reshape(-1, 4)
        return cls(doc, _frozen(rects), tuple(b.field for b in doc.boxes))

    @property
    def number(self) -> int:
        return self.doc.page

    @property
    def boxes(self) -> list[BoxDoc]:
        return self.doc.boxes

    @property
    def regions(self) -> list[RegionDoc]:
        return self.doc.regions

    @property
    def foreign(self) -> bool:
        """Registered by a reference image (a form Scantally did not print)?"""
        return self.doc.registration is not None and self.doc.registration.kind == "reference"


@dataclass(frozen=True, eq=False)
class FormLayout:
    """A form's layout: the validated document and its pages' geometry by page number."""

    doc: LayoutDoc
    #: page number -> geometry, in layout order
    pages: Mapping[int, PageGeometry] = field(default_factory=dict)

    @classmethod
    def of(cls, doc: LayoutDoc) -> FormLayout:
        return cls(doc, {p.page: PageGeometry.of(p) for p in doc.pages})

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> FormLayout:
        """Validate a layout JSON document (pydantic `ValidationError` when it is not one)."""
        return cls.of(LayoutDoc.model_validate(raw))

    @property
    def id(self) -> str:
        return self.doc.form.id

    @property
    def hash(self) -> str:
        return self.doc.form.hash

    @property
    def fields(self) -> list[FieldDoc]:
        return self.doc.fields

    @property
    def foreign(self) -> bool:
        """Does this layout register by a reference image (a foreign form)?"""
        return any(p.foreign for p in self.pages.values())

    def with_pages(self, pages: Mapping[int, PageGeometry]) -> FormLayout:
        return replace(self, pages=dict(pages))


#: loaded layouts by form id: what `omr.engine.read_page` and `intake` take
Layouts = Mapping[str, FormLayout]


def parse_layouts(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, FormLayout]:
    """Layout JSON documents by form id (as stored, as compiled) -> typed layouts."""
    return {fid: FormLayout.parse(lay) for fid, lay in raw.items()}
