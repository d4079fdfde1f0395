"""Image discovery from an OCI registry: choose tags by strategy, then resolve only the chosen ones.

Economy is the point: ``SemVer`` and ``Lexical`` order by tag name alone, so a 5,000-tag repository
costs its tag-list page(s) plus one ``HEAD`` per returned candidate not resolved in the last
``tag_ttl`` (the tag -> digest memo). ``NewestBuild`` needs each
candidate's build time, read in Kargo's order of precedence (annotations before labels before the
config's ``created``, which reproducible builds set to the epoch). Manifests, configs and build
times are immutable by digest and kept in the shared ``MetadataCache``, so a steady-state cycle
costs the tag list plus about two requests per *new* tag. ``Digest`` follows one mutable tag.
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
from freightyard.shared.core.platforms import PlatformError, Platforms, parse_platforms
from freightyard.shared.core.redact import redact
from freightyard.shared.core.selection import extracted, filter_tags, iter_tags
from freightyard.shared.sources.challenge import ImageRef
from freightyard.shared.sources.metacache import MetadataCache
from freightyard.shared.sources.registry import Manifest, RegistryClient

MAX_BUILD_CANDIDATES = 1000  # NewestBuild inspects every candidate; more than this needs allowTags
WORKERS = 8


def tag_options(sub: ImageSubscription) -> dict[str, Any]:
    """The subscription's tag-choice options as ``iter_tags`` keywords (shared with OCI layouts)."""
    return {
        "allow": sub.allow_tags,
        "ignore": sub.ignore_tags,
        "strict": sub.strict_semvers,
        "extract": (sub.filter_pattern, sub.filter_extract),
        "order": sub.order,
        "regexes": (sub.allow_tags_regexes, sub.ignore_tags_regexes),
    }


def _platforms(text: str) -> Platforms:
    try:
        return parse_platforms(text)
    except PlatformError as error:
        raise SourceError(str(error)) from error


