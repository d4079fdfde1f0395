"""When each warehouse is next discovered: jittered intervals, exponential backoff on source errors.

Jitter spreads many pipelines with the same interval over time instead of polling in bursts;
backoff keeps a failing registry or git server from being hammered. Time comes from an injected
monotonic clock, randomness from an injected ``random.Random``, so tests are exact. Due times sit
in a heap (stale entries skipped lazily): the loop asks "what is due?" after every finished task,
and with thousands of keys a full scan each time was the idle controller's largest cost.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

MIN_DELAY_S = 1.0  # never schedule tighter than this, whatever a pipeline says


@dataclass(frozen=True)
class Backoff:
    """Delay after ``n`` consecutive failures: ``base * 2**(n-1)``, capped (seconds)."""

    base_s: float = 5.0
    cap_s: float = 600.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap_s, self.base_s * 2.0 ** max(0, failures - 1)))


@dataclass
class Scheduler:
    """Due times per key (a warehouse, or a pipeline's own wake-up); thread-safe."""

    clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    jitter: float = 0.1  # ± fraction of the interval
    backoff: Backoff = field(default_factory=Backoff)
    _due: dict[Hashable, float] = field(default_factory=dict)
    _failures: dict[Hashable, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _heap: list[tuple[float, int, Hashable]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def jittered(self, interval_s: float) -> float:
        spread = interval_s * self.jitter
        return max(MIN_DELAY_S, interval_s + self.rng.uniform(-spread, spread))

    def at(self, key: Hashable, delay_s: float) -> None:
        """Be due in ``delay_s`` seconds, unless already due sooner."""
        when = self.clock() + max(0.0, delay_s)
        with self._lock:
            current = self._due.get(key)
            if current is None or when < current:
                self._due[key] = when
                heapq.heappush(self._heap, (when, next(self._seq), key))

    def trigger(self, key: Hashable) -> None:
        """Be due now (a webhook, a new pipeline)."""
        self.at(key, 0.0)

    def succeeded(self, key: Hashable, interval_s: float) -> float:
        """Reset the failure count and schedule the next regular run; returns the delay."""
        delay = self.jittered(interval_s)
        with self._lock:
            self._failures.pop(key, None)
        self.at(key, delay)
        return delay

    def failed(self, key: Hashable, interval_s: float) -> float:
        """Count a failure and retry after the backoff (never later than the regular interval)."""
        with self._lock:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        delay = self.jittered(min(interval_s, self.backoff.delay(failures)))
        self.at(key, delay)
        return delay

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def pop_due(self) -> list[Hashable]:
        """Remove and return every key due now, earliest first."""
        now = self.clock()
        due: list[Hashable] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                when, _, key = heapq.heappop(self._heap)
                if self._due.get(key) == when:  # else stale: rescheduled sooner, or forgotten
                    del self._due[key]
                    due.append(key)
        return due

    def next_in(self) -> float | None:
        """Seconds until the earliest due key (0 if overdue); None when nothing is scheduled."""
        with self._lock:
            while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                heapq.heappop(self._heap)  # stale
            if not self._heap:
                return None
            return max(0.0, self._heap[0][0] - self.clock())

    def forget(self, predicate: Callable[[Hashable], bool]) -> None:
        """Drop keys (a removed pipeline's warehouses)."""
        with self._lock:
            for key in [k for k in self._due if predicate(k)]:
                del self._due[key]
            for key in [k for k in self._failures if predicate(k)]:
                del self._failures[key]
