"""Bad input to `scantally form`: each answered with its own message, exit status 2, no output.

Every case is a small spec in tests/specs/invalid/ (plus a missing file and a folder). The
message must name the file, the line and field where they apply, and what is wrong; `check`,
`layout -o` and `render -o` all refuse it, and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from forms.layout import compile_layout
from forms.load import SpecError, load_spec
from forms.plan import LayoutError
from tests.forms_helpers import INVALID_DIR, ROOT, run_form, squash


@dataclass(frozen=True)
class Bad:
    name: str
    words: tuple[str, ...]  # what the message must say (whitespace ignored)
    line: int | None = None
    field: str | None = None  # the field path named in the message


CASES = [
    Bad("malformed_yaml", ("malformed YAML", "flow mapping that starts on line 17"), 18,
        "(yaml)"),
    Bad("unknown_key", ("unknown key", "check its spelling"), 10, "header.venue"),
    Bad("missing_name", ("required but missing",), 17,
        "recommendation.positions.0.candidates.1.name"),
    Bad("missing_label", ("required but missing",), 14, "evaluation.team.levels.1.label"),
    Bad("duplicate_candidate", ("duplicate id 'P1'", "positions.director.candidates"), 17,
        "recommendation.positions.0.candidates.1.id"),
    Bad("duplicate_position", ("duplicate id 'director'", "in recommendation.positions"), 18,
        "recommendation.positions.1.id"),
    Bad("duplicate_team_level", ("duplicate id 'good'", "evaluation.team.levels"), 15,
        "evaluation.team.levels.2.id"),
    Bad("duplicate_level", ("level id 'unknown' is taken", "include_unknown"), 16,
        "evaluation.individual.levels.2.id"),
    Bad("duplicate_leader", ("duplicate id 'L1'", "evaluation.individual.leaders"), 15,
        "evaluation.individual.leaders.2.id"),
    Bad("duplicate_yaml_key", ("key 'title' appears twice (first on line 13)",), 14, "(yaml)"),
    Bad("quota_too_large", ("quota 4", "exceeds its 2 candidates and 1 write-in lines"), 14,
        "recommendation.positions.0.quota"),
    Bad("writeins_over_quota", ("3 write-in lines but a quota of 1", "at most 1"), 15,
        "recommendation.positions.0.writein_lines"),
    Bad("kind_mismatch", ("kind is 'evaluation'", "'evaluation' section is missing"), 4,
        "kind"),
    Bad("two_kinds", ("also has a 'satisfaction' section", "one ballot kind per spec"), 18,
        "satisfaction"),
    Bad("bad_id", ("not a valid id", "letters, digits"), 16,
        "recommendation.positions.0.candidates.0.id"),
    Bad("bad_date", ("not a valid date", "month", "YYYY-MM-DD"), 9, "header.date"),
    Bad("number_date", ("write the date as YYYY-MM-DD",), 9, "header.date"),
    Bad("glyph_ext_b", ("font cannot draw", "U+20BB7"), 16,
        "recommendation.positions.0.candidates.0.name"),
    Bad("glyph_emoji", ("font cannot draw", "U+1F600"), 14,
        "evaluation.individual.leaders.1.post"),
    Bad("wrong_schema", ("'scantally.form/1'",), 2, "schema"),
    Bad("position_too_long", ("cannot lay out", "51 rows do not fit on one page",
                              "split the position"), None, "recommendation.positions.director"),
    Bad("too_many_pages", ("cannot lay out", "needs more than 8 pages"), None, None),
    Bad("too_many_levels", ("cannot lay out", "10 rating columns do not fit across the page",
                            "paper: A3"), None, "evaluation.individual"),
    Bad("empty", ("must be a YAML mapping",), 1, "(document)"),
    Bad("not_utf8", ("not UTF-8", "save the spec as UTF-8"), 5, "(file)"),
    Bad("missing_file", ("file not found",), None, "(file)"),
    Bad("folder", ("cannot read it",), None, "(file)"),
]


def _spec_path(case: Bad, tmp_path: Path) -> Path:
    if case.name == "missing_file":
        return tmp_path / "no-such-spec.yaml"
    if case.name == "folder":
        folder = tmp_path / "spec.yaml"
        folder.mkdir()
        return folder
    return INVALID_DIR / f"{case.name}.yaml"


def test_every_invalid_spec_file_has_a_case() -> None:
    files = {p.stem for p in INVALID_DIR.glob("*.yaml")}
    assert files == {c.name for c in CASES} - {"missing_file", "folder"}
    assert len(CASES) >= 12


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_spec_is_refused_by_every_command_and_nothing_is_written(
    case: Bad, tmp_path: Path
) -> None:
    spec = _spec_path(case, tmp_path)
    out = tmp_path / "out"
    for args in (["check"], ["layout", "-o", out / "layout.json"],
                 ["render", "--copies", "2", "-o", out / "ballots.pdf"]):
        result = run_form(args[0], spec, *args[1:])
        assert result.exit_code == 2, (args, result.output, result.exception)
        message = squash(result.stderr)
        assert squash(str(spec)) in message  # names the file
        for words in case.words:
            assert squash(words) in message, (words, result.stderr)
        if case.line is not None:
            assert f"line{case.line}," in message, result.stderr
        if case.field is not None:
            assert squash(case.field) in message, result.stderr
        assert result.stdout == ""
    assert not out.exists(), "an output was written for a refused spec"


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in ("missing_file", "folder")],
                         ids=lambda c: c.name)
def test_library_error_names_line_and_field(case: Bad) -> None:
    path = INVALID_DIR / f"{case.name}.yaml"
    try:
        compile_layout(load_spec(path))
    except SpecError as exc:
        assert case.line is not None or case.field == "(file)"
        first = exc.problems[0]
        assert (first.line, first.field) == (case.line, case.field), str(exc)
        assert exc.source == str(path)
    except LayoutError as exc:
        assert case.line is None
        if case.field is not None:
            assert str(exc).startswith(case.field), str(exc)
    else:
        pytest.fail(f"{case.name}: accepted")


def test_each_case_gets_its_own_message(tmp_path: Path) -> None:
    messages = {}
    for case in CASES:
        spec = _spec_path(case, tmp_path)
        result = run_form("check", spec)
        messages[case.name] = squash(result.stderr).replace(squash(str(spec)), "<spec>")
    seen: dict[str, str] = {}
    for name, message in messages.items():
        assert message not in seen, f"{name} and {seen.get(message)} say the same"
        seen[message] = name


def test_refused_render_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    pdf, layout = tmp_path / "ballots.pdf", tmp_path / "layout.json"
    pdf.write_bytes(b"old pdf")
    layout.write_text("old layout")
    bad = INVALID_DIR / "quota_too_large.yaml"
    assert run_form("render", bad, "-o", pdf).exit_code == 2
    assert run_form("layout", bad, "-o", layout).exit_code == 2
    # a serial range that cannot be encoded is refused before anything is drawn
    result = run_form("render", ROOT / "examples" / "satisfaction.yaml", "--copies", "2",
                      "--serial-start", str(10**16 - 1), "-o", pdf)
    assert result.exit_code == 2
    assert "longerthan16digits" in squash(result.stderr)
    assert pdf.read_bytes() == b"old pdf" and layout.read_text() == "old layout"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ballots.pdf", "layout.json"]
