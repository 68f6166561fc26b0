"""The `scantally` command line: one Typer app, each subcommand a thin call into a package.

Each module of this package registers its commands with `register(app)`.
"""

from __future__ import annotations

import typer

from server.cli import demo, devices, form, learn, omr, report, scan, serve, simulate, tally

app = typer.Typer(
    name="scantally",
    help="Scantally: design, scan and tally cadre-inspection ballots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (form, learn, omr, devices, demo, tally, report, simulate, serve, scan):
    _module.register(app)


def main() -> None:
    app()
