"""Prometheus metrics of the controller, on their own registry (tests build many controllers).

Names (all prefixed ``freightyard_controller_``; counters get ``_total`` in the exposition):
``discoveries{pipeline,warehouse,result}`` (result: new, unchanged, none, error),
``freight_created{pipeline,warehouse}``, ``promotions{pipeline,stage,phase}``,
``verifications{pipeline,stage,phase}``, ``source_errors{pipeline,warehouse}``,
``webhooks{provider,result}``, ``refreshes{kind,result}``, ``reconcile_errors{pipeline}``,
``discovery_duration_seconds`` (histogram), ``pipelines`` and ``leader`` (gauges).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PREFIX = "freightyard_controller_"
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    discoveries: Counter
    freight_created: Counter
    promotions: Counter
    verifications: Counter
    source_errors: Counter
    webhooks: Counter
    refreshes: Counter
    reconcile_errors: Counter
    discovery_duration: Histogram
    pipelines: Gauge
    leader: Gauge
    shard_members: Gauge
    shard_pipelines: Gauge

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry(auto_describe=True)
        return cls(
            registry=r,
            discoveries=Counter(
                PREFIX + "discoveries",
                "Warehouse discoveries, by result",
                ("pipeline", "warehouse", "result"),
                registry=r,
            ),
            freight_created=Counter(
                PREFIX + "freight_created", "New freight added to a catalog", ("pipeline", "warehouse"), registry=r
            ),
            promotions=Counter(
                PREFIX + "promotions", "Automatic promotions, by phase", ("pipeline", "stage", "phase"), registry=r
            ),
            verifications=Counter(
                PREFIX + "verifications",
                "Verification results recorded, by phase",
                ("pipeline", "stage", "phase"),
                registry=r,
            ),
            source_errors=Counter(
                PREFIX + "source_errors",
                "Discoveries that failed on a source (git, registry, chart repository)",
                ("pipeline", "warehouse"),
                registry=r,
            ),
            webhooks=Counter(
                PREFIX + "webhooks", "Webhook deliveries, by provider and result", ("provider", "result"), registry=r
            ),
            refreshes=Counter(
                PREFIX + "refreshes", "Argo CD refresh requests after promotions", ("kind", "result"), registry=r
            ),
            reconcile_errors=Counter(
                PREFIX + "reconcile_errors", "Reconcile passes that failed unexpectedly", ("pipeline",), registry=r
            ),
            discovery_duration=Histogram(
                PREFIX + "discovery_duration_seconds",
                "Time one warehouse discovery took",
                buckets=DURATION_BUCKETS,
                registry=r,
            ),
            pipelines=Gauge(PREFIX + "pipelines", "Pipelines currently loaded", registry=r),
            leader=Gauge(PREFIX + "leader", "1 while this replica is the leader", registry=r),
            shard_members=Gauge(PREFIX + "shard_members", "Live controller replicas sharing the pipelines", registry=r),
            shard_pipelines=Gauge(PREFIX + "shard_pipelines", "Pipelines this replica drives", registry=r),
        )

    def exposition(self) -> tuple[bytes, str]:
        """The text to serve on ``/metrics`` and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
