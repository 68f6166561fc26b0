"""`scantally verify` checks the chains beside a meeting's own: the store's hand-entry chain
(综合分析, `cadre enter`) and, for an imported meeting, the signed record kept of its bundle
(`exchange_imports`). Each is edited behind the store's back and `verify` names it (exit 2);
put back, it passes again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.exchange_helpers import Station, recommendation_station
from tests.tally_helpers import cli


@pytest.fixture(scope="module")
def dept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Station]:
    root = tmp_path_factory.mktemp("kept")
    st = recommendation_station(root, "K", sheets=8)
    bundle = root / "k.stb"
    assert cli("export", st.meeting, "-o", str(bundle), "--no-images",
               data=st.data).returncode == 0
    dept = root / "dept"
    assert cli("keys", "trust", str(st.pub), "--label", "K", data=dept).returncode == 0
    r = cli("import", str(bundle), data=dept)
    assert r.returncode == 0, r.stderr
    return dept, st


def _verify(dept: Path, meeting: str) -> tuple[int, list[dict[str, str]]]:
    r = cli("verify", meeting, "--no-images", "--json", data=dept)
    return r.returncode, json.loads(r.stdout)["problems"] if r.stdout.strip() else []


def _sql(dept: Path, sql: str, params: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    conn = sqlite3.connect(dept / "scantally.sqlite")
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _tampered(dept: Path, sql: str, undo: str, meeting: str) -> list[dict[str, str]]:
    """verify after `sql`, then `undo` and verify passes again."""
    _sql(dept, sql)
    code, problems = _verify(dept, meeting)
    assert code == 2 and problems
    _sql(dept, undo)
    assert _verify(dept, meeting) == (0, [])
    return problems


def test_an_untouched_import_verifies(dept: tuple[Path, Station]) -> None:
    path, st = dept
    assert _verify(path, st.meeting) == (0, [])


@pytest.mark.parametrize(("column", "what"), [
    ("origin_audit", "the station's audit chain kept is not the one the signed manifest lists"),
    ("manifest", "is not the one the audit entry"),
    ("signature", "signature"),
    ("signer_public_pem", "the kept public key is not the signer's"),
])
def test_an_edited_kept_import_is_named(dept: tuple[Path, Station], column: str,
                                        what: str) -> None:
    path, st = dept
    ((old,),) = _sql(path, f"SELECT {column} FROM exchange_imports")
    # one character changed in the middle (the signature: inside its base64 value)
    k = old.index('"signature": "') + 20 if column == "signature" else len(old) // 2
    new = old[:k] + ("A" if old[k] != "A" else "B") + old[k + 1:]
    _sql(path, f"UPDATE exchange_imports SET {column} = ?", (new,))
    code, problems = _verify(path, st.meeting)
    _sql(path, f"UPDATE exchange_imports SET {column} = ?", (old,))
    assert code == 2
    assert any(p["kind"] == "exchange" and what in p["message"] for p in problems), problems
    assert _verify(path, st.meeting) == (0, [])


def test_a_deleted_kept_import_is_named(dept: tuple[Path, Station]) -> None:
    path, st = dept
    _sql(path, "CREATE TABLE kept_copy AS SELECT * FROM exchange_imports")
    problems = _tampered(path, "DELETE FROM exchange_imports",
                         "INSERT INTO exchange_imports SELECT * FROM kept_copy", st.meeting)
    assert any("kept import record" in p["message"] and "is gone" in p["message"]
               for p in problems), problems


def test_an_edited_hand_entry_fails_verify_of_any_meeting(dept: tuple[Path, Station]) -> None:
    path, st = dept
    r = cli("cadre", "enter", "BJ-T-0001", "--name", "钱谈话", "--stage", "谈话推荐", "--year",
            "2026", "--meeting-label", "谈话推荐2026", "--value", "votes=12", "--value",
            "of=30", data=path)
    assert r.returncode == 0, r.stderr
    assert _verify(path, st.meeting) == (0, [])
    ((old,),) = _sql(path, 'SELECT "values" FROM cadre_entries')
    problems = _tampered(path, "UPDATE cadre_entries SET \"values\" = '{\"of\":30,\"votes\":21}'",
                         f"UPDATE cadre_entries SET \"values\" = '{old}'", st.meeting)
    assert any("cadre hand entry #1" in p["subject"] and "edited" in p["message"]
               for p in problems), problems
