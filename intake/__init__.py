"""The intake pipeline: the one road from any source to the store, and its one worker pool.

Files, folders, ZIPs, uploads, SANE, eSCL, card readers and recount all go the same way:
a source (`scanner`, `hardware`) hands over encoded pages or a card bitmap -> `intake.pool`
(one process pool; each page decoded once, in the worker, and read by `omr`) -> the caller's
`ingest` (by default `tally.ingest.ingest_page`), in feed order. The CLI (`scantally ingest`,
`scan`, `recount`, `read`, `bench`) and the web console both start it here. Its hard caps
(bytes, pages per PDF, frames per TIFF, pixels per page, …) are one settings object,
`intake.limits.IntakeLimits`; the console's jobs are kept in the store (`intake.jobs`) so that
a restart after a crash takes them up again or fails them cleanly.

Why a package of its own: it is the application layer that orchestrates devices -> omr ->
tally. Under `tally/` it would make the store import devices and processes; under `server/` the
CLI would import the web layer. Here it sits between them: it imports `tally`, `omr`, `scanner`
and `hardware`; nothing below imports it, and it never imports `server`. It holds no ballot
rule (that is `tally`) and no HTTP (that is `server`).
"""
