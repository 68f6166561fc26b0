"""`scantally cadre …`: one cadre across meetings, stages and years (综合分析, `tally.cadre`).

list / show a cadre, enter a stage without ballots by hand (谈话推荐 …, logged with who, when
and why in the hand-entry chain), the per-cadre PDF, the xlsx of a list of cadres, refresh
the cached figures of every meeting, and verify the hand-entry chain.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from server.cli.common import console, err_console, fail, open_or_fail, user, write_atomic
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt

if TYPE_CHECKING:
    from tally.cadre.model import CadreView
    from tally.store import Store

cadre_app = typer.Typer(help="综合分析: one cadre across meetings, stages and years.",
                        no_args_is_help=True)
PersonArg = Annotated[str, typer.Argument(help="the person id (as the forms' person_id), or "
                                          "a key from `scantally cadre list`",
                                          show_default=False)]


def _view(store: Store, key: str) -> CadreView:
    from tally.cadre.view import CadreNotFound, cadre_view

    try:
        return cadre_view(store, key)
    except CadreNotFound as exc:
        fail(str(exc))


@cadre_app.command("list")
def list_command(search: Annotated[str, typer.Option("--search", "-s", help="part of a name "
                                                     "or person id")] = "",
                 as_json: JsonOpt = False, data: DataOpt = DEFAULT_DATA, db: DbOpt = None
                 ) -> None:
    """The people of every stored meeting (and of hand entries), most meetings first."""
    from tally.cadre.people import search as find

    found = find(open_or_fail(data, db), search)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in found], ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} people" + (f" matching {search!r}" if search else ""))
    for col in ("key", "name", "post", "meetings", "years", "stages"):
        table.add_column(col)
    for c in found:
        table.add_row(c.key, c.name, c.post, str(c.meetings),
                      " ".join(str(y) for y in c.years), " ".join(c.stages))
    console.print(table)


@cadre_app.command("show")
def show_command(person: PersonArg, as_json: JsonOpt = False, data: DataOpt = DEFAULT_DATA,
                 db: DbOpt = None) -> None:
    """Every meeting, stage and year of one person, with its figures."""
    from tally.cadre.stages import FIGURE_LABELS
    from tally.report.cadre_pdf import SHOWN, figure_text

    view = _view(open_or_fail(data, db), person)
    if as_json:
        typer.echo(json.dumps(view.model_dump(mode="json"), ensure_ascii=False))
        return
    table = Table(title=f"{view.name} {view.post} ({view.person_id or view.key})")
    for col in ("year", "stage", "meeting", "subject", "figures", "source"):
        table.add_column(col)
    for a in view.appearances:
        figs = ", ".join(f"{FIGURE_LABELS[k]} {figure_text(k, a.figures.get(k))}"
                         for k in SHOWN[a.stage] if k in a.figures)
        table.add_row(str(a.year), a.stage, a.meeting_label, a.subject, figs,
                      f"hand: {a.entered_by}" if a.source == "hand" else a.result_sha256[:12])
    console.print(table)
    if view.local_only:
        console.print("this person has no person_id in the form: matched within this meeting "
                      "only; give them a person_id in the spec to join their meetings")


def _values(pairs: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            fail(f"--value {p!r}: write name=number, e.g. --value votes=12 --value of=30")
    return out


@cadre_app.command("enter")
def enter_command(
    person: PersonArg,
    stage: Annotated[str, typer.Option("--stage", help="谈话推荐 | 民意调查 | 民主推荐 | "
                                       "民主测评 | 满意度评议")],
    year: Annotated[int, typer.Option("--year")],
    meeting_label: Annotated[str, typer.Option("--meeting-label", help="the meeting or talk "
                                               "round, e.g. 2026年换届谈话推荐")],
    value: Annotated[list[str], typer.Option("--value", help="name=number, e.g. votes=12, "
                                             "of=30 (repeat)")],
    name: Annotated[str, typer.Option("--name", help="needed for a person on no ballot")] = "",
    post: Annotated[str, typer.Option("--post", help="职务")] = "",
    why: Annotated[str, typer.Option("--why", help="why (e.g. a correction)")] = "",
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Enter a stage without ballots by hand (logged: who, when, why)."""
    from tally.cadre.entries import EntryError, HandEntry, enter

    store = open_or_fail(data, db)
    try:
        row = enter(store, HandEntry(person, stage, year, meeting_label, _values(value), name,
                                     post, why), who=user())
    except EntryError as exc:
        fail(str(exc))
    console.print(f"entered #{row.seq}: {row.person_id} {row.stage} {row.year} "
                  f"{row.meeting_label} {row.values} by {row.who} at {row.at}")


@cadre_app.command("report")
def report_command(person: PersonArg,
                   output: Annotated[Path, typer.Option("-o", "--output", help="the PDF")],
                   data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """The per-cadre PDF: year-over-year lines, stage bars, every meeting and category."""
    from tally.report.cadre_pdf import render_cadre

    view = _view(open_or_fail(data, db), person)
    pdf = render_cadre(view, generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    write_atomic(output, pdf)
    console.print(f"wrote {output} ({len(pdf) / 1024:.0f} KiB): {len(view.appearances)} "
                  f"meetings/entries over {', '.join(map(str, view.years))}")


@cadre_app.command("xlsx")
def xlsx_command(people: Annotated[list[str], typer.Argument(help="person ids",
                                                            show_default=False)],
                 output: Annotated[Path, typer.Option("-o", "--output", help="the workbook")],
                 data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """One workbook for a list of cadres: summary, every meeting, every category."""
    from tally.report.cadre_xlsx import render_cadres_xlsx

    store = open_or_fail(data, db)
    views = [_view(store, p) for p in people]  # all found before anything is written
    content = render_cadres_xlsx(views)
    write_atomic(output, content)
    console.print(f"wrote {output} ({len(content) / 1024:.0f} KiB): {len(views)} cadres")


@cadre_app.command("refresh")
def refresh_command(data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """Index every meeting's people and bring each meeting's cached figures up to date."""
    from tally.cadre.view import refresh_all

    store = open_or_fail(data, db)
    with Progress(TextColumn("figures"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("", total=None)
        n = refresh_all(store, lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"{n} meetings indexed, their figures up to date")


@cadre_app.command("verify")
def verify_command(data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """Check the hand-entry chain: every entry against its hash and the one before."""
    from tally.cadre.entries import check_entries

    store = open_or_fail(data, db)
    with store.session(readonly=True) as s:
        problems = check_entries(s)
    for p in problems:
        err_console.print(f"[red]{p}[/]", highlight=False)
    if problems:
        fail(f"the hand-entry chain has {len(problems)} problem(s)", code=1)
    console.print("hand entries: chain intact")


def register(app: typer.Typer) -> None:
    app.add_typer(cadre_app, name="cadre")
