"""`scantally report MEETING -o report.pdf [--xlsx F] [--csv F]` and `scantally bench report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from server.cli.common import (
    N_,
    console,
    fail,
    meeting_id,
    open_or_fail,
    operator_name,
    t,
    write_atomic,
)
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, MeetingArg, OperatorOpt
from server.cli.tally import check_or_fail


def report_command(
    meeting: MeetingArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="the PDF analysis report")],
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="also write the Excel workbook")] = (
        None
    ),
    csv: Annotated[Path | None, typer.Option("--csv", help="also write the CSV tables (ZIP)")] = (
        None
    ),
    form: Annotated[str | None, typer.Option(
        "--form", help="only this form of the meeting (default: every form, in one file)")] = None,
    station: Annotated[str, typer.Option("--station", help="printed on the cover")] = "",
    operator: OperatorOpt = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Write the meeting's analysis report: PDF, and optionally Excel and CSV.

    One file per format holds every form of the meeting (the PDF one form after another, the
    workbook a numbered set of sheets per form, the ZIP a folder per form); `--form` narrows
    it to one. The figures are recomputed from the stored readings and review decisions; every
    file is written whole or not at all, after the store's audit chain checks out.
    """
    from tally.cadre.warm import warm_from_results
    from tally.report.meeting import ReportError, meeting_report
    from tally.results import meeting_results

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    check_or_fail(store, mid, meeting)
    results = meeting_results(store, mid)
    who = operator_name(operator)  # printed as 计票操作员
    wanted: list[tuple[str, Path]] = [("pdf", output)]
    wanted += [("xlsx", xlsx)] if xlsx else []
    wanted += [("csv", csv)] if csv else []
    made: list[tuple[Path, bytes]] = []
    try:
        for fmt, path in wanted:
            _, content = meeting_report(store, mid, fmt, form_id=form, operator=who,
                                        station=station, results=results)  # type: ignore[arg-type]
            made.append((path, content))
    except ReportError as exc:
        fail(f"meeting {meeting}: {exc}")
    forms = [f.form_id for f in results.forms if form is None or f.form_id == form]
    warm_from_results(store, results)  # the per-person cut of figures computed anyway
    for path, content in made:  # all rendered before any is written
        write_atomic(path, content)
        console.print(t(N_("wrote {path} ({kib} KiB): {n} form(s) {forms}"), path=path,
                        kib=f"{len(content) / 1024:.0f}", n=len(forms), forms=", ".join(forms)))


def bench_report(
    sheets: Annotated[int, typer.Option("--sheets", min=10)] = 1000,
    cadres: Annotated[int, typer.Option("--cadres", min=1)] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Time the full report (tally + PDF + xlsx) of a synthetic evaluation meeting."""
    from tally.report.bench import bench_report as run

    t = run(n_sheets=sheets, n_cadres=cadres)
    if as_json:
        typer.echo(json.dumps(t, indent=1))
        return
    console.print(
        f"report of {sheets} sheets, {cadres} cadres: tally {t['compute_s']:.2f} s, "
        f"PDF {t['pdf_s']:.2f} s ({t['pdf_bytes'] / 1024:.0f} KiB), "
        f"xlsx {t['xlsx_s']:.2f} s ({t['xlsx_bytes'] / 1024:.0f} KiB); "
        f"total {t['total_s']:.2f} s wall, {t['total_cpu_s']:.2f} s CPU (target ≤ 5 s)"
    )


def register(app: typer.Typer) -> None:
    from server.cli.bench import bench_app

    app.command("report")(report_command)
    bench_app.command("report")(bench_report)
