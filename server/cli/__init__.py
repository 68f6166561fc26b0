"""The `scantally` command line: one Typer app, each subcommand a thin call into a package.

One command group per module (meeting, ingest/scan, review, tally, store: recount/verify/gc,
report, bench, form, omr: read, serve, ...); each registers its commands with `register(app)`;
the helpers they share are in `server.cli.common`.
"""

from __future__ import annotations

import typer

from server.cli import (
    bench,
    cadre,
    demo,
    devices,
    exchange,
    form,
    keys,
    ledger,
    meeting,
    omr,
    report,
    review,
    scan,
    serve,
    simulate,
    store,
    tally,
    testdeck,
)
from server.cli.common import set_lang

app = typer.Typer(
    name="scantally",
    help="Scantally: design, scan and tally cadre-inspection ballots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

@app.callback()
def _options(
    lang: str = typer.Option("en", "--lang", envvar="SCANTALLY_LANG",
                             help="language of the messages: en or zh-CN (or $SCANTALLY_LANG)"),
) -> None:
    """Scantally: design, scan and tally cadre-inspection ballots."""
    set_lang(lang)


for _module in (form, omr, devices, demo, meeting, scan, review, tally, ledger, store,
                report, simulate, serve, bench, keys, cadre, testdeck, exchange):
    _module.register(app)


def main() -> None:
    app()
