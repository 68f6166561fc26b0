"""OMR engine: a scanned page (numpy array) + the loaded layouts -> a reading (`omr.reading`).

Layouts arrive typed (`layout.FormLayout`: a `forms.layout_json.LayoutDoc` parsed once where it
enters, with each page's box rectangles as one array), never as JSON dicts.

`engine.read_page` reads one page: QR code (`code`) -> registration on the corner marks
(`register`; with marks lost, the code's corners and the printed box borders fix it: `refine`)
-> per-box ink, sampled through the homography with no page warp (`score`), scanner streaks and
folds erased (`lines`) -> empty / marked / doubtful with named thresholds and a certainty per box
(`decide`); a name on a write-in line whose box is empty is flagged for a person (`writein`).
Visible ink is never read as empty; a sure mark is sure on an absolute scale.
A card reader's mark bitmap is read through the form's reader grid (`card.read_card`, `grid`),
so every reading comes from this package. Pure functions over numpy arrays: no files, no
database, no globals, no processes (the one worker pool is `intake.pool`). `annotate` draws a
reading for a person; `accuracy` scores readings against a simulated corpus's truth.
Must not import `scanner`, `hardware`, `tally`, `intake` or `server`; `omr.sim` and
`omr.handsim` (an independent model of pens and scanners) are test tooling, not the engine, and
the engine never imports them.
Forms we did not print (no code, no corner marks): `foreign` registers a page on its blank's
reference image (`reference`: ORB + RANSAC, anchor refinement; or printed corner markers) and
reads it with the same scoring and decision code; `fingerprint` lets a sheet fed twice be
caught without a serial; `learn` finds the answer targets on a scanned blank.
"""
