"""The report benchmark runs and reports consistent figures (timings are printed by
`scantally bench report`, never asserted: tests don't assert times)."""

from __future__ import annotations

import pytest

from tally.report.bench import bench_report


@pytest.mark.slow
def test_report_benchmark_of_1000_sheets_reports_its_parts():
    t = bench_report(n_sheets=1000, n_cadres=30)
    assert t["pdf_bytes"] > 50_000 and t["xlsx_bytes"] > 50_000
    assert t["total_s"] == pytest.approx(t["compute_s"] + t["pdf_s"] + t["xlsx_s"])
    assert all(t[k] > 0 for k in ("compute_s", "pdf_s", "xlsx_s", "total_cpu_s"))
