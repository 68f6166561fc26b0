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


SAMPLE6 = SAMPLES / "sample6"
SAMPLE6_SCANS = sorted((SAMPLE6 / "doc-scans").glob("*.jpg"))
#: the imported template's bubbles lie on reference.png, at this resolution
SAMPLE6_REFERENCE_DPI = 300


@dataclass
class LearnedSample6:
    """sample6 learned from its three filled scans (no blank of it exists: its reference.png
    was cleared of all but the 4 Stu bubbles for feature matching, as its readme says)."""

    layouts: dict[str, FormLayout]
    #: targets `form learn` found, and bubbles in the imported template.json
    found: int
    bubbles: int
    #: the template's bubbles (field/value) no learned target matched
    unmatched: list[str]


def learn_sample6(out: Path) -> LearnedSample6:
    """`scantally form learn` on sample6's scans (`--also`), its targets then named after the
    imported template's bubbles (laid onto the learned frame by `omr.learn.align_sheets`: the
    edit of form.yaml a person would make), checked by `form check`, loaded for reading."""
    import numpy as np
    import yaml

    from forms.foreign import TargetsDoc
    from omr.learn import align_sheets

    learned, imported = out / "learned", out / "imported"
    args = ["form", "learn", str(SAMPLE6_SCANS[0]), "--dpi", "200", "-o", str(learned)]
    for extra in SAMPLE6_SCANS[1:]:
        args += ["--also", str(extra)]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        raise SystemExit(f"sample6: learn failed: {result.output}")
    result = CliRunner().invoke(app, ["form", "import-omrchecker",
                                      str(SAMPLE6 / "template_fb_align.json"), "-o",
                                      str(imported)])
    if result.exit_code != 0:
        raise SystemExit(f"sample6: import failed: {result.output}")
    got = TargetsDoc.model_validate_json((learned / "targets.json").read_text("utf-8"))
    want = TargetsDoc.model_validate_json((imported / "targets.json").read_text("utf-8"))
    spec = yaml.safe_load((imported / "form.yaml").read_text("utf-8"))
    # the imported bubbles (reference.png px) laid onto the learned frame (the first scan)
    learn_dpi = got.reference.dpi
    ref = cv2.imread(str(SAMPLE6 / "reference.png"), cv2.IMREAD_GRAYSCALE)
    f = learn_dpi / SAMPLE6_REFERENCE_DPI
    ref = cv2.resize(ref, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    frame = cv2.imread(str(learned / "reference.png"), cv2.IMREAD_GRAYSCALE)
    h = align_sheets(ref, frame, learn_dpi)
    k = learn_dpi / 25.4
    centres = np.array([(t.rect_mm[0] + t.rect_mm[2] / 2, t.rect_mm[1] + t.rect_mm[3] / 2)
                        for t in got.targets])
    by_n = {t.n: t for t in want.targets}
    fields: dict[str, list[int]] = {}
    unmatched = []
    for position in spec["recommendation"]["positions"]:
        name = f"pos.{position['id']}"
        kept = []
        numbers = spec["foreign"]["fields"][name]
        for candidate, n in zip(position["candidates"], numbers, strict=True):
            x, y, w, hh = by_n[n].rect_mm
            p = h @ np.array([(x + w / 2) * k, (y + hh / 2) * k, 1.0])
            d = np.hypot(*(centres - p[:2] / p[2] / k).T)
            j = int(np.argmin(d))
            if d[j] > 1.5:
                unmatched.append(f"{position['id']}/{candidate['id']}")
                continue
            kept.append(candidate)
            fields.setdefault(name, []).append(got.targets[j].n)
        position["candidates"] = kept
    spec["foreign"] = {"reference": "reference.png", "targets": "targets.json",
                       "fields": fields}
    (learned / "form.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True,
                                                      sort_keys=False), "utf-8")
    result = CliRunner().invoke(app, ["form", "check", str(learned / "form.yaml")])
    if result.exit_code != 0:
        raise SystemExit(f"sample6: form check failed: {result.output}")
    spec_path = learned / "form.yaml"
    loaded = load_spec(spec_path)
    layout = with_reference(spec_path, loaded, FormLayout.parse(foreign_doc(spec_path, loaded)))
    return LearnedSample6({layout.id: layout}, len(got.targets), len(want.targets), unmatched)


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
        learned = learn_sample6(Path(tmp) / "learned6")
        print(json.dumps({"sample6_learned": {"targets": learned.found,
                                              "template_bubbles": learned.bubbles,
                                              "unmatched": learned.unmatched}}))
        for image in SAMPLE6_SCANS:
            # the Stu 'A' is printed solid on the form (the truth's note): no target to learn
            truth_of = {**truth[str(image.relative_to(REAL))], "stu": ""}
            figures.append(score(learned.layouts, image, truth_of, "sample6 learned"))
            line = asdict(figures[-1])
            if not args.verbose:
                line.pop("wrong")
            print(json.dumps(line, ensure_ascii=False), flush=True)
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
