"""The narrow interfaces every artifact source implements; discovery only talks to these."""

from __future__ import annotations

from typing import Protocol

from freightyard.shared.core.freight import Chart, Commit, Image
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription


class GitSource(Protocol):
    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        """Candidate commits, best first (newest on the branch touching the paths, or best tag)."""
        ...


class ImageSource(Protocol):
    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        """Candidate images, best first by the subscription's strategy, digests resolved."""
        ...

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        """The image under exactly ``tag`` (digest resolved), or None if no such tag exists."""
        ...


class ChartSource(Protocol):
    def charts(self, sub: ChartSubscription, limit: int) -> list[Chart]:
        """Candidate chart versions, best (highest matching semver) first."""
        ...


class SourceFactory(Protocol):
    """Picks the adapter for a subscription (by URL scheme); tests pass fakes through this."""

    def git(self, sub: GitSubscription) -> GitSource: ...

    def image(self, sub: ImageSubscription) -> ImageSource: ...

    def chart(self, sub: ChartSubscription) -> ChartSource: ...


def invalidate_memos(factory: SourceFactory, repo_urls: list[str]) -> None:
    """Pass a webhook's "these repos changed" to a factory that keeps memos of its own (an optional
    ``invalidate`` method: wrappers forward it, plain fakes need not have it)."""
    forget = getattr(factory, "invalidate", None)
    if callable(forget):
        forget(repo_urls)
