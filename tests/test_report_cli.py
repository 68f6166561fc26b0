"""`scantally report`: the PDF, Excel and CSV of a stored meeting equal `scantally tally`."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
from typer.testing import CliRunner, Result

from server.cli import app
from tally.db import AuditEntry
from tally.store import open_store
from tests.tally_helpers import layout_of, reading, spec_path, tiny_image, write_readings

REC = layout_of("recommendation")


def _run(tmp_path: Path, *args: str, code: int = 0) -> Result:
    env = {"SCANTALLY_DATA": str(tmp_path / "data"), "SCANTALLY_DB": None, "COLUMNS": "250"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def _meeting_with_ballots(tmp_path: Path) -> None:
    _run(tmp_path, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--expected", "leader=3,middle=3,staff=3", "--issued", "9", "--who", "组长")
    votes = [("leader", ["P310012"]), ("leader", ["P310012"]), ("middle", ["P310027"]),
             ("staff", ["P310012", "P310027"])]  # the last one is over the quota of 1: void
    rows = [(reading(REC, f"S{k}", marked={"category": [cat], "pos.director": director}),
             tiny_image(k)) for k, (cat, director) in enumerate(votes)]
    _run(tmp_path, "ingest", "--meeting", "m", "--readings",
         str(write_readings(tmp_path / "deck", rows)))


def test_report_files_equal_the_tally(tmp_path: Path) -> None:
    _meeting_with_ballots(tmp_path)
    figures = json.loads(_run(tmp_path, "tally", "m", "--json").output)
    [director] = [p for p in figures["recommendation"]["positions"] if p["id"] == "director"]
    votes = {c["id"]: c["votes"]["_all"] for c in director["candidates"]}
    assert votes["P310012"] == 2 and votes["P310027"] == 1  # the over-marked block is void

    out = tmp_path / "out"
    _run(tmp_path, "report", "m", "-o", str(out / "r.pdf"), "--xlsx", str(out / "r.xlsx"),
         "--csv", str(out / "r.zip"))
    pdf = pdfium.PdfDocument(str(out / "r.pdf"))
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "王建国" in text and "李红梅" in text and figures["sha256"][:16] in text

    wb = openpyxl.load_workbook(out / "r.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert "王建国" in cells
    assert not any(f"S{k}" == c for c in cells for k in range(4))  # anonymous: no serials

    with zipfile.ZipFile(out / "r.zip") as zf:
        # `meeting new` makes a meeting in test mode: its tables say so, in name and first row
        table = zf.read("测试模式-recommendation.csv").decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(table)))
    assert "测试模式" in rows[0][0]
    rows = rows[1:]
    head = rows[0]
    got = {r[2]: r for r in rows[1:] if r[0] == "director"}
    column = head.index("全体·得票数")
    assert {cid: int(got[cid][column]) for cid in votes} == votes


def test_report_refuses_a_tampered_store_and_writes_nothing(tmp_path: Path) -> None:
    _meeting_with_ballots(tmp_path)
    with open_store(tmp_path / "data").transaction() as s:
        s.query(AuditEntry).filter(AuditEntry.seq == 2).update({"actor": "someone else"})
    out = tmp_path / "out" / "r.pdf"
    result = _run(tmp_path, "report", "m", "-o", str(out), code=2)
    assert "audit check" in " ".join(result.output.split())
    assert not out.exists()


def test_report_of_an_unknown_form_or_meeting_exits_2(tmp_path: Path) -> None:
    _meeting_with_ballots(tmp_path)
    out = tmp_path / "r.pdf"
    assert "no form 'nope'" in _run(tmp_path, "report", "m", "-o", str(out), "--form", "nope",
                                    code=2).output
    _run(tmp_path, "report", "zz", "-o", str(out), code=2)
    assert not out.exists()
