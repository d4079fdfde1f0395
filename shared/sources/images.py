"""Image discovery from an OCI registry: choose tags by strategy, then resolve only the chosen ones.

Economy is the point: ``SemVer`` and ``Lexical`` order by tag name alone, so a 5,000-tag repository
costs its tag-list page(s) plus one ``HEAD`` per returned candidate. ``NewestBuild`` needs each
candidate's created time (config blob), cached by manifest digest — digests are immutable — so a
warm run only re-checks where the tags point. ``Digest`` follows one mutable tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Image
from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.core.redact import redact
from freightyard.shared.core.selection import filter_tags, iter_tags
from freightyard.shared.sources.challenge import ImageRef
from freightyard.shared.sources.registry import Manifest, RegistryClient

MAX_BUILD_CANDIDATES = 1000  # NewestBuild inspects every candidate; more than this needs allowTags
WORKERS = 8


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise SourceError(f"platform {text!r}: expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def matches(self, spec: dict[str, Any]) -> bool:
        return (
            spec.get("os") == self.os
            and spec.get("architecture") == self.architecture
            and (not self.variant or spec.get("variant", "") == self.variant)
        )


@dataclass
class RegistryImageSource:
    """``ImageSource`` over one registry repository."""

    client: RegistryClient
    ref: ImageRef
    _created: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)  # (digest, platform) -> time

    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        if sub.strategy == "Digest":
            image = self.image_for_tag(sub, sub.constraint or "latest")
            return [image] if image else []
        tags = self.client.tags(self.ref)
        if sub.strategy in ("SemVer", "Lexical"):
            return self._first_resolvable(
                sub, iter_tags(tags, sub.strategy, sub.constraint, sub.allow_tags, sub.ignore_tags), limit
            )
        if sub.strategy == "NewestBuild":
            return self._newest_builds(sub, filter_tags(tags, sub.allow_tags, sub.ignore_tags), limit)
        raise SourceError(
            f"image {sub.repo_url}: unknown imageSelectionStrategy {sub.strategy!r} "
            "(use SemVer, Lexical, NewestBuild or Digest)"
        )

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        if not sub.platform:
            digest = self.client.digest(self.ref, tag)
            return Image(sub.repo_url, tag, digest) if digest else None
        manifest = self.client.manifest(self.ref, tag)
        if manifest is None or self._platform_manifest(manifest, Platform.parse(sub.platform)) is None:
            return None
        return Image(sub.repo_url, tag, manifest.digest)

    def _first_resolvable(self, sub: ImageSubscription, ordered: Iterator[str], limit: int) -> list[Image]:
        """Resolve candidates best-first until ``limit`` exist (a tag deleted meanwhile is skipped)."""
        found: list[Image] = []
        for tag in ordered:
            if len(found) >= limit:
                break
            image = self.image_for_tag(sub, tag)
            if image is not None:
                found.append(image)
        return found

    def _newest_builds(self, sub: ImageSubscription, tags: list[str], limit: int) -> list[Image]:
        if len(tags) > MAX_BUILD_CANDIDATES:
            raise SourceError(
                f"image {redact(sub.repo_url)}: NewestBuild would inspect {len(tags)} tags "
                f"(limit {MAX_BUILD_CANDIDATES}); narrow them with allowTags/ignoreTags"
            )
        platform = Platform.parse(sub.platform) if sub.platform else None
        with ThreadPoolExecutor(WORKERS) as pool:
            dated = [d for d in pool.map(lambda t: self._dated(sub, t, platform), tags) if d is not None]
        dated.sort(key=lambda image: (_when(image.created_at), image.tag), reverse=True)
        return dated[:limit]

    def _dated(self, sub: ImageSubscription, tag: str, platform: Platform | None) -> Image | None:
        digest = self.client.digest(self.ref, tag)
        if digest is None:
            return None
        key = (digest, sub.platform)
        if key not in self._created:
            manifest = self.client.manifest(self.ref, digest)
            if manifest is None:
                return None
            single = self._platform_manifest(manifest, platform)
            self._created[key] = "" if single is None else self._created_at(single)
        created = self._created[key]
        if platform is not None and not created:
            return None  # no image for this platform under the tag
        return Image(sub.repo_url, tag, digest, created_at=created)

    def _platform_manifest(self, manifest: Manifest, platform: Platform | None) -> Manifest | None:
        """The single-platform manifest to read: the index child for ``platform`` (default: the first)."""
        if not manifest.is_index:
            if platform is None:
                return manifest
            config = self._config(manifest)
            return manifest if platform.matches(config) else None
        children = [m for m in manifest.body.get("manifests") or [] if isinstance(m, dict)]
        children = [m for m in children if (m.get("platform") or {}).get("os") != "unknown"]  # attestations
        if platform is not None:
            children = [m for m in children if platform.matches(m.get("platform") or {})]
        if not children:
            return None
        return self.client.manifest(self.ref, str(children[0]["digest"]))

    def _config(self, manifest: Manifest) -> dict[str, Any]:
        digest = (manifest.body.get("config") or {}).get("digest")
        return self.client.blob_json(self.ref, str(digest)) if digest else {}

    def _created_at(self, manifest: Manifest) -> str:
        created = self._config(manifest).get("created")
        if created:
            return str(created)
        annotations = manifest.body.get("annotations") or {}
        return str(annotations.get("org.opencontainers.image.created", ""))


def _when(created: str) -> datetime:
    """Order RFC 3339 times as instants (offsets and nanoseconds included); unknown times sort last."""
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
