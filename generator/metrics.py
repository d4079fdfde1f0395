"""Prometheus metrics of the generator: requests, latency and errors, one registry per app.

Each ``create_app`` gets its own registry (tests build many apps). Under gunicorn with several
workers, set ``PROMETHEUS_MULTIPROC_DIR`` to a writable empty directory: values are then shared
through files and ``/metrics`` adds up every worker (the gunicorn config cleans up dead workers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    errors: Counter
    parameter_sets: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter(
                "freightyard_generator_requests",
                "HTTP requests served, by endpoint and status",
                ("endpoint", "status"),
                registry=registry,
            ),
            latency=Histogram(
                "freightyard_generator_request_duration_seconds",
                "Time to answer, in seconds",
                ("endpoint",),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            errors=Counter(
                "freightyard_generator_errors",
                "Error answers (4xx/5xx), by endpoint and reason",
                ("endpoint", "reason"),
                registry=registry,
            ),
            parameter_sets=Counter(
                "freightyard_generator_parameter_sets",
                "Parameter sets returned, by pipeline",
                ("pipeline",),
                registry=registry,
            ),
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text to serve on ``/metrics`` and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
