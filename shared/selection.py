"""Choosing among tags: allow/ignore filters and the SemVer and Lexical orderings.

Pure, shared by every image and chart source so a registry and a local OCI layout choose alike.
"""

from __future__ import annotations

import re

from shared.semverc import parse_constraint, parse_version, satisfies


def filter_tags(tags: list[str], allow: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    allow_re = re.compile(allow) if allow else None
    return [t for t in tags
            if (allow_re is None or allow_re.search(t)) and not any(t == i or re.fullmatch(i, t) for i in ignore)]


def semver_order(tags: list[str], constraint: str = "") -> list[str]:
    """Tags that are versions and satisfy ``constraint``, highest first (SemVer 2.0 precedence)."""
    parsed = parse_constraint(constraint) if constraint else None
    versioned = [(v, t) for t in tags if (v := parse_version(t)) is not None
                 and (parsed is None or satisfies(v, parsed))]
    # Equal versions ("1.2" and "v1.2.0"): prefer the longer, fully spelled tag, deterministically.
    versioned.sort(key=lambda vt: (vt[0], len(vt[1]), vt[1]), reverse=True)
    return [t for _, t in versioned]


def lexical_order(tags: list[str]) -> list[str]:
    return sorted(tags, reverse=True)


def order_tags(tags: list[str], strategy: str, constraint: str = "", allow: str = "",
               ignore: tuple[str, ...] = ()) -> list[str]:
    """Order by ``SemVer`` or ``Lexical``; other strategies need more than names (returned filtered)."""
    kept = filter_tags(tags, allow, ignore)
    if strategy == "SemVer":
        return semver_order(kept, constraint)
    if strategy == "Lexical":
        kept = [t for t in kept if not constraint or re.search(constraint, t)]
        return lexical_order(kept)
    return kept
