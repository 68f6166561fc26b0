"""`scantally meeting|ingest|review|tally|recount|verify|gc`: the store half of the tally.

Each command opens the store (`--data DIR`, default ./data or $SCANTALLY_DATA; `--db URL` or
$SCANTALLY_DB for PostgreSQL) and makes one call into `tally`. Bad input exits 2 with a message
naming the thing and what to do; nothing is half-written.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from server.cli.common import console, err_console, fail

DataOpt = Annotated[Path, typer.Option(
    "--data", envvar="SCANTALLY_DATA", help="data folder: images (and the SQLite file)")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", envvar="SCANTALLY_DB", help="database URL, e.g. postgresql://user@host/db "
    "(default: a SQLite file in the data folder)")]
MeetingOpt = Annotated[str, typer.Option("--meeting", "-m", help="meeting name or number")]
MeetingArg = Annotated[str, typer.Argument(help="meeting name or number", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
DEFAULT_DATA = Path("data")
#: on `review` subcommands: when not given, the `review` group's --data / --db hold
SubDataOpt = Annotated[Path | None, typer.Option("--data", envvar="SCANTALLY_DATA",
                                                 help="data folder")]
SubDbOpt = Annotated[str | None, typer.Option("--db", envvar="SCANTALLY_DB", help="database URL")]

meeting_app = typer.Typer(help="Create and inspect meetings.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue: list items, decide them (signed, logged).",
                         invoke_without_command=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the store's expected errors into `fail` (exit 2) with their message."""
    from tally.images import ImageError
    from tally.ingest import IngestRefused
    from tally.meetings import MeetingError
    from tally.review import ReviewError
    from tally.store import StoreError

    try:
        yield
    except (MeetingError, StoreError, ReviewError, ImageError, IngestRefused) as exc:
        fail(str(exc))


def _open(data: Path, db: str | None):  # -> tally.store.Store
    from tally.store import open_store

    with _errors():
        return open_store(data, db)


def _meeting_id(store: Any, ref: str) -> int:
    from tally.meetings import find_meeting

    with store.session(readonly=True) as s, _errors():
        return find_meeting(s, ref).id


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


def _serials(files: list[Path] | None) -> list[str] | None:
    from tally.meetings import parse_serials

    if not files:
        return None
    serials: list[str] = []
    with _errors():
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"cannot read the serials file {f}: {exc}")
            serials.extend(parse_serials(text, str(f)))
    if len(set(serials)) != len(serials):
        fail("the serials files repeat a serial; give each printed set once")
    return serials


# -- meeting ----------------------------------------------------------------------------------

