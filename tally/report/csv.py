"""CSV export: one file per summary table (UTF-8 with BOM, so Excel opens the Chinese right).

Rates are written as the JSON result's fractions (e.g. 0.4166666666666667), unrounded.
"""

from __future__ import annotations

import csv
import io

from tally.report.tables import summary_tables
from tally.rules.result import TallyResult


def render_csv(result: TallyResult) -> dict[str, str]:
    """File name (e.g. `recommendation.csv`) -> CSV text, for every summary table."""
    out: dict[str, str] = {}
    for table in summary_tables(result):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(table.header)
        for row in table.rows:
            writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v
                             for v in row])
        out[f"{table.name}.csv"] = "\ufeff" + buf.getvalue()
    return out
