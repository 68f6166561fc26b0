"""Hardware: serial OMR card readers (Sekonic-style and framed CRC protocols) and simulators.

Speaks to a reader over pyserial and yields mark bitmaps with the typed errors of
`scanner.errors`. Knows nothing of ballots beyond the reader grid: must not import `tally` or
`server`.
"""