@meeting_app.command("new")
def meeting_new(
    name: Annotated[str, typer.Option("--name", help="meeting name (unique in the store)")],
    form: Annotated[list[Path], typer.Option("--form", help="form spec (YAML); repeat for "
                                             "several forms")],
    expected: Annotated[str | None, typer.Option(
        "--expected", help="应到 per category: leader=10,middle=30,staff=60")] = None,
    present: Annotated[str | None, typer.Option(
        "--present", help="实到 per category (default: the ballots returned)")] = None,
    issued: Annotated[int | None, typer.Option("--issued", min=0, help="sheets issued (发出)")
                      ] = None,
    serials: Annotated[list[Path] | None, typer.Option(
        "--serials", help="printed serials (from `form render --serials-out`); repeatable")
    ] = None,
    settings: Annotated[Path | None, typer.Option(
        "--settings", help="settings file (JSON/YAML: denominator, weights, thresholds)")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="default: the spec's unit")] = None,
    date: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; default: the "
                                             "spec's date")] = None,
    who: Annotated[str | None, typer.Option("--who", help="who sets it up")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Create a meeting from its form spec(s)."""
    from tally.meetings import FormText, create_meeting, load_settings_file

    day = None
    if date is not None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            fail(f"--date {date!r} is not a date; write YYYY-MM-DD")
    with _errors():
        forms = [FormText.read(p) for p in form]
        chosen = load_settings_file(settings) if settings else None
        printed = _serials(serials)
        store = _open(data, db)
        m = create_meeting(store, name=name, forms=forms, actor=who or _user(), unit=unit,
                           date=day, expected=_counts(expected, "--expected"),
                           present=_counts(present, "--present"), issued=issued,
                           serials=printed, settings=chosen)
    console.print(f"[green]created[/] meeting {m.name!r} (#{m.id}) in {store.url}: "
                  f"{len(forms)} form(s), "
                  f"{len(printed) if printed else 'no'} printed serials recorded")


@meeting_app.command("set")
def meeting_set(
    meeting: MeetingArg,
    expected: Annotated[str | None, typer.Option("--expected")] = None,
    present: Annotated[str | None, typer.Option("--present")] = None,
    issued: Annotated[int | None, typer.Option("--issued", min=0)] = None,
    serials: Annotated[list[Path] | None, typer.Option(
        "--serials", help="add printed serials")] = None,
    settings: Annotated[Path | None, typer.Option("--settings")] = None,
    who: Annotated[str | None, typer.Option("--who")] = None,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Change a meeting's facts (应到/实到/发出), printed serials or settings (logged)."""
    from tally.meetings import load_settings_file, update_meeting

    with _errors():
        chosen = load_settings_file(settings) if settings else None
        printed = _serials(serials)
        store = _open(data, db)
        mid = _meeting_id(store, meeting)
        update_meeting(store, mid, actor=who or _user(),
                       expected=_counts(expected, "--expected"),
                       present=_counts(present, "--present"), issued=issued, settings=chosen,
                       add_serials=printed)
    console.print(f"[green]updated[/] meeting {meeting!r}")


@meeting_app.command("list")
def meeting_list(data: DataOpt = DEFAULT_DATA, db: DbOpt = None, as_json: JsonOpt = False
                 ) -> None:
    """List the meetings in the store."""
    from tally.meetings import list_meetings, meeting_forms

    store = _open(data, db)
    with store.session(readonly=True) as s:
        rows = [{"id": m.id, "name": m.name, "unit": m.unit, "date": str(m.date or ""),
                 "forms": sorted(meeting_forms(s, m.id))} for m in list_meetings(s)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table(title=f"meetings in {store.url}")
    for col in ("#", "name", "unit", "date", "forms"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["unit"], r["date"], ", ".join(r["forms"]))
    console.print(table)


@meeting_app.command("show")
def meeting_show(meeting: MeetingArg, data: DataOpt = DEFAULT_DATA, db: DbOpt = None,
                 as_json: JsonOpt = False) -> None:
    """A meeting's forms, facts, settings, counts and audit head."""
    from tally.meetings import meeting_summary

    store = _open(data, db)
    with store.session(readonly=True) as s:
        info = meeting_summary(s, _meeting_id(store, meeting))
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=1))
        return
    console.print(f"[bold]{info['name']}[/] (#{info['id']}) {info['unit']} {info['date']}")
    for f in info["forms"]:
        console.print(f"  form {f['id']}: {f['kind']} {f['title']} layout {f['layout_hash'][:12]}")
    printed = (f"{info['printed_serials']} ({info['printed_unreturned']} not returned)"
               if info["printed_serials"] is not None else "-")
    console.print(f"  应到 {info['expected'] or '-'}  实到 {info['present'] or '-'}  "
                  f"发出 {info['issued'] if info['issued'] is not None else '-'}  printed "
                  f"serials {printed}")
    console.print(f"  settings {json.dumps(info['settings'], ensure_ascii=False)}")
    console.print(f"  batches {info['batches']}, pages {info['pages'] or '-'}")
    console.print(f"  ballots counted {info['ballots_counted']}, held {info['ballots_held']}, "
                  f"review items open {info['review_open']}")
    if info["audit_head"]:
        console.print(f"  audit head #{info['audit_head']['seq']} {info['audit_head']['hash']}")


# -- ingest -----------------------------------------------------------------------------------

