"""`scantally ingest FILES` and `scantally scan --device URI`: feed a stack into a meeting
through the intake pipeline (`intake.run.scan`),.

`ingest` takes files, folders (every scan below them, a ZIP's members too; anything else is
named as skipped) or pre-computed readings (--readings FILE.jsonl).

`scan` opens the device (`intake.devices.open_source`: dir:, sane:, escl://, serial://), opens a
batch and runs the intake pipeline until the stack ends, with a progress bar (sheets/min, OMR queue
depth) on stderr, then a summary. With --json: one JSON line per page as it is committed, then a
summary line. The first Ctrl-C stops after the sheets already fed (they are all stored); a
second one aborts.

Exit status:
  0  the stack ended normally (also: an empty feeder, said so); pages that are unreadable or
     refused are listed in the summary, to re-scan or take out
  2  bad input: unknown meeting or category, a malformed URI, nothing at that URI (no such
     folder or port, no answer, or the device could not be talked to before its first sheet)
  3  a device error mid-stack (jam, double feed, cover open, lost connection, ...): every sheet
     read before it is stored; the message names the sheets to re-feed
  1  the store failed mid-stack: the message names the sheets fed but not stored
  130 stopped by the operator (Ctrl-C); every sheet fed is stored
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from server.cli.common import (
    N_,
    console,
    err_console,
    errors,
    fail,
    meeting_id,
    open_or_fail,
    operator_name,
    reason,
    t,
)
from server.cli.options import (
    DEFAULT_DATA,
    DataOpt,
    DbOpt,
    MaxFileMbOpt,
    MaxPageMpxOpt,
    MaxPdfPagesOpt,
    MaxTiffFramesOpt,
    MeetingOpt,
    page_caps,
)

if TYPE_CHECKING:
    from intake.outcomes import Outcomes
    from intake.pipeline import IntakeStats, PageDone, StackResult

EXIT_DEVICE_ERROR = 3
EXIT_STORE_FAILED = 1
EXIT_STOPPED = 130


def scan_command(
    meeting: MeetingOpt,
    device: Annotated[str, typer.Option("--device", help="device URI: dir:PATH, sane:test:0, "
                                        "escl://HOST:PORT/eSCL, serial:///dev/ttyUSB0?"
                                        "protocol=sekonic&baud=38400")],
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="OMR worker processes")] = 2,
    queue: Annotated[int | None, typer.Option(
        "--queue", min=1, max=10_000,
        help="sheets waiting for OMR at most (default: workers, at least 2)")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="voter category of this whole batch")] = None,
    form: Annotated[str | None, typer.Option(
        "--form", help="card readers: the form id of the cards, when the meeting has several "
        "card-reader forms")] = None,
    station: Annotated[str, typer.Option("--station", help="this station's name")] = "",
    operator: Annotated[str | None, typer.Option("--operator", help="who feeds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per page as it is "
                                          "committed, then a summary line")] = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Feed a stack from a scanner or card reader into a meeting: read, store, count once."""
    from intake.devices import ACCEPTED_FORMS, open_source
    from intake.pipeline import IntakeOptions
    from intake.run import scan
    from scanner.errors import DeviceError

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    try:
        source = open_source(device)
    except ValueError as exc:
        fail(str(exc))
    except DeviceError as exc:
        fail(f"cannot open the device {device!r}: {exc} (accepted forms: {ACCEPTED_FORMS})")
    except OSError as exc:
        fail(f"cannot open the device {device!r}: {exc} (accepted forms: {ACCEPTED_FORMS})")
    view = _View(as_json)
    handles: list[Any] = []
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(_signum: int, _frame: object) -> None:  # first ^C: stop between sheets
        signal.signal(signal.SIGINT, previous)
        err_console.print("stopping: the sheets already fed are read and stored "
                          "(Ctrl-C again to abort)")
        for pipeline in handles:
            pipeline.stop()

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        with errors(), view:
            try:
                batch, result = scan(
                    store, mid, source, station=station,
                    operator=operator_name(operator, note=not as_json),
                    category=category,
                    options=IntakeOptions(workers=workers, queue_size=queue, card_form=form),
                    on_page=view.page, progress=view.progress, on_start=handles.append)
            except ValueError as exc:  # no (or no single) card-reader form in the meeting
                fail(f"{device}: {exc}")
    finally:
        signal.signal(signal.SIGINT, previous)
        source.close()
        store.close()
    _finish(device, batch.batch_id, result, as_json)


