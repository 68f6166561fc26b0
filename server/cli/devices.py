"""`scantally devices`: the scanners this machine sees, and the device URIs Scantally accepts.

Lists SANE scanners (`scanimage -L`, when sane-utils is installed) with the URI to use for each,
explains every URI form, and with `--check URI` opens one device and shows what it is, without
scanning. Exit status: 0, or 2 with a message saying what is wrong (bad URI, device error).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from server.cli.common import console, fail

URI_FORMS = [
    ("dir:PATH[?watch=1]", "dir:/srv/scans?watch=1",
     "a folder of JPEG/PNG/TIFF/PDF/ZIP files; watch=1 keeps taking new files"),
    ("sane:DEVICE[?source=ADF&dpi=200&duplex=1]", "sane:fujitsu:fi-7160:12345",
     "a SANE scanner (USB or network), by the name `scanimage -L` gives"),
    ("escl://HOST:PORT/eSCL[?dpi=200&duplex=1]", "escl://192.168.1.20:80/eSCL",
     "a driverless eSCL/AirScan network scanner (find it: avahi-browse -rt _uscan._tcp)"),
    ("serial:///dev/ttyUSB0?protocol=sekonic&baud=38400", "serial:///dev/ttyUSB0?protocol=framed",
     "an OMR card reader on a serial line"),
]  # fmt: skip


def devices(
    check: Annotated[
        str | None,
        typer.Option("--check", help="open this device URI and show what it is (no scanning)"),
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", min=1, help="how long to wait for `scanimage -L`")
    ] = 30.0,
) -> None:
    """List the scanners this machine sees and explain the device URIs."""
    if check:
        _check(check)
        return
    _list_sane(timeout_s)
    console.print(
        "\n[bold]Device URIs[/] (what the operator console and `scantally devices --check` take):"
    )
    for form, example, what in URI_FORMS:
        console.print(f"  [bold]{escape(form)}[/]", highlight=False)
        console.print(f"      {what}", highlight=False, markup=False)
        console.print(f"      e.g. {example}", highlight=False, markup=False)


def _list_sane(timeout_s: float) -> None:
    from scanner.errors import DeviceError
    from scanner.sane import list_devices, sane_backend

    if sane_backend("scanimage") is None:
        console.print(
            "SANE scanners cannot be listed: scanimage is not installed "
            "(Debian/Ubuntu: apt-get install sane-utils)."
        )
        return
    try:
        found = list_devices(timeout_s=timeout_s)
    except DeviceError as exc:
        fail(str(exc))
    if not found:
        console.print("No SANE scanner found (is it switched on, connected, and allowed?).")
        return
    table = Table(title="SANE scanners", title_justify="left")
    for column in ("URI", "vendor", "model", "type"):
        table.add_column(column, overflow="fold")
    for device in found:
        table.add_row(f"sane:{device.name}", device.vendor, device.model, device.kind)
    console.print(table)


def _check(uri: str) -> None:
    from intake.devices import open_source
    from scanner.errors import DeviceError

    try:
        source = open_source(uri)
    except (ValueError, DeviceError) as exc:
        fail(str(exc))
    try:
        for line in _describe(source):
            console.print(line, highlight=False, markup=False)
    except DeviceError as exc:
        fail(str(exc))
    finally:
        source.close()


def _describe(source: object) -> list[str]:
    from scanner.escl import EsclSource
    from scanner.folder import FolderSource
    from scanner.sane import SaneSource
    from scanner.scanimage import ScanimageError, device_sources

    uri = getattr(source, "uri", "?")
    if isinstance(source, FolderSource):
        files = [p for p in sorted(source.path.iterdir()) if p.is_file()]
        return [f"{uri}: a folder with {len(files)} file(s)", f"watching: {source.watch}"]
    if isinstance(source, EsclSource):
        caps, status = source.capabilities(), source.status()
        return [
            f"{uri}: {caps.make_and_model or 'eSCL scanner'} (eSCL {caps.version})",
            f"state: {status.state}, feeder: {status.adf_state or 'none'}",
            f"sources: {', '.join(caps.sources)}; duplex feeder: {caps.adf_duplex}",
            f"resolutions (dpi): {', '.join(map(str, caps.resolutions_dpi))}",
            f"colour modes: {', '.join(caps.color_modes)}; formats: {', '.join(caps.formats)}",
        ]
    if isinstance(source, SaneSource):
        if source.backend != "scanimage":
            return [f"{uri}: SANE device (driver: {source.backend})"]
        try:
            offered = device_sources(source.device)
        except ScanimageError as exc:
            fail(f"{uri}: {exc}")
        return [f"{uri}: SANE device", f"sources: {', '.join(offered) or '(no source option)'}"]
    return [f"{uri}: opened and answering"]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("devices")(devices)