def _expand(files: list[Path]) -> list[Path]:
    from scanner.folder import IMAGE_SUFFIXES, natural_key

    out: list[Path] = []
    for f in files:
        if f.is_dir():
            out.extend(sorted((p for p in f.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
                              key=lambda p: natural_key(str(p.relative_to(f)))))
        else:
            out.append(f)
    return out


def _pairs_from_files(paths: list[Path], layouts: dict[str, Any],
                      workers: int) -> Iterator[tuple[Any, bytes | None]]:
    try:
        from omr.batch import read_paths
    except ImportError as exc:
        fail(f"the OMR engine (omr.batch) is not available here ({exc}); ingest pre-computed "
             "readings with --readings FILE.jsonl")
    yield from read_paths(paths, layouts, workers)


def ingest(
    meeting: MeetingOpt,
    files: Annotated[list[Path] | None, typer.Argument(help="scanned images, PDFs or folders",
                                                       show_default=False)] = None,
    readings: Annotated[list[Path] | None, typer.Option(
        "--readings", help="pre-computed readings (JSON lines, each with \"image\": FILE)")
    ] = None,
    station: Annotated[str, typer.Option("--station", help="this station's name")] = "",
    device: Annotated[str, typer.Option("--device", help="scanner / reader used")] = "",
    operator: Annotated[str | None, typer.Option("--operator", help="who feeds")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="voter category of this whole batch")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per page as it is "
                                          "committed, then a summary line")] = False,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Read sheets (or take pre-computed readings), store them, count each sheet once."""
    from tally.ingest import close_batch, ingest_page, iter_readings_file, open_batch
    from tally.meetings import meeting_layouts

    if not files and not readings:
        fail("give the scanned files to ingest, or --readings FILE.jsonl")
    store = _open(data, db)
    mid = _meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        layouts = meeting_layouts(s, mid)
    paths = _expand(files or [])
    total = len(paths)
    for r in readings or []:
        if not r.is_file():
            fail(f"readings file {r} not found")
        with r.open(encoding="utf-8") as fh:
            total += sum(1 for line in fh if line.strip())

    def pairs() -> Iterator[tuple[Any, bytes | None]]:
        for r in readings or []:
            yield from iter_readings_file(r)
        if paths:
            yield from _pairs_from_files(paths, layouts, workers)

    with _errors():
        batch = open_batch(store, mid, station=station, device=device,
                           operator=operator or _user(), category=category)
    tally: Counter[str] = Counter()
    refeed: list[str] = []
    refused: list[str] = []
    try:
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                      transient=True, disable=as_json) as bar:
            task = bar.add_task(f"ingesting into {batch.meeting_name}", total=total or None)
            for reading, image in pairs():
                result = ingest_page(store, batch, reading, image)
                tally[result.outcome] += 1
                if result.outcome == "unreadable":
                    refeed.append(f"{result.source}: {result.message}")
                elif result.outcome == "refused":
                    refused.append(result.message)
                if as_json:
                    sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                bar.advance(task)
    finally:
        close_batch(store, batch)
    summary = {"read": sum(tally.values()), "ok": tally["ok"], "review": tally["review"],
               "unreadable": tally["unreadable"], "unknown_serial": tally["unknown_serial"],
               "duplicates": tally["duplicate"], "already_stored": tally["already"],
               "blank": tally["blank"], "refused": tally["refused"], "batch": batch.batch_id}
    if as_json:
        typer.echo(json.dumps({"summary": summary, "refeed": refeed, "refused": refused},
                              ensure_ascii=False))
    else:
        _print_summary(summary, refeed, refused)
    if refused:
        raise typer.Exit(2)


def _print_summary(summary: dict[str, int], refeed: list[str], refused: list[str]) -> None:
    table = Table(title=f"batch #{summary['batch']}", show_header=False)
    labels = {"read": "pages read", "ok": "ok, counted", "review": "counted, to review",
              "unreadable": "unreadable (re-feed)", "unknown_serial": "unknown serial (held)",
              "duplicates": "duplicate sheets (not counted)",
              "already_stored": "same image already stored", "blank": "blank pages",
              "refused": "refused"}
    for key, label in labels.items():
        table.add_row(label, str(summary[key]))
    console.print(table)
    if refeed:
        console.print("[yellow]re-feed these sheets:[/]")
        for line in refeed:
            console.print(f"  {line}", highlight=False)
    for line in refused:
        err_console.print(f"[bold red]refused:[/] {line}", highlight=False)


# -- review -----------------------------------------------------------------------------------

def _item_rows(items: list[Any]) -> Table:
    table = Table()
    for col in ("item", "kind", "what", "reason", "now"):
        table.add_column(col)
    for i in items:
        state = ", ".join(f"{k}={v}" for k, v in i.state.items() if v not in (None, "", False))
        table.add_row(i.id, i.kind, i.label, i.reason, state or "-")
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
    from tally.review import review_queue

    store = _open(data, db)
    mid = _meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        items = review_queue(s, mid, include_resolved=show_all)
    if as_json:
        typer.echo(json.dumps([_item_json(i) for i in items], ensure_ascii=False, indent=1))
        return
    if not items:
        console.print("nothing to review")
        return
    console.print(_item_rows(items))
    if interactive:
        _interactive(store, mid, items, who or _user())


def _item_json(i: Any) -> dict[str, Any]:
    return {"id": i.id, "kind": i.kind, "page_id": i.page_id, "source": i.source,
            "form": i.form_id, "page": i.page_no, "serial": i.serial, "field": i.field,
            "option": i.option, "label": i.label, "reason": i.reason,
            "choices": list(i.choices), "state": i.state, "score": i.score,
            "resolved": i.resolved,
            "crops": [{"label": c.label, "rect_mm": c.rect_mm} for c in i.crops]}


_KEYS = {"m": "marked", "e": "empty", "w": "writein", "v": "void", "a": "accept",
         "d": "dismiss", "u": "unvoid"}


def _interactive(store: Any, mid: int, items: list[Any], who: str) -> None:
    from tally.review import NEEDS_REASON, ReviewError, decide

    folder = Path(tempfile.mkdtemp(prefix="scantally-review-"))
    for n, item in enumerate(items, 1):
        files = _write_crops(store, item, folder)
        console.print(f"\n[bold]{n}/{len(items)} {item.id}[/] {item.label}: {item.reason}")
        console.print(f"  crops: {', '.join(str(f) for f in files)}", highlight=False)
        keys = "/".join(k for k, v in _KEYS.items() if v in item.choices)
        answer = typer.prompt(f"  decide [{keys}], s=skip, q=quit", default="s").strip().lower()
        if answer == "q":
            return
        kind = _KEYS.get(answer)
        if kind is None:
            continue
        text = typer.prompt("  name on the line") if kind == "writein" else ""
        why = typer.prompt("  why", default="" if kind not in NEEDS_REASON else None)
        try:
            decide(store, mid, item.id, kind, who=who, why=why or "", text=text)
        except ReviewError as exc:
            err_console.print(f"[red]{exc}[/]")


def _write_crops(store: Any, item: Any, folder: Path) -> list[Path]:
    from tally.review import render_crop

    out = []
    with store.session(readonly=True) as s, _errors():
        for k, crop in enumerate(item.crops):
            png = render_crop(store, s, item.page_id, crop.rect_mm)
            path = folder / f"{item.id.replace(':', '_')}-{k}-{crop.label.replace(' ', '-')}.png"
            path.write_bytes(png)
            out.append(path)
    return out


def _review_store(ctx: typer.Context, meeting: str | None, data: Path | None,
                  db: str | None) -> tuple[Any, int]:
    obj = ctx.obj or {}
    ref = meeting or obj.get("meeting")
    if ref is None:
        fail("which meeting? give --meeting NAME")
    store = _open(data or obj.get("data") or DEFAULT_DATA, db or obj.get("db"))
    return store, _meeting_id(store, ref)


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="item id from the queue, e.g. 12:serial or "
                                        "12:pos.deputy:writein1", show_default=False)],
    who: Annotated[str, typer.Option("--who", help="who decides")],
    meeting: Annotated[str | None, typer.Option("--meeting", "-m")] = None,
    mark: Annotated[bool, typer.Option("--mark", help="the box is marked")] = False,
    empty: Annotated[bool, typer.Option("--empty", help="the box (or write-in) is empty")
                     ] = False,
    writein: Annotated[str | None, typer.Option("--writein", help="the name on the line")
                       ] = None,
    void: Annotated[bool, typer.Option("--void", help="the whole ballot is void")] = False,
    unvoid: Annotated[bool, typer.Option("--unvoid", help="undo a void")] = False,
    accept: Annotated[bool, typer.Option("--accept", help="count the sheet as it is")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="the sheet does not count")
                       ] = False,
    why: Annotated[str, typer.Option("--why", help="the reason (required for sheet "
                                     "decisions)")] = "",
    data: SubDataOpt = None,
    db: SubDbOpt = None,
) -> None:
    """Decide one item (signed with --who, logged with before/after/why)."""
    from tally.review import decide

    chosen = [k for k, on in (("marked", mark), ("empty", empty), ("writein", writein is not None),
                              ("void", void), ("unvoid", unvoid), ("accept", accept),
                              ("dismiss", dismiss)) if on]
    if len(chosen) != 1:
        fail("give exactly one of --mark, --empty, --writein NAME, --void, --unvoid, --accept, "
             "--dismiss")
    store, mid = _review_store(ctx, meeting, data, db)
    with _errors():
        d = decide(store, mid, item, chosen[0], who=who, why=why, text=writein or "")
    console.print(f"[green]decided[/] {item}: {d.kind}{' ' + d.text if d.text else ''} "
                  f"(was {d.before}, now {d.after}) by {d.who}", highlight=False)


@review_app.command("crops")
def review_crops(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for the PNG crops")],
    meeting: Annotated[str | None, typer.Option("--meeting", "-m")] = None,
    data: SubDataOpt = None,
    db: SubDbOpt = None,
) -> None:
    """Write an item's image crops as PNG files (to look at before deciding)."""
    from tally.review import review_queue

    store, mid = _review_store(ctx, meeting, data, db)
    with store.session(readonly=True) as s:
        found = [i for i in review_queue(s, mid, include_resolved=True) if i.id == item]
    if not found:
        fail(f"no review item {item!r} in this meeting; see `scantally review --meeting M`")
    output.mkdir(parents=True, exist_ok=True)
    for path in _write_crops(store, found[0], output):
        console.print(f"wrote {path}", highlight=False)


