"""Forms: ballot specs (YAML) -> layout (boxes in millimetres) -> printable PDF.

The shared vocabulary of Scantally. `spec` validates what a ballot asks, `layout` places it on
paper, `render` draws it with reportlab, `code` encodes the per-sheet QR payload.
A form we did not print (`foreign`) keeps its spec; its boxes are numbered targets learned from
a blank (`skeleton` writes the spec to name them) or imported from OMRChecker (`omrchecker`).
Must not touch images, databases or HTTP: `omr/` and `tally/` read the layout; nothing here
knows about them.
"""
