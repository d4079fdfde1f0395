"""The one way Freightyard reads YAML and JSON it did not write itself: bounded, plain data only.

Hostile or careless input must become one clear problem, never a traceback, a hang or a huge
allocation: a size cap per document, a nesting cap (checked while composing, so Python's recursion
limit is never reached), a cap on the nodes an alias bomb would expand to, and only YAML's plain
tags (no ``!vault``, ``!!python/...`` or ``!!binary``). The limits are far above any real pipeline,
state document or manifest; failures raise ``ConfigError`` with ``file:line``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from freightyard.shared.core.errors import ConfigError

MAX_BYTES = 1024 * 1024  # per file / ConfigMap value / request body: real pipelines are a few KiB
MAX_DEPTH = 64  # nesting of mappings and sequences: a pipeline needs about 10
MAX_NODES = 20_000  # values after expanding aliases (a large monorepo pipeline has ~5,000): stops alias bombs
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)


class _BoundedComposer(Composer):
    """PyYAML's composer, counting depth and expanded size as it builds nodes."""

    def __init__(self, filename: str) -> None:
        super().__init__()
        self._filename = filename
        self._depth = 0
        self._sizes: dict[int, int] = {}
        self._total = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            anchor = event.anchor
            if anchor in self.anchors:
                target = id(self.anchors[anchor])
                if target not in self._sizes:  # the anchored node is still being built: a cycle
                    self._fail(event.start_mark, f"the alias *{anchor} refers to a value containing itself")
                self._count(self._sizes[target], event.start_mark)
        elif self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[attr-defined]
            self._fail(mark, f"nested more than {MAX_DEPTH} levels deep (flatten it)")
        self._depth += 1
        start = self._total
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if not isinstance(node, yaml.ScalarNode | yaml.SequenceNode | yaml.MappingNode):
            return node
        if id(node) not in self._sizes:
            if node.tag not in _PLAIN_TAGS:
                self._fail(node.start_mark, f"the tag {node.tag!r} is not supported (write plain YAML values)")
            if isinstance(node, yaml.MappingNode):
                for key, _ in node.value:
                    if not isinstance(key, yaml.ScalarNode):
                        self._fail(key.start_mark, "a mapping key must be a plain string, not a list or mapping")
            self._count(1, node.start_mark)
            self._sizes[id(node)] = self._total - start
        return node

    def compose_document(self) -> yaml.Node | None:
        self._sizes = {}
        self._total = 0
        return super().compose_document()

    def _count(self, nodes: int, mark: yaml.Mark) -> None:
        self._total += nodes
        if self._total > MAX_NODES:
            self._fail(mark, f"expands to more than {MAX_NODES} values (aliases repeated too often?)")

    def _fail(self, mark: yaml.Mark | None, message: str) -> None:
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{self._filename}{line}: {message}"])


class _PyLoader(Reader, Scanner, Parser, _BoundedComposer, SafeConstructor, Resolver):
    def __init__(self, stream: str, filename: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self, filename)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


_CParser: Any = importlib.import_module("yaml.cyaml").CParser if yaml.__with_libyaml__ else None
_FastLoader: Any = _PyLoader
if _CParser is not None:  # libyaml parses (fast, no recursion, as lenient as kustomize's parser); we compose

    class _CLoader(_BoundedComposer, _CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        def __init__(self, stream: str, filename: str) -> None:
            _CParser.__init__(self, stream)
            _BoundedComposer.__init__(self, filename)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _FastLoader = _CLoader


def check_size(data: str | bytes, filename: str, limit: int = MAX_BYTES) -> None:
    if len(data) > limit:
        raise ConfigError([f"{filename}: {len(data)} bytes is larger than the {limit // 1024} KiB allowed (split it)"])


def compose_all(text: str, filename: str, *, limit: int = MAX_BYTES, fast: bool = False) -> list[yaml.Node]:
    """Every document's node tree (``None`` documents dropped), bounded; ``ConfigError`` otherwise.

    ``fast``: libyaml's parser (lenient like Go's, terse errors) for documents other tools read;
    pipelines use PyYAML's own, whose errors say more.
    """
    check_size(text, filename, limit)
    documents: list[yaml.Node] = []
    try:
        loader = (_FastLoader if fast else _PyLoader)(text, filename)  # checks the characters: may raise
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(error, filename)]) from error
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append(node)
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(error, filename)]) from error
    finally:
        loader.dispose()
    return documents


def construct(node: yaml.Node, filename: str = "<yaml>") -> Any:
    """Plain Python data (dicts, lists, scalars) from a node ``compose_all`` returned."""
    constructor = SafeConstructor()
    try:
        return constructor.construct_document(node)
    except yaml.YAMLError as error:
        raise ConfigError([_yaml_problem(error, filename)]) from error


def load_all(text: str, filename: str, *, limit: int = MAX_BYTES) -> list[Any]:
    return [construct(node, filename) for node in compose_all(text, filename, limit=limit, fast=True)]


def load(text: str | bytes, filename: str, *, limit: int = MAX_BYTES) -> Any:
    """The one document in ``text`` as plain data (``None`` when empty)."""
    if isinstance(text, bytes):
        check_size(text, filename, limit)
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError([f"{filename}: not UTF-8 text ({error.reason} at byte {error.start})"]) from error
    documents = compose_all(text, filename, limit=limit, fast=True)
    if len(documents) > 1:
        line = documents[1].start_mark.line + 1
        raise ConfigError([f"{filename}:{line}: expected one YAML document, found more (remove the extra ---)"])
    return construct(documents[0], filename) if documents else None


def loads_json(raw: str | bytes, what: str, *, limit: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """JSON bounded in size and nesting; ``ValueError`` (one line) when it is not acceptable."""
    if len(raw) > limit:
        raise ValueError(f"{what} is {len(raw)} bytes, more than the {limit // 1024} KiB allowed")
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    if _json_depth(text) > max_depth:
        raise ValueError(f"{what} is nested more than {max_depth} levels deep")
    return json.loads(text)


def _json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside strings, in one linear pass (json.loads would recurse)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _yaml_problem(error: yaml.YAMLError, filename: str) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{filename}{line}: not valid YAML: {problem}"
