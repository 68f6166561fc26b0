"""`scantally tally MEETING`: the meeting's figures (`tally.rules.compute`) from the stored
readings and review decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from server.cli.common import (
    N_,
    cli_lang,
    console,
    err_console,
    errors,
    fail,
    meeting_id,
    open_or_fail,
    t,
)
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt, MeetingArg


def check_or_fail(store: Any, mid: int, meeting: str) -> None:
    from tally import audit

    with store.session(readonly=True) as s:
        problems = audit.check_meeting(s, mid)
    if problems:
        for p in problems:
            err_console.print(f"[red]{p}[/]", highlight=False)
        fail(f"meeting {meeting!r} fails its audit check ({len(problems)} problem(s)); run "
             "`scantally verify` and restore the store from a backup before counting")


def tally_command(
    meeting: MeetingArg,
    as_json: JsonOpt = False,
    settings: Annotated[Path | None, typer.Option(
        "--settings", help="compute with these settings instead of the meeting's")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """The meeting's figures, from the stored readings and review decisions."""
    from tally.ballots import load_ballots
    from tally.ledger import unresolved_for, unresolved_pages, with_ledger
    from tally.meetings import load_settings_file, meeting_facts, meeting_settings, meeting_specs
    from tally.rules import MeetingResult, TallyInputError, compute
    from tally.rules.compute import result_sha256

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    check_or_fail(store, mid, meeting)
    with errors():
        chosen = load_settings_file(settings) if settings else None
    with store.session(readonly=True) as s:
        ballots = load_ballots(s, mid)
        specs = meeting_specs(s, mid)
        facts = meeting_facts(s, mid)
        chosen = chosen or meeting_settings(s, mid)
        unresolved = unresolved_pages(s, mid)
    try:
        result = compute(ballots, specs, facts, chosen)
    except TallyInputError as exc:
        fail(f"meeting {meeting!r} cannot be tallied: {exc}")
    # provisional (临时结果) while the ledger has pages refused, entered unconfirmed or held
    if isinstance(result, MeetingResult):
        body = MeetingResult(forms=[with_ledger(f, unresolved_for(unresolved, f.form.id))
                                    for f in result.forms])
        result = body.model_copy(update={"sha256": result_sha256(body.model_dump(mode="json"))})
    else:
        result = with_ledger(result, unresolved_for(unresolved, result.form.id))
    doc = result.model_dump(mode="json", by_alias=True)
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    provisional = t(N_("provisional 临时结果: pages unresolved or review pending; see "
                       "`scantally ledger`"))
    from server.i18n import notice_text, summary_text

    lang = cli_lang()
    forms = result.forms if isinstance(result, MeetingResult) else [result]
    for form, shown in zip(doc.get("forms", [doc]), forms, strict=True):
        rec = form["reconciliation"]
        overall = next((r for r in rec["rows"] if r["bucket"] == "_all"), rec["rows"][0])
        console.print(f"[bold]{form['form']['title']}[/] ({form['form']['id']}): 发出 "
                      f"{rec['issued'] if rec['issued'] is not None else '-'}, 收回 "
                      f"{rec['returned']}, 有效 {overall['valid']}, 无效 {overall['invalid']}, "
                      f"弃权 {overall['abstain']}, 待审 {overall['pending_review']}"
                      + (f"  [yellow]({provisional})[/]" if form["provisional"] else ""))
        for notice in shown.alarms:
            alarm = t(N_("alarm:"))
            text = notice_text(notice.template, notice.params, notice.message, lang)
            console.print(f"  [bold red]{alarm}[/] {escape(text)}")
        # warnings aggregated, one line per cadre (a stray page would print a hundred), in the
        # CLI's language (the Chinese as recorded in zh-CN)
        for line in shown.warning_summary:
            if all(r.severity == "alarm" for r in line.rules):
                continue  # printed above
            warning = t(N_("warning ×{count}:"), count=line.count)
            console.print(f"  [yellow]{warning}[/] {escape(summary_text(line, lang))}")
    console.print(t(N_("result sha256 {sha256}; settings {settings}; --json for every figure"),
                    sha256=doc["sha256"],
                    settings=json.dumps(chosen.model_dump(mode="json"), ensure_ascii=False)))


def register(app: typer.Typer) -> None:
    app.command("tally")(tally_command)