class _View:
    """The progress bar (stderr) and the per-page JSON lines (stdout)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                            TextColumn("[bold]{task.completed}[/] sheets"),
                            TextColumn("{task.fields[rate]} sheets/min"),
                            TextColumn("queue {task.fields[depth]}/{task.fields[bound]}"),
                            TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                            console=err_console, transient=True, disable=as_json)
        self.task = self.bar.add_task("scanning", total=None, rate="-", depth=0, bound="-",
                                      counts="")

    def __enter__(self) -> _View:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def progress(self, stats: IntakeStats) -> None:
        counts = " ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items()))
        self.bar.update(self.task, completed=stats.ingested, description=stats.device[:48],
                        rate=f"{stats.sheets_per_min:.0f}", depth=stats.queue_depth,
                        bound=stats.queue_bound, counts=counts)

    def page(self, done: PageDone) -> None:
        if self.as_json:
            line = {"sequence": done.sequence, "side": done.side, **done.result.to_json()}
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            sys.stdout.flush()


def _summary(result: StackResult, batch_id: int) -> dict[str, Any]:
    return {"sheets": result.stats.ingested, **result.outcomes.summary(batch_id)}


def _error_message(device: str, result: StackResult) -> str:
    """What happened, what was stored, what to re-feed: for the operator."""
    error = result.error
    stored = result.stats.ingested
    what = error.message if hasattr(error, "message") else str(error)
    advice = getattr(error, "advice", "")
    lines = [f"{device}: {what}."]
    if advice:
        lines.append(advice)
    lines.append(f"{stored} sheet(s) fed before it were read and stored.")
    if result.refeed:
        sheets = ", ".join(str(n) for n in result.refeed)
        lines.append(f"Re-feed sheet(s) {sheets} (counted from the start of this stack), then "
                     "the sheets not fed yet, and run the same command again.")
    else:
        lines.append("Put back the sheets not fed yet and run the same command again.")
    if str(device).startswith("serial:"):
        lines.append("A card reader cannot recognise a card read before: put back only the "
                     "card(s) named, or they count twice.")
    else:
        lines.append("A sheet already stored that is fed again is recognised, not counted twice.")
    return " ".join(lines)


def _finish(device: str, batch_id: int, result: StackResult, as_json: bool) -> None:
    from intake.devices import ACCEPTED_FORMS
    from scanner.errors import DeviceIO

    summary = _summary(result, batch_id)
    unreachable = (result.ended == "device_error" and isinstance(result.error, DeviceIO)
                   and result.stats.acquired == 0)
    message = ""
    if unreachable:
        message = (f"cannot use the device {device!r}: {str(result.error).rstrip('.')}. Check "
                   f"the URI and that the device is on and reachable (accepted forms: "
                   f"{ACCEPTED_FORMS})")
    elif result.ended == "device_error":
        message = _error_message(device, result)
    elif result.ended == "failed":
        message = (f"{device}: the store failed: {result.error}. Sheet(s) "
                   f"{', '.join(map(str, result.refeed)) or 'none'} were fed but not stored: "
                   "re-feed them after fixing the store.")
    elif result.ended == "empty":
        message = f"{device}: the feeder is empty; load the stack and run the command again."
    if as_json:
        typer.echo(json.dumps({
            "summary": summary, "ended": result.ended, "message": message,
            "error": type(result.error).__name__ if result.error else None,
            "refeed": result.refeed,
            "unreadable": [{"sequence": n, "message": m} for n, m in result.unreadable],
            "stats": result.stats.to_json()}, ensure_ascii=False))
    elif not unreachable:
        _print_summary(summary, result)
    if unreachable:
        fail(message)
    if result.ended == "device_error":
        fail(message, EXIT_DEVICE_ERROR)
    if result.ended == "failed":
        fail(message, EXIT_STORE_FAILED)
    if message:
        err_console.print(f"[yellow]{escape(message)}[/]", highlight=False)
    if result.ended == "stopped":
        raise typer.Exit(EXIT_STOPPED)


def _print_summary(summary: dict[str, Any], result: StackResult) -> None:
    stats = result.stats
    table = Table(title=f"batch #{summary['batch']}: {summary['sheets']} sheet(s), "
                        f"{stats.sheets_per_min:.0f} sheets/min", show_header=False)
    from intake.outcomes import SUMMARY_LABELS

    for key, label in SUMMARY_LABELS.items():
        if summary[key] or key in ("read", "ok", "review", "unreadable", "duplicates",
                                   "refused"):
            table.add_row(label, str(summary[key]))
    table.add_row("OMR queue, deepest", f"{stats.max_queue_depth} of {stats.queue_bound}")
    console.print(table)
    if result.unreadable:
        console.print("[yellow]re-scan or take out these sheets:[/]")
        for sequence, message in result.unreadable:
            console.print(f"  sheet {sequence}: {escape(message)}", highlight=False)


# -- ingest ------------------------------------------------------------------------------------

def ingest(
    meeting: MeetingOpt,
    files: Annotated[list[Path] | None, typer.Argument(help="scanned images, PDFs, ZIPs or "
                                                       "folders", show_default=False)] = None,
    readings: Annotated[list[Path] | None, typer.Option(
        "--readings", help="pre-computed readings (JSON lines, each with \"image\": FILE)")
    ] = None,
    station: Annotated[str, typer.Option("--station", help="this station's name")] = "",
    device: Annotated[str, typer.Option("--device", help="scanner / reader used")] = "",
    operator: Annotated[str | None, typer.Option("--operator", help="who feeds")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="voter category of this whole batch")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per page as it is "
                                          "committed, then a summary line")] = False,
    max_pdf_pages: MaxPdfPagesOpt = None,
    max_tiff_frames: MaxTiffFramesOpt = None,
    max_page_mpx: MaxPageMpxOpt = None,
    max_file_mb: MaxFileMbOpt = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Read sheets (or take pre-computed readings), store them, count each sheet once."""
    from intake.limits import IntakeLimits
    from intake.outcomes import Outcomes
    from intake.pipeline import IntakeOptions
    from intake.run import scan
    from scanner.folder import FileSource, scan_files
    from tally.ingest import IngestResult, close_batch, ingest_json, iter_readings_file, open_batch

    if not files and not readings:
        fail("give the scanned files to ingest, or --readings FILE.jsonl")
    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    for r in readings or []:
        if not r.is_file():
            fail(f"readings file {r} not found")
    paths, skipped = scan_files(files or [])
    for f in skipped:  # never left out without a line saying so
        why = "not a scan (JPEG, PNG, TIFF, BMP, PDF or a ZIP of them)"
        if as_json:
            typer.echo(json.dumps({"source": str(f), "outcome": "skipped", "message": why},
                                  ensure_ascii=False))
        else:
            err_console.print(f"skipped {f}: {why}", highlight=False)
    with errors():
        batch = open_batch(store, mid, station=station, device=device,
                           operator=operator_name(operator, note=not as_json), category=category)
    outcomes = Outcomes()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                      TextColumn("[bold]{task.completed}[/] pages"), TimeElapsedColumn(),
                      console=err_console, transient=True, disable=as_json) as bar:
            task = bar.add_task(f"ingesting into {batch.meeting_name}", total=None)

            def committed(result: IngestResult) -> None:
                outcomes.note(result)
                if as_json:
                    sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                bar.advance(task)

            for r in readings or []:
                for doc, image, image_ref in iter_readings_file(r):
                    committed(ingest_json(store, batch, doc, image, image_ref=image_ref))
            if paths:
                with errors():
                    limits = IntakeLimits(**page_caps(max_pdf_pages, max_tiff_frames,
                                                      max_page_mpx, max_file_mb))
                    scan(store, mid, FileSource(paths, limits=limits.pages), batch=batch,
                         options=IntakeOptions(workers=workers),
                         on_page=lambda done: committed(done.result))
    finally:
        close_batch(store, batch)
    _print_ingested(outcomes, batch.batch_id, as_json)


