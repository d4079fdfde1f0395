"""The long-running controller: keeps pipelines loaded, runs due work on a small pool, obeys the leader lock.

Work items are scheduler keys: ``("discover", pipeline, warehouse)`` on each warehouse's jittered
interval (or at once after a webhook) and ``("advance", pipeline)`` when a soak timer ends, a
verification needs polling or a failed promotion may be retried. Everything due for one pipeline
runs as one task, never two tasks for the same pipeline at once. Only the leader runs tasks; a
replica that becomes leader first triggers every warehouse, so nothing waits for a full interval.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from freightyard.controller import webhooks
from freightyard.controller.leader import Elector, ShardElector
from freightyard.controller.metrics import Metrics
from freightyard.controller.pipelines_source import PipelineSet
from freightyard.controller.runtime.reconcile import Reconciler
from freightyard.controller.runtime.schedule import Scheduler
from freightyard.controller.server import Answer, Routes
from freightyard.shared.core.errors import FreightyardError, SourceError
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.engine.sharing import SharedSources

log = logging.getLogger("freightyard.controller")
RETRY_AFTER_ERROR_S = 30.0


@dataclass(frozen=True)
class Settings:
    """Loop knobs; every duration in seconds.

    ``workers``: pipelines reconciled in parallel (default 4). ``reload_s``: how often pipeline
    definitions are re-read (default 5). ``election_s``: how often leadership is acquired/renewed
    (default 2; keep well under the Lease duration). ``tick_s``: the longest the loop sleeps without
    looking at the scheduler (default 1). ``stale_s``: ``/healthz`` fails when the loop has not
    ticked for this long (default 60). ``interval_s``: override every warehouse interval (tests, bench).
    """

    workers: int = 4
    reload_s: float = 5.0
    election_s: float = 2.0
    tick_s: float = 1.0
    stale_s: float = 60.0
    interval_s: float | None = None


class Controller:
    """Owns the pipelines' engines, the scheduler and the worker pool."""

    def __init__(
        self,
        pipelines: PipelineSet,
        engine_for: Callable[[Pipeline], Engine],
        *,
        reconciler: Reconciler,
        elector: Elector,
        metrics: Metrics,
        scheduler: Scheduler,
        secrets: webhooks.Secrets,
        settings: Settings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipelines = pipelines
        self.engine_for = engine_for
        self.reconciler = reconciler
        self.elector = elector
        self.metrics = metrics
        self.scheduler = scheduler
        self.secrets = secrets
        self.settings = settings or Settings()
        self.monotonic = monotonic
        self.engines: dict[str, Engine] = {}
        self.api: Callable[[str, str, dict[str, str], bytes], Answer] | None = None  # the UI API, when enabled
        self.leader = False
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[str, set[Hashable]] = {}
        self._busy: set[str] = set()
        self._ticked = monotonic()
        # Sharding (an elector with ``owns``): the pipelines this replica drives now, and what that was computed from.
        self._owned: set[str] | None = set() if isinstance(elector, ShardElector) else None
        self._owned_from: tuple[object, ...] = ()
        self.summary: list[str] = []

    # ----------------------------------------------------------------- pipelines

    def reload(self) -> None:
        """Re-read pipeline definitions; new or changed ones are discovered at once (if this replica owns them)."""
        loaded = self.pipelines.load()
        with self._lock:
            for name in [n for n in self.engines if n not in loaded]:
                log.info("pipeline %s removed", name, extra={"pipeline": name})
                del self.engines[name]
                self.scheduler.forget(functools.partial(_belongs_to, name))
                self.reconciler.forget(name)
            for name, pipeline in loaded.items():
                engine = self.engines.get(name)
                if engine is not None and (engine.pipeline is pipeline or engine.pipeline == pipeline):
                    continue
                log.info("pipeline %s %s", name, "changed" if engine else "loaded", extra={"pipeline": name})
                self.engines[name] = self.engine_for(pipeline)
                self._trigger_all(pipeline)
            self.metrics.pipelines.set(len(self.engines))

    def _trigger_all(self, pipeline: Pipeline) -> None:
        for warehouse in pipeline.warehouses:
            self.scheduler.trigger(("discover", pipeline.name, warehouse.name))
        self.scheduler.trigger(("advance", pipeline.name))

    def acted(self, pipeline: str, stage: str, promoted: bool) -> None:
        """After a promotion or approval through the API: refresh Argo CD now, then verify/advance at once."""
        if promoted:
            refreshed = self.reconciler.refresher.promoted(pipeline, stage)
            if refreshed:
                log.info(
                    "asked Argo CD to refresh %s", ", ".join(refreshed), extra={"pipeline": pipeline, "stage": stage}
                )
        self.scheduler.trigger(("advance", pipeline))
        self._wake.set()

    def trigger(self, found: list[webhooks.Target]) -> None:
        """Discover these warehouses now (webhooks)."""
        for target in found:
            self.scheduler.trigger(("discover", target.pipeline, target.warehouse))
        if found:
            self._wake.set()

    # ----------------------------------------------------------------- the loop

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; in-flight tasks finish before returning."""
        next_election = next_reload = 0.0
        with concurrent.futures.ThreadPoolExecutor(self.settings.workers, thread_name_prefix="reconcile") as pool:
            while not stop.is_set():
                now = self.monotonic()
                self._ticked = now
                if now >= next_election:
                    self._elect()
                    next_election = now + self.settings.election_s
                if self.leader:
                    if now >= next_reload:
                        self._safe_reload()
                        self._update_shard()
                        next_reload = now + self.settings.reload_s
                    self._dispatch(pool)
                waits = [self.settings.tick_s, next_election - now]
                upcoming = self.scheduler.next_in()
                if upcoming is not None and self.leader:
                    waits.append(upcoming)
                self._wake.wait(max(0.01, min(waits)))
                self._wake.clear()
        self.elector.release()
        self.leader = False
        self.metrics.leader.set(0)

    def _elect(self) -> None:
        was = self.leader
        self.leader = self.elector.ensure()
        self.metrics.leader.set(1 if self.leader else 0)
        if self.leader and not was:
            self._safe_reload()
            if not isinstance(self.elector, ShardElector):
                with self._lock:
                    pipelines = [e.pipeline for e in self.engines.values()]
                for pipeline in pipelines:
                    self._trigger_all(pipeline)
        self._update_shard()
        if self.leader and isinstance(self.elector, ShardElector):
            for wake in self.elector.received():  # webhooks another member received for our pipelines
                self._invalidate(list(wake.repos))
                self.trigger([webhooks.Target(p, w) for p, w in wake.targets])

    def _update_shard(self) -> None:
        """Recompute which pipelines this replica owns when members, the handoff or the pipelines changed;
        gained pipelines are discovered at once, lost ones dropped from the schedule."""
        elector = self.elector
        if not isinstance(elector, ShardElector):
            return
        with self._lock:
            names = tuple(sorted(self.engines))
            basis = (tuple(elector.members), elector.settling(), names)
            if basis == self._owned_from:
                return
            owned = {name for name in names if elector.owns(name)}
            before = self._owned or set()
            self._owned, self._owned_from = owned, basis
            gained = [self.engines[n].pipeline for n in owned - before]
            for name in before - owned:
                self.scheduler.forget(functools.partial(_belongs_to, name))
                self._pending.pop(name, None)
        for pipeline in gained:
            self._trigger_all(pipeline)
        self.metrics.shard_members.set(len(elector.members))
        self.metrics.shard_pipelines.set(len(owned))
        if gained or len(before) != len(owned):
            log.info("shard: %d of %d pipelines here (%d members)", len(owned), len(names), len(elector.members))

    def _safe_reload(self) -> None:
        try:
            self.reload()
        except FreightyardError as error:
            log.error("cannot load pipelines: %s", error)

    def _dispatch(self, pool: concurrent.futures.Executor) -> None:
        """Hand due pipelines to idle workers; the rest wait here (not in the pool's queue), so a
        stop only waits for the tasks actually running."""
        for key in self.scheduler.pop_due():
            if isinstance(key, tuple) and len(key) >= 2:
                self._pending.setdefault(str(key[1]), set()).add(key)
        with self._lock:
            for name in list(self._pending):
                if len(self._busy) >= self.settings.workers:
                    break
                if name in self._busy:
                    continue
                keys = self._pending.pop(name)
                engine = self.engines.get(name)
                if engine is None or (self._owned is not None and name not in self._owned):
                    continue  # another replica's pipeline: it is triggered again if it moves here
                self._busy.add(name)
                pool.submit(self._task, engine, keys)

    def _task(self, engine: Engine, keys: set[Hashable]) -> None:
        name = engine.pipeline.name
        try:
            self.run_pipeline(engine, {str(k[2]) for k in keys if isinstance(k, tuple) and k[0] == "discover"})
        finally:
            with self._lock:
                self._busy.discard(name)
            self._wake.set()

    def run_pipeline(self, engine: Engine, warehouses: set[str]) -> bool:
        """Discover ``warehouses`` of one pipeline, then advance it; False when something failed."""
        pipeline = engine.pipeline
        ok = True
        for warehouse in pipeline.warehouses:
            if warehouse.name not in warehouses:
                continue
            key = ("discover", pipeline.name, warehouse.name)
            interval = self.settings.interval_s or warehouse.interval_seconds
            extra = {"pipeline": pipeline.name, "warehouse": warehouse.name}
            try:
                # An answer another pipeline got less than (a jittered) interval ago is as fresh as our own poll.
                self.reconciler.discover(engine, warehouse, interval * (1.0 - self.scheduler.jitter))
            except SourceError as error:
                ok = False
                delay = self.scheduler.failed(key, interval)
                self.metrics.source_errors.labels(pipeline.name, warehouse.name).inc()
                self.metrics.discoveries.labels(pipeline.name, warehouse.name, "error").inc()
                log.warning("discovery failed (retry in %.0fs): %s", delay, error, extra=extra)
                continue
            except FreightyardError as error:
                ok = False
                delay = self.scheduler.failed(key, interval)
                self.metrics.reconcile_errors.labels(pipeline.name).inc()
                log.warning("discovery could not be recorded (retry in %.0fs): %s", delay, error, extra=extra)
                continue
            except Exception:
                ok = False
                self.scheduler.failed(key, interval)
                self.metrics.reconcile_errors.labels(pipeline.name).inc()
                log.exception("discovery crashed", extra=extra)
                continue
            self.scheduler.succeeded(key, interval)
        try:
            advanced = self.reconciler.advance(engine)
        except FreightyardError as error:
            self.metrics.reconcile_errors.labels(pipeline.name).inc()
            log.warning(
                "reconcile failed (retry in %.0fs): %s", RETRY_AFTER_ERROR_S, error, extra={"pipeline": pipeline.name}
            )
            self.scheduler.at(("advance", pipeline.name), RETRY_AFTER_ERROR_S)
            return False
        except Exception:
            self.metrics.reconcile_errors.labels(pipeline.name).inc()
            log.exception("reconcile crashed", extra={"pipeline": pipeline.name})
            self.scheduler.at(("advance", pipeline.name), RETRY_AFTER_ERROR_S)
            return False
        if advanced.next_in is not None:
            self.scheduler.at(("advance", pipeline.name), advanced.next_in)
        return ok

    def run_once(self) -> bool:
        """One pass over every pipeline (``--once``) under the same lock, lease or shard as the loop;
        False when another controller holds it, a definition could not be loaded or some discovery or
        reconcile failed. ``self.summary`` then holds one line per pipeline (and per problem)."""
        if not self.elector.ensure():
            self.summary = [f"not run: another controller holds the {self.elector.description}; try again later"]
            return False
        try:
            self.reload()
            ok = not self.pipelines.problems
            summary = []
            shard = self.elector if isinstance(self.elector, ShardElector) else None
            for name, engine in sorted(self.engines.items()):
                if shard is not None and not shard.owns(name):
                    summary.append(f"pipeline {name}: skipped (another shard member drives it)")
                    continue
                passed = self.run_pipeline(engine, {w.name for w in engine.pipeline.warehouses})
                ok = passed and ok
                summary.append(f"pipeline {name}: {'ok' if passed else 'failed (see the log)'}")
            summary += [f"not loaded: {problem}" for problem in self.pipelines.problems]
            self.summary = summary
            return ok
        finally:
            self.elector.release()

    # ----------------------------------------------------------------- HTTP

    def routes(self) -> Routes:
        return Routes(health=self.health, ready=self.ready, metrics=self._metrics, webhook=self.webhook, api=self.api)

    def health(self) -> Answer:
        age = self.monotonic() - self._ticked
        ok = age < self.settings.stale_s
        return Answer.json(
            200 if ok else 503,
            {"ok": ok, "leader": self.leader, "pipelines": len(self.engines), "loopAgeSeconds": round(age, 3)},
        )

    def ready(self) -> Answer:
        """Ready only while leading (sharded: while holding its own Lease): the Service then sends
        webhooks to a replica that acts on them."""
        if isinstance(self.elector, ShardElector):
            body: dict[str, object] = {
                "leader": self.leader,
                "shard": {
                    "members": list(self.elector.members),
                    "pipelines": len(self._owned or ()),
                    "of": len(self.engines),
                    "settling": self.elector.settling(),
                },
            }
            return Answer.json(200 if self.leader else 503, body)
        return Answer.json(200 if self.leader else 503, {"leader": self.leader})

    def _invalidate(self, repos: list[str]) -> None:
        if isinstance(self.reconciler.sources, SharedSources):
            self.reconciler.sources.invalidate(repos)

    def _forward(self, found: list[webhooks.Target], repos: list[str]) -> list[webhooks.Target]:
        """With shards: pass the targets other members own to their mailboxes; return our own."""
        elector = self.elector
        if not isinstance(elector, ShardElector) or not elector.members:
            return found
        by_owner: dict[str, list[webhooks.Target]] = {}
        for target in found:
            by_owner.setdefault(elector.owner_of(target.pipeline), []).append(target)
        for owner, theirs in sorted(by_owner.items()):
            if owner and owner != elector.identity:
                elector.forward(owner, repos, [(t.pipeline, t.warehouse) for t in theirs])
                log.info("webhook: %d warehouse(s) passed on to shard member %s", len(theirs), owner)
        return by_owner.get(elector.identity, []) if elector.identity in elector.members else found

    def _metrics(self) -> Answer:
        body, content_type = self.metrics.exposition()
        return Answer(200, body, content_type)

    def webhook(self, provider: str, headers: dict[str, str], query: dict[str, str], body: bytes) -> Answer:
        try:
            delivery = webhooks.parse(provider, headers, query, body, self.secrets)
        except webhooks.WebhookError as error:
            self.metrics.webhooks.labels(provider if provider in webhooks.PROVIDERS else "unknown", "rejected").inc()
            log.warning("webhook refused (%d): %s", error.status, error.message)
            return Answer.json(error.status, {"error": error.message})
        if delivery.ignored:
            self.metrics.webhooks.labels(provider, "ignored").inc()
            return Answer.json(200, {"ignored": delivery.ignored})
        with self._lock:
            pipelines = [e.pipeline for e in self.engines.values()]
        found = webhooks.targets(pipelines, delivery.repos, delivery.refs)
        if not self.leader:
            self.metrics.webhooks.labels(provider, "not-leader").inc()
            return Answer.json(
                503,
                {
                    "error": "this replica is not the leader; retry (the Service routes to the "
                    "ready replica, which is the leader)"
                },
            )
        by_name = {p.name: p for p in pipelines}
        repos = [
            sub.repo_url
            for target in found
            for warehouse in by_name[target.pipeline].warehouses
            if warehouse.name == target.warehouse
            for sub in warehouse.subscriptions
        ]
        self._invalidate(repos)
        self.trigger(self._forward(found, repos))
        self.metrics.webhooks.labels(provider, "triggered" if found else "unmatched").inc()
        log.info("webhook %s %s: %d warehouse(s) triggered", provider, delivery.event, len(found))
        return Answer.json(
            202,
            {
                "triggered": [{"pipeline": t.pipeline, "warehouse": t.warehouse} for t in found],
                "repositories": list(delivery.repos),
            },
        )


def _belongs_to(pipeline: str, key: Hashable) -> bool:
    return isinstance(key, tuple) and len(key) >= 2 and key[1] == pipeline
