"""``includePaths``/``excludePaths`` for git subscriptions: prefixes, ``glob:`` and ``regex:`` patterns.

Plain prefixes become git pathspecs (so git filters, using the commit-graph's Bloom filters);
globs and regexes are matched here against each commit's changed files.
"""

from __future__ import annotations

import fnmatch

from freightyard.shared.core.regex import compile_regex


def is_simple(include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """True when every pattern is a plain prefix that git can filter by itself."""
    return all(not p.startswith(("glob:", "regex:")) for p in (*include, *exclude))


def pathspecs(include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """Literal git pathspecs for plain prefixes (``:(exclude)`` for exclusions)."""
    specs = [f":(literal){_prefix(p)}" for p in include if _prefix(p)]
    if not specs and exclude:
        specs = ["."]
    return specs + [f":(exclude,literal){_prefix(p)}" for p in exclude if _prefix(p)]


def _prefix(pattern: str) -> str:
    return pattern.strip().strip("/") if pattern.strip() not in (".", "/") else ""


def paths_match(files: list[str], include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """True when some changed file is included and not excluded (prefix, ``glob:`` or ``regex:``)."""
    return any(
        (not include or any(_matches(f, p) for p in include)) and not any(_matches(f, p) for p in exclude)
        for f in files
    )


def _matches(path: str, pattern: str) -> bool:
    if pattern.startswith("glob:"):
        return fnmatch.fnmatchcase(path, pattern[len("glob:") :])
    if pattern.startswith("regex:"):
        return compile_regex(pattern[len("regex:") :]).search(path) is not None
    prefix = _prefix(pattern)
    return not prefix or path == prefix or path.startswith(prefix + "/")
