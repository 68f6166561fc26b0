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

__all__ = ["N_", "cli_lang", "console", "err_console", "errors", "fail", "meeting_id",
           "open_or_fail", "operator_name", "reason", "set_lang", "stdout_is_tty", "t", "user",
           "write_atomic"]

#: the language of the messages people read (`scantally --lang`, else $SCANTALLY_LANG); English
#: by default, so that scripts and tests see the same words on every station
LANG_ENV = "SCANTALLY_LANG"
CLI_LANGS = ("en", "zh-CN")
_lang = {"lang": "en"}


def N_(message: str) -> str:
    """Mark a CLI message for extraction into the catalogues (babel.cfg: server/**.py)."""
    return message


def set_lang(lang: str | None) -> None:
    """Choose the CLI's language; an unknown one is refused with the choices."""
    lang = (lang or "en").strip()
    if lang in ("zh", "zh_CN", "zh-cn"):
        lang = "zh-CN"
    if lang not in CLI_LANGS:
        fail(f"--lang {lang!r}: give one of {', '.join(CLI_LANGS)} (or set ${LANG_ENV})")
    _lang["lang"] = lang


def cli_lang() -> str:
    return _lang["lang"]


def t(message: str, **params: object) -> str:
    """A message (an English template marked with `N_`) in the CLI's language, filled in."""
    shown = message
    if cli_lang() != "en":
        from server.i18n import translate

        shown = translate(message, cli_lang())
    try:
        return shown.format(**params) if params else shown
    except (KeyError, IndexError, ValueError):
        return message.format(**params) if params else message


def reason(code: str | None, sentence: str) -> str:
    """A page's or review item's reason (`tally.reasons`) in the CLI's language."""
    if cli_lang() == "en":
        return sentence
    from server.i18n import reason as shown

    return shown(code, sentence, cli_lang())

#: the station's operator when no --operator is given (set it once per station)
OPERATOR_ENV = "SCANTALLY_OPERATOR"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print an error that says what is wrong and what to do, and exit non-zero."""
    label = t(N_("error:"))
    err_console.print(f"[bold red]{escape(label)}[/] {escape(message)}", highlight=False)
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
        if cli_lang() == "en":
            fail(str(exc))
        from server.i18n import shown_error_text

        fail(shown_error_text(exc, cli_lang()))


def open_or_fail(data: Path, db: str | None) -> Store:
    from tally.store import open_store

    with errors():
        return open_store(data, db)


def meeting_id(store: Store, ref: str) -> int:
    from tally.meetings import find_meeting

    with store.session(readonly=True) as s, errors():
        return find_meeting(s, ref).id
