"""Open any sheet source from one URI string (CLI flags, settings, the operator console).

    dir:PATH[?watch=1&poll_s=0.5&settle_s=1]        a folder of JPEG/PNG/TIFF/PDF/ZIP files
    sane:DEVICE[?source=ADF&dpi=200&mode=Gray&duplex=1]   a SANE scanner, e.g. sane:test:0
    escl://HOST:PORT/eSCL[?dpi=200&duplex=1&color_mode=Grayscale8]   an eSCL/AirScan scanner
    serial:///dev/ttyUSB0?protocol=sekonic&baud=38400   an OMR card reader (hardware.reader)

Query values are converted to the constructor's types; keyword options given to `open_source`
override them. A malformed URI, an unknown parameter or a folder that does not exist raises
ValueError naming the URI and the accepted forms; device errors come from the source itself.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from scanner.source import SheetSource

__all__ = ["ACCEPTED_FORMS", "open_source"]

ACCEPTED_FORMS = (
    "dir:PATH[?watch=1], sane:DEVICE (e.g. sane:test:0), escl://HOST:PORT/eSCL, "
    "serial:///dev/ttyUSB0?protocol=sekonic&baud=38400"
)
#: a device option's value, from the URI's query (converted) or given as a keyword
DeviceOption = str | int | float | bool
_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False}
#: per scheme: query parameter -> type
_PARAMS: dict[str, dict[str, type]] = {
    "dir": {"watch": bool, "poll_s": float, "settle_s": float, "pdf_dpi": float},
    "sane": {"source": str, "dpi": int, "mode": str, "duplex": bool, "max_sheets": int},
    "escl": {"dpi": int, "duplex": bool, "color_mode": str, "document_format": str},
}


def _bad(uri: str, problem: str) -> ValueError:
    return ValueError(f"bad device URI {uri!r}: {problem}; accepted forms: {ACCEPTED_FORMS}")


def _query(uri: str, scheme: str, query: str) -> dict[str, DeviceOption]:
    allowed = _PARAMS[scheme]
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError as exc:
        raise _bad(uri, f"unreadable query ({exc})") from None
    values: dict[str, DeviceOption] = {}
    for key, text in pairs:
        kind = allowed.get(key)
        if kind is None:
            raise _bad(
                uri, f"unknown parameter {key!r} (a {scheme} URI takes {', '.join(allowed)})"
            )
        if key in values:
            raise _bad(uri, f"{key!r} is given twice")
        try:
            values[key] = _BOOL[text.lower()] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise _bad(uri, f"{key}={text!r} is not a valid {kind.__name__}") from None
    return values


def open_source(uri: str, **opts: DeviceOption) -> SheetSource:
    """Open the sheet source `uri` names; `opts` go to its constructor (and override the query)."""
    if not isinstance(uri, str) or not uri.strip():
        raise _bad(str(uri), "it is empty")
    uri = uri.strip()
    scheme, _, rest = uri.partition(":")
    scheme = scheme.lower()
    if scheme == "serial":
        if opts:
            raise _bad(uri, "a serial reader takes its settings in the URI, not as options")
        from hardware.reader import open_card_reader  # lazily: pyserial, another package

        return open_card_reader(uri)
    if scheme in ("escl", "escls"):
        from scanner.escl import EsclSource

        parts = urlsplit(uri)
        if not parts.hostname or parts.fragment:
            raise _bad(uri, "an eSCL URI needs a host, as in escl://192.168.1.20:8080/eSCL")
        try:
            parts.port  # noqa: B018 - validates the port number
        except ValueError as exc:
            raise _bad(uri, str(exc)) from None
        base = uri.split("?", 1)[0]
        return EsclSource(base, **(_query(uri, "escl", parts.query) | opts))
    if scheme not in ("dir", "sane") or not rest:
        raise _bad(
            uri, "unknown kind of device" if scheme not in ("dir", "sane") else "it names nothing"
        )
    target, _, query = rest.partition("?")
    options = _query(uri, scheme, query) | opts
    if scheme == "sane":
        from scanner.sane import SaneSource

        if not target or target.startswith("/"):
            raise _bad(uri, "give the SANE device name after 'sane:', e.g. sane:test:0")
        return SaneSource(target, **options)
    from scanner.folder import FolderSource

    path = Path(target[2:] if target.startswith("///") else target).expanduser()
    if not path.is_dir():
        raise _bad(uri, f"the folder {str(path)!r} does not exist")
    return FolderSource(path, **options)
