"""`scantally form import-omrchecker TEMPLATE -o DIR`: an OMRChecker template as a foreign form.

The template's bubbles become numbered targets and its fields positions of a spec
(`forms.omrchecker`); the reference image is the template's own (`FeatureBasedAlignment`) or
a scan given with --reference, brought into the template's page by the template's page
finding (`CropPage`: the sheet's edges; `CropOnMarkers`: its four markers). The bubbles are
erased from the reference (paper), so a mark on that scan is never taken for print.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from forms.foreign import TargetDoc
from forms.omrchecker import TemplateError, convert, spec_doc
from forms.skeleton import dump_yaml
from server.cli.common import console, fail, write_atomic
from server.cli.learn import REFERENCE_NAME, SPEC_NAME, TARGETS_NAME, write_form

MARKER_NAME = "marker.png"
#: bubbles are erased from the reference with this share of their size around them
ERASE_MARGIN_SHARE = 0.2


def _grey(path: Path):
    import cv2

    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        fail(f"{path}: cannot read or decode this image")
    return grey


def template_reference(imported, template_dir: Path, reference: Path | None):
    """The reference image in the template's page pixels (uint8 grey), bubbles erased."""
    import cv2
    import numpy as np

    from omr.reference import find_markers, find_page_quad

    w, h = (round(v) for v in imported.page_px)
    if imported.reference and reference is None:
        grey = cv2.resize(_grey(template_dir / imported.reference), (w, h),
                          interpolation=cv2.INTER_AREA)
    elif reference is None:
        fail("the template has no reference image (FeatureBasedAlignment); give a scan of "
             "the sheet with --reference")
    else:
        grey = _grey(reference)
        corners = None
        if imported.markers:
            marker_path = template_dir / str(imported.markers.get("relativePath", ""))
            ratio = float(imported.markers.get("sheetToMarkerWidthRatio", 17))
            corners = find_markers(grey, _grey(marker_path), 1.0 / ratio)
            if corners is None:
                fail(f"{reference}: the four corner markers of {marker_path.name} are not found")
        elif imported.page_edges:
            corners = find_page_quad(grey)
            if corners is None:
                fail(f"{reference}: the sheet's edges are not found on its background")
        if corners is None:
            grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
        else:
            page = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
            m = cv2.getPerspectiveTransform(corners.astype(np.float32), page)
            grey = cv2.warpPerspective(grey, m, (w, h), flags=cv2.INTER_AREA,
                                       borderValue=255)
    paper = int(np.percentile(grey[::4, ::4], 90))
    for _, x, y, bw, bh in imported.bubbles:
        mx, my = ERASE_MARGIN_SHARE * bw, ERASE_MARGIN_SHARE * bh
        cv2.rectangle(grey, (round(x - mx), round(y - my)), (round(x + bw + mx),
                                                             round(y + bh + my)), paper, -1)
    return grey


def import_omrchecker(
    template: Annotated[Path, typer.Argument(help="OMRChecker template.json",
                                             show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder to write the form to")],
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="a scan of the sheet, when the template has no reference image")
    ] = None,
    dpi: Annotated[float | None, typer.Option(
        "--dpi", help="the template's pixels per inch (default: its page taken as A4 or "
                      "Letter)")] = None,
    form_id: Annotated[str, typer.Option("--id", help="form id of the spec")] = "omrchecker",
    force: Annotated[bool, typer.Option("--force", help="replace a form in the folder")] = False,
) -> None:
    """Import an OMRChecker template.json as a foreign form (spec, targets, reference)."""
    import cv2

    try:
        imported = convert(json.loads(template.read_text("utf-8")), dpi)
    except (OSError, ValueError) as exc:  # TemplateError and JSON errors are ValueErrors
        kind = "cannot import it" if isinstance(exc, TemplateError) else "cannot read it"
        fail(f"{template}: {kind}: {exc}")
    grey = template_reference(imported, template.parent, reference)
    targets = [TargetDoc(n=n, rect_mm=imported.rect_mm(x, y, w, h), shape="ellipse")
               for n, x, y, w, h in imported.bubbles]
    markers = None
    if imported.markers:  # the marker image goes with the form
        output.mkdir(parents=True, exist_ok=True)
        markers = MARKER_NAME
        _, png = cv2.imencode(".png", _grey(template.parent / str(
            imported.markers.get("relativePath", ""))))
        write_atomic(output / MARKER_NAME, png.tobytes())
    doc = spec_doc(imported, form_id=form_id, source=template.parent.name,
                   day=dt.date.today().isoformat(), reference=REFERENCE_NAME,
                   targets=TARGETS_NAME, markers=markers)
    notes = [f"# 由 `scantally form import-omrchecker` 从 {template.name} 导入：每个 OMRChecker "
             "字段是一个限选 1 项的职位。",
             f"# Imported from OMRChecker {template.parent.name}/{template.name} at "
             f"{imported.dpi:.1f} dpi; each OMRChecker field is a position of quota 1."]
    for name, labels in imported.custom_labels.items():
        notes.append(f"# customLabels {name} = {' + '.join(labels)} (joined by the reader of "
                     "the export, not here)")
    if imported.ignored:
        notes.append(f"# pre-processors not used (Scantally normalises by itself): "
                     f"{', '.join(imported.ignored)}")
    write_form(output, grey, imported.dpi, targets, "\n".join(notes) + "\n" + dump_yaml(doc),
               force)
    console.print(f"imported {len(imported.fields)} fields, {len(targets)} bubbles into "
                  f"{output / SPEC_NAME}")
