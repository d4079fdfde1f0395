"""What an expression refers to and how much work it can ask for, read from its tokens before CEL runs.

The CEL binding has no cost limit and holds the interpreter while it evaluates, so a bound cannot be
enforced from outside. Comprehension macros are the only way a 1,000-character expression can ask for
more than linear work (``[..].map(a, [..].map(b, ...))`` multiplies per level): one level is allowed,
nesting is not, and at most ``MAX_MACROS`` appear. Names are checked too, so a typo such as
``freigth.alias`` or ``shorten(...)`` is a validation error naming it instead of a failed promotion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
MAX_MACROS = 3
CEL_FUNCTIONS = frozenset(
    {
        "bool",
        "bytes",
        "double",
        "duration",
        "dyn",
        "has",
        "int",
        "matches",
        "size",
        "string",
        "timestamp",
        "type",
        "uint",
        "max",
        "min",
    }
)
LITERALS = frozenset({"true", "false", "null", "in"})

TOKEN = re.compile(
    r"""(?P<string>[rRbB]{0,2}(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"))"""
    r"|(?P<number>\d[\w.]*)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<space>\s+)"
    r"|(?P<punct>.)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Names:
    """The variables and functions one kind of expression may use (besides CEL's own)."""

    variables: frozenset[str]
    functions: frozenset[str]


def problem(expression: str, names: Names) -> str | None:
    """Why ``expression`` may not run (an unknown name, nested or too many macros), or None."""
    tokens = [(m.lastgroup or "", m.group()) for m in TOKEN.finditer(expression) if m.lastgroup != "space"]
    bound: set[str] = set()
    open_calls: list[bool] = []  # per open bracket: is it a macro's argument list
    macros = 0
    for index, (kind, text) in enumerate(tokens):
        before = tokens[index - 1][1] if index else ""
        after = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "punct" and text in "([{":
            is_macro = text == "(" and index >= 2 and tokens[index - 2][1] == "." and before in MACROS
            if is_macro:
                if any(open_calls):
                    return f"{before}() inside another comprehension: nested macros can take exponential time"
                macros += 1
                if macros > MAX_MACROS:
                    return f"more than {MAX_MACROS} comprehension macros (map, filter, all, exists, exists_one)"
                if index + 1 < len(tokens) and tokens[index + 1][0] == "name":
                    bound.add(tokens[index + 1][1])
            open_calls.append(is_macro)
        elif kind == "punct" and text in ")]}":
            if open_calls:
                open_calls.pop()
        elif kind == "name" and before != ".":
            if after == "(":
                if text not in CEL_FUNCTIONS and text not in names.functions:
                    known = ", ".join(sorted(names.functions | {"size", "string", "int"}))
                    return f"unknown function {text}() (known here: {known}, and CEL's built-ins)"
            elif text not in LITERALS and text not in names.variables and text not in bound:
                return f"unknown name {text!r} (known here: {', '.join(sorted(names.variables))})"
    return None
