"""`scantally testdeck MEETING -o deck.pdf` and `scantally testdeck check MEETING`: the test
deck of logic and accuracy testing (`tally.testdeck`).

`testdeck MEETING` (short for `testdeck print MEETING`) prints the pre-marked deck of every form
of a meeting in test mode and writes its expected totals (`--expected`, default beside the
PDF: deck.expected.json). Feed the printed deck (or its pages as images) with `scantally
ingest`, then `testdeck check MEETING --expected FILE -o signoff.pdf` compares the machine's
count with the expected one, figure by figure, and writes the 测试票检验记录 to sign.

Exit status of `check`: 0 every figure agrees; 1 some figure differs (each named); 2 bad input
(unknown meeting, an official meeting, a file that is not this meeting's deck or was edited).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from typer.core import TyperGroup

from server.cli.common import (
    console,
    err_console,
    errors,
    fail,
    meeting_id,
    open_or_fail,
    user,
    write_atomic,
)
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, MeetingArg

EXIT_MISMATCH = 1
#: mismatching figures listed on the terminal, at most (the PDF lists them all)
SHOWN_MISMATCHES = 40


class _PrintByDefault(TyperGroup):
    """`testdeck MEETING …` runs `testdeck print MEETING …`; `testdeck check …` stays itself."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["print", *args]
        return super().parse_args(ctx, args)


testdeck_app = typer.Typer(cls=_PrintByDefault, no_args_is_help=True,
                           help="The test deck (L&A): print it with its expected totals, then "
                                "check the machine's count against them.")


def default_expected(pdf: Path) -> Path:
    return pdf.with_suffix(".expected.json")


@testdeck_app.command("print")
def print_deck(
    meeting: MeetingArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="the deck PDF to write")],
    expected: Annotated[Path | None, typer.Option(
        "--expected", help="the expected totals (JSON) to write; default: beside the PDF, "
        "DECK.expected.json")] = None,
    start: Annotated[int, typer.Option("--start", min=1, help="number of the first test "
                                       "serial (TD0 and four digits)")] = 1,
    who: Annotated[str | None, typer.Option("--who", help="who prints the deck")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Print the pre-marked test deck of a meeting in test mode, with its expected totals."""
    from tally.testdeck.make import make_deck, record_deck

    target = expected or default_expected(output)
    if target.resolve() == output.resolve():
        fail("--expected and -o name the same file; give two files")
    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    actor = who or user()
    with errors(), Progress(TextColumn("rendering the deck"), BarColumn(), MofNCompleteColumn(),
                            console=err_console, transient=True) as bar:
        task = bar.add_task("deck", total=None)
        made = make_deck(store, mid, actor=actor, start=start,
                         progress=lambda n: bar.update(task, completed=n))
    try:
        write_atomic(output, made.pdf)
        write_atomic(target, made.deck.to_json().encode("utf-8"))
    except OSError as exc:
        fail(f"cannot write the deck: {exc}; choose another -o / --expected")
    try:
        with errors():
            added = record_deck(store, mid, made.deck, actor=actor)
    except BaseException:  # nothing half-done: a deck the store does not know is not kept
        output.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    deck = made.deck
    per_form = ", ".join(f"{f.form_id} {len(f.sheets)}" for f in deck.forms)
    first, last = deck.forms[0].sheets[0].serial, deck.forms[-1].sheets[-1].serial
    console.print(f"[green]wrote[/] {output} ({deck.sheets} sheets: {per_form}; serials "
                  f"{first}-{last}) and the expected totals {target} ({len(deck.figures)} "
                  "figures)", highlight=False)
    if added:
        console.print(f"  the {added} deck serials were added to the meeting's printed set")
    per_batch = [f.form_id for f in deck.forms
                 if not any("category" in x.marks for x in f.sheets)
                 and any(g.form_id == f.form_id and g.bucket == "_none" for g in deck.figures)]
    if per_batch:
        console.print(f"  form(s) {', '.join(per_batch)} take the voter category per batch: "
                      "feed their deck sheets without --category (the expected totals count "
                      "them as 未标明类别)", highlight=False)
    console.print("  feed the printed deck with `scantally ingest`, then run `scantally "
                  f"testdeck check {meeting} --expected {target} -o signoff.pdf`",
                  highlight=False)


@testdeck_app.command("check")
def check_command(
    meeting: MeetingArg,
    expected: Annotated[Path, typer.Option("--expected", help="the expected totals the deck "
                                           "was printed with")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the signed-off page (PDF) "
                                         "to write")],
    who: Annotated[str | None, typer.Option("--who", help="who checks")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Compare the machine's count of the deck with its expected totals; write the record."""
    from tally import filesig, keys
    from tally.testdeck.check import check_deck
    from tally.testdeck.deckfile import read_deck
    from tally.testdeck.signoff import render_signoff

    with errors():
        deck = read_deck(expected)
    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with errors():
        result = check_deck(store, mid, deck, actor=who or user())
    pdf = render_signoff(result)
    try:
        key = keys.load_key(store.data_dir)
    except keys.KeyFileError as exc:
        fail(f"cannot sign the record: {exc}")
    sig = filesig.sign_bytes(key, pdf, output.name) if key is not None else None
    try:
        write_atomic(output, pdf)
        if sig is not None:  # beside it: `scantally keys verify` checks the page
            write_atomic(filesig.sig_path(output), sig.to_json())
    except OSError as exc:
        fail(f"cannot write the record {output}: {exc}; choose another -o")
    bad = result.mismatches
    for f in bad[:SHOWN_MISMATCHES]:
        err_console.print(f"[red]mismatch:[/] form {f.form_id}: {f.label} ({f.bucket_label}): "
                          f"expected {f.expected}, counted {f.counted}  [{f.key}]",
                          highlight=False)
    if len(bad) > SHOWN_MISMATCHES:
        err_console.print(f"… and {len(bad) - SHOWN_MISMATCHES} more; every one is in {output}")
    if not result.result_ok:
        err_console.print(f"[red]mismatch:[/] result hash: expected {result.expected_sha256}, "
                          f"counted {result.counted_sha256}", highlight=False)
    verdict = "[green]一致 (match)[/]" if result.ok else "[bold red]不一致 (MISMATCH)[/]"
    console.print(f"{verdict}: {len(result.figures) - len(bad)} of {len(result.figures)} "
                  f"figures agree over {sum(f.sheets for f in result.forms)} deck sheets; "
                  f"result sha256 {result.counted_sha256}; record {escape(str(output))} "
                  f"(audit entry #{result.audit_seq})", highlight=False)
    if sig is not None:
        console.print(f"record signed: sha256 {sig.sha256}, key {sig.key_id}, signature "
                      f"{escape(str(filesig.sig_path(output)))} (check it with `scantally keys "
                      f"verify {escape(str(output))}`)", highlight=False)
    else:
        err_console.print("[yellow]the record is not signed: this station has no key "
                          "(`scantally keys new`)[/]")
    if not result.ok:
        raise typer.Exit(EXIT_MISMATCH)


def register(app: typer.Typer) -> None:
    app.add_typer(testdeck_app, name="testdeck")
