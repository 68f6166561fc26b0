"""`scantally export|import|backup|restore` and `scantally bench exchange`: a meeting out of a
station as one signed file and into the department's store (`tally.exchange`); a whole store
to a backup folder and back (`tally.backup`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from server.cli.common import console, err_console, fail, meeting_id, open_or_fail, user
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt, MeetingArg

STAGES = {"rows": "writing rows", "images": "images", "hashes": "checking hashes",
          "writing": "writing to the store", "database": "database", "copying": "copying images"}


def _progress(disable: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True, disable=disable)


class _Bar:
    """progress(stage, done, total) callbacks onto one rich task per stage."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(STAGES.get(stage, stage), total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)


def export_command(
    meeting: MeetingArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="the bundle file to write (.stb)")],
    images: Annotated[bool, typer.Option("--images/--no-images",
                                         help="carry every page image (default)")] = True,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Write MEETING as one signed bundle file for the department (offline exchange)."""
    from tally.exchange import BundleError, export_meeting

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    try:
        with _progress(as_json) as bar:
            r = export_meeting(store, mid, out, images=images, who=user(), progress=_Bar(bar))
    except (BundleError, OSError) as exc:
        fail(f"export of {meeting!r}: {exc}")
    if as_json:
        typer.echo(json.dumps({"path": str(r.path), "bytes": r.bytes, "key_id": r.key_id,
                               "manifest_sha256": r.manifest_sha256,
                               "audit_head": r.audit_head.model_dump(),
                               "counts": r.counts.model_dump()}, ensure_ascii=False))
        return
    c = r.counts
    console.print(f"[green]exported[/] {meeting!r} to {r.path} ({r.bytes / 2**20:.1f} MiB): "
                  f"{c.pages} page(s), {c.decisions} decision(s), {c.audit_entries} audit "
                  f"entries, {c.images} image(s); signed by key {r.key_id}, manifest "
                  f"{r.manifest_sha256[:16]}…", highlight=False, soft_wrap=True)


def import_command(
    bundle: Annotated[Path, typer.Argument(help="a bundle written by `scantally export`")],
    name: Annotated[str | None, typer.Option(
        "--name", help="store the meeting under this name (a meeting of that name is here)")
                    ] = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Check a signed bundle whole (signer trusted, hashes, audit chain, images) and import it.

    Exit 0: imported, or already imported (nothing changed); 2: refused, with the reason.
    """
    from tally.exchange import BundleError, import_bundle

    store = open_or_fail(data, db)
    try:
        with _progress(as_json) as bar:
            r = import_bundle(store, bundle, who=user(), name=name, progress=_Bar(bar))
    except (BundleError, OSError) as exc:
        fail(f"import refused: {exc}")
    if as_json:
        typer.echo(json.dumps({"outcome": r.outcome, "meeting_id": r.meeting_id,
                               "meeting": r.meeting_name, "uid": r.meeting_uid,
                               "signer": r.signer_key_id, "pages": r.pages,
                               "images": r.images, "message": r.message}, ensure_ascii=False))
        return
    colour = "green" if r.outcome == "imported" else "yellow"
    console.print(f"[{colour}]{r.outcome}[/]: {r.message}", highlight=False, soft_wrap=True)


def backup_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="the backup folder to create")],
    key: Annotated[bool, typer.Option("--key/--no-key", help="include the station's private "
                                      "key (default: the restored store can sign on)")] = True,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Back the whole store up into a new folder: the database (SQLite online backup, or
    pg_dump), the images with a manifest of their hashes, the anchors and public key."""
    from tally.backup import BackupError, backup

    store = open_or_fail(data, db)
    try:
        with _progress() as bar:
            r = backup(store, out, with_key=key, progress=_Bar(bar))
    except (BackupError, OSError) as exc:
        fail(f"backup: {exc}")
    for w in r.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print(f"[green]backed up[/] {store.url} and {r.images} image(s) "
                  f"({r.bytes / 2**20:.1f} MiB) to {r.path}", highlight=False, soft_wrap=True)


def restore_command(
    backup_dir: Annotated[Path, typer.Argument(help="a folder written by `scantally backup`")],
    force: Annotated[bool, typer.Option("--force", help="overwrite a store that is not empty")
                     ] = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Restore a backup into an empty store (--data, and --db for PostgreSQL); every copied
    file is checked against the backup's manifest first."""
    from tally.backup import BackupError, restore

    try:
        with _progress() as bar:
            r = restore(backup_dir, data, db, force=force, progress=_Bar(bar))
    except (BackupError, OSError) as exc:
        fail(f"restore: {exc}")
    console.print(f"[green]restored[/] {r.images} image(s) and the database into {r.target}; "
                  "run `scantally verify MEETING` on it", highlight=False, soft_wrap=True)


def bench_exchange(
    sheets: Annotated[int, typer.Option("--sheets", min=10, max=100_000)] = 2000,
    images: Annotated[bool, typer.Option("--images/--no-images")] = True,
    db: Annotated[str | None, typer.Option(
        "--db", help="import into this PostgreSQL (a fresh schema is made and dropped); "
        "default: a SQLite store")] = None,
    work: Annotated[Path | None, typer.Option(
        "--work", help="folder for the stores and the bundle (default: a temporary one)")
                    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Time export and import of a simulated meeting of N sheets (target: import of 2,000
    sheets with images ≤ 60 s)."""
    from tally.benches.exchange import bench_exchange as run

    with _progress(as_json) as bar:
        r = run(sheets, images=images, db_url=db, work_dir=work, progress=_Bar(bar))
    if as_json:
        typer.echo(json.dumps(r.to_json(), ensure_ascii=False))
        return
    console.print(r.table(), highlight=False)


def register(app: typer.Typer) -> None:
    from server.cli.bench import bench_app

    app.command("export")(export_command)
    app.command("import")(import_command)
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
    bench_app.command("exchange")(bench_exchange)
