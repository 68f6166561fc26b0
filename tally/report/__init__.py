"""Reports of a tally: the PDF analysis report, the Excel workbook and CSV tables.

Renders a `TallyResult` (plus the form spec, and for the workbook's raw records the ballots);
computes no figure of its own beyond formatting. Must not touch the database or `server`.
- `pdf.render_report(result, spec, meeting_info, appendix_items=[...]) -> bytes`
- `xlsx.render_xlsx(result, spec, ballots) -> bytes`
- `csv.render_csv(result) -> dict[file name, text]`
- `bench.bench_report(n_sheets, n_cadres) -> timings`
"""
