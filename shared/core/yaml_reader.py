"""Reading YAML nodes with their line numbers: typed getters that record a problem (``file:line:
path: what is wrong``) and carry on, so a file's problems are all reported at once."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import yaml

from freightyard.shared.core import expressions
from freightyard.shared.core.expression_scan import Names
from freightyard.shared.core.platforms import PlatformError, parse_platforms
from freightyard.shared.core.refnames import branch_problem
from freightyard.shared.core.regex import RegexError, compile_regex, tag_pattern
from freightyard.shared.core.semverc import ConstraintError, parse_constraint

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DURATION = re.compile(r"^(?:(\d{1,6})h)?(?:(\d{1,7})m)?(?:(\d{1,9})s)?$")
MAX_DURATION_S = 366 * 24 * 3600  # a year: anything longer is a typo


@dataclass
class Reader:
    """Walks YAML nodes, collecting problems with their line instead of stopping at the first."""

    filename: str
    problems: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def problem(self, node: yaml.Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else self.lines.get(path, 0)
        where = f"{self.filename}:{line}" if line else self.filename
        self.problems.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")

    def mapping(
        self, node: yaml.Node, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node]:
        self.lines[path] = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"must be a mapping with keys {', '.join(allowed)}")
            return {}
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f'did you mean "{close[0]}"?' if close else f"allowed: {', '.join(allowed)}"
                self.problem(key_node, child, f'unknown field "{key}" ({hint})')
                continue
            if key in out:
                self.problem(key_node, child, "given twice (keep one)")
            out[key] = value_node
            self.lines[child] = value_node.start_mark.line + 1
        for key in required:
            if key not in out:
                self.problem(node, f"{path}.{key}" if path else key, "is required")
        return out

    def sequence(self, node: yaml.Node | None, path: str) -> list[yaml.Node]:
        if node is None or is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, "must be a list")
            return []
        for index, item in enumerate(node.value):
            self.lines[f"{path}[{index}]"] = item.start_mark.line + 1
        return list(node.value)

    def string(self, node: yaml.Node | None, path: str, default: str = "") -> str:
        if node is None or is_null(node):
            return default
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, path, "must be a string")
            return default
        return str(node.value)

    def branch(self, node: yaml.Node | None, path: str) -> str:
        value = self.string(node, path)
        why = branch_problem(value) if value else None
        if why:
            self.problem(node, path, f"invalid branch name {value!r}: {why}")
        return value

    def string_map(self, node: yaml.Node | None, path: str) -> dict[str, str]:
        """A free-form map of names to strings (values may hold expressions)."""
        if node is None or is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, "must be a mapping of NAME: value")
            return {}
        return {str(key.value): self.expression(value, f"{path}.{key.value}") for key, value in node.value}

    def strings(self, node: yaml.Node | None, path: str) -> tuple[str, ...]:
        return tuple(self.string(item, f"{path}[{i}]") for i, item in enumerate(self.sequence(node, path)))

    def boolean(self, node: yaml.Node | None, path: str, default: bool = False) -> bool:
        if node is None or is_null(node):
            return default
        value = str(node.value).lower() if isinstance(node, yaml.ScalarNode) else None
        if value in ("true", "yes", "on"):
            return True
        if value in ("false", "no", "off"):
            return False
        self.problem(node, path, "must be true or false")
        return default

    def integer(self, node: yaml.Node | None, path: str, default: int, minimum: int = 0) -> int:
        if node is None or is_null(node):
            return default
        try:
            value = int(str(node.value)) if isinstance(node, yaml.ScalarNode) else None
        except ValueError:
            value = None
        if value is None or value < minimum:
            self.problem(node, path, f"must be a whole number >= {minimum}")
            return default
        return value

    def duration(self, node: yaml.Node | None, path: str, default: int = 0) -> int:
        text = self.string(node, path)
        if not text:
            return default
        match = DURATION.match(text)
        if not match or not any(match.groups()):
            self.problem(node, path, f'invalid duration "{text}" (use e.g. 30s, 5m, 1h30m)')
            return default
        hours, minutes, seconds = (int(g or 0) for g in match.groups())
        total = hours * 3600 + minutes * 60 + seconds
        if total > MAX_DURATION_S:
            self.problem(node, path, f'duration "{text}" is longer than a year (use at most 8784h)')
            return default
        return total

    def choice(self, node: yaml.Node | None, path: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(node, path, default)
        if value not in options:
            self.problem(node, path, f'"{value}" is not one of {", ".join(options)}')
            return default
        return value

    def regex(self, node: yaml.Node | None, path: str) -> str:
        """An RE2 regex (or ``glob:`` pattern) for tags; refused here, with file:line, when RE2 cannot run it."""
        value = self.string(node, path)
        if value:
            try:
                tag_pattern(value)
            except RegexError as error:
                self.problem(node, path, f"invalid regular expression {value!r}: {error}")
        return value

    def regexes(self, node: yaml.Node | None, path: str) -> tuple[str, ...]:
        return tuple(self.regex(item, f"{path}[{i}]") for i, item in enumerate(self.sequence(node, path)))

    def platform(self, node: yaml.Node | None, path: str) -> str:
        value = self.string(node, path)
        if value:
            try:
                parse_platforms(value)
            except PlatformError as error:
                self.problem(node, path, str(error))
        return value

    def constraint(self, node: yaml.Node | None, path: str) -> str:
        value = self.string(node, path)
        if value:
            try:
                parse_constraint(value)
            except ConstraintError as error:
                self.problem(node, path, f"invalid semver constraint {value!r}: {error}")
        return value

    def expression(self, node: yaml.Node | None, path: str, names: Names = expressions.PROMOTION_NAMES) -> str:
        value = self.string(node, path)
        if value:
            why = expressions.check(value, names)
            if why:
                self.problem(node, path, why)
        return value

    def name(self, node: yaml.Node | None, path: str) -> str:
        value = self.string(node, path)
        if value and not NAME.match(value):
            self.problem(
                node, path, f'invalid name "{value}" (lower-case letters, digits and "-", at most 63 characters)'
            )
        return value

    def path_list(self, node: yaml.Node | None, path: str) -> tuple[str, ...]:
        values = []
        for i, item in enumerate(self.sequence(node, path)):
            value = self.string(item, f"{path}[{i}]")
            if value.startswith("regex:"):
                self.regex_text(item, f"{path}[{i}]", value[len("regex:") :])
            values.append(value)
        return tuple(values)

    def regex_text(self, node: yaml.Node, path: str, value: str) -> None:
        try:
            compile_regex(value)
        except RegexError as error:
            self.problem(node, path, f"invalid regular expression {value!r}: {error}")


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
