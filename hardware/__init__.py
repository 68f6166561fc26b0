"""Hardware: serial OMR card readers (Sekonic-style and framed CRC protocols) and simulators.

Speaks to a reader over pyserial and yields mark bitmaps with the typed errors of
`scanner.errors`. Knows nothing of ballots beyond the reader grid (and the card serial code of
`forms.cardcode`): must not import `omr`, `tally`, `intake` or `server`. The bitmap is read into
marks by `omr.card`.

- `reader.open_card_reader(uri)`: ``serial:///dev/ttyUSB0?protocol=sekonic|framed&baud=38400``
- `sekonic`, `framed`: the two protocol drivers (wire formats in their docstrings)
- `protocol`: status codes -> typed errors, and the mode C column codec both protocols use
- `sim`: a simulated reader on a pty, with fault injection, for tests and demos
"""
