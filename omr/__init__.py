"""OMR engine: a scanned page (numpy array) + a layout -> a reading.

Pure functions over numpy arrays: registration (fiducials, QR code, homography), mark scoring
and the three-way decision (empty / marked / doubtful). No files, no database, no globals;
the process pool that runs it in parallel sits at the edge (`omr.batch`).
Must not import `tally`, `server`, `scanner` or `hardware`.
"""
