"""Hostile text in exports: a write-in typed as `=HYPERLINK(…)`, a candidate named `=1+1`, a
unit, a position title and a category label that begin with a formula character, and a void
reason, all downloaded from a real server as xlsx and CSV. No xlsx cell is a formula (openpyxl
and the raw XML: no `<f>`), no CSV cell starts with `= + - @` tab or CR, numbers stay numbers.
Write-ins are counted on their normalised form: `张三` and `\\u200d张三` are one name."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import httpx
import openpyxl
import pytest

from tally.model import Settings
from tally.report.csv import render_csv
from tally.report.safe import FORMULA_START, csv_text
from tally.report.xlsx import render_xlsx
from tally.rules import compute
from tally.rules.result import ALL
from tally.store import Store, open_store
from tests.rules_helpers import make_ballot
from tests.server_helpers import add_users, ingest_readings, layout_of, live_server, login, reading
from tests.test_tally_rules_recommendation import FACTS
from tests.test_tally_rules_recommendation import SPEC as REC_SPEC

HYPERLINK = '=HYPERLINK("http://ev.il","Click")'
HOSTILE_SPEC = (Path("examples/recommendation.yaml").read_text(encoding="utf-8")
                .replace("unit: 江州市交通运输局", "unit: '=1+2'")
                .replace("name: 王建国", "name: '=1+1'")
                .replace("title: 局长人选", "title: '@SUM(1)'")
                .replace("label: 其他人员", "label: '-2+3'"))
D = "pos.director"


def _xlsx_formulas(data: bytes) -> list[str]:
    """Every `<f>` element in the workbook's XML parts."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [f"{name}: {m}" for name in zf.namelist() if name.endswith(".xml")
                for m in re.findall(r"<(?:\w+:)?f[ >][^<]*", zf.read(name).decode("utf-8"))]


def _check_xlsx(data: bytes, must_hold: tuple[str, ...]) -> None:
    assert _xlsx_formulas(data) == []
    wb = openpyxl.load_workbook(io.BytesIO(data))
    texts: list[str] = []
    numbers = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} = {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    if cell.value.startswith(FORMULA_START):
                        assert cell.quotePrefix, f"{ws.title}!{cell.coordinate}"
                elif isinstance(cell.value, int | float):
                    numbers += 1
    assert numbers > 20  # counts and rates are still numbers
    for text in must_hold:
        assert any(text in t for t in texts), text


def _check_csv(files: dict[str, str], must_hold: tuple[str, ...]) -> None:
    cells = [c for text in files.values() for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))
             for c in row]
    assert [c for c in cells if c.startswith(FORMULA_START)] == []
    assert any(re.fullmatch(r"\d+", c) for c in cells)  # numbers stay bare numbers
    for text in must_hold:
        assert csv_text(text) in cells or any(text in c for c in cells), text


def test_csv_text_prefixes_formula_starts_only() -> None:
    assert [csv_text(x) for x in ("=1", "+1", "-1", "@a", "\tx", "\rx", "张三", "a=b")] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "张三", "a=b"]


def test_renderers_write_hostile_writeins_as_text() -> None:
    A, B = "pos.director", "pos.deputy"
    bs = [make_ballot(REC_SPEC, f"S{i}", "staff", {A: "writein1", B: ()},
                      writeins={A: {"writein1": name}}, void_reason="")
          for i, name in enumerate([HYPERLINK, "@cmd", "+1", "-1", "\t=1"])]
    bs.append(make_ballot(REC_SPEC, "V1", "staff", {A: "a1"}, void=True, void_reason="=2*3"))
    result = compute(bs, REC_SPEC, FACTS, Settings(denominator="valid_ballots"))
    _check_xlsx(render_xlsx(result, REC_SPEC, bs, anonymous=False), (HYPERLINK, "=2*3"))
    _check_csv(render_csv(result), (HYPERLINK, "@cmd"))


def test_writeins_are_tallied_on_their_normalised_form() -> None:
    A = "pos.director"
    names = ["张三", "\u200d张三", "张\u200b三\ufeff", " 张三 ", "Zoe\u0308", "Zo\u00eb"]
    bs = [make_ballot(REC_SPEC, f"W{i}", "staff", {A: "writein1"},
                      writeins={A: {"writein1": n}}) for i, n in enumerate(names)]
    result = compute(bs, REC_SPEC, FACTS, Settings(denominator="valid_ballots"))
    pos = next(p for p in result.recommendation.positions if p.field == A)
    assert sorted((w.name, w.votes[ALL]) for w in pos.writeins) == [("Zoë", 2), ("张三", 4)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = open_store(tmp_path / "data")
    add_users(s)
    yield s
    s.close()


def test_exports_from_a_real_server_hold_no_formula(store: Store) -> None:
    with live_server(store) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        csrf = login(c, "operator")
        h = {"X-CSRF-Token": csrf}
        r = c.post("/api/meetings", headers=h, json={
            "name": "hostile", "forms": [{"yaml": HOSTILE_SPEC, "source": "hostile.yaml"}]})
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        layout = layout_of("recommendation")
        rows = [reading(layout, f"H{i:04d}", marked={"category": ["staff"], D: ["writein1"]})
                for i in range(3)]
        rows.append(reading(layout, "H0009", marked={"category": ["staff"], D: ["P310012"]}))
        pages = ingest_readings(store, mid, rows)
        items = {i["id"]: i for i in c.get(f"/api/meetings/{mid}/review").json()}
        typed = [HYPERLINK, "张三", "\u200d张三"]
        for page, text in zip(pages, typed, strict=False):
            item = f"{page.page_id}:{D}:writein1"
            assert items[item]["kind"] == "writein"
            r = c.post(f"/api/meetings/{mid}/review/{item}", headers=h,
                       json={"kind": "writein", "text": text, "why": "=cmd|' /C calc'!A0"})
            assert r.status_code == 200, r.text
        r = c.post(f"/api/meetings/{mid}/review/{pages[3].page_id}", headers=h,
                   json={"kind": "void", "why": "+SUM(9)"})
        assert r.status_code == 200, r.text
        tally = c.get(f"/api/meetings/{mid}/tally").json()[0]
        director = next(p for p in tally["recommendation"]["positions"] if p["field"] == D)
        assert sorted((w["name"], w["votes"][ALL]) for w in director["writeins"]) == [
            (HYPERLINK, 1), ("张三", 2)]
        xlsx = c.get(f"/meetings/{mid}/report.xlsx")
        assert xlsx.status_code == 200, xlsx.text
        _check_xlsx(xlsx.content, (HYPERLINK, "=1+1", "=1+2", "@SUM(1)", "-2+3", "+SUM(9)"))
        got = c.get(f"/meetings/{mid}/report.csv")
        assert got.status_code == 200, got.text
        with zipfile.ZipFile(io.BytesIO(got.content)) as zf:
            files = {n: zf.read(n).decode("utf-8") for n in zf.namelist()}
        _check_csv(files, (HYPERLINK, "=1+1", "@SUM(1)", "-2+3"))
