"""Source adapters made safe for the controller's worker threads: one git discovery per mirror at a time.

The git adapter keeps bare mirrors (shared by every pipeline on the same remote) and a memo of
answers in plain dicts; concurrent fetches into one mirror can fail on ref locks. So git work on
one repo is serialised (a lock per repo URL, credentials stripped) while different repos, and
registry and chart lookups (plain HTTP, limited per host), run in parallel. Adapter creation is
serialised too: the factory caches them in dicts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from freightyard.shared.core.freight import Commit
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription
from freightyard.shared.sources.base import ChartSource, GitSource, ImageSource, SourceFactory, invalidate_memos
from freightyard.shared.sources.gitauth import split_credentials


@dataclass
class _LockedGit:
    inner: GitSource
    lock: threading.Lock

    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        with self.lock:
            return self.inner.commits(sub, limit)


@dataclass
class SerializedSources:
    """Wraps a ``SourceFactory`` for use from several threads."""

    inner: SourceFactory
    _git_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _factory_lock: threading.Lock = field(default_factory=threading.Lock)

    def git(self, sub: GitSubscription) -> GitSource:
        repo = split_credentials(sub.repo_url)[0]
        with self._factory_lock:
            lock = self._git_locks.setdefault(repo, threading.Lock())
            return _LockedGit(self.inner.git(sub), lock)

    def image(self, sub: ImageSubscription) -> ImageSource:
        with self._factory_lock:
            return self.inner.image(sub)

    def chart(self, sub: ChartSubscription) -> ChartSource:
        with self._factory_lock:
            return self.inner.chart(sub)

    def invalidate(self, repo_urls: list[str]) -> None:
        invalidate_memos(self.inner, repo_urls)
