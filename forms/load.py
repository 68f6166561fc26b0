"""Load a form spec from YAML with errors that name the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forms.spec import FormSpec, SpecRuleError
from forms.yamlsafe import DEFAULT_LIMITS, YamlLimitError, YamlLimits, load_bounded


@dataclass
class SpecProblem:
    field: str
    line: int | None
    message: str
    #: `message` as a literal template and its parameters, when a `SpecRuleError` said it (the
    #: server translates by them); None: the message is shown as it is
    template: str | None = None
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}field '{self.field}': {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; `problems` says where and what to do."""

    def __init__(self, source: str, problems: list[SpecProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: invalid form spec\n{lines}")


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


class _DuplicateKey(yaml.constructor.ConstructorError):
    """Valid YAML syntax, but a mapping repeats a key (PyYAML would keep the last silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(
                None,
                None,
                f"key '{key}' appears twice (first on line {seen[key] + 1}); keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
# Dates stay strings for pydantic to parse: YAML's own timestamp constructor raises a bare
# ValueError (no line, no field) on an impossible date such as 2026-13-40.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _line_index(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map every key path of a YAML document to its 1-based line number."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = (*path, k.value)
            out[key] = k.start_mark.line + 1
            _line_index(v, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _line_index(v, (*path, i), out)
    return out


def _nearest_line(index: dict[tuple, int], loc: tuple) -> int | None:
    loc = tuple(x for x in loc if not (isinstance(x, str) and x.startswith("function-")))
    while loc:
        if loc in index:
            return index[loc]
        loc = loc[:-1]
    return None


def _friendly(err: dict) -> str:
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling (see `scantally form schema`)"
    if kind == "missing":
        return "required but missing; add it"
    if kind == "literal_error":
        return f"{msg}"
    if kind == "string_pattern_mismatch":
        return (
            "not a valid id or value: use letters, digits, '_', '.', '-' (at most 40, "
            "starting with a letter or digit)"
            if "A-Za-z" in str(err.get("ctx", {}).get("pattern", ""))
            else f"{msg}"
        )
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind.startswith(("date_", "datetime_")):
        return f"not a valid date ({msg.lower()}); write it as YYYY-MM-DD, e.g. 2026-11-20"
    return msg


def parse_spec(text: str, source: str = "<spec>",
               limits: YamlLimits = DEFAULT_LIMITS) -> FormSpec:
    """Parse and validate YAML text; raise SpecError naming line and field.

    The YAML is composed once under `limits` (size, aliases, depth, expanded nodes): a
    hostile spec is refused as soon as it passes a cap, before it is built."""
    try:
        node, data = load_bounded(text, limits, base=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, YamlLimitError):
            raise SpecError(source, [SpecProblem("(yaml)", line, f"refused: {problem}")]
                            ) from None
        if isinstance(exc, _DuplicateKey):
            raise SpecError(source, [SpecProblem("(yaml)", line, problem)]) from None
        # where the unclosed bracket or quote began: the error itself is often at the end
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and start.line + 1 != line:
            problem += f" ({context} that starts on line {start.line + 1})"
        raise SpecError(
            source, [SpecProblem("(yaml)", line, f"malformed YAML: {problem}; fix the syntax")]
        ) from None
    if not isinstance(data, dict) or node is None:
        raise SpecError(
            source,
            [SpecProblem("(document)", 1, "the spec must be a YAML mapping with 'schema:' etc.")],
        )
    index = _line_index(node)
    try:
        return FormSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, SpecRuleError):  # a rule that knows which field broke it
                loc = (*loc, *cause.path)
            where = ".".join(str(x) for x in loc) or "(document)"
            rule = cause if isinstance(cause, SpecRuleError) else None
            problems.append(SpecProblem(where, _nearest_line(index, loc), _friendly(err),
                                        rule.template if rule else None,
                                        dict(rule.params) if rule else {}))
        raise SpecError(source, problems) from None


def load_spec(path: str | Path, limits: YamlLimits = DEFAULT_LIMITS) -> FormSpec:
    p = Path(path)
    try:
        with p.open("rb") as fh:  # never more than the cap into memory
            raw = fh.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise SpecError(str(p), [SpecProblem("(file)", None, "file not found")]) from None
    except OSError as exc:  # a folder, no permission, ...
        raise SpecError(
            str(p), [SpecProblem("(file)", None, f"cannot read it: {exc.strerror or exc}")]
        ) from None
    if len(raw) > limits.max_bytes:
        raise SpecError(str(p), [SpecProblem(
            "(file)", None, f"refused: over the limit of {limits.max_bytes:,} bytes "
            "(max_bytes); a form spec is a few KiB: check it is the right file")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            str(p), [SpecProblem("(file)", line, "not UTF-8 text; save the spec as UTF-8")]
        ) from None
    return parse_spec(text, str(p), limits)
