"""A meeting of a learned (foreign) form through the signed exchange: the bundle carries the
reference image of each foreign layout and the sheets' ink fingerprints, so at the department
the meeting is recounted from its images and a sheet fed again is caught as a duplicate - on
SQLite and PostgreSQL. A fingerprint that is not its page's reading's is refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tally import keys
from tally.exchange.bundle import FINGERPRINTS, MEETING, FormDoc, reference_digests
from tally.fingerprints import SheetFingerprint
from tally.store import open_store
from tests import foreign_helpers as F
from tests.exchange_helpers import result_hash, rewrite_bundle
from tests.tally_helpers import cli, pg_schema, pg_unreachable
from tests.test_foreign_product import eval_votes, write_scan

PG_SKIP = pg_unreachable()


def _ok(r: object) -> None:
    assert getattr(r, "returncode", 1) == 0, (getattr(r, "stdout", ""), getattr(r, "stderr", ""))


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fx")
    spec = F.write_learned("evaluation", root / "form")
    data = root / "station"
    keys.new_key(data)
    _ok(cli("meeting", "new", "--name", "learned", "--form", str(spec), data=data))
    # a test-mode meeting's bundle fails its audit check at import (its test_mode is not in
    # the bundle's meeting.json): a known gap, not this test's; the real exchange is official
    _ok(cli("meeting", "official", "learned", "--why", "deck check passed", data=data))
    votes = [eval_votes(n) for n in range(3)]
    for n, v in enumerate(votes):
        write_scan(root / "scans" / f"e{n}.png", "evaluation", v, n)
    write_scan(root / "rescan" / "again.jpg", "evaluation", votes[0], 0, angle_deg=-1.5,
               scale=1.015, shift_mm=(-2.0, 3.0), blur_px=0.8, noise=4, jpeg_quality=75)
    _ok(cli("ingest", "--meeting", "learned", str(root / "scans"), data=data))
    out, light = root / "learned.stb", root / "light.stb"
    _ok(cli("export", "learned", "-o", str(out), data=data))
    _ok(cli("export", "learned", "-o", str(light), "--no-images", data=data))
    return {"root": root, "data": data, "bundle": out, "light": light,
            "rescan": root / "rescan", "pub": data / keys.PUBLIC_FILENAME}


def _members(bundle: Path) -> tuple[list[str], dict]:
    with zipfile.ZipFile(bundle) as z:
        return z.namelist(), json.loads(z.read(MEETING))


def test_the_bundle_carries_the_reference_and_the_fingerprints(station: dict) -> None:
    for bundle in (station["bundle"], station["light"]):
        names, meeting = _members(bundle)
        refs = reference_digests([FormDoc.model_validate(f) for f in meeting["forms"]])
        assert len(refs) == 1
        assert f"images/{refs[0]}.img" in names  # even with --no-images
        assert FINGERPRINTS in names
    with zipfile.ZipFile(station["bundle"]) as z:
        rows = [json.loads(x) for x in z.read(FINGERPRINTS).splitlines()]
    assert len(rows) == 3 and all(r["fingerprint"] for r in rows)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("pg", marks=[
    pytest.mark.postgres, pytest.mark.skipif(PG_SKIP is not None, reason=PG_SKIP or "")])])
def test_recount_and_duplicates_work_after_import(station: dict, tmp_path: Path,
                                                  backend: str) -> None:
    dept = tmp_path / "dept"

    def run(url: str | None) -> None:
        _ok(cli("keys", "trust", str(station["pub"]), "--label", "station", data=dept))
        r = cli("import", str(station["bundle"]), "--json", data=dept, db=url)
        _ok(r)
        assert json.loads(r.stdout)["outcome"] == "imported"
        with open_store(dept, url) as store, store.session() as s:
            assert s.scalar(select(func.count()).select_from(SheetFingerprint)) == 3
        assert result_hash(dept, "learned", url) == result_hash(station["data"], "learned")
        v = cli("verify", "learned", "--json", data=dept, db=url)
        _ok(v)
        assert json.loads(v.stdout)["ok"] is True
        r = cli("recount", "learned", data=dept, db=url)  # read again by the carried reference
        _ok(r)
        assert "no difference" in r.stdout
        r = cli("ingest", "--meeting", "learned", str(station["rescan"]), "--json", data=dept,
                db=url)
        _ok(r)
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip().startswith("{")]
        assert any(x.get("outcome") == "duplicate" for x in lines), r.stdout

    if backend == "pg":
        with pg_schema() as url:
            run(url)
    else:
        run(None)


def test_a_fingerprint_not_its_pages_is_refused(station: dict, tmp_path: Path) -> None:
    key = keys.load_key(station["data"])
    assert key is not None

    def swap(data: bytes) -> bytes:
        rows = [json.loads(x) for x in data.splitlines()]
        rows[0]["fingerprint"], rows[1]["fingerprint"] = rows[1]["fingerprint"], \
            rows[0]["fingerprint"]
        return b"".join(json.dumps(r).encode() + b"\n" for r in rows)

    forged = rewrite_bundle(station["bundle"], tmp_path / "forged.stb", {FINGERPRINTS: swap},
                            resign=key)
    dept = tmp_path / "dept"
    _ok(cli("keys", "trust", str(station["pub"]), "--label", "station", data=dept))
    r = cli("import", str(forged), data=dept)
    assert r.returncode != 0
    assert "is not its reading's" in r.stderr + r.stdout
