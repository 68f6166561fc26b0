"""Helpers shared by the CLI subcommands: clear errors with exit status 2, atomic writes
(`write_atomic`, from `tally.files`)."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tally.files import write_atomic

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2

__all__ = ["console", "err_console", "fail", "stdout_is_tty", "write_atomic"]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error that says what is wrong and what to do, and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
