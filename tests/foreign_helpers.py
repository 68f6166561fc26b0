"""Test helpers for foreign forms: our example forms printed without our marks, learned back.

`foreign_form(name)` renders examples/<name>.yaml with no corner marks, QR code or serial,
learns its targets from that blank (`omr.learn`), names them after our own layout's boxes
(`forms.foreign.fields_from_layout`) and returns the foreign layout with its reference prepared.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium

from forms.foreign import ReferenceDoc, TargetDoc, TargetsDoc, fields_from_layout, foreign_layout
from forms.layout import compile_layout
from forms.load import load_spec
from forms.render import render_pdf
from forms.spec import ForeignGeometry
from omr.foreign import attach_references
from omr.layout import FormLayout
from omr.learn import find_targets
from tests.omr_helpers import EXAMPLES, layout

DPI = 200


@lru_cache(maxsize=6)
def _blank(name: str, dpi: int, page: int = 1) -> np.ndarray:
    compiled = compile_layout(load_spec(EXAMPLES / f"{name}.yaml"))
    pdf = pdfium.PdfDocument(render_pdf(compiled, "0" * 64, ["x"], machine_marks=False))
    try:
        return np.array(pdf[page - 1].render(scale=dpi / 72.0, grayscale=True).to_pil()
                        .convert("L"))
    finally:
        pdf.close()


def foreign_blank_page(name: str, page: int, dpi: int = DPI) -> np.ndarray:
    """Page `page` of examples/<name>.yaml printed as another printer would (grey uint8)."""
    return _blank(name, dpi, page).copy()


def foreign_blank(name: str, dpi: int = DPI) -> np.ndarray:
    """Page 1 of examples/<name>.yaml printed as another printer would (grey uint8)."""
    return _blank(name, dpi).copy()


@lru_cache(maxsize=4)
def _form(name: str) -> tuple[dict, FormLayout]:
    blank = _blank(name, DPI)
    targets = [TargetDoc(n=i, rect_mm=list(t.rect_mm), shape=t.shape, row=t.row, col=t.col)
               for i, t in enumerate(find_targets(blank, DPI), 1)]
    native = layout(name)
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    spec = spec.model_copy(update={"foreign": ForeignGeometry(
        reference="reference.png", fields=fields_from_layout(native, targets))})
    doc = TargetsDoc(reference=ReferenceDoc(image="reference.png", sha256="0" * 64, dpi=DPI,
                                            size_px=[blank.shape[1], blank.shape[0]]),
                     targets=targets)
    plain = foreign_layout(spec, doc)
    return plain, attach_references(FormLayout.parse(plain), {1: blank})


def foreign_layout_of(name: str) -> dict:
    """The foreign layout (JSON-ready, no reference model) of examples/<name>.yaml."""
    return _form(name)[0]


def foreign_form(name: str) -> FormLayout:
    """The foreign layout of examples/<name>.yaml with its reference prepared for reading."""
    return _form(name)[1]


def write_learned(name: str, folder: Path, form_id: str | None = None, pages: int = 1) -> Path:
    """A learned form's folder as `scantally form learn` leaves it once a person named its
    targets: reference.png (the blank printed without our marks; reference-p2.png … for the
    later `pages`), targets.json and form.yaml (examples/<name>.yaml with its `foreign:`
    section; `form_id` renames the form). The spec."""
    import cv2
    import yaml

    from forms.foreign import file_sha256
    from forms.skeleton import dump_yaml

    folder.mkdir(parents=True, exist_ok=True)
    targets: list[TargetDoc] = []
    references: list[ReferenceDoc] = []
    fields: dict[str, list[int]] = {}
    for page in range(1, pages + 1):
        blank = _blank(name, DPI, page)
        image = "reference.png" if page == 1 else f"reference-p{page}.png"
        cv2.imwrite(str(folder / image), blank)
        found = [TargetDoc(n=len(targets) + i, rect_mm=list(t.rect_mm), shape=t.shape,
                           row=t.row, col=t.col, page=page)
                 for i, t in enumerate(find_targets(blank, DPI), 1)]
        targets += found
        references.append(ReferenceDoc(image=image, sha256=file_sha256(folder / image),
                                       dpi=DPI, size_px=[blank.shape[1], blank.shape[0]]))
        fields |= fields_from_layout(layout(name), found, page=page)
    doc = TargetsDoc(reference=references[0], targets=targets, later_pages=references[1:])
    (folder / "targets.json").write_text(doc.dump(), encoding="utf-8")
    spec = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    if form_id:
        spec["id"] = form_id
    spec["foreign"] = {"reference": "reference.png", "targets": "targets.json",
                       "fields": fields}
    path = folder / "form.yaml"
    path.write_text(dump_yaml(spec), encoding="utf-8")
    return path


def marked_sheet(name: str, votes: list[tuple[str, str]], seed: int = 0, kind: str = "tick",
                 size: float = 1.0, page: int = 1, ink: int | None = None) -> np.ndarray:
    """Page `page` of examples/<name>.yaml (printed without our marks) with those of `votes`
    (field, option) that are on it marked by hand (`ink`: the pen's grey, default black)."""
    from tests import omr_helpers as H

    image = _blank(name, DPI, page).copy()
    doc = layout(name)  # our layout: the boxes are where the learned targets are
    on_page = {f["id"] for f in doc["fields"] if f["page"] == page}
    for i, (field, option) in enumerate(votes):
        if field in on_page:
            H.draw_mark(image, H.box_rect(doc, field, option, page), kind, dpi=DPI,
                        seed=seed * 100 + i, size=size,
                        **({} if ink is None else {"ink": ink}))
    return image
