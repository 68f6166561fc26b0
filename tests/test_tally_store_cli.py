"""The store's CLI: meeting / ingest / review / tally / recount / verify, bad input exits 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest
from typer.testing import CliRunner, Result

from server.cli import app
from tally.meetings import ALL_CATEGORIES
from tally.rules.result import ALL
from tests.tally_helpers import layout_of, reading, spec_path, tiny_image, write_readings

REC = layout_of("recommendation")
Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    env = {"SCANTALLY_DATA": str(tmp_path / "data"), "SCANTALLY_DB": None, "COLUMNS": "250"}

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return invoke


def _flat(result: Result) -> str:
    return " ".join(result.output.split())


def _meeting(run: Run, *extra: str) -> None:
    run("meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
        "--expected", "leader=3,middle=3,staff=3", "--issued", "9", "--who", "组长", *extra)


def test_all_means_the_same_to_the_store_and_the_rules() -> None:
    assert ALL_CATEGORIES == ALL


def test_meeting_new_list_show(run: Run, tmp_path: Path) -> None:
    serials = tmp_path / "serials.txt"
    serials.write_text("AB12\nCD34\n")
    settings = tmp_path / "settings.json"
    settings.write_text('{"denominator": "valid_ballots"}')
    _meeting(run, "--serials", str(serials), "--settings", str(settings))
    assert json.loads(run("meeting", "list", "--json").output)[0]["forms"] == ["jt2026-rec"]
    info = json.loads(run("meeting", "show", "m", "--json").output)
    assert info["expected"] == {"leader": 3, "middle": 3, "staff": 3} and info["issued"] == 9
    assert info["printed_serials"] == 2 and info["printed_unreturned"] == 2
    assert info["settings"]["denominator"] == "valid_ballots"
    assert info["date"] == "2026-11-20" and info["unit"] == "江州市交通运输局"
    assert info["audit_head"]["seq"] == 1
    run("meeting", "set", "m", "--present", "leader=2", "--who", "组长")
    assert json.loads(run("meeting", "show", "1", "--json").output)["present"] == {"leader": 2}


@pytest.mark.parametrize(("args", "message"), [
    (("--expected", "leader=3,visitor=2"), "'visitor' is not a voter category"),
    (("--expected", "leader:3"), "category=count pairs"),
    (("--settings", "{settings}"), "denominator 'voters' is not known"),
    (("--serials", "{serials}"), "is not a sheet serial"),
    (("--form", "{missing}"), "cannot read the form spec"),
])
def test_bad_meeting_input_exits_2_and_writes_nothing(run: Run, tmp_path: Path,
                                                      args: tuple[str, ...], message: str) -> None:
    files = {"settings": tmp_path / "s.json", "serials": tmp_path / "serials.txt",
             "missing": tmp_path / "nope.yaml"}
    files["settings"].write_text('{"denominator": "voters"}')
    files["serials"].write_text("OK1\nnot-a-serial!\n")
    args = tuple(a.format(**{k: str(v) for k, v in files.items()}) for a in args)
    result = run("meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
                 *args, code=2)
    assert message in _flat(result)
    assert json.loads(run("meeting", "list", "--json").output) == []


def test_ingest_review_tally_verify(run: Run, tmp_path: Path) -> None:
    _meeting(run)
    rows = [(reading(REC, f"S{k}", marked={"category": ["leader"],
                                            "pos.director": ["P310012"]}), tiny_image(k))
            for k in range(4)]
    rows.append((reading(REC, "S9", marked={"category": ["staff"], "pos.deputy": ["writein1"]},
                         doubtful={"pos.chief": ["P310131"]}), tiny_image(9)))
    rows.append((reading(REC, "S0"), tiny_image(10)))  # sheet S0 again, another image
    rows.append((reading(layout_of("satisfaction"), "S5", source="stray.png"), tiny_image(5)))
    deck = write_readings(tmp_path / "deck", rows)

    result = run("ingest", "--meeting", "m", "--readings", str(deck), "--station", "A", code=2)
    text = _flat(result)
    assert "ok, counted │ 4" in text and "counted, to review │ 1" in text
    assert "duplicate sheets (not counted) │ 1" in text and "refused │ 1" in text
    assert "stray.png: this sheet is form 'jt2026-sat', which is not a form of meeting 'm'" in text
    again = run("ingest", "--meeting", "m", "--readings", str(deck), "--json", code=2)
    summary = json.loads(again.output.splitlines()[-1])["summary"]
    assert summary["already_stored"] == 6 and summary["refused"] == 1

    items = {i["id"]: i for i in json.loads(run("review", "--meeting", "m", "--json").output)}
    assert {i["kind"] for i in items.values()} == {"writein", "mark"}
    writein = next(i for i in items.values() if i["kind"] == "writein")
    mark = next(i for i in items.values() if i["kind"] == "mark")
    run("review", "decide", writein["id"], "--meeting", "m", "--writein", "赵六", "--who", "甲")
    run("review", "decide", mark["id"], "--meeting", "m", "--empty", "--who", "甲",
        "--why", "a stray dot")
    assert "--why" in _flat(run("review", "decide", mark["id"].split(":")[0], "--meeting", "m",
                                "--void", "--who", "甲", code=2))
    assert _flat(run("review", "--meeting", "m")) == "nothing to review"
    crops = tmp_path / "crops"
    run("review", "crops", writein["id"], "--meeting", "m", "-o", str(crops))
    assert len(list(crops.glob("*.png"))) == 3
    history = json.loads(run("review", "history", "--meeting", "m", "--json").output)
    assert [(h["kind"], h["who"], h["text"]) for h in history] == [
        ("writein", "甲", "赵六"), ("empty", "甲", "")]

    figures = json.loads(run("tally", "m", "--json").output)
    assert figures["reconciliation"]["returned"] == 5 and not figures["provisional"]
    [director] = [p for p in figures["recommendation"]["positions"] if p["id"] == "director"]
    assert next(c for c in director["candidates"] if c["id"] == "P310012")["votes"]["_all"] == 4
    [deputy] = [p for p in figures["recommendation"]["positions"] if p["id"] == "deputy"]
    assert [w["name"] for w in deputy["writeins"]] == ["赵六"]
    assert "收回 5" in _flat(run("tally", "m"))
    assert "verified" in _flat(run("verify", "m"))


def test_tampering_makes_verify_and_tally_exit_2(run: Run, tmp_path: Path) -> None:
    _meeting(run)
    deck = write_readings(tmp_path / "deck", [(reading(REC, "S1"), tiny_image(1))])
    run("ingest", "--meeting", "m", "--readings", str(deck))
    from tally.db import AuditEntry
    from tally.store import open_store

    store = open_store(tmp_path / "data")
    with store.transaction() as s:
        s.query(AuditEntry).filter(AuditEntry.seq == 3).update({"actor": "x"})
    image = next((tmp_path / "data" / "images").rglob("*.img"))
    image.write_bytes(image.read_bytes() + b"\0")
    text = _flat(run("verify", "m", code=2))
    assert "audit entry #3 (page.ingest" in text and "the entry was edited" in text
    assert "page #1 (sheet-S1-p1.png)" in text and "was changed after it was stored" in text
    assert "restore the store from a backup" in _flat(run("tally", "m", code=2))


def test_gc_removes_only_orphan_images(run: Run, tmp_path: Path) -> None:
    _meeting(run)
    deck = write_readings(tmp_path / "deck", [(reading(REC, "S1"), tiny_image(1))])
    run("ingest", "--meeting", "m", "--readings", str(deck))
    from tally.images import ImageStore

    images = ImageStore(tmp_path / "data" / "images")
    orphan = images.put(tiny_image(2))  # as if killed between the image and its row
    assert "deleted 0" in _flat(run("gc"))  # too fresh: an ingest may be in flight
    assert "deleted 1" in _flat(run("gc", "--min-age-minutes", "0"))
    assert not images.path(orphan).exists() and len(list(images.iter_digests())) == 1
    assert "verified" in _flat(run("verify", "m"))


def test_unknown_meeting_and_missing_input(run: Run, tmp_path: Path) -> None:
    assert "no meeting 'zz'" in _flat(run("meeting", "show", "zz", code=2))
    _meeting(run)
    assert "--readings" in _flat(run("ingest", "--meeting", "m", code=2))
    assert "already exists" in _flat(run("meeting", "new", "--name", "m", "--form",
                                         str(spec_path("recommendation")), code=2))


def _truth(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_simulated_stack_through_the_real_engine(run: Run, tmp_path: Path) -> None:
    sim, stray = tmp_path / "sim", tmp_path / "stray"
    run("simulate", "--form", str(spec_path("recommendation")), "--sheets", "16", "--seed", "2",
        "-o", str(sim))
    run("simulate", "--form", str(spec_path("satisfaction")), "--sheets", "1", "--seed", "1",
        "-o", str(stray), "--no-degrade")
    truth = _truth(sim)
    pages = [(s["serial"], p) for s in truth["sheets"] for p in s["pages"]]
    serials = tmp_path / "serials.txt"
    serials.write_text("\n".join(s["serial"] for s in truth["sheets"]))
    _meeting(run, "--serials", str(serials))

    out = run("ingest", "--meeting", "m", str(sim), "--json", "--workers", "1")
    results = [json.loads(line) for line in out.output.splitlines()[:-1]]
    by_file = {Path(r["source"]).name.split("#")[0]: r for r in results}
    counted = {serial for serial, p in pages if p["expect"] in ("ok", "review", "blank")}
    for serial, p in pages:
        got = by_file[p["file"]]
        if p["expect"] == "unreadable":
            assert got["outcome"] == "unreadable", got
        else:
            assert got["outcome"] in ("ok", "review") and got["serial"] == serial, got

    # the same paper scanned again: other bytes, same serial -> a duplicate, not counted
    first = sim / pages[0][1]["file"]
    rescan = tmp_path / "rescan" / "again.png"
    rescan.parent.mkdir()
    cv2.imwrite(str(rescan), cv2.imread(str(first)))
    assert json.loads(run("ingest", "--meeting", "m", str(rescan), "--json", "--workers", "1")
                      .output.splitlines()[0])["outcome"] == "duplicate"
    refused = _flat(run("ingest", "--meeting", "m", str(stray), "--workers", "1", code=2))
    assert "'jt2026-sat', which is not a form of meeting 'm'" in refused

    writeins = {s["serial"]: s["writeins"] for s in truth["sheets"]}
    marks = {serial: p["marks"] for serial, p in pages}
    for item in json.loads(run("review", "--meeting", "m", "--json").output):
        serial, field, option = item["serial"], item["field"], item["option"]
        if item["kind"] == "writein":
            # a name typed for a marked line; a name written without its mark is no vote
            name = writeins.get(serial, {}).get(field, {}).get(option)
            voted = option in marks[serial].get(field, [])
            decision = ("--writein", name) if name and voted else ("--empty",)
        elif item["kind"] == "mark":
            decision = ("--mark",) if option in marks[serial].get(field, []) else ("--empty",)
        else:
            decision = ("--dismiss", "--why", "re-fed by hand")
        run("review", "decide", item["id"], "--meeting", "m", *decision, "--who", "测试",
            *(() if "--why" in decision else ("--why", "照图像核对")))

    figures = json.loads(run("tally", "m", "--json").output)
    assert figures["reconciliation"]["returned"] == len(counted)
    assert not figures["provisional"]
    for position in figures["recommendation"]["positions"]:
        for cand in position["candidates"]:
            expected = sum(cand["id"] in marks[s].get(position["field"], []) for s in counted
                           if len(marks[s].get(position["field"], [])) <= position["quota"])
            assert cand["votes"]["_all"] == expected, (position["id"], cand["id"])
    assert "recount agrees" in _flat(run("recount", "m"))
    assert "verified" in _flat(run("verify", "m"))

    # a stored reading that is not what the image says: recount lists it and exits 1
    from tally.db import Page
    from tally.store import open_store

    store = open_store(tmp_path / "data")
    with store.session(readonly=True) as s:
        row = next(r for r in s.query(Page).order_by(Page.id) if r.status == "ok" and any(
            m["marked"] for m in r.reading["marks"].values()))
    store.close()
    field, marks = next((f, m) for f, m in row.reading["marks"].items() if m["marked"])
    wrong = json.loads(json.dumps(row.reading))
    wrong["marks"][field]["marked"] = marks["marked"][1:]
    deck = write_readings(tmp_path / "wrong", [(wrong, (tmp_path / "data" / "images" /
                                                        row.sha256[:2] /
                                                        f"{row.sha256}.img").read_bytes())])
    run("meeting", "new", "--name", "m2", "--form", str(spec_path("recommendation")))
    run("ingest", "--meeting", "m2", "--readings", str(deck))
    text = _flat(run("recount", "m2", code=1))
    assert "1 difference(s)" in text
    stored = ",".join(sorted(marks["marked"][1:])) or "-"
    assert f"{field} marked │ {stored} │ {','.join(sorted(marks['marked']))}" in text
