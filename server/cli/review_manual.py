"""The `review` group's commands about whole sheets: `enter` a sheet's marks by hand from its
image, `confirm` them with a second login (`tally.manual`), `find` a sheet by serial and `void`
any sheet (`tally.ledger`, `tally.review`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from server.cli.common import console, errors, fail, meeting_command, operator_name
from server.cli.options import JsonOpt, OperatorOpt

if TYPE_CHECKING:
    from tally.store import Store

WhyOpt = Annotated[str, typer.Option("--why", help="the reason (原因, required)")]


def _pairs(values: list[str] | None, what: str) -> list[tuple[str, str]]:
    out = []
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"{what} {v!r}: write FIELD=OPTION (e.g. pos.director=P310012)")
        out.append((key.strip(), value.strip()))
    return out


@meeting_command
def review_enter(
    store: Store,
    mid: int,
    page: Annotated[int, typer.Argument(help="the stored page (see `scantally ledger`)",
                                        show_default=False)],
    serial: Annotated[str, typer.Option("--serial", help="the serial printed on the sheet")],
    why: WhyOpt,
    form: Annotated[str | None, typer.Option("--form", help="form id (default: the one its "
                                             "code names)")] = None,
    page_no: Annotated[int | None, typer.Option("--page", help="page of the form (default: "
                                                "the one its code names, else 1)")] = None,
    mark: Annotated[list[str] | None, typer.Option(
        "--mark", help="FIELD=OPTION marked on the paper; repeat for every mark")] = None,
    name: Annotated[list[str] | None, typer.Option(
        "--name", help="FIELD:writeinK=NAME written on a marked write-in line")] = None,
    operator: OperatorOpt = None,
) -> None:
    """Key a sheet's marks from its image (it counts once a second login confirms them)."""
    from tally.manual import HandMarks, enter, entry_form

    marks: dict[str, list[str]] = {}
    for f, o in _pairs(mark, "--mark"):
        marks.setdefault(f, []).append(o)
    names: dict[str, dict[str, str]] = {}
    for key, value in _pairs(name, "--name"):
        f, _, o = key.rpartition(":")
        if not f:
            fail(f"--name {key}={value}: write FIELD:writeinK=NAME")
        names.setdefault(f, {})[o] = value
    with store.session(readonly=True) as s, errors():
        shown = entry_form(s, mid, page, form_id=form, page_no=page_no)
    if shown.form_id is None or shown.page_no is None:
        fail("this meeting has no form to enter the sheet as")
    with errors():
        d = enter(store, mid, page, HandMarks(shown.form_id, serial, shown.page_no, marks,
                                              names), who=operator_name(operator), why=why)
    entered = ", ".join(f"{f}={'/'.join(o)}" for f, o in d.after["marks"].items()) or "no mark"
    console.print(f"[green]entered[/] page #{page} as {d.after['form']} sheet {d.after['serial']} "
                  f"page {d.after['page']}: {entered} (by {d.who}); a second, different login "
                  f"must confirm it: `scantally review confirm {page} --why …`", highlight=False)


@meeting_command
def review_confirm(
    store: Store,
    mid: int,
    page: Annotated[int, typer.Argument(show_default=False)],
    why: WhyOpt,
    operator: OperatorOpt = None,
) -> None:
    """Confirm a page's manual entry against its image (a different person than who keyed it)."""
    from tally.manual import confirm

    with errors():
        d = confirm(store, mid, page, who=operator_name(operator), why=why)
    console.print(f"[green]confirmed[/] page #{page} (entered by {d.before['entered_by']}, "
                  f"confirmed by {d.who}): it counts now", highlight=False)


@meeting_command
def review_find(
    store: Store,
    mid: int,
    serial: Annotated[str, typer.Argument(show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """A sheet by its serial: its pages, their states, the decisions on them."""
    from dataclasses import asdict

    from tally.db import iso_utc
    from tally.ledger import STATE_LABELS, find_sheet

    with store.session(readonly=True) as s, errors():
        found = find_sheet(s, mid, serial)
        decisions = [{"id": d.id, "page": d.page_id, "field": d.field, "option": d.option,
                      "kind": d.kind, "text": d.text, "who": d.who, "why": d.why,
                      "at": iso_utc(d.at)} for d in found.decisions]
    if as_json:
        typer.echo(json.dumps({"serial": found.serial, "pages": [asdict(p) for p in found.pages],
                               "decisions": decisions}, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"sheet {found.serial}")
    for col in ("page", "source", "form", "p", "state", "reason", "who/why"):
        table.add_column(col)
    for p in found.pages:
        table.add_row(str(p.page_id), p.source, p.form_id or "?", str(p.page_no or "?"),
                      f"{p.state} {STATE_LABELS[p.state]}" + (" 待处理" if p.unresolved else ""),
                      p.reason or "-", " · ".join(x for x in (p.who, p.why) if x) or "-")
    console.print(table)
    for d in decisions:
        target = f"{d['page']}" + (f":{d['field']}:{d['option']}" if d["field"] else "")
        console.print(f"  {d['at']} {d['who']}: {target} {d['kind']}"
                      f"{' ' + d['text'] if d['text'] else ''} — {d['why'] or '-'}",
                      highlight=False)
    console.print(f"images: `scantally review crops {found.pages[0].page_id}:sheet -o DIR` "
                  "(or :unreadable for a refused page)", highlight=False)


@meeting_command
def review_void(
    store: Store,
    mid: int,
    sheet: Annotated[str, typer.Argument(help="a serial, or a page number", show_default=False)],
    why: WhyOpt,
    form: Annotated[str | None, typer.Option("--form", help="when the serial is on several "
                                             "forms")] = None,
    unvoid: Annotated[bool, typer.Option("--unvoid", help="undo a void")] = False,
    operator: OperatorOpt = None,
) -> None:
    """Void any sheet (also one that read OK), with a reason; --unvoid undoes it."""
    from tally.ledger import find_sheet
    from tally.review.decisions import decide

    page_id: int | None = None
    with store.session(readonly=True) as s, errors():
        try:
            found = find_sheet(s, mid, sheet)
        except ValueError:
            if not sheet.isdigit():
                raise
            page_id = int(sheet)
        else:
            live = [p for p in found.pages if p.state in ("counted", "manual")
                    and (form is None or p.form_id == form)]
            forms = sorted({p.form_id or "?" for p in live})
            if len(forms) > 1:
                fail(f"serial {sheet} is on forms {', '.join(forms)}; say which with --form")
            if not live:
                fail(f"sheet {sheet} has no page that counts (see `scantally review find "
                     f"{sheet}`)")
            page_id = live[0].page_id
    with errors():
        d = decide(store, mid, str(page_id), "unvoid" if unvoid else "void",
                   who=operator_name(operator), why=why)
    console.print(f"[green]{d.kind}[/] sheet of page #{page_id} by {d.who}: {d.why}",
                  highlight=False)


def register(review_app: typer.Typer) -> None:
    review_app.command("enter")(review_enter)
    review_app.command("confirm")(review_confirm)
    review_app.command("find")(review_find)
    review_app.command("void")(review_void)
