"""An accepted upload survives a crash of the server (issue 15).

A real `scantally serve` process reads a 24-page TIFF of marked ballots (distinct serials); it
is killed with SIGKILL mid-job (as the OOM killer does) and started again on the same store
(SQLite; the resume also on PostgreSQL). With the default `--max-job-resumes 1` the job is
taken up again: the pages stored before are kept and not read again, the rest are read, so
every page is stored exactly once
(no page counted twice, none lost); the batch ends closed, the staging folder empty, and the
job's state and what the restart did are in the API. With `--max-job-resumes 0` the job is
marked failed instead: the pages stored are kept, the others are listed to upload again (stored
+ listed = all), the batch is closed and the staged file removed. The killed server's OMR
workers do not outlive it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image
from sqlalchemy import select

from omr.sim.corpus import render_marked_page
from tally.db import Batch, IntakeJob, Page
from tally.ingest import open_batch
from tally.store import Store, open_store
from tests.process_helpers import g4_tiff, operator_client, serve, wait_job
from tests.server_helpers import add_users, client_for, free_port, new_meeting
from tests.tally_helpers import pg_schema, pg_unreachable

EVAL = Path("examples/evaluation.yaml")
PAGES = 24
PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
#: a store: its data folder and its database URL (None: the SQLite file in the folder)
Where = tuple[Path, str | None]


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Where]:
    if request.param == "sqlite":
        yield tmp_path / "data", None
        return
    with pg_schema() as url:
        yield tmp_path / "data", url


def _open(where: Where) -> Store:
    return open_store(where[0], where[1])


def _args(where: Where, *more: str) -> tuple[str, ...]:
    return (*more, *(("--db", where[1]) if where[1] else ()))


@pytest.fixture(scope="module")
def ballots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vote = {"category": ["staff"], "leader.P310012": ["excellent"]}
    frames = []
    for n in range(PAGES):
        image = render_marked_page(EVAL, vote, serial=f"C{n:04d}")
        frames.append(Image.fromarray(image).convert("L").point(lambda v: 255 if v > 160 else 0)
                      .convert("1"))
    return g4_tiff(tmp_path_factory.mktemp("crash") / "stack.tiff", frames)


def _meeting(where: Where) -> int:
    store = _open(where)
    add_users(store)
    meeting_id = new_meeting(store, forms=("evaluation",))
    store.close()
    return meeting_id


def _kill_mid_job(where: Where, meeting_id: int, ballots: Path, port: int,
                  read_threads: str) -> str:
    """Upload, wait for a few pages, SIGKILL the server; the job id. The killed server's
    descendants (forkserver, workers) must end by themselves."""
    data = where[0]
    with serve(data, *_args(where, "--read-threads", read_threads), port=port) as served:
        with operator_client(served.url) as client, ballots.open("rb") as fh:
            r = client.post(f"/api/meetings/{meeting_id}/uploads",
                            files=[("files", ("stack.tiff", fh, "image/tiff"))])
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            job = wait_job(client, meeting_id, job_id, timeout_s=120,
                           until=lambda j: j["pages"] >= 3 or j["state"] != "running")
            assert job["state"] == "running" and job["pages"] < PAGES, job
        below = served.kill_tree()
    print(f"killed mid-job after {job['pages']} of {PAGES} pages; {len(below)} processes below")
    _gone, alive = psutil.wait_procs([psutil.Process(p) for p in below if psutil.pid_exists(p)],
                                     timeout=15)
    assert not alive, f"left behind by the killed server: {alive}"
    assert any((data / "uploads").iterdir()), "the staged file is still there after the kill"
    return job_id


def _stored(where: Where, job_id: str) -> tuple[IntakeJob, Batch, list[Page]]:
    store = _open(where)
    try:
        with store.session(readonly=True) as s:
            row = s.get(IntakeJob, job_id)
            assert row is not None
            batch = s.get(Batch, row.batch_id)
            pages = list(s.scalars(select(Page).where(Page.batch_id == row.batch_id)))
            s.expunge_all()
        return row, batch, pages  # type: ignore[return-value]
    finally:
        store.close()


@pytest.mark.slow
def test_a_killed_upload_is_taken_up_again_and_every_page_counted_once(
        where: Where, ballots: Path) -> None:
    data = where[0]
    meeting_id = _meeting(where)
    port = free_port()
    job_id = _kill_mid_job(where, meeting_id, ballots, port, "1")
    _row, _batch, before = _stored(where, job_id)
    started = time.monotonic()
    with serve(data, *_args(where, "--read-threads", "2"), port=port) as served, \
            operator_client(served.url) as client:
        job = wait_job(client, meeting_id, job_id, timeout_s=180)
    print(f"restarted: {len(before)} pages were stored before the kill; job {job['state']} in "
          f"{time.monotonic() - started:.0f} s: {job['counts']}; note: {job['note']}")
    assert job["state"] == "done" and job["attempts"] == 2, job
    assert "taken up again" in job["note"] and f"{len(before)} page(s)" in job["note"]
    assert sum(job["counts"].values()) == PAGES and job["counts"].get("kept") == len(before)
    row, batch, pages = _stored(where, job_id)
    sources = [p.source for p in pages]
    assert sorted(sources) == sorted(f"stack.tiff#{k}" for k in range(1, PAGES + 1))
    assert all(p.state == "counted" for p in pages), [(p.source, p.status, p.reason)
                                                      for p in pages if p.state != "counted"]
    assert len({p.serial for p in pages}) == PAGES  # each sheet counted once, none lost
    assert batch.ended_at is not None and row.state == "done" and row.finished_at is not None
    assert not any((data / "uploads").iterdir())


@pytest.mark.slow
def test_a_killed_upload_not_to_be_resumed_is_failed_with_what_to_upload_again(
        tmp_path: Path, ballots: Path) -> None:
    where: Where = (tmp_path / "data", None)
    data = where[0]
    meeting_id = _meeting(where)
    port = free_port()
    job_id = _kill_mid_job(where, meeting_id, ballots, port, "2")  # with worker processes
    with serve(data, "--max-job-resumes", "0", port=port) as served, \
            operator_client(served.url) as client:
        job = wait_job(client, meeting_id, job_id, timeout_s=30)
        page = client.get(f"/meetings/{meeting_id}")
    row, batch, pages = _stored(where, job_id)
    print(f"marked failed: {job['counts']}; {job['error']}")
    assert job["state"] == "failed" and "marked failed at restart" in job["note"]
    assert "The server stopped while this job ran" in job["error"]
    kept, listed = job["counts"]["kept"], job["counts"].get("not_stored", 0)
    assert kept == len(pages) and kept + listed == PAGES
    to_upload = {line.split(":")[0] for line in job["refeed"] if "upload it again" in line}
    assert to_upload | {p.source for p in pages} == {f"stack.tiff#{k}"
                                                     for k in range(1, PAGES + 1)}
    assert not to_upload & {p.source for p in pages}
    assert batch.ended_at is not None and row.state == "failed"
    assert not any((data / "uploads").iterdir())
    assert page.status_code == 200 and job_id in page.text  # the console lists it too


def test_jobs_left_by_a_dead_process_are_reconciled_and_other_hosts_jobs_left_alone(
        tmp_path: Path) -> None:
    """In-process: a device job of a process of this host that is gone is failed and its batch
    closed when an app starts on the store; a job of another host (a station sharing the
    PostgreSQL store) is not touched; a staging folder no job names, hours old, is removed."""
    store = open_store(tmp_path / "data")
    add_users(store)
    meeting_id = new_meeting(store, forms=("evaluation",))
    batch = open_batch(store, meeting_id, operator="operator", device="escl://scanner/eSCL")
    dead_pid = psutil.Popen(["true"])  # its pid: a process of this host that has ended
    dead_pid.wait()
    rows = [IntakeJob(id="dev1", meeting_id=meeting_id, batch_id=batch.batch_id, kind="device",
                      label="escl://scanner/eSCL", operator="operator", state="running",
                      owner=f"{socket.gethostname()}:{dead_pid.pid}:1.00"),
            IntakeJob(id="far1", meeting_id=meeting_id, kind="upload", label="x.tiff",
                      operator="operator", state="running", owner="elsewhere:4242:1.00")]
    store.write(lambda s: s.add_all(rows))
    stale = store.data_dir / "uploads" / "0123abcd"
    stale.mkdir(parents=True)
    (stale / "00001.tiff").write_bytes(b"II*\x00")
    hours_ago = time.time() - 3 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    with client_for(store, "operator") as (client, _csrf):
        jobs = {j["id"]: j for j in client.get(f"/api/meetings/{meeting_id}/jobs").json()}
    assert jobs["dev1"]["state"] == "failed", jobs["dev1"]
    assert "The server stopped while this job ran" in jobs["dev1"]["error"]
    assert "Feed again the sheets after the last one stored" in jobs["dev1"]["error"]
    assert jobs["far1"]["state"] == "running"  # another station's
    with store.session(readonly=True) as s:
        closed = s.get(Batch, batch.batch_id)
        assert closed is not None and closed.ended_at is not None
    assert not stale.exists()
    store.close()
