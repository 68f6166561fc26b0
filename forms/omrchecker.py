"""Import an OMRChecker `template.json` (github.com/Udayraj123/OMRChecker, MIT) as a foreign form.

OMRChecker describes a sheet in the pixels of its page after its pre-processors
(`pageDimensions`): field blocks of bubble grids, each with an origin, the gap between the
bubbles of a field (`bubblesGap`) and between fields (`labelsGap`), a direction (horizontal:
a field's bubbles run left to right), field labels with ranges (`q1..10`), bubble values given
or set by a field type (`QTYPE_INT` 0-9, `QTYPE_MCQ4` A-D, ...), and custom labels that join
fields into one answer (a roll number). Its pre-processors say how a page is found: `CropPage`
(the sheet's edges on a dark background), `CropOnMarkers` (four corner markers),
`FeatureBasedAlignment` (a reference image).

`convert` turns it into numbered targets (ellipses, page mm at `dpi`) and a spec: one
recommendation position of quota 1 per OMRChecker field (its bubble values as candidates) -
an answer sheet's "one bubble per question" is the same rule as 限推 1 人. Pure: no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MM_PER_INCH = 25.4
A4_MM = (210.0, 297.0)
LETTER_MM = (215.9, 279.4)

#: OMRChecker's built-in field types: bubble values and direction
FIELD_TYPES: dict[str, tuple[list[str], str]] = {
    "QTYPE_INT": ([str(d) for d in range(10)], "vertical"),
    "QTYPE_INT_FROM_1": ([str(d) for d in [*range(1, 10), 0]], "vertical"),
    "QTYPE_MCQ4": (["A", "B", "C", "D"], "horizontal"),
    "QTYPE_MCQ5": (["A", "B", "C", "D", "E"], "horizontal"),
}
_RANGE = re.compile(r"^(?P<prefix>[^\d.]*?)(?P<start>\d+)\.\.(?P<end>\d+)$")
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class TemplateError(ValueError):
    """The template cannot be imported; the message names the block and key."""


@dataclass
class ImportedField:
    label: str  # OMRChecker's field label (q1, roll3)
    block: str
    values: list[str]
    #: target numbers, one per value
    targets: list[int] = field(default_factory=list)


@dataclass
class ImportedTemplate:
    page_px: tuple[float, float]
    dpi: float
    #: (n, x, y, w, h) in template px; n numbers the bubbles in template order
    bubbles: list[tuple[int, float, float, float, float]]
    fields: list[ImportedField]
    custom_labels: dict[str, list[str]]
    #: registration hints from the pre-processors
    page_edges: bool = False
    markers: dict | None = None
    reference: str | None = None
    ignored: list[str] = field(default_factory=list)

    def rect_mm(self, x: float, y: float, w: float, h: float) -> list[float]:
        k = MM_PER_INCH / self.dpi
        return [round(x * k, 3), round(y * k, 3), round(w * k, 3), round(h * k, 3)]


def expand_labels(labels: list[str]) -> list[str]:
    """OMRChecker field labels with ranges expanded: ["q1..3", "x"] -> q1, q2, q3, x."""
    out = []
    for label in labels:
        m = _RANGE.match(label)
        if m:
            a, b = int(m["start"]), int(m["end"])
            step = 1 if b >= a else -1
            out.extend(f"{m['prefix']}{i}" for i in range(a, b + step, step))
        else:
            out.append(label)
    return out


def guess_dpi(page_px: tuple[float, float]) -> float:
    """The template's resolution, taking the page for A4 or US Letter by its aspect (A4 width
    otherwise)."""
    w, h = page_px
    aspect = h / w
    if abs(aspect - LETTER_MM[1] / LETTER_MM[0]) < abs(aspect - A4_MM[1] / A4_MM[0]) - 0.01:
        return w / (LETTER_MM[0] / MM_PER_INCH)
    return w / (A4_MM[0] / MM_PER_INCH)


def convert(template: dict, dpi: float | None = None) -> ImportedTemplate:
    """Bubbles and fields of an OMRChecker template dict; TemplateError naming what is wrong."""
    try:
        page_px = (float(template["pageDimensions"][0]), float(template["pageDimensions"][1]))
        bubble = template.get("bubbleDimensions", [20, 20])
        blocks = template["fieldBlocks"]
    except (KeyError, IndexError, TypeError) as exc:
        raise TemplateError(f"not an OMRChecker template: missing {exc}") from None
    out = ImportedTemplate(page_px, dpi or guess_dpi(page_px), [], [],
                           {k: expand_labels(v) for k, v in
                            (template.get("customLabels") or {}).items()})
    n = 0
    for name, block in blocks.items():
        ftype = block.get("fieldType")
        if "bubbleValues" in block:
            values = [str(v) for v in block["bubbleValues"]]
            direction = block.get("direction", "horizontal")
        elif ftype in FIELD_TYPES:
            values, direction = FIELD_TYPES[ftype]
            direction = block.get("direction", direction)
        else:
            raise TemplateError(f"fieldBlocks.{name}: fieldType {ftype!r} is not known and no "
                                "bubbleValues are given")
        try:
            x0, y0 = (float(v) for v in block["origin"])
            bubbles_gap = float(block["bubblesGap"])
            labels_gap = float(block["labelsGap"])
            labels = expand_labels(list(block["fieldLabels"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateError(f"fieldBlocks.{name}: missing or bad {exc}") from None
        bw, bh = (float(v) for v in block.get("bubbleDimensions", bubble))
        for i, label in enumerate(labels):
            f = ImportedField(label, name, list(values))
            for j in range(len(values)):
                if direction == "vertical":
                    x, y = x0 + i * labels_gap, y0 + j * bubbles_gap
                else:
                    x, y = x0 + j * bubbles_gap, y0 + i * labels_gap
                n += 1
                out.bubbles.append((n, x, y, bw, bh))
                f.targets.append(n)
            out.fields.append(f)
    for step in template.get("preProcessors") or []:
        kind, options = step.get("name"), step.get("options") or {}
        if kind == "CropPage":
            out.page_edges = True
        elif kind == "CropOnMarkers":
            out.markers = dict(options)
        elif kind == "FeatureBasedAlignment":
            out.reference = options.get("reference")
        else:
            out.ignored.append(str(kind))  # Levels, GaussianBlur, MedianBlur: ours differ
    return out


def field_id(label: str) -> str:
    """A spec id from an OMRChecker label."""
    text = _ID_CHARS.sub("_", label).strip("_") or "field"
    return text[:40] if text[0].isalnum() else ("f" + text)[:40]


def spec_doc(imported: ImportedTemplate, *, form_id: str, source: str, day: str,
             reference: str, targets: str, markers: str | None = None) -> dict:
    """The spec (a dict for YAML) of an imported template: a position of quota 1 per field."""
    positions, fields, seen = [], {}, set()
    for f in imported.fields:
        pid = field_id(f.label)
        while pid in seen:
            pid = field_id(pid + "_")
        seen.add(pid)
        cands, ids = [], set()
        for v in f.values:
            cid = field_id(v)
            while cid in ids:
                cid += "_"
            ids.add(cid)
            cands.append({"id": cid, "name": v[:12] or cid})
        positions.append({"id": pid, "title": f.label[:60], "quota": 1, "writein_lines": 0,
                          "candidates": cands})
        fields[f"pos.{pid}"] = list(f.targets)
    return {
        "schema": "scantally.form/1",
        "id": form_id,
        "kind": "recommendation",
        "title": "导入的答题卡",
        "header": {"unit": "待填写单位", "meeting": f"OMRChecker 模板 {source}"[:80], "date": day},
        "instructions": "每题只涂一个选项。",
        "recommendation": {"title": "答题", "positions": positions},
        "foreign": {"reference": reference, "targets": targets,
                    "page_edges": imported.page_edges, "targets_shown": False,
                    "fields": fields} | ({"markers": markers, "marker_width_share": round(
                        1.0 / float(imported.markers.get("sheetToMarkerWidthRatio", 17)), 6)}
                        if markers and imported.markers else {}),
    }
