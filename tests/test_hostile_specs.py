"""Hostile form specs: a 324-byte YAML alias bomb ("billion laughs"), a self-referencing alias,
a deep nest, an oversized file and invisible characters in names are refused at the cap by
every road a spec comes in (`parse_spec`, `scantally form check`, `POST /api/meetings` on a
real server, a settings file), with a message naming the file and the cap, and nothing stored.

No wall-clock assertion: the tests show the loader stops at the cap (it never builds the
document, and stops composing on the line where the cap is passed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from forms import yamlsafe
from forms.load import SpecError, parse_spec
from forms.yamlsafe import YamlLimits, load_bounded
from tally.meetings import MeetingError, list_meetings, load_settings_file
from tally.store import open_store
from tests.forms_helpers import run_form
from tests.server_helpers import add_users, live_server, login

#: nine levels of nine aliases: 9**9 (387 million) strings once expanded, in 324 bytes
BOMB = ("a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
        + "".join(f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n"
                  for a, b in zip("abcdefgh", "bcdefghi", strict=True)))
EXAMPLE = Path("examples/recommendation.yaml")


def test_the_bomb_is_small() -> None:
    assert len(BOMB.encode()) == 324
    assert BOMB.count("*") == 72


def test_the_alias_bomb_stops_at_the_node_cap_without_building_anything(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    built: list[object] = []
    real = yaml.SafeLoader.construct_document
    monkeypatch.setattr(yaml.SafeLoader, "construct_document",
                        lambda self, node: built.append(node) or real(self, node))
    with pytest.raises(SpecError) as err:
        parse_spec(BOMB, "bomb.yaml")
    assert built == []  # refused while composing: nothing was constructed
    problem = err.value.problems[0]
    assert problem.field == "(yaml)" and "max_nodes" in problem.message
    assert "without aliases" in problem.message and str(err.value).startswith("bomb.yaml:")
    # 9 + 81 + 729 + 6,561 + 59,049 > 50,000: the cap is passed on line 5 of 9
    assert problem.line == 5


def test_the_expanded_count_is_checked_per_alias() -> None:
    limits = YamlLimits(max_nodes=100)
    with pytest.raises(yamlsafe.YamlLimitError) as err:
        load_bounded(BOMB, limits)
    assert err.value.problem_mark.line + 1 == 2  # 12 on line 1, then 2 + 9·10: over 100
    _node, data = load_bounded("a: &x [1, 2]\nb: *x\n", limits)
    assert data == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize(("text", "cap"), [
    ("a: &a [*a]\n", "a loop"),
    ("x: " + "[" * 40 + "]" * 40 + "\n", "max_depth"),
    ("x: &v 1\n" + "".join(f"k{i}: *v\n" for i in range(70)), "max_aliases"),
    ("k: " + "x" * (600 * 1024) + "\n", "max_bytes"),
])
def test_every_cap_refuses_with_its_name(text: str, cap: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(text, "hostile.yaml")
    assert cap in str(err.value)


def test_scantally_form_check_refuses_the_bomb(tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMB, encoding="utf-8")
    out = tmp_path / "layout.json"
    r = run_form("layout", str(spec), "-o", str(out))
    assert r.exit_code == 2 and not out.exists()
    r = run_form("check", str(spec))
    assert r.exit_code == 2
    text = " ".join(r.stderr.split())
    assert "bomb.yaml" in text and "max_nodes" in text and "without aliases" in text


def test_a_settings_file_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(MeetingError, match="max_nodes"):
        load_settings_file(path)


def test_invisible_characters_in_spec_names_are_refused_naming_the_field() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for bad in ("\u200d", "\u200b", "\u202e", "\ufeff", "\u2066"):
        with pytest.raises(SpecError) as err:
            parse_spec(text.replace("name: 王建国", f"name: 王{bad}建国"), "rec.yaml")
        problem = err.value.problems[0]
        assert problem.field == "recommendation.positions.0.candidates.0.name"
        assert f"U+{ord(bad):04X}" in problem.message and problem.line == 25
    with pytest.raises(SpecError) as err:
        parse_spec(text.replace("unit: 江州", "unit: \u200f江州"), "rec.yaml")
    assert err.value.problems[0].field == "header.unit"


def test_the_api_refuses_the_bomb_on_a_real_server(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    add_users(store)
    with live_server(store) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        csrf = login(c, "operator")
        r = c.post("/api/meetings", headers={"X-CSRF-Token": csrf},
                   json={"name": "bomb", "forms": [{"yaml": BOMB, "source": "bomb.yaml"}]})
        assert r.status_code == 400, r.text
        assert "bomb.yaml" in r.json()["detail"] and "max_nodes" in r.json()["detail"]
        # the console's upload form: the same refusal, on the page
        r = c.post("/meetings", headers={"X-CSRF-Token": csrf}, data={"name": "bomb"},
                   files={"forms": ("bomb.yaml", BOMB.encode(), "application/yaml")})
        assert r.status_code == 400 and "max_nodes" in r.text
        assert c.get("/healthz").json() == {"ok": True}
    with store.session(readonly=True) as s:
        assert list_meetings(s) == []
    store.close()
