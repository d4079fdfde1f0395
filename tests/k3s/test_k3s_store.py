"""ConfigMapStore and merge-patching against a real k3s API server (testcontainers; needs a Docker engine).

Run with ``pytest -m k3s tests/k3s``. Without a reachable Docker engine every test here skips.
"""

from __future__ import annotations

import gc
import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freightyard.shared.core.errors import StoreConflict
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from freightyard.shared.kube.configmaps import get_configmap, patch_configmap
from freightyard.shared.stores.base import Document, update_document
from freightyard.shared.stores.configmap import ConfigMapStore

pytestmark = pytest.mark.k3s

NS, NAME = "default", "freightyard-k3s-test"
NO_DOCKER = "no Docker engine: testcontainers k3s suite skipped"


def docker_available() -> bool:
    """True when a Docker engine answers a ping (the only way to know testcontainers can run k3s)."""
    docker = importlib.import_module("docker")  # untyped and stub-less: keep it Any

    with warnings.catch_warnings():
        # docker-py leaks its socket when the engine is missing; that ResourceWarning is not ours.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # no engine, no socket, no permission: all mean "cannot run k3s here"
            return False
        finally:
            gc.collect()  # finalise the leaked socket while its warning is still ignored


def k3s_container_class() -> Any:
    # testcontainers >= 4.10 moved K3SContainer to testcontainers.community.k3s and left a deprecated alias.
    for module in ("testcontainers.community.k3s", "testcontainers.k3s"):
        try:
            return importlib.import_module(module).K3SContainer
        except ImportError:
            continue
    pytest.skip("testcontainers has no K3SContainer")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    if not docker_available():
        pytest.skip(NO_DOCKER)
    with k3s_container_class()() as k3s:
        kubeconfig = Path(tmp_path_factory.mktemp("k3s")) / "kubeconfig.yaml"
        kubeconfig.write_text(k3s.config_yaml())
        client = make_api(KubeSettings(kubeconfig=str(kubeconfig), timeout_s=30))
        yield client
        client.close()


def store_for(api: KubeApi, name: str) -> ConfigMapStore:
    return ConfigMapStore(lambda: api, NS, name)


def test_create_read_update_and_conflict(api: KubeApi) -> None:
    store = store_for(api, NAME)
    assert store.read().document is None
    created = store.write(
        {"metadata": {"labels": {"app.kubernetes.io/part-of": "freightyard"}}, "data": {"freight.yaml": "[]\n"}}, None
    )
    snapshot = store.read()
    assert snapshot.version == created and snapshot.document is not None
    updated = store.write({**snapshot.document, "data": {"freight.yaml": "- id: abc\n"}}, created)
    assert updated != created
    with pytest.raises(StoreConflict):
        store.write({**snapshot.document, "data": {"stale": "yes"}}, created)
    with pytest.raises(StoreConflict):
        store.write({"data": {}}, None)


def test_update_document_lands_racing_changes(api: KubeApi) -> None:
    store, rival = store_for(api, NAME + "-race"), store_for(api, NAME + "-race")
    store.write({"data": {}}, None)
    seen = rival.read()

    def mutate(current: Document | None) -> tuple[Document, None]:
        assert current is not None
        return {**current, "data": {**(current.get("data") or {}), "ours": "1"}}, None

    assert seen.document is not None
    rival.write({**seen.document, "data": {"theirs": "1"}}, seen.version)
    update_document(store, mutate)
    final = store.read().document
    assert final is not None and final["data"] == {"theirs": "1", "ours": "1"}


def test_merge_patch_annotation_on_a_configmap(api: KubeApi) -> None:
    store = store_for(api, NAME + "-annotate")
    store.write({"metadata": {"labels": {"keep": "me"}}, "data": {"a": "1"}}, None)
    patch_configmap(api, NS, NAME + "-annotate", {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}})
    stored = get_configmap(api, NS, NAME + "-annotate")
    assert stored is not None
    assert stored["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "hard"
    assert stored["metadata"]["labels"] == {"keep": "me"} and stored["data"] == {"a": "1"}
    patch_configmap(api, NS, NAME + "-annotate", {"metadata": {"annotations": {"argocd.argoproj.io/refresh": None}}})
    stored = get_configmap(api, NS, NAME + "-annotate")
    assert stored is not None and "argocd.argoproj.io/refresh" not in (stored["metadata"].get("annotations") or {})
