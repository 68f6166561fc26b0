"""Forms: ballot specs (YAML) -> layout (boxes in millimetres) -> printable PDF.

The shared vocabulary of Scantally. `spec` validates what a ballot asks, `layout` places it on
paper, `render` draws it with reportlab, `code` encodes the per-sheet QR payload.
Must not touch images, databases or HTTP: `omr/` and `tally/` read the layout; nothing here
knows about them.
"""
