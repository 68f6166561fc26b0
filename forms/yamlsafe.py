"""YAML with hard caps: PyYAML's SafeLoader, counting while it composes, so a small hostile
file (an alias bomb, "billion laughs") is refused before it grows.

`load_bounded(text, limits)` composes the document once, counting every node as it would be if
the aliases were expanded, every alias, and the nesting depth; over a cap it stops at once with
`YamlLimitError` (a `yaml.YAMLError` with the line). Nothing is evaluated: only SafeLoader's
plain types. What goes in: YAML text; what comes out: the root node (for line numbers) and the
constructed data.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent


@dataclass(frozen=True)
class YamlLimits:
    """Caps for one YAML document (a form spec, a settings file)."""

    #: the text's size in UTF-8 bytes (a form spec is a few KiB)
    max_bytes: int = 512 * 1024
    #: `*alias` references in the document (a spec needs none)
    max_aliases: int = 64
    #: nested mappings/sequences (a spec nests about 7 deep)
    max_depth: int = 32
    #: nodes counted as if every alias were expanded (the largest valid spec has ~5,000)
    max_nodes: int = 50_000


DEFAULT_LIMITS = YamlLimits()


class YamlLimitError(yaml.YAMLError):
    """The document goes over a cap; `problem` says which and what to do, `problem_mark` where."""

    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark
        self.context = None
        self.context_mark = None


@lru_cache(maxsize=8)
def _bounded_loader(base: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """A subclass of `base` (a SafeLoader) whose composer enforces `self.limits`."""

    class Bounded(base):  # type: ignore[valid-type, misc]
        limits: YamlLimits = DEFAULT_LIMITS

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0
            self._aliases = 0
            #: nodes so far, aliases counted at their expanded size
            self._expanded = 0
            #: id(node) -> expanded size, for finished collection nodes (an alias's target)
            self._sizes: dict[int, int] = {}

        def _grow(self, n: int, mark: yaml.Mark) -> None:
            self._expanded += n
            if self._expanded > self.limits.max_nodes:
                raise YamlLimitError(
                    f"the document expands to more than {self.limits.max_nodes:,} nodes "
                    "(max_nodes), e.g. through aliases (`*name`) that repeat large parts; "
                    "write the spec out without aliases", mark)

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, AliasEvent):
                self._aliases += 1
                if self._aliases > self.limits.max_aliases:
                    raise YamlLimitError(
                        f"more than {self.limits.max_aliases} aliases (`*name`, max_aliases); "
                        "a form spec needs none: write the values out", event.start_mark)
                target = self.anchors.get(event.anchor)
                if target is not None:
                    size = self._sizes.get(id(target))
                    if size is None and not isinstance(target, yaml.ScalarNode):
                        raise YamlLimitError(
                            f"alias *{event.anchor} refers to the node that contains it (a "
                            "loop); write the values out", event.start_mark)
                    self._grow(size or 1, event.start_mark)
                return super().compose_node(parent, index)
            if isinstance(event, ScalarEvent):
                self._grow(1, event.start_mark)
                return super().compose_node(parent, index)
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                self._depth += 1
                if self._depth > self.limits.max_depth:
                    raise YamlLimitError(
                        f"nested more than {self.limits.max_depth} levels deep (max_depth); "
                        "a form spec nests about 7: check the indentation", event.start_mark)
                start = self._expanded
                self._grow(1, event.start_mark)
                node = super().compose_node(parent, index)
                self._sizes[id(node)] = self._expanded - start
                self._depth -= 1
                return node
            return super().compose_node(parent, index)

    return Bounded


def check_size(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlLimitError(f"{size:,} bytes, over the limit of {limits.max_bytes:,} "
                             "(max_bytes); a form spec is a few KiB: check it is the right file")


def load_bounded(text: str, limits: YamlLimits = DEFAULT_LIMITS,
                 base: type[yaml.SafeLoader] = yaml.SafeLoader) -> tuple[yaml.Node | None, Any]:
    """(root node, data) of one YAML document, or YamlLimitError / yaml.YAMLError."""
    check_size(text, limits)
    loader_cls = _bounded_loader(base)
    loader = loader_cls(text)
    loader.limits = limits
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return node, data
    finally:
        loader.dispose()
