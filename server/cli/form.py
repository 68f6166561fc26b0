"""`scantally form check|layout|render|schema`: design and print ballots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from forms.cardcode import MAX_CHARS as CARD_SERIAL_MAX_CHARS
from forms.layout import CompiledLayout, compile_layout
from forms.layout_json import layout_json_schema, layout_to_dict
from forms.load import SpecError, load_spec
from forms.plan import LayoutError
from forms.render import random_serials, render_pdf, sequential_serials
from forms.spec import FormSpec
from server.cli.common import console, fail, write_atomic

form_app = typer.Typer(help="Design and print ballots from a form spec (YAML).",
                       no_args_is_help=True)

#: a serial is at most 16 characters (forms.code.SERIAL_PATTERN)
SERIAL_MAX_DIGITS = 16

SpecArg = Annotated[Path, typer.Argument(help="form spec (YAML)", show_default=False)]


def compile_spec(path: Path) -> tuple[FormSpec, CompiledLayout | None, dict]:
    """Load, validate and lay out a spec, or exit 2 with a message naming the problem (a
    foreign spec, `forms.foreign`, has no compiled layout: None)."""
    try:
        spec = load_spec(path)
    except SpecError as exc:
        fail(str(exc))  # `fail` escapes: a key, label or path may contain [brackets]
    if spec.foreign is not None:  # a form we did not print: its boxes come from its targets
        from server.cli.learn import foreign_doc

        return spec, None, foreign_doc(path, spec)
    try:
        compiled = compile_layout(spec)
    except LayoutError as exc:
        fail(f"{path}: cannot lay out the form: {exc}")
    return spec, compiled, layout_to_dict(compiled)


@form_app.command("check")
def check(spec_path: SpecArg) -> None:
    """Validate a spec and summarise what it prints."""
    spec, compiled, doc = compile_spec(spec_path)
    if compiled is None:
        from server.cli.learn import check_foreign

        check_foreign(spec_path, spec)
        return
    boxes = sum(len(p.boxes) for p in compiled.pages)
    table = Table(title=escape(f"{spec.title} ({spec.id})"), show_header=True)
    table.add_column("field")
    table.add_column("label")
    table.add_column("page", justify="right")
    table.add_column("max", justify="right")
    table.add_column("options", justify="right")
    for f in compiled.fields:
        table.add_row(f.id, escape(f.label), str(f.page), str(f.max), str(len(f.options)))
    console.print(table)
    cats = spec.categories
    console.print(
        f"[green]ok[/] {escape(str(spec_path))}: {spec.kind}, {spec.paper}, "
        f"{len(compiled.pages)} page(s), "
        f"{len(compiled.fields)} fields, {boxes} boxes, "
        f"categories: {cats.mode + ' (' + str(len(cats.options)) + ')' if cats else 'none'}, "
        f"layout {doc['form']['hash'][:12]}"
    )


@form_app.command("layout")
def layout(
    spec_path: SpecArg,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here")] = None,
) -> None:
    """Print or write the layout JSON (scantally.layout/1)."""
    _, _, doc = compile_spec(spec_path)
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(output, text)
        pages, short_hash = len(doc["pages"]), doc["form"]["hash"][:12]
        console.print(f"wrote {output} ({pages} page(s), layout {short_hash})")


@form_app.command("render")
def render(
    spec_path: SpecArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF to write")],
    copies: Annotated[int, typer.Option("--copies", min=1, max=100_000)] = 1,
    serial_start: Annotated[
        int | None,
        typer.Option("--serial-start", min=0, help="sequential serials from N (test decks only)"),
    ] = None,
    serials_out: Annotated[
        Path | None,
        typer.Option("--serials-out", help="write the printed serials here (one per line)"),
    ] = None,
    without_marks: Annotated[bool, typer.Option(
        "--without-marks", help="no corner marks, QR code or serial: print the form as another "
                                "printer would (a foreign form, learned from its blank)")] = False,
) -> None:
    """Render N copies to a PDF, each with a unique serial in its QR code.

    Without --serial-start the serials are random, unguessable tokens (a real meeting); keep the
    list (--serials-out) to detect duplicates, forgeries and unreturned sheets.
    """
    if serial_start is not None and serial_start + copies - 1 >= 10**SERIAL_MAX_DIGITS:
        fail(f"--serial-start {serial_start} with {copies} copies gives serials longer than "
             f"{SERIAL_MAX_DIGITS} digits; start lower")
    spec, compiled, doc = compile_spec(spec_path)
    if compiled is None:
        fail(f"{spec_path}: a foreign form is printed by its own printer; render its source "
             "spec instead")
    if (spec.timing_track and serial_start is not None
            and serial_start + copies - 1 >= 10**CARD_SERIAL_MAX_CHARS):
        fail(f"{spec_path}: a card-reader form (timing_track) prints its serial in the reader "
             f"grid, at most {CARD_SERIAL_MAX_CHARS} characters; --serial-start {serial_start} "
             f"with {copies} copies goes beyond; start lower")
    serials = (
        sequential_serials(copies, serial_start)
        if serial_start is not None
        else random_serials(copies)
    )
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=not console.is_terminal) as bar:
        task = bar.add_task(f"rendering {spec.id}", total=copies)
        pdf = render_pdf(compiled, doc["form"]["hash"], serials,
                         progress=lambda n: bar.update(task, completed=n),
                         machine_marks=not without_marks)
    if serials_out is not None:
        # sorted: the list says which tokens were printed, not in which order they were handed out
        write_atomic(serials_out, "\n".join(sorted(serials)) + "\n")
    write_atomic(output, pdf)
    console.print(
        f"wrote {output}: {copies} cop{'y' if copies == 1 else 'ies'} x "
        f"{len(compiled.pages)} page(s), {len(pdf) / 1e6:.1f} MB, serials {serials[0]}…"
    )


@form_app.command("schema")
def schema(
    which: Annotated[str, typer.Argument(help="'spec' (form spec) or 'layout' (layout JSON)")] = (
        "spec"
    ),
) -> None:
    """Print the JSON Schema of form specs or of the layout JSON."""
    if which == "spec":
        doc = FormSpec.model_json_schema(by_alias=True)
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["title"] = "scantally.form/1"
    elif which == "layout":
        doc = layout_json_schema()
    else:
        fail(f"unknown schema {which!r}; use 'spec' or 'layout'")
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))


def register(app: typer.Typer) -> None:
    # the commands that make a foreign form's folder (learned from a scanned blank, or imported
    # from an OMRChecker template) are the form group's too; their modules build on this one
    from server.cli.learn import learn
    from server.cli.omrchecker import import_omrchecker

    form_app.command("learn")(learn)
    form_app.command("import-omrchecker")(import_omrchecker)
    app.add_typer(form_app, name="form")
