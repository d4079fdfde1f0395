"""Picks the source adapter for a subscription from its URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import SourceError
from shared.model import ChartSubscription, GitSubscription, ImageSubscription
from shared.sources.base import ChartSource, GitSource, ImageSource
from shared.sources.git import GitCliSource, GitMirrors, default_cache_dir
from shared.sources.ocilayout import OciLayoutSource


@dataclass
class DefaultSources:
    """Git via the CLI; images from OCI layouts (``oci-layout://DIR`` or a host mapped to a root dir)."""

    cache_dir: Path = field(default_factory=default_cache_dir)
    layout_roots: dict[str, Path] = field(default_factory=dict)  # registry host -> directory of layouts

    def git(self, sub: GitSubscription) -> GitSource:
        return GitCliSource(GitMirrors(self.cache_dir))

    def image(self, sub: ImageSubscription) -> ImageSource:
        url = sub.repo_url
        if url.startswith("oci-layout://"):
            return OciLayoutSource(Path(url[len("oci-layout://"):]))
        host, _, repo = url.partition("/")
        if host in self.layout_roots:
            return OciLayoutSource(self.layout_roots[host] / repo)
        raise SourceError(f"image {url}: registry discovery is not available in this build "
                          "(use an OCI layout: oci-layout:///DIR or --oci-layout HOST=DIR)")

    def chart(self, sub: ChartSubscription) -> ChartSource:
        raise SourceError(f"chart {sub.name} from {sub.repo_url}: chart discovery is not available in this build")
