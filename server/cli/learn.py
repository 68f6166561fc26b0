"""`scantally form learn|import-omrchecker`: forms Scantally did not print (`forms.foreign`).

`form learn BLANK -o DIR` finds the answer targets on a scanned blank and writes DIR/form.yaml
(a spec skeleton, every target numbered), DIR/targets.json, DIR/reference.png (the blank, grey),
DIR/layout.json and DIR/overlay.png. `form check DIR/form.yaml` (in `server.cli.form`) validates
a foreign spec through `check_foreign` and draws the overlay again. The readers load a foreign
spec through `foreign_doc` and `with_reference` (the reference image prepared for `omr`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from forms.foreign import (
    ForeignError,
    ReferenceDoc,
    TargetDoc,
    TargetsDoc,
    file_sha256,
    load_foreign,
    unused_targets,
)
from forms.spec import FormSpec
from omr.layout import FormLayout
from server.cli.common import console, fail, write_atomic

if TYPE_CHECKING:
    import numpy as np

    from omr.learn import Target

SPEC_NAME = "form.yaml"
REFERENCE_NAME = "reference.png"
TARGETS_NAME = "targets.json"
LAYOUT_NAME = "layout.json"
OVERLAY_NAME = "overlay.png"


def foreign_doc(spec_path: Path, spec: FormSpec) -> dict:
    """The layout JSON of a foreign spec, or exit 2 naming what to fix."""
    try:
        return load_foreign(spec_path, spec).layout
    except ForeignError as exc:
        fail(f"{spec_path}: {exc}")


def with_reference(spec_path: Path, spec: FormSpec, layout: FormLayout) -> FormLayout:
    """The layout with its reference image prepared for the readers (in memory only)."""
    import cv2

    from omr.foreign import attach_references

    form = load_foreign(spec_path, spec)
    greys = {}
    for page, path in (form.page_references or {1: form.reference_path}).items():
        greys[page] = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if greys[page] is None:
            fail(f"{path}: cannot decode the reference image")
    markers = {}
    if spec.foreign and spec.foreign.markers:
        path = spec_path.parent / spec.foreign.markers
        marker = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if marker is None:
            fail(f"{path}: cannot decode the marker image")
        markers[1] = marker
    return attach_references(layout, greys, markers=markers)


def _load_blank(path: Path, dpi: float | None, page: int):
    from omr.engine import as_grey
    from scanner.pages import plan_pages

    try:  # the file's pages from its structure; only the one asked for is decoded
        pages = list(plan_pages(str(path), path=path, pdf_dpi=dpi or 200))
        if not 1 <= page <= len(pages):
            fail(f"{path}: has {len(pages)} page(s); --page {page} is not one of them")
        p = pages[page - 1].decode()
    except OSError as exc:
        fail(f"{path}: cannot read it: {exc}")
    if not p.ok:
        fail(f"{p.source}: {p.error}")
    grey = as_grey(p.image)
    if grey is None:
        fail(f"{p.source}: not a grey or colour image")
    use_dpi = dpi or p.dpi
    if not use_dpi:
        fail(f"{path}: the image does not say its resolution; give --dpi")
    return grey, float(use_dpi)


def write_form(out: Path, grey, dpi: float, targets: list[TargetDoc], spec_text: str,
               force: bool) -> None:
    """Write reference, targets, spec, layout and overlay of a foreign form into `out`."""
    import cv2

    from forms.load import parse_spec

    if (out / SPEC_NAME).exists() and not force:
        fail(f"{out / SPEC_NAME} exists; choose another folder or pass --force")
    out.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", grey)
    assert ok
    write_atomic(out / REFERENCE_NAME, png.tobytes())
    doc = TargetsDoc(reference=ReferenceDoc(
        image=REFERENCE_NAME, sha256=file_sha256(out / REFERENCE_NAME), dpi=dpi,
        size_px=[grey.shape[1], grey.shape[0]]), targets=targets)
    write_atomic(out / TARGETS_NAME, doc.dump())
    write_atomic(out / SPEC_NAME, spec_text)
    spec = parse_spec(spec_text, str(out / SPEC_NAME))
    check_foreign(out / SPEC_NAME, spec)


def check_foreign(spec_path: Path, spec: FormSpec) -> dict:
    """Validate a foreign spec against its targets, write its layout.json and overlay.png, and
    summarise; exit 2 naming what to fix."""
    import cv2

    from omr.learn import overlay

    try:
        form = load_foreign(spec_path, spec)
    except ForeignError as exc:
        fail(f"{spec_path}: {exc}")
    base = spec_path.parent
    unused = set(unused_targets(spec, form.targets))
    written = []
    for page in form.layout["pages"]:
        k = page["page"]
        path = (form.page_references or {1: form.reference_path})[k]
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            fail(f"{path}: cannot decode the reference image")
        named = {tuple(box["rect_mm"]): f"{box['field'].split('.')[-1]}/{box['option']}"
                 for box in page["boxes"]}
        ts = [t for t in form.targets.targets if t.page == k]
        labels = [f"{t.n} " + named.get(tuple(round(v, 3) for v in t.rect_mm), "") for t in ts]
        image = overlay(grey, form.targets.page_reference(k).dpi,
                        [tuple(t.rect_mm) for t in ts], labels, [t.shape for t in ts],
                        {i for i, t in enumerate(ts) if t.n in unused})
        ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert ok
        name = OVERLAY_NAME if k == 1 else OVERLAY_NAME.replace(".png", f"-p{k}.png")
        write_atomic(base / name, png.tobytes())
        written.append(str(base / name))
    write_atomic(base / LAYOUT_NAME, json.dumps(form.layout, ensure_ascii=False, indent=1) + "\n")
    ts = form.targets.targets
    fields = form.layout["fields"]
    console.print(
        f"[green]ok[/] {escape(str(spec_path))}: foreign {spec.kind} form, {len(fields)} fields, "
        f"{sum(len(p['boxes']) for p in form.layout['pages'])} boxes of {len(ts)} targets on "
        f"{len(form.layout['pages'])} page(s), layout {form.layout['form']['hash'][:12]}; wrote "
        f"{base / LAYOUT_NAME}, {', '.join(written)}")
    if unused:
        console.print(f"[yellow]note[/]: targets {', '.join(map(str, sorted(unused)))} belong to "
                      "no field (orange in the overlay): add them to foreign.fields, or ignore "
                      "them if they are not answer boxes")
    return form.layout


def learn(
    blank: Annotated[Path, typer.Argument(help="scanned blank: image or PDF", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder to write the form to")],
    dpi: Annotated[float | None, typer.Option("--dpi", help="the blank's resolution, when its "
                                                            "file does not say")] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="page of a PDF or TIFF")] = 1,
    form_id: Annotated[str, typer.Option("--id", help="form id of the spec")] = "learned-form",
    page_edges: Annotated[bool, typer.Option(
        "--page-edges", help="sheets will be read on a dark background")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace a form in the folder")] = False,
    add_page: Annotated[bool, typer.Option(
        "--add-page", help="BLANK is the next page of the form learned in the folder: add its "
        "targets (numbered on), keep the spec")] = False,
    also: Annotated[list[Path] | None, typer.Option(
        "--also", help="another filled sheet of the form, when no blank is at hand (repeat it): "
        "a box marked on one sheet is found empty on another, and the reference keeps each "
        "pixel's lightest")] = None,
) -> None:
    """Learn a form from a scanned blank: find its answer targets, write a spec skeleton."""
    from forms.skeleton import skeleton_spec
    from omr.learn import find_targets

    grey, use_dpi = _load_blank(blank, dpi, page)
    if also:
        grey, found = _learn_from_sheets(blank, grey, use_dpi, also, dpi)
    else:
        found = find_targets(grey, use_dpi)
    if not found:
        fail(f"{blank}: no answer targets found (squares, rectangles, circles, ovals with an "
             "empty inside); check the scan is a blank form at its real resolution")
    if add_page:
        _add_page(output, grey, use_dpi, found)
        return
    targets = [TargetDoc(n=i, rect_mm=list(t.rect_mm), shape=t.shape, row=t.row, col=t.col)
               for i, t in enumerate(found, 1)]
    rows: dict[int, list[int]] = {}
    for t in targets:
        rows.setdefault(t.row or 0, []).append(t.n)
    source = blank.name + (f" + {len(also)} more filled sheet(s)" if also else "")
    text = skeleton_spec(list(rows.values()), form_id=form_id, source=source,
                         page_edges=page_edges)
    write_form(output, grey, use_dpi, targets, text, force)
    shapes = sorted({t.shape for t in targets})
    console.print(f"learned {len(targets)} targets ({', '.join(shapes)}) in {len(rows)} rows; "
                  f"edit {output / SPEC_NAME} and run `scantally form check` on it")


def _learn_from_sheets(first: Path, grey: np.ndarray, dpi: float, others: list[Path],
                       given_dpi: float | None) -> tuple[np.ndarray, list[Target]]:
    """Targets and reference of a form learned from filled sheets (`omr.learn`)."""
    import cv2

    from omr.learn import AlignError, learn_from_sheets

    sheets = [grey]
    for path in others:
        other, other_dpi = _load_blank(path, given_dpi, 1)
        if abs(other_dpi - dpi) > 0.5:  # laid on the first sheet's pixels
            f = dpi / other_dpi
            other = cv2.resize(other, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        sheets.append(other)
    try:
        return learn_from_sheets(sheets, dpi)
    except AlignError as exc:
        fail(f"{others[exc.sheet - 2]}: cannot lay it on {first.name} ({exc}); give only sheets of "
             "one form")


def _add_page(out: Path, grey: np.ndarray, dpi: float, found: list[Target]) -> None:
    """Add a page to the form learned in `out`: its blank as reference-p<k>.png, its targets
    numbered after the others (on page k) in targets.json; the spec is left for a person to
    name them in (`foreign.fields`)."""
    import cv2

    from forms.load import load_spec

    spec_path = out / SPEC_NAME
    if not spec_path.is_file():
        fail(f"{spec_path}: no learned form in {out}; learn its first page without --add-page")
    spec = load_spec(spec_path)
    try:
        form = load_foreign(spec_path, spec)
    except ForeignError as exc:
        fail(f"{spec_path}: {exc}")
    k = form.targets.page_count + 1
    image = f"reference-p{k}.png"
    ok, png = cv2.imencode(".png", grey)
    assert ok
    write_atomic(out / image, png.tobytes())
    first = max((t.n for t in form.targets.targets), default=0) + 1
    added = [TargetDoc(n=first + i, rect_mm=list(t.rect_mm), shape=t.shape, row=t.row,
                       col=t.col, page=k) for i, t in enumerate(found)]
    doc = form.targets.model_copy(update={
        "targets": [*form.targets.targets, *added],
        "later_pages": [*form.targets.later_pages, ReferenceDoc(
            image=image, sha256=file_sha256(out / image), dpi=dpi,
            size_px=[grey.shape[1], grey.shape[0]])]})
    write_atomic(out / TARGETS_NAME, doc.dump())
    last = first + len(added) - 1
    console.print(f"page {k}: learned {len(added)} targets, numbered {first}-{last}; name "
                  f"them in {spec_path} (foreign.fields) and run `scantally form check`")
    check_foreign(spec_path, spec)
