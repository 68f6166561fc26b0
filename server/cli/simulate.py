"""`scantally simulate`: marked, scanned ballots with ground truth, for tests, demos and benches."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from forms.load import SpecError
from forms.plan import LayoutError
from server.cli.common import clear_output, console, fail
from server.cli.form import compile_spec

MODELS = ("sim", "hand")
OLD_FILES = ("sheet-*.jpg", "sheet-*.png", "sheet-*.tiff", "truth.json")
HELP = (
    "Simulate N marked and scanned sheets of a form: images + truth.json.\n\n"
    "One image per page: sheet-00001.jpg (sheet-00001-p1.jpg, -p2.jpg for a form of several "
    "pages), or with --format tiff one multi-page sheet-00001.tiff per sheet.\n\n"
    "truth.json (scantally.simtruth/1) holds, per page, what a reader must say (ok, review, "
    "blank, unreadable with a reason, unknown_form), the marks and cancelled marks, stray "
    "marks and every degradation applied. The same seed gives the same files.\n\n"
    "--model hand draws an independent deck (omr.handsim): hand-00001.jpg ... in several "
    "formats, truth.json in the field-report format and deck.json with the scan details."
)


def simulate(
    form: Annotated[Path, typer.Option("--form", help="form spec (YAML)", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder to write",
                                         show_default=False)],
    sheets: Annotated[int, typer.Option("--sheets", min=1, max=1_000_000)] = 100,
    seed: Annotated[int, typer.Option("--seed", help="same seed, same files")] = 0,
    dpi: Annotated[int, typer.Option("--dpi", min=72, max=600)] = 200,
    fmt: Annotated[str, typer.Option("--format", help="jpg, png or tiff (multi-page per "
                                     "sheet; bitonal pages G4)")] = "jpg",
    no_degrade: Annotated[bool, typer.Option("--no-degrade",
                                             help="perfect scans: no degradation at all")] = False,
    profile: Annotated[str, typer.Option("--profile", help="degradations: mixed, clean "
                                         "or hard")] = "mixed",
    category: Annotated[str | None, typer.Option(
        "--category", help="every voter of this category (the batch category of a form "
        "whose categories are per batch)")] = None,
    serial_start: Annotated[int, typer.Option("--serial-start", min=0,
                                              help="first sheet serial")] = 1,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="processes (the output does not change)")] = 1,
    other_form: Annotated[Path | None, typer.Option(
        "--other-form", help="spec for the 'sheet of another form' cases (default: another "
        "spec beside --form, else an example)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the sheets and truth "
                                        "already in the folder")] = False,
    model: Annotated[str, typer.Option(
        "--model", help="sim (the default simulator) or hand (omr.handsim: pen strokes and "
        "a mix of scanners; --profile picks clean, mixed or hard; --format, --dpi, "
        "--category and --other-form do not apply, the scanner mix decides)")] = "sim",
) -> None:
    """Simulate N marked and scanned sheets of a form: images + truth.json (see HELP)."""
    if model not in MODELS:
        fail(f"--model {model!r}: use one of {', '.join(MODELS)}")
    if model == "hand":
        from server.cli.handbench import simulate_hand

        compile_spec(form)  # exits 2 with the spec's problems
        simulate_hand(form, output, sheets, seed, "clean" if no_degrade else profile,
                      serial_start, workers, force)
        return
    from omr.sim.corpus import FORMATS, generate
    from omr.sim.degrade import PROFILES

    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if profile not in PROFILES:
        fail(f"--profile {profile!r}: use one of {', '.join(PROFILES)}")
    compile_spec(form)  # exits 2 with the spec's problems
    if other_form is not None:
        compile_spec(other_form)
    clear_output(output, OLD_FILES, force)
    started = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console,
                  transient=not console.is_terminal) as bar:
        task = bar.add_task(f"simulating {form.name}", total=sheets)
        try:
            truth = generate(form, output, sheets, seed, dpi=dpi, fmt=fmt, profile=profile,
                             degrade=not no_degrade, serial_start=serial_start,
                             category=category, workers=workers, other_spec=other_form,
                             progress=lambda done, total: bar.update(task, completed=done))
        except (SpecError, LayoutError, ValueError) as exc:
            fail(str(exc))
    seconds = time.perf_counter() - started
    counts = Counter(page.expect for _, page in truth.pages())
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    console.print(
        f"wrote {sheets} sheet(s), {sum(counts.values())} page(s) to {output} in "
        f"{seconds:.1f} s ({sheets / seconds:.1f} sheets/s); expected readings: {summary}; "
        f"truth {output / 'truth.json'}"
    )


def register(app: typer.Typer) -> None:
    app.command("simulate", help=HELP)(simulate)
