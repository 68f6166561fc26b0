"""A `scantally serve` process for tests that need a real one: started on a free port over a
data folder, logged in to over HTTP, sampled for the RSS of its whole process tree (the server,
the forkserver and the OMR workers), stopped with SIGINT or killed with SIGKILL; and fast
generators of hostile scans (a many-frame G4 TIFF, a many-page PDF)."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from PIL import Image

from tests.server_helpers import free_port, login
from tests.tally_helpers import SCANTALLY

MiB = 1024 * 1024


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    process: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.process = psutil.Process(self.proc.pid)

    def tree(self) -> list[psutil.Process]:
        """The server and every process below it (forkserver, workers, resource tracker)."""
        try:
            return [self.process, *self.process.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def tree_rss(self) -> int:
        total = 0
        for p in self.tree():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def kill_tree(self) -> list[int]:
        """SIGKILL the server alone, as the OOM killer or `kill -9` does; returns the pids of
        its descendants at that moment (they must end by themselves)."""
        below = [p.pid for p in self.tree()[1:]]
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        return below


@contextmanager
def operator_client(url: str, user: str = "operator") -> Iterator[httpx.Client]:
    """An HTTP client logged in to the server as `user`, sending its CSRF token."""
    with httpx.Client(base_url=url, timeout=120) as client:
        client.headers["X-CSRF-Token"] = login(client, user)
        yield client


@contextmanager
def serve(data: Path, *args: str, port: int | None = None) -> Iterator[Served]:
    """`scantally serve --data DATA ARGS…` until the block ends (then SIGINT, unless killed)."""
    port = port or free_port()
    env = {**os.environ, "SCANTALLY_DATA": str(data)}
    env.pop("SCANTALLY_DB", None)
    proc = subprocess.Popen([str(SCANTALLY), "serve", "--port", str(port), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    served = Served(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"{served.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "scantally serve did not start"
            time.sleep(0.2)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class PeakRss:
    """Samples `rss()` (bytes) every 20 ms in a thread and keeps the peak; e.g.
    `PeakRss(served.tree_rss)` for a server's whole process tree."""

    def __init__(self, rss: Callable[[], int]) -> None:
        self.rss = rss
        self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_job(client: httpx.Client, meeting_id: int, job_id: str, timeout_s: float = 180,
             until: Any = None) -> dict[str, Any]:
    """Poll the job list until the job is no longer running (or `until(job)` holds)."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = client.get(f"/api/meetings/{meeting_id}/jobs").json()
        job = next((j for j in jobs if j["id"] == job_id), None)
        assert job is not None, jobs
        if (until(job) if until is not None else job["state"] != "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id}: {job}"
        time.sleep(0.2)


# -- hostile scans, made fast ------------------------------------------------------------------

def _tiff_header_and_ifd(width_px: int, height_px: int, dpi: int, strip_at: int,
                         strip_bytes: int, photometric: int, next_ifd: int, ifd_at: int) -> bytes:
    tags = [(256, 4, width_px), (257, 4, height_px), (258, 3, 1), (259, 3, 4),
            (262, 3, photometric), (273, 4, strip_at), (278, 4, height_px),
            (279, 4, strip_bytes), (282, 5, 0), (283, 5, 8), (296, 3, 2)]
    rationals_at = ifd_at + 2 + len(tags) * 12 + 4
    out = bytearray(struct.pack("<H", len(tags)))
    for tag, kind, value in tags:
        if kind == 5:
            value = rationals_at + value
        out += struct.pack("<HHI", tag, kind, 1)
        out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    out += struct.pack("<I", next_ifd) + struct.pack("<IIII", dpi, 1, dpi, 1)
    return bytes(out)


def g4_tiff(path: Path, frames: list[Image.Image] | int, *, width_px: int = 1654,
            height_px: int = 2339, dpi: int = 200) -> Path:
    """A multi-frame CCITT G4 TIFF: `frames` bilevel images, or that many blank A4 pages at
    200 dpi (one frame encoded by Pillow, its strip written once per frame: 10,000 frames in a
    fraction of a second, ~8 MB)."""
    images = [Image.new("1", (width_px, height_px), 1)] * frames if isinstance(frames, int) \
        else frames
    encoded: dict[int, tuple[bytes, int, int, int]] = {}
    with path.open("wb") as fh:
        fh.write(b"II*\x00" + struct.pack("<I", 8))
        at = 8
        for k, image in enumerate(images):
            if id(image) not in encoded:
                buf = io.BytesIO()
                image.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi),
                           strip_size=2**30)  # one strip: written as this frame's only one
                parsed = Image.open(io.BytesIO(buf.getvalue()))
                data = buf.getvalue()
                (offset,), (count,) = parsed.tag_v2[273], parsed.tag_v2[279]
                strip = data[offset:offset + count]
                encoded[id(image)] = (strip, parsed.tag_v2.get(262, 0), *image.size)
            strip, photometric, w, h = encoded[id(image)]
            ifd_bytes = 2 + 11 * 12 + 4 + 16
            strip_at = at + ifd_bytes
            next_ifd = strip_at + len(strip) if k < len(images) - 1 else 0
            fh.write(_tiff_header_and_ifd(w, h, dpi, strip_at, len(strip), photometric,
                                          next_ifd, at))
            fh.write(strip)
            at = next_ifd
    return path


def blank_pdf(path: Path, pages: int) -> Path:
    """A PDF of `pages` A4 pages, each with one short line of text (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4, pageCompression=1)
    for k in range(pages):
        c.drawString(72, 72, f"page {k + 1}")
        c.showPage()
    c.save()
    return path
