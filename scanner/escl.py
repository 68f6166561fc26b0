"""eSCL (AirScan) client: a driverless network scanner's feeder as a `SheetSource`.

`EsclSource("escl://host:port/eSCL")` reads ScannerCapabilities, POSTs a ScanJob (ScanSettings
XML) and pulls `NextDocument` until the stack ends (404 after at least one page). 503 means busy:
retried with backoff, then `Busy`. Any other failure reads ScannerStatus and maps its AdfState
onto the typed errors (jam -> `Jammed`, door/hatch open -> `CoverOpen`, multipick ->
`DoubleFeed`, empty -> `NoDocuments`); malformed XML, unexpected answers, a refused or dropped
connection -> `DeviceIO` naming the URL. Errors carry `refeed`: the sheets not delivered.

Iterating again after an error (the operator cleared the jam and re-fed) starts a new job and
sequence numbers carry on, so every sheet is delivered exactly once. With `duplex=True` pages
alternate front/back; a sheet is only delivered whole.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from scanner.errors import Busy, CoverOpen, DeviceError, DeviceIO, DoubleFeed, Jammed, NoDocuments
from scanner.images import MAX_PIXELS
from scanner.pages import EncodedPage, plan_pages
from scanner.source import Sheet, SourceKind

__all__ = ["EsclCapabilities", "EsclSource", "EsclStatus", "http_base_url"]

_NS = {
    "pwg": "http://www.pwg.org/schemas/2010/12/sm",
    "scan": "http://schemas.hp.com/imaging/escl/2011/05/03",
}
_MM_PER_300TH = 25.4 / 300
#: AdfState -> (error class, what happened)
_ADF_ERRORS: dict[str, tuple[type[DeviceError], str]] = {
    "ScannerAdfJam": (Jammed, "paper jam in the feeder"),
    "ScannerAdfMispick": (Jammed, "the feeder failed to pick up a sheet"),
    "ScannerAdfDoorOpen": (CoverOpen, "the feeder door is open"),
    "ScannerAdfHatchOpen": (CoverOpen, "the feeder hatch is open"),
    "ScannerAdfMultipickDetected": (DoubleFeed, "two sheets were fed together"),
    "ScannerAdfEmpty": (NoDocuments, "the feeder is empty"),
}


def http_base_url(uri: str) -> str:
    """escl://host:port/path -> http://host:port/path (escls -> https); http(s) pass through."""
    parts = urlsplit(uri)
    scheme = {"escl": "http", "escls": "https", "http": "http", "https": "https"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(
            f"{uri!r} is not an eSCL address; expected escl://HOST:PORT/eSCL (or http://...)"
        )
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/') or '/eSCL'}"


@dataclass
class EsclCapabilities:
    make_and_model: str = ""
    version: str = ""
    sources: list[str] = field(default_factory=list)  # "Platen", "Feeder"
    adf_duplex: bool = False
    color_modes: list[str] = field(default_factory=list)  # BlackAndWhite1 | Grayscale8 | RGB24
    formats: list[str] = field(default_factory=list)  # MIME types
    resolutions_dpi: list[int] = field(default_factory=list)
    max_width_mm: float | None = None
    max_height_mm: float | None = None


@dataclass
class EsclStatus:
    state: str  # Idle | Processing | Testing | Stopped | Down
    adf_state: str | None  # ScannerAdfLoaded, ScannerAdfJam, ...


class EsclSource:
    """Sheets from an eSCL scanner's feeder. Iterate once per stack; `close()` when done."""

    kind: ClassVar[SourceKind] = "images"
    #: a request in flight is not cut short by `close()`: a stop waits for the next page
    close_wakes: ClassVar[bool] = False

    def __init__(
        self,
        uri: str,
        *,
        duplex: bool = False,
        dpi: int = 200,
        color_mode: str = "Grayscale8",
        document_format: str = "image/jpeg",
        page_size_mm: tuple[float, float] = (210.0, 297.0),
        busy_retries: int = 30,
        busy_backoff_s: float = 0.5,
        busy_backoff_max_s: float = 2.0,
        timeout_s: float = 30.0,
        expected_sheets: int | None = None,
        pdf_dpi: float = 200,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.base_url = http_base_url(uri)
        parts = urlsplit(self.base_url)
        self.uri = f"{'escls' if parts.scheme == 'https' else 'escl'}://{parts.netloc}{parts.path}"
        self.duplex, self.dpi, self.color_mode = duplex, dpi, color_mode
        self.document_format, self.page_size_mm = document_format, page_size_mm
        self.busy_retries, self.busy_backoff_s = busy_retries, busy_backoff_s
        self.busy_backoff_max_s = busy_backoff_max_s
        #: if the operator said how many sheets the stack holds, errors name all the missing ones
        self.expected_sheets = expected_sheets
        self.pdf_dpi, self.max_pixels = pdf_dpi, max_pixels
        self._client = httpx.Client(timeout=timeout_s, trust_env=False)
        self._caps: EsclCapabilities | None = None
        self._job_url: str | None = None
        self._sequence = 0

    # -- plumbing ----------------------------------------------------------------------------
    def close(self) -> None:
        self._cancel_job()
        self._client.close()

    def __enter__(self) -> EsclSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _fail(
        self, cls: type[DeviceError], message: str, refeed: bool = True, status: str | None = None
    ) -> DeviceError:
        missing: list[int] = []
        if refeed and self._job_url:  # only while a job is feeding sheets
            first = self._sequence + 1
            last = max(first, self.expected_sheets or first)
            missing = list(range(first, last + 1))
        return cls(message, device=self.uri, refeed=missing, status=status)

    def _request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        """One HTTP exchange, retried while the device answers 503; transport errors -> DeviceIO."""
        delay_s = self.busy_backoff_s
        for attempt in range(self.busy_retries + 1):
            try:
                response = self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.ConnectError as exc:
                raise self._fail(DeviceIO, f"cannot connect to {url} ({exc})") from exc
            except httpx.TimeoutException as exc:
                raise self._fail(DeviceIO, f"{url} did not answer in time ({exc!r})") from exc
            except httpx.HTTPError as exc:
                raise self._fail(DeviceIO, f"connection to {url} dropped ({exc})") from exc
            if response.status_code != 503:
                return response
            if attempt < self.busy_retries:
                time.sleep(min(self._retry_after_s(response, delay_s), self.busy_backoff_max_s))
                delay_s = min(delay_s * 2, self.busy_backoff_max_s)
        error = self._fail(Busy, f"{url} still busy (HTTP 503) after {self.busy_retries} retries")
        error.advice = "Wait until the scanner has finished its other work, then scan again."
        raise error

    @staticmethod
    def _retry_after_s(response: httpx.Response, default_s: float) -> float:
        try:
            return max(0.0, float(response.headers.get("Retry-After", default_s)))
        except ValueError:
            return default_s

    def _xml(self, path: str, root_tag: str) -> ET.Element:
        url = f"{self.base_url}/{path}"
        response = self._request("GET", url)
        if response.status_code != 200:
            raise self._fail(DeviceIO, f"{url} answered HTTP {response.status_code}", refeed=False)
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise self._fail(DeviceIO, f"{url} sent malformed XML ({exc})", refeed=False) from exc
        if root.tag.rsplit("}", 1)[-1] != root_tag:
            raise self._fail(
                DeviceIO, f"{url} sent <{root.tag}>, not scan:{root_tag}", refeed=False
            )
        return root

    # -- protocol ----------------------------------------------------------------------------
    def capabilities(self) -> EsclCapabilities:
        """GET ScannerCapabilities, parsed (cached)."""
        if self._caps is None:
            self._caps = _parse_capabilities(
                self._xml("ScannerCapabilities", "ScannerCapabilities")
            )
        return self._caps

    def status(self) -> EsclStatus:
        """GET ScannerStatus: the device state and its feeder's AdfState."""
        root = self._xml("ScannerStatus", "ScannerStatus")
        state = root.findtext("{*}State", default="").strip()
        adf = root.findtext("{*}AdfState")
        return EsclStatus(state=state, adf_state=adf.strip() if adf else None)

    def scan_settings_xml(self) -> bytes:
        """The ScanSettings document POSTed to ScanJobs."""
        caps = self.capabilities()
        width_mm, height_mm = self.page_size_mm
        width_mm = min(width_mm, caps.max_width_mm or width_mm)
        height_mm = min(height_mm, caps.max_height_mm or height_mm)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<scan:ScanSettings xmlns:pwg="{_NS["pwg"]}" xmlns:scan="{_NS["scan"]}">'
            "<pwg:Version>2.0</pwg:Version><pwg:ScanRegions><pwg:ScanRegion>"
            "<pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>"
            "<pwg:XOffset>0</pwg:XOffset><pwg:YOffset>0</pwg:YOffset>"
            f"<pwg:Width>{round(width_mm / _MM_PER_300TH)}</pwg:Width>"
            f"<pwg:Height>{round(height_mm / _MM_PER_300TH)}</pwg:Height>"
            "</pwg:ScanRegion></pwg:ScanRegions>"
            "<pwg:InputSource>Feeder</pwg:InputSource>"
            f"<scan:ColorMode>{self.color_mode}</scan:ColorMode>"
            f"<pwg:DocumentFormat>{self.document_format}</pwg:DocumentFormat>"
            f"<scan:DocumentFormatExt>{self.document_format}</scan:DocumentFormatExt>"
            f"<scan:XResolution>{self.dpi}</scan:XResolution>"
            f"<scan:YResolution>{self.dpi}</scan:YResolution>"
            f"<scan:Duplex>{'true' if self.duplex else 'false'}</scan:Duplex>"
            "</scan:ScanSettings>"
        ).encode()

    def _check_settings(self) -> None:
        caps = self.capabilities()
        problems = []
        if "Feeder" not in caps.sources:
            problems.append("it has no document feeder")
        if self.duplex and not caps.adf_duplex:
            problems.append("its feeder cannot scan duplex")
        if caps.resolutions_dpi and self.dpi not in caps.resolutions_dpi:
            problems.append(f"it cannot scan at {self.dpi} dpi (offers {caps.resolutions_dpi})")
        if caps.color_modes and self.color_mode not in caps.color_modes:
            problems.append(f"it has no colour mode {self.color_mode} ({caps.color_modes})")
        if caps.formats and self.document_format not in caps.formats:
            problems.append(f"it cannot send {self.document_format} ({caps.formats})")
        if problems:
            error = self._fail(DeviceIO, "unsuitable scanner: " + "; ".join(problems), refeed=False)
            error.advice = "Choose settings the scanner offers, or another scanner."
            raise error

    def _error_from_status(self, what: str, pages_in_job: int) -> DeviceError | None:
        """Map the device's AdfState after a failure; None means a normal end of stack."""
        try:
            status = self.status()
        except DeviceError as exc:
            return self._fail(DeviceIO, f"{what}, and its status cannot be read ({exc.message})")
        mapped = _ADF_ERRORS.get(status.adf_state or "")
        if mapped is None:
            state = status.adf_state or status.state or "unknown"
            return self._fail(DeviceIO, f"{what} (scanner state {state})", status=state)
        cls, reason = mapped
        if cls is NoDocuments:
            if pages_in_job:
                return None
            return self._fail(NoDocuments, reason, refeed=False, status=status.adf_state)
        return self._fail(cls, f"{reason} ({what})", status=status.adf_state)

    def _start_job(self) -> str:
        self._check_settings()
        url = f"{self.base_url}/ScanJobs"
        response = self._request(
            "POST", url, content=self.scan_settings_xml(), headers={"Content-Type": "text/xml"}
        )
        if response.status_code not in (200, 201):  # 201 Created; a few devices say 200
            what = f"the scanner refused the scan job (HTTP {response.status_code})"
            raise self._error_from_status(what, 0) or self._fail(NoDocuments, what, refeed=False)
        location = response.headers.get("Location")
        if not location:
            what = f"{url} accepted the job (HTTP {response.status_code}) but sent no Location"
            raise self._fail(DeviceIO, what, refeed=False)
        return urljoin(url, location).rstrip("/")

    def _cancel_job(self) -> None:
        job_url, self._job_url = self._job_url, None
        if job_url and not self._client.is_closed:
            with contextlib.suppress(httpx.HTTPError):  # best effort: the device may be gone
                self._client.delete(job_url, timeout=2.0)

    def __iter__(self) -> Iterator[Sheet]:
        """Scan one stack: a new job, sheets until the feeder is empty (or an error)."""
        self._job_url = self._start_job()
        pages_in_job = 0
        front: EncodedPage | None = None
        finished = False
        try:
            while True:
                url = f"{self._job_url}/NextDocument"
                response = self._request("GET", url)
                if response.status_code == 404:
                    what = f"{url} answered 404 after {pages_in_job} page(s)"
                    error = self._error_from_status(what, pages_in_job)
                    if error is not None and not (pages_in_job and isinstance(error, DeviceIO)):
                        raise error
                    break
                if response.status_code != 200:
                    what = f"{url} answered HTTP {response.status_code}"
                    raise self._error_from_status(what, pages_in_job) or self._fail(DeviceIO, what)
                pages_in_job += 1
                for page in self._pages(response.content):
                    if not self.duplex:
                        yield self._sheet(page, None)
                    elif front is None:
                        front = page
                    else:
                        yield self._sheet(front, page)
                        front = None
            if front is not None:  # an odd page count: deliver the front rather than lose it
                sheet = self._sheet(front, None)
                sheet.warning = "duplex stack ended without this sheet's back side"
                yield sheet
            finished = True
        finally:
            if finished:
                self._job_url = None  # the job completed: nothing to cancel
            self._cancel_job()  # an error or an early stop: DELETE the job

    def _pages(self, payload: bytes) -> Iterator[EncodedPage]:
        """The payload's pages, not decoded (the OMR worker decodes each once)."""
        name = f"{self.uri}#{self._sequence + 1}"
        return plan_pages(name, data=payload, dpi=float(self.dpi), pdf_dpi=self.pdf_dpi,
                          max_pixels=self.max_pixels)

    def _sheet(self, front: EncodedPage, back: EncodedPage | None) -> Sheet:
        self._sequence += 1
        return Sheet(sequence=self._sequence, source=f"{self.uri}#{self._sequence}",
                     front=front, back=back, dpi=float(self.dpi),
                     device_info={"device": self.uri})


def _texts(root: ET.Element, local_name: str) -> list[str]:
    """Stripped texts of every descendant with this local name, in any namespace, no repeats."""
    out: list[str] = []
    for el in root.iterfind(f".//{{*}}{local_name}"):
        text = (el.text or "").strip()
        if text and text not in out:
            out.append(text)
    return out


def _parse_capabilities(root: ET.Element) -> EsclCapabilities:
    """Namespace-tolerant: devices differ in which of pwg:/scan: they put an element in."""
    caps = EsclCapabilities(
        make_and_model=root.findtext("{*}MakeAndModel", default="").strip(),
        version=root.findtext("{*}Version", default="").strip(),
    )
    if root.find("{*}Platen") is not None:
        caps.sources.append("Platen")
    adf = root.find("{*}Adf")
    if adf is not None:
        caps.sources.append("Feeder")
        has_duplex_caps = adf.find("{*}AdfDuplexInputCaps") is not None
        caps.adf_duplex = has_duplex_caps or "Duplex" in _texts(adf, "AdfOption")
    caps.color_modes = _texts(root, "ColorMode")
    caps.formats = _texts(root, "DocumentFormat") + [
        f for f in _texts(root, "DocumentFormatExt") if f not in _texts(root, "DocumentFormat")
    ]
    resolutions = {
        int(text)
        for el in root.iterfind(".//{*}DiscreteResolution")
        if (text := el.findtext("{*}XResolution", default="").strip()).isdigit()
    }
    caps.resolutions_dpi = sorted(resolutions)
    widths = [int(t) for t in _texts(root, "MaxWidth") if t.isdigit()]
    heights = [int(t) for t in _texts(root, "MaxHeight") if t.isdigit()]
    caps.max_width_mm = max(widths) * _MM_PER_300TH if widths else None
    caps.max_height_mm = max(heights) * _MM_PER_300TH if heights else None
    return caps
