"""Benchmarks of the store: a department store of synthetic readings (`store_*`, `scantally
bench store`) and an exchange round trip (`exchange`, `scantally bench exchange`).

Their own subpackage: a benchmark builds its synthetic meetings through the rest of `tally` (a
meeting's report, a recount, the cadre cache), so under `tally.cadre` or `tally.exchange` it
would make those packages import what imports them. Nothing in `tally` imports this package;
only the CLI's bench commands and the tests do.
"""
