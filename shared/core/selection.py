"""Choosing among tags: allow/ignore filters and the SemVer and Lexical orderings.

Pure, shared by every image and chart source so a registry and a local OCI layout choose alike.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterator
from typing import Any

from freightyard.shared.core.regex import Match, Pattern, RegexError, tag_pattern
from freightyard.shared.core.semverc import (
    ConstraintError,
    is_strict,
    parse_constraint,
    parse_version,
    release_test,
    satisfies,
)


class SelectionError(ValueError):
    """A filter or constraint cannot be used (bad regex, bad constraint); the message says which."""


def _compile(pattern: str, what: str) -> Pattern:
    try:
        return tag_pattern(pattern)
    except RegexError as error:
        raise SelectionError(f"{what} {pattern!r} is not a valid regular expression: {error}") from error


def filter_tags(
    tags: list[str],
    allow: str = "",
    ignore: tuple[str, ...] = (),
    regexes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> list[str]:
    """The tags a subscription may choose from, by Kargo's two generations of filters.

    ``allow`` (``allowTags``) is one RE2 regex *searched* in the tag; ``ignore`` (``ignoreTags``)
    entries match the whole tag: exactly (Kargo), as a ``glob:`` pattern, or as a full RE2 match.
    ``regexes`` are Kargo v1.11's ``allowTagsRegexes`` (a tag some of them find) and
    ``ignoreTagsRegexes`` (a tag none of them finds), all searched: anchor with ``^…$``.
    """
    allow_res, ignore_searched = regexes
    if not allow and not ignore and not allow_res and not ignore_searched:
        return list(tags)
    allow_re = _compile(allow, "allowTags") if allow else None
    ignored = frozenset(ignore)
    whole = [_compile(i, "ignoreTags") for i in ignore]
    allows = [_compile(a, "allowTagsRegexes") for a in allow_res]
    ignores = [_compile(i, "ignoreTagsRegexes") for i in ignore_searched]
    return [
        t
        for t in tags
        if (allow_re is None or allow_re.search(t) is not None)
        and (not allows or any(r.search(t) is not None for r in allows))
        and t not in ignored
        and not any(r.fullmatch(t) is not None for r in whole)
        and not any(r.search(t) is not None for r in ignores)
    ]


def iter_semver(tags: list[str], constraint: str = "", strict: bool = False) -> Iterator[str]:
    """Tags that are versions and satisfy ``constraint``, highest first (SemVer 2.0 precedence), lazily.

    Tags get a cheap precedence key first (plain ``1.2.3`` tags through C-level string functions).
    Releases are checked against the constraint as integer triples, all at once and without
    building a ``semver.Version``; only pre-releases are parsed and checked by ``semver``. The best
    candidates are then taken in growing batches, so picking the best of 5,000 tags stays cheap.
    ``strict`` (Kargo's ``strictSemvers``): only full SemVer 2.0 tags count; ``1.2`` and ``v1`` do not.
    """
    try:
        parsed = parse_constraint(constraint) if constraint else None
    except ConstraintError as error:
        raise SelectionError(f"constraint {constraint!r}: {error}") from error
    keyed = _keyed(tags, strict)
    if parsed is not None:
        wanted = release_test(parsed)
        keyed = [k for k in keyed if len(k[0]) == 5 or wanted(k[0][:3])]
    taken, batch = 0, 8
    while taken < len(keyed):
        # Equal versions ("1.2" and "v1.2.0"): prefer the longer, fully spelled tag, deterministically.
        best = heapq.nlargest(taken + batch, keyed) if taken + batch < len(keyed) else sorted(keyed, reverse=True)
        for key, _, tag in best[taken:]:
            if len(key) == 4:  # a release: already checked above
                yield tag
                continue
            version = parse_version(tag)
            if version is not None and (parsed is None or satisfies(version, parsed)):
                yield tag
        taken, batch = len(best), batch * 8


def semver_order(tags: list[str], constraint: str = "", strict: bool = False) -> list[str]:
    """Every tag that is a version and satisfies ``constraint``, highest first."""
    return list(iter_semver(tags, constraint, strict))


Key = tuple[Any, ...]  # (major, minor, patch, 1) for a release; (major, minor, patch, 0, identifiers) otherwise
_PLAIN = re.compile(r"^v?\d+\.\d+\.\d+$", re.MULTILINE)
_PLAIN_STRICT = re.compile(r"^v?(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$", re.MULTILINE)
_QUICK = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def _keyed(tags: list[str], strict: bool = False) -> list[tuple[Key, int, str]]:
    """(precedence key, length, tag) for every tag that looks like a version (is one, when ``strict``)."""
    joined = "\n".join(t for t in tags if "\n" not in t)
    plain = (_PLAIN_STRICT if strict else _PLAIN).findall(joined)
    keyed: list[tuple[Key, int, str]] = [((*map(int, t.lstrip("v").split(".")), 1), len(t), t) for t in plain]
    plain_set = set(_PLAIN.findall(joined)) if strict else set(plain)
    for tag in tags:
        if tag in plain_set or (strict and not is_strict(tag)):
            continue
        if (key := _quick_key(tag)) is not None:
            keyed.append((key, len(tag), tag))
    return keyed


def _quick_key(tag: str) -> Key | None:
    """The SemVer precedence of a tag without building a ``semver.Version`` (None: not a version)."""
    match = _QUICK.match(tag.strip())
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    base = (int(major), int(minor or 0), int(patch or 0))
    if not pre:
        return (*base, 1)
    return (*base, 0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))


def lexical_order(tags: list[str]) -> list[str]:
    return sorted(tags, reverse=True)


def numerical_order(tags: list[str]) -> list[str]:
    """Flux's ``numerical`` policy: tags that are numbers (``42``, ``1.5``, ``-3``), largest first."""
    numbers = []
    for tag in tags:
        try:
            value = float(tag)
        except ValueError:
            continue
        if math.isfinite(value):  # NaN and infinities are not build numbers
            numbers.append((value, tag))
    return [tag for _, tag in sorted(numbers, reverse=True)]


_REFERENCE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def extract_references(template: str) -> list[str]:
    """The group names (or numbers) a Flux ``extract`` template such as ``$ts`` or ``${1}`` uses."""
    return [a or b for a, b in _REFERENCE.findall(template)]


def extracted(tags: list[str], pattern: str, template: str) -> dict[str, list[str]]:
    """Flux's ``filterTags``: tags ``pattern`` finds, keyed by the value ``template`` builds from the match."""
    compiled = _compile(pattern, "filterTags.pattern")
    values: dict[str, list[str]] = {}
    for tag in tags:
        match = compiled.search(tag)
        if match is None:
            continue
        value = _expand(template, match) if template else tag
        values.setdefault(value, []).append(tag)
    return values


def _expand(template: str, match: Match) -> str:
    def one(ref: re.Match[str]) -> str:
        name = ref.group(1) or ref.group(2)
        return match.group(int(name) if name.isdigit() else name) or ""

    return _REFERENCE.sub(one, template)


def order_tags(
    tags: list[str],
    strategy: str,
    constraint: str = "",
    allow: str = "",
    ignore: tuple[str, ...] = (),
    *,
    strict: bool = False,
    extract: tuple[str, str] = ("", ""),
    order: str = "asc",
    regexes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> list[str]:
    """Order by ``SemVer``, ``Lexical`` or ``Numerical``; other strategies need more than names (filtered)."""
    return list(
        iter_tags(
            tags, strategy, constraint, allow, ignore, strict=strict, extract=extract, order=order, regexes=regexes
        )
    )


def iter_tags(
    tags: list[str],
    strategy: str,
    constraint: str = "",
    allow: str = "",
    ignore: tuple[str, ...] = (),
    *,
    strict: bool = False,
    extract: tuple[str, str] = ("", ""),
    order: str = "asc",
    regexes: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> Iterator[str]:
    """``order_tags`` lazily: consume only as many candidates as you need.

    ``extract`` (Flux's ``filterTags`` pattern and template) orders tags by the value built from
    each match instead of the tag itself. ``order`` is Flux's: ``asc`` (default) makes the highest
    value the best; ``desc`` the lowest.
    """
    kept = filter_tags(tags, allow, ignore, regexes)
    if extract[0]:
        by_value = extracted(kept, *extract)
        values = list(by_value)
    else:
        by_value, values = {}, kept
    ordered: Iterator[str]
    if strategy == "SemVer":
        ordered = iter_semver(values, constraint, strict)
    elif strategy == "Lexical":
        pattern = _compile(constraint, "constraint") if constraint else None  # Lexical: a regex over the tag
        ordered = iter(lexical_order([t for t in values if pattern is None or pattern.search(t) is not None]))
    elif strategy == "Numerical":
        ordered = iter(numerical_order(values))
    else:
        yield from kept
        return
    if order == "desc":
        ordered = reversed(list(ordered))
    for value in ordered:
        yield from sorted(by_value[value], reverse=True) if by_value else (value,)
