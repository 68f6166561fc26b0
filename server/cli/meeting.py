"""`scantally meeting new|set|list|show|official`: create and inspect meetings
(`tally.meetings`); a new meeting starts in test mode, `official` ends it (`tally.testmode`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from server.cli.common import N_, console, errors, fail, meeting_id, open_or_fail, t, user
from server.cli.options import DEFAULT_DATA, DataOpt, DbOpt, JsonOpt, MeetingArg

meeting_app = typer.Typer(help="Create and inspect meetings.", no_args_is_help=True)


def _counts(text: str | None, what: str) -> dict[str, int] | None:
    """'leader=10,middle=30' (or a bare '100' for forms without categories) -> a dict."""
    from tally.meetings import ALL_CATEGORIES

    if text is None:
        return None
    if text.strip().isdigit():
        return {ALL_CATEGORIES: int(text)}
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            fail(f"{what} {text!r}: write category=count pairs, e.g. leader=10,middle=30,"
                 "staff=60")
        out[key.strip()] = int(value)
    return out


def _serials(files: list[str] | None) -> tuple[list[str] | None, dict[str, list[str]]]:
    """`--serials FILE` (printed for any form) and `--serials FORM=FILE` (for that form):
    (serials of any form or None, serials per form)."""
    from tally.meetings import parse_serials

    if not files:
        return None, {}
    anyform: list[str] = []
    by_form: dict[str, list[str]] = {}
    with errors():
        for given in files:
            form_id, sep, name = given.partition("=")
            f, form = ((Path(name), form_id.strip()) if sep and not Path(given).exists()
                       else (Path(given), None))
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"cannot read the serials file {f}: {exc}")
            target = anyform if form is None else by_form.setdefault(form, [])
            target.extend(parse_serials(text, str(f)))
    every = anyform + [x for xs in by_form.values() for x in xs]
    if len(set(every)) != len(every):
        fail("the serials files repeat a serial; give each printed set once, each for one form")
    return anyform or None, by_form


def _issued(text: str | None) -> tuple[int | None, dict[str, int] | None]:
    """`--issued 130` (the meeting) or `--issued jt2026-rec=130,jt2026-eval=129` (per form)."""
    if text is None:
        return None, None
    if text.strip().isdigit():
        return int(text.strip()), None
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace("，", ",").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit() or not key.strip():
            fail(f"--issued {text!r}: one number, or form=count pairs such as "
                 "jt2026-rec=130,jt2026-eval=129")
        out[key.strip()] = int(value)
    return None, out


@meeting_app.command("new")
def meeting_new(
    name: Annotated[str, typer.Option("--name", help="meeting name (unique in the store)")],
    form: Annotated[list[Path], typer.Option("--form", help="form spec (YAML); repeat for "
                                             "several forms")],
    expected: Annotated[str | None, typer.Option(
        "--expected", help="应到 per category: leader=10,middle=30,staff=60")] = None,
    present: Annotated[str | None, typer.Option(
        "--present", help="实到 per category (default: the ballots returned)")] = None,
    issued: Annotated[str | None, typer.Option(
        "--issued", help="sheets issued (发出): a number, or per form: FORM=N,FORM=N")] = None,
    serials: Annotated[list[str] | None, typer.Option(
        "--serials", help="printed serials (from `form render --serials-out`): FILE, or "
        "FORM=FILE for the serials of one form; repeatable")] = None,
    settings: Annotated[Path | None, typer.Option(
        "--settings", help="settings file (JSON/YAML: denominator, weights, thresholds)")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="default: the spec's unit")] = None,
    date: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; default: the "
                                             "spec's date")] = None,
    who: Annotated[str | None, typer.Option("--who", help="who sets it up")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Create a meeting from its form spec(s). It starts in test mode (测试模式): print and check
    its test deck (`scantally testdeck`), then `scantally meeting official` starts the count."""
    from tally.meetings import FormText, create_meeting, load_settings_file

    day = None
    if date is not None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            fail(f"--date {date!r} is not a date; write YYYY-MM-DD")
    with errors():
        forms = [FormText.read(p) for p in form]
        chosen = load_settings_file(settings) if settings else None
        printed, by_form = _serials(serials)
        total, per_form = _issued(issued)
        store = open_or_fail(data, db)
        m = create_meeting(store, name=name, forms=forms, actor=who or user(), unit=unit,
                           date=day, expected=_counts(expected, "--expected"),
                           present=_counts(present, "--present"), issued=total,
                           serials=printed, settings=chosen, issued_by_form=per_form,
                           serials_by_form=by_form, test_mode=True)
    n = len(printed or []) + sum(len(x) for x in by_form.values())
    console.print(t(N_("[green]created[/] meeting {name!r} (#{id}) in {url}: {forms} form(s), "
                       "{serials} printed serials recorded"), name=m.name, id=m.id,
                    url=store.url, forms=len(forms), serials=n or t(N_("no")))
                  + "".join(f"; {fid}: {len(x)}" for fid, x in by_form.items()))
    console.print(f"  [bold yellow]测试模式 (test mode)[/]: print and check the test deck "
                  f"(`scantally testdeck {m.name} -o deck.pdf`), then `scantally meeting "
                  f"official {m.name}` clears the test data and starts the real count",
                  highlight=False)


