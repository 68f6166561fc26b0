"""`scantally scan` in a subprocess: exit codes and messages for bad URIs, a device that is not
there, a device error mid-stack (and the re-feed after it), and a normal stack (--json)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from hardware.sim import CardReaderSim
from omr.grid import marks_to_bitmap
from omr.layout import FormLayout
from scanner.escl_sim import EsclSimulator
from tally.store import open_store
from tests.intake_helpers import ballot, counted_serials, meeting_store, serial
from tests.tally_helpers import cli, layout_of


def _data(tmp_path: Path, forms: tuple[str, ...] = ("evaluation",)) -> Path:
    with meeting_store(tmp_path, forms):
        pass
    return tmp_path / "data"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_uris_and_absent_devices_exit_2_naming_the_uri(tmp_path: Path) -> None:
    data = _data(tmp_path)
    port = _closed_port()
    cases = {
        "bogus:thing": "unknown kind of device",
        f"dir:{tmp_path}/no-such-folder": "does not exist",
        f"escl://127.0.0.1:{port}/eSCL": "cannot connect",
        "serial:///dev/no-such-tty?protocol=sekonic": "cannot open serial port",
    }
    for uri, why in cases.items():
        r = cli("scan", "-m", "m1", "--device", uri, data=data)
        err = " ".join(r.stderr.split())
        assert r.returncode == 2, (uri, r.stdout, r.stderr)
        assert uri in err and why in err, err
        assert "accepted forms" in err and "escl://HOST:PORT/eSCL" in err


def test_a_jam_mid_stack_exits_3_with_the_sheets_to_refeed_then_refeeding_counts_once(
        tmp_path: Path) -> None:
    data = _data(tmp_path)
    with EsclSimulator([ballot(n) for n in range(1, 7)], jam_at=4) as sim:
        r = cli("scan", "-m", "m1", "--device", sim.uri, "--workers", "1", data=data)
        err = " ".join(r.stderr.split())
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert sim.uri in err and "paper jam" in err and "Re-feed sheet(s) 4" in err
        assert "3 sheet(s) fed before it were read and stored" in err
        sim.clear()  # the operator clears the jam; sheets 4-6 are still in the feeder
        r = cli("scan", "-m", "m1", "--device", sim.uri, "--workers", "1", "--json",
                data=data)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    summary = lines[-1]
    assert summary["ended"] == "end_of_stack" and summary["summary"]["ok"] == 3
    assert [(x["sequence"], x["outcome"]) for x in lines[:-1]] == [(1, "ok"), (2, "ok"),
                                                                   (3, "ok")]
    assert summary["stats"]["max_queue_depth"] <= summary["stats"]["queue_bound"] == 2
    store = open_store(data)
    try:
        assert counted_serials(store, 1) == [serial(n) for n in range(1, 7)]
    finally:
        store.close()


def test_a_card_reader_stack_and_a_table_summary(tmp_path: Path) -> None:
    data = _data(tmp_path, ("evaluation-cardreader",))
    layout = layout_of("evaluation-cardreader")
    rows = len(layout["pages"][0]["timing_mm"])
    cards = [marks_to_bitmap({"category": ["middle"], "team.integrity": [grade]},
                             FormLayout.parse(layout), 1,
                             rows, 80, serial=f"C{n}")
             for n, grade in enumerate(("good", "poor", "average"))]
    with CardReaderSim(cards, protocol="framed") as sim:
        r = cli("scan", "-m", "m1", "--device", f"{sim.uri}&baud=115200", "--workers", "1",
                data=data)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "3 sheet(s)" in out and "ok, counted │ 3" in out and "refused │ 0" in out
