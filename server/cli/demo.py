"""`scantally demo`: the one-command tour of what Scantally does so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from forms.render import render_pdf, sequential_serials
from server.cli.common import console, write_atomic
from server.cli.form import compile_spec

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def demo(
    out: Annotated[Path, typer.Option("--out", help="folder for the demo's files")] = Path(
        "out/demo"
    ),
    copies: Annotated[int, typer.Option("--copies", min=1, max=1000)] = 3,
) -> None:
    """Render every example ballot (PDF + layout JSON) into the demo folder."""
    specs = sorted(EXAMPLES_DIR.glob("*.yaml"))
    if not specs:
        raise typer.BadParameter(f"no example specs in {EXAMPLES_DIR}")
    for spec_path in specs:
        spec, compiled, doc = compile_spec(spec_path)
        pdf = render_pdf(compiled, doc["form"]["hash"], sequential_serials(copies))
        pdf_path = write_atomic(out / "ballots" / f"{spec_path.stem}.pdf", pdf)
        write_atomic(out / "layouts" / f"{spec_path.stem}.json",
                     json.dumps(doc, ensure_ascii=False, indent=1))
        console.print(f"[green]✓[/] {spec.title:<20} {len(compiled.pages)} page(s) "
                      f"x {copies} copies -> {pdf_path}")
    console.print(f"\nBallots and layouts are in [bold]{out}[/].")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
