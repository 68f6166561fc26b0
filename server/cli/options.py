"""The options every store command takes: `--data`, `--db`, `--meeting`, `--json` (and their
forms on a group's subcommands, `Sub…Opt`, which fall back on the group's)."""

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
#: on a group's subcommands (`common.meeting_command`): when not given, the group's hold
SubMeetingOpt = Annotated[str | None, typer.Option("--meeting", "-m", help="meeting name or "
                                                   "number")]
SubDataOpt = Annotated[Path | None, typer.Option("--data", envvar="SCANTALLY_DATA",
                                                 help="data folder")]
SubDbOpt = Annotated[str | None, typer.Option("--db", envvar="SCANTALLY_DB", help="database URL")]
OperatorOpt = Annotated[str | None, typer.Option(
    "--operator", help="who does it (default: $SCANTALLY_OPERATOR, else the OS user)")]

# the caps of `intake.limits.IntakeLimits` that `serve` and `ingest` take (README, "Settings");
# an option not given keeps the setting's default
MaxPdfPagesOpt = Annotated[int | None, typer.Option(
    "--max-pdf-pages", min=1, show_default=False,
    help="pages of one PDF; a file of more is refused unread")]
MaxTiffFramesOpt = Annotated[int | None, typer.Option(
    "--max-tiff-frames", min=1, show_default=False,
    help="frames of one TIFF; a file of more is refused unread")]
MaxPageMpxOpt = Annotated[float | None, typer.Option(
    "--max-page-mpx", min=0.1, show_default=False,
    help="megapixels of one decoded page")]
MaxFileMbOpt = Annotated[int | None, typer.Option(
    "--max-file-mb", min=1, show_default=False, help="MiB of one scanned file")]


def page_caps(max_pdf_pages: int | None, max_tiff_frames: int | None,
              max_page_mpx: float | None, max_file_mb: int | None) -> dict[str, int]:
    """The `IntakeLimits` fields of the page-cap options given (none: the defaults)."""
    given = {"max_pdf_pages": max_pdf_pages, "max_tiff_frames": max_tiff_frames,
             "max_pixels": None if max_page_mpx is None else round(max_page_mpx * 1e6),
             "max_file_bytes": None if max_file_mb is None else max_file_mb * 2**20}
    return {k: v for k, v in given.items() if v is not None}
