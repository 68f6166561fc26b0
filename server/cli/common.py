"""Helpers shared by the CLI subcommands: clear errors with exit status 2, atomic writes
(`write_atomic`, from `tally.files`), opening the store and a meeting by name (the options
that name them are in `server.cli.options`), a group's subcommand on one meeting
(`meeting_command`)."""

from __future__ import annotations

import getpass
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from server.cli.options import DEFAULT_DATA, SubDataOpt, SubDbOpt, SubMeetingOpt
from tally.files import write_atomic

if TYPE_CHECKING:
    from tally.store import Store

console = Console()
err_console = Console(stderr=True)

EXIT_BAD_INPUT = 2

__all__ = ["N_", "clear_output", "cli_lang", "console", "err_console", "errors", "fail",
           "group_store", "meeting_command", "meeting_id", "open_or_fail", "operator_name",
           "reason", "set_lang", "stdout_is_tty", "t", "user", "write_atomic"]

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
    """Print an error that says what is wrong and what to do, and exit non-zero. Not wrapped
    by rich (`soft_wrap`): a file's path in it stays whole, to copy or to grep."""
    label = t(N_("error:"))
    err_console.print(f"[bold red]{escape(label)}[/] {escape(message)}", highlight=False,
                      soft_wrap=True)
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
    from tally.review.errors import ReviewError
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


def group_store(ctx: typer.Context, meeting: str | None, data: Path | None,
                db: str | None) -> tuple[Store, int]:
    """The store and meeting a group's subcommand works on: its own --meeting / --data / --db,
    else those given to the group (kept in `ctx.obj` by the group's callback)."""
    obj = ctx.obj or {}
    ref = meeting or obj.get("meeting")
    if ref is None:
        fail("which meeting? give --meeting NAME")
    store = open_or_fail(data or obj.get("data") or DEFAULT_DATA, db or obj.get("db"))
    return store, meeting_id(store, ref)


def meeting_command(fn: Callable[..., None]) -> Callable[..., None]:
    """A group's subcommand on one meeting: `fn(store, meeting_id, …its own options)`.

    The command takes --meeting / -m, --data and --db (after its own options, falling back on
    the group's: `group_store`), so that each subcommand does not declare them and open the
    store again; typer reads the options from the signature made here."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    # its own options (after store and meeting id, which may be typed for type checkers only)
    own = [p.replace(kind=keyword, annotation=eval(p.annotation, fn.__globals__)
                     if isinstance(p.annotation, str) else p.annotation)
           for p in list(inspect.signature(fn).parameters.values())[2:]]
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=typer.Context),
              *own,
              inspect.Parameter("meeting", keyword, default=None, annotation=SubMeetingOpt),
              inspect.Parameter("data", keyword, default=None, annotation=SubDataOpt),
              inspect.Parameter("db", keyword, default=None, annotation=SubDbOpt)]

    def command(ctx: typer.Context, *, meeting: str | None = None, data: Path | None = None,
                db: str | None = None, **options: Any) -> None:
        store, mid = group_store(ctx, meeting, data, db)
        fn(store, mid, **options)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__, command.__qualname__ = fn.__name__, fn.__qualname__
    command.__doc__, command.__module__ = fn.__doc__, fn.__module__
    return command


def clear_output(output: Path, patterns: tuple[str, ...], force: bool) -> None:
    """Make `output` ready for a deck: refuse a file, or old sheets without --force; remove
    the old sheets and truth files matching `patterns` with it."""
    if output.exists() and not output.is_dir():
        fail(f"{output} is a file; give a folder for -o")
    old = [p for pattern in patterns for p in output.glob(pattern)] if output.is_dir() else []
    if old and not force:
        fail(f"{output} already holds {len(old)} sheet or truth file(s); choose an empty "
             "folder or pass --force to replace them")
    for p in old:
        p.unlink()
