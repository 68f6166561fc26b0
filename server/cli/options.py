"""The options every store command takes: `--data`, `--db`, `--meeting`, `--json`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataOpt = Annotated[Path, typer.Option(
    "--data", envvar="SCANTALLY_DATA", help="data folder: images (and the SQLite file)")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", envvar="SCANTALLY_DB", help="database URL, e.g. postgresql://user@host/db "
    "(default: a SQLite file in the data folder)")]
MeetingOpt = Annotated[str, typer.Option("--meeting", "-m", help="meeting name or number")]
MeetingArg = Annotated[str, typer.Argument(help="meeting name or number", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
DEFAULT_DATA = Path("data")
OperatorOpt = Annotated[str | None, typer.Option(
    "--operator", help="who does it (default: $SCANTALLY_OPERATOR, else the OS user)")]
