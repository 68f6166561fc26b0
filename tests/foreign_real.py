"""Figures of issue 11 on real scans nobody here made: the OMRChecker samples.

    .venv/bin/python -m tests.foreign_real [--verbose]

Each sheet with a truth in tests/fixtures/foreign/omrchecker_truth.json (written by looking at
it) is read through its imported `template.json` (and sample6 also through the template learned
from its reference.png, its targets named after the imported ones), and scored against the
truth: misreads (a bubble marked that the truth has empty, or a filled one read empty and not
sent to review), boxes sent to review, and the page's status. Prints one JSON line per sheet
and the totals.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
from typer.testing import CliRunner

from forms.load import load_spec
from omr.engine import read_page
from omr.layout import FormLayout
from server.cli import app
from server.cli.learn import foreign_doc, with_reference

REAL = Path("/work/shared/real/omrchecker")
SAMPLES = REAL / "samples"
TRUTH_PATH = Path(__file__).parent / "fixtures" / "foreign" / "omrchecker_truth.json"


@dataclass
class SheetFigures:
    sheet: str
    template: str
    status: str
    fields: int
    misreads: int = 0
    review: int = 0
    wrong: list[str] = field(default_factory=list)


def import_form(out: Path, template: Path, reference: Path | None = None
                ) -> dict[str, FormLayout]:
    args = ["form", "import-omrchecker", str(template), "-o", str(out)]
    if reference is not None:
        args += ["--reference", str(reference)]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise SystemExit(f"{template}: import failed: {result.output}")
    spec = load_spec(out / "form.yaml")
    layout = with_reference(out / "form.yaml", spec,
                            FormLayout.parse(foreign_doc(out / "form.yaml", spec)))
    return {layout.id: layout}


def score(layouts: dict[str, FormLayout], image: Path, truth: dict[str, str],
          template: str) -> SheetFigures:
    reading = read_page(cv2.imread(str(image), cv2.IMREAD_COLOR)[:, :, ::-1], layouts,
                        source=image.name)
    out = SheetFigures(str(image.relative_to(SAMPLES)), template, reading.status, len(truth))
    if not reading.marks:
        out.wrong.append(reading.reason)
        return out
    for name, want in truth.items():
        m = reading.marks[f"pos.{name}"]
        want_set = set(want)
        extra = set(m.marked) - want_set
        missed = want_set - set(m.marked) - set(m.doubtful)
        out.misreads += len(extra) + len(missed)
        out.review += len(m.doubtful)
        if extra or missed:
            out.wrong.append(f"{name}: truth {want or '-'}, read {''.join(m.marked) or '-'}"
                             f"{' (review ' + ''.join(m.doubtful) + ')' if m.doubtful else ''}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    truth = json.loads(TRUTH_PATH.read_text("utf-8"))
    umar = SAMPLES / "community" / "UmarFarootAPS"
    runs = [
        ("sample6/template_fb_align.json", None, sorted((SAMPLES / "sample6" / "doc-scans")
                                                        .glob("*.jpg"))),
        ("sample3/colored-thick-sheet/template.json",
         SAMPLES / "sample3/colored-thick-sheet/rgb-100-gsm.jpg",
         [SAMPLES / "sample3/colored-thick-sheet/rgb-100-gsm.jpg"]),
        ("sample3/xeroxed-thin-sheet/template.json",
         SAMPLES / "sample3/xeroxed-thin-sheet/grayscale-80-gsm.jpg",
         [SAMPLES / "sample3/xeroxed-thin-sheet/grayscale-80-gsm.jpg"]),
        ("community/UmarFarootAPS/template.json", umar / "scans" / "scan-type-1.jpg",
         [umar / "scans" / "scan-type-1.jpg", umar / "scans" / "scan-type-2.jpg"]),
    ]
    figures: list[SheetFigures] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (template, reference, images) in enumerate(runs):
            layouts = import_form(Path(tmp) / f"f{n}", SAMPLES / template, reference)
            for image in images:
                key = str(image.relative_to(REAL))
                figures.append(score(layouts, image, truth[key], template))
                line = asdict(figures[-1])
                if not args.verbose:
                    line.pop("wrong")
                print(json.dumps(line, ensure_ascii=False), flush=True)
    total = {"sheets": len(figures), "fields": sum(f.fields for f in figures),
             "misreads": sum(f.misreads for f in figures),
             "review": sum(f.review for f in figures),
             "refused": sum(f.status not in ("ok", "review", "blank") for f in figures)}
    print(json.dumps({"total": total}))


if __name__ == "__main__":
    main()