@dataclass
class RegistryImageSource:
    """``ImageSource`` over one registry repository."""

    client: RegistryClient
    ref: ImageRef
    cache: MetadataCache = field(default_factory=MetadataCache, repr=False)

    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        if sub.strategy == "Digest":
            image = self.image_for_tag(sub, sub.constraint or "latest")
            return [image] if image else []
        tags = self.client.tags(self.ref)
        if sub.strategy in ("SemVer", "Lexical", "Numerical"):
            return self._first_resolvable(sub, iter_tags(tags, sub.strategy, sub.constraint, **tag_options(sub)), limit)
        if sub.strategy == "NewestBuild":
            kept = filter_tags(tags, sub.allow_tags, sub.ignore_tags, (sub.allow_tags_regexes, sub.ignore_tags_regexes))
            if sub.filter_pattern:
                kept = [t for group in extracted(kept, sub.filter_pattern, "").values() for t in group]
            return self._newest_builds(sub, kept, limit)
        raise SourceError(
            f"image {sub.repo_url}: unknown imageSelectionStrategy {sub.strategy!r} "
            "(use SemVer, Lexical, Numerical, NewestBuild or Digest)"
        )

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        if not sub.platform:
            digest = self.client.digest(self.ref, tag)
            return Image(sub.repo_url, tag, digest) if digest else None
        manifest = self.client.manifest(self.ref, tag)
        if manifest is None or self._platform_manifest(manifest, _platforms(sub.platform)) is None:
            return None
        return Image(sub.repo_url, tag, manifest.digest)

    def _first_resolvable(self, sub: ImageSubscription, ordered: Iterator[str], limit: int) -> list[Image]:
        """Resolve candidates best-first until ``limit`` exist (a tag deleted meanwhile is skipped)."""
        found: list[Image] = []
        for tag in ordered:
            if len(found) >= limit:
                break
            image = self._remembered(sub, tag)
            if image is not None:
                found.append(image)
        return found

    def _remembered(self, sub: ImageSubscription, tag: str) -> Image | None:
        """``image_for_tag`` through the cache's tag -> digest memo: a steady-state check of a chosen
        tag costs no request (a re-pushed tag is seen within ``tag_ttl``, at once after a webhook).
        ``Digest`` subscriptions follow a mutable tag and never come here."""
        if sub.platform:
            return self.image_for_tag(sub, tag)
        repository = f"{self.ref.base}/{self.ref.repository}"
        digest = self.cache.tag_digest(repository, tag)
        if digest is not None:
            return Image(sub.repo_url, tag, digest)
        image = self.image_for_tag(sub, tag)
        if image is not None:
            self.cache.put_tag(repository, tag, image.digest)
        return image

    def _newest_builds(self, sub: ImageSubscription, tags: list[str], limit: int) -> list[Image]:
        if len(tags) > MAX_BUILD_CANDIDATES:
            raise SourceError(
                f"image {redact(sub.repo_url)}: NewestBuild would inspect {len(tags)} tags "
                f"(limit {MAX_BUILD_CANDIDATES}); narrow them with allowTags/ignoreTags"
            )
        platform = _platforms(sub.platform) if sub.platform else None
        with ThreadPoolExecutor(WORKERS) as pool:
            dated = [d for d in pool.map(lambda t: self._dated(sub, t, platform), tags) if d is not None]
        dated.sort(key=lambda image: (_when(image.created_at), image.tag), reverse=True)
        return dated[:limit]

    def _dated(self, sub: ImageSubscription, tag: str, platform: Platforms | None) -> Image | None:
        """The image under ``tag`` with its build time; known tags and digests cost no request."""
        repository = f"{self.ref.base}/{self.ref.repository}"
        digest = self.cache.tag_digest(repository, tag)
        manifest: Manifest | None = None
        if digest is None:
            manifest = self.client.manifest(self.ref, tag)  # one GET gives the digest and the body
            if manifest is None:
                return None
            digest = manifest.digest
            self.cache.put_document(digest, manifest.media_type, manifest.body)
            self.cache.put_tag(repository, tag, digest)
        created = self.cache.build_time(digest, sub.platform)
        if created is None:
            manifest = manifest or self._by_digest(digest)
            if manifest is None:
                return None
            created = self._build_time(manifest, platform)
            self.cache.put_build_time(digest, sub.platform, created)
        if platform is not None and not created:
            return None  # no image for this platform under the tag
        return Image(sub.repo_url, tag, digest, created_at=created)

    def _build_time(self, manifest: Manifest, platform: Platforms | None) -> str:
        """When the image was built, in Kargo's order of precedence ("" when no child fits ``platform``).

        A single image: its ``org.opencontainers.image.created`` annotation, the label-schema
        ``build-date`` annotation, the same two as config labels, then the config's ``created``.
        An index: its own annotation, else per fitting child the index descriptor's annotation or
        the child's own time, the newest of them.
        """
        if manifest.is_index:
            children = self._children(manifest, platform)
            if not children:
                return ""
            own = _annotated(manifest.body.get("annotations"))
            if own:
                return own
            times = []
            for child in children:
                stamped = _annotated(child.get("annotations"))
                if not stamped:
                    single = self._by_digest(str(child.get("digest", "")))
                    stamped = self._build_time(single, None) if single is not None and not single.is_index else ""
                times.append(stamped)
            return max(times, key=_when)
        own = _annotated(manifest.body.get("annotations"))
        if own and platform is None:
            return own  # no config needed
        config = self._config(manifest)
        if platform is not None and not platform.matches(config):
            return ""
        labels = (config.get("config") or {}).get("Labels") if isinstance(config.get("config"), dict) else None
        return own or _annotated(labels) or str(config.get("created") or "")

    def _children(self, index: Manifest, platform: Platforms | None) -> list[dict[str, Any]]:
        children = [m for m in index.body.get("manifests") or [] if isinstance(m, dict)]
        children = [m for m in children if (m.get("platform") or {}).get("os") != "unknown"]  # attestations
        if platform is not None:
            children = [m for m in children if platform.matches(m.get("platform") or {})]
        return children

    def _by_digest(self, digest: str) -> Manifest | None:
        cached = self.cache.document(digest)
        if cached is not None:
            return Manifest(digest, cached[0], cached[1])
        manifest = self.client.manifest(self.ref, digest)
        if manifest is not None:
            self.cache.put_document(digest, manifest.media_type, manifest.body)
        return manifest

    def _platform_manifest(self, manifest: Manifest, platform: Platforms | None) -> Manifest | None:
        """The single-platform manifest to read: the index child for ``platform`` (default: the first)."""
        if not manifest.is_index:
            if platform is None:
                return manifest
            config = self._config(manifest)
            return manifest if platform.matches(config) else None
        children = self._children(manifest, platform)
        if not children:
            return None
        return self._by_digest(str(children[0]["digest"]))

    def _config(self, manifest: Manifest) -> dict[str, Any]:
        digest = str((manifest.body.get("config") or {}).get("digest") or "")
        if not digest:
            return {}
        cached = self.cache.document(digest)
        if cached is not None:
            return cached[1]
        config = self.client.blob_json(self.ref, digest)
        self.cache.put_document(digest, "config", config)
        return config


CREATED_KEYS = ("org.opencontainers.image.created", "org.label-schema.build-date")


def _annotated(values: object) -> str:
    """The first build-time key present in an annotation or label map (OCI before label-schema)."""
    if not isinstance(values, dict):
        return ""
    for key in CREATED_KEYS:
        if values.get(key):
            return str(values[key])
    return ""


def _when(created: str) -> datetime:
    """Order RFC 3339 times as instants (offsets and nanoseconds included); unknown times sort last."""
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
