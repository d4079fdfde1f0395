"""The controller's pure parts and one pipeline's reconciliation, with fakes and a settable clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from freightyard.controller.metrics import Metrics
from freightyard.controller.runtime import autopromote
from freightyard.controller.runtime.reconcile import Reconciler
from freightyard.controller.runtime.schedule import Backoff, Scheduler
from freightyard.shared.core.errors import MechanismError
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.mechanisms.base import MechanismResult, PromotionContext, mechanism_for
from freightyard.shared.stores.file import FileStore
from tests.helpers.controller_fakes import Clock, FakeSources, pipeline, seeded


def test_scheduler_jitters_within_bounds_and_backs_off() -> None:
    clock = Clock()
    scheduler = Scheduler(clock.monotonic, seeded(7), jitter=0.1, backoff=Backoff(base_s=5, cap_s=60))
    delays = [scheduler.jittered(100) for _ in range(200)]
    assert all(90 <= d <= 110 for d in delays) and len(set(delays)) > 100
    key = ("discover", "shop", "main")
    ratios = [scheduler.failed(key, 300) / base for base in (5, 10, 20, 40)]
    assert all(0.9 <= r <= 1.1 for r in ratios), ratios
    assert scheduler.failed(key, 300) <= 66  # capped at 60 ± 10 %
    assert scheduler.failed(key, 30) <= 33  # never later than the regular interval
    scheduler.succeeded(key, 300)
    assert scheduler.failures(key) == 0


def test_scheduler_pops_due_keys_and_triggers_win() -> None:
    clock = Clock()
    scheduler = Scheduler(clock.monotonic, seeded(1), jitter=0)
    scheduler.at("a", 10)
    scheduler.at("b", 5)
    assert scheduler.pop_due() == [] and scheduler.next_in() == 5
    scheduler.trigger("a")  # a webhook: due now, although it was due in 10 s
    assert scheduler.pop_due() == ["a"]
    clock.advance(5)
    assert scheduler.pop_due() == ["b"] and scheduler.next_in() is None


def engine(tmp_path: Any, clock: Clock, verification: str = "", mechanisms: Any = mechanism_for) -> Engine:
    return Engine(pipeline(verification), FileStore(tmp_path / "state.yaml"), clock=clock.wall, mechanisms=mechanisms)


def reconciler(sources: FakeSources, clock: Clock, verifier: Any = lambda: None) -> Reconciler:
    return Reconciler(sources, Metrics.create(), verifier=verifier, monotonic=clock.monotonic)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_discovery_then_auto_promotion_through_a_soak_timer(tmp_path: Any) -> None:
    clock, sources = Clock(), FakeSources()
    eng, rec = engine(tmp_path, clock), reconciler(sources, clock)
    assert rec.discover(eng, eng.pipeline.warehouses[0]) == "new"
    assert rec.discover(eng, eng.pipeline.warehouses[0]) == "unchanged"
    advanced = rec.advance(eng)
    assert [r.stage for r in advanced.promoted] == ["dev"]  # staging must soak 10 min after dev's verification
    assert advanced.next_in == pytest.approx(601)
    clock.advance(601)
    assert [r.stage for r in rec.advance(eng).promoted] == ["staging"]
    state = eng.state()
    assert state.current_freight("staging") == state.current_freight("dev")
    assert "prod" not in state.stages  # no autoPromotion there
    assert rec.advance(eng).promoted == ()  # idempotent
    assert (
        sample(rec.metrics, "freightyard_controller_promotions_total", pipeline="shop", stage="dev", phase="Succeeded")
        == 1
    )


def test_staging_waits_for_verification_through_the_hook(tmp_path: Any) -> None:
    clock, sources = Clock(), FakeSources()
    results: list[Any] = [None, "Succeeded"]
    calls: list[str] = []

    def verify_stage(engine_: Engine, stage: str) -> Any:
        calls.append(stage)
        return results.pop(0)

    eng = engine(tmp_path, clock, "verification: {http: [{url: 'http://app/healthz'}]}")
    rec = reconciler(sources, clock, verifier=lambda: verify_stage)
    rec.discover(eng, eng.pipeline.warehouses[0])
    clock.advance(3600)
    advanced = rec.advance(eng)  # dev only: staging soaks 10 min after dev is verified
    assert [r.stage for r in advanced.promoted] == ["dev"]
    clock.advance(601)
    advanced = rec.advance(eng)
    assert [r.stage for r in advanced.promoted] == ["staging"]
    assert calls == ["staging"] and advanced.next_in == 5.0  # the runner said "still running": poll again
    state = eng.state()
    freight = state.current_freight("staging")
    assert freight is not None and state.stages["staging"].verifications[freight.id].phase == "Pending"
    rec.advance(eng)
    assert eng.state().stages["staging"].verifications[freight.id].phase == "Succeeded"
    assert (
        sample(
            rec.metrics,
            "freightyard_controller_verifications_total",
            pipeline="shop",
            stage="staging",
            phase="Succeeded",
        )
        == 1
    )


def test_manual_rollback_holds_auto_promotion_until_the_candidate_is_promoted(tmp_path: Any) -> None:
    clock, sources = Clock(), FakeSources()
    eng, rec = engine(tmp_path, clock), reconciler(sources, clock)
    rec.discover(eng, eng.pipeline.warehouses[0])
    rec.advance(eng)
    old = eng.state().current_freight("dev")
    sources.tag = "1.1.0"
    rec.discover(eng, eng.pipeline.warehouses[0])
    rec.advance(eng)
    new = eng.state().current_freight("dev")
    assert old is not None and new is not None and new.id != old.id
    eng.promote(old.id, "dev", "user:alice", hold=True)  # a rollback by hand
    assert rec.advance(eng).promoted == ()
    decision = autopromote.decide(eng.pipeline, eng.state(), eng.pipeline.stage("dev"), clock.wall())
    assert decision.promote is None and "held" in decision.why
    sources.tag = "1.2.0"  # newer freight arrives: still held
    rec.discover(eng, eng.pipeline.warehouses[0])
    assert rec.advance(eng).promoted == ()
    newest = next(iter(eng.state().freight.values()))
    eng.promote(newest.id, "dev", "user:alice", hold=True)  # someone promotes the candidate: the hold ends
    rec.advance(eng)
    assert eng.state().stages["dev"].hold == ""
    sources.tag = "1.3.0"
    rec.discover(eng, eng.pipeline.warehouses[0])
    assert [r.stage for r in rec.advance(eng).promoted] == ["dev"]


def test_failed_promotion_is_retried_with_backoff(tmp_path: Any) -> None:
    clock, sources = Clock(), FakeSources()
    attempts: list[str] = []

    class Flaky:
        def promote(self, context: PromotionContext) -> MechanismResult:
            attempts.append(context.stage.name)
            if len(attempts) == 1:
                raise MechanismError("push rejected", temporary=True)
            return MechanismResult("Succeeded", "ok")

    eng = engine(tmp_path, clock, mechanisms=lambda name: Flaky())
    rec = reconciler(sources, clock)
    rec.discover(eng, eng.pipeline.warehouses[0])
    first = rec.advance(eng)
    assert first.promoted == () and first.next_in == 10.0
    assert rec.advance(eng).promoted == () and attempts == ["dev"]  # not before the backoff
    clock.advance(10)
    assert [r.stage for r in rec.advance(eng).promoted] == ["dev"]
    assert [h.phase for h in eng.state().stages["dev"].history] == ["Succeeded", "Failed"]


def test_auto_stages_are_ordered_upstream_first() -> None:
    assert [s.name for s in autopromote.auto_stages(pipeline())] == ["dev", "staging"]


def test_background_verification_never_blocks_a_pass(tmp_path: Any) -> None:
    import threading

    from freightyard.controller.runtime import verify as verify_hooks

    clock, sources = Clock(), FakeSources()
    release = threading.Event()

    def slow_verify(engine_: Engine, stage: str) -> Any:
        assert release.wait(10)
        return "Succeeded"

    eng = engine(tmp_path, clock, "verification: {http: [{url: 'http://app/healthz'}]}")
    background = verify_hooks.Background(workers=1)
    rec = Reconciler(
        sources, Metrics.create(), verifier=lambda: slow_verify, monotonic=clock.monotonic, verifications=background
    )
    rec.discover(eng, eng.pipeline.warehouses[0])
    clock.advance(3600)
    rec.advance(eng)
    clock.advance(601)
    advanced = rec.advance(eng)  # promotes staging and starts its verification without waiting for it
    assert [r.stage for r in advanced.promoted] == ["staging"] and advanced.next_in == 5.0
    freight = eng.state().current_freight("staging")
    assert freight is not None
    assert eng.state().stages["staging"].verifications[freight.id].phase == "Pending"
    rec.advance(eng)  # still running: the pass returns at once
    assert eng.state().stages["staging"].verifications[freight.id].phase == "Pending"
    release.set()
    deadline = time.monotonic() + 10
    while eng.state().stages["staging"].verifications[freight.id].phase == "Pending":
        assert time.monotonic() < deadline, "the finished verification was never recorded"
        rec.advance(eng)
        time.sleep(0.02)
    assert eng.state().stages["staging"].verifications[freight.id].phase == "Succeeded"
    background.close()
