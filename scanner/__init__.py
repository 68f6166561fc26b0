"""Scanner: sheet-feed scanners (SANE, eSCL, watched folders) as a stream of sheets.

Turns devices and image files into `Sheet`s (front/back images, sequence number, device
metadata) and raises the typed errors of `scanner.errors`. Knows nothing of ballots: must not
import `omr`, `tally` or `server`.
"""