@review_app.command("history")
def review_history(
    ctx: typer.Context,
    meeting: Annotated[str | None, typer.Option("--meeting", "-m")] = None,
    page: Annotated[int | None, typer.Option("--page", help="one page's decisions")] = None,
    as_json: JsonOpt = False,
    data: SubDataOpt = None,
    db: SubDbOpt = None,
) -> None:
    """Every decision: who, when, before, after, why."""
    from tally.db import iso_utc
    from tally.review import history

    store, mid = _review_store(ctx, meeting, data, db)
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


# -- tally, recount, verify, gc ---------------------------------------------------------------

def _check_or_fail(store: Any, mid: int, meeting: str) -> None:
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
    from tally.meetings import load_settings_file, meeting_facts, meeting_settings, meeting_specs
    from tally.rules import TallyInputError, compute

    store = _open(data, db)
    mid = _meeting_id(store, meeting)
    _check_or_fail(store, mid, meeting)
    with _errors():
        chosen = load_settings_file(settings) if settings else None
    with store.session(readonly=True) as s:
        ballots = load_ballots(s, mid)
        specs = meeting_specs(s, mid)
        facts = meeting_facts(s, mid)
        chosen = chosen or meeting_settings(s, mid)
    try:
        result = compute(ballots, specs, facts, chosen)
    except TallyInputError as exc:
        fail(f"meeting {meeting!r} cannot be tallied: {exc}")
    doc = result.model_dump(mode="json", by_alias=True)
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return
    for form in doc.get("forms", [doc]):
        rec = form["reconciliation"]
        overall = next((r for r in rec["rows"] if r["bucket"] == "_all"), rec["rows"][0])
        console.print(f"[bold]{form['form']['title']}[/] ({form['form']['id']}): 发出 "
                      f"{rec['issued'] if rec['issued'] is not None else '-'}, 收回 "
                      f"{rec['returned']}, 有效 {overall['valid']}, 无效 {overall['invalid']}, "
                      f"弃权 {overall['abstain']}, 待审 {overall['pending_review']}"
                      + ("  [yellow](provisional: review pending)[/]" if form["provisional"]
                         else ""))
        for notice in form["alarms"] + form["warnings"]:
            colour = "bold red" if notice["severity"] == "alarm" else "yellow"
            console.print(f"  [{colour}]{notice['severity']}:[/] {notice['message']}")
    console.print(f"result sha256 {doc['sha256']}; settings "
                  f"{json.dumps(chosen.model_dump(mode='json'), ensure_ascii=False)}; "
                  "--json for every figure")


