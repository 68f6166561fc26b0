"""Scanner: sheet-feed scanners (SANE, eSCL, watched folders) as a stream of sheets.

Turns devices and image files into `Sheet`s (front/back pages handed over encoded, as
delivered: `pages.EncodedPage`, decoded once by an OMR worker; a sequence number; typed fields)
and raises the typed errors of `scanner.errors`; `images` decodes. Knows nothing of ballots:
must not import `omr`, `hardware`, `tally`, `intake` or `server` (the URI opener that knows
every kind of device is `intake.devices`).
"""
