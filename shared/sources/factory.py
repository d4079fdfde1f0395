"""Picks the source adapter for a subscription from its URL, and keeps adapters warm between runs.

Adapters are cached per (host, credentials name) so bearer tokens, HTTP keep-alive connections,
memoised git answers and created-time caches survive from one discovery interval to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription
from freightyard.shared.credentials import CredentialLookup, EnvFileCredentials
from freightyard.shared.sources.base import ChartSource, GitSource, ImageSource
from freightyard.shared.sources.challenge import parse_image_ref
from freightyard.shared.sources.git import GitCliSource, GitMirrors, default_cache_dir
from freightyard.shared.sources.helm import HelmHttpSource, HelmOciSource
from freightyard.shared.sources.http import HttpClient
from freightyard.shared.sources.images import RegistryImageSource
from freightyard.shared.sources.metacache import MetadataCache
from freightyard.shared.sources.ocilayout import OciLayoutSource
from freightyard.shared.sources.registry import RegistryClient


@dataclass
class DefaultSources:
    """Git via the CLI; images from registries or OCI layouts; charts from HTTP or OCI repositories.

    ``layout_roots`` maps a registry host to a directory of OCI layouts (local, registry-free mode);
    ``insecure_hosts`` are registries spoken to over plain HTTP (test registries), as if every
    subscription on them said ``insecure: true``; ``credentials`` finds secrets by name or host.
    """

    cache_dir: Path = field(default_factory=default_cache_dir)
    layout_roots: dict[str, Path] = field(default_factory=dict)  # registry host -> directory of layouts
    credentials: CredentialLookup = field(default_factory=EnvFileCredentials.from_env)
    insecure_hosts: frozenset[str] = frozenset()
    http: HttpClient = field(default_factory=HttpClient)
    metadata: MetadataCache = field(default_factory=MetadataCache)  # manifests/configs/build times by digest
    _git: GitCliSource | None = field(default=None, repr=False)
    _images: dict[tuple[str, str, str], RegistryImageSource] = field(default_factory=dict, repr=False)
    _charts: dict[tuple[str, str], HelmHttpSource] = field(default_factory=dict, repr=False)
    _clients: dict[tuple[str, str], RegistryClient] = field(default_factory=dict, repr=False)

    def git(self, sub: GitSubscription) -> GitSource:
        if self._git is None:
            self._git = GitCliSource(GitMirrors(self.cache_dir, credentials=self.credentials))
        return self._git

    def image(self, sub: ImageSubscription) -> ImageSource:
        url = sub.repo_url
        if url.startswith("oci-layout://"):
            return OciLayoutSource(Path(url[len("oci-layout://") :]))
        host, _, repo = url.partition("/")
        if host in self.layout_roots:
            return OciLayoutSource(self.layout_roots[host] / repo)
        ref = parse_image_ref(url, sub.insecure, self.insecure_hosts)
        key = (ref.base, ref.repository, sub.credentials_secret)
        if key not in self._images:
            self._images[key] = RegistryImageSource(self._client(ref.host, sub.credentials_secret), ref, self.metadata)
        return self._images[key]

    def chart(self, sub: ChartSubscription) -> ChartSource:
        url = sub.repo_url
        if url.startswith("oci://"):
            host = url[len("oci://") :].split("/", 1)[0]
            return HelmOciSource(self._client(host, sub.credentials_secret), sub.insecure, self.insecure_hosts)
        host = url.split("://", 1)[-1].split("/", 1)[0]
        key = (url, sub.credentials_secret)
        if key not in self._charts:
            self._charts[key] = HelmHttpSource(
                self.http,
                self.credentials(sub.credentials_secret, host),
                verify=not (sub.insecure or host in self.insecure_hosts),
            )
        return self._charts[key]

    def invalidate(self, repo_urls: list[str]) -> None:
        """A webhook said these repos changed: forget the tag -> digest memo of each image repo among
        them, so a re-pushed tag is seen on the next check rather than after the memo's TTL."""
        for url in repo_urls:
            for insecure in (False, True):  # the memo is keyed by the scheme the source spoke
                ref = parse_image_ref(url, insecure, self.insecure_hosts)
                self.metadata.forget_tags(f"{ref.base}/{ref.repository}")

    def _client(self, host: str, credentials_name: str) -> RegistryClient:
        key = (host, credentials_name)
        if key not in self._clients:
            self._clients[key] = RegistryClient(self.http, self.credentials(credentials_name, host))
        return self._clients[key]