@meeting_app.command("set")
def meeting_set(
    meeting: MeetingArg,
    expected: Annotated[str | None, typer.Option("--expected")] = None,
    present: Annotated[str | None, typer.Option("--present")] = None,
    issued: Annotated[str | None, typer.Option(
        "--issued", help="发出: a number, or per form: FORM=N,FORM=N")] = None,
    serials: Annotated[list[str] | None, typer.Option(
        "--serials", help="add printed serials: FILE, or FORM=FILE")] = None,
    settings: Annotated[Path | None, typer.Option("--settings")] = None,
    who: Annotated[str | None, typer.Option("--who")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Change a meeting's facts (应到/实到/发出), printed serials or settings (logged)."""
    from tally.meetings import load_settings_file, update_meeting

    with errors():
        chosen = load_settings_file(settings) if settings else None
        printed, by_form = _serials(serials)
        total, per_form = _issued(issued)
        store = open_or_fail(data, db)
        mid = meeting_id(store, meeting)
        update_meeting(store, mid, actor=who or user(),
                       expected=_counts(expected, "--expected"),
                       present=_counts(present, "--present"), issued=total, settings=chosen,
                       add_serials=printed, issued_by_form=per_form)
        for fid, xs in by_form.items():
            update_meeting(store, mid, actor=who or user(), add_serials=xs, serials_form=fid)
    console.print(f"[green]updated[/] meeting {meeting!r}")


@meeting_app.command("list")
def meeting_list(data: DataOpt = DEFAULT_DATA, db: DbOpt = None, as_json: JsonOpt = False
                 ) -> None:
    """List the meetings in the store."""
    from tally.meetings import list_meetings, meeting_forms

    store = open_or_fail(data, db)
    with store.session(readonly=True) as s:
        rows = [{"id": m.id, "name": m.name, "unit": m.unit, "date": str(m.date or ""),
                 "forms": sorted(meeting_forms(s, m.id)), "test_mode": bool(m.test_mode)}
                for m in list_meetings(s)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"meetings in {store.url}")
    for col in ("#", "name", "unit", "date", "forms", "mode"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["unit"], r["date"], ", ".join(r["forms"]),
                      "测试模式 test" if r["test_mode"] else "official")
    console.print(table)


@meeting_app.command("show")
def meeting_show(meeting: MeetingArg, data: DataOpt = DEFAULT_DATA, db: DbOpt = None,
                 as_json: JsonOpt = False) -> None:
    """A meeting's forms, facts, settings, counts and audit head."""
    from tally.summary import meeting_summary
    from tally.testmode import is_test_mode, refused_test_pages

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        info = meeting_summary(s, mid)
        info["test_mode"] = is_test_mode(s, mid)
        info["test_sheets_refused"] = refused_test_pages(s, mid)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=1))
        return
    console.print(f"[bold]{info['name']}[/] (#{info['id']}) {info['unit']} {info['date']}")
    if info["test_mode"]:
        console.print("  [bold yellow]测试模式 (test mode)[/]: test data, not an official count; "
                      f"`scantally meeting official {info['name']}` ends it", highlight=False)
    elif info["test_sheets_refused"]:
        console.print(f"  [yellow]{info['test_sheets_refused']} test sheet(s) fed since going "
                      "official: refused (test_sheet), never counted[/]")
    for f in info["forms"]:
        console.print(f"  form {f['id']}: {f['kind']} {f['title']} layout {f['layout_hash'][:12]}")
    printed = (f"{info['printed_serials']} ({info['printed_unreturned']} not returned)"
               if info["printed_serials"] is not None else "-")
    console.print(f"  应到 {info['expected'] or '-'}  实到 {info['present'] or '-'}  "
                  f"发出 {info['issued'] if info['issued'] is not None else '-'}  printed "
                  f"serials {printed}")
    for fid, n in info["issued_by_form"].items():
        console.print(f"  form {fid}: 发出 {n}")
    for fid, n in info["printed_by_form"].items():
        console.print(f"  form {fid or '(any form)'}: printed serials {n['printed']} "
                      f"({n['unreturned']} not returned)")
    console.print(f"  settings {json.dumps(info['settings'], ensure_ascii=False)}")
    console.print(f"  batches {info['batches']}, pages {info['pages'] or '-'}")
    console.print(f"  ballots counted {info['ballots_counted']}, held {info['ballots_held']}, "
                  f"review items open {info['review_open']}")
    ledger = info["ledger"]
    console.print(f"  ledger: fed {ledger['fed']} = " + " + ".join(
        f"{n} {s}" for s, n in ledger["states"].items() if n) + (
        f"; [yellow]{ledger['unresolved']} unresolved (临时结果)[/] — `scantally ledger "
        f"{info['name']}`" if ledger["unresolved"] else "; every page resolved"))
    if info["audit_head"]:
        console.print(f"  audit head #{info['audit_head']['seq']} {info['audit_head']['hash']}")


