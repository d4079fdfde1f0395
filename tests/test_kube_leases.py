"""Lease-based leader election (freightyard.shared.kube.leases) against kmock's emulator."""

from __future__ import annotations

import datetime as dt

import pytest

from freightyard.shared.kube import leases
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from tests.servers.kube_emulator import KubeEmulator

NS, NAME = "argocd", "freightyard-controller"
LEASE = "coordination.k8s.io/v1/leases"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def holder(kube: KubeEmulator) -> str | None:
    lease = kube.object(LEASE, NS, NAME)
    return None if lease is None else lease["spec"].get("holderIdentity")


def test_acquire_creates_the_lease(api: KubeApi, kube: KubeEmulator) -> None:
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0)
    lease = kube.object(LEASE, NS, NAME)
    assert lease is not None
    assert lease["spec"] == {
        "holderIdentity": "pod-a",
        "leaseDurationSeconds": 15,
        "leaseTransitions": 0,
        "acquireTime": "2024-05-01T12:00:00.000000Z",
        "renewTime": "2024-05-01T12:00:00.000000Z",
    }


def test_held_lease_is_not_taken_and_holder_renews(api: KubeApi, kube: KubeEmulator) -> None:
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0)
    assert not leases.try_acquire(api, NS, NAME, "pod-b", duration_s=15, now=T0 + dt.timedelta(seconds=10))
    assert leases.renew(api, NS, NAME, "pod-a", T0 + dt.timedelta(seconds=10))
    assert not leases.try_acquire(api, NS, NAME, "pod-b", duration_s=15, now=T0 + dt.timedelta(seconds=20))
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0 + dt.timedelta(seconds=20))
    assert holder(kube) == "pod-a"
    assert not leases.renew(api, NS, NAME, "pod-b", T0 + dt.timedelta(seconds=20))


def test_expired_lease_is_taken_over(api: KubeApi, kube: KubeEmulator) -> None:
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0)
    assert leases.try_acquire(api, NS, NAME, "pod-b", duration_s=30, now=T0 + dt.timedelta(seconds=16))
    lease = kube.object(LEASE, NS, NAME)
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "pod-b" and lease["spec"]["leaseTransitions"] == 1
    assert not leases.renew(api, NS, NAME, "pod-a", T0 + dt.timedelta(seconds=17))  # the old leader learns it lost


def test_release_frees_the_lease_at_once(api: KubeApi, kube: KubeEmulator) -> None:
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0)
    assert not leases.release(api, NS, NAME, "pod-b")
    assert leases.release(api, NS, NAME, "pod-a")
    assert holder(kube) is None
    assert leases.try_acquire(api, NS, NAME, "pod-b", duration_s=15, now=T0 + dt.timedelta(seconds=1))


def test_lost_race_on_takeover_returns_false(api: KubeApi, kube: KubeEmulator) -> None:
    assert leases.try_acquire(api, NS, NAME, "pod-a", duration_s=15, now=T0)
    later = T0 + dt.timedelta(seconds=60)

    # pod-c's takeover lands between pod-b's read and pod-b's write: pod-b's resourceVersion is stale,
    # and the emulator (with the scripted precondition check) answers pod-b's PUT with 409.
    rival = make_api(KubeSettings(host=kube.url, timeout_s=5))
    try:
        original = leases.get_lease

        def read_then_rival(api_: KubeApi, namespace: str, name: str) -> dict[str, object] | None:
            seen = original(api_, namespace, name)
            if api_ is api:
                assert leases.try_acquire(rival, NS, NAME, "pod-c", duration_s=15, now=later)
            return seen

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(leases, "get_lease", read_then_rival)
            assert not leases.try_acquire(api, NS, NAME, "pod-b", duration_s=15, now=later)
    finally:
        rival.close()
    assert holder(kube) == "pod-c"


def test_lost_race_on_create_returns_false(api: KubeApi, kube: KubeEmulator) -> None:
    # Both candidates saw no Lease; the other one's POST landed first: kmock answers our POST with 409 natively.
    kube.put_object(
        LEASE,
        {
            "metadata": {"name": NAME, "namespace": NS},
            "spec": {"holderIdentity": "pod-c", "leaseDurationSeconds": 15, "renewTime": "2024-05-01T12:00:00.000000Z"},
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(leases, "get_lease", lambda *_: None)
        assert not leases.try_acquire(api, NS, NAME, "pod-b", duration_s=15, now=T0)
    assert holder(kube) == "pod-c"
