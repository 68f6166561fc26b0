"""A bundle changed after the station signed it is refused, each time with the reason, and
nothing of it is written: one byte of a reading, of an image, of an audit line, of the
signature, a member added; and, with the manifest re-signed by the station's own key (the key
in the wrong hands), the station's audit chain and image names still catch it."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tally import keys
from tally.exchange.bundle import AUDIT, PAGES, SIGNATURE
from tally.store import open_store
from tests.exchange_helpers import (
    Station,
    flip_byte,
    recommendation_station,
    rewrite_bundle,
    row_counts,
)
from tests.tally_helpers import cli


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> tuple[Station, Path, str]:
    root = tmp_path_factory.mktemp("station")
    st = recommendation_station(root, "B")
    bundle = root / "b.stb"
    assert cli("export", st.meeting, "-o", str(bundle), data=st.data).returncode == 0
    with zipfile.ZipFile(bundle) as z:
        image = next(n for n in z.namelist() if n.startswith("images/"))
    return st, bundle, image


def _middle_byte(data: bytes) -> bytes:
    k = len(data) // 2
    return data[:k] + bytes([data[k] ^ 0x01]) + data[k + 1:]


def _signature_byte(data: bytes) -> bytes:
    k = data.index(b'"signature": "') + len(b'"signature": "') + 5
    return data[:k] + (b"A" if data[k:k + 1] != b"A" else b"B") + data[k + 1:]


READING = flip_byte(b'"P310012"', b'"P310017"')
AUDIT_LINE = flip_byte(b'"action":"page.ingest"', b'"action":"page.ingesT"')
Change = Callable[[bytes], bytes]


@pytest.mark.parametrize(("what", "member", "change", "resign", "reason"), [
    ("a reading", PAGES, READING, False, "pages.jsonl does not match the signed manifest"),
    ("an image", "IMAGE", _middle_byte, False, "does not match the signed manifest"),
    ("an audit line", AUDIT, AUDIT_LINE, False, "audit.jsonl does not match the signed manifest"),
    ("the signature", SIGNATURE, _signature_byte, False, "does not match the manifest"),
    ("a reading, re-signed", PAGES, READING, True, "differs from its audit record"),
    ("an audit line, re-signed", AUDIT, AUDIT_LINE, True,
     "its content does not match its hash: the entry was edited"),
    ("an image, re-signed", "IMAGE", _middle_byte, True, "not to its name"),
])
def test_a_tampered_bundle_is_refused_with_the_reason(
        station: tuple[Station, Path, str], tmp_path: Path, what: str, member: str,
        change: Change, resign: bool, reason: str) -> None:
    st, bundle, image = station
    name = image if member == "IMAGE" else member
    bad = rewrite_bundle(bundle, tmp_path / "bad.stb", {name: change},
                         resign=keys.load_key(st.data) if resign else None)
    dept = tmp_path / "dept"
    assert cli("keys", "trust", str(st.pub), data=dept).returncode == 0
    r = cli("import", str(bad), data=dept)
    text = " ".join(r.stderr.split())
    assert r.returncode == 2, (what, r.stdout)
    assert "import refused" in text and reason in text, (what, text)
    with open_store(dept) as store:  # nothing half-written: no row, no image file
        assert row_counts(store) == {"meetings": 0, "pages": 0, "decisions": 0, "audit_log": 0}
        assert list(store.images.iter_digests()) == []
    assert cli("import", str(bundle), data=dept).returncode == 0  # the genuine one still goes


def test_a_member_added_or_a_file_that_is_no_bundle_is_refused(
        station: tuple[Station, Path, str], tmp_path: Path) -> None:
    st, bundle, _ = station
    dept = tmp_path / "dept"
    assert cli("keys", "trust", str(st.pub), data=dept).returncode == 0
    extra = tmp_path / "extra.stb"
    rewrite_bundle(bundle, extra, {})
    with zipfile.ZipFile(extra, "a") as z:
        z.writestr("images/" + "0" * 64 + ".img", b"not an image")
    r = cli("import", str(extra), data=dept)
    assert r.returncode == 2 and "is not in the signed manifest" in " ".join(r.stderr.split())
    junk = tmp_path / "junk.stb"
    junk.write_bytes(b"PK\x03\x04 not really")
    r = cli("import", str(junk), data=dept)
    assert r.returncode == 2 and "is not a Scantally bundle" in " ".join(r.stderr.split())
    cut = tmp_path / "cut.stb"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    r = cli("import", str(cut), data=dept)
    assert r.returncode == 2 and "import refused" in r.stderr


def test_export_refuses_without_a_key_and_a_store_that_fails_its_audit(
        station: tuple[Station, Path, str], tmp_path: Path) -> None:
    st, _, _ = station
    import shutil

    work = tmp_path / "copy"
    shutil.copytree(st.data, work)
    (work / keys.PRIVATE_FILENAME).unlink()
    r = cli("export", st.meeting, "-o", str(tmp_path / "x.stb"), data=work)
    assert r.returncode == 2 and "keys new" in r.stderr
    assert not (tmp_path / "x.stb").exists()
    keys.new_key(work, replace=True)
    with open_store(work) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE pages SET serial = 'R999' WHERE serial = 'R001'")
    r = cli("export", st.meeting, "-o", str(tmp_path / "x.stb"), data=work)
    assert r.returncode == 2 and "fails its audit check" in " ".join(r.stderr.split())
    assert not (tmp_path / "x.stb").exists() and not list(tmp_path.glob(".x.stb*"))
