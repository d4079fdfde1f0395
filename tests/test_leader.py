"""Only one replica acts: Lease election against kmock's emulator, file locks locally, two live controllers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from freightyard.controller.leader import FileLockElector, LeaseElector
from freightyard.controller.metrics import Metrics
from freightyard.controller.pipelines_source import Loaded, PipelineSet
from freightyard.controller.runtime.loop import Controller, Settings
from freightyard.controller.runtime.reconcile import Reconciler
from freightyard.controller.runtime.schedule import Scheduler
from freightyard.controller.webhooks import Secrets, Target
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from freightyard.shared.stores.configmap import ConfigMapStore
from tests.helpers.controller_fakes import FakeSources, pipeline, seeded
from tests.servers.kube_emulator import KubeEmulator

NS = "argocd"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
T = TypeVar("T")


def poll(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def test_lease_elects_one_and_hands_over_on_release(api: KubeApi) -> None:
    now = [T0]
    a = LeaseElector(lambda: api, NS, identity="pod-a", duration_s=15, clock=lambda: now[0])
    b = LeaseElector(lambda: api, NS, identity="pod-b", duration_s=15, clock=lambda: now[0])
    assert a.ensure() and not b.ensure()
    now[0] += dt.timedelta(seconds=10)
    assert a.ensure() and not b.ensure()  # renewed: still ours
    a.release()
    assert b.ensure() and not a.ensure()


def test_lease_is_taken_over_when_the_leader_stops_renewing(api: KubeApi) -> None:
    now, mono = [T0], [0.0]
    a = LeaseElector(
        lambda: api,
        NS,
        identity="pod-a",
        duration_s=15,
        renew_deadline_s=10,
        clock=lambda: now[0],
        monotonic=lambda: mono[0],
    )
    b = LeaseElector(lambda: api, NS, identity="pod-b", duration_s=15, clock=lambda: now[0])
    assert a.ensure()
    now[0] += dt.timedelta(seconds=16)  # a hung for longer than the lease
    mono[0] += 16
    assert b.ensure()
    assert not a.ensure()  # a learns it lost and stops acting


def test_file_lock_admits_one_process(tmp_path: Path) -> None:
    first, second = FileLockElector(tmp_path / "controller.lock"), FileLockElector(tmp_path / "controller.lock")
    assert first.ensure() and first.ensure()
    assert not second.ensure()
    first.release()
    assert second.ensure()
    second.release()


class _Fixed:
    description = "fixed"

    def __init__(self, pipelines: list[Pipeline]) -> None:
        self.pipelines = pipelines

    def load(self) -> Loaded:
        return Loaded({p.name: p for p in self.pipelines})


def controller(kube: KubeEmulator, identity: str, sources: FakeSources) -> tuple[Controller, KubeApi]:
    api = make_api(KubeSettings(host=kube.url, timeout_s=5))
    shop = pipeline()

    def engine_for(p: Pipeline) -> Engine:
        return Engine(p, ConfigMapStore(lambda: api, NS, f"freightyard-{p.name}"))

    metrics = Metrics.create()
    built = Controller(
        PipelineSet([_Fixed([shop])]),
        engine_for,
        reconciler=Reconciler(sources, metrics),
        elector=LeaseElector(lambda: api, NS, identity=identity, duration_s=15),
        metrics=metrics,
        scheduler=Scheduler(time.monotonic, seeded(1)),
        secrets=Secrets(),
        settings=Settings(election_s=0.1, tick_s=0.1, reload_s=0.5),
    )
    return built, api


def test_two_controllers_promote_once_and_fail_over(kube: KubeEmulator) -> None:
    sources = FakeSources()
    (a, api_a), (b, api_b) = controller(kube, "pod-a", sources), controller(kube, "pod-b", sources)
    stops = {"a": threading.Event(), "b": threading.Event()}
    threads = {
        name: threading.Thread(target=c.run, args=(stops[name],), daemon=True) for name, c in (("a", a), ("b", b))
    }
    store = ConfigMapStore(lambda: api_a, NS, "freightyard-shop")
    engine = Engine(pipeline(), store)
    try:
        for thread in threads.values():
            thread.start()
        poll(lambda: engine.state().current_freight("dev"), timeout=15, what="freight in dev")
        assert [a.leader, b.leader].count(True) == 1
        leader, follower = ("a", "b") if a.leader else ("b", "a")
        controllers = {"a": a, "b": b}
        assert len(engine.state().stages["dev"].history) == 1
        stops[leader].set()  # the leader stops and releases the Lease
        threads[leader].join(10)
        poll(lambda: controllers[follower].leader, timeout=10, what="the follower to take over")
        sources.tag = "2.0.0"
        controllers[follower].trigger([Target("shop", "main")])
        poll(
            lambda: (f := engine.state().current_freight("dev")) and f.images[0].tag == "2.0.0",
            timeout=15,
            what="new freight promoted by the new leader",
        )
        assert [h.phase for h in engine.state().stages["dev"].history] == ["Succeeded", "Succeeded"]
    finally:
        for event in stops.values():
            event.set()
        for thread in threads.values():
            thread.join(10)
        api_a.close()
        api_b.close()


def test_once_takes_the_loops_lock_and_refuses_while_another_controller_holds_it(tmp_path: Path) -> None:
    """Two ``controller --once`` (or one beside the loop) never drive the same pipelines at once."""
    from freightyard.shared.stores.file import FileStore

    lock = tmp_path / "controller.lock"
    sources = FakeSources()
    metrics = Metrics.create()

    def once() -> Controller:
        return Controller(
            PipelineSet([_Fixed([pipeline()])]),
            lambda p: Engine(p, FileStore(tmp_path / f"{p.name}.yaml")),
            reconciler=Reconciler(sources, metrics),
            elector=FileLockElector(lock),
            metrics=metrics,
            scheduler=Scheduler(time.monotonic, seeded(1)),
            secrets=Secrets(),
        )

    holder = FileLockElector(lock)
    assert holder.ensure()  # the running loop (or another --once)
    refused = once()
    assert refused.run_once() is False
    assert refused.summary == [f"not run: another controller holds the file lock {lock}; try again later"]
    assert not (tmp_path / "shop.yaml").exists()  # nothing was driven
    holder.release()
    ran = once()
    assert ran.run_once() is True and ran.summary == ["pipeline shop: ok"]
    assert FileLockElector(lock).ensure()  # --once released the lock when it finished
