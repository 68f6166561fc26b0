"""`scantally demo`: the one-command tour — a store, a meeting, simulated sheets read and
tallied, the PDF report, and the console and hall screen served on localhost.

Steps: make a data folder (SQLite store), create an example evaluation meeting (应到 per
category, 发出), simulate N marked and scanned sheets (`omr.sim`), read and ingest them with a
progress bar (`intake.run.scan`), write the PDF report, add an admin user and a hall
display token, print the URLs and the login, and serve. `--no-serve` stops before serving (CI).
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from server.cli.common import console, fail, write_atomic

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEMO_SPEC = "evaluation.yaml"
MARKER = ".scantally-demo"
MEETING_NAME = "演示会议：年度民主测评"
ADMIN = "admin"


def _prepare(folder: Path) -> None:
    """An empty demo folder: a previous demo's is replaced, anything else is left alone."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            fail(f"{folder} is not empty and was not made by `scantally demo`; choose another "
                 "folder with --out")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `scantally demo`; deleted by the next demo run\n")


def _expected(total: int) -> dict[str, int]:
    """应到 per category, close to how the simulator's voters are spread over them."""
    leader = max(1, round(total * 0.09))
    middle = max(1, round(total * 0.40))
    return {"leader": leader, "middle": middle, "staff": max(1, total - leader - middle)}


def _bar() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    transient=not console.is_terminal)


def build_demo(out: Path, sheets: int, workers: int, seed: int) -> dict[str, Any]:
    """Everything but serving; returns what to print (URLs are added by the caller)."""
    from intake.pipeline import IntakeOptions
    from intake.run import scan
    from omr.sim.corpus import generate
    from scanner.folder import FileSource
    from server import reports
    from server.cli.common import open_or_fail
    from tally import accounts
    from tally.meetings import FormText, create_meeting

    _prepare(out)
    spec_path = EXAMPLES_DIR / DEMO_SPEC
    store = open_or_fail(out / "data", None)
    expected = _expected(round(sheets * 1.05))
    meeting = create_meeting(store, name=MEETING_NAME, forms=[FormText.read(spec_path)],
                             actor="demo", expected=expected, issued=sheets + 5)
    console.print(f"[green]✓[/] store {store.url}; meeting {meeting.name!r} (#{meeting.id}), "
                  f"应到 {sum(expected.values())} {expected}, 发出 {sheets + 5}", highlight=False,
                  soft_wrap=True)

    scans = out / "scans"
    with _bar() as bar:
        task = bar.add_task(f"simulating {sheets} sheets", total=sheets)
        generate(spec_path, scans, sheets, seed, workers=workers,
                 progress=lambda done, _total: bar.update(task, completed=done))
    paths = sorted(scans.glob("sheet-*.jpg"))
    console.print(f"[green]✓[/] simulated {len(paths)} scanned sheets in {scans}")

    started = time.perf_counter()
    with _bar() as bar:
        task = bar.add_task("reading and ingesting", total=len(paths))
        _, result = scan(store, meeting.id, FileSource([(p, str(p)) for p in paths]),
                         station="demo", device="simulator", operator="demo",
                         options=IntakeOptions(workers=workers),
                         on_page=lambda _done: bar.advance(task))
    outcomes: Counter[str] = result.outcomes.counts
    seconds = time.perf_counter() - started
    console.print(f"[green]✓[/] ingested {sum(outcomes.values())} pages in {seconds:.0f} s "
                  f"({sum(outcomes.values()) * 60 / max(seconds, 1e-6):.0f}/min): "
                  + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())), highlight=False,
                  soft_wrap=True)

    report = reports.report(store, meeting.id, "pdf", operator="demo", station="demo")
    report_path = write_atomic(out / "report.pdf", report.content)
    console.print(f"[green]✓[/] report {report_path} ({len(report.content) / 1024:.0f} KiB)")

    password = secrets.token_urlsafe(9)
    accounts.create_user(store, ADMIN, password, "admin", actor="demo",
                         display_name="演示管理员")
    token, _ = accounts.create_display_token(store, meeting.id, actor="demo", label="demo hall")
    info = {"data": str(out / "data"), "meeting_id": meeting.id, "username": ADMIN,
            "password": password, "hall_token": token, "report": str(report_path),
            "outcomes": dict(outcomes)}
    store.close()
    return info


def demo(
    out: Annotated[Path, typer.Option("--out", help="the demo's folder (replaced each run)")
                   ] = Path("out/demo"),
    sheets: Annotated[int, typer.Option("--sheets", min=5, max=5000,
                                        help="sheets to simulate and read")] = 300,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="processes simulating and reading")] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 2026,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="build everything, print the "
                                           "login, do not serve (CI)")] = False,
) -> None:
    """The whole tour in one command: simulated sheets read, tallied, reported and served."""
    info = build_demo(out, sheets, workers, seed)
    base = f"http://{host}:{port}"
    hall = f"{base}/hall/{info['meeting_id']}?token={info['hall_token']}"
    console.print()
    console.print(f"  console    [bold]{base}/[/]", highlight=False, soft_wrap=True)
    console.print(f"  login      [bold]{info['username']}[/] / [bold]{info['password']}[/]",
                  highlight=False, soft_wrap=True)
    console.print(f"  hall       [bold]{hall}[/]", highlight=False, soft_wrap=True)
    console.print(f"  meeting    {base}/meetings/{info['meeting_id']} (review queue, reports)",
                  highlight=False, soft_wrap=True)
    console.print(f"  report     {info['report']}", highlight=False, soft_wrap=True)
    if no_serve:
        return
    from server.app import ServerSettings, create_app
    from server.cli.common import open_or_fail
    from server.cli.serve import run_server

    store = open_or_fail(Path(info["data"]), None)
    console.print("\nServing; Ctrl-C to stop.")
    run_server(create_app(store, ServerSettings(station="demo", hall_workers=1)), host, port)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
