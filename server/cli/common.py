"""Helpers shared by the CLI subcommands: clear errors with exit status 2, atomic writes
(`write_atomic`, from `tally.files`), the store options (`--data`, `--db`, `--meeting`) and
opening the store and a meeting by name."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tally.files import write_atomic

if TYPE_CHECKING:
    from tally.store import Store

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2

__all__ = ["DEFAULT_DATA", "DataOpt", "DbOpt", "JsonOpt", "MeetingArg", "MeetingOpt", "console",
           "err_console", "errors", "fail", "meeting_id", "open_store_or_fail", "stdout_is_tty",
           "user", "write_atomic"]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error that says what is wrong and what to do, and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


DataOpt = Annotated[Path, typer.Option(
    "--data", envvar="SCANTALLY_DATA", help="data folder: images (and the SQLite file)")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", envvar="SCANTALLY_DB", help="database URL, e.g. postgresql://user@host/db "
    "(default: a SQLite file in the data folder)")]
MeetingOpt = Annotated[str, typer.Option("--meeting", "-m", help="meeting name or number")]
MeetingArg = Annotated[str, typer.Argument(help="meeting name or number", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
DEFAULT_DATA = Path("data")
#: on `review` subcommands: when not given, the `review` group's --data / --db hold
SubDataOpt = Annotated[Path | None, typer.Option("--data", envvar="SCANTALLY_DATA",
                                                 help="data folder")]
SubDbOpt = Annotated[str | None, typer.Option("--db", envvar="SCANTALLY_DB", help="database URL")]


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@contextmanager
def errors() -> Iterator[None]:
    """Turn the store's expected errors into `fail` (exit 2) with their message."""
    from tally.images import ImageError
    from tally.ingest import IngestRefused
    from tally.meetings import MeetingError
    from tally.review import ReviewError
    from tally.store import StoreError

    try:
        yield
    except (MeetingError, StoreError, ReviewError, ImageError, IngestRefused) as exc:
        fail(str(exc))


def open_store_or_fail(data: Path, db: str | None) -> Store:
    from tally.store import open_store

    with errors():
        return open_store(data, db)


def meeting_id(store: Store, ref: str) -> int:
    from tally.meetings import find_meeting

    with store.session(readonly=True) as s, errors():
        return find_meeting(s, ref).id
