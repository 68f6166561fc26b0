"""The acceptance deck of issue 11: an example form printed as another printer would, learned.

    .venv/bin/python -m tests.foreign_deck OUT [--form evaluation] [--sheets 500] [--workers 2]
        [--profile mixed|hard]

Writes OUT/form/ (the form learned from its blank printed without our marks:
`tests.foreign_helpers.write_learned`) and OUT/deck/ (`omr.sim.corpus.generate`, every
degradation of the mixed profile, its truth.json), then
`python -m tests.foreign_acceptance OUT/deck OUT/form/form.yaml` reads it.

The simulator prints our own sheets; here its printed page is drawn without corner marks,
timing marks, QR code or serial line - the same page `form render --without-marks` prints -
and, as there is no code to decode, every degradation plan is kept as drawn (the simulator
otherwise re-plans until the QR code decodes). Done by replacing those three steps of
`omr.sim` for this process (and its forked workers) only; nothing else of the simulator
changes. A `--without-marks` option of `scantally simulate` would make this a flag.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from reportlab.pdfgen.canvas import Canvas

import omr.sim.corpus as corpus
import omr.sim.template as template
from forms.plan import PagePlan
from tests import foreign_helpers as F
from tests.omr_helpers import EXAMPLES


def _without_marks() -> None:
    paint = template._paint_static

    def paint_plain(canvas: Canvas, plan: PagePlan, machine_marks: bool = True) -> None:
        paint(canvas, plan, False)

    def plain_sheet(self: template.PageTemplate, serial: str) -> np.ndarray:
        return self.image.copy()

    template._paint_static = paint_plain
    template.PageTemplate.sheet = plain_sheet  # type: ignore[method-assign]
    corpus.code_decodes = lambda *args, **kwargs: True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--form", default="evaluation")
    ap.add_argument("--sheets", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", default="mixed", help="degradations: mixed, clean or hard")
    args = ap.parse_args()
    spec = F.write_learned(args.form, args.out / "form")
    _without_marks()
    done = [0]

    def progress(n: int, total: int) -> None:
        if n % 50 == 0 or n == total:
            print(f"simulated {n}/{total}", flush=True)
        done[0] = n

    corpus.generate(EXAMPLES / f"{args.form}.yaml", args.out / "deck", args.sheets, args.seed,
                    workers=args.workers, progress=progress, profile=args.profile)
    print(f"learned form {spec}; deck {args.out / 'deck'} ({done[0]} sheets)")


if __name__ == "__main__":
    main()
