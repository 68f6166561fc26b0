"""Server: the operator console, the hall screen, the JSON API, and the `scantally` CLI.

A thin layer over `intake/` (the pipeline every sheet takes), `tally/` and `forms/`: no ballot
rule lives here and no sheet is read here.
The CLI (`server.cli`) is the single command-line front; each subcommand is a thin call into a
package.
"""
