"""Argo CD Applications and ApplicationSets: get, list, merge-patch, and the refresh annotations."""

from __future__ import annotations

from typing import Literal

from freightyard.shared.kube.client import JsonDict, KubeApi
from freightyard.shared.kube.errors import Call

GROUP, VERSION = "argoproj.io", "v1alpha1"
APPLICATIONS, APPLICATIONSETS = "applications", "applicationsets"
MERGE_PATCH = "application/merge-patch+json"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
APPSET_REFRESH_ANNOTATION = "argocd.argoproj.io/application-set-refresh"
RefreshKind = Literal["normal", "hard"]


def get_object(api: KubeApi, plural: str, namespace: str, name: str) -> JsonDict:
    """One Application or ApplicationSet (``plural``); ``KubeNotFound`` when missing."""
    return api.call(
        api.custom.get_namespaced_custom_object,
        _call("get", plural, namespace, name),
        GROUP,
        VERSION,
        namespace,
        plural,
        name,
    )


def list_objects(api: KubeApi, plural: str, namespace: str, label_selector: str = "") -> list[JsonDict]:
    """Applications or ApplicationSets in ``namespace`` matching ``label_selector`` (``""``: all)."""
    kwargs = {"label_selector": label_selector} if label_selector else {}
    listing = api.call(
        api.custom.list_namespaced_custom_object,
        _call("list", plural, namespace),
        GROUP,
        VERSION,
        namespace,
        plural,
        **kwargs,
    )
    return [item for item in listing.get("items") or [] if isinstance(item, dict)]


def patch_object(api: KubeApi, plural: str, namespace: str, name: str, patch: JsonDict) -> JsonDict:
    """JSON merge-patch one Application or ApplicationSet; returns the patched object."""
    return api.call(
        api.custom.patch_namespaced_custom_object,
        _call("patch", plural, namespace, name),
        GROUP,
        VERSION,
        namespace,
        plural,
        name,
        patch,
        _content_type=MERGE_PATCH,
    )


def get_application(api: KubeApi, namespace: str, name: str) -> JsonDict:
    return get_object(api, APPLICATIONS, namespace, name)


def list_applications(api: KubeApi, namespace: str, label_selector: str = "") -> list[JsonDict]:
    return list_objects(api, APPLICATIONS, namespace, label_selector)


def patch_application(api: KubeApi, namespace: str, name: str, patch: JsonDict) -> JsonDict:
    return patch_object(api, APPLICATIONS, namespace, name, patch)


def get_applicationset(api: KubeApi, namespace: str, name: str) -> JsonDict:
    return get_object(api, APPLICATIONSETS, namespace, name)


def list_applicationsets(api: KubeApi, namespace: str, label_selector: str = "") -> list[JsonDict]:
    return list_objects(api, APPLICATIONSETS, namespace, label_selector)


def patch_applicationset(api: KubeApi, namespace: str, name: str, patch: JsonDict) -> JsonDict:
    return patch_object(api, APPLICATIONSETS, namespace, name, patch)


def request_refresh(api: KubeApi, namespace: str, name: str, kind: RefreshKind = "normal") -> JsonDict:
    """Ask Argo CD to refresh an Application (``hard`` also drops the manifest cache)."""
    if kind not in ("normal", "hard"):
        raise ValueError(f"refresh kind must be 'normal' or 'hard', not {kind!r}")
    return patch_application(api, namespace, name, {"metadata": {"annotations": {REFRESH_ANNOTATION: kind}}})


def refresh_applicationset(api: KubeApi, namespace: str, name: str) -> JsonDict:
    """Ask the ApplicationSet controller to regenerate now instead of at its next requeue."""
    return patch_applicationset(
        api, namespace, name, {"metadata": {"annotations": {APPSET_REFRESH_ANNOTATION: "true"}}}
    )


def _call(verb: str, plural: str, namespace: str, name: str = "") -> Call:
    return Call(verb, f"{plural}.{GROUP}", namespace, name)
