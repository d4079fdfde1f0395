"""Constraints: a table of what they mean, and the release fast path checked against the ``semver`` path.

``release_test`` decides plain releases on integer triples; ``satisfies`` decides any version with
``semver.Version`` precedence. Every generated (constraint, release) pair must get the same answer
from both, and tag selection must pick what a brute-force sort over parsed versions picks.
"""

from __future__ import annotations

import functools
import itertools
import random

import pytest
import semver

from freightyard.shared.core.selection import semver_order
from freightyard.shared.core.semverc import ConstraintError, parse_constraint, parse_version, release_test, satisfies

# (constraint, version, expected): what users get, including SemVer 2.0 pre-release precedence and
# Masterminds v3's inclusion rule: a pre-release is considered by an ``||`` alternative that names a pre-release.
TABLE = [
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.9", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.3", "1.5.0-rc.1", False),
    ("^1.2.3", "2.0.0-rc.1", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0", "0.9.9", True),
    ("^0", "1.0.0", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^1", "1.0.0", True),
    ("^1", "1.99.99", True),
    ("^1", "0.9.9", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.0", True),
    ("~1.2", "1.3.0", False),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("~>1.2", "1.2.5", True),
    ("~>1.2", "1.3.0", False),
    (">=1.2 <2", "1.9.9", True),
    (">=1.2 <2", "2.0.0", False),
    (">=1.2 <2", "1.1.9", False),
    (">= 1.2, < 2", "1.5.0", True),
    ("1.2 - 1.4", "1.4.9", True),
    ("1.2 - 1.4", "1.5.0", False),
    ("1.2 - 1.4", "1.1.9", False),
    ("1.2.3 - 1.4.5", "1.4.5", True),
    ("1.2.3 - 1.4.5", "1.4.6", False),
    ("1.2.3 - 1.4.5", "1.2.3", True),
    ("1 - 2", "2.9.9", True),
    ("1 - 2", "3.0.0", False),
    ("1.0 - *", "9.0.0", True),
    ("1.0 - *", "0.9.0", False),
    ("1.x", "1.0.0", True),
    ("1.x", "1.99.0", True),
    ("1.x", "2.0.0", False),
    ("1.x", "0.9.0", False),
    ("1.2.x", "1.2.7", True),
    ("1.2.x", "1.3.0", False),
    ("1.2.*", "1.2.0", True),
    ("1.X", "1.4.0", True),
    ("*", "0.0.0", True),
    ("*", "9.9.9", True),
    ("*", "1.0.0-rc.1", False),
    ("x", "3.0.0", True),
    (">*", "1.0.0", False),
    ("<*", "1.0.0", False),
    ("1.x || >=3.1", "1.5.0", True),
    ("1.x || >=3.1", "2.0.0", False),
    ("1.x || >=3.1", "3.0.0", False),
    ("1.x || >=3.1", "3.1.0", True),
    ("^1 || ^3 || ~5.2", "5.2.9", True),
    ("^1 || ^3 || ~5.2", "5.3.0", False),
    ("!=1.2.3", "1.2.3", False),
    ("!=1.2.3", "1.2.4", True),
    ("!=1.2", "1.2.5", False),
    ("!=1.2", "1.1.0", True),
    ("!=1.2", "1.3.0", True),
    (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True),
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    (">1", "1.9.9", False),
    (">1", "2.0.0", True),
    ("<1.2", "1.1.9", True),
    ("<1.2", "1.2.0", False),
    ("=1.2.3", "1.2.3", True),
    ("=1.2.3", "1.2.4", False),
    ("1.2.3", "v1.2.3", True),
    ("1.2.3", "1.2.3+build.7", True),
    ("=1.2", "1.2.8", True),
    ("1.2", "1.3.0", False),
    ("v1.2.3", "1.2.3", True),
    # pre-releases: precedence and inclusion
    (">=1.0.0-alpha", "1.0.0-beta", True),
    (">=1.0.0-alpha", "1.0.0", True),
    (">=1.0.0-alpha", "1.1.0-alpha", True),
    (">=1.0.0-alpha", "0.9.0", False),
    ("<1.0.0-rc.1", "0.9.0", True),
    ("<1.0.0-rc.1", "1.0.0-beta", True),
    ("<1.0.0-rc.1", "1.0.0", False),
    ("<1.0.0-rc.1", "1.0.0-rc.1", False),
    ("^1.2.3-rc.1", "1.2.3-rc.2", True),
    ("^1.2.3-rc.1", "1.2.3-rc.0", False),
    ("^1.2.3-rc.1", "1.2.3", True),
    ("^1.2.3-rc.1", "1.3.0", True),
    ("^1.2.3-rc.1", "1.3.0-rc.1", True),
    ("^1.2.3-rc.1", "2.0.0", False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("~1.2.3-beta.2", "1.2.3-alpha", False),
    ("~1.2.3-beta.2", "1.2.4", True),
    ("~1.2.3-beta.2", "1.2.4-beta", True),
    ("~1.2.3-beta.2", "1.3.0", False),
    (">=1.0.0-rc.1 <1.0.0 || >=2.0.0-beta", "1.0.0-rc.2", True),
    (">=1.0.0-rc.1 <1.0.0 || >=2.0.0-beta", "2.0.0-beta.2", True),
    (">=1.0.0-rc.1 <1.0.0 || >=2.0.0-beta", "1.5.0", False),
    (">=1.0.0-rc.1 <1.0.0 || >=2.0.0-beta", "2.1.0", True),
    (">=1.0.0-rc.1 <1.0.0 || >=2.0.0-beta", "2.1.0-beta", True),
    ("1.0.0-rc.1 - 1.0.0", "1.0.0-rc.2", True),
    ("1.0.0-rc.1 - 1.0.0", "1.0.0", True),
    ("1.0.0-rc.1 - 1.0.0", "1.0.1", False),
    (">1.0.0-rc.2", "1.0.0-rc.10", True),
    (">1.0.0-rc.2", "1.0.0-rc.1", False),
    (">1.0.0-rc.2", "1.0.0-beta", False),
    (">=1.0.0-alpha <1.0.0-alpha.1", "1.0.0-alpha", True),
    (">=1.0.0-alpha <1.0.0-alpha.1", "1.0.0-alpha.0", True),
    (">=1.0.0-alpha.beta", "1.0.0-alpha.1", False),
    (">=1.0.0-alpha.beta", "1.0.0-alpha.gamma", True),
    (">=1.0.0-1", "1.0.0-alpha", True),
    (">=1.0.0-alpha", "1.0.0-1", False),  # numeric identifiers sort first
    ("=1.0.0-rc.1", "1.0.0-rc.1+build", True),
    ("!=1.0.0-rc.1", "1.0.0", True),
    ("!=1.0.0-rc.1", "1.0.0-rc.2", True),
    ("1.0.0-rc.1", "1.0.0", False),
]


@pytest.mark.parametrize("constraint, version, expected", TABLE)
def test_table(constraint: str, version: str, expected: bool) -> None:
    parsed = parse_constraint(constraint)
    v = parse_version(version)
    assert v is not None
    assert satisfies(v, parsed) is expected
    if v.prerelease is None:
        assert release_test(parsed)((v.major, v.minor, v.patch)) is expected


BOUNDS = [
    "0",
    "0.0",
    "0.0.0",
    "0.0.3",
    "0.2",
    "0.2.3",
    "1",
    "1.2",
    "1.2.3",
    "2.0.0",
    "1.2.3-rc.1",
    "2.0.0-0",
    "1.x",
    "1.2.x",
    "*",
    "0.x",
    "3.0.0-alpha.1",
]
OPS = ["", "=", "!=", "<", "<=", ">", ">=", "^", "~", "~>"]


def constraints() -> list[str]:
    """Every operator with every bound, hyphen ranges, conjunctions and unions of those."""
    single = [f"{op}{bound}" for op in OPS for bound in BOUNDS]
    hyphens = [
        f"{low} - {high}"
        for low, high in itertools.product(["0.2", "1.2.3", "1.2.3-rc.1", "1"], ["1.2", "1.2.3", "2", "2.0.0-0", "*"])
    ]
    rng = random.Random(3)  # noqa: S311 - a reproducible sample, not a secret
    pairs = [f"{rng.choice(single)} {rng.choice(single)}" for _ in range(150)]
    unions = [f"{rng.choice(single + pairs)} || {rng.choice(single + hyphens)}" for _ in range(150)]
    return single + hyphens + pairs + unions


RELEASES = [(a, b, c) for a in range(4) for b in range(4) for c in range(5)]


def test_release_fast_path_agrees_with_semver_everywhere() -> None:
    checked = 0
    for text in constraints():
        parsed = parse_constraint(text)
        fast = release_test(parsed)
        for release in RELEASES:
            slow = satisfies(semver.Version(*release), parsed)
            assert fast(release) is slow, (text, release)
            checked += 1
    assert checked > 35_000


def _brute_force(tags: list[str], constraint: str) -> list[str]:
    """Parse everything, filter with ``satisfies``, sort by SemVer precedence (longer spelling first on ties)."""
    parsed = parse_constraint(constraint) if constraint else None
    found = [(v, t) for t in tags if (v := parse_version(t)) is not None and (parsed is None or satisfies(v, parsed))]

    def order(a: tuple[semver.Version, str], b: tuple[semver.Version, str]) -> int:
        return a[0].compare(b[0]) or (len(a[1]) - len(b[1])) or ((a[1] > b[1]) - (a[1] < b[1]))

    return [t for _, t in sorted(found, key=functools.cmp_to_key(order), reverse=True)]


def tag_pool(rng: random.Random, count: int) -> list[str]:
    tags: set[str] = set()
    while len(tags) < count:
        a, b, c = rng.randrange(4), rng.randrange(4), rng.randrange(5)
        shape = rng.randrange(10)
        if shape < 5:
            tags.add(f"{a}.{b}.{c}")
        elif shape == 5:
            tags.add(f"v{a}.{b}.{c}")
        elif shape == 6:
            tags.add(f"{a}.{b}" if rng.random() < 0.5 else f"v{a}")
        elif shape == 7:
            tags.add(f"{a}.{b}.{c}-{rng.choice(['rc.1', 'rc.10', 'rc.2', 'alpha', 'beta.3', '0', '1.x'])}")
        elif shape == 8:
            tags.add(f"{a}.{b}.{c}+build.{rng.randrange(9)}")
        else:
            tags.add(rng.choice(["latest", "main", "sha-abc123", "1.2.3.4", "v", "1..2", "release-1.0.0"]))
    return sorted(tags)


def test_selection_picks_what_a_brute_force_sort_picks() -> None:
    rng = random.Random(11)  # noqa: S311 - reproducible, not a secret
    all_constraints = ["", *constraints()]
    for text in rng.sample(all_constraints, 300):
        tags = tag_pool(rng, 60)
        rng.shuffle(tags)
        assert semver_order(tags, text) == _brute_force(tags, text), text


@pytest.mark.parametrize("text", ["^foo", "1.x.2", "", "||", ">=1 <", "1.2.3.4"])
def test_bad_constraints_are_refused(text: str) -> None:
    with pytest.raises(ConstraintError):
        parse_constraint(text)


# Masterminds/semver v3's documented expansions (its README): each constraint must mean exactly its expansion.
MASTERMINDS = [
    ("1.2 - 1.4.5", ">=1.2 <=1.4.5"),
    ("2.3.4 - 4.5", ">=2.3.4 <=4.5"),
    ("1.2.x", ">=1.2.0 <1.3.0"),
    (">=1.2.x", ">=1.2.0"),
    ("<=2.x", "<3"),
    ("*", ">=0.0.0"),
    ("~1.2.3", ">=1.2.3 <1.3.0"),
    ("~1", ">=1 <2"),
    ("~2.3", ">=2.3 <2.4"),
    ("~1.2.x", ">=1.2.0 <1.3.0"),
    ("~1.x", ">=1 <2"),
    ("^1.2.3", ">=1.2.3 <2.0.0"),
    ("^1.2.x", ">=1.2.0 <2.0.0"),
    ("^2.3", ">=2.3 <3"),
    ("^2.x", ">=2.0.0 <3"),
    ("^0.2.3", ">=0.2.3 <0.3.0"),
    ("^0.2", ">=0.2.0 <0.3.0"),
    ("^0.0.3", ">=0.0.3 <0.0.4"),
    ("^0.0", ">=0.0.0 <0.1.0"),
    ("^0.0.x", ">=0.0.0 <0.1.0"),
    ("^0", ">=0.0.0 <1.0.0"),
    ("^1.0.0-0", ">=1.0.0-0 <2.0.0-0"),  # "-0" opts the whole range in; 2.0.0-rc is another major
    ("1.2.x-0", ">=1.2.0-0 <1.3.0-0"),
]
GRID = [
    f"{a}.{b}.{c}{pre}"
    for a, b, c in itertools.product(range(4), range(4), range(4))
    for pre in ("", "-0", "-alpha", "-rc.1")
]


@pytest.mark.parametrize(("constraint", "expansion"), MASTERMINDS)
def test_masterminds_documented_expansions(constraint: str, expansion: str) -> None:
    ours, theirs = parse_constraint(constraint), parse_constraint(expansion)
    fast = release_test(ours)
    for text in GRID:
        version = parse_version(text)
        assert version is not None
        assert satisfies(version, ours) == satisfies(version, theirs), (constraint, text)
        if not version.prerelease:
            assert fast((version.major, version.minor, version.patch)) == satisfies(version, ours), (constraint, text)


def test_prerelease_opt_in_follows_masterminds_not_npm() -> None:
    tags = ["1.2.0", "1.2.1-rc.1", "1.3.0-rc.2", "1.2.5", "2.0.0-rc.1"]
    assert semver_order(tags, "^1.0.0-0") == ["1.3.0-rc.2", "1.2.5", "1.2.1-rc.1", "1.2.0"]
    assert semver_order(tags, "1.2.x-0") == ["1.2.5", "1.2.1-rc.1", "1.2.0"]
    assert semver_order(tags, "^1.0.0") == ["1.2.5", "1.2.0"]
    assert semver_order(tags, "^1.0.0 || >=2.0.0-0") == ["2.0.0-rc.1", "1.2.5", "1.2.0"]  # opt-in is per alternative


def test_strict_semvers_refuses_partial_versions_like_kargo() -> None:
    tags = ["1", "v1.2", "1.2.3", "v1.3.0", "01.4.0", "1.5.0-rc.1", "latest"]
    assert semver_order(tags, "", strict=True) == ["1.5.0-rc.1", "v1.3.0", "1.2.3"]
    assert semver_order(tags, ">=1.0.0-0", strict=False)[:3] == ["1.5.0-rc.1", "01.4.0", "v1.3.0"]
    assert "v1.2" in semver_order(tags, "", strict=False) and "1" in semver_order(tags, "", strict=False)
