"""The hand model on the command line: `simulate --model hand`, `bench accuracy --model hand`
and `bench truthdeck DIR` (score any folder with a truth.json in the field-report format).

Thin calls into `omr.handsim`: generation (`deck.generate`), reading through the intake's one
pool (`read_folder`) and the pure scorer (`score.score`); this module only prints.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from server.cli.common import clear_output, console, err_console, fail

if TYPE_CHECKING:
    from collections.abc import Callable

    from omr.handsim.folder import TruthFolder
    from omr.handsim.score import TruthScore
    from omr.reading import Reading

HAND_OLD_FILES = ("hand-*.jpg", "hand-*.png", "hand-*.tif", "truth.json", "deck.json")
EXIT_MISSED = 1


def _progress() -> Progress:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err_console, transient=True)


def generate_hand(form: Path, output: Path, sheets: int, seed: int, profile: str,
                  serial_start: int, workers: int) -> tuple[list[dict], float]:
    """Write a hand deck with a progress bar; (truth, seconds). Exits 2 on a bad input."""
    from forms.load import SpecError
    from forms.plan import LayoutError
    from omr.handsim.deck import generate

    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"drawing {sheets} hand sheets of {form.name} ({profile})",
                            total=sheets)
        try:
            truth = generate(form, output, sheets, seed, profile=profile,
                             serial_start=serial_start, workers=workers,
                             progress=lambda done, _t: bar.update(task, completed=done))
        except (SpecError, LayoutError, ValueError) as exc:
            fail(str(exc))
    return truth, time.perf_counter() - started


def simulate_hand(form: Path, output: Path, sheets: int, seed: int, profile: str,
                  serial_start: int, workers: int, force: bool) -> None:
    """`scantally simulate --model hand`: the deck, then one line of what was written."""
    clear_output(output, HAND_OLD_FILES, force)
    truth, seconds = generate_hand(form, output, sheets, seed, profile, serial_start, workers)
    refused = sum(1 for e in truth if e.get("refuse"))
    console.print(f"wrote {sheets} hand sheet(s), {len(truth)} image(s) to {output} in "
                  f"{seconds:.1f} s ({sheets / seconds:.1f} sheets/s); {refused} to refuse; "
                  f"truth {output / 'truth.json'}, scan and pen details {output / 'deck.json'}")


def score_folder(folder: Path, workers: int | None) -> tuple[TruthScore, float]:
    """Read a truth folder's images with the engine and score them; (score, read seconds)."""
    from omr.handsim.folder import deck_tags, load_truth_folder
    from omr.handsim.score import score

    try:
        tf = load_truth_folder(folder)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    started = time.perf_counter()
    with _progress() as bar:
        images = len({e["image"] for e in tf.truth})
        task = bar.add_task(f"reading {images} images", total=images)
        readings = read_folder(tf, workers, progress=lambda n: bar.update(task, completed=n))
    wall = time.perf_counter() - started
    return score(tf.truth, readings, tf.layouts, deck_tags(folder)), wall


TARGETS = {
    "no lost vote (clear read empty)": lambda s: s.lost == 0,
    "no phantom (empty read marked)": lambda s: s.phantom == 0,
    "no cancelled mark counted": lambda s: s.cancel_counted == 0,
    "clear marks to review <= 0.5%": lambda s: s.clear_review_rate <= 0.005,
    "no readable sheet refused": lambda s: s.refused_unexpected == 0,
}


