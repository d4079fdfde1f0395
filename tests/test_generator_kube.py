"""The generator's cluster path against an HTTP-level Kubernetes emulator: pipelines from labelled
ConfigMaps (the example manifest) and state in each pipeline's spec.state ConfigMap."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from freightyard.generator.app import create_app
from freightyard.shared.core.state import state_to_document
from freightyard.shared.kube.client import KubeSettings, make_api
from freightyard.shared.stores.base import update_document
from freightyard.shared.stores.configmap import ConfigMapStore
from tests.helpers.generator_world import DIGEST2, SHA2, TOKEN, freight, load_example, state_with
from tests.servers.kube_emulator import KubeEmulator

URL = "/api/v1/getparams.execute"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
GITOPS = "https://git.example.com/org/gitops.git"


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emulator:
        emulator.put_object("v1/configmaps", load_example("pipeline-configmap.yaml"))
        document = state_to_document(
            state_with({"dev": freight()}), pipeline="guestbook", name="freightyard-guestbook", namespace="argocd"
        )
        emulator.put_object("v1/configmaps", document)
        yield emulator


def call(client: Any, pipeline: str = "guestbook") -> Any:
    body = json.dumps({"applicationSetName": "guestbook", "input": {"parameters": {"pipeline": pipeline}}})
    return client.post(URL, data=body, headers=HEADERS)


@pytest.mark.integration
def test_configmap_pipelines_and_state(kube: KubeEmulator) -> None:
    app = create_app(
        {
            "PIPELINE_NAMESPACES": "argocd",
            "STATE": "configmap",
            "TOKEN": TOKEN,
            "KUBE_HOST": kube.url,
            "CONFIGMAP_PIPELINES_TTL_S": "0",
            # the emulator understands key=value selectors only (not the bare-key default)
            "PIPELINE_SELECTOR": "freightyard.io/pipeline=guestbook",
        }
    )
    client = app.test_client()
    response = call(client)
    assert response.status_code == 200, response.get_json()
    (dev,) = response.get_json()["output"]["parameters"]
    assert (dev["stage"], dev["repoURL"], dev["destination"]["namespace"]) == ("dev", GITOPS, "guestbook-dev")
    assert dev["freight"]["id"] == freight().id

    newer = freight(SHA2, DIGEST2, "1.5.0")  # a promotion, written as the controller writes it
    api = make_api(KubeSettings(host=kube.url, timeout_s=5))
    try:
        store = ConfigMapStore(lambda: api, "argocd", "freightyard-guestbook")
        update_document(
            store,
            lambda previous: (
                state_to_document(
                    state_with({"dev": newer, "prod": newer}),
                    pipeline="guestbook",
                    name="freightyard-guestbook",
                    namespace="argocd",
                    previous=previous,
                ),
                None,
            ),
        )
    finally:
        api.close()
    sets = call(client).get_json()["output"]["parameters"]
    assert [(s["stage"], s["targetRevision"]) for s in sets] == [("dev", SHA2), ("prod", SHA2)]

    assert call(client, "unknown").status_code == 404


@pytest.mark.integration
def test_missing_state_namespace_or_api_down_is_503(kube: KubeEmulator) -> None:
    app = create_app(
        {
            "PIPELINE_NAMESPACES": "argocd",
            "STATE": "configmap",
            "TOKEN": TOKEN,
            "KUBE_HOST": "http://127.0.0.1:9",
            "KUBE_TIMEOUT_S": "1",
        }
    )
    response = call(app.test_client())
    assert response.status_code == 503
    assert "cannot list pipeline ConfigMaps" in response.get_json()["error"]["message"]
