"""Round-trip YAML edits (ruamel.yaml) that keep comments, quotes, key order and list indentation."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import ScalarString

from freightyard.shared.core.errors import MechanismError

_DASH = re.compile(r"^( *)- ", re.M)
_KEY = re.compile(r"^( *)[^\s#-][^:]*:\s*(#.*)?$")


def _yaml(text: str) -> YAML:
    """A round-trip loader/dumper whose sequence indentation matches ``text``."""
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 4096
    lines = text.splitlines()
    offset = 0
    for index, line in enumerate(lines):
        dash = _DASH.match(line)
        if dash is None or index == 0:
            continue
        previous = next((lines[j] for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        key = _KEY.match(previous)
        if key is not None:
            offset = len(dash.group(1)) - len(key.group(1))
            break
    if offset >= 2:
        handler.indent(mapping=2, sequence=offset + 2, offset=offset)
    else:
        handler.indent(mapping=2, sequence=2, offset=0)
    return handler


def load(path: Path, shown: str) -> tuple[YAML, Any]:
    """Parse ``path`` for editing; one clear ``MechanismError`` when it is missing or not valid YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise MechanismError(f"{shown} does not exist in the repository") from error
    except (OSError, UnicodeDecodeError) as error:
        raise MechanismError(f"{shown}: cannot read: {error}") from error
    handler = _yaml(text)
    try:
        data = handler.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise MechanismError(f"{shown}: not valid YAML{line}: {problem}; nothing was committed") from error
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise MechanismError(f"{shown}: expected a YAML mapping at the top level; nothing was committed")
    return handler, data


def dump(handler: YAML, data: Any, path: Path) -> None:
    buffer = io.StringIO()
    handler.dump(data, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def set_path(data: Any, key: str, value: Any, shown: str) -> None:
    """Set a dotted key (``image.tag``; ``\\.`` for a literal dot), creating missing mappings."""
    parts = [p.replace("\0", ".") for p in key.replace("\\.", "\0").split(".")]
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = CommentedMap()
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise MechanismError(f"{shown}: {where} is not a mapping, cannot set {key}; nothing was committed")
        node = child
    old = node.get(parts[-1])
    if isinstance(old, ScalarString) and isinstance(value, str):  # keep the quoting style the file used
        value = type(old)(value)
    node[parts[-1]] = value
