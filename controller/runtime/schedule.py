"""When each warehouse is next discovered: jittered intervals, exponential backoff on source errors.

Jitter spreads many pipelines with the same interval over time instead of polling in bursts;
backoff keeps a failing registry or git server from being hammered. Time comes from an injected
monotonic clock, randomness from an injected ``random.Random``, so tests are exact.
"""

from __future__ import annotations

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

    def jittered(self, interval_s: float) -> float:
        spread = interval_s * self.jitter
        return max(MIN_DELAY_S, interval_s + self.rng.uniform(-spread, spread))

    def at(self, key: Hashable, delay_s: float) -> None:
        """Be due in ``delay_s`` seconds, unless already due sooner."""
        when = self.clock() + max(0.0, delay_s)
        with self._lock:
            self._due[key] = min(when, self._due.get(key, when))

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
        with self._lock:
            due = sorted(((when, key) for key, when in self._due.items() if when <= now), key=lambda pair: pair[0])
            for _, key in due:
                del self._due[key]
        return [key for _, key in due]

    def next_in(self) -> float | None:
        """Seconds until the earliest due key (0 if overdue); None when nothing is scheduled."""
        with self._lock:
            if not self._due:
                return None
            return max(0.0, min(self._due.values()) - self.clock())

    def forget(self, predicate: Callable[[Hashable], bool]) -> None:
        """Drop keys (a removed pipeline's warehouses)."""
        with self._lock:
            for key in [k for k in self._due if predicate(k)]:
                del self._due[key]
            for key in [k for k in self._failures if predicate(k)]:
                del self._failures[key]
