"""The render hash: what no-op detection compares, blind to which freight produced the output."""

from __future__ import annotations

import hashlib
import re

_FREIGHT_LINE = re.compile(rb"^[ \t]*freightyard\.io/freight:[ \t]*['\"]?[0-9a-f]{40}['\"]?[ \t]*\r?\n", re.M)


def without_freight_id(manifests: bytes) -> bytes:
    """``manifests`` minus the ``freightyard.io/freight: <id>`` lines, which differ for every freight."""
    return _FREIGHT_LINE.sub(b"", manifests)


def render_hash(manifests: bytes) -> str:
    """``sha256:<hex>`` of ``manifests`` without ``freightyard.io/freight: <id>`` annotation lines.

    Covers every other byte: objects, pinned image references, the stage/pipeline annotations.
    Two freights that render identical objects for a stage therefore hash equal.
    """
    return "sha256:" + hashlib.sha256(without_freight_id(manifests)).hexdigest()
