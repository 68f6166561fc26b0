"""An in-process eSCL (AirScan) scanner on 127.0.0.1, for tests and the demo.

`EsclSimulator(pages)` serves a stack of encoded page images (JPEG/PNG/...) from its feeder over
real HTTP (stdlib `ThreadingHTTPServer` in a thread): ScannerCapabilities, ScannerStatus,
POST ScanJobs, GET NextDocument, DELETE job. Faults are injected by keyword:

- `busy_every=k, busy_count=n`: before every k-th page, answer 503 n times;
- `jam_at=k` / `door_open_at=k`: the k-th page of the stack (1-based; door 0 = open before the
  job) fails with `error_status` and ScannerStatus says ScannerAdfJam / ScannerAdfDoorOpen.
  In a duplex job the whole sheet goes back to the feeder. `clear()` is the operator clearing
  the jam or shutting the door: the undelivered pages stay loaded for the next job;
- `vanish_at=k`: the device drops off the network at page k (connections closed unanswered);
- `sheets_per_min`: feeder pace (100 = a sheet every 600 ms);
- `garbage_xml`: malformed XML from every XML endpoint (True) or from one ("ScannerStatus");
  `no_location`: a ScanJobs 201 without its Location header.

It knows nothing of ballots; `delivered` lists the stack indexes served, for assertions.
"""

from __future__ import annotations

import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from scanner.images import sniff_format

__all__ = ["PWG_NS", "SCAN_NS", "EsclSimulator"]

PWG_NS = "http://www.pwg.org/schemas/2010/12/sm"
SCAN_NS = "http://schemas.hp.com/imaging/escl/2011/05/03"
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff", "PDF": "application/pdf"}
_RESOLUTIONS_DPI = (100, 150, 200, 300, 600)
_GARBAGE = b"<?xml version='1.0'?><scan:ScannerStatus xmlns:scan='x'><pwg:State>Idle</scan:Sta"


@dataclass
class _Job:
    duplex: bool
    first: int  # stack index of the job's first page
    state: str = "Processing"  # Processing | Completed | Aborted | Canceled


