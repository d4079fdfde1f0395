"""Images from OCI image layout directories: the local, registry-free stand-in for a registry.

A layout root maps a registry host to a directory (``demo.local=/tmp/x/oci``); the image
``demo.local/guestbook`` is then the layout at ``/tmp/x/oci/guestbook``. ``oci-layout:///DIR``
URLs name one layout directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freightyard.shared.core.errors import SourceError
from freightyard.shared.core.freight import Image
from freightyard.shared.core.model import ImageSubscription
from freightyard.shared.core.selection import order_tags
from freightyard.shared.sources.images import tag_options

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass
class OciLayoutSource:
    directory: Path

    def _index(self) -> list[dict[str, Any]]:
        index_file = self.directory / "index.json"
        try:
            index = json.loads(index_file.read_text())
        except FileNotFoundError as error:
            raise SourceError(
                f"{index_file}: no OCI layout here (expected index.json; create one with skopeo copy ... oci:DIR:TAG)"
            ) from error
        except (OSError, ValueError) as error:
            raise SourceError(f"{index_file}: not a readable OCI index: {error}") from error
        return [m for m in index.get("manifests", []) if isinstance(m, dict)]

    def _tags(self) -> dict[str, dict[str, Any]]:
        tags: dict[str, dict[str, Any]] = {}
        for manifest in self._index():
            ref = (manifest.get("annotations") or {}).get(REF_NAME)
            if ref:
                tags[ref] = manifest
        return tags

    def _created(self, digest: str) -> str:
        try:
            manifest = json.loads(self._blob(digest))
            config = json.loads(self._blob(manifest["config"]["digest"]))
            return str(config.get("created", ""))
        except (KeyError, ValueError, OSError):
            return ""

    def _blob(self, digest: str) -> bytes:
        algorithm, _, hexdigest = digest.partition(":")
        return (self.directory / "blobs" / algorithm / hexdigest).read_bytes()

    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        tags = self._tags()
        if sub.strategy == "Digest":
            wanted = sub.constraint or "latest"
            return [self._image(sub, wanted, tags[wanted])] if wanted in tags else []
        ordered = order_tags(list(tags), sub.strategy, sub.constraint, **tag_options(sub))
        if sub.strategy == "NewestBuild":
            dated = [(self._created(tags[t]["digest"]), t) for t in ordered]
            ordered = [t for _, t in sorted(dated, reverse=True)]
        return [self._image(sub, t, tags[t]) for t in ordered[:limit]]

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        manifest = self._tags().get(tag)
        return self._image(sub, tag, manifest) if manifest else None

    def _image(self, sub: ImageSubscription, tag: str, manifest: dict[str, Any]) -> Image:
        return Image(
            repo_url=sub.repo_url,
            tag=tag,
            digest=str(manifest["digest"]),
            created_at=self._created(str(manifest["digest"])),
        )
