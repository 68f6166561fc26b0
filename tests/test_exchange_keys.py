"""`scantally keys trust`: the keyring of other stations' public keys beside the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tally import keys
from tests.tally_helpers import cli


def test_trust_lists_and_refuses_an_edited_keyring(tmp_path: Path) -> None:
    a, b = keys.new_key(tmp_path / "a"), keys.new_key(tmp_path / "b")
    dept = tmp_path / "dept"
    r = cli("keys", "trust", str(tmp_path / "a" / keys.PUBLIC_FILENAME), "--label", "第一组",
            "--why", "handed over in person", data=dept)
    assert r.returncode == 0 and "now trusted" in r.stdout and a.public.fingerprint in r.stdout
    again = cli("keys", "trust", str(tmp_path / "a" / keys.PUBLIC_FILENAME), data=dept)
    assert again.returncode == 0 and "was trusted already" in again.stdout
    listed = cli("keys", "trusted", data=dept)
    assert a.id in listed.stdout and "第一组" in listed.stdout and b.id not in listed.stdout
    assert keys.is_trusted(dept, a.public) and not keys.is_trusted(dept, b.public)
    ring = keys.keyring_path(dept)
    doc = json.loads(ring.read_text())
    doc["keys"][0]["fingerprint"] = b.public.fingerprint  # claims to be b, holds a's key
    ring.write_text(json.dumps(doc))
    with pytest.raises(keys.KeyFileError, match="does not match its PEM"):
        keys.is_trusted(dept, b.public)
    bad = tmp_path / "not-a-key.pub"
    bad.write_text("hello")
    r = cli("keys", "trust", str(bad), data=tmp_path / "other")
    assert r.returncode == 2 and "not a PEM public key" in r.stderr
