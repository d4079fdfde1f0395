"""Discovery by distinct source: pipelines asking the same question share one remote answer.

Why: hundreds of pipelines often watch one monorepo and a handful of images. Asked one by one,
the remotes see a request per pipeline per interval. ``SharedSources`` wraps a ``SourceFactory``
and keys every question by what it asks (kind, subscription — repo URL, credentials name and
selection options — and limit): an answer younger than the asker's ``max_age_s`` is reused, and
concurrent identical questions wait for the one already in flight (single flight) instead of
asking again. The git adapter underneath keeps one mirror per repo URL, so the pipelines also
share it. A webhook ``invalidate``\\ s a repo: the next question about it goes to the remote, and
every pipeline woken by the webhook shares that one fresh answer.

Errors are shared by the askers waiting on one flight but never cached: the next ask retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from freightyard.shared.core.freight import Chart, Commit, Image
from freightyard.shared.core.model import ChartSubscription, GitSubscription, ImageSubscription
from freightyard.shared.sources.base import ChartSource, GitSource, ImageSource, SourceFactory, invalidate_memos

T = TypeVar("T")
MAX_ENTRIES = 20_000  # distinct questions remembered; oldest dropped beyond this


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


@dataclass
class _Entry:
    value: Any
    at: float
    generation: int


@dataclass
class SharedSources:
    """Thread-safe; ``asked`` counts questions, ``answered_remotely`` the ones that reached the adapters."""

    inner: SourceFactory
    clock: Callable[[], float] = time.monotonic
    asked: int = 0
    answered_remotely: int = 0
    _entries: dict[Hashable, _Entry] = field(default_factory=dict, repr=False)
    _flights: dict[Hashable, _Flight] = field(default_factory=dict, repr=False)
    _generations: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def within(self, max_age_s: float) -> SourceFactory:
        """A factory whose answers are at most ``max_age_s`` old (0: only share answers in flight)."""
        return _View(self, max_age_s)

    def git(self, sub: GitSubscription) -> GitSource:
        return _Git(_View(self, 0.0), sub)

    def image(self, sub: ImageSubscription) -> ImageSource:
        return _Image(_View(self, 0.0), sub)

    def chart(self, sub: ChartSubscription) -> ChartSource:
        return _Chart(_View(self, 0.0), sub)

    def invalidate(self, repo_urls: Iterable[str]) -> None:
        """Forget what is known about these repos (a webhook said they changed), here and in the
        adapters' own memos (the tag -> digest memo of image repos)."""
        urls = list(repo_urls)
        with self._lock:
            for url in urls:
                self._generations[url] = self._generations.get(url, 0) + 1
        invalidate_memos(self.inner, urls)

    def ask(self, key: Hashable, repo_url: str, max_age_s: float, fetch: Callable[[], T]) -> T:
        """The answer to ``key``: remembered if fresh enough, else shared with a flight, else fetched."""
        with self._lock:
            self.asked += 1
            generation = self._generations.get(repo_url, 0)
            entry = self._entries.get(key)
            if entry is not None and entry.generation == generation and self.clock() - entry.at <= max_age_s:
                return entry.value  # type: ignore[no-any-return]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value  # type: ignore[no-any-return]
        started = self.clock()
        try:
            value = fetch()
        except BaseException as error:
            flight.error = error
            raise
        else:
            flight.value = value
            with self._lock:
                self.answered_remotely += 1
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = _Entry(value, started, generation)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()


@dataclass(frozen=True)
class _View:
    shared: SharedSources
    max_age_s: float

    def git(self, sub: GitSubscription) -> GitSource:
        return _Git(self, sub)

    def image(self, sub: ImageSubscription) -> ImageSource:
        return _Image(self, sub)

    def chart(self, sub: ChartSubscription) -> ChartSource:
        return _Chart(self, sub)


@dataclass(frozen=True)
class _Git:
    view: _View
    sub: GitSubscription

    def commits(self, sub: GitSubscription, limit: int) -> list[Commit]:
        inner = self.view.shared.inner
        found = self.view.shared.ask(
            ("git", sub, limit), sub.repo_url, self.view.max_age_s, lambda: inner.git(sub).commits(sub, limit)
        )
        return list(found)


@dataclass(frozen=True)
class _Image:
    view: _View
    sub: ImageSubscription

    def images(self, sub: ImageSubscription, limit: int) -> list[Image]:
        inner = self.view.shared.inner
        found = self.view.shared.ask(
            ("image", sub, limit), sub.repo_url, self.view.max_age_s, lambda: inner.image(sub).images(sub, limit)
        )
        return list(found)

    def image_for_tag(self, sub: ImageSubscription, tag: str) -> Image | None:
        inner = self.view.shared.inner
        return self.view.shared.ask(
            ("tag", sub, tag), sub.repo_url, self.view.max_age_s, lambda: inner.image(sub).image_for_tag(sub, tag)
        )


@dataclass(frozen=True)
class _Chart:
    view: _View
    sub: ChartSubscription

    def charts(self, sub: ChartSubscription, limit: int) -> list[Chart]:
        inner = self.view.shared.inner
        found = self.view.shared.ask(
            ("chart", sub, limit), sub.repo_url, self.view.max_age_s, lambda: inner.chart(sub).charts(sub, limit)
        )
        return list(found)
