"""Spreadsheet-safe text: what people typed never becomes a formula in a CSV or xlsx export.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection, OWASP). Text cells that begin so are
prefixed with `'` in CSV; in xlsx every text cell is written as a string (never `<f>`) and such
cells get Excel's quote prefix. Numbers stay numbers.
"""

from __future__ import annotations

#: leading characters a spreadsheet reads as the start of a formula (OWASP CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def starts_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_START)


def csv_text(text: str) -> str:
    """A text cell for CSV: a leading `'` when a spreadsheet would run it as a formula."""
    return "'" + text if starts_like_formula(text) else text
