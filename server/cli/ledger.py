"""`scantally ledger MEETING`: every page fed and its state (`tally.ledger`), fed = the sum of
the states per form and per batch, and the pages a person must still act on."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from server.cli.common import N_, console, errors, meeting_id, open_or_fail, reason, t
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt, MeetingArg


def ledger_table(title: str, rows: list[Any]) -> Table:
    """Fed and each state per row (form or batch), with the unresolved count and the balance."""
    from tally.ledger import STATE_LABELS, STATES

    table = Table(title=title)
    for col in ("", "fed 送入", *(f"{s} {STATE_LABELS[s]}" for s in STATES),
                "unresolved 待处理", "balanced"):
        table.add_column(col, justify="left" if not col else "right")
    for r in rows:
        table.add_row(r.label, str(r.fed), *(str(r.states[s]) for s in STATES),
                      str(r.unresolved), "✓" if r.balanced else "[red]✗[/]")
    return table


def ledger_command(meeting: MeetingArg, as_json: JsonOpt = False,
                   data: DataOpt = DEFAULT_DATA, db: DbOpt = None) -> None:
    """Every page fed and its state: counted, duplicate, refused, dismissed, manual, blank."""
    from tally.ledger import meeting_ledger

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with store.session(readonly=True) as s, errors():
        ledger = meeting_ledger(s, mid)
    if as_json:
        typer.echo(json.dumps(ledger.to_json(), ensure_ascii=False, indent=1))
        return
    print_ledger(ledger)


def print_ledger(ledger: Any) -> None:
    console.print(ledger_table("per form 按表单", ledger.by_form))
    console.print(ledger_table("per batch 按批次", ledger.by_batch))
    provisional, resolved = t(N_("provisional 临时结果")), t(N_("every page resolved"))
    status = (f"[yellow]{provisional}[/]: " + t(N_("{n} page(s) unresolved"), n=ledger.unresolved)
              if ledger.provisional else f"[green]{resolved}[/]")
    console.print(t(N_("fed {fed} = {states}; {status}"), fed=ledger.fed, status=status,
                    states=" + ".join(f"{n} {s}" for s, n in ledger.states.items() if n)))
    shown = [p for p in ledger.pages if p.state != "counted" or p.unresolved]
    if not shown:
        return
    table = Table(title=t(N_("pages not plainly counted")))
    for col in ("page", "source", "form", "p", "serial", "state", "code", "reason", "who/why"):
        table.add_column(col)
    for p in shown:
        state = p.state + (" [yellow]待处理[/]" if p.unresolved else "")
        who = " · ".join(x for x in (p.who, p.why) if x)
        table.add_row(str(p.page_id), p.source, p.form_id or "?", str(p.page_no or "?"),
                      p.serial or "?", state, p.code, reason(p.code, p.reason), who or "-")
    console.print(table)
    console.print(t(N_("images: `scantally review crops PAGE:unreadable -o DIR`; a sheet that "
                       "cannot be re-scanned: `scantally review enter PAGE …`")), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("ledger")(ledger_command)
