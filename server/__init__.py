"""Server: the operator console, the hall screen, the JSON API, and the `scantally` CLI.

A thin layer over `tally/`, `omr/`, `forms/` and the device packages: no ballot rule lives here.
The CLI (`server.cli`) is the single command-line front; each subcommand is a thin call into a
package.
"""
