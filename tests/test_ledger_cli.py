"""The ledger and manual entry on the command line: `scantally ledger`, `tally --json`'s
provisional flag, `review enter/confirm/find/void`, `--cancel`, the operator's name."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.tally_helpers import cli, layout_of, reading, spec_path, tiny_image, write_readings

REC = layout_of("recommendation")


def _run(data: Path, *args: str, code: int = 0, operator: str | None = None) -> str:
    saved = os.environ.pop("SCANTALLY_OPERATOR", None)
    if operator is not None:
        os.environ["SCANTALLY_OPERATOR"] = operator
    try:
        result = cli(*args, data=data)
    finally:
        os.environ.pop("SCANTALLY_OPERATOR", None)
        if saved is not None:
            os.environ["SCANTALLY_OPERATOR"] = saved
    assert result.returncode == code, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_refused_sheet_is_in_the_ledger_until_entered_and_confirmed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _run(data, "meeting", "new", "--name", "m", "--form", str(spec_path("recommendation")),
         "--who", "甲")
    torn = reading(REC, "S2", status="unreadable", source="s2.png",
                   reason="corner marks cut off")
    torn["marks"], torn["scores"] = {}, {}
    rows = [(reading(REC, "S1", marked={"pos.director": ["P310012"]}), tiny_image(1)),
            (torn, tiny_image(2)),
            (reading(REC, "S3", doubtful={"pos.director": ["P310027"]}), tiny_image(3))]
    _run(data, "ingest", "--meeting", "m", "--readings", str(write_readings(tmp_path / "d", rows)),
         )  # an unreadable page is listed for a re-feed; ingest itself succeeded

    ledger = json.loads(_run(data, "ledger", "m", "--json"))
    assert ledger["fed"] == 3 and ledger["balanced"] and ledger["provisional"]
    assert ledger["states"]["refused"] == 1 and ledger["unresolved"] == 2  # refused + review
    refused = next(p for p in ledger["pages"] if p["state"] == "refused")
    assert refused["serial"] == "S2" and "corner" in refused["reason"]
    assert json.loads(_run(data, "tally", "m", "--json"))["provisional"]
    text = _run(data, "ledger", "m")
    assert "s2.png" in text and "provisional" in text

    page = str(refused["page_id"])
    item = next(i for i in json.loads(_run(data, "review", "--meeting", "m", "--json"))
                if i["kind"] == "mark")
    assert "reason" in _run(data, "review", "decide", item["id"], "-m", "m", "--cancel",
                            "--who", "甲", code=2)
    _run(data, "review", "decide", item["id"], "-m", "m", "--cancel", "--who", "甲",
         "--why", "涂改作废")
    _run(data, "review", "enter", page, "-m", "m", "--serial", "S2",
         "--mark", "pos.director=P310027", "--mark", "category=staff",
         "--why", "corners cut, the reader refuses it", operator="甲")
    assert "second, different login" in _run(data, "review", "confirm", page, "-m", "m",
                                             "--why", "ok", operator="甲", code=2)
    assert json.loads(_run(data, "tally", "m", "--json"))["provisional"]
    _run(data, "review", "confirm", page, "-m", "m", "--why", "checked the image",
         "--operator", "乙")
    figures = json.loads(_run(data, "tally", "m", "--json"))
    assert not figures["provisional"] and figures["reconciliation"]["returned"] == 3
    votes = {c["id"]: c["votes"]["_all"] for p in figures["recommendation"]["positions"]
             for c in p["candidates"]}
    assert votes["P310012"] == 1 and votes["P310027"] == 1  # S3's cancelled mark is no vote

    found = json.loads(_run(data, "review", "find", "S2", "-m", "m", "--json"))
    assert [p["state"] for p in found["pages"]] == ["manual"]
    assert [(d["kind"], d["who"]) for d in found["decisions"]] == [("enter", "甲"),
                                                                    ("confirm", "乙")]
    note = _run(data, "review", "void", "S1", "-m", "m", "--why", "signed by the voter")
    assert "no --operator" in note  # nothing configured: the OS user signs, and it says so
    figures = json.loads(_run(data, "tally", "m", "--json"))
    overall = next(r for r in figures["reconciliation"]["rows"] if r["bucket"] == "_all")
    assert overall["invalid"] == 1
    show = _run(data, "meeting", "show", "m")
    assert "ledger: fed 3" in show and "every page resolved" in show
