"""YAML with bounds, checked before any object is built: size, nesting depth, aliases and the size of
the document once aliases are expanded.

A 405-byte document of nested aliases ("billion laughs") expands to millions of nodes when PyYAML
constructs it, and a deeply nested one overflows the composer's recursion. So the text is first read
as an event stream (iterative, no objects built) to bound depth, node and alias counts; then composed
into a node graph (aliases are shared nodes, nothing expanded yet) whose expanded size is counted with
memoisation; only then are Python objects constructed. Errors are ``yaml.YAMLError`` subclasses with
short messages (no excerpt of the document beyond a few characters).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_CHARS = 256 * 1024  # a policy is ~6 KB
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 20_000  # nodes as written
MAX_EXPANDED_NODES = 50_000  # nodes once every alias is expanded
MAX_EXPANDED_DEPTH = 64  # nesting once every alias is expanded (also bounds the recursion below)
EXCERPT_CHARS = 40


class YamlLimitError(yaml.YAMLError):
    """The document exceeds a bound; the message says which, never quoting more than a short excerpt."""


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of ``text``, marked when cut."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def load(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The single document in ``text``, constructed by ``loader`` once the bounds hold."""
    if len(text) > MAX_CHARS:
        raise YamlLimitError(f"document of {len(text)} characters; at most {MAX_CHARS}")
    _check_events(text, loader)
    instance = loader(text)
    try:
        node = instance.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return instance.construct_document(node)
    finally:
        instance.dispose()


def _check_events(text: str, loader: type[yaml.SafeLoader]) -> None:
    depth = nodes = aliases = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels (line {_line(event)})")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlLimitError(f"more than {MAX_ALIASES} aliases (line {_line(event)})")
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise YamlLimitError(f"more than {MAX_NODES} nodes (line {_line(event)})")


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes and the nesting of the document with aliases expanded. Shared nodes are
    computed once (memoised: size and height), counted once per use, so the count itself stays cheap.
    A node containing itself is refused. The walk descends at most MAX_EXPANDED_DEPTH levels."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, expanded height)
    in_progress: set[int] = set()

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in in_progress:
            raise YamlLimitError("a recursive alias (a node containing itself)")
        if key not in measured:
            if depth > MAX_EXPANDED_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_EXPANDED_DEPTH} levels through aliases")
            in_progress.add(key)
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            total, height = 1, 1
            for child in children:
                child_size, child_height = measure(child, depth + 1)
                total += child_size
                height = max(height, child_height + 1)
                if total > MAX_EXPANDED_NODES:
                    raise YamlLimitError(f"expands to more than {MAX_EXPANDED_NODES} nodes through aliases")
            in_progress.discard(key)
            measured[key] = (total, height)
        total, height = measured[key]
        if depth + height - 1 > MAX_EXPANDED_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_EXPANDED_DEPTH} levels through aliases")
        return total, height

    measure(root, 1)
