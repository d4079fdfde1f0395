"""ConfigMaps as plain dicts: get (None when missing), create, replace (optimistic), patch, list."""

from __future__ import annotations

from typing import Any

from freightyard.shared.kube.client import JsonDict, KubeApi
from freightyard.shared.kube.errors import Call, KubeNotFound

RESOURCE = "configmaps"
MERGE_PATCH = "application/merge-patch+json"


def get_configmap(api: KubeApi, namespace: str, name: str) -> JsonDict | None:
    """The ConfigMap, or None when it does not exist."""
    try:
        return api.call(api.core.read_namespaced_config_map, Call("get", RESOURCE, namespace, name), name, namespace)
    except KubeNotFound:
        return None


def create_configmap(api: KubeApi, body: JsonDict) -> JsonDict:
    """Create ``body`` (which names its namespace); ``KubeConflict`` when it already exists."""
    namespace, name = _identity(body)
    return api.call(api.core.create_namespaced_config_map, Call("create", RESOURCE, namespace, name), namespace, body)


def replace_configmap(api: KubeApi, namespace: str, name: str, body: JsonDict) -> JsonDict:
    """Replace the ConfigMap; ``body.metadata.resourceVersion`` makes it conditional (409 → ``KubeConflict``)."""
    return api.call(
        api.core.replace_namespaced_config_map, Call("update", RESOURCE, namespace, name), name, namespace, body
    )


def patch_configmap(api: KubeApi, namespace: str, name: str, patch: JsonDict) -> JsonDict:
    """JSON merge-patch the ConfigMap (RFC 7386: ``None`` deletes a key)."""
    return api.call(
        api.core.patch_namespaced_config_map,
        Call("patch", RESOURCE, namespace, name),
        name,
        namespace,
        patch,
        _content_type=MERGE_PATCH,
    )


def list_configmaps(api: KubeApi, namespace: str, label_selector: str = "") -> list[JsonDict]:
    """ConfigMaps in ``namespace`` matching ``label_selector`` (``""``: all)."""
    kwargs: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
    listing = api.call(api.core.list_namespaced_config_map, Call("list", RESOURCE, namespace), namespace, **kwargs)
    return [item for item in listing.get("items") or [] if isinstance(item, dict)]


def _identity(body: JsonDict) -> tuple[str, str]:
    metadata = body.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
