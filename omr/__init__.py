"""OMR engine: a scanned page (numpy array) + the loaded layouts -> a reading (`omr.reading`).

`engine.read_page` reads one page: QR code (`code`) -> registration on the corner marks
(`register`) -> per-box ink, sampled through the homography with no page warp (`score`), scanner
streaks and folds erased (`lines`) -> empty / marked / doubtful with named thresholds (`decide`);
a name on a write-in line whose box is empty is flagged for a person (`writein`).
Pure functions over numpy arrays: no files, no database, no globals. The process pool that reads
files in parallel sits at the edge (`batch`, the only module that imports `scanner`); `annotate`
draws a reading for a person; `accuracy` scores readings against a simulated corpus's truth.
Forms we did not print (no code, no corner marks): `foreign` registers a page on its blank's
reference image (`reference`: ORB + RANSAC, anchor refinement; or printed corner markers) and
reads it with the same scoring and decision code; `fingerprint` lets a sheet fed twice be
caught without a serial; `learn` finds the answer targets on a scanned blank.
Must not import `tally`, `server` or `hardware`; `omr.sim` is test tooling, not the engine.
"""
