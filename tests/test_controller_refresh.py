"""After a promotion: ApplicationSets that use the pipeline and hand-written CMP Apps are refreshed (kmock)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from freightyard.controller.runtime.refresh import KubeRefresher, app_needs_hard_refresh, appset_uses
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from tests.servers.kube_emulator import KubeEmulator

NS = "argocd"
APP = "argoproj.io/v1alpha1/applications"
APPSET = "argoproj.io/v1alpha1/applicationsets"


def appset(name: str, generators: list[dict[str, Any]], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"generators": generators},
    }


def plugin(pipeline: str) -> dict[str, Any]:
    return {"plugin": {"configMapRef": {"name": "freightyard"}, "input": {"parameters": {"pipeline": pipeline}}}}


def app(name: str, env: dict[str, str], owner: str = "", **labels: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NS, "labels": labels}
    if owner:
        metadata["ownerReferences"] = [{"kind": "ApplicationSet", "name": owner}]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": {
            "source": {
                "repoURL": "https://git.example.com/org/mono.git",
                "path": "apps/shop",
                "plugin": {"name": "freightyard-v1", "env": [{"name": k, "value": v} for k, v in env.items()]},
            }
        },
    }


def test_which_appsets_use_a_pipeline() -> None:
    assert appset_uses(appset("a", [plugin("shop")]), "shop")
    assert appset_uses(appset("b", [{"matrix": {"generators": [{"clusters": {}}, plugin("shop")]}}]), "shop")
    assert appset_uses(appset("c", [{"list": {}}], **{"freightyard.io/pipeline": "shop"}), "shop")
    assert not appset_uses(appset("d", [plugin("other")]), "shop")


def test_which_apps_need_a_hard_refresh() -> None:
    assert app_needs_hard_refresh(app("x", {"PIPELINE": "shop", "STAGE": "dev"}), "shop", "dev")
    assert not app_needs_hard_refresh(app("x", {"PIPELINE": "shop", "STAGE": "prod"}), "shop", "dev")
    generated = {"PIPELINE": "shop", "STAGE": "dev", "FREIGHT_ID": "abc"}
    assert not app_needs_hard_refresh(app("x", generated), "shop", "dev")  # its spec changes anyway
    assert not app_needs_hard_refresh(app("x", {"PIPELINE": "shop", "STAGE": "dev"}, owner="shop"), "shop", "dev")
    labelled = app("x", {}, **{"freightyard.io/pipeline": "shop", "freightyard.io/stage": "dev"})
    assert app_needs_hard_refresh(labelled, "shop", "dev")


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emulator:
        emulator.put_object(APPSET, appset("shop", [plugin("shop")]))
        emulator.put_object(APPSET, appset("other", [plugin("other")]))
        emulator.put_object(APP, app("shop-dev-by-hand", {"PIPELINE": "shop", "STAGE": "dev"}))
        emulator.put_object(APP, app("shop-dev-generated", {"PIPELINE": "shop", "STAGE": "dev"}, owner="shop"))
        yield emulator


@pytest.fixture
def api(kube: KubeEmulator) -> Iterator[KubeApi]:
    client = make_api(KubeSettings(host=kube.url, timeout_s=5))
    yield client
    client.close()


def annotations_of(kube: KubeEmulator, resource: str, name: str) -> dict[str, str]:
    found = kube.object(resource, NS, name)
    assert found is not None
    return dict((found.get("metadata") or {}).get("annotations") or {})


def test_refresher_patches_exactly_the_right_objects(kube: KubeEmulator, api: KubeApi) -> None:
    results: list[tuple[str, str]] = []
    refresher = KubeRefresher(lambda: api, (NS,), on_result=lambda kind, result: results.append((kind, result)))
    done = refresher.promoted("shop", "dev")
    assert sorted(done) == ["application/argocd/shop-dev-by-hand", "applicationset/argocd/shop"]
    assert annotations_of(kube, APPSET, "shop") == {"argocd.argoproj.io/application-set-refresh": "true"}
    assert annotations_of(kube, APPSET, "other") == {}
    assert annotations_of(kube, APP, "shop-dev-by-hand") == {"argocd.argoproj.io/refresh": "hard"}
    assert annotations_of(kube, APP, "shop-dev-generated") == {}
    assert sorted(results) == [("application", "ok"), ("applicationset", "ok")]


def test_refresher_survives_an_unreachable_api() -> None:
    api = make_api(KubeSettings(host="http://127.0.0.1:9", timeout_s=1))
    try:
        results: list[tuple[str, str]] = []
        refresher = KubeRefresher(lambda: api, (NS,), on_result=lambda kind, result: results.append((kind, result)))
        assert refresher.promoted("shop", "dev") == []
        assert ("applicationset", "error") in results
    finally:
        api.close()
