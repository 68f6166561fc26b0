"""`scantally read` (scanned pages -> readings) and `scantally bench omr|accuracy|truthdeck`.

`read` prints one reading per page (JSON lines with --json), in input order, with a progress bar
on stderr. Exit status: 0 when every page was read (ok, review or blank), 1 when some page was
refused (unreadable or of an unknown form: its reading says why), 2 for a usage error (a bad
spec, a missing file).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from server.cli.common import console, err_console, fail, stdout_is_tty
from server.cli.form import compile_spec
from server.cli.handbench import bench_truthdeck

if TYPE_CHECKING:  # the engine loads OpenCV: imported when a command runs, not at start-up
    from intake.pool import ReaderPool
    from intake.work import PageRead, ReadSettings
    from omr.accuracy import AccuracyReport
    from omr.layout import FormLayout
    from omr.reading import Reading

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_BENCH_SPEC = EXAMPLES_DIR / "evaluation.yaml"
EXIT_REFUSED = 1


FormsOpt = Annotated[list[Path], typer.Option(
    "--form", help="form spec (YAML) the sheets may be of; repeat for a mixed stack",
    show_default=False)]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, max=64, help="reader processes (default: one per core)")]


def load_layouts(specs: list[Path]) -> dict[str, FormLayout]:
    """The typed layout per form id from the given specs (each compiled and parsed once, here
    at the edge); exits 2 on a bad or conflicting spec."""
    from omr.layout import FormLayout

    layouts: dict[str, FormLayout] = {}
    for spec_path in specs:
        spec, compiled, doc = compile_spec(spec_path)
        try:
            layout = FormLayout.parse(doc)
        except ValueError as exc:
            fail(f"{spec_path}: its layout is not a valid scantally.layout/1: {exc}")
        if compiled is None:  # a foreign form: its reference image, prepared for the readers
            from server.cli.learn import with_reference

            layout = with_reference(spec_path, spec, layout)
        fid = layout.id
        if fid in layouts and layouts[fid].hash != layout.hash:
            fail(f"{spec_path}: form id {fid!r} is given twice with different layouts; keep "
                 "the spec the sheets were printed from")
        layouts[fid] = layout
    return layouts


def expand_files(files: list[Path]) -> list[Path]:
    """Files as given, folders replaced by their image files in natural order; exits 2 when a
    path does not exist."""
    from scanner.folder import IMAGE_SUFFIXES, natural_key

    out: list[Path] = []
    for f in files:
        if f.is_dir():
            found = sorted((p for p in f.rglob("*")
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                           key=lambda p: natural_key(str(p.relative_to(f))))
            if not found:
                fail(f"{f}: no image files (JPEG, PNG, TIFF, PDF) in this folder")
            out.extend(found)
        elif f.exists():
            out.append(f)
        else:
            fail(f"{f}: no such file")
    return out


def read(
    files: Annotated[list[Path], typer.Argument(help="scanned images, PDFs or folders",
                                                show_default=False)],
    forms: FormsOpt,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines (one reading per page)")
                       ] = False,
    workers: WorkersOpt = None,
    annotate: Annotated[Path | None, typer.Option(
        "--annotate", help="write each page with its boxes coloured by decision (PNG) here")
    ] = None,
    pdf_dpi: Annotated[float, typer.Option("--pdf-dpi", min=72, max=600,
                                           help="resolution to rasterise PDF pages at")] = 200,
) -> None:
    """Read scanned ballot pages: which boxes are marked, which are doubtful, which pages fail.

    Exit status 0 when every page was read (ok, review or blank), 1 when some page was refused
    (unreadable, unknown form: its reading says why), 2 for a usage error.
    """
    from intake.run import read_files

    layouts = load_layouts(forms)
    paths = expand_files(files)
    statuses: Counter[str] = Counter()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("reading", total=len(paths))
        for reading, _ in read_files(paths, layouts, workers, keep_image=False, pdf_dpi=pdf_dpi,
                                     annotate_dir=annotate,
                                     progress=lambda n: bar.update(task, completed=n)):
            statuses[reading.status] += 1
            if as_json:
                sys.stdout.write(reading.to_json() + "\n")
                sys.stdout.flush()
            elif stdout_is_tty():  # the same terminal as the bar: print above it
                bar.console.print(_human(reading), highlight=False, markup=False)
            else:
                typer.echo(_human(reading))
    summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    err_console.print(f"{sum(statuses.values())} page(s): {summary}"
                      + (f"; annotated pages in {annotate}" if annotate else ""), highlight=False)
    if statuses["unreadable"] or statuses["unknown_form"]:
        raise typer.Exit(EXIT_REFUSED)


def _human(r: Reading) -> str:
    """One line per page for a person: status, sheet, marks, reason."""
    head = f"{r.source}  {r.status.upper()}"
    if r.form:
        head += f"  {r.form} p{r.page} No.{r.serial}"
    marks = []
    for field, m in r.marks.items():
        chosen = ",".join(m.marked) + ("" if not m.doubtful else f" ?{','.join(m.doubtful)}")
        if chosen:
            marks.append(f"{field}={chosen}")
    line = head + ("  " + " ".join(marks) if marks else "")
    return line + (f"  ({r.reason})" if r.reason else "")


# -- bench omr ---------------------------------------------------------------------------------

class RssSampler:
    """Samples the resident memory of this process and all its children in a thread."""

    def __init__(self, every_s: float = 0.1) -> None:
        import psutil

        self._me = psutil.Process()
        self.every_s = every_s
        self.peak_total = 0
        self.peak_one = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> tuple[int, int]:
        """(total RSS of this process and its children, largest single process RSS), bytes."""
        import psutil

        sizes = []
        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                sizes.append(p.memory_info().rss)
            except psutil.Error:
                continue
        return sum(sizes), max(sizes, default=0)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            total, one = self.now()
            self.peak_total = max(self.peak_total, total)
            self.peak_one = max(self.peak_one, one)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _mixed_corpus(spec: Path, out: Path, sheets: int, dpi: int, seed: int, workers: int
                  ) -> None:
    """A stack as a hall feeds it: a third each grey/colour JPEG, PNG and bitonal G4 TIFF, with
    every degradation of the hard profile (refused sheets included)."""
    from omr.sim.corpus import generate

    third = max(1, sheets // 3)
    for k, fmt in enumerate(("jpg", "png", "tiff")):
        n = sheets - 2 * third if fmt == "tiff" else third
        with _bar(f"simulating {n} {fmt} sheets", n) as tick:
            generate(spec, out / fmt, n, seed + k, dpi=dpi, fmt=fmt, profile="hard",
                     workers=workers, progress=lambda done, _total: tick(done))


def _grey_corpus(spec: Path, out: Path, sheets: int, dpi: int, seed: int, workers: int) -> None:
    """Simulated sheets (mixed degradations) saved as grey JPEGs, as a grey scanner makes."""
    from PIL import Image

    from omr.sim.corpus import generate

    with _bar(f"simulating {sheets} sheets", sheets) as tick:
        generate(spec, out, sheets, seed, dpi=dpi, fmt="jpg", profile="mixed",
                 workers=workers, progress=lambda n, _total: tick(n))
    for path in sorted(out.glob("*.jpg")):
        with Image.open(path) as im:
            if im.mode != "L":
                im.convert("L").save(path, "JPEG", quality=85, dpi=(dpi, dpi))


class _bar:
    """A transient progress bar on stderr; calling the context value sets the count."""

    def __init__(self, what: str, total: int | None) -> None:
        self.progress = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=err_console, transient=True)
        self.task = self.progress.add_task(what, total=total)

    def __enter__(self) -> Callable[[int], None]:
        self.progress.start()
        return lambda n: self.progress.update(self.task, completed=n)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _timed_cold(options: ReadSettings, workers: int, files: list[Path], decode_only: bool,
                label: str) -> tuple[float, list[float], int]:
    """As `_timed_run`, with the worker processes started (and their start timed) for it."""
    from intake.pool import ReaderPool

    start = time.perf_counter()
    with ReaderPool(options, workers) as pool:
        _, times, pages = _timed_run(pool, files, decode_only, label)
    return time.perf_counter() - start, times, pages


def _timed_run(pool: ReaderPool, files: list[Path], decode_only: bool, label: str
               ) -> tuple[float, list[float], int]:
    """(wall seconds, per-page seconds, pages) of one pass over the files."""
    start = time.perf_counter()
    times: list[float] = []
    with _bar(label, len(files)) as tick:
        for read in _time_pages(pool, files, decode_only):
            times.append(read.seconds)
            tick(len(times))
    return time.perf_counter() - start, times, len(times)


def _time_pages(pool: ReaderPool, files: Iterable[Path], decode_only: bool = False
                ) -> Iterator[PageRead]:
    """Every page of `files` through the pool, timed in the worker (decode only, or read)."""
    from intake.work import time_work
    from scanner.pages import plan_pages

    pages = (page for f in files for page in plan_pages(str(f), path=f))
    return pool.map(pages, time_work, decode_only)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_omr(
    sheets: Annotated[int, typer.Option("--sheets", min=10, max=100_000,
                                        help="sheets to simulate")] = 200,
    dpi: Annotated[int, typer.Option("--dpi", min=100, max=600)] = 200,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 2,
    form: Annotated[Path, typer.Option("--form", help="form spec to simulate")] = (
        DEFAULT_BENCH_SPEC),
    from_dir: Annotated[Path | None, typer.Option(
        "--from", help="time these image files instead of simulating (needs their --form)")
    ] = None,
    rounds: Annotated[int, typer.Option("--rounds", min=1, max=20,
                                        help="alternate decode/engine passes this often")] = 2,
    long_run: Annotated[int, typer.Option(
        "--long", min=0, help="then read this many sheets (cycling over the files) and print "
        "memory samples: does RSS stay flat?")] = 0,
    keep: Annotated[Path | None, typer.Option("--keep", help="keep the simulated sheets here")
                    ] = None,
    mixed: Annotated[bool, typer.Option(
        "--mixed", help="simulate a mixed stack (JPEG, PNG, bitonal TIFF, hard degradations, "
        "refused sheets) instead of clean grey JPEGs")] = False,
    cold: Annotated[bool, typer.Option(
        "--cold", help="start the worker processes anew for every pass (process start "
        "included, as `scantally read` runs)")] = False,
) -> None:
    """Engine vs decode-only speed on the same files in the same run, and memory."""
    from intake.pool import ReaderPool
    from intake.work import ReadSettings

    layouts = load_layouts([form])
    tmp: Path | None = None
    if from_dir is not None:
        files = expand_files([from_dir])
    else:
        folder = keep or Path(tempfile.mkdtemp(prefix="scantally-bench-"))
        tmp = None if keep else folder
        (_mixed_corpus if mixed else _grey_corpus)(form, folder, sheets, dpi, 20261120,
                                                   workers)
        files = expand_files([folder])
    options = ReadSettings(layouts, keep_image=False)
    try:
        with RssSampler() as rss, ReaderPool(options, workers) as pool:
            list(_time_pages(pool, files[: 2 * workers]))  # warm up: start, load the workers
            decode_runs, engine_runs = [], []
            for k in range(rounds):
                for decode_only, runs, label in ((True, decode_runs, "decode-only"),
                                                 (False, engine_runs, "engine")):
                    name = f"{label} {k + 1}"
                    runs.append(_timed_cold(options, workers, files, decode_only, name) if cold
                                else _timed_run(pool, files, decode_only, name))
            _report_speed(decode_runs, engine_runs, workers, dpi, rss,
                          f"the files of {from_dir}" if from_dir is not None else
                          "mixed stack" if mixed else f"{dpi} dpi grey JPEG", cold)
            if long_run:
                _long_run(pool, files, long_run, rss)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _report_speed(decode_runs: list, engine_runs: list, workers: int, dpi: int,
                  rss: RssSampler, what: str, cold: bool = False) -> None:
    def rate(run: tuple[float, list[float], int]) -> float:
        return run[2] / run[0] * 60.0

    d_rates = [rate(r) for r in decode_runs]
    e_rates = [rate(r) for r in engine_runs]
    d_times = [t for r in decode_runs for t in r[1]]
    e_times = [t for r in engine_runs for t in r[1]]
    ratios = [e / d for e, d in zip(e_rates, d_rates, strict=True)]
    table = Table(title=f"OMR throughput: {engine_runs[0][2]} pages, {what}, {workers} "
                        f"worker(s), {len(engine_runs)} round(s)"
                        + (", process start included" if cold else ""))
    for col in ("pass", "sheets/min", "ms/sheet p50", "ms/sheet p95"):
        table.add_column(col, justify="right" if col != "pass" else "left")
    table.add_row("decode only", f"{statistics.median(d_rates):,.0f}",
                  f"{_pct(d_times, 50) * 1000:.1f}", f"{_pct(d_times, 95) * 1000:.1f}")
    table.add_row("engine (decode + read)", f"{statistics.median(e_rates):,.0f}",
                  f"{_pct(e_times, 50) * 1000:.1f}", f"{_pct(e_times, 95) * 1000:.1f}")
    console.print(table)
    console.print(f"engine / decode-only rate: {statistics.median(ratios):.2f} "
                  f"(per round: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.60)")
    console.print(f"peak RSS: {rss.peak_total / 2**20:.0f} MiB in all processes, largest "
                  f"process {rss.peak_one / 2**20:.0f} MiB")


def _cycle(files: list[Path], total: int) -> Iterator[Path]:
    for i in range(total):
        yield files[i % len(files)]


def _long_run(pool: ReaderPool, files: list[Path], total: int, rss: RssSampler) -> None:
    every = max(1, total // 20)
    samples: list[tuple[int, float]] = []
    start = time.perf_counter()
    with _bar(f"long run: {total} sheets", total) as tick:
        for done, _ in enumerate(_time_pages(pool, _cycle(files, total)), 1):
            if done % every == 0 or done == total:
                tick(done)
                samples.append((done, rss.now()[0] / 2**20))
    wall = time.perf_counter() - start
    table = Table(title=f"RSS over {total} sheets ({total / wall * 60:,.0f} sheets/min)")
    table.add_column("sheets", justify="right")
    table.add_column("RSS, all processes (MiB)", justify="right")
    for n, mib in samples:
        table.add_row(f"{n:,}", f"{mib:.0f}")
    console.print(table)
    first = samples[min(2, len(samples) - 1)][1]
    last = samples[-1][1]
    console.print(f"RSS from sheet {samples[min(2, len(samples) - 1)][0]:,} to {total:,}: "
                  f"{first:.0f} -> {last:.0f} MiB ({last - first:+.0f} MiB)")


# -- bench accuracy ----------------------------------------------------------------------------

def bench_accuracy(
    form: Annotated[Path, typer.Option("--form", help="form spec to simulate")] = (
        DEFAULT_BENCH_SPEC),
    sheets: Annotated[int, typer.Option("--sheets", min=1, max=100_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    profile: Annotated[str, typer.Option("--profile", help="degradations: mixed or hard")
                       ] = "mixed",
    fmt: Annotated[str, typer.Option("--format", help="jpg, png or tiff")] = "jpg",
    workers: WorkersOpt = None,
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="score an existing simulated corpus (its truth.json) instead")] = None,
    keep: Annotated[Path | None, typer.Option("--keep", help="keep the simulated corpus here")
                    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    model: Annotated[str, typer.Option(
        "--model", help="sim (omr.sim), hand (omr.handsim: an independent model of pens and "
        "scanners; --format does not apply) or both")] = "sim",
) -> None:
    """Read a simulated corpus and compare with its truth: misreads, review rate, cancels.

    Exit status 0 when the targets hold (no misread, <= 0.5 % of clear marks to review, every
    cancelled mark and every refused page caught), 1 otherwise. With --model hand (or both)
    the hand deck is scored by `omr.handsim.score` (lost votes, phantoms, cancels counted,
    clear marks to review, readable sheets refused).
    """
    if model not in ("sim", "hand", "both"):
        fail(f"--model {model!r}: use sim, hand or both")
    ok = True
    if model in ("hand", "both"):
        from intake.pool import default_workers
        from server.cli.handbench import run_hand_accuracy

        if corpus is not None and model == "both":
            fail("--corpus is one deck: give --model sim or --model hand with it")
        hand_keep = keep / "hand" if keep is not None and model == "both" else keep
        ok = run_hand_accuracy(form, sheets, seed, profile, workers or default_workers(),
                               corpus, hand_keep, as_json)
        if model == "hand":
            if not ok:
                raise typer.Exit(EXIT_REFUSED)
            return
        keep = keep / "sim" if keep is not None else None
    _sim_accuracy(form, sheets, seed, profile, fmt, workers, corpus, keep, as_json, ok)


def _sim_accuracy(form: Path, sheets: int, seed: int, profile: str, fmt: str,
                  workers: int | None, corpus: Path | None, keep: Path | None, as_json: bool,
                  ok_before: bool = True) -> None:
    from intake.pool import default_workers
    from intake.run import read_files
    from omr.accuracy import compare
    from omr.sim.truth import load_truth

    n_workers = workers or default_workers()
    tmp: Path | None = None
    if corpus is None:
        from omr.sim.corpus import generate

        folder = keep or Path(tempfile.mkdtemp(prefix="scantally-accuracy-"))
        tmp = None if keep else folder
        with _bar(f"simulating {sheets} sheets ({profile})", sheets) as tick:
            try:
                generate(form, folder, sheets, seed, fmt=fmt, profile=profile,
                         workers=n_workers, progress=lambda n, _t: tick(n))
            except ValueError as exc:
                fail(str(exc))
        corpus = folder
    try:
        try:
            truth = load_truth(corpus)
        except (OSError, ValueError) as exc:
            fail(f"{corpus}: {exc}")
        spec = Path(truth.form.get("spec") or form)
        layouts = load_layouts([spec])
        layout = layouts.get(truth.form["id"])
        if layout is None or layout.hash != truth.form["hash"]:
            fail(f"{spec} is not the form the corpus was made from (form {truth.form['id']})")
        files = sorted({truth.image_path(p) for _, p in truth.pages()})
        readings = {}
        start = time.perf_counter()
        with _bar(f"reading {len(files)} files", len(files)) as tick:
            for reading, _ in read_files(files, layouts, n_workers, keep_image=False,
                                         progress=tick):
                name, _, index = reading.source.rpartition("#")
                readings[(Path(name).name, int(index or 1))] = reading
        wall = time.perf_counter() - start
        report = compare(truth, readings, layout)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    ok = _print_accuracy(report, profile if tmp or keep else str(corpus), wall, as_json)
    if not ok or not ok_before:
        raise typer.Exit(EXIT_REFUSED)


def _print_accuracy(r: AccuracyReport, label: str, wall: float, as_json: bool) -> bool:
    targets = {
        "no misread": r.misreads == 0,
        "clear marks to review <= 0.5%": r.clear_review_rate <= 0.005,
        "every cancelled mark to review": r.cancelled_missed == 0,
        "every refused page with a reason": r.refused_with_reason == r.refused_expected,
        "every name written without a mark to review": r.name_only_found == r.name_only,
    }
    doc = {
        "corpus": label, "seconds": round(wall, 1),
        **{k: getattr(r, k) for k in (
            "sheets", "pages", "positions", "clear_marks", "empty_boxes", "cancelled", "missed",
            "phantom", "misreads", "clear_to_review", "clear_review_rate", "empty_to_review",
            "cancelled_caught", "cancelled_missed", "refused_expected", "refused_with_reason",
            "false_refusals", "name_only", "name_only_found", "writein_ink_extra")},
        "statuses": {f"{e}->{g}": n for (e, g), n in sorted(r.statuses.items())},
        "reasons": {c: dict(v) for c, v in r.reasons.items()},
        "targets": targets,
        "examples": r.examples,
    }
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))
        return all(targets.values())
    table = Table(title=f"OMR accuracy: {label}, {doc['sheets']} sheets, {doc['pages']} pages, "
                        f"read in {wall:.0f} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("box positions", doc["positions"]), ("clear marks", doc["clear_marks"]),
        ("empty boxes", doc["empty_boxes"]), ("cancelled marks", doc["cancelled"]),
        ("misreads: clear mark read empty", doc["missed"]),
        ("misreads: empty box read marked", doc["phantom"]),
        ("clear marks sent to review", f"{doc['clear_to_review']} "
                                       f"({doc['clear_review_rate']:.3%})"),
        ("empty boxes sent to review", doc["empty_to_review"]),
        ("cancelled marks sent to review", f"{doc['cancelled_caught']} of {doc['cancelled']}"),
        ("pages to refuse, refused with a reason",
         f"{doc['refused_with_reason']} of {doc['refused_expected']}"),
        ("readable pages refused", doc["false_refusals"]),
        ("write-in names without a mark, sent to review",
         f"{doc['name_only_found']} of {doc['name_only']}"),
        ("write-in lines sent to review with no name", doc["writein_ink_extra"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for cause, reasons in doc["reasons"].items():
        console.print(f"  refused ({cause}): " + "; ".join(f"{n}x {why}"
                                                           for why, n in reasons.items()))
    for kind, items in doc["examples"].items():
        console.print(f"[bold]{kind}[/]: " + "; ".join(items[:5]), highlight=False)
    for name, held in targets.items():
        console.print(f"{'[green]met[/]' if held else '[red]MISSED[/]'}  {name}")
    return all(targets.values())


def register(app: typer.Typer) -> None:
    """Add `read`, and `omr`, `accuracy` and `truthdeck` to the `bench` group
    (`server.cli.bench`)."""
    from server.cli.bench import bench_app

    app.command("read")(read)
    bench_app.command("omr")(bench_omr)
    bench_app.command("accuracy")(bench_accuracy)
    bench_app.command("truthdeck")(bench_truthdeck)
