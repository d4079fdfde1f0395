"""Per-host limits on remote requests: at most N in flight, a token bucket, and pauses after 429.

Why: with hundreds of pipelines a cold start would otherwise open as many connections to one
registry or git host as there are worker threads, and a ``429 Too Many Requests`` answered to one
request says nothing to the others. Every request to a host passes ``HostLimits.slot(host)``:
it waits for a concurrency slot, then for a token (``rate`` per second, bursts up to ``burst``),
then for any pause that host asked for with ``Retry-After``. Waiting is bounded by ``max_wait_s``;
past it the request fails with a temporary ``SourceError`` (the scheduler's backoff retries it).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from freightyard.shared.core.errors import SourceError


@dataclass(frozen=True)
class Limits:
    """``concurrency``: requests in flight per host; ``rate``: requests per second per host (0: unlimited);
    ``burst``: bucket size; ``max_wait_s``: the longest a request queues before failing."""

    concurrency: int = 8
    rate: float = 50.0
    burst: int = 100
    max_wait_s: float = 60.0

    @classmethod
    def from_env(cls) -> Limits:
        """``FREIGHTYARD_HOST_CONCURRENCY``, ``FREIGHTYARD_HOST_RATE``, ``FREIGHTYARD_HOST_BURST``."""
        default = cls()
        try:
            return cls(
                concurrency=max(1, int(os.environ.get("FREIGHTYARD_HOST_CONCURRENCY", default.concurrency))),
                rate=max(0.0, float(os.environ.get("FREIGHTYARD_HOST_RATE", default.rate))),
                burst=max(1, int(os.environ.get("FREIGHTYARD_HOST_BURST", default.burst))),
            )
        except ValueError as error:
            raise SourceError(
                f"FREIGHTYARD_HOST_CONCURRENCY/RATE/BURST: not a number ({error}); set integers (rate may be decimal)"
            ) from error


@dataclass
class _Host:
    slots: threading.BoundedSemaphore
    tokens: float
    stamp: float
    paused_until: float = 0.0


@dataclass
class HostLimits:
    """Shared by every client of a process; thread-safe."""

    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _hosts: dict[str, _Host] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    waited_s: float = 0.0  # total time requests spent queued (metrics, bench)

    def _host(self, host: str) -> _Host:
        with self._lock:
            found = self._hosts.get(host)
            if found is None:
                found = _Host(
                    threading.BoundedSemaphore(self.limits.concurrency), float(self.limits.burst), self.clock()
                )
                self._hosts[host] = found
            return found

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of ``host``'s slots for the duration of one request."""
        state = self._host(host)
        started = self.clock()
        if not state.slots.acquire(timeout=self.limits.max_wait_s):
            raise SourceError(
                f"{host}: {self.limits.concurrency} requests already in flight for too long", temporary=True
            )
        try:
            self._take_token(host, state, started)
            yield
        finally:
            state.slots.release()

    def _take_token(self, host: str, state: _Host, started: float) -> None:
        while True:
            with self._lock:
                now = self.clock()
                if self.limits.rate > 0:
                    state.tokens = min(float(self.limits.burst), state.tokens + (now - state.stamp) * self.limits.rate)
                state.stamp = now
                wait = max(0.0, state.paused_until - now)
                if not wait:
                    if self.limits.rate <= 0 or state.tokens >= 1.0 - 1e-9:  # float refill rounding
                        state.tokens -= 1.0 if self.limits.rate > 0 else 0.0
                        self.waited_s += now - started
                        return
                    wait = max(1e-3, (1.0 - state.tokens) / self.limits.rate)
            if now + wait - started > self.limits.max_wait_s:
                raise SourceError(
                    f"{host}: rate limit ({self.limits.rate:g}/s) or Retry-After would delay this request past "
                    f"{self.limits.max_wait_s:g}s; retried later",
                    temporary=True,
                )
            self.sleep(wait)

    def pause(self, host: str, seconds: float) -> None:
        """The host answered 429/503 with ``Retry-After``: hold every request to it that long."""
        state = self._host(host)
        with self._lock:
            state.paused_until = max(state.paused_until, self.clock() + max(0.0, seconds))


def host_of(url: str) -> str:
    """``host[:port]`` of an http(s) URL (credentials dropped), the key limits are kept under."""
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    return rest.rsplit("@", 1)[-1].lower()


_shared: dict[str, HostLimits] = {}  # "limits": the process-wide instance
_shared_lock = threading.Lock()


def shared() -> HostLimits:
    """The process-wide limits (from the environment on first use)."""
    with _shared_lock:
        if "limits" not in _shared:
            _shared["limits"] = HostLimits(Limits.from_env())
        return _shared["limits"]


def configure(limits: Limits) -> HostLimits:
    """Replace the process-wide limits (the controller's flags)."""
    with _shared_lock:
        _shared["limits"] = HostLimits(limits)
        return _shared["limits"]