def recount_command(
    meeting: MeetingArg,
    as_json: JsonOpt = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Re-read every stored image with the current engine and list the differences.

    Exit 0: no difference; 1: differences (the table); 2: an image missing or changed.
    """
    from tally.recount import recount

    store = _open(data, db)
    mid = _meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        try:
            with Progress("re-reading", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err_console, transient=True, disable=as_json) as bar:
                task = bar.add_task("re-reading", total=None)
                report = recount(store, s, mid, workers=workers,
                                 progress=lambda n, t: bar.update(task, completed=n, total=t))
        except RuntimeError as exc:
            fail(str(exc))
    if as_json:
        typer.echo(json.dumps({
            "pages": report.pages,
            "differences": [d.__dict__ for d in report.differences],
            "problems": [str(p) for p in report.problems]}, ensure_ascii=False, indent=1))
    else:
        if report.differences:
            table = Table(title=f"{len(report.differences)} difference(s)")
            for col in ("page", "source", "what", "stored", "now"):
                table.add_column(col)
            for d in report.differences:
                table.add_row(str(d.page_id), d.source, d.what, d.stored, d.now)
            console.print(table)
        for p in report.problems:
            err_console.print(f"[red]{p}[/]", highlight=False)
        if not report.differences and not report.problems:
            console.print(f"[green]recount agrees[/]: {report.pages} page(s) re-read, no "
                          "difference")
    if report.problems:
        raise typer.Exit(2)
    if report.differences:
        raise typer.Exit(1)


def verify_command(
    meeting: MeetingArg,
    as_json: JsonOpt = False,
    images: Annotated[bool, typer.Option("--images/--no-images", help="hash every image")
                      ] = True,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Check every image and the audit chain: any edit is found and named (exit 2)."""
    from tally.recount import verify

    store = _open(data, db)
    mid = _meeting_id(store, meeting)
    with store.session(readonly=True) as s:
        report = verify(store, s, mid, check_images=images)
    if as_json:
        typer.echo(json.dumps({"ok": report.ok, "problems": [p.__dict__ for p in report.problems],
                               "pages": report.pages, "images": report.images,
                               "audit_entries": report.audit_entries,
                               "audit_head": {"seq": report.head_seq, "hash": report.head_hash},
                               "anchor": report.anchor},
                              ensure_ascii=False, indent=1))
    else:
        for p in report.problems:
            err_console.print(f"[bold red]{p.kind}:[/] {p}", highlight=False)
        status = "[green]verified[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]"
        console.print(f"{status}: {report.images} image(s), {report.pages} page row(s), "
                      f"{report.audit_entries} audit entries; head #{report.head_seq} "
                      f"{report.head_hash}; " + _anchor_note(report.anchor), highlight=False)
    if not report.ok:
        raise typer.Exit(2)


def _anchor_note(anchor: dict[str, Any] | None) -> str:
    if anchor is None:
        return "no anchor"
    signed = f"signed by key {anchor['key']}" if anchor.get("sig") else (
        "unsigned: make a station key with `scantally keys new`")
    return f"last anchor #{anchor['seq']} ({anchor.get('at')}, {signed})"


def gc_command(
    min_age_minutes: Annotated[float, typer.Option(
        "--min-age-minutes", help="only files older than this (an ingest may be in flight)")
    ] = 60.0,
    data: DataOpt = DEFAULT_DATA,
    db: DbOpt = None,
) -> None:
    """Delete image files no page references (left by a crash before the row committed)."""
    from sqlalchemy import select

    from tally.db import Page

    store = _open(data, db)
    with store.session(readonly=True) as s:
        referenced = set(s.scalars(select(Page.sha256)))
    deleted = store.images.collect_garbage(referenced, min_age_s=min_age_minutes * 60)
    console.print(f"deleted {deleted} orphan image file(s) from {store.images.root}")


def register(app: typer.Typer) -> None:
    app.add_typer(meeting_app, name="meeting")
    app.add_typer(review_app, name="review")
    app.command("ingest")(ingest)
    app.command("tally")(tally_command)
    app.command("recount")(recount_command)
    app.command("verify")(verify_command)
    app.command("gc")(gc_command)
