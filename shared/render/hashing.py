"""The render hash: what no-op detection compares, blind to which freight produced the output."""

from __future__ import annotations

import hashlib
import re

# A line of optional blanks, this key and a freight id. The pattern starts at the key (a literal the
# regex engine skips to) rather than at "^", which it would try at every line; the blanks before the
# key are checked by hand.
_FREIGHT_KEY = re.compile(rb"freightyard\.io/freight:[ \t]*['\"]?[0-9a-f]{40}['\"]?[ \t]*\r?\n")


_KEY = b"freightyard.io/freight:"


def without_freight_id(manifests: bytes) -> bytes:
    """``manifests`` minus the ``freightyard.io/freight: <id>`` lines, which differ for every freight."""
    first = manifests.find(_KEY)
    if first < 0:
        return manifests
    # Fast path for what the CMP annotates: the same line in every object. Removing that exact line
    # (newline-led, so only whole lines) is the answer when no other key occurrence is left.
    line_start = manifests.rfind(b"\n", 0, first)
    line_end = manifests.find(b"\n", first)
    if line_start >= 0 and line_end >= 0:
        line = manifests[line_start : line_end + 1]
        match = _FREIGHT_KEY.match(line, first - line_start)
        if match is not None and match.end() == len(line) and not line[1 : first - line_start].strip(b" \t"):
            removed = manifests.replace(line, b"\n")
            if _KEY not in removed:
                return removed
    return _without_each_freight_line(manifests)


def _without_each_freight_line(manifests: bytes) -> bytes:
    kept: list[bytes] = []
    taken = 0
    for match in _FREIGHT_KEY.finditer(manifests):
        line_start = manifests.rfind(b"\n", 0, match.start()) + 1
        if line_start < taken or manifests[line_start : match.start()].strip(b" \t"):
            continue
        kept.append(manifests[taken:line_start])
        taken = match.end()
    if not kept:
        return manifests
    kept.append(manifests[taken:])
    return b"".join(kept)


def render_hash(manifests: bytes) -> str:
    """``sha256:<hex>`` of ``manifests`` without ``freightyard.io/freight: <id>`` annotation lines.

    Covers every other byte: objects, pinned image references, the stage/pipeline annotations.
    Two freights that render identical objects for a stage therefore hash equal.
    """
    return "sha256:" + hashlib.sha256(without_freight_id(manifests)).hexdigest()
