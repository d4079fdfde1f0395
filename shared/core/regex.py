"""User-supplied regular expressions on RE2: matching time linear in the input, never backtracking.

Tag filters and extract patterns come from pipeline files anyone with write access can change; a
backtracking engine lets one pattern such as ``(a+)+$`` stall discovery for every pipeline. RE2
refuses what it cannot run in linear time (backreferences, lookaround), so such a pattern fails at
``validate`` with the field named, instead of at run time. Patterns are bounded in length and in
the memory RE2 may use, and compiled once.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import re2

MAX_PATTERN = 1024
MAX_MEMORY = 8 << 20  # bytes RE2 may use for one compiled pattern


class RegexError(ValueError):
    """The pattern is too long, not valid, or needs a feature RE2 does not have; the message says which."""


class Match(Protocol):
    def group(self, name: int | str = 0) -> str | None: ...

    def groupdict(self) -> dict[str, str | None]: ...


class Pattern(Protocol):
    pattern: str

    def search(self, text: str) -> Match | None: ...

    def fullmatch(self, text: str) -> Match | None: ...

    @property
    def groupindex(self) -> dict[str, int]: ...


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Pattern:
    """``pattern`` compiled by RE2 (cached); ``RegexError`` when it is refused."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"longer than {MAX_PATTERN} characters")
    options: Any = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False
    try:
        compiled: Pattern = re2.compile(pattern, options)
    except re2.error as error:
        why = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise RegexError(f"{why} (RE2 has no backreferences or lookaround)") from error
    return compiled


def glob_to_regex(glob: str) -> str:
    """A shell-style glob (``*``, ``?``, ``[abc]``, ``[!abc]``) over a whole tag, as an anchored RE2 pattern."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        end = glob.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif end > 0:
            body = glob[i + 1 : end]
            negated = body.startswith("!")
            members = (body[1:] if negated else body).replace("\\", "\\\\").replace("[", "\\[").replace("^", "\\^")
            out.append("[" + ("^" if negated else "") + members + "]")  # ranges such as 0-9 kept
            i = end
        else:
            out.append(re2.escape(char))
        i += 1
    return "^(?:" + "".join(out) + ")$"


def tag_pattern(text: str) -> Pattern:
    """A tag filter: ``glob:<glob>`` matches the whole tag; anything else is an RE2 regex searched in it (Kargo)."""
    return compile_regex(glob_to_regex(text[len("glob:") :]) if text.startswith("glob:") else text)
