"""Intake jobs kept in the store, so that a crash does not lose them (`tally.db.IntakeJob`).

A console job (an upload, a device, an API batch) is a row from the moment it is accepted; its
progress is saved as it goes (`save_job`). The row names the process running it (`owner`:
host, pid and the process's start time). When a server starts, `interrupted_jobs` finds this
host's rows still "running" whose process is gone (killed, out of memory, a power cut): the
caller (`server.intake.Intake.recover`) takes an upload up again (`stored_sources` says which
of its pages are stored already, so none is read twice) or ends it with `fail_interrupted`:
batch closed, staged files removed, and the pages that were not stored listed for the operator.
Jobs of other hosts (stations sharing a PostgreSQL store) are theirs to reconcile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

import psutil
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scanner.pages import PageLimits, plan_pages
from tally.db import IntakeJob, utc_now
from tally.db import Page as PageRow
from tally.ingest import close_batch, reopen_batch
from tally.meetings import MeetingError
from tally.store import Store

__all__ = ["Unstored", "claim_job", "fail_interrupted", "insert_job", "interrupted_jobs",
           "past_jobs", "remove_stale_staging", "running_staging", "save_job", "stored_sources",
           "this_owner", "unstored_pages"]

#: lines of pages listed in a job (the rest are counted)
MAX_LISTED = 200
#: a staging folder no job names is removed at start-up once it is this old (it may be an
#: upload being checked right now by another process sharing the data folder)
STALE_STAGING_S = 3600.0


def _process_key(pid: int) -> str | None:
    """"host:pid:start" of a live process, None when there is no such process."""
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return f"{socket.gethostname()}:{pid}:{started:.2f}"


def this_owner() -> str:
    """The owner string of this process."""
    return _process_key(os.getpid()) or f"{socket.gethostname()}:{os.getpid()}:?"


def _owner_gone(owner: str) -> bool:
    """Is `owner` a process of this host that no longer runs? (Another host's: False.)"""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    return _process_key(int(pid_text)) != owner


class JobFields(TypedDict, total=False):
    """The columns of a job's row (`tally.db.IntakeJob`) a job is written with; `owner` and
    `updated_at` are this module's to set."""

    id: str
    meeting_id: int
    batch_id: int | None
    kind: str
    label: str
    operator: str
    state: str
    staging: str
    files: list[list[str]]
    files_total: int | None
    files_done: int
    counts: dict[str, int]
    refeed: list[str]
    refused: list[str]
    error: str
    note: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None


def insert_job(store: Store, **fields: Unpack[JobFields]) -> None:
    """A new job row (fields of `IntakeJob`), owned by this process."""
    def work(s: Session) -> None:
        s.add(IntakeJob(owner=this_owner(), **fields))

    store.write(work)


def save_job(store: Store, job_id: str, **fields: Unpack[JobFields]) -> None:
    """Update a job's row (progress, state, the end)."""
    def work(s: Session) -> None:
        s.execute(update(IntakeJob).where(IntakeJob.id == job_id)
                  .values(updated_at=utc_now(), **fields))

    store.write(work)


def claim_job(store: Store, row: IntakeJob, **fields: Unpack[JobFields]) -> bool:
    """Take an interrupted job over (owner: this process), unless another process did first."""
    def work(s: Session) -> bool:
        done = s.execute(update(IntakeJob).where(IntakeJob.id == row.id,
                                                 IntakeJob.owner == row.owner)
                         .values(owner=this_owner(), updated_at=utc_now(), **fields))
        return bool(done.rowcount)

    return store.write(work)


def interrupted_jobs(store: Store) -> list[IntakeJob]:
    """This host's jobs left "running" by a process that is gone, oldest first."""
    with store.session(readonly=True) as s:
        rows = s.scalars(select(IntakeJob).where(IntakeJob.state == "running")
                         .order_by(IntakeJob.started_at)).all()
        s.expunge_all()
    return [r for r in rows if _owner_gone(r.owner)]


def running_staging(store: Store) -> set[str]:
    """The staging folders of every job still running (in any process)."""
    with store.session(readonly=True) as s:
        return {st for st in s.scalars(select(IntakeJob.staging)
                                       .where(IntakeJob.state == "running")) if st}


def past_jobs(store: Store, meeting_id: int, limit: int = 50) -> list[IntakeJob]:
    """A meeting's newest job rows (the console lists those not running in this process)."""
    with store.session(readonly=True) as s:
        rows = s.scalars(select(IntakeJob).where(IntakeJob.meeting_id == meeting_id)
                         .order_by(IntakeJob.started_at.desc()).limit(limit)).all()
        s.expunge_all()
    return list(rows)


def stored_sources(store: Store, batch_id: int) -> tuple[Counter[str], list[str]]:
    """The pages a batch holds: how many of each source label ("scan.tiff#3"), and the
    "source: reason" lines of those stored unreadable (to re-feed)."""
    with store.session(readonly=True) as s:
        rows = s.execute(select(PageRow.source, PageRow.status, PageRow.reason)
                         .where(PageRow.batch_id == batch_id).order_by(PageRow.id)).all()
    unreadable = [f"{src}: {reason}" for src, status, reason in rows if status == "unreadable"]
    return Counter(src for src, _status, _reason in rows), unreadable


@dataclass(frozen=True)
class Unstored:
    """The staged pages a batch does not hold: how many, and the first of their labels."""

    count: int
    labels: list[str]
    #: the staged files could be planned (False: gone, so the pages cannot be listed)
    known: bool = True


def unstored_pages(files: list[list[str]], stored: Counter[str],
                   limits: PageLimits) -> Unstored:
    """Plan the staged files (structure only, nothing decoded) and name the pages not stored."""
    left = Counter(stored)
    count, labels = 0, []
    for path, name in files:
        try:
            for page in plan_pages(name, path=path, limits=limits):
                if left[page.source] > 0:
                    left[page.source] -= 1
                    continue
                count += 1
                if len(labels) < MAX_LISTED:
                    labels.append(page.source)
        except OSError:
            return Unstored(count, labels, known=False)
    return Unstored(count, labels)


def fail_interrupted(store: Store, row: IntakeJob, limits: PageLimits) -> IntakeJob | None:
    """End a job its process left running: batch closed, staged files listed and removed, the
    row failed with what was kept and what must be fed again (done, when every staged page is
    stored: the crash came after the last one). None if another process took it."""
    stored, unreadable = (stored_sources(store, row.batch_id) if row.batch_id is not None
                          else (Counter(), []))
    kept = sum(stored.values())
    staging = Path(row.staging) if row.staging else None
    missing = (unstored_pages(row.files, stored, limits)
               if staging is not None and staging.is_dir() else Unstored(0, [], known=False))
    where = f" in batch #{row.batch_id}" if row.batch_id is not None else ""
    error = (f"The server stopped while this job ran (killed, out of memory or a power cut). "
             f"{kept} page(s) stored before{where} are kept and counted once.")
    if row.kind == "upload" and missing.known:
        error += (f" {missing.count} page(s) were not stored: upload them again"
                  + (f" ({', '.join(missing.labels[:5])}{' …' if missing.count > 5 else ''})."
                     if missing.count else "."))
    elif row.kind == "upload":
        error += " Its staged files are gone: upload the files again (pages stored before are " \
                 "recognised and not counted twice)."
    else:
        error += " Feed again the sheets after the last one stored."
    counts = {"kept": kept} | ({"not_stored": missing.count} if missing.count else {})
    refeed = (unreadable + [f"{label}: not read before the server stopped; upload it again"
                            for label in missing.labels])[-MAX_LISTED:]
    state = "failed"
    if row.kind == "upload" and missing.known and not missing.count:  # all stored: it was done
        state, error = "done", ""
    note = f"marked {state} at restart ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"
    if not claim_job(store, row, state=state, error=error, note=note, counts=counts,
                     refeed=refeed, finished_at=utc_now()):
        return None
    if row.batch_id is not None:
        with contextlib.suppress(MeetingError):  # closed already (the crash came after it)
            close_batch(store, reopen_batch(store, row.batch_id))
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    with store.session(readonly=True) as s:
        done = s.get(IntakeJob, row.id)
        if done is not None:
            s.expunge(done)
        return done


def remove_stale_staging(uploads_dir: Path, keep: set[str]) -> list[Path]:
    """Remove staging folders no running job names and older than `STALE_STAGING_S` (left by a
    crash between checking an upload and starting its job)."""
    removed: list[Path] = []
    if not uploads_dir.is_dir():
        return removed
    now = time.time()
    for entry in uploads_dir.iterdir():
        if not entry.is_dir() or str(entry) in keep:
            continue
        try:
            age_s = now - entry.stat().st_mtime
        except OSError:
            continue
        if age_s >= STALE_STAGING_S:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed
