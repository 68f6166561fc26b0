"""Handsim: a second, independent model of hand-marked ballots and the scanners that read them.

Test tooling, like `omr.sim`, but written from another angle so that the engine is not judged
only by the simulator it grew up with: blank sheets come from our own renderer (`blank`), marks
are pen strokes with pressure, width and ink along the path (`strokes`, `pens`, `marks`), voters
behave per form kind (`voters`), scanners skew, shift, light, blur and threshold the page
(`scanner`, `bitonal`, `encode`), and `deck` writes images plus a truth.json in the field-report
format. `score` (pure) compares readings with such a truth.

Use: `scantally simulate --model hand --form SPEC -o DIR --sheets N [--profile hard]`, then
`scantally bench truthdeck DIR` (any folder with a truth.json in this format, such as a field
report); or both at once with `scantally bench accuracy --model hand --form SPEC`.

Must never be imported by the engine (`omr.engine`, `intake`, ...), and must not import
`omr.sim` or the engine's scoring modules (`omr.score`, `omr.decide`, `omr.register`): its
independence is the point. It reads `forms` for geometry and `omr.reading` for the result type.
"""
