"""Image platforms (``os/arch[/variant]``), one or a comma-separated list, compared as Kargo does.

The variant is part of the platform: ``linux/arm64`` does not match an ``linux/arm64/v8`` image
(Kargo's rule). A list (Argo CD Image Updater's ``platforms``) admits an image that offers any of
them. Checked at ``validate`` so ``platform: invalid`` is refused with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_PART = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class PlatformError(ValueError):
    pass


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def matches(self, spec: Mapping[str, object]) -> bool:
        return (
            spec.get("os") == self.os
            and spec.get("architecture") == self.architecture
            and str(spec.get("variant") or "") == self.variant
        )

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Platforms:
    items: tuple[Platform, ...]

    def matches(self, spec: Mapping[str, object]) -> bool:
        return any(p.matches(spec) for p in self.items)


def parse_platforms(text: str) -> Platforms:
    """``linux/amd64`` or ``linux/amd64, linux/arm64/v8``; ``PlatformError`` names the bad entry."""
    items = []
    for entry in text.split(","):
        parts = entry.strip().split("/")
        if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
            raise PlatformError(
                f"platform {entry.strip()!r}: expected os/arch[/variant] in lower case, "
                "e.g. linux/amd64 or linux/arm64/v8 (a list: linux/amd64,linux/arm64)"
            )
        items.append(Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else ""))
    return Platforms(tuple(items))
