"""Acceptance: kill -9 during ingest loses nothing acknowledged and double-counts nothing; two
stations ingesting into one database at once count every sheet once.

The ingest runs as the real CLI (`scantally ingest --readings … --json`) in a subprocess: the same
code path as scanning, minus the OMR (pre-computed readings and small images), so 2,000 sheets
fit in CI time. Each JSON line the subprocess prints is a page it has committed: an
acknowledgement the test holds it to after every kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tally.ballots import load_ballots
from tally.db import Batch, Page
from tally.meetings import find_meeting
from tally.recount import verify
from tally.store import open_store
from tests.tally_helpers import (
    SCANTALLY,
    cli,
    layout_of,
    pg_schema,
    pg_unreachable,
    reading,
    spec_path,
    tiny_image,
    write_readings,
)

PG_SKIP = pg_unreachable()
BACKENDS = ["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])]
REC = layout_of("recommendation")
SHEETS = 2000
RESCANS = 50  # sheets fed twice (a jam): another image of the same serial
KILLS = 20
STARTUP_KILLS = 2  # of the KILLS, this many land while the process starts (imports, migration)


def _serial(k: int) -> str:
    return f"K{k:05d}"


def _sheets(sheets: range) -> list[tuple[dict[str, Any], bytes]]:
    """One page per sheet, marks varied."""
    cats = ["leader", "middle", "staff"]
    director = REC["fields"][1]["options"]
    return [(reading(REC, _serial(k), marked={"category": [cats[k % 3]],
                                               "pos.director": [director[k % 5]]}),
             tiny_image(k)) for k in sheets]


def _rescans(sheets: range, salt: str) -> list[tuple[dict[str, Any], bytes]]:
    """Other images of the same sheets (fed again after a jam)."""
    return [(reading(REC, _serial(k), source=f"rescan-{salt}-{k}.png"), tiny_image(k, salt))
            for k in sheets]


@contextmanager
def _database(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
    else:
        with pg_schema() as url:
            yield url


def _new_meeting(tmp_path: Path, data: Path, db: str | None, serials: int) -> None:
    serials_file = tmp_path / "serials.txt"
    serials_file.write_text("\n".join(_serial(k) for k in range(serials)) + "\n")
    done = cli("meeting", "new", "--name", "crash", "--form", str(spec_path("recommendation")),
               "--serials", str(serials_file), "--issued", str(serials), data=data, db=db)
    assert done.returncode == 0, done.stderr


def _ingest_cmd(readings: Path, station: str) -> list[str]:
    return [str(SCANTALLY), "ingest", "--meeting", "crash", "--readings", str(readings),
            "--station", station, "--json"]


def _env(data: Path, db: str | None) -> dict[str, str]:
    env = {**os.environ, "SCANTALLY_DATA": str(data)}
    env.pop("SCANTALLY_DB", None)
    if db:
        env["SCANTALLY_DB"] = db
    return env


def _acks(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill was never fully acknowledged
        if "outcome" in doc:
            out.append(doc)
    return out


def _stored(data: Path, db: str | None, *, full: bool = True) -> dict[str, Any]:
    """The rows, and the audit check; `full`: the ballots and every image's hash too."""
    store = open_store(data, db, migrate=False)
    try:
        with store.session(readonly=True) as s:
            mid = find_meeting(s, "crash").id
            rows = s.execute(select(Page.id, Page.state, Page.serial, Page.sha256)
                             .where(Page.meeting_id == mid)).all()
            ballots = load_ballots(s, mid) if full else []
            report = verify(store, s, mid, check_images=full)
            batches = s.scalar(select(func.count()).select_from(Batch)) or 0
        return {"rows": rows, "ballots": ballots, "verify": report, "batches": batches,
                "files": set(store.images.iter_digests())}
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_during_ingest_loses_nothing_and_counts_once(backend: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    seed = int(os.environ.get("SCANTALLY_KILL_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    data = tmp_path / "data"
    readings = write_readings(tmp_path / "deck", _sheets(range(SHEETS))
                              + _rescans(range(0, SHEETS, SHEETS // RESCANS), "jam"))
    started = time.monotonic()
    with _database(backend) as db:
        _new_meeting(tmp_path, data, db, SHEETS)
        env = _env(data, db)
        # kill moments: a few during start-up, the rest once a random number of pages is stored
        plan: list[tuple[str, float]] = [
            ("pages", float(t))
            for t in sorted(rng.sample(range(1, SHEETS + RESCANS), KILLS - STARTUP_KILLS))]
        for _ in range(STARTUP_KILLS):
            plan.insert(rng.randrange(len(plan) + 1), ("startup", rng.uniform(0.05, 1.0)))
        acked: dict[int, dict[str, Any]] = {}
        moments = []
        in_flight = 0  # kills that landed after an image was written, before its row committed
        stored_pages = 0
        for kind, value in plan:
            proc = subprocess.Popen(_ingest_cmd(readings, "A"), stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True, env=env)
            assert proc.stdout is not None
            lines: list[str] = []
            if kind == "startup":
                time.sleep(value)
            else:
                new_pages = stored_pages
                value = max(value, stored_pages + 1)  # at least one page past the last kill
                for line in proc.stdout:
                    lines.append(line)
                    doc = _acks([line])
                    if doc and doc[0]["outcome"] != "already":
                        new_pages += 1
                    if new_pages >= value:
                        break
                time.sleep(rng.uniform(0, 0.01))  # land anywhere inside the next page
            proc.send_signal(signal.SIGKILL)
            lines.extend(proc.stdout.readlines())
            proc.wait()
            for a in _acks(lines):
                if a["page_id"] is not None and a["outcome"] != "already":
                    acked[a["page_id"]] = a
            # nothing acknowledged is lost, at every kill
            after_kill = _stored(data, db, full=False)
            stored = {r.id: r for r in after_kill["rows"]}
            in_flight += len(after_kill["files"] - {r.sha256 for r in stored.values()}) > 0
            assert after_kill["verify"].ok, after_kill["verify"].problems[:3]
            stored_pages = len(stored)
            moments.append(f"start+{value:.2f}s" if kind == "startup" else str(stored_pages))
            lost = [a for pid, a in acked.items() if pid not in stored
                    or stored[pid].serial != a["serial"]]
            assert lost == [], f"seed {seed}: lost acknowledged pages {lost[:3]}"

        last = subprocess.run(_ingest_cmd(readings, "A"), capture_output=True, text=True,
                              env=env, check=False)
        assert last.returncode == 0, last.stderr
        again = subprocess.run(_ingest_cmd(readings, "B"), capture_output=True, text=True,
                               env=env, check=False)
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout.splitlines()[-1])["summary"]
        assert summary["already_stored"] == SHEETS + RESCANS and summary["ok"] == 0

        state = _stored(data, db)
    elapsed = time.monotonic() - started
    rows = state["rows"]
    counted = [r.serial for r in rows if r.state == "counted"]
    assert sorted(counted) == sorted(_serial(k) for k in range(SHEETS)), f"seed {seed}"
    assert sum(r.state == "duplicate" for r in rows) == RESCANS
    assert len(rows) == SHEETS + RESCANS and len({r.sha256 for r in rows}) == len(rows)
    assert sorted(b.serial for b in state["ballots"]) == sorted(counted)
    assert state["verify"].ok, state["verify"].problems[:3]
    # every run opened a batch (unless killed before it could); killed ones stay open
    assert KILLS - STARTUP_KILLS + 2 <= state["batches"] <= KILLS + 2
    # the image of every row is stored; extra files are orphans of a kill before a commit
    assert {r.sha256 for r in rows} <= state["files"]
    with capsys.disabled():
        print(f"\n[kill -9 {backend}] seed {seed}: {KILLS} kills at {', '.join(moments)}; "
              f"{in_flight} kill(s) between an image write and its commit; {elapsed:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_stations_at_once_count_every_sheet_once(backend: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    # A: sheets 0-199; B: sheets 100-299 (100-199 the very same images, fed at both stations)
    # and other images of sheets 60-89 (the same paper scanned again at station B)
    deck_a = write_readings(tmp_path / "a", _sheets(range(0, 200)))
    rescans = _rescans(range(60, 90), "b")
    rows_b = _sheets(range(100, 300))
    for k, row in enumerate(rescans):  # interleaved, so both races happen during the run
        rows_b.insert(3 * k, row)
    deck_b = write_readings(tmp_path / "b", rows_b)
    with _database(backend) as db:
        _new_meeting(tmp_path, data, db, 300)
        env = _env(data, db)
        results: dict[str, subprocess.CompletedProcess[str]] = {}

        def run(station: str, deck: Path) -> None:
            results[station] = subprocess.run(_ingest_cmd(deck, station), capture_output=True,
                                              text=True, env=env, check=False)

        threads = [threading.Thread(target=run, args=("A", deck_a)),
                   threading.Thread(target=run, args=("B", deck_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for station, done in results.items():
            assert done.returncode == 0, f"station {station}: {done.stderr}"
        state = _stored(data, db)
        store = open_store(data, db, migrate=False)
        with store.session(readonly=True) as s:
            spans = [(b.started_at, b.ended_at) for b in s.scalars(select(Batch))]
        store.close()
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, "the two stations did not run at the same time"
    rows = state["rows"]
    counted = sorted(r.serial for r in rows if r.state == "counted")
    assert counted == sorted(_serial(k) for k in range(300))
    assert sum(r.state == "duplicate" for r in rows) == 30
    assert len(rows) == 330
    outcomes = [json.loads(line)["outcome"] for done in results.values()
                for line in done.stdout.splitlines()[:-1]]
    assert outcomes.count("already") == 100 and outcomes.count("duplicate") == 30
    assert state["verify"].ok, state["verify"].problems[:3]