def print_score(s: TruthScore, label: str, wall: float, as_json: bool) -> bool:
    """The scorer's table (or JSON); True when every target holds."""
    targets = {name: bool(test(s)) for name, test in TARGETS.items()}
    if as_json:
        typer.echo(json.dumps({"deck": label, "seconds": round(wall, 1), **s.summary(),
                               "targets": targets}, ensure_ascii=False, indent=1))
        return all(targets.values())
    table = Table(title=f"OMR on {label}: {s.sheets} sheets ({s.sheets_read} read), "
                        f"read in {wall:.0f} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    d = s.summary()
    rows = [
        ("box positions on read sheets", d["positions"]),
        ("clear / empty / cancel / faint", f"{d['clear']} / {d['empty']} / {d['cancel']} / "
                                           f"{d['faint']}"),
        ("lost votes: clear read empty", d["lost"]),
        ("phantoms: empty read marked", d["phantom"]),
        ("cancels counted: cancel read marked", d["cancel_counted"]),
        ("cancels to review / read empty", f"{d['cancel_to_review']} / "
                                           f"{d['cancel_read_empty']}"),
        ("clear marks to review", f"{d['clear_to_review']} ({s.clear_review_rate:.2%})"),
        ("empty boxes to review", d["empty_to_review"]),
        ("marked write-in boxes to review (as they should)", d["writein_to_review"]),
        ("faint: read empty / to review / marked", f"{d['faint_read_empty']} / "
                                                   f"{d['faint_to_review']} / "
                                                   f"{d['faint_read_marked']}"),
        ("sheets refused", d["refused"]),
        ("  of them expected by the truth", d["refused_expected"]),
        ("  readable sheets refused", d["refused_unexpected"]),
        ("sheets to refuse that were read", d["refuse_missed"]),
        ("read as another form", d["wrong_form"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for why, n in s.reasons.most_common():
        console.print(f"  refused (readable): {n}x {why}", highlight=False)
    for why, n in s.reasons_expected.most_common():
        console.print(f"  refused (expected): {n}x {why}", highlight=False)
    if s.by_tag:
        _print_tags(s)
    for kind, items in s.examples.items():
        console.print(f"[bold]{kind}[/]: " + "; ".join(items[:6]), highlight=False)
    for name, held in targets.items():
        console.print(f"{'[green]met[/]' if held else '[red]MISSED[/]'}  {name}")
    return all(targets.values())


def _print_tags(s: TruthScore) -> None:
    measures = ("lost", "phantom", "cancel_counted", "clear_to_review", "refused")
    heads = ("lost", "phantom", "cancel cnt", "to review", "refused")
    table = Table(title="where the failures are (sheets tagged by scan kind, pen, style)")
    table.add_column("tag", no_wrap=True)
    for head in heads:
        table.add_column(head, justify="right")
    for tag, counts in sorted(s.by_tag.items()):
        if any(counts.get(m) for m in measures):
            table.add_row(tag, *(str(counts.get(m, 0)) for m in measures))
    console.print(table)


def run_hand_accuracy(form: Path, sheets: int, seed: int, profile: str, workers: int,
                      corpus: Path | None, keep: Path | None, as_json: bool) -> bool:
    """`bench accuracy --model hand`: draw a deck (or take `corpus`), read it, score it."""
    tmp: Path | None = None
    if corpus is None:
        folder = keep or Path(tempfile.mkdtemp(prefix="scantally-hand-"))
        tmp = None if keep else folder
        generate_hand(form, folder, sheets, seed, profile, 1, workers)
        corpus = folder
    try:
        result, wall = score_folder(corpus, workers)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    label = f"hand deck ({profile}, {form.name})" if tmp or keep else str(corpus)
    return print_score(result, label, wall, as_json)


def bench_truthdeck(
    folder: Annotated[Path, typer.Argument(help="folder with truth.json (field-report format), "
                                           "its images and form specs", show_default=False)],
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=64,
                                                help="reader processes")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Read a truth folder (a field report, a hand deck) with the engine and score it: lost
    votes, phantoms, cancels counted, clear marks to review, refusals. Exit 1 when a target
    is missed."""
    if not folder.is_dir():
        fail(f"{folder}: not a folder")
    result, wall = score_folder(folder, workers)
    if not print_score(result, str(folder), wall, as_json):
        raise typer.Exit(EXIT_MISSED)


def read_folder(tf: TruthFolder, workers: int | None = None,
                progress: Callable[[int], None] | None = None
                ) -> dict[tuple[str, int], Reading]:
    """Read every image of the truth with the engine; (image, page index) -> reading."""
    from intake.run import read_files

    images = list(dict.fromkeys(e["image"] for e in tf.truth))
    by_path = {str(tf.folder / name): name for name in images}
    readings: dict[tuple[str, int], Reading] = {}
    for reading, _ in read_files([Path(p) for p in by_path], tf.layouts_by_id, workers,
                                 keep_image=False, progress=progress):
        name, sep, index = reading.source.rpartition("#")
        if not sep or not index.isdigit():
            name, index = reading.source, "1"
        image = by_path.get(name, Path(name).name)
        readings[(image, int(index))] = reading
    return readings