#: the ingest summary's row labels (`intake.outcomes.SUMMARY_LABELS`), for the catalogues
_SUMMARY_MESSAGES = (N_("pages read"), N_("ok, counted"), N_("counted, to review"),
                     N_("unreadable (re-feed)"), N_("blank pages"), N_("unknown serial (held)"),
                     N_("duplicate sheets (not counted)"), N_("same image already stored"),
                     N_("refused"))


def _print_ingested(outcomes: Outcomes, batch_id: int, as_json: bool) -> None:
    from intake.outcomes import SUMMARY_LABELS

    summary = outcomes.summary(batch_id)
    if as_json:
        typer.echo(json.dumps({"summary": summary, "refeed": outcomes.refeed,
                               "refused": outcomes.refused}, ensure_ascii=False))
    else:
        table = Table(title=t(N_("batch #{batch}"), batch=batch_id), show_header=False)
        for key, label in SUMMARY_LABELS.items():
            table.add_row(t(label), str(summary[key]))
        console.print(table)
        if outcomes.refeed:
            refeed = t(N_("re-feed these sheets:"))
            console.print(f"[yellow]{refeed}[/]")
            for line in outcomes.refeed:
                source, sep, why = line.partition(": ")
                console.print(f"  {source}{sep}{reason(None, why)}" if sep else f"  {line}",
                              highlight=False)
        for line in outcomes.refused:
            refused = t(N_("refused:"))
            err_console.print(f"[bold red]{refused}[/] {reason(None, line)}",
                              highlight=False)
    if outcomes.refused:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add `ingest` and `scan`."""
    app.command("ingest")(ingest)
    app.command("scan")(scan_command)
