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

**One sheet, device to hall screen** (issue 12: at most 12 functions in at most 12 files). A
function counts when the sheet's data (the `Sheet`, its encoded page, image, `Reading`,
`IngestResult`) is handed to it from another package, another thread or task, or - across the
store - when it carries the committed sheet into the hall's figures; a layer's own helpers
(the engine's registration and scoring below `read_page`, the pipeline's methods, the store's
internals) are inside their stage. `tests/test_intake_path.py` traces a real eSCL scan to the
published aggregate and holds the traced part (3-11 below) to this, with no forwarding wrapper:

  1. `server/routes/console.py:device_batch` - the console's scan button (starts the job)
  2. `server/intake.py:Intake.start_device` - opens the device and the batch, starts the run
  3. `scanner/escl.py:EsclSource.__iter__` - the scanner's pages, as sheets, not decoded
  4. `intake/pipeline.py:IntakePipeline._acquire` - onto the bounded queue, then the pool
  5. `omr/engine.py:read_page` - decoded once in the worker (`intake.work`), read
  6. `server/intake.py:Intake.ingest` - the web's ingest step, bound, not wrapped
  7. `tally/ingest.py:ingest_page` - stored and committed
  8. `intake/outcomes.py:Outcomes.note` - the job's counts for the console
  9. `server/hall.py:_Feed.run` - woken by the sheet's event
 10. `server/hall.py:compute_hall` - recomputes in a thread
 11. `tally/live.py:LiveResults.refresh` - the committed sheet into the live tally
 12. `server/routes/hall.py:hall_events.<locals>.stream` - the aggregate to the screen (SSE)

Twelve functions in ten files. (Counting every function that holds the sheet's data, helpers
included, the test reports about 60.)
"""
