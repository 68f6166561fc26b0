"""Helpers shared by the CLI subcommands: clear errors with exit status 2, atomic writes
(`write_atomic`, from `tally.files`), opening the store and a meeting by name (the options
that name them are in `server.cli.options`)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tally.files import write_atomic

if TYPE_CHECKING:
    from tally.store import Store

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2

__all__ = ["console", "err_console", "errors", "fail", "meeting_id", "open_or_fail",
           "operator_name", "stdout_is_tty", "user", "write_atomic"]

#: the station's operator when no --operator is given (set it once per station)
OPERATOR_ENV = "SCANTALLY_OPERATOR"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error that says what is wrong and what to do, and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def operator_name(given: str | None = None, *, note: bool = True) -> str:
    """Who signs what this command does: --operator, else the station's configured operator
    ($SCANTALLY_OPERATOR), else the OS user, saying so on stderr unless `note` is off (JSON
    output) (a report's 计票操作员 and a decision's signature should be a person, not "root")."""
    import os

    for name in (given, os.environ.get(OPERATOR_ENV)):
        if name and name.strip():
            return name.strip()
    fallback = user()
    if note:
        err_console.print(f"[yellow]note:[/] no --operator given and ${OPERATOR_ENV} is not set: "
                          f"signing as the OS user {fallback!r}", highlight=False)
    return fallback


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


def open_or_fail(data: Path, db: str | None) -> Store:
    from tally.store import open_store

    with errors():
        return open_store(data, db)


def meeting_id(store: Store, ref: str) -> int:
    from tally.meetings import find_meeting

    with store.session(readonly=True) as s, errors():
        return find_meeting(s, ref).id
