"""ConfigMapStore against kmock's HTTP-level Kubernetes emulator (see tests/servers/kube_emulator.py)."""

from __future__ import annotations

import threading
from typing import Any

import kmock
import pytest

from freightyard.shared.core.errors import StoreConflict, StoreError, StoreForbidden
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from freightyard.shared.kube.errors import KubeConflict, KubeForbidden
from freightyard.shared.stores.base import Document, update_document
from freightyard.shared.stores.configmap import ConfigMapStore
from tests.servers.kube_emulator import KubeEmulator

NS, NAME = "argocd", "freightyard-guestbook"


def store_for(api: KubeApi) -> ConfigMapStore:
    return ConfigMapStore(lambda: api, NS, NAME)


def document(**data: str) -> Document:
    return {
        "metadata": {"name": NAME, "namespace": NS, "labels": {"app.kubernetes.io/part-of": "freightyard"}},
        "data": dict(data),
    }


def test_description_names_namespace_and_name(api: KubeApi) -> None:
    assert store_for(api).description == "configmap:argocd/freightyard-guestbook"


def test_missing_configmap_reads_as_empty_snapshot(api: KubeApi) -> None:
    snapshot = store_for(api).read()
    assert (snapshot.document, snapshot.version) == (None, None)


def test_create_if_missing_then_read_back(api: KubeApi, kube: KubeEmulator) -> None:
    store = store_for(api)
    version = store.write(document(**{"freight.yaml": "[]\n"}), None)
    snapshot = store.read()
    assert snapshot.version == version
    assert snapshot.document is not None
    assert snapshot.document["data"] == {"freight.yaml": "[]\n"}
    assert snapshot.document["metadata"]["labels"] == {"app.kubernetes.io/part-of": "freightyard"}
    stored = kube.object("v1/configmaps", NS, NAME)
    assert stored is not None and stored["kind"] == "ConfigMap" and stored["apiVersion"] == "v1"


def test_update_sends_the_expected_resource_version(api: KubeApi, kube: KubeEmulator) -> None:
    store = store_for(api)
    first = store.write(document(a="1"), None)
    snapshot = store.read()
    assert snapshot.document is not None
    second = store.write({**snapshot.document, "data": {"a": "2"}}, snapshot.version)
    assert second != first
    reread = store.read()
    assert reread.version == second and reread.document is not None
    assert reread.document["data"] == {"a": "2"}
    assert reread.document["metadata"]["resourceVersion"] == second
    assert ("PUT", f"/api/v1/namespaces/{NS}/configmaps/{NAME}") in [r[:2] for r in kube.requests()]


def test_stale_version_is_a_conflict(api: KubeApi) -> None:
    store = store_for(api)
    first = store.write(document(a="1"), None)
    store.write(document(a="2"), first)
    with pytest.raises(StoreConflict, match="another writer got there first"):
        store.write(document(a="3"), first)


def test_create_over_an_existing_configmap_is_a_conflict(api: KubeApi) -> None:
    # kmock answers this 409 natively: POST of an existing name.
    store = store_for(api)
    store.write(document(a="1"), None)
    with pytest.raises(StoreConflict) as caught:
        store.write(document(a="2"), None)
    assert isinstance(caught.value, KubeConflict) and caught.value.status == 409


