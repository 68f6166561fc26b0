"""Drive `scanimage --batch` (sane-utils) and stream its pages as they are finished.

`ScanimageBatch(device, args).pages()` runs one batch in a temp folder and yields each page's PNG
bytes as soon as scanimage prints its name (`--batch-print`); afterwards `status` is the SANE
status that ended the batch (0 = stack done) and `detail` scanimage's own words for it.

The status is read from scanimage's messages ("sane_read: Document feeder jammed") before its
exit code: at shutdown scanimage can die of SIGPIPE, exit 0 after an error, or hang for good
(seen with the `test` backend), so a batch that has announced its end is given `exit_grace_s`
and then stopped. No page it finished is lost either way.
"""

from __future__ import annotations

import queue
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["STATUS_TEXT", "ScanimageBatch", "ScanimageError", "device_sources"]

#: sane_strstatus() text -> SANE status code
STATUS_TEXT = {
    "Operation not supported": 1, "Operation was cancelled": 2, "Device busy": 3,
    "Invalid argument": 4, "End of file reached": 5, "Document feeder jammed": 6,
    "Document feeder out of documents": 7, "Scanner cover is open": 8,
    "Error during device I/O": 9, "Out of memory": 10,
    "Access to resource has been denied": 11,
}  # fmt: skip
_SANE_CALL = re.compile(r"^scanimage: (sane_\w+): (.+?)\s*$")
_END_OF_BATCH = "Batch terminated"


class ScanimageError(Exception):
    """scanimage could not run, or stopped sending pages (`stalled`)."""

    def __init__(self, message: str, *, stalled: bool = False) -> None:
        super().__init__(message)
        self.stalled = stalled


def device_sources(device: str, *, timeout_s: float = 60.0) -> list[str]:
    """The device's `--source` choices (empty if it has none), from `scanimage -A`."""
    run = subprocess.run(
        ["scanimage", "-d", device, "-A"],
        capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise ScanimageError(f"cannot open SANE device: {_own_words(run.stderr.splitlines())}")
    match = re.search(r"^\s+--source\s+(.+?)\s+\[.*\]\s*$", run.stdout, re.MULTILINE)
    return match.group(1).split("|") if match else []


class ScanimageBatch:
    """One `scanimage --batch` run; iterate `pages()` once, then read `status` / `detail`."""

    def __init__(
        self,
        device: str,
        args: list[str],
        *,
        page_timeout_s: float = 120.0,
        exit_grace_s: float = 2.0,
    ) -> None:
        self.device, self.args = device, list(args)
        self.page_timeout_s, self.exit_grace_s = page_timeout_s, exit_grace_s
        self.status: int | None = None
        self.detail = ""
        self._proc: subprocess.Popen[str] | None = None
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop scanning now (from any thread); `pages()` then ends without an error."""
        self._stopped.set()
        _terminate(self._proc, wait=False)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def pages(self) -> Iterator[bytes]:
        with tempfile.TemporaryDirectory(prefix="scantally-sane-") as tmp:
            command = ["scanimage", "-d", self.device, "--format=png", "--batch-print"]
            command += [f"--batch={tmp}/page%05d.png", *self.args]
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                text=True, start_new_session=True,  # a Ctrl-C on the CLI reaches us, not it
            )  # fmt: skip
            self._proc = proc
            events: queue.Queue[tuple[str, str | None]] = queue.Queue()
            for name, stream in (("out", proc.stdout), ("err", proc.stderr)):
                threading.Thread(target=_pump, args=(name, stream, events), daemon=True).start()
            messages: list[str] = []
            try:
                yield from self._follow(proc, events, messages)
            finally:
                _terminate(proc, wait=True)
                self._proc = None
        code = proc.returncode
        said = _said_status(messages)
        if said is not None:
            self.status, self.detail = said
        elif code in range(1, 12):
            self.status, self.detail = code, _own_words(messages)
        else:  # 0, or stopped by us (asked to, or hanging after it announced the end)
            ended = code == 0 or self.stopped or any(_END_OF_BATCH in m for m in messages)
            self.status, self.detail = (0 if ended else 9), _own_words(messages)

    def _follow(
        self,
        proc: subprocess.Popen[str],
        events: queue.Queue[tuple[str, str | None]],
        messages: list[str],
    ) -> Iterator[bytes]:
        open_streams = 2
        deadline_s = self.page_timeout_s
        while open_streams:
            try:
                stream, line = events.get(timeout=deadline_s)
            except queue.Empty:
                if any(_END_OF_BATCH in m for m in messages) or self.stopped:
                    _terminate(proc, wait=False)  # finished, but hanging on its way out
                    deadline_s = self.page_timeout_s
                    continue
                raise ScanimageError(
                    f"no page came within {self.page_timeout_s:g} s", stalled=True
                ) from None
            if line is None:
                open_streams -= 1
            elif stream == "err":
                messages.append(line)
                if _END_OF_BATCH in line:
                    deadline_s = self.exit_grace_s
            elif not self.stopped:
                path = Path(line)
                data = path.read_bytes()
                path.unlink()
                yield data
        proc.wait()


def _pump(name: str, stream: object, events: queue.Queue[tuple[str, str | None]]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if line.strip():
            events.put((name, line.rstrip("\n")))
    events.put((name, None))


def _terminate(proc: subprocess.Popen[str] | None, *, wait: bool) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    if wait:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _said_status(messages: list[str]) -> tuple[int, str] | None:
    """The status of scanimage's last `sane_xxx: <status text>` message, if any."""
    for line in reversed(messages):
        match = _SANE_CALL.match(line)
        if match and match.group(2) in STATUS_TEXT:
            return STATUS_TEXT[match.group(2)], f"{match.group(1)}: {match.group(2)}"
    return None


def _own_words(messages: list[str]) -> str:
    noise = ("received signal", "trying to stop scanner")
    ours = [m for m in messages if m.startswith("scanimage:") and not any(n in m for n in noise)]
    line = (ours or [m for m in messages if m.strip()] or [""])[-1]
    return line.removeprefix("scanimage:").strip()
