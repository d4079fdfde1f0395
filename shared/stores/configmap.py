"""The state document as a ConfigMap, written optimistically with its resourceVersion."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from freightyard.shared.core.errors import StoreConflict, StoreError
from freightyard.shared.kube.client import KubeApi
from freightyard.shared.kube.configmaps import create_configmap, get_configmap, replace_configmap
from freightyard.shared.kube.errors import KubeNotFound
from freightyard.shared.stores.base import Document, Snapshot

MAX_CONFIGMAP_BYTES = 1024 * 1024  # the API server refuses ConfigMaps over 1 MiB
SERVER_FIELDS = ("managedFields",)  # server bookkeeping we neither show nor send back


class ConfigMapStore:
    """One pipeline's state in ``namespace/name``; the version is ``metadata.resourceVersion``."""

    def __init__(self, api_factory: Callable[[], KubeApi], namespace: str, name: str) -> None:
        self._api_factory = api_factory
        self.namespace = namespace
        self.name = name
        self.description = f"configmap:{namespace}/{name}"

    def __repr__(self) -> str:
        return f"ConfigMapStore({self.description})"

    def read(self) -> Snapshot:
        found = get_configmap(self._api_factory(), self.namespace, self.name)
        if found is None:
            return Snapshot(None, None)
        metadata = found.setdefault("metadata", {})
        for key in SERVER_FIELDS:
            metadata.pop(key, None)
        version = metadata.get("resourceVersion")
        return Snapshot(found, str(version) if version is not None else None)

    def write(self, document: Document, expected_version: str | None) -> str:
        body = self._body(document, expected_version)
        size = len(json.dumps(body, separators=(",", ":")).encode())
        if size > MAX_CONFIGMAP_BYTES:
            raise StoreError(
                f"{self.description}: the state document is {size / 1024:.0f} KiB, over the 1 MiB "
                "ConfigMap limit; lower the freight/history limits of the pipeline",
                temporary=False,
            )
        api = self._api_factory()
        if expected_version is None:
            written = create_configmap(api, body)
        else:
            try:
                written = replace_configmap(api, self.namespace, self.name, body)
            except KubeNotFound as e:  # deleted since we read it: as good as a conflict, re-read and retry
                raise StoreConflict(f"{self.description} was deleted by another writer; re-read and retry") from e
        version = (written.get("metadata") or {}).get("resourceVersion")
        if not version:
            raise StoreError(f"{self.description}: the API server returned no resourceVersion", temporary=False)
        return str(version)

    def _body(self, document: Document, expected_version: str | None) -> Document:
        body = copy.deepcopy(document)
        body["apiVersion"], body["kind"] = "v1", "ConfigMap"
        metadata = body.setdefault("metadata", {})
        metadata["name"], metadata["namespace"] = self.name, self.namespace
        for key in SERVER_FIELDS:
            metadata.pop(key, None)
        if expected_version is None:  # a create: nothing the server assigns may be sent
            for key in ("resourceVersion", "uid", "creationTimestamp"):
                metadata.pop(key, None)
        else:  # a conditional replace: the server answers 409 unless this is still current
            metadata["resourceVersion"] = expected_version
        return body
