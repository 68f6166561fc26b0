"""`scantally demo --no-serve` builds the whole tour; `scantally bench hall` measures the hall."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.bench import bench_hall
from tally.accounts import User
from tally.db import Page
from tally.store import open_store
from tests.server_helpers import app_for
from tests.tally_helpers import SCANTALLY


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCANTALLY), "demo", "--out", str(out), "--sheets", "8",
                           "--workers", "1", "--no-serve", *extra],
                          capture_output=True, text=True, timeout=300)


def test_demo_builds_store_meeting_report_login_and_hall_link(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run_demo(out)
    assert done.returncode == 0, done.stderr + done.stdout
    text = done.stdout
    login = re.search(r"login\s+(\S+) / (\S+)", text)
    hall = re.search(r"hall\s+(http://127\.0\.0\.1:8000/hall/(\d+)\?token=(\S+))", text)
    assert login and hall, text
    assert "console    http://127.0.0.1:8000/" in text
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    store = open_store(out / "data")
    with store.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Page)) == 8
        assert s.scalar(select(User.role).where(User.username == login.group(1))) == "admin"
    with TestClient(app_for(store)) as c:
        agg = c.get(f"/hall/{hall.group(2)}/data?token={hall.group(3)}").json()
        assert agg["read"] >= 6 and agg["issued"] == 13
        page = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = c.post("/login", data={"username": login.group(1), "password": login.group(2),
                                   "csrf_token": csrf}, follow_redirects=False)
        assert r.status_code == 303
    store.close()
    # a second run replaces the demo folder; a folder that is not a demo's is left alone
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    refused = run_demo(tmp_path / "mine")
    assert refused.returncode == 2 and "not made by `scantally demo`" in refused.stderr
    assert (tmp_path / "mine" / "thesis.txt").exists()


def test_bench_hall_measures_every_sheet(tmp_path: Path) -> None:
    report = bench_hall(sheets=40, rate=20, data_dir=tmp_path / "bench", progress=lambda _: None)
    assert report.tick.n == 40 and report.aggregate.n == 40
    assert report.aggregate.p50 < 5 and report.aggregates_received >= 2
    assert "aggregate incl. the sheet" in report.table()
