"""`scantally recount|verify|gc`: is the store still what the images and the log say?

`recount` re-reads every stored image through the intake pool (`intake.recount`), `verify`
checks images and the audit chain (`tally.recount.verify`), `gc` collects orphan image files.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from server.cli.common import console, err_console, fail, meeting_id, open_or_fail
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt, MeetingArg


def recount_command(
    meeting: MeetingArg,
    as_json: JsonOpt = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Re-read every stored image with the current engine and list the differences.

    Exit 0: no difference; 1: differences (the table); 2: an image missing or changed.
    """
    from intake.recount import recount

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        try:
            with Progress("re-reading", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err_console, transient=True, disable=as_json) as bar:
                task = bar.add_task("re-reading", total=None)
                report = recount(store, s, mid, workers=workers,
                                 progress=lambda n, t: bar.update(task, completed=n, total=t))
        except RuntimeError as exc:
            fail(str(exc))
    if as_json:
        typer.echo(json.dumps({
            "pages": report.pages,
            "differences": [d.__dict__ for d in report.differences],
            "problems": [str(p) for p in report.problems]}, ensure_ascii=False, indent=1))
    else:
        if report.differences:
            table = Table(title=f"{len(report.differences)} difference(s)")
            for col in ("page", "source", "what", "stored", "now"):
                table.add_column(col)
            for d in report.differences:
                table.add_row(str(d.page_id), d.source, d.what, d.stored, d.now)
            console.print(table)
        for p in report.problems:
            err_console.print(f"[red]{p}[/]", highlight=False)
        if not report.differences and not report.problems:
            console.print(f"[green]recount agrees[/]: {report.pages} page(s) re-read, no "
                          "difference")
    if report.problems:
        raise typer.Exit(2)
    if report.differences:
        raise typer.Exit(1)


def verify_command(
    meeting: MeetingArg,
    as_json: JsonOpt = False,
    images: Annotated[bool, typer.Option("--images/--no-images", help="hash every image")
                      ] = True,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Check every image and the audit chain: any edit is found and named (exit 2)."""
    from tally.recount import verify

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        report = verify(store, s, mid, check_images=images)
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "problems": [p.__dict__ for p in report.problems],
                               "pages": report.pages, "images": report.images,
                               "audit_entries": report.audit_entries,
                               "audit_head": {"seq": report.head_seq, "hash": report.head_hash},
                               "anchor": report.anchor},
                              ensure_ascii=False, indent=1))
    else:
        for p in report.problems:
            err_console.print(f"[bold red]{p.kind}:[/] {p}", highlight=False)
        status = "[green]verified[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
        console.print(f"{status}: {report.images} image(s), {report.pages} page row(s), "
                      f"{report.audit_entries} audit entries; head #{report.head_seq} "
                      f"{report.head_hash}; " + _anchor_note(report.anchor), highlight=False)
    if not report.ok:
        raise typer.Exit(2)


def _anchor_note(anchor: dict[str, Any] | None) -> str:
    if anchor is None:
        return "no anchor"
    signed = f"signed by key {anchor['key']}" if anchor.get("sig") else (
        "unsigned: make a station key with `scantally keys new`")
    return f"last anchor #{anchor['seq']} ({anchor.get('at')}, {signed})"


def gc_command(
    min_age_minutes: Annotated[float, typer.Option(
        "--min-age-minutes", help="only files older than this (an ingest may be in flight)")
    ] = 60.0,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Delete image files no page references (left by a crash before the row committed)."""
    from sqlalchemy import select

    from tally.db import Page

    store = open_or_fail(data, db)
    with store.session(readonly=True) as s:
        referenced = set(s.scalars(select(Page.sha256)))
    deleted = store.images.collect_garbage(referenced, min_age_s=min_age_minutes * 60)
    console.print(f"deleted {deleted} orphan image file(s) from {store.images.root}")


def register(app: typer.Typer) -> None:
    app.command("recount")(recount_command)
    app.command("verify")(verify_command)
    app.command("gc")(gc_command)
