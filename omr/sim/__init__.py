"""Ballot simulator: printed sheets, marked as people mark them, degraded as scanners do.

`corpus.generate` writes N sheet images and `truth.json` (`truth.load_truth` reads it back);
`corpus.render_marked_page` draws one exact page from explicit marks and degradations. Modules:
`template` (pages rasterised once, QR pasted per sheet), `voters` (what each voter marks, by
ballot kind), `marks` (pens and mark shapes), `strays` (marks outside boxes), `sheet` (a form's
pages, and a planned page drawn), `degrade` (what scanners and people do, planned as recorded
operations) and `effects` (the image operations behind them), `files` (JPEG/PNG/TIFF output and
the QR check), `truth` (the ground-truth model and `load_truth`).
Test tooling only: it uses `forms` and image libraries; the engine in `omr` never imports it.
"""

from omr.sim.truth import PageTruth, SheetTruth, Truth, load_truth

__all__ = ["PageTruth", "SheetTruth", "Truth", "load_truth"]