class EsclSimulator:
    """A fake eSCL scanner with an automatic document feeder; see the module docstring."""

    def __init__(
        self,
        pages: Sequence[bytes],
        *,
        busy_every: int = 0,
        busy_count: int = 1,
        jam_at: int | None = None,
        door_open_at: int | None = None,
        vanish_at: int | None = None,
        sheets_per_min: float | None = None,
        garbage_xml: bool | str = False,
        no_location: bool = False,
        duplex_supported: bool = True,
        relative_location: bool = False,
        error_status: int = 409,
        base_path: str = "/eSCL",
    ) -> None:
        self.pages = list(pages)
        self.busy_every, self.busy_count = busy_every, busy_count
        self.jam_at, self.door_open_at, self.vanish_at = jam_at, door_open_at, vanish_at
        self.sheets_per_min = sheets_per_min
        self.garbage_xml = garbage_xml
        self.no_location = no_location
        self.duplex_supported = duplex_supported
        self.relative_location = relative_location
        self.error_status = error_status
        self.base_path = "/" + base_path.strip("/")
        #: stack indexes (0-based) of every page served with 200, in order
        self.delivered: list[int] = []
        #: (method, path, status) of every request answered
        self.requests: list[tuple[str, str, int]] = []
        #: the last ScanSettings received, as {local tag name: text}
        self.last_settings: dict[str, str] = {}
        self.adf_state = "ScannerAdfLoaded" if self.pages else "ScannerAdfEmpty"
        self._next = 0  # index of the next page in the feeder
        self._busy_served: dict[int, int] = {}
        self._jobs: dict[str, _Job] = {}
        self._vanished = False
        self._due = 0.0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        if door_open_at == 0:
            self.adf_state = "ScannerAdfDoorOpen"

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return the base URL, http://127.0.0.1:P/eSCL."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            self._port = int(self._server.server_address[1])
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop listening: later connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EsclSimulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens (or last listened) on."""
        if self._port is None:
            raise RuntimeError("start() the simulator first")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    @property
    def uri(self) -> str:
        return f"escl://127.0.0.1:{self.port}{self.base_path}"

    # -- the operator ----------------------------------------------------------------------
    def clear(self) -> None:
        """Clear a jam / shut the door: the pages not delivered stay in the feeder."""
        with self._lock:
            self.adf_state = "ScannerAdfLoaded" if self.remaining else "ScannerAdfEmpty"

    def load(self, pages: Sequence[bytes]) -> None:
        """Put more pages in the feeder (after those still there)."""
        with self._lock:
            self.pages.extend(pages)
            if self.adf_state == "ScannerAdfEmpty":
                self.adf_state = "ScannerAdfLoaded"

    @property
    def remaining(self) -> int:
        return len(self.pages) - self._next

    # -- protocol --------------------------------------------------------------------------
    def _capabilities(self) -> bytes:
        profile = (
            "<scan:SettingProfiles><scan:SettingProfile><scan:ColorModes>"
            + "".join(
                f"<scan:ColorMode>{m}</scan:ColorMode>"
                for m in ("BlackAndWhite1", "Grayscale8", "RGB24")
            )
            + "</scan:ColorModes><scan:DocumentFormats>"
            + "".join(
                f"<pwg:DocumentFormat>{f}</pwg:DocumentFormat>"
                f"<scan:DocumentFormatExt>{f}</scan:DocumentFormatExt>"
                for f in ("image/jpeg", "image/png", "application/pdf")
            )
            + "</scan:DocumentFormats><scan:SupportedResolutions><scan:DiscreteResolutions>"
            + "".join(
                "<scan:DiscreteResolution>"
                f"<scan:XResolution>{r}</scan:XResolution><scan:YResolution>{r}</scan:YResolution>"
                "</scan:DiscreteResolution>"
                for r in _RESOLUTIONS_DPI
            )
            + "</scan:DiscreteResolutions></scan:SupportedResolutions>"
            "</scan:SettingProfile></scan:SettingProfiles>"
        )
        caps = (
            "<scan:MinWidth>16</scan:MinWidth><scan:MaxWidth>2550</scan:MaxWidth>"
            "<scan:MinHeight>16</scan:MinHeight><scan:MaxHeight>4200</scan:MaxHeight>" + profile
        )
        duplex = (
            f"<scan:AdfDuplexInputCaps>{caps}</scan:AdfDuplexInputCaps>"
            if self.duplex_supported
            else ""
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<scan:ScannerCapabilities xmlns:pwg="{PWG_NS}" xmlns:scan="{SCAN_NS}">'
            "<pwg:Version>2.63</pwg:Version>"
            "<pwg:MakeAndModel>Scantally eSCL simulator</pwg:MakeAndModel>"
            "<pwg:SerialNumber>SIM-0001</pwg:SerialNumber>"
            f"<scan:Platen><scan:PlatenInputCaps>{caps}</scan:PlatenInputCaps></scan:Platen>"
            f"<scan:Adf><scan:AdfSimplexInputCaps>{caps}</scan:AdfSimplexInputCaps>{duplex}"
            "<scan:FeederCapacity>100</scan:FeederCapacity></scan:Adf>"
            "</scan:ScannerCapabilities>"
        ).encode()

    def _status(self) -> bytes:
        with self._lock:
            busy = any(job.state == "Processing" for job in self._jobs.values())
            jobs = "".join(
                f"<scan:JobInfo><pwg:JobUri>{self.base_path}/ScanJobs/{job_id}</pwg:JobUri>"
                f"<pwg:JobState>{job.state}</pwg:JobState></scan:JobInfo>"
                for job_id, job in self._jobs.items()
            )
            adf_state = self.adf_state
        state = "Stopped" if adf_state in ("ScannerAdfJam", "ScannerAdfDoorOpen") else "Idle"
        state = "Processing" if busy and state == "Idle" else state
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<scan:ScannerStatus xmlns:pwg="{PWG_NS}" xmlns:scan="{SCAN_NS}">'
            f"<pwg:Version>2.63</pwg:Version><pwg:State>{state}</pwg:State>"
            f"<scan:AdfState>{adf_state}</scan:AdfState><scan:Jobs>{jobs}</scan:Jobs>"
            "</scan:ScannerStatus>"
        ).encode()

    def _new_job(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return 400, {}, b"bad ScanSettings XML"
        settings = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in root.iter()}
        with self._lock:
            self.last_settings = settings
            duplex = settings.get("Duplex", "false").lower() == "true"
            if self.adf_state != "ScannerAdfLoaded" or not self.remaining:
                if self.adf_state == "ScannerAdfLoaded":
                    self.adf_state = "ScannerAdfEmpty"
                return 409, {}, b""
            if duplex and not self.duplex_supported:
                return 409, {}, b""
            job_id = uuid.uuid4().hex
            self._jobs[job_id] = _Job(duplex=duplex, first=self._next)
            self._due = time.monotonic()
        path = f"{self.base_path}/ScanJobs/{job_id}"
        location = path if self.relative_location else f"http://127.0.0.1:{self.port}{path}"
        if self.no_location:
            return 201, {}, b""
        return 201, {"Location": location}, b""

    def _next_document(self, job_id: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state != "Processing":
                return 404, {}, b""
            page_no = self._next + 1  # 1-based position in the whole stack
            if page_no > len(self.pages):
                job.state = "Completed"
                self.adf_state = "ScannerAdfEmpty"
                return 404, {}, b""
            if self.busy_every and page_no % self.busy_every == 0:
                served = self._busy_served.get(page_no, 0)
                if served < self.busy_count:
                    self._busy_served[page_no] = served + 1
                    return 503, {"Retry-After": "0"}, b""
            side = (self._next - job.first) % 2 if job.duplex else 0  # 1 = a back side
            fault = None
            if page_no == self.jam_at:
                fault, self.jam_at = "ScannerAdfJam", None
            elif page_no == self.door_open_at:
                fault, self.door_open_at = "ScannerAdfDoorOpen", None
            if fault:
                self._next -= side  # the whole sheet goes back to the feeder
                self.adf_state = fault
                job.state = "Aborted"
                return self.error_status, {}, b""
            index = self._next
            self._next += 1
            due = None
            if side == 0 and self.sheets_per_min:
                self._due += 60.0 / self.sheets_per_min
                due = self._due
        if due is not None:  # the feeder's mechanical pace, one sheet at a time
            time.sleep(max(0.0, due - time.monotonic()))
        with self._lock:
            self.delivered.append(index)
        data = self.pages[index]
        mime = _MIME.get(sniff_format(data) or "", "application/octet-stream")
        return 200, {"Content-Type": mime}, data

    def _delete(self, job_id: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 404, {}, b""
            if job.state == "Processing":
                job.state = "Canceled"
        return 200, {}, b""

    def _garbled(self, endpoint: str) -> bytes | None:
        return _GARBAGE if self.garbage_xml in (True, endpoint) else None

    def _answer(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """The response for one request, or None to drop the connection unanswered."""
        with self._lock:
            if self._vanished:
                return None
            at_vanishing_page = self.vanish_at is not None and self._next + 1 >= self.vanish_at
            if at_vanishing_page and method == "GET" and path.endswith("/NextDocument"):
                self._vanished = True
                return None
        xml = {"Content-Type": "text/xml"}
        if not path.startswith(self.base_path + "/"):
            return 404, {}, b""
        rest = path[len(self.base_path) + 1 :].strip("/").split("/")
        if method == "GET" and rest == ["ScannerCapabilities"]:
            return 200, xml, self._garbled("ScannerCapabilities") or self._capabilities()
        if method == "GET" and rest == ["ScannerStatus"]:
            return 200, xml, self._garbled("ScannerStatus") or self._status()
        if method == "POST" and rest == ["ScanJobs"]:
            return self._new_job(body)
        if (
            method == "GET"
            and len(rest) == 3
            and rest[0] == "ScanJobs"
            and rest[2] == "NextDocument"
        ):
            return self._next_document(rest[1])
        if method == "DELETE" and len(rest) == 2 and rest[0] == "ScanJobs":
            return self._delete(rest[1])
        return 404, {}, b""


def _handler_for(sim: EsclSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ScantallyEsclSim/1.0"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            answer = sim._answer(method, path, body)
            if answer is None:  # the device vanished: close without a word
                self.close_connection = True
                return
            status, headers, payload = answer
            with sim._lock:
                sim.requests.append((method, path, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Handler
