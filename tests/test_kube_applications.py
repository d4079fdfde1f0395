"""Argo CD Applications and ApplicationSets through freightyard.shared.kube.applications, against kmock's emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freightyard.shared.core.errors import NotFoundError
from freightyard.shared.kube import applications as apps
from freightyard.shared.kube.client import KubeApi, KubeSettings, make_api
from tests.servers.kube_emulator import KubeEmulator

NS = "argocd"
APP = "argoproj.io/v1alpha1/applications"
APPSET = "argoproj.io/v1alpha1/applicationsets"


def app(name: str, **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"source": {"repoURL": "https://git.example.com/org/mono.git", "targetRevision": "main"}},
    }


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emulator:
        emulator.put_object(APP, app("guestbook-dev", **{"freightyard.io/pipeline": "guestbook"}))
        emulator.put_object(APP, app("guestbook-prod", **{"freightyard.io/pipeline": "guestbook"}))
        emulator.put_object(APP, app("other"))
        emulator.put_object(
            APPSET,
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ApplicationSet",
                "metadata": {"name": "guestbook", "namespace": NS},
                "spec": {},
            },
        )
        yield emulator


@pytest.fixture
def api(kube: KubeEmulator) -> Iterator[KubeApi]:
    client = make_api(KubeSettings(host=kube.url, timeout_s=5))
    yield client
    client.close()


def test_get_and_list_with_label_selector(api: KubeApi) -> None:
    assert apps.get_application(api, NS, "other")["spec"]["source"]["targetRevision"] == "main"
    names = sorted(a["metadata"]["name"] for a in apps.list_applications(api, NS, "freightyard.io/pipeline=guestbook"))
    assert names == ["guestbook-dev", "guestbook-prod"]
    assert len(apps.list_applications(api, NS)) == 3


def test_missing_application_is_not_found(api: KubeApi) -> None:
    with pytest.raises(NotFoundError, match=r"get applications.argoproj.io argocd/nope: not found"):
        apps.get_application(api, NS, "nope")


@pytest.mark.parametrize("kind", ["normal", "hard"])
def test_request_refresh_lands_on_the_application(api: KubeApi, kube: KubeEmulator, kind: apps.RefreshKind) -> None:
    apps.request_refresh(api, NS, "guestbook-dev", kind)
    stored = kube.object(APP, NS, "guestbook-dev")
    assert stored is not None
    assert stored["metadata"]["annotations"] == {"argocd.argoproj.io/refresh": kind}
    assert stored["metadata"]["labels"] == {"freightyard.io/pipeline": "guestbook"}  # a merge, not a replace
    patch = [r for r in kube.requests() if r[0] == "PATCH"]
    assert patch == [
        (
            "PATCH",
            f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/guestbook-dev",
            "application/merge-patch+json",
        )
    ]


def test_refresh_kind_is_checked(api: KubeApi) -> None:
    with pytest.raises(ValueError, match="normal"):
        apps.request_refresh(api, NS, "guestbook-dev", "soft")  # type: ignore[arg-type]


def test_refresh_applicationset(api: KubeApi, kube: KubeEmulator) -> None:
    returned = apps.refresh_applicationset(api, NS, "guestbook")
    assert returned["metadata"]["annotations"] == {"argocd.argoproj.io/application-set-refresh": "true"}
    stored = kube.object(APPSET, NS, "guestbook")
    assert stored is not None
    assert stored["metadata"]["annotations"] == {"argocd.argoproj.io/application-set-refresh": "true"}
    assert [s["metadata"]["name"] for s in apps.list_applicationsets(api, NS)] == ["guestbook"]


def test_patch_application_merges_spec(api: KubeApi, kube: KubeEmulator) -> None:
    apps.patch_application(api, NS, "other", {"spec": {"source": {"targetRevision": "abc123"}}})
    stored = kube.object(APP, NS, "other")
    assert stored is not None
    assert stored["spec"]["source"] == {"repoURL": "https://git.example.com/org/mono.git", "targetRevision": "abc123"}
