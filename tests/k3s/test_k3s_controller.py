"""The controller's cluster side against a real k3s API server: state, Lease, refresh annotations.

Runs with ``pytest -m k3s tests/k3s`` where a Docker engine exists (testcontainers); skips with a
clear reason where it does not. Argo CD itself is not installed: minimal CRDs for Applications and
ApplicationSets (schemaless) stand in, which is all the refresh annotations need.
"""

from __future__ import annotations

import gc
import importlib
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freightyard.controller.leader import LeaseElector
from freightyard.controller.metrics import Metrics
from freightyard.controller.pipelines_source import Loaded, PipelineSet
from freightyard.controller.runtime.loop import Controller, Settings
from freightyard.controller.runtime.reconcile import Reconciler
from freightyard.controller.runtime.refresh import KubeRefresher
from freightyard.controller.runtime.schedule import Scheduler
from freightyard.controller.webhooks import Secrets
from freightyard.shared.core.model import Pipeline
from freightyard.shared.engine.promotion import Engine
from freightyard.shared.kube.applications import get_applicationset
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from freightyard.shared.stores.configmap import ConfigMapStore
from tests.helpers.controller_fakes import FakeSources, pipeline, seeded

pytestmark = pytest.mark.k3s
NS = "default"
NO_DOCKER = "no Docker engine: testcontainers k3s suite skipped"


def docker_available() -> bool:
    import docker

    client = None
    with warnings.catch_warnings():  # a failed ping can leave a pooled socket for the GC: not our leak
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            client.ping()
        except Exception:  # no engine, no socket, no permission: all mean "cannot run k3s here"
            return False
        finally:
            if client is not None:
                client.close()
            gc.collect()
    return True


def crd(plural: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.argoproj.io"},
        "spec": {
            "group": "argoproj.io",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApi]:
    if not docker_available():
        pytest.skip(NO_DOCKER)
    k3s_class = None
    for module in ("testcontainers.community.k3s", "testcontainers.k3s"):
        try:
            k3s_class = importlib.import_module(module).K3SContainer
            break
        except ImportError:
            continue
    if k3s_class is None:
        pytest.skip("testcontainers has no K3SContainer")
    with k3s_class() as k3s:
        kubeconfig = Path(tmp_path_factory.mktemp("k3s")) / "kubeconfig.yaml"
        kubeconfig.write_text(k3s.config_yaml())
        client = make_api(KubeSettings(kubeconfig=str(kubeconfig), timeout_s=30))
        from kubernetes import client as k8s

        extensions = k8s.ApiextensionsV1Api(client.api_client)
        for plural, kind in (("applications", "Application"), ("applicationsets", "ApplicationSet")):
            extensions.create_custom_resource_definition(crd(plural, kind))  # type: ignore[arg-type]
        time.sleep(3)  # let the API server start serving the new CRDs (this harness has no watch helper)
        yield client
        client.close()


def test_controller_promotes_into_configmaps_and_refreshes_the_applicationset(api: KubeApi) -> None:
    api.custom.create_namespaced_custom_object(
        "argoproj.io",
        "v1alpha1",
        NS,
        "applicationsets",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "shop"},
            "spec": {
                "generators": [
                    {"plugin": {"configMapRef": {"name": "freightyard"}, "input": {"parameters": {"pipeline": "shop"}}}}
                ]
            },
        },
    )
    shop = pipeline()
    metrics = Metrics.create()

    class Fixed:
        description = "fixed"

        def load(self) -> Loaded:
            return Loaded({"shop": shop})

    def engine_for(p: Pipeline) -> Engine:
        return Engine(p, ConfigMapStore(lambda: api, NS, f"freightyard-{p.name}"))

    controller = Controller(
        PipelineSet([Fixed()]),
        engine_for,
        reconciler=Reconciler(FakeSources(), metrics, KubeRefresher(lambda: api, (NS,))),
        elector=LeaseElector(lambda: api, NS, identity="k3s-test"),
        metrics=metrics,
        scheduler=Scheduler(time.monotonic, seeded(1)),
        secrets=Secrets(),
        settings=Settings(election_s=0.2, tick_s=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=controller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        engine = engine_for(shop)
        deadline = time.monotonic() + 60
        while engine.state().current_freight("dev") is None:
            assert time.monotonic() < deadline, "no promotion into dev within 60 s"
            time.sleep(0.2)
        annotations = (get_applicationset(api, NS, "shop").get("metadata") or {}).get("annotations") or {}
        assert annotations.get("argocd.argoproj.io/application-set-refresh") == "true"
    finally:
        stop.set()
        thread.join(15)
