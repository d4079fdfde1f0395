"""SemVer 2.0 versions and Masterminds/npm-style constraints (``^1.4``, ``~2.1.0``, ``>=1 <2 || 3.x``).

Versions and ordering come from the ``semver`` library (SemVer 2.0 precedence; PEP 440 orders
pre-releases differently). The constraint grammar and its meaning are Masterminds/semver v3's (what Kargo and Helm
use): a pre-release version is only considered by an ``||`` alternative in which some comparator
names a pre-release (``^1.0.0-0``, ``>=1.2.x-0 <2``), and then every pre-release in range is.
"""

from __future__ import annotations

import functools
import operator
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
    """Kargo's ``strictSemvers``: a full SemVer 2.0 version (``1.2.3``, ``v1.2.3-rc.1``), not ``1.2`` or ``1``."""
    return semver.Version.is_valid(text.removeprefix("v"))


Release = tuple[int, int, int]
_RELEASE_TESTS: dict[str, Callable[[Release, Release], bool]] = {
    # ``r OP bound`` written as ``operator(bound, r)`` so ``partial`` binds the bound: a C-level call per test.
    "<": operator.gt,
    "<=": operator.ge,
    ">": operator.lt,
    ">=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}
# Against a pre-release bound ``b-pre`` a release r is never equal: r < b-pre iff r < b, r > b-pre iff r >= b.
_AGAINST_PRERELEASE = {"<": "<", "<=": "<", ">": ">=", ">=": ">=", "=": "never", "!=": "always"}


@dataclass(frozen=True)
class _Comparator:
    """One comparison, ``op`` against ``bound`` (``outside``: below ``bound`` or at/above ``upper``).

    ``test`` checks a ``semver.Version`` with SemVer 2.0 precedence; ``release`` checks a plain
    release as an integer triple, derived separately from the same op and bounds (the tests check
    that both always agree). ``allows_prerelease_of``: pre-releases of that triple may match.
    """

    op: str  # < <= > >= = != always never outside
    bound: semver.Version
    upper: semver.Version  # only for "outside"
    allows_prerelease_of: Release | None = None  # set when the comparator's text names a pre-release

    def test(self, version: semver.Version) -> bool:
        if self.op in ("always", "never"):
            return self.op == "always"
        order = version.compare(self.bound)
        if self.op == "outside":
            return order < 0 or version.compare(self.upper) >= 0
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0, "=": order == 0, "!=": order != 0}[
            self.op
        ]

    @property
    def release(self) -> Callable[[Release], bool]:
        """This comparator as a predicate on a release ``(major, minor, patch)``; cheap to call."""
        if self.op in ("always", "never"):
            return _always if self.op == "always" else _never
        if self.op == "outside":
            below, at_or_above = _release_test("<", self.bound), _release_test(">=", self.upper)
            return lambda r: below(r) or at_or_above(r)
        return _release_test(self.op, self.bound)


def _release_test(op: str, bound: semver.Version) -> Callable[[Release], bool]:
    triple = (bound.major, bound.minor, bound.patch)
    if bound.prerelease:
        op = _AGAINST_PRERELEASE[op]
        if op in ("always", "never"):
            return _always if op == "always" else _never
    return functools.partial(_RELEASE_TESTS[op], triple)


def _always(release: Release) -> bool:
    return True


def _never(release: Release) -> bool:
    return False


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
    """SemVer 2.0 check of any version; a pre-release needs an alternative that names some pre-release."""
    for group in constraint:
        if version.prerelease and not any(c.allows_prerelease_of is not None for c in group):
            continue  # Masterminds v3: pre-releases are opted into per || alternative
        if all(c.test(version) for c in group):
            return True
    return False


def release_test(constraint: Constraint) -> Callable[[Release], bool]:
    """``constraint`` as a predicate on plain releases ``(major, minor, patch)``: no ``Version`` is built.

    Agrees with ``satisfies`` on every release (pre-release inclusion rules do not apply to releases).
    """
    groups = [[c.release for c in group] for group in constraint]
    if len(groups) == 1:
        tests = groups[0]
        if len(tests) == 1:
            return tests[0]
        if len(tests) == 2:
            first, second = tests
            return lambda r: first(r) and second(r)

    def any_group(release: Release) -> bool:
        for group in groups:
            for test in group:
                if not test(release):
                    break
            else:
                return True
        return False

    return any_group


def satisfies_release(release: Release, constraint: Constraint) -> bool:
    """``satisfies`` for a plain release given as ``(major, minor, patch)``."""
    return release_test(constraint)(release)


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
    upper = _comparators("<" + ".".join(str(p) for p in bumped + [0] * (3 - len(bumped))) + "-0")
    return [_Comparator(c.op, c.bound, c.upper, None) for c in upper]  # the "-0" is ours, not an opt-in


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
    if any(p is not None and p in "xX*" for p in (major_s, minor_s, patch_s)[: len(given)]):
        raise ConstraintError(f"{text!r}: a wildcard can only stand at the end")
    nums = [int(p) for p in given] + [0] * (3 - len(given))
    base = semver.Version(nums[0], nums[1], nums[2], pre)
    pre_key = (base.major, base.minor, base.patch) if pre else None

    def cmp(op: str, bound: semver.Version = base, upper: semver.Version = base) -> _Comparator:
        return _Comparator(op, bound, upper, pre_key)

    if not given:  # "*", "x"
        return [cmp("always")] if op in ("=", ">=", "^", "~", "~>") else [cmp("never")]
    if op == "^":
        if nums[0] > 0 or len(given) == 1:
            upper = semver.Version(nums[0] + 1, 0, 0, "0")
        elif nums[1] > 0 or len(given) == 2:
            upper = semver.Version(0, nums[1] + 1, 0, "0")
        else:
            upper = semver.Version(0, 0, nums[2] + 1, "0")
        return [cmp(">=", base), cmp("<", upper)]
    next_minor = (
        semver.Version(nums[0] + 1, 0, 0, "0") if len(given) == 1 else semver.Version(nums[0], nums[1] + 1, 0, "0")
    )
    if op in ("~", "~>"):
        return [cmp(">=", base), cmp("<", next_minor)]
    if len(given) < 3 and op in ("=", "!="):
        if op == "=":
            return [cmp(">=", base), cmp("<", next_minor)]
        return [cmp("outside", base, next_minor)]
    if len(given) < 3 and op in (">", "<="):
        return [cmp(">=", next_minor)] if op == ">" else [cmp("<", next_minor)]
    return [cmp(op, base)]
