"""CSV export: one file per summary table (UTF-8 with BOM, so Excel opens the Chinese right).

Rates are written as the JSON result's fractions (e.g. 0.4166666666666667), unrounded. Text
cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) get a
leading `'` (`tally.report.safe`); numbers are written as numbers.

A test-mode meeting's files (`test_mode=True`) are named `测试模式-<table>.csv` and open with a
banner row (测试模式 · 测试数据，不计入正式结果) above the header, so a copy cannot pass for an
official count.
"""

from __future__ import annotations

import csv
import io

from tally.report.safe import csv_text
from tally.report.tables import Cell, summary_tables
from tally.rules.result import TallyResult
from tally.testmode import BANNER, BANNER_LINE


def render_csv(result: TallyResult, *, test_mode: bool = False) -> dict[str, str]:
    """File name (e.g. `recommendation.csv`) -> CSV text, for every summary table."""
    out: dict[str, str] = {}
    prefix = f"{BANNER}-" if test_mode else ""
    for table in summary_tables(result):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        if test_mode:
            writer.writerow([BANNER_LINE])
        writer.writerow([_csv_cell(h) for h in table.header])
        for row in table.rows:
            writer.writerow([_csv_cell(v) for v in row])
        out[f"{prefix}{table.name}.csv"] = "\ufeff" + buf.getvalue()
    return out


def render_meeting_csv(results: list[TallyResult], *, test_mode: bool = False
                       ) -> dict[str, str]:
    """Several forms: each form's files in a folder named by its form id
    (`<form id>/recommendation.csv`)."""
    return {f"{r.form.id}/{name}": text for r in results
            for name, text in render_csv(r, test_mode=test_mode).items()}


def _csv_cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return csv_text(value)
    return value
