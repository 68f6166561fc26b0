"""`scantally review [decide|crops|history|enter|confirm|find|void]`: the review queue
(`tally.review`): list items, decide them (signed, logged), key a sheet by hand and confirm it
with a second login (`tally.manual`), find a sheet by serial, void any sheet."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from server.cli.common import (
    N_,
    cli_lang,
    console,
    err_console,
    errors,
    fail,
    meeting_command,
    meeting_id,
    open_or_fail,
    operator_name,
    reason,
    t,
)
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt

if TYPE_CHECKING:
    from tally.review.items import ReviewItem
    from tally.store import Store

review_app = typer.Typer(help="The review queue: list items, decide them (signed, logged).",
                         invoke_without_command=True)


def _item_rows(items: list[ReviewItem]) -> Table:
    table = Table()
    # the id in full, never wrapped or cut: `review decide ITEM` needs it as printed
    table.add_column(t(N_("item")), no_wrap=True,
                     min_width=max((len(i.id) for i in items), default=4))
    for col in (N_("kind"), N_("what"), N_("reason"), N_("now")):
        table.add_column(t(col))
    for i in items:
        state = ", ".join(f"{k}={v}" for k, v in i.state.to_json().items()
                          if v not in (None, "", False))
        table.add_row(i.id, i.kind, i.label, reason(None, i.reason), state or "-")
    return table


@review_app.callback()
def review(
    ctx: typer.Context,
    meeting: Annotated[str | None, typer.Option("--meeting", "-m")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="resolved items too")] = False,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="go through the items one by one")] = False,
    who: Annotated[str | None, typer.Option("--who", help="reviewer (interactive)")] = None,
    as_json: JsonOpt = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """List the review queue of a meeting (or decide with a subcommand)."""
    ctx.obj = {"meeting": meeting, "data": data, "db": db}
    if ctx.invoked_subcommand is not None:
        return
    if meeting is None:
        fail("which meeting? give --meeting NAME")
    from tally.review.queue import review_queue

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        items = review_queue(s, mid, include_resolved=show_all)
    if as_json:
        typer.echo(json.dumps([i.to_json() for i in items], ensure_ascii=False, indent=1))
        return
    if not items:
        console.print(t(N_("nothing to review")))
        return
    console.print(_item_rows(items))
    if interactive:
        _interactive(store, mid, items, operator_name(who))


_KEYS = {"m": "marked", "e": "empty", "c": "cancel", "w": "writein", "v": "void", "a": "accept",
         "d": "dismiss", "u": "unvoid"}
#: each decision in words, as the console's review page names it (never a bare decision id:
#: an error's parameters are translated by the catalogue, and "dismiss" stays itself there)
_NAMES = {"marked": N_("marked (a vote)"), "empty": N_("empty (no vote)"),
          "cancel": N_("cancelled (struck out)"), "writein": N_("write-in name"),
          "void": N_("void the sheet"), "accept": N_("accept (count it)"),
          "dismiss": N_("dismiss (not counted)"), "unvoid": N_("unvoid (count it again)")}


def _interactive(store: Store, mid: int, items: list[ReviewItem], who: str) -> None:
    from server.i18n import shown_error_text
    from tally.review.decisions import decide
    from tally.review.errors import ReviewError
    from tally.review.items import NEEDS_REASON

    folder = Path(tempfile.mkdtemp(prefix="scantally-review-"))
    for n, item in enumerate(items, 1):
        files = _write_crops(store, item, folder)
        console.print(f"\n[bold]{n}/{len(items)} {item.id}[/] {item.label}: "
                      f"{reason(None, item.reason)}")
        console.print("  " + t(N_("crops: {files}"), files=", ".join(str(f) for f in files)),
                      highlight=False)
        keys = [k for k, v in _KEYS.items() if v in item.choices]
        legend = ", ".join(f"{k}={t(_NAMES[_KEYS[k]])}" for k in keys)
        answer = typer.prompt("  " + t(N_("decide [{keys}] ({legend}), s=skip, q=quit"),
                                       keys="/".join(keys), legend=legend),
                              default="s").strip().lower()
        if answer == "q":
            return
        kind = _KEYS.get(answer)
        if kind is None:
            continue
        text = typer.prompt("  " + t(N_("name on the line"))) if kind == "writein" else ""
        why = typer.prompt("  " + (t(N_("why (required)")) if kind in NEEDS_REASON
                                   else t(N_("why (optional)"))),
                           default="" if kind not in NEEDS_REASON else None)
        try:
            decide(store, mid, item.id, kind, who=who, why=why or "", text=text)
        except ReviewError as exc:
            err_console.print(f"[red]{escape(shown_error_text(exc, cli_lang()))}[/]",
                              highlight=False)


def _write_crops(store: Store, item: ReviewItem, folder: Path) -> list[Path]:
    from tally.review.crops import render_crop

    out = []
    with store.session(readonly=True) as s, errors():
        for k, crop in enumerate(item.crops):
            png = render_crop(store, s, item.page_id, crop.rect_mm)
            path = folder / f"{item.id.replace(':', '_')}-{k}-{crop.label.replace(' ', '-')}.png"
            path.write_bytes(png)
            out.append(path)
    return out


@review_app.command("decide")
@meeting_command
def review_decide(
    store: Store,
    mid: int,
    item: Annotated[str, typer.Argument(help="item id from the queue, e.g. 12:serial or "
                                        "12:pos.deputy:writein1", show_default=False)],
    who: Annotated[str | None, typer.Option(
        "--who", "--operator", help="who decides (default: $SCANTALLY_OPERATOR, else the OS "
        "user)")] = None,
    mark: Annotated[bool, typer.Option("--mark", help="the box is marked (已标记)")] = False,
    empty: Annotated[bool, typer.Option("--empty", help="the box (or write-in) is empty (空白)")
                     ] = False,
    cancel: Annotated[bool, typer.Option(
        "--cancel", help="the voter marked and struck it out (涂改作废): not a vote")] = False,
    writein: Annotated[str | None, typer.Option("--writein", help="the name on the line")
                       ] = None,
    void: Annotated[bool, typer.Option("--void", help="the whole ballot is void")] = False,
    unvoid: Annotated[bool, typer.Option("--unvoid", help="undo a void")] = False,
    accept: Annotated[bool, typer.Option("--accept", help="count the sheet as it is")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="the sheet does not count")
                       ] = False,
    why: Annotated[str, typer.Option("--why", help="the reason (原因; required for sheet "
                                     "decisions, cancellations and any change of a mark)")] = "",
) -> None:
    """Decide one item (signed with --who, logged with before/after/why)."""
    from tally.review.decisions import decide

    chosen = [k for k, on in (("marked", mark), ("empty", empty), ("cancel", cancel),
                              ("writein", writein is not None), ("void", void),
                              ("unvoid", unvoid), ("accept", accept), ("dismiss", dismiss)) if on]
    if len(chosen) != 1:
        fail("give exactly one of --mark, --empty, --cancel, --writein NAME, --void, --unvoid, "
             "--accept, --dismiss")
    with errors():
        d = decide(store, mid, item, chosen[0], who=operator_name(who), why=why,
                   text=writein or "")
    console.print(f"[green]decided[/] {item}: {d.kind}{' ' + d.text if d.text else ''} "
                  f"(was {d.before}, now {d.after}) by {d.who}", highlight=False)


@review_app.command("crops")
@meeting_command
def review_crops(
    store: Store,
    mid: int,
    item: Annotated[str, typer.Argument(show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for the PNG crops")],
) -> None:
    """Write an item's image crops as PNG files (to look at before deciding)."""
    from tally.review.queue import review_queue

    with store.session(readonly=True) as s:
        found = [i for i in review_queue(s, mid, include_resolved=True) if i.id == item]
    if not found:
        fail(f"no review item {item!r} in this meeting; see `scantally review --meeting M`")
    output.mkdir(parents=True, exist_ok=True)
    for path in _write_crops(store, found[0], output):
        console.print(f"wrote {path}", highlight=False)


