"""Intake jobs: uploaded scans or a device, read and ingested in the background.

Both go through `intake.run.scan`, the path `scantally scan` takes: an acquisition
thread, a bounded queue, OMR worker processes (`read_threads` of them; 1 = read in the job's
thread), then `Intake.ingest` (`tally.ingest.ingest_page`, which stores the image, counts the
sheet once and audit-logs it)
in feed order. After each commit a "sheet" event goes on the bus (for the
console and the hall), and the job's progress (pages, outcomes, rate, the sheets to re-feed and
why) is kept for the console. A page that cannot be decoded is stored as unreadable with the
decoder's reason, never dropped; a device error ends the job after every sheet fed before it is
stored, and its message names the sheets to re-feed.

Every job is also a row of the store (`intake.jobs`), saved as it goes, so a server killed
mid-job finds it when it starts again (`Intake.recover`, run by `create_app`): an upload is taken
up again (at most `IntakeLimits.max_job_resumes` times; the pages stored already are not read
again) or marked failed with the pages that were not stored listed; either way its batch ends
closed and its staged files removed, and the job's `note` and `error` say what happened.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from intake import jobs as records
from intake.devices import open_source
from intake.limits import IntakeLimits
from intake.pipeline import IntakeOptions, PageDone, StackResult, stored_layouts
from intake.run import scan
from omr.card import card_form
from omr.reading import Reading
from scanner.folder import FileSource
from scanner.pages import EncodedPage, PageLimits
from scanner.source import SheetSource
from server.events import EventBus
from server.jobs import MAX_LISTED, Job, JobState, JobView, utc_of
from server.uploads import StagedFile
from tally.db import IntakeJob
from tally.ingest import (
    BatchContext,
    IngestResult,
    close_batch,
    ingest_page,
    open_batch,
    reopen_batch,
)
from tally.meetings import MeetingError
from tally.store import Store

__all__ = ["DeviceUnavailable", "Intake", "Job", "JobState", "JobView", "staged_files"]

#: at most this often a "job" progress event per job
JOB_EVENT_INTERVAL_S = 0.3


def staged_files(staged: list[tuple[Path, str]], limits: PageLimits | None = None,
                 skip: Callable[[EncodedPage], bool] | None = None) -> FileSource:
    """Uploaded (path, name) files as a sheet source, in upload order (each page decoded once,
    by a worker; a page that cannot be decoded keeps the file's bytes and the decoder's
    reason); `skip`: pages stored already (a job taken up again)."""
    return FileSource(staged, uri="upload", limits=limits, skip=skip)


class Intake:
    """Runs intake jobs and publishes what they commit."""

    def __init__(self, store: Store, bus: EventBus, *, read_threads: int = 2,
                 open_source: Callable[[str], SheetSource] | None = None,
                 limits: IntakeLimits | None = None) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits or IntakeLimits()
        self.read_threads = max(1, read_threads)
        self._open_source = open_source
        self._jobs: dict[str, Job] = {}
        self._api_batches: dict[int, tuple[BatchContext, Job]] = {}
        self._lock = threading.Lock()

    # -- the one ingest step ---------------------------------------------------------------------

    def ingest(self, batch: BatchContext, reading: Reading, image: bytes | None,
               job: Job | None = None, *, printed_hash: str | None = None) -> IngestResult:
        result = ingest_page(self.store, batch, reading, image, printed_hash=printed_hash)
        committed_at = time.time()
        if job is not None:
            job.outcomes.note(result)
        if result.outcome not in ("refused", "already"):
            self.bus.publish(batch.meeting_id, "sheet", {
                "committed_at": committed_at, "page_id": result.page_id,
                "outcome": result.outcome, "source": result.source, "message": result.message,
                "job": job.id if job else None})
        if job is not None:
            self._job_event(job)
        return result

    def _job_event(self, job: Job, force: bool = False) -> None:
        """Publish the job's progress and save it in its row (at most every 0.3 s)."""
        now = time.time()
        if force or now - job.last_event >= JOB_EVENT_INTERVAL_S:
            job.last_event = now
            with contextlib.suppress(Exception):  # a store hiccup must not stop the reading
                fields = job.progress()
                if job.finished_at is not None:
                    fields["finished_at"] = utc_of(job.finished_at)
                records.save_job(self.store, job.id, **fields)
            self.bus.publish(job.meeting_id, "job", job.view().model_dump(mode="json"))

    # -- jobs ------------------------------------------------------------------------------------

    def jobs(self, meeting_id: int) -> list[Job]:
        """The meeting's jobs: those this process runs or ran, and the store's others (before
        a restart, another station's)."""
        with self._lock:
            mine = [j for j in self._jobs.values() if j.meeting_id == meeting_id]
        known = {j.id for j in mine}
        try:
            rows = records.past_jobs(self.store, meeting_id)
        except Exception:  # the list must show even when the store is busy
            rows = []
        return mine + [Job.from_row(r) for r in rows if r.id not in known]

    def job(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _new_job(self, meeting_id: int, kind: Literal["upload", "device", "api"], label: str,
                 operator: str, files_total: int | None = None, batch_id: int | None = None,
                 staging: Path | None = None, files: list[tuple[Path, str]] | None = None
                 ) -> Job:
        """A job, in memory and as a row of the store (before anything of it runs)."""
        job = Job(uuid.uuid4().hex[:12], meeting_id, kind, label, operator, files_total,
                  batch_id)
        records.insert_job(self.store, id=job.id, meeting_id=meeting_id, batch_id=batch_id,
                           kind=kind, label=label[:400], operator=operator, state=job.state,
                           staging=str(staging or ""),
                           files=[[str(p), n] for p, n in files or []],
                           files_total=files_total, started_at=utc_of(job.started_at))
        with self._lock:
            self._jobs[job.id] = job
        return job

    def open_batch(self, meeting_id: int, *, operator: str, device: str, category: str | None,
                   station: str = "console") -> BatchContext:
        return open_batch(self.store, meeting_id, station=station, device=device,
                          operator=operator, category=category)

    def open_api_batch(self, meeting_id: int, *, operator: str, device: str, station: str,
                       category: str | None) -> tuple[BatchContext, Job]:
        """A batch fed page by page through the API (a station that reads sheets itself)."""
        batch = self.open_batch(meeting_id, operator=operator, device=device or "api",
                                category=category, station=station or "api")
        job = self._new_job(meeting_id, "api", f"{station or 'api'} {device}".strip(), operator,
                            batch_id=batch.batch_id)
        with self._lock:
            self._api_batches[batch.batch_id] = (batch, job)
        self._job_event(job, force=True)
        return batch, job

    def api_batch(self, batch_id: int) -> tuple[BatchContext, Job] | None:
        with self._lock:
            return self._api_batches.get(batch_id)

    def close_api_batch(self, batch_id: int) -> Job:
        with self._lock:
            batch, job = self._api_batches.pop(batch_id)
        close_batch(self.store, batch)
        job.state = "done"
        job.finished_at = time.time()
        self._job_event(job, force=True)
        return job

    def start_upload(self, meeting_id: int, staged: list[StagedFile], staging: Path, *,
                     operator: str, category: str | None) -> Job:
        """Open a batch (MeetingError for a bad category, before anything runs) and read the
        staged files in a thread; the staging folder is removed when done."""
        batch = self.open_batch(meeting_id, operator=operator, device="upload",
                                category=category)
        label = ", ".join(f.name for f in staged[:3]) + (f" … ({len(staged)} files)"
                                                         if len(staged) > 3 else "")
        files = [(f.path, f.name) for f in staged]
        job = self._new_job(meeting_id, "upload", label, operator, len(staged),
                            batch.batch_id, staging, files)

        def cleanup() -> None:
            shutil.rmtree(staging, ignore_errors=True)

        self._run(job, batch, staged_files(files, self.limits.pages), cleanup)
        return job

    # -- after a crash ----------------------------------------------------------------------------

    def recover(self) -> list[Job]:
        """Reconcile the jobs a killed server left running (see the module docstring): each is
        taken up again or marked failed; returns them. Stale staging folders are removed."""
        out: list[Job] = []
        for row in records.interrupted_jobs(self.store):
            job = self._resume(row) if self._resumable(row) else None
            if job is None:
                done = records.fail_interrupted(self.store, row, self.limits.pages)
                if done is None:
                    continue  # another process took it
                job = Job.from_row(done)
                self.bus.publish(job.meeting_id, "job", job.view().model_dump(mode="json"))
            out.append(job)
        records.remove_stale_staging(self.store.data_dir / "uploads",
                                     records.running_staging(self.store))
        return out

    def _resumable(self, row: IntakeJob) -> bool:
        return (row.kind == "upload" and row.batch_id is not None and bool(row.staging)
                and Path(row.staging).is_dir() and row.attempts <= self.limits.max_job_resumes)

    def _resume(self, row: IntakeJob) -> Job | None:
        """Go on with an upload where the crash left it; None when it cannot be (then it is
        marked failed)."""
        assert row.batch_id is not None
        try:
            batch = reopen_batch(self.store, row.batch_id)
        except MeetingError:
            return None
        stored, unreadable = records.stored_sources(self.store, row.batch_id)
        kept = sum(stored.values())
        note = (f"taken up again after the server stopped (attempt {row.attempts + 1}): "
                f"{kept} page(s) stored before are kept, not read again; the rest is read now")
        if not records.claim_job(self.store, row, attempts=row.attempts + 1, note=note,
                                 counts={"kept": kept} if kept else {}):
            return None
        job = Job.from_row(row)
        job.state, job.finished_at, job.note, job.attempts = "running", None, note, \
            row.attempts + 1
        job.outcomes.resume(kept, unreadable[-MAX_LISTED:])
        left = stored.copy()

        def skip(page: EncodedPage) -> bool:
            if left[page.source] > 0:
                left[page.source] -= 1
                return True
            return False

        staging = Path(row.staging)
        with self._lock:
            self._jobs[job.id] = job
        files = [(Path(p), n) for p, n in row.files]
        self._run(job, batch, staged_files(files, self.limits.pages, skip),
                  lambda: shutil.rmtree(staging, ignore_errors=True))
        return job

    def start_device(self, meeting_id: int, uri: str, *, operator: str,
                     category: str | None) -> Job:
        """Acquire from a scanner or card reader (`intake.devices.open_source`) until its feeder is
        empty, the operator stops, or the device reports an error (with the sheets to
        re-feed). DeviceUnavailable when the device cannot be opened, or is a card reader and
        the meeting has no (single) card-reader form."""
        opener = self._open_source or open_source
        try:
            source = opener(uri)
        except Exception as exc:  # a bad URI or an unreachable device: nothing is stored
            raise DeviceUnavailable(f"cannot open the device {uri!r}: {exc}") from None
        try:
            if source.kind == "cards":
                try:
                    card_form(stored_layouts(self.store, meeting_id))
                except ValueError as exc:
                    raise DeviceUnavailable(f"{uri} is an OMR card reader: {exc}") from None
            batch = self.open_batch(meeting_id, operator=operator, device=uri[:120],
                                    category=category)
        except Exception:
            with contextlib.suppress(Exception):
                source.close()
            raise
        job = self._new_job(meeting_id, "device", uri, operator, batch_id=batch.batch_id)
        self._run(job, batch, source, source.close)
        return job

    def _run(self, job: Job, batch: BatchContext, source: SheetSource,
             cleanup: Callable[[], None]) -> None:
        """Run the pipeline over `source` in a thread; the job's stop event stops it."""

        def on_page(done: PageDone) -> None:
            if done.last_of_sheet and done.sheet.last_of_file:
                job.files_done += 1

        def work() -> None:
            result: StackResult | None = None
            failure = ""
            try:
                _, result = scan(self.store, batch.meeting_id, source, batch=batch,
                                 options=IntakeOptions(workers=self.read_threads),
                                 ingest=functools.partial(self.ingest, job=job),
                                 on_page=on_page, stop=job.stop)
            except Exception as exc:  # a card form missing, a bug
                failure = str(exc) or type(exc).__name__
            finally:
                try:
                    close_batch(self.store, batch)
                except Exception as exc:
                    failure = failure or f"cannot close the batch: {exc}"
                with contextlib.suppress(Exception):
                    cleanup()
                # the job ends (its state leaves "running") only once everything is released
                if result is not None:
                    _note_end(job, result)
                if result is None:
                    job.state = "failed"
                job.error = job.error or failure
                job.finished_at = time.time()
                self._job_event(job, force=True)

        self._job_event(job, force=True)
        threading.Thread(target=work, name=f"intake-{job.id}", daemon=True).start()


def _note_end(job: Job, result: StackResult) -> None:
    """The job's final state from how its stack ended."""
    if result.ended in ("end_of_stack", "empty"):
        job.state = "stopped" if job.stop.is_set() else "done"
    elif result.ended in ("device_error", "stopped"):
        job.state = "stopped"
    else:
        job.state = "failed"
    if result.error is not None:
        job.error = str(result.error) or type(result.error).__name__
        if result.ended == "failed" and result.refeed:
            job.error += (" Sheets fed but not stored (re-feed them): "
                          + ", ".join(str(n) for n in result.refeed) + ".")
    elif result.ended == "empty":
        job.error = "The feeder is empty; load the stack and start again."


class DeviceUnavailable(RuntimeError):
    """The device cannot be opened, or does not suit the meeting (no card-reader form)."""
