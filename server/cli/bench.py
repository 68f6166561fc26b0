"""`scantally bench ...`: the benchmarks, one group; `intake` and `hall` live here.

`bench intake` feeds simulated sheets through the eSCL simulator and the intake pipeline at a
pace; `bench hall` measures the hall screen's update latency while ingesting. The OMR engine's
own benchmarks (`bench omr`, `bench accuracy`) are in `server.cli.omr`, `bench report` in
`server.cli.report`: they add themselves to `bench_app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from server.cli.common import console, err_console

if TYPE_CHECKING:
    from intake.pipeline import IntakeStats

bench_app = typer.Typer(help="Benchmarks: OMR speed and accuracy, intake, reports, hall screen.",
                        no_args_is_help=True)


def bench_intake(
    sheets: Annotated[int, typer.Option("--sheets", min=10, max=100_000)] = 1000,
    pace: Annotated[float, typer.Option("--pace", min=0, help="scanner pace, sheets/min "
                                        "(0 = as fast as the simulator serves)")] = 100.0,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    queue: Annotated[int | None, typer.Option("--queue", min=1)] = None,
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="keep (and reuse) the simulated sheets in this folder")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """N simulated sheets through the eSCL simulator and the intake pipeline, at a pace."""
    from intake.bench import bench_intake as run

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                   TextColumn("{task.completed}/{task.total}"),
                   TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                   console=err_console, transient=True, disable=as_json)
    simulate = bar.add_task("simulating sheets", total=sheets, info="")
    feed = bar.add_task("scanning", total=sheets, info="", visible=False)

    def on_stats(s: IntakeStats) -> None:
        bar.update(feed, completed=s.ingested, visible=True, info=(
            f"{s.sheets_per_min:.0f} sheets/min, queue {s.queue_depth}/{s.queue_bound}"))

    with bar:
        r = run(sheets, pace, workers, queue, corpus,
                on_corpus=lambda n, _t: bar.update(simulate, completed=n), progress=on_stats)
    if as_json:
        typer.echo(json.dumps(r.to_json(), ensure_ascii=False))
        return
    s = r.stats
    per = lambda key, n: s.stage_s.get(key, 0.0) / max(n, 1) * 1000  # noqa: E731
    table = Table(title=f"intake: {s.ingested} of {r.sheets} sheets through eSCL at "
                        f"{'max' if not r.pace_per_min else f'{r.pace_per_min:g}/min'} pace, "
                        f"{r.workers} worker(s)", show_header=False)
    table.add_row("achieved", f"{s.sheets_per_min:.1f} sheets/min over {s.elapsed_s:.1f} s "
                  f"(ended: {r.ended}; simulator delivered {r.delivered})")
    table.add_row("OMR queue", f"deepest {s.max_queue_depth} of bound {s.queue_bound} "
                  f"(+ at most {s.in_flight_bound} in the workers)")
    table.add_row("per sheet, ms", (
        f"device wait {per('acquire', s.acquired):.0f}, blocked on full queue "
        f"{per('backpressure', s.acquired):.0f}, encode {per('encode', s.acquired):.0f}, "
        f"OMR (worker) {per('omr', s.pages):.0f}, ingest {per('ingest', s.pages):.0f}"))
    if s.latency_s:
        table.add_row("fed -> stored", f"p50 {s.latency_s[0]:.2f} s, p95 {s.latency_s[1]:.2f} s, "
                      f"max {s.latency_s[2]:.2f} s")
    table.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(s.outcomes.items())))
    table.add_row("peak RSS", f"{r.peak_rss_mib:.0f} MiB (this process + workers; workers "
                  f"{r.worker_rss_mib:.0f} MiB); simulator process not counted")
    table.add_row("corpus", f"{r.corpus_s:.0f} s to simulate (not timed above)")
    console.print(table)


def bench_hall(
    sheets: Annotated[int, typer.Option("--sheets", min=10, max=100_000)] = 500,
    rate: Annotated[float, typer.Option("--rate", min=1, max=1000, help="sheets per second")
                    ] = 50.0,
    data: Annotated[Path | None, typer.Option("--data", help="data folder (default: a "
                                              "temporary one)")] = None,
) -> None:
    """Hall-screen update latency (p50/p95/max) while ingesting at --rate sheets/s."""
    from server.bench import bench_hall as run

    report = run(sheets=sheets, rate=rate, data_dir=data,
                 progress=lambda msg: console.print(msg, highlight=False))
    console.print(report.table(), highlight=False)
    if report.aggregate.p95 > 1.0:
        raise typer.Exit(1)


def bench_store(
    pg: Annotated[str, typer.Option("--pg", help="an EMPTY PostgreSQL database to fill, e.g. "
                                    "postgresql://postgres@127.0.0.1:5432/bench_store")],
    sheets: Annotated[int, typer.Option("--sheets", min=10, max=10_000_000)] = 1_000_000,
    meetings: Annotated[int, typer.Option("--meetings", min=2, max=10_000)] = 500,
    seed: Annotated[int, typer.Option("--seed")] = 11,
    reuse: Annotated[bool, typer.Option("--reuse", help="measure a bench store built before "
                                        "with the same --sheets/--meetings/--seed")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A department store of synthetic readings (no images) on PostgreSQL, and its figures:
    one meeting's tally + report there vs alone, a cadre's comprehensive view, the size."""
    from server.cli.store_bench import run_store_bench

    figures = run_store_bench(pg, sheets, meetings, seed, quiet=as_json, reuse=reuse)
    if as_json:
        typer.echo(figures.dumps())


def _bench_group(app: typer.Typer) -> typer.Typer:
    """The `bench` group, shared with other modules that add benchmarks to it."""
    for info in app.registered_groups:
        if info.name == "bench" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help="Benchmarks.", no_args_is_help=True)
    app.add_typer(group, name="bench")
    return group


def register(app: typer.Typer) -> None:
    bench_app.command("intake")(bench_intake)
    bench_app.command("hall")(bench_hall)
    bench_app.command("store")(bench_store)
    app.add_typer(bench_app, name="bench")
