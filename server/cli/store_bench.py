"""The work behind `scantally bench store` (registered in `server.cli.bench`): build the big
store with a progress bar, the same meeting alone in a schema of its own (dropped after), then
measure and print (`tally.benches.store_build`, `tally.benches.store_figures`)."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import make_url, text

from server.cli.common import console, err_console, fail


def _schema_url(pg: str, schema: str) -> str:
    from tally.store import normalize_url

    url = make_url(normalize_url(pg)).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def run_store_bench(pg: str, sheets: int, meetings: int, seed: int, *, quiet: bool = False,
                    reuse: bool = False) -> object:
    from tally.benches import store_figures as bf
    from tally.benches.store_build import (
        BenchError,
        Plan,
        build,
        existing_bench,
        store_bytes,
        vacuum,
    )
    from tally.results import meeting_results
    from tally.store import StoreError, open_store

    plan = Plan(sheets=sheets, meetings=meetings, seed=seed)
    # the meeting compared: an evaluation in the middle of the store
    k = next(i for i in range(meetings // 2, meetings) if meeting_kind(i) == "evaluation")
    work = Path(tempfile.mkdtemp(prefix="scantally-bench-store-"))
    schema = f"scantally_bench_one_{uuid.uuid4().hex[:8]}"
    try:
        big = open_store(work / "big", pg)
    except StoreError as exc:
        fail(str(exc))
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} meetings, {task.fields[sheets]:,} "
                             "sheets"), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=quiet) as bar:
        task = bar.add_task("building the department store", total=meetings, sheets=0)
        try:
            if reuse:
                stats = existing_bench(big, plan)
                vacuum(big)
            else:
                stats = build(big, plan, progress=lambda m, n: bar.update(task, completed=m,
                                                                             sheets=n))
        except BenchError as exc:
            fail(str(exc))
    if not quiet and not reuse:
        console.print(f"built {stats.sheets:,} sheets in {stats.meetings} meetings in "
                      f"{stats.seconds:.0f} s ({stats.sheets / stats.seconds:,.0f} sheets/s)")
    with big.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        alone = open_store(work / "alone", _schema_url(pg, schema))
        one = build(alone, plan, only=k)
        big_id, alone_id = stats.meeting_ids[k], one.meeting_ids[k]
        same = ([f.result.sha256 for f in meeting_results(big, big_id).forms]
                == [f.result.sha256 for f in meeting_results(alone, alone_id).forms])
        if not same:
            fail(f"meeting {k} tallies differently in the big store and alone: a bench bug")
        t_big, t_alone = bf.compare_meeting(big, big_id, alone, alone_id)
        c = bf.cadre_figures(big)
        figures = bf.StoreFigures(
            sheets=stats.sheets, meetings=stats.meetings, build_s=stats.seconds,
            meeting_sheets=plan.sheets_of(k), meeting_big=t_big, meeting_alone=t_alone,
            index_s=c.index_s, cadre=c.cadre, cadre_appearances=c.appearances,
            cadre_cold=c.cold, import_refresh=c.import_refresh, cadre_imported=c.imported,
            cadre_warm=c.warm, store_bytes=store_bytes(big),
            page_index=bf.page_index(big, big_id))
        alone.close()
    finally:
        with big.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        big.close()
    if not quiet:
        console.print(figures_table(figures))
    return figures


def meeting_kind(k: int) -> str:
    from tally.benches.store_plan import RECOMMENDATION_EVERY

    return ("recommendation" if k % RECOMMENDATION_EVERY == RECOMMENDATION_EVERY - 1
            else "evaluation")


def figures_table(f: object) -> Table:
    from tally.benches.store_figures import StoreFigures

    assert isinstance(f, StoreFigures)
    t = Table(title=f"bench store: {f.sheets:,} sheets over {f.meetings} meetings (PostgreSQL)",
              show_header=False)
    if f.build_s:
        t.add_row("build", f"{f.build_s:.0f} s, {f.sheets / f.build_s:,.0f} sheets/s (COPY)")
    else:
        t.add_row("build", "reused the store built before (--reuse)")
    t.add_row("one meeting's tally + report",
              f"{f.meeting_sheets:,} sheets: {f.meeting_big.wall_s:.2f} s in the big store "
              f"vs {f.meeting_alone.wall_s:.2f} s alone (CPU {f.meeting_big.cpu_s:.2f} / "
              f"{f.meeting_alone.cpu_s:.2f} s), best of 5: ratio {f.ratio:.2f} (target "
              f"≤ 1.2; CPU {f.cpu_ratio:.2f})")
    t.add_row("its pages read by", f.page_index)
    t.add_row("person index", f"{f.index_s:.1f} s for {f.meetings} meetings (once)")
    t.add_row("cadre view, cold", f"{f.cadre} ({f.cadre_appearances} meetings): "
              f"{f.cadre_cold.wall_s:.2f} s (nothing cached: tallies its meetings)")
    t.add_row("figures at import", f"{f.import_refresh.wall_s:.2f} s per meeting (CPU "
              f"{f.import_refresh.cpu_s:.2f} s), added to each `scantally import`")
    t.add_row("cadre view, department", f"first look after the imports "
              f"{f.cadre_imported.wall_s:.3f} s, again {f.cadre_warm.wall_s:.3f} s "
              "(target ≤ 1 s)")
    t.add_row("store size", f"{f.store_bytes / 2**20:,.0f} MiB (tables + indexes)")
    return t