def test_racing_writers_one_wins_and_update_document_lands_both(kube: KubeEmulator) -> None:
    apis = [make_api(KubeSettings(host=kube.url, timeout_s=5)) for _ in range(2)]
    alice, bob = (store_for(api) for api in apis)
    alice.write(document(), None)

    seen_a, seen_b = alice.read(), bob.read()
    assert seen_a.version == seen_b.version and seen_a.document is not None and seen_b.document is not None
    alice.write({**seen_a.document, "data": {"alice": "1"}}, seen_a.version)
    with pytest.raises(StoreConflict):
        bob.write({**seen_b.document, "data": {"bob": "1"}}, seen_b.version)

    def add(key: str) -> Any:
        def mutate(current: Document | None) -> tuple[Document, str]:
            assert current is not None
            return {**current, "data": {**(current.get("data") or {}), key: "1"}}, key

        return mutate

    barrier = threading.Barrier(2)
    results: list[str] = []

    def writer(store: ConfigMapStore, key: str) -> None:
        barrier.wait()
        results.append(update_document(store, add(key), sleep=lambda _: None, attempts=20))

    threads = [threading.Thread(target=writer, args=(alice, "a2")), threading.Thread(target=writer, args=(bob, "b2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["a2", "b2"]
    final = alice.read().document
    assert final is not None and final["data"] == {"alice": "1", "a2": "1", "b2": "1"}
    for api in apis:
        api.close()


def test_update_document_retries_after_a_conflict(api: KubeApi) -> None:
    store, rival = store_for(api), store_for(api)
    store.write(document(n="0"), None)
    calls: list[int] = []

    def mutate(current: Document | None) -> tuple[Document, int]:
        assert current is not None
        calls.append(1)
        if len(calls) == 1:  # a rival writes between our read and our write
            seen = rival.read()
            assert seen.document is not None
            rival.write({**seen.document, "data": {**seen.document["data"], "rival": "yes"}}, seen.version)
        return {**current, "data": {**current["data"], "n": str(int(current["data"]["n"]) + 1)}}, len(calls)

    assert update_document(store, mutate, sleep=lambda _: None) == 2
    final = store.read().document
    assert final is not None and final["data"] == {"n": "1", "rival": "yes"}


def test_forbidden_read_says_who_needs_which_permission(api: KubeApi, kube: KubeEmulator) -> None:
    status = kmock.KubernetesError(
        status=403,
        reason="Forbidden",
        message=f'configmaps "{NAME}" is forbidden: User "system:serviceaccount:argocd:freightyard" '
        f'cannot get resource "configmaps" in API group "" in the namespace "{NS}"',
        details={"name": NAME, "kind": "configmaps"},
    )
    kube.run(lambda: kube.emulator[kmock.method.GET, kmock.resource("v1/configmaps")] << status)
    with pytest.raises(StoreForbidden) as caught:
        store_for(api).read()
    error = caught.value
    assert isinstance(error, KubeForbidden) and not error.temporary
    message = str(error)
    assert f"get configmaps {NS}/{NAME}" in message
    assert "cannot get resource" in message  # the Status message is kept...
    assert "traceback" not in message.lower()  # ...but nothing else from the body
    assert "grant the freightyard ServiceAccount get on configmaps in argocd" in message
    assert isinstance(error.__cause__, Exception) and type(error.__cause__).__module__.startswith("kubernetes")


def test_forbidden_write_names_the_write_verb(api: KubeApi, kube: KubeEmulator) -> None:
    store = store_for(api)
    version = store.write(document(a="1"), None)
    kube.run(
        lambda: (
            kube.emulator[kmock.method.PUT, kmock.resource("v1/configmaps")]
            << 403
            << {"kind": "Status", "apiVersion": "v1", "code": 403, "message": "nope"}
        )
    )
    with pytest.raises(StoreForbidden, match="grant the freightyard ServiceAccount get/update on configmaps in argocd"):
        store.write(document(a="2"), version)


def test_non_status_error_bodies_are_cut(api: KubeApi, kube: KubeEmulator) -> None:
    kube.run(lambda: kube.emulator[kmock.method.GET, kmock.resource("v1/configmaps")] << 502 << b"x" * 5000)
    with pytest.raises(StoreError) as caught:
        store_for(api).read()
    assert caught.value.temporary
    assert len(str(caught.value)) < 400


def test_oversize_document_is_rejected_before_sending(api: KubeApi, kube: KubeEmulator) -> None:
    before = len(kube.requests())
    with pytest.raises(StoreError, match="over the 1 MiB ConfigMap limit") as caught:
        store_for(api).write(document(big="x" * (1024 * 1024 + 1)), None)
    assert not caught.value.temporary
    assert len(kube.requests()) == before


def test_unreachable_api_is_temporary() -> None:
    from tests.servers._proc import free_port

    api = make_api(KubeSettings(host=f"http://127.0.0.1:{free_port()}", timeout_s=1))
    api.api_client.configuration.retries = 0
    with pytest.raises(StoreError, match="Kubernetes API unreachable") as caught:
        store_for(api).read()
    assert caught.value.temporary