@review_app.command("history")
@meeting_command
def review_history(
    store: Store,
    mid: int,
    page: Annotated[int | None, typer.Option("--page", help="one page's decisions")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every decision: who, when, before, after, why."""
    from tally.db import iso_utc
    from tally.review.decisions import history

    with store.session(readonly=True) as s:
        rows = [{"id": d.id, "page": d.page_id, "field": d.field, "option": d.option,
                 "kind": d.kind, "text": d.text, "before": d.before, "after": d.after,
                 "who": d.who, "why": d.why, "at": iso_utc(d.at)} for d in history(s, mid, page)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table()
    for col in ("#", "at", "who", "item", "decision", "before", "after", "why"):
        table.add_column(col)
    for r in rows:
        target = f"{r['page']}" + (f":{r['field']}:{r['option']}" if r["field"] else "")
        table.add_row(str(r["id"]), r["at"] or "", r["who"], target,
                      r["kind"] + (f" {r['text']}" if r["text"] else ""),
                      json.dumps(r["before"], ensure_ascii=False),
                      json.dumps(r["after"], ensure_ascii=False), r["why"])
    console.print(table)


def register(app: typer.Typer) -> None:
    from server.cli import review_manual

    review_manual.register(review_app)
    app.add_typer(review_app, name="review")
