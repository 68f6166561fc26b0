"""OMR engine: a scanned page (numpy array) + a layout -> a reading.

Pure functions over numpy arrays: registration (fiducials, QR code, homography), mark scoring
and the three-way decision (empty / marked / doubtful). No files, no database, no globals.
The edge is `omr.batch`: the process pool that decodes files (through `scanner.images`) and
runs the engine in parallel; it is the only module here that touches files.
`omr.sim` is the sheet simulator (marks as people make them, degradations as scanners do).
Must not import `tally`, `server` or `hardware`.
"""