@meeting_app.command("official")
def meeting_official(
    meeting: MeetingArg,
    why: Annotated[str, typer.Option("--why", help="why now (logged), e.g. the deck check "
                                     "passed, signed by the 监票人")] = "",
    force: Annotated[bool, typer.Option("--force", help="go official although a batch is "
                                        "still open (its station crashed)")] = False,
    who: Annotated[str | None, typer.Option("--who", help="who takes the meeting official")
                   ] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """End test mode: clear the test data (pages, readings, decisions, batches, images), logged;
    test sheets are refused from then on."""
    from tally.testmode import go_official

    store = open_or_fail(data, db)
    mid = meeting_id(store, meeting)
    with errors():
        r = go_official(store, mid, actor=who or user(), why=why, force=force)
    console.print(f"[green]official[/]: meeting {r.name!r} (#{r.meeting_id}) is no longer in "
                  f"test mode; cleared {r.pages} page(s), {r.decisions} review decision(s) "
                  f"({r.writeins} write-in name(s)), {r.batches} batch(es), {r.test_serials} "
                  f"test serial(s) and {r.images_deleted} image file(s); audit entry "
                  f"#{r.audit_seq} at {r.at}", highlight=False)
    check = r.deck_check
    if check is None:
        console.print("  [yellow]no test deck was checked before going official (logged)[/]")
    else:
        verdict = "matched" if check.get("ok") else "[red]did NOT match[/]"
        console.print(f"  the last deck check (audit entry #{check.get('seq')}, {check.get('at')}"
                      f", {check.get('actor')}) {verdict}")
    console.print("  test sheets fed from now on are refused (reason test_sheet)")


def register(app: typer.Typer) -> None:
    app.add_typer(meeting_app, name="meeting")
