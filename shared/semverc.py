"""SemVer 2.0 versions and Masterminds/npm-style constraints (``^1.4``, ``~2.1.0``, ``>=1 <2 || 3.x``).

Versions and ordering come from the ``semver`` library (SemVer 2.0 precedence; PEP 440 orders
pre-releases differently). The constraint grammar is what Kargo and Helm users write; like them,
pre-releases only match a comparator that itself names a pre-release.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import semver

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")
_WILDCARD = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(\^|~>?|>=|<=|>|<|=|!=)?\s*(\S+)$")


class ConstraintError(ValueError):
    pass


def parse_version(text: str) -> semver.Version | None:
    """Parse ``v1.2.3``, ``1.2`` or ``1``; None for a tag that is not a version."""
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch, pre, build = match.groups()
    return semver.Version(int(major), int(minor or 0), int(patch or 0), pre, build)


def compare(a: semver.Version, b: semver.Version) -> int:
    """SemVer precedence; releases (the common case) compare as plain tuples, pre-releases by ``semver``."""
    if a.prerelease is None and b.prerelease is None:
        left, right = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
        return (left > right) - (left < right)
    return a.compare(b)


def is_strict(text: str) -> bool:
    return semver.Version.is_valid(text.lstrip("v"))


@dataclass(frozen=True)
class _Comparator:
    test: Callable[[semver.Version], bool]
    allows_prerelease_of: tuple[int, int, int] | None


Constraint = list[list[_Comparator]]


def parse_constraint(text: str) -> Constraint:
    groups: Constraint = []
    for raw in text.split("||"):
        alternative = re.sub(r"\s*-\s+", " - ", raw.strip())
        if " - " in alternative:
            low, high = (part.strip() for part in alternative.split(" - ", 1))
            groups.append(_comparators(f">={low}") + _hyphen_upper(high))
            continue
        terms = [t for t in re.split(r"[\s,]+", re.sub(r"(>=|<=|!=|>|<|=|\^|~>?)\s+", r"\1", alternative)) if t]
        if not terms:
            raise ConstraintError("empty constraint")
        group: list[_Comparator] = []
        for term in terms:
            group.extend(_comparators(term))
        groups.append(group)
    return groups


def satisfies(version: semver.Version, constraint: Constraint) -> bool:
    for group in constraint:
        if not all(c.test(version) for c in group):
            continue
        if version.prerelease and not any(
                c.allows_prerelease_of == (version.major, version.minor, version.patch) for c in group):
            continue
        return True
    return False


def _hyphen_upper(text: str) -> list[_Comparator]:
    match = _WILDCARD.match(text)
    if not match:
        raise ConstraintError(f"{text!r} is not a version")
    parts = [p for p in match.groups()[:3] if p is not None and p not in "xX*"]
    if len(parts) == 3:
        return _comparators(f"<={text}")
    if not parts:
        return []
    bumped = [int(p) for p in parts]
    bumped[-1] += 1
    return _comparators("<" + ".".join(str(p) for p in bumped + [0] * (3 - len(bumped))) + "-0")


def _comparators(term: str) -> list[_Comparator]:
    match = _COMPARATOR.match(term)
    if not match:
        raise ConstraintError(f"cannot read {term!r}")
    op, text = match.group(1) or "=", match.group(2)
    wild = _WILDCARD.match(text)
    if not wild:
        raise ConstraintError(f"{text!r} is not a version (expected e.g. 1.2.3, 1.x, ^1.4)")
    major_s, minor_s, patch_s, pre = wild.groups()
    given = [p for p in (major_s, minor_s, patch_s) if p is not None and p not in "xX*"]
    if any(p is not None and p in "xX*" for p in (major_s, minor_s, patch_s)[:len(given)]):
        raise ConstraintError(f"{text!r}: a wildcard can only stand at the end")
    nums = [int(p) for p in given] + [0] * (3 - len(given))
    base = semver.Version(nums[0], nums[1], nums[2], pre)
    pre_key = (base.major, base.minor, base.patch) if pre else None

    def cmp(predicate: Callable[[semver.Version], bool]) -> _Comparator:
        return _Comparator(predicate, pre_key)

    def below(version: semver.Version) -> _Comparator:
        return cmp(lambda v: compare(v, version) < 0)

    if not given:  # "*", "x"
        return [cmp(lambda v: True)] if op in ("=", ">=", "^", "~", "~>") else [cmp(lambda v: False)]
    if op == "^":
        if nums[0] > 0 or len(given) == 1:
            upper = semver.Version(nums[0] + 1, 0, 0, "0")
        elif nums[1] > 0 or len(given) == 2:
            upper = semver.Version(0, nums[1] + 1, 0, "0")
        else:
            upper = semver.Version(0, 0, nums[2] + 1, "0")
        return [cmp(lambda v: compare(v, base) >= 0), below(upper)]
    next_minor = semver.Version(nums[0] + 1, 0, 0, "0") if len(given) == 1 \
        else semver.Version(nums[0], nums[1] + 1, 0, "0")
    if op in ("~", "~>"):
        return [cmp(lambda v: compare(v, base) >= 0), below(next_minor)]
    if len(given) < 3 and op in ("=", "!="):
        upper = next_minor
        if op == "=":
            return [cmp(lambda v: compare(v, base) >= 0), below(upper)]
        return [cmp(lambda v: compare(v, base) < 0 or compare(v, upper) >= 0)]
    if len(given) < 3 and op in (">", "<="):
        return [cmp(lambda v: compare(v, next_minor) >= 0)] if op == ">" else [below(next_minor)]
    tests: dict[str, Callable[[semver.Version], bool]] = {
        "=": lambda v: compare(v, base) == 0, "!=": lambda v: compare(v, base) != 0,
        ">": lambda v: compare(v, base) > 0, ">=": lambda v: compare(v, base) >= 0,
        "<": lambda v: compare(v, base) < 0, "<=": lambda v: compare(v, base) <= 0,
    }
    return [cmp(tests[op])]
