"""One pass over one pipeline: discover due warehouses, then verify and auto-promote until settled.

Everything durable goes through the pipeline's ``Engine`` (and so its store); the only memory kept
here is the retry backoff of failed promotions, which a restart may forget without harm. A pass is
idempotent: run it twice, or after a crash, and it ends in the same state — a promotion that was
cut short is recorded as interrupted and promoted again (eligibility and the current pin are re-read
each time), and verification runs for it: work a dead process left behind is never taken as done.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from freightyard.controller.metrics import Metrics
from freightyard.controller.runtime import autopromote, verify
from freightyard.controller.runtime.refresh import NoRefresh, Refresher
from freightyard.controller.runtime.schedule import Backoff
from freightyard.shared.core.errors import FreightyardError, MechanismError, NotEligibleError
from freightyard.shared.core.model import Stage, Warehouse
from freightyard.shared.core.state import (
    FAILED,
    InFlight,
    PromotionRecord,
    State,
    parse_time,
    state_from_document,
)
from freightyard.shared.engine.discovery import discover
from freightyard.shared.engine.promotion import PENDING, Engine
from freightyard.shared.engine.sharing import SharedSources
from freightyard.shared.sources.base import SourceFactory

log = logging.getLogger("freightyard.controller")
ACTOR = "controller:auto-promotion"
INTERRUPTED_AFTER = dt.timedelta(minutes=30)  # longer than any mechanism runs (git and tool timeouts)


@dataclass(frozen=True)
class Advanced:
    """What a pass did and when the pipeline wants to be looked at again (seconds; None: not before
    its next discovery)."""

    promoted: tuple[PromotionRecord, ...] = ()
    next_in: float | None = None


@dataclass
class _Retry:
    freight: str
    failures: int
    at: float  # monotonic time the next attempt is allowed


@dataclass
class Reconciler:
    """Shared by every pipeline; holds no per-pipeline state except promotion retry timers."""

    sources: SourceFactory
    metrics: Metrics
    refresher: Refresher = field(default_factory=NoRefresh)
    verifier: Callable[[], verify.VerifyFn | None] = verify.lookup
    verifications: verify.Inline | verify.Background = field(default_factory=verify.Inline)
    monotonic: Callable[[], float] = time.monotonic
    actor: str = ACTOR
    verify_poll_s: float = 5.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=10.0, cap_s=600.0))
    _retries: dict[tuple[str, str], _Retry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _warned: set[tuple[str, str]] = field(default_factory=set)
    _states: dict[str, tuple[Any, State, object]] = field(default_factory=dict)  # name -> (data, parsed, pipeline)
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def state(self, engine: Engine) -> State:
        """``engine.state()``, parsed only when the stored ``data`` changed since this pipeline's last read.

        Idle pipelines are read every interval; the read is cheap, turning ``data`` back into a
        ``State`` is not. Nothing here mutates a ``State`` it is given, so one may be reused.
        """
        document = engine.store.read().document
        data = (document or {}).get("data")
        name = engine.pipeline.name
        with self._lock:
            memo = self._states.get(name)
        if memo is not None and data is not None and memo[0] == data and memo[2] is engine.pipeline:
            return memo[1]
        state = state_from_document(document, engine.pipeline)  # as Engine.state(): migrated, owner checked
        with self._lock:
            self._states[name] = (data, state, engine.pipeline)
        return state

    def discover(self, engine: Engine, warehouse: Warehouse, max_age_s: float = 0.0) -> str:
        """Discover one warehouse and add new freight; returns new|unchanged|none; raises SourceError.

        With shared sources, answers up to ``max_age_s`` old (another pipeline asked) are reused.
        """
        pipeline = engine.pipeline.name
        known = self.state(engine).freight.keys()
        started = self.monotonic()
        sources = self.sources.within(max_age_s) if isinstance(self.sources, SharedSources) else self.sources
        try:
            found = discover(warehouse, sources, known)
        finally:
            self.metrics.discovery_duration.observe(self.monotonic() - started)
        extra = {"pipeline": pipeline, "warehouse": warehouse.name}
        if found.freight is None:
            log.info("warehouse %s made no freight: %s", warehouse.name, found.reason, extra=extra)
            result = "none"
        elif found.new and engine.add_freight(found.freight):
            log.info(
                "new freight %s (%s) from warehouse %s",
                found.freight.alias,
                found.freight.short_id,
                warehouse.name,
                extra={**extra, "freight": found.freight.id},
            )
            self.metrics.freight_created.labels(pipeline, warehouse.name).inc()
            result = "new"
        else:
            result = "unchanged"
        self.metrics.discoveries.labels(pipeline, warehouse.name, result).inc()
        return result

    def advance(self, engine: Engine) -> Advanced:
        """Verify pending stages and auto-promote until nothing changes; refresh Argo CD after promotions."""
        promoted: list[PromotionRecord] = []
        wake: list[float] = []
        state = self.state(engine)
        died = functools.partial(self._died, now=engine.clock())
        if any(s.in_flight for s in state.stages.values()) and engine.recover_interrupted(died):
            state = self.state(engine)
        for _ in range(2 * len(engine.pipeline.stages) + 2):  # each round moves freight one stage at most
            changed = self._verify_pending(engine, state, wake)
            if changed:
                state = self.state(engine)
            records = self._auto_promote(engine, state, wake)
            promoted += records
            if not (changed or records):
                break
            state = self.state(engine)
        now = engine.clock()
        for stage in autopromote.auto_stages(engine.pipeline):
            for end in (
                autopromote.next_soak_end(engine.pipeline, state, stage, now),
                autopromote.window_opens(stage, now),
            ):
                if end is not None:
                    wake.append((end - now).total_seconds() + 1.0)
        for stage_name in dict.fromkeys(r.stage for r in promoted if r.phase != FAILED):
            refreshed = self.refresher.promoted(engine.pipeline.name, stage_name)
            if refreshed:
                log.info(
                    "asked Argo CD to refresh %s",
                    ", ".join(refreshed),
                    extra={"pipeline": engine.pipeline.name, "stage": stage_name},
                )
        return Advanced(tuple(promoted), min(wake, default=None))

    def _died(self, started: InFlight, *, now: dt.datetime) -> bool:
        """Only one controller drives a pipeline (lock, lease or shard), so its own promotions begun
        before this process started belong to a process that is gone; anyone else's count as gone
        once they are older than any mechanism may run."""
        try:
            at = parse_time(started.at)
        except ValueError:
            return True
        if started.by == self.actor and at < self.started.replace(microsecond=0):
            return True
        return now - at > INTERRUPTED_AFTER

    def _auto_promote(self, engine: Engine, state: State, wake: list[float]) -> list[PromotionRecord]:
        pipeline = engine.pipeline
        records: list[PromotionRecord] = []
        for stage in autopromote.auto_stages(pipeline):
            decision = autopromote.decide(pipeline, state, stage, engine.clock(), self.actor)
            if decision.release_hold:
                held = state.stages[stage.name].hold
                engine.change(functools.partial(_release, stage=stage.name, held=held))
                log.info("%s: %s", stage.name, decision.why, extra={"pipeline": pipeline.name, "stage": stage.name})
                continue
            if decision.promote is None:
                continue
            freight = decision.promote
            key = (pipeline.name, stage.name)
            with self._lock:
                retry = self._retries.get(key)
            if retry and retry.freight == freight.id and retry.at > self.monotonic():
                wake.append(retry.at - self.monotonic())
                continue
            extra = {"pipeline": pipeline.name, "stage": stage.name, "freight": freight.id}
            try:
                record = engine.promote(freight.id, stage.name, self.actor)
            except NotEligibleError as error:  # the state moved under us; the next round re-decides
                log.info("auto-promotion skipped: %s", error, extra=extra)
                continue
            except MechanismError as error:
                failures = retry.failures + 1 if retry and retry.freight == freight.id else 1
                delay = self.backoff.delay(failures)
                with self._lock:
                    self._retries[key] = _Retry(freight.id, failures, self.monotonic() + delay)
                wake.append(delay)
                self.metrics.promotions.labels(pipeline.name, stage.name, FAILED).inc()
                log.warning(
                    "auto-promotion of %s into %s failed (attempt %d, retrying in %.0fs): %s",
                    freight.alias,
                    stage.name,
                    failures,
                    delay,
                    error,
                    extra={**extra, "phase": FAILED},
                )
                continue
            with self._lock:
                self._retries.pop(key, None)
            self.metrics.promotions.labels(pipeline.name, stage.name, record.phase).inc()
            records.append(record)
        return records

    def _verify_pending(self, engine: Engine, state: State, wake: list[float]) -> bool:
        changed = False
        for stage in engine.pipeline.stages:
            stage_state = state.stages.get(stage.name)
            record = stage_state.current if stage_state else None
            mark = stage_state.verifications.get(record.freight) if stage_state and record else None
            if record is None or mark is None or mark.phase != PENDING:
                continue
            if self._verify(engine, stage, record.freight, mark.at, wake):
                changed = True
        return changed

    def _verify(self, engine: Engine, stage: Stage, freight_id: str, since: str, wake: list[float]) -> bool:
        pipeline = engine.pipeline.name
        extra = {"pipeline": pipeline, "stage": stage.name, "freight": freight_id}
        runner = self.verifier()
        if runner is None:
            if (pipeline, stage.name) not in self._warned:
                self._warned.add((pipeline, stage.name))
                log.warning(
                    "stage %s has verification but this build has no verification runner; it stays "
                    "Pending until a result is recorded (freightyard verify)",
                    stage.name,
                    extra=extra,
                )
            return False
        timeout = stage.verification.timeout_seconds if stage.verification else 0
        if timeout and since and (engine.clock() - parse_time(since)) > dt.timedelta(seconds=timeout):
            return self._record(
                engine, stage.name, freight_id, "Failed", f"verification timed out after {timeout}s", check="timeout"
            )
        done, result = self.verifications.poll(
            (pipeline, stage.name, freight_id), functools.partial(runner, engine, stage.name)
        )
        if not done:
            wake.append(self.verify_poll_s)
            return False
        try:
            outcome = verify.interpret(result())
        except FreightyardError as error:
            log.warning("verification of %s failed to run: %s", stage.name, error, extra=extra)
            wake.append(self.verify_poll_s)
            return False
        after = self.state(engine).stages.get(stage.name)
        mark = after.verifications.get(freight_id) if after else None
        if mark is not None and mark.phase != PENDING:  # the runner recorded it itself
            self.metrics.verifications.labels(pipeline, stage.name, mark.phase).inc()
            return True
        if outcome.phase:
            return self._record(engine, stage.name, freight_id, outcome.phase, outcome.message)
        wake.append(self.verify_poll_s)
        return False

    def _record(
        self, engine: Engine, stage: str, freight_id: str, phase: str, message: str, *, check: str = ""
    ) -> bool:
        engine.record_verification(stage, freight_id, phase, message, check=check)
        self.metrics.verifications.labels(engine.pipeline.name, stage, phase).inc()
        log.info(
            "verification of %s in %s: %s%s",
            freight_id[:7],
            stage,
            phase,
            f" ({message})" if message else "",
            extra={"pipeline": engine.pipeline.name, "stage": stage, "freight": freight_id, "phase": phase},
        )
        return True

    def forget(self, pipeline: str) -> None:
        """Drop retry timers of a pipeline that is gone."""
        with self._lock:
            for key in [k for k in self._retries if k[0] == pipeline]:
                del self._retries[key]
            self._states.pop(pipeline, None)


def _release(state: State, stage: str, held: str) -> None:
    stage_state = state.stage(stage)
    if stage_state.hold == held:
        stage_state.hold = ""
